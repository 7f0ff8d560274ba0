"""Rules on the degradation study: plain networks and their residual twins trained on one recipe
(:mod:`resrepro.degradation`; ``results/<run>/degradation/summary.json`` is ``Inputs.gradients``, the run's
``tables/measured.json`` is ``Inputs.measured``). Gradient flow, the degradation of plain networks, the paper's
identification of the two, and whether the residual-over-plain gap grows with depth.

Gradient flow is judged on weight gradients, as the paper words it ("the gradient of the loss function with
respect to the weights"): per seed and recorded epoch (0: at initialisation), the ratio r of the norm of the
first block's conv1 weight gradient to the last block's. The blocks differ in width, so r is only compared
between nets of the same stages: net A's r is below net B's by GRADIENT_FACTOR when r_B / r_A >= GRADIENT_FACTOR.
Such a comparison holds or fails at each recorded epoch and seed; the claim is reproduced when it holds at every
one, not reproduced when it fails at every one, and inconclusive when mixed (the reason names which).

A net that never started converging (a seed whose final training error is at or above STARTED_BELOW; He et al.
2016, Sec. 4.2) failed to optimise at this recipe's learning rate and length: its training error says nothing
about depth, so no rule that rests on training outcomes counts it.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from .. import catalog, fmt
from ..stats import EXACT_TOLERANCE, STARTED_BELOW, no_spread, welch
from .common import (
    ALPHA,
    HIGHER_IS_BETTER,
    INCONCLUSIVE,
    NO_PAPER_DATA,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    UNMEASURED,
    _display,
    _f,
    _label,
    _names,
    check,
    form_rule,
)
from .evidence import Inputs
from .orderings import ADD_TWINS, NO_PLAIN, _measured_pairs

GRADIENT_FACTOR = "gradient_ratio"  # the name of its pre-registered factor (reports/claims.yaml: margins)
# summary.json's key of the weight-gradient ratios, {epoch: {"values": per seed, ...}}: the same string as
# resrepro.degradation.WEIGHT_RATIO (a test checks it), not imported from there: the audit does not load pandas
WEIGHT_RATIO = "weight_grad_ratio_first_to_last_block"
# where to find a run in which a deep net starts converging
WARMUP = "a run in which it trains (He et al.'s warm-up rule: presets/degradation-quick-warmup.yaml) decides it"


class _Stop(Exception):
    """A rule cannot go on; ``check`` says why."""

    def __init__(self, result: dict):
        super().__init__(result["reason"])
        self.check = result


def _study(x: Inputs, rule: str) -> Mapping:
    if not x.gradients:
        raise _Stop(check(rule, "scope", NOT_TESTABLE, UNMEASURED["gradient_norms"]))
    if not x.comparable:  # like every measurement: a run not comparable with the paper decides nothing
        raise _Stop(check(rule, "measurement", NOT_TESTABLE, f"{x.not_comparable_reason()}; the study is shown only"))
    return x.gradients


def _plain_ends(g: Mapping, rule: str) -> tuple[str, str]:
    """The study's shallowest and deepest plain networks."""
    depths = g["depths"]
    if len(depths) < 2:
        raise _Stop(
            check(rule, "measurement", NOT_TESTABLE, "the degradation study needs plain networks of two depths")
        )
    return catalog.pair(depths[0])[0], catalog.pair(depths[-1])[0]


def _ratios(g: Mapping, models: Sequence[str], rule: str) -> tuple[list[str], dict]:
    """The epochs that every one of ``models`` recorded, ascending, and {model: {epoch: per-seed weight ratios}}."""
    missing = [m for m in models if m not in g["kinds"]]
    if missing:
        raise _Stop(check(rule, "measurement", NOT_TESTABLE, f"the degradation study has no {_names(missing)}"))
    absent = [m for m in models if not g["kinds"][m].get(WEIGHT_RATIO)]
    if absent:
        raise _Stop(
            check(
                rule,
                "measurement",
                NOT_TESTABLE,
                f"the degradation study records no weight-gradient ratios for {_names(absent)} (a summary written "
                "before they were recorded: re-run the degradation stage)",
            )
        )
    epochs = sorted(set.intersection(*(set(g["kinds"][m][WEIGHT_RATIO]) for m in models)), key=int)
    if not epochs:
        raise _Stop(
            check(rule, "measurement", NOT_TESTABLE, f"no gradient-flow epoch is recorded for all of {_names(models)}")
        )
    ratios = {m: {e: list(g["kinds"][m][WEIGHT_RATIO][e]["values"]) for e in epochs} for m in models}
    if len({len(v) for r in ratios.values() for v in r.values()}) > 1:  # never pair seeds by position silently
        raise _Stop(check(rule, "measurement", NOT_TESTABLE, f"{_names(models)} have different numbers of seeds"))
    return epochs, ratios


