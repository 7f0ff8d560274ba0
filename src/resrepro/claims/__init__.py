"""Claims audit: every claim of the paper, decided by a rule in code.

Inputs: the paper's transcription (``reports/paper.yaml``: Tables 1-3; ``reports/claims.yaml``: the
statements of its text, each with quote, location and a checkable ``form``), and a run's result files
(``tables/measured.json``, ``models.json``). Output: ``results/<run>/claims.json``.

Every claim gets one verdict:

* ``reproduced``: our measurement (or the mathematics) agrees with the claim by the rule below;
* ``not reproduced``: it does not (for an ordering: not shown beyond seed-to-seed noise);
* ``inconsistent as stated``: the claim cannot be true as printed: it contradicts the paper's own
  numbers, the structure of CIFAR-10's test set, the parameter count of the model it names, or
  mathematics;
* ``not testable``: nothing here can decide it (no such run, no such measurement, no comparable run,
  a single seed for an ordering, a statement about other work).

A claim is checked by one or more rules, each of one kind: ``paper`` (self-consistency of the printed
numbers), ``dataset`` (what CIFAR-10's test set allows), ``model`` (exact parameter counts),
``mathematics`` (the theory section, checked numerically), ``measurement`` (our runs), ``scope``.
The claim's verdict combines its checks: any ``inconsistent as stated`` wins; otherwise any
``not reproduced``; otherwise any ``reproduced``; otherwise ``not testable``.

Statistics (stated in the report): a value is compared with the paper's printed number through the
mean over seeds, its 95 % Student-t confidence interval and a practical margin; an ordering "A better
than B" is reproduced only if a one-sided Welch t-test over seeds rejects "A not better than B" at
alpha = 0.05 for every pair the claim names (an intersection-union test: no multiplicity correction is
needed for a claim that all pairs hold). With one seed there is no uncertainty and orderings are
``not testable``. Measurements decide nothing on a run that is not comparable with the paper.

Modules: :mod:`.common` (verdicts, margins, labels, :func:`check`), :mod:`.evidence` (what the rules
see: :class:`Inputs`, parameter counts, comparability, a run's result files), :mod:`.values` (one
printed value), :mod:`.orderings` (orderings, plain against residual networks, gradient flow),
:mod:`.internal` (the paper against itself, its dataset and its models), :mod:`.theory` (mathematics),
:mod:`.architecture` (published networks counted from torchvision), :mod:`.scope` (what no run
decides) and :mod:`.audit` (form types, verdicts, the audit of a run). The paper's transcription is
read by :mod:`resrepro.paper`.
"""

from __future__ import annotations

from ..paper import table_cell_claims, text_values
from ..stats import CONFIDENCE, betainc, mean_ci, t_ppf, t_sf, welch
from .audit import FORM_RULES, RULES_STATED, audit, combine, load_claims, run_audit
from .common import (
    ALPHA,
    CONSISTENT,
    HIGHER_IS_BETTER,
    LABELS,
    MARGIN_PP,
    NO_PAPER_DATA,
    OUR_LOSS,
    OUTCOMES,
    RELATIVE_MARGIN,
    SPREAD_FACTOR,
    TEST_PER_CLASS,
    TRAIN_IMAGES,
    UNMEASURED,
    VERDICTS,
    check,
    form_rule,
)
from .evidence import Inputs, comparability, models_named, parameter_counts, read_run
from .internal import (
    macro_floor,
    rule_error_vs_accuracy,
    rule_f1_bound,
    rule_macro_floor,
    rule_recall_equals_accuracy,
    rule_recall_spread,
    rule_test_set_resolution,
    rule_total_time_arithmetic,
    rules_datasets_reported,
    rules_params_relation,
    rules_params_trend,
    rules_table_covers,
)
from .orderings import (
    GRADIENT_FACTOR,
    rules_better,
    rules_degradation,
    rules_gradient_flow,
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
    "MARGIN_PP",
    "NO_PAPER_DATA",
    "OUR_LOSS",
    "OUTCOMES",
    "RELATIVE_MARGIN",
    "SPREAD_FACTOR",
    "RULES_STATED",
    "TEST_PER_CLASS",
    "TRAIN_IMAGES",
    "UNMEASURED",
    "VERDICTS",
    "audit",
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
    "rules_residual_vs_plain",
    "rules_stacked_blocks",
    "rules_table_covers",
    "rules_trend",
    "rules_unmeasured",
    "rules_value",
]
