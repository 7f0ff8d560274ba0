"""What every rule of the audit shares: verdicts and outcomes, margins, CIFAR-10's facts, labels of the
measured quantities, the texts of claims nothing here measures, :func:`check` and the helpers that
put numbers into reasons."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .. import ResreproError, fmt

# The verdict taxonomy, by severity (each is defined in the report: templates/report_text.yaml, "verdicts").
INCONSISTENT = "inconsistent as stated"  # impossible under every reading: arithmetic, the dataset, mathematics
IMPLAUSIBLE = "implausible"  # possible only under a stated, extreme condition
UNSUPPORTED = "unsupported"  # the paper claims evidence that it does not show
REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"  # measured, but the test cannot tell
NOT_TESTABLE = "not testable"  # with its reason kept apart: UNTESTABLE
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, INCONSISTENT, IMPLAUSIBLE, UNSUPPORTED, NOT_TESTABLE)
# Why a claim is not testable. "underspecified" is a finding against the paper; the others are not.
UNDERSPECIFIED = "underspecified"  # the paper does not say enough to compare anything with it
OUT_OF_SCOPE = "out of scope"  # about other work, or outside what a CIFAR-10 reproduction tests
NOT_IN_RUN = "not in this run"  # another run (more seeds, twins, full length) would decide it
UNTESTABLE = (UNDERSPECIFIED, OUT_OF_SCOPE, NOT_IN_RUN)
# outcomes of a single check: the verdicts, plus these two (they never decide a claim)
CONSISTENT = "consistent"
NO_PAPER_DATA = "no paper data"
OUTCOMES = VERDICTS + (CONSISTENT, NO_PAPER_DATA)

ALPHA = 0.05
# Margins are pre-registered per quantity in reports/claims.yaml (margins), never set here.

# A printed accuracy - precision (or - F1) gap needs a per-class recall spread Var_c(sqrt r_c) at least as large
# (resrepro.claims.bounds.macro_floor); it is "implausible" when it needs more than this many times the
# largest spread of any of our seeds of the same architecture.
SPREAD_FACTOR = "recall_spread"  # the name of its pre-registered factor (reports/claims.yaml: margins)
# CIFAR-10's official test set: 10,000 images, exactly 1,000 per class (Krizhevsky 2009).
TEST_PER_CLASS = {"CIFAR-10": [1000] * 10}
TRAIN_IMAGES = {"CIFAR-10": 50000}

HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "train_accuracy"}
LABELS = {
    "accuracy": "test accuracy (%)",
    "precision": "macro precision (%)",
    "recall": "macro recall (%)",
    "f1": "macro F1 (%)",
    "test_error": "test error (%)",
    "epochs_to_convergence": "epochs to convergence",
    "seconds_per_epoch": "seconds per epoch",
    "total_hours": "total training hours",
    "train_accuracy": "final training accuracy (%)",
    "generalization_gap": "train - test accuracy gap (pp)",
    "params_millions": "parameters (millions)",
    "recall_spread": "Var_c(sqrt per-class recall) (pp)",
}
UNMEASURED = {
    "gradient_norms": (
        "this run measures no gradient norms of plain and residual twins; "
        "run the degradation study (presets/degradation.yaml) to test it"
    ),
    "thousand_layer_training": (
        "this audit does not test networks with hundreds or thousands of layers; it needs e.g. He et al.'s "
        "ResNet-1202 and its plain counterpart (resnet1202 and plain1202 are in the catalog; no preset trains them)"
    ),
}
OUR_LOSS = "cross-entropy (softmax), optionally with label smoothing (resrepro.train)"


def _f(x: float | None, d: int = 2) -> str:
    return fmt.number(x, d, table=False)


def _interval(value: float, decimals: int) -> tuple[float, float]:
    """The values that print as ``value`` with ``decimals`` decimals (rounding half-unit)."""
    r = 0.5 * 10.0 ** (-decimals)
    return value - r, value + r


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] + 1e-12 and b[0] <= a[1] + 1e-12


_display = fmt.display_name
_names = fmt.names


def _label(quantity: str) -> str:
    """How a reason names a measured quantity: "test accuracy (%)"."""
    return LABELS.get(quantity, quantity)


def _summary_text(s: dict, d: int = 2) -> str:
    if s["std"] is None:
        return f"{_f(s['mean'], d)} (1 seed)"
    ci = f"95 % CI {_f(s['ci'][0], d)} to {_f(s['ci'][1], d)}"
    return f"{fmt.mean_std(s, d, table=False)} (n = {s['n']}, {ci})"


def check(
    rule: str,
    kind: str,
    outcome: str,
    reason: str,
    *,
    untestable: str | None = None,
    depends_on: tuple[str, ...] | list[str] = (),
    **evidence: Any,
) -> dict:
    """One check of a claim. ``untestable``: why a "not testable" outcome is one (UNTESTABLE; by default
    "not in this run"). ``depends_on``: the choices of ours (CHOICES) the outcome rests on; such an
    outcome is never "inconsistent as stated", which is kept for what no reading and no choice rescues."""
    if outcome not in OUTCOMES:
        raise ResreproError(f"rule {rule!r} returned the unknown outcome {outcome!r}")
    unknown = [d for d in depends_on if d not in CHOICES]
    if unknown:
        raise ResreproError(f"rule {rule!r} depends on unknown choices {unknown}; declare them in CHOICES")
    if depends_on and outcome == INCONSISTENT:
        raise ResreproError(
            f"rule {rule!r}: an outcome that depends on our choice ({', '.join(depends_on)}) cannot be {INCONSISTENT!r}"
        )
    if outcome == NOT_TESTABLE:
        untestable = untestable or NOT_IN_RUN
        if untestable not in UNTESTABLE:
            raise ResreproError(f"rule {rule!r}: {untestable!r} is not a reason for 'not testable' ({UNTESTABLE})")
    elif untestable is not None:
        raise ResreproError(f"rule {rule!r}: only a 'not testable' outcome has a reason why it is not testable")
    out = {"rule": rule, "kind": kind, "outcome": outcome, "reason": reason, "evidence": evidence}
    if untestable:
        out["untestable"] = untestable
    if depends_on:
        out["depends_on"] = list(depends_on)
    return out


# The choices of ours that a verdict may rest on, declared once; a check names them in ``depends_on``.
CHOICES = {
    "resnet110": "ResNet-110 is He et al.'s CIFAR ResNet-110 (3 stages of 18 basic blocks, 1.7 M parameters); "
    "the paper defines no ResNet-110",
    "recipe": "our training recipe (config train.*); the paper gives no optimiser, schedule or augmentation",
}


# Each claim's form type (reports/claims.yaml) names the rules that decide it; a rule registers itself with
# @form_rule("<type>") next to its code, so a new form type is a rule and its claims, nothing else.
FORM_RULES: dict[str, Callable[[Mapping, Any], list[dict]]] = {}


def form_rule(*types: str):
    def register(fn):
        for t in types:
            if t in FORM_RULES:
                raise ResreproError(f"two rules claim the form type {t!r}: {FORM_RULES[t].__name__} and {fn.__name__}")
            FORM_RULES[t] = fn
        return fn

    return register