def _factor(low: float, high: float) -> float:
    """r_high / r_low; infinite when only the low one is zero, NaN when undefined."""
    if not (math.isfinite(low) and math.isfinite(high)) or (low == 0 and high == 0):
        return float("nan")
    return high / low if low > 0 else math.inf


def _below(r: Mapping, low: str, high: str, epochs: Sequence[str], seeds: Sequence[int], factor: float) -> list[dict]:
    """Per epoch: whether ``low``'s ratio is below ``high``'s by GRADIENT_FACTOR, seed by seed."""
    rows = []
    for e in epochs:
        factors = [_factor(a, b) for a, b in zip(r[low][e], r[high][e])]
        rows.append(
            {
                "epoch": int(e),
                low: r[low][e],
                high: r[high][e],
                "factor": factors,
                "holds": [s for s, f in zip(seeds, factors) if f >= factor],
                "fails": [s for s, f in zip(seeds, factors) if f < factor],
                "undefined": [s for s, f in zip(seeds, factors) if math.isnan(f)],
            }
        )
    return rows


def _decide(rows: Sequence[Mapping]) -> str:
    """Reproduced if it holds at every epoch in every seed, not reproduced if it fails at every one, else mixed;
    with fewer than two seeds "every seed" says nothing, so inconclusive."""
    if not rows or min(len(row["factor"]) for row in rows) < 2:
        return INCONCLUSIVE
    if all(not row["fails"] and not row["undefined"] for row in rows):
        return REPRODUCED
    if all(not row["holds"] and not row["undefined"] for row in rows):
        return NOT_REPRODUCED
    return INCONCLUSIVE


def _seeds(seeds: Sequence[int]) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(s) for s in seeds)


def _rows_text(rows: Sequence[Mapping], low: str, high: str) -> str:
    """Each epoch: both nets' mean ratios, the factor per seed, and in which seeds the comparison holds."""
    parts = []
    for row in rows:
        when = "at initialisation" if row["epoch"] == 0 else f"after epoch {row['epoch']}"
        mean = {m: sum(row[m]) / len(row[m]) for m in (low, high)}
        found = [f"holds in {_seeds(row['holds'])}"] if row["holds"] else []
        found += [f"fails in {_seeds(row['fails'])}"] if row["fails"] else []
        found += [f"undefined in {_seeds(row['undefined'])}"] if row["undefined"] else []
        parts.append(
            f"{when}: r {_display(low)} {mean[low]:.3g}, {_display(high)} {mean[high]:.3g}, factor "
            + ", ".join(f"{f:.3g}" for f in row["factor"])
            + f" ({'; '.join(found)})"
        )
    return "; ".join(parts)


def _started(rule: str, errors: Mapping[str, Sequence[float]]) -> None:
    """Stop unless every seed of every net started converging (final training error below STARTED_BELOW)."""
    failed = {m: [e for e in v if e >= STARTED_BELOW] for m, v in errors.items()}
    failed = {m: v for m, v in failed.items() if v}
    if failed:
        what = "; ".join(
            f"{_display(m)} in {len(v)} of {fmt.count(len(errors[m]), 'seed')} (final training error "
            + ", ".join(f"{e:.1f}" for e in v)
            + " %)"
            for m, v in failed.items()
        )
        raise _Stop(
            check(
                rule,
                "measurement",
                NOT_TESTABLE,
                f"never started converging (final training error at or above {STARTED_BELOW:g} %, He et al. 2016, "
                f"Sec. 4.2): {what}; an optimisation failure at this recipe's learning rate and length, not a "
                f"measured effect of depth; {WARMUP}",
                depends_on=("recipe",),
                started_below=STARTED_BELOW,
                not_started=failed,
            )
        )


