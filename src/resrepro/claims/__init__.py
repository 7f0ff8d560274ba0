"""Claims audit: every claim of the paper, decided by a rule in code.

Inputs: the paper's transcription (``reports/paper.yaml``: Tables 1-3; ``reports/claims.yaml``: the
statements of its text, each with quote, location and a checkable ``form``), and a run's result files
(``tables/measured.json``, ``models.json``). Output: ``results/<run>/claims.json``.

Every claim gets one verdict of a taxonomy with severity (:data:`VERDICTS`):

* ``inconsistent as stated``: impossible under every reading of the paper (arithmetic, the structure of
  CIFAR-10's test set, mathematics); never a verdict that rests on a choice of ours (:data:`CHOICES`);
* ``implausible``: possible only under a stated, extreme condition (the check's ``condition``);
* ``unsupported``: the paper claims evidence that it does not show;
* ``reproduced`` / ``not reproduced`` / ``inconclusive``: what our measurements (or mathematics) show,
  ``inconclusive`` when the test cannot tell;
* ``not testable``, with why (:data:`UNTESTABLE`): the paper is ``underspecified`` (a finding against it),
  the claim is ``out of scope``, or it is ``not in this run`` (another run would decide it).

A claim is checked by one or more rules, each of one kind: ``paper`` (self-consistency of the printed
numbers), ``dataset`` (what CIFAR-10's test set allows), ``model`` (exact parameter counts),
``mathematics`` (the theory section, checked numerically), ``measurement`` (our runs), ``scope``. Within a
reading the checks combine by :data:`audit.PRECEDENCE`. A claim with several plausible readings
(``readings`` in reports/claims.yaml) is decided under each; it is robust only if all agree and no choice of
ours decides it, and ``inconsistent as stated`` only if every reading is.

Statistics (stated in the report): a printed value is compared by an equivalence test (TOST): the 90 %
prediction interval of one run of ours, minus the printed value and widened by its rounding, against the
margin pre-registered for its quantity in reports/claims.yaml (hashed into claims.json and provenance.json).
An ordering "A better than B" is tested by one-sided Welch t-tests over seeds for every pair the claim names
(intersection-union: the claim's p is its largest pair p), then Holm's correction across the ordering claims;
a pair significantly the other way refutes it, and noise leaves it inconclusive, with the detectable effect
and the seeds needed (:mod:`.power`) and an exact McNemar test on the same test images beside it. With one
seed an ordering is ``not testable``. Measurements decide nothing on a run that is not comparable with the
paper.

Modules: :mod:`.common` (verdicts, margins, labels, :func:`check`), :mod:`.evidence` (what the rules
see: :class:`Inputs`, parameter counts, comparability, a run's result files), :mod:`.values` (one
printed value), :mod:`.orderings` (orderings, plain against residual networks), :mod:`.power` (power, seeds
needed, the paired test), :mod:`.gradients` (the degradation study: gradient flow, degradation, their
conflation, the residual gap with depth),
:mod:`.internal` (the paper against itself, its dataset and its models), :mod:`.theory` (mathematics),
:mod:`.rubric` (the audit as a scored tree, rubric.json),
:mod:`.bounds` (macro precision and F1 against accuracy on a balanced test set), :mod:`.responses`
(what trained blocks learn), :mod:`.architecture` (published networks counted from torchvision),
:mod:`.scope` (what no run decides),
:mod:`.audit` (form types, verdicts, the audit of a run), :mod:`.merged` (one audit across runs) and
:mod:`.cost` (what deciding a claim still not testable costs). The paper's transcription is read by
:mod:`resrepro.paper`.
"""

from __future__ import annotations

from ..paper import table_cell_claims, text_values
from ..stats import CONFIDENCE, betainc, mean_ci, t_ppf, t_sf, welch
from .audit import FORM_RULES, RULES_STATED, audit, combine, holm, load_claims, load_margins, run_audit
from .bounds import macro_floor, rule_macro_floor, rule_recall_spread
from .common import (
    ALPHA,
    CONSISTENT,
    HIGHER_IS_BETTER,
    LABELS,
    NO_PAPER_DATA,
    OUR_LOSS,
    OUTCOMES,
    SPREAD_FACTOR,
    TEST_PER_CLASS,
    TRAIN_IMAGES,
    UNMEASURED,
    VERDICTS,
    check,
    form_rule,
)
from .evidence import Inputs, comparability, models_named, parameter_counts, read_run
from .gradients import (
    GRADIENT_FACTOR,
    rules_degradation,
    rules_degradation_is_vanishing,
    rules_gradient_flow,
    rules_residual_gap_grows,
)
from .internal import (
    rule_error_vs_accuracy,
    rule_f1_bound,
    rule_recall_equals_accuracy,
    rule_test_set_resolution,
    rule_total_time_arithmetic,
    rules_datasets_reported,
    rules_params_relation,
    rules_params_trend,
    rules_table_covers,
)
from .merged import run_merged_audit
from .orderings import (
    rules_better,
    rules_lowest,
    rules_no_degradation,
    rules_residual_vs_plain,
    rules_trend,
)
from .scope import rules_background, rules_layer_count, rules_method, rules_unmeasured
from .theory import (
    rules_gradient_guarantee,
    rules_gradient_identity,
    rules_near_identity,
    rules_residual_function,
    rules_residual_notation,
    rules_stacked_blocks,
)
from .values import (
    CELL_RULES,
    rule_definition_dependent,
    rule_hardware_dependent,
    rule_measured_value,
    rule_parameter_count,
    rules_value,
)

__all__ = [
    "ALPHA",
    "CELL_RULES",
    "CONFIDENCE",
    "CONSISTENT",
    "FORM_RULES",
    "form_rule",
    "GRADIENT_FACTOR",
    "HIGHER_IS_BETTER",
    "Inputs",
    "LABELS",
    "NO_PAPER_DATA",
    "OUR_LOSS",
    "OUTCOMES",
    "SPREAD_FACTOR",
    "RULES_STATED",
    "TEST_PER_CLASS",
    "TRAIN_IMAGES",
    "UNMEASURED",
    "VERDICTS",
    "audit",
    "holm",
    "load_margins",
    "betainc",
    "check",
    "combine",
    "comparability",
    "load_claims",
    "macro_floor",
    "mean_ci",
    "models_named",
    "parameter_counts",
    "read_run",
    "run_audit",
    "run_merged_audit",
    "t_ppf",
    "t_sf",
    "table_cell_claims",
    "text_values",
    "welch",
    "rule_definition_dependent",
    "rule_error_vs_accuracy",
    "rule_f1_bound",
    "rule_macro_floor",
    "rule_hardware_dependent",
    "rule_measured_value",
    "rule_parameter_count",
    "rule_recall_equals_accuracy",
    "rule_recall_spread",
    "rule_test_set_resolution",
    "rule_total_time_arithmetic",
    "rules_background",
    "rules_better",
    "rules_datasets_reported",
    "rules_degradation",
    "rules_degradation_is_vanishing",
    "rules_gradient_flow",
    "rules_gradient_guarantee",
    "rules_gradient_identity",
    "rules_layer_count",
    "rules_lowest",
    "rules_method",
    "rules_near_identity",
    "rules_no_degradation",
    "rules_params_relation",
    "rules_params_trend",
    "rules_residual_function",
    "rules_residual_notation",
    "rules_residual_gap_grows",
    "rules_residual_vs_plain",
    "rules_stacked_blocks",
    "rules_table_covers",
    "rules_trend",
    "rules_unmeasured",
    "rules_value",
]