@form_rule("gradient_flow")
def rules_gradient_flow(form: Mapping, x: Inputs) -> list[dict]:
    """Weight gradients at every recorded epoch and seed of the degradation study (module docstring).
    ``shrinks_with_depth``: the deepest plain net's ratio is below the shallowest plain net's by GRADIENT_FACTOR.
    ``shortcut_mitigates``: the deepest plain net's ratio is below its residual twin's by GRADIENT_FACTOR."""
    rule = "gradient_flow"
    try:
        g = _study(x, rule)
        shallow, deep = _plain_ends(g, rule)
        low, high = (deep, shallow) if form["claim"] == "shrinks_with_depth" else catalog.pair(g["depths"][-1])
        epochs, r = _ratios(g, [low, high], rule)
    except _Stop as stop:
        return [stop.check]
    rows = _below(r, low, high, epochs, g["seeds"], x.factor(GRADIENT_FACTOR))
    return [
        check(
            rule,
            "measurement",
            _decide(rows),
            f"first/last-block weight-gradient ratio r (of ||dL/dW|| ||W||, scale-free) of {_display(low)} below "
            f"{_display(high)}'s by a factor of {x.factor(GRADIENT_FACTOR):g} or more, per recorded epoch, "
            f"{_seeds(g['seeds'])}: {_rows_text(rows, low, high)} "
            "(reproduced if it holds at every epoch in every seed, not reproduced if it fails at every one)",
            factor=x.factor(GRADIENT_FACTOR),
            seeds=g["seeds"],
            epochs=rows,
        )
    ]


def _either(rule: str, lower: dict, stagnant: dict | None) -> dict:
    """The paper's disjunction: reproduced if either test is, not reproduced only if both are. A deeper net
    significantly BETTER in training accuracy contradicts "lower training accuracy" outright, and stagnation
    in test accuracy does not rescue it: then the claim is not reproduced."""
    subs = [c for c in (lower, stagnant) if c is not None]
    names = ["lower training accuracy", "stagnation"]
    text = "; ".join(f"{n} ({c['outcome']}): {c['reason']}" for n, c in zip(names, subs))
    tests = [t for c in subs for t in c["evidence"].get("tests", [])]
    outcomes = [c["outcome"] for c in subs]
    contradicted = lower["outcome"] == NOT_REPRODUCED and any(
        t.get("reversed") for t in lower["evidence"].get("tests", [])
    )
    if contradicted:
        outcome = NOT_REPRODUCED
    elif REPRODUCED in outcomes:
        outcome = REPRODUCED
    elif all(o == NOT_REPRODUCED for o in outcomes):
        outcome = NOT_REPRODUCED
    elif NOT_TESTABLE in outcomes:
        outcome = NOT_TESTABLE
    else:
        outcome = INCONCLUSIVE
    untestable = next((c.get("untestable") for c in subs if c["outcome"] == NOT_TESTABLE), None)
    return check(
        rule,
        "measurement",
        outcome,
        text,
        untestable=untestable if outcome == NOT_TESTABLE else None,
        tests=tests,
        lower=lower,
        stagnation=stagnant,
    )


def _plains_planned(x: Inputs, family: str) -> list[str]:
    """The shallowest and deepest plain networks of ``family`` among the models measured or planned."""
    known = set(catalog.available())
    specs = sorted((catalog.get(m) for m in set(x.measured) | set(x.planned) if m in known), key=lambda s: s.depth)
    plains = [s.name for s in specs if not s.residual and s.family == family]
    return plains[:1] + plains[-1:]


@form_rule("degradation")
def rules_degradation(form: Mapping, x: Inputs) -> list[dict]:
    """The run's shallowest against its deepest plain network (He et al. Fig. 6), as the paper's disjunction:
    "lower training accuracy" (``quantity``: the deeper is worse, one-sided Welch over seeds) or, when the form
    names ``stagnation``, "stagnation in performance" (that quantity: the deeper is not better by the
    pre-registered margin or more, a non-superiority test). A net that never started converging decides
    neither: not testable."""
    q, stag, family = form["quantity"], form.get("stagnation"), form.get("family", "plain")
    known = set(catalog.available())
    specs = [catalog.get(m) for m in x.measured if m in known]
    plains = [s.name for s in sorted(specs, key=lambda s: s.depth) if not s.residual and s.family == family]
    paper = check("degradation", "paper", NO_PAPER_DATA, NO_PLAIN)
    missing = x.unmeasured(_plains_planned(x, family))
    if missing:  # the run's shallowest and deepest: those it planned
        reason = f"compares the shallowest and deepest plain networks this run planned; {_names(missing)} not measured"
        return [paper, check("degradation", "measurement", NOT_TESTABLE, reason)]
    if len(plains) < 2:
        reason = f"this run trains fewer than two plain networks of different depth ({ADD_TWINS})"
        return [paper, check("degradation", "measurement", NOT_TESTABLE, reason)]
    shallow, deep = plains[0], plains[-1]
    try:
        _started("degradation", _train_errors(x, [shallow, deep], "degradation"))
    except _Stop as stop:
        return [paper, stop.check]
    sign = 1 if q in HIGHER_IS_BETTER else -1
    # "the deeper is worse": the shallowest beats the deepest
    lower = _measured_pairs([(shallow, deep, q)], sign, x, "degradation", what="worse for the deeper network")
    stagnant = None
    if stag:
        margin, _ = x.margin(stag)
        what = f"stagnant (the deeper not better by the pre-registered {margin:g} pp or more)"
        s_sign = 1 if stag in HIGHER_IS_BETTER else -1
        stagnant = _measured_pairs([(shallow, deep, stag)], s_sign, x, "degradation", margin=margin, what=what)
    return [paper, _either("degradation", lower, stagnant)]


def _train_errors(x: Inputs, models: Sequence[str], rule: str) -> dict:
    """Final training error (%) per seed, from the run's final training accuracy."""
    out = {}
    for m in models:
        acc = x.values(m, "train_accuracy")
        if acc is None:
            reason = f"no {_label('train_accuracy')} for {_display(m)}: whether it started converging is unknown"
            raise _Stop(check(rule, "measurement", NOT_TESTABLE, reason))
        out[m] = [100 - a for a in acc]
    return out


@form_rule("degradation_is_vanishing")
def rules_degradation_is_vanishing(form: Mapping, x: Inputs) -> list[dict]:
    """The paper equates the degradation problem with vanishing gradients; He et al. (2016, Sec. 4.1) argue that
    their BN plain nets degrade with healthy gradients. Decided on the same nets of the degradation study: where
    the deepest plain net is degraded (its final training error above the shallowest's beyond the noise, the
    study's rule), reproduced if its weight-gradient ratio is also below the shallowest's by GRADIENT_FACTOR at
    every recorded epoch in every seed (degradation with vanishing gradients), not reproduced if at none
    (degradation without vanishing gradients), inconclusive if mixed or if there is no degradation."""
    rule = "degradation_is_vanishing"
    paper = check(rule, "paper", NO_PAPER_DATA, "the paper measures neither plain networks nor gradient norms")
    try:
        g = _study(x, rule)
        shallow, deep = _plain_ends(g, rule)
        _started(rule, {m: g["kinds"][m]["final_train_error"]["values"] for m in (shallow, deep)})
        epochs, r = _ratios(g, [deep, shallow], rule)
    except _Stop as stop:
        return [paper, stop.check]
    rows = _below(r, deep, shallow, epochs, g["seeds"], x.factor(GRADIENT_FACTOR))
    degraded = g["evidence"]["degradation"]["plain"][str(g["depths"][-1])]["degraded"]
    errors = {m: g["kinds"][m]["final_train_error"]["mean"] for m in (shallow, deep)}
    train = (
        f"final training error {_display(deep)} {_f(errors[deep])} %, {_display(shallow)} {_f(errors[shallow])} % "
        f"(degraded: {'yes' if degraded else 'no'}; rule: {g['evidence']['rule']})"
    )
    grads = (
        f"weight-gradient ratio r (of ||dL/dW|| ||W||) of {_display(deep)} below {_display(shallow)}'s by a factor of "
        f"{x.factor(GRADIENT_FACTOR):g} or more (vanishing), {_seeds(g['seeds'])}: {_rows_text(rows, deep, shallow)}"
    )
    ev = {"degraded": degraded, "final_train_error": errors, "factor": x.factor(GRADIENT_FACTOR), "epochs": rows}
    measured = f"{train}; {grads}"
    if not x.comparable:
        return [paper, check(rule, "measurement", NOT_TESTABLE, f"{x.not_comparable_reason()}; {measured}", **ev)]
    if not degraded:
        reason = f"no degradation to attribute to vanishing gradients in this run: {measured}"
        return [paper, check(rule, "measurement", INCONCLUSIVE, reason, **ev)]
    outcome = _decide(rows)
    verdict = {
        REPRODUCED: "degradation together with vanishing weight gradients at every recorded epoch",
        NOT_REPRODUCED: "degradation without vanishing weight gradients (as He et al. 2016, Sec. 4.1, found with BN)",
        INCONCLUSIVE: "degradation, with vanishing weight gradients at some recorded epochs or seeds only",
    }[outcome]
    return [paper, check(rule, "measurement", outcome, f"{verdict}: {measured}", **ev)]


def _gap_test(gap_deep: Sequence[float], gap_shallow: Sequence[float]) -> tuple[str, dict]:
    """One-sided Welch test of "the gap at the deepest depth exceeds the gap at the shallowest", and back."""
    grows, shrinks = welch(gap_deep, gap_shallow), welch(gap_shallow, gap_deep)
    tie = no_spread(gap_deep, gap_shallow) and abs(grows["diff"]) <= EXACT_TOLERANCE
    if grows["p"] < ALPHA:
        outcome = REPRODUCED
    elif shrinks["p"] < ALPHA or tie:
        outcome = NOT_REPRODUCED
    else:
        outcome = INCONCLUSIVE
    keep = ("diff", "ci", "t", "df", "p")
    return outcome, {"grows": {k: grows[k] for k in keep}, "p_shrinks": shrinks["p"], "tie": tie}


@form_rule("residual_gap_grows")
def rules_residual_gap_grows(form: Mapping, x: Inputs) -> list[dict]:
    """ "Particularly in deeper networks": the residual net's advantage over its plain twin (``quantity``, per seed,
    the twins of a seed paired) is larger at the run's deepest twin depth than at its shallowest: one-sided Welch
    over seeds at ALPHA; significantly smaller or exactly equal: not reproduced; else inconclusive. A net that
    never started converging decides nothing (its gap measures the failure of our recipe, not depth)."""
    rule, q = "residual_gap_grows", form["quantity"]
    sign = 1 if q in HIGHER_IS_BETTER else -1
    paper = check(rule, "paper", NO_PAPER_DATA, NO_PLAIN)
    pairs = sorted(catalog.twins(list(x.measured)), key=lambda p: catalog.get(p[0]).depth)
    planned = sorted(catalog.twins(list(x.measured) + x.planned), key=lambda p: catalog.get(p[0]).depth)
    missing = x.unmeasured(m for p in planned[:1] + planned[-1:] for m in p)
    if missing:  # the run's deepest and shallowest twin depths: those it planned
        reason = f"compares the shallowest and deepest twins this run planned; {_names(missing)} not measured"
        return [paper, check(rule, "measurement", NOT_TESTABLE, reason)]
    if len(pairs) < 2:
        reason = f"this run trains plain/residual twins at fewer than two depths ({ADD_TWINS})"
        return [paper, check(rule, "measurement", NOT_TESTABLE, reason)]
    ends = {catalog.get(p).depth: (p, r) for p, r in (pairs[0], pairs[-1])}
    nets = [m for pair in ends.values() for m in pair]
    try:
        _started(rule, _train_errors(x, nets, rule))
    except _Stop as stop:
        return [paper, stop.check]
    values = {m: x.values(m, q) for m in nets}
    absent = [m for m, v in values.items() if v is None]
    counts = {len(v) for v in values.values() if v is not None}
    if absent or len(counts) > 1:
        reason = f"no {_label(q)} for {_names(absent)}" if absent else "the twins have different numbers of seeds"
        return [paper, check(rule, "measurement", NOT_TESTABLE, reason)]
    gaps = {d: [sign * (b - a) for a, b in zip(values[p], values[r])] for d, (p, r) in ends.items()}
    (d_lo, lo), (d_hi, hi) = sorted(gaps.items())
    ev = {"quantity": q, "gaps": {str(d): v for d, v in gaps.items()}, "alpha": ALPHA}
    measured = (
        f"{_display(ends[d_hi][1])} over {_display(ends[d_hi][0])}: {_f(sum(hi) / len(hi))} pp, "
        f"{_display(ends[d_lo][1])} over {_display(ends[d_lo][0])}: {_f(sum(lo) / len(lo))} pp ({_label(q)}, "
        f"mean of {len(hi)} per-seed gaps)"
    )
    if len(hi) < 2:
        reason = f"one seed: no seed-to-seed uncertainty, so a growing gap cannot be told from noise; {measured}"
        return [paper, check(rule, "measurement", NOT_TESTABLE, reason, **ev)]
    outcome, test = _gap_test(hi, lo)
    ev |= test
    if not x.comparable:
        return [paper, check(rule, "measurement", NOT_TESTABLE, f"{x.not_comparable_reason()}; {measured}", **ev)]
    said = {
        REPRODUCED: f"the gap grows with depth (one-sided Welch over seeds, p = {test['grows']['p']:.3g})",
        NOT_REPRODUCED: (
            "the gap does not grow: exactly equal"
            if test["tie"]
            else f"the gap shrinks with depth (one-sided p = {test['p_shrinks']:.3g})"
        ),
        INCONCLUSIVE: (
            f"the gaps differ within seed-to-seed noise (p = {test['grows']['p']:.3g}, the other way "
            f"{test['p_shrinks']:.3g}, alpha = {ALPHA})"
        ),
    }[outcome]
    return [paper, check(rule, "measurement", outcome, f"{said}: {measured}", **ev)]
