"""Rules on orderings ("A better than B", trends with depth, residual against plain networks): the paper's
printed numbers, then our seeds through one-sided Welch t-tests (the degradation study's rules: .gradients).

An ordering is reproduced only if every pair the claim names is significant at ALPHA (an intersection-union
test: the claim's p is its largest pair p, later Holm-corrected across claims by .audit); it is not reproduced
if a pair is significantly the other way (reverse tests Holm-corrected over the claim's pairs) or exactly tied,
and inconclusive otherwise, with its power (.power).
Plain networks and their residual twins are found in :mod:`resrepro.catalog` (He et al. 2016, Sec. 4.2),
never by parsing a model's name.
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

import numpy as np

from .. import ResreproError, catalog, fmt, timing
from ..fmt import printed
from ..paper import TABLES
from ..stats import EXACT_TOLERANCE, holm, no_spread, welch
from .common import (
    ALPHA,
    CONSISTENT,
    HIGHER_IS_BETTER,
    INCONCLUSIVE,
    NO_PAPER_DATA,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    UNDERSPECIFIED,
    _display,
    _label,
    _names,
    check,
    form_rule,
)
from .evidence import Inputs
from .power import DEFINITION_DEPENDENT, paired_test, power_note

Pairs = Sequence[tuple[str, str, str]]  # (better, than, quantity)


def _better_sign(quantity: str, direction: str) -> int:
    """+1 if 'better'/'increasing' means a larger number, -1 if smaller."""
    if direction in ("higher", "increasing"):
        return 1
    if direction in ("lower", "decreasing"):
        return -1
    raise ResreproError(f"unknown direction {direction!r} for {quantity!r}; use higher/lower or increasing/decreasing")


def _paper_pairs(pairs: Pairs, sign: int, x: Inputs, rule: str, margin: float = 0.0) -> dict:
    """Self-consistency: do the paper's printed numbers order each pair (a better than b by more than -margin)?
    A pair contradicts the claim only if no values that print as the paper's satisfy it (their rounding
    intervals leave no room); a tie within rounding agrees."""
    missing, wrong, ok = [], [], []
    for a, b, q in pairs:
        pa, pb = x.paper_value(a, q), x.paper_value(b, q)
        if pa is None or pb is None:
            missing.append(_display(a if pa is None else b))
            continue
        text = f"{_display(a)} {printed(pa[0], pa[1])} vs {_display(b)} {printed(pb[0], pb[1])} ({_label(q)})"
        ra, rb = 0.5 * 10.0 ** (-pa[1]), 0.5 * 10.0 ** (-pb[1])
        best = sign * (pa[0] - pb[0]) + ra + rb  # the largest advantage of a that the printed values allow
        (ok if best > -margin + EXACT_TOLERANCE else wrong).append(text)
    missing = sorted(set(missing))
    labels = ", ".join(sorted({_label(q) for *_, q in pairs}))
    note = f"; the paper prints no {labels} for {', '.join(missing)}" if missing else ""
    if wrong:
        return check(
            rule,
            "paper",
            "inconsistent as stated",
            "the paper's own numbers contradict it: " + "; ".join(wrong) + note,
            wrong=wrong,
            missing=missing,
        )
    if not ok:
        return check(rule, "paper", NO_PAPER_DATA, "the paper's tables cannot support it" + note, missing=missing)
    return check(
        rule,
        "paper",
        CONSISTENT,
        f"the paper's numbers agree ({fmt.count(len(ok), 'comparison')})" + note,
        agree=ok,
        missing=missing,
    )


def _pair_test(a: str, b: str, q: str, va: list[float], vb: list[float], sign: int, margin: float) -> dict:
    """One pair's means and, with two or more seeds each, its one-sided Welch test of "a better than b"."""
    t = {"better": a, "than": b, "quantity": q, "mean_better": float(np.mean(va)), "mean_than": float(np.mean(vb))}
    if len(va) < 2 or len(vb) < 2:
        return t
    # orient so that H1 is "a better than b" (by more than -margin)
    w = welch(sign * np.asarray(va), sign * np.asarray(vb), shift=margin)
    # and the reverse one-sided test at the same alpha, H1: "a worse than b by more than the margin"
    reverse = welch(sign * np.asarray(vb), sign * np.asarray(va), shift=-margin)
    exact = no_spread(va, vb)  # no seed-to-seed spread: the difference is known exactly
    if exact:  # worse by the margin or more ("not worse by the margin or more" fails at the boundary too)
        reversed_ = w["diff"] <= -margin + EXACT_TOLERANCE and not (margin == 0 and abs(w["diff"]) <= EXACT_TOLERANCE)
    else:
        reversed_ = reverse["p"] < ALPHA
    return {
        **t,
        "difference": sign * w["diff"],
        "ci95": sorted(sign * c for c in w["ci"]) if w["ci"] else None,
        # a - b oriented by the direction: positive means "a better than b" whichever way the quantity improves
        "advantage": w["diff"],
        "advantage_ci95": w["ci"],
        "p_reverse": reverse["p"],
        "reversed": reversed_,
        "tied": exact and margin == 0 and abs(w["diff"]) <= EXACT_TOLERANCE,
        "t": w["t"],
        "df": w["df"],
        "p": w["p"],
        "significant": w["p"] < ALPHA,
    }


def _line(t: Mapping) -> str:
    s = (
        f"{_display(t['better'])} {t['mean_better']:.2f} vs {_display(t['than'])} {t['mean_than']:.2f}"
        f" ({_label(t['quantity'])})"
    )
    if "p" in t:
        s += f", p = {t['p']:.3g}"
        if t["reversed"] and t["df"] is not None:
            s += f" (the other way: one-sided p = {t['p_reverse']:.3g})"
    return s


def _members(models: Sequence[str], x: Inputs) -> list[str]:
    """The models behind ``models``: a group's (:func:`group_mean`) members in place of the group."""
    return list(dict.fromkeys(m2 for m in models for m2 in (x.measured.get(m) or {}).get("members") or [m]))


def _obstacles(needed: Sequence[str], values: Mapping[str, list], quantities: set, x: Inputs) -> list[str]:
    """Every reason the measured pairs cannot decide the claim (each would have to go for it to be decided)."""
    out, real = [], _members(needed, x)
    blocked = []
    if quantities & set(timing.QUANTITIES):
        alone = {m: (timing.alone_count(x.measured[m]), len(timing.timed_alone(x.measured[m]))) for m in real}
        blocked = [m for m, (a, n) in alone.items() if a < 2 and n > a]
        if blocked:
            counts = ", ".join(f"{_display(m)} {alone[m][0]} of {alone[m][1]}" for m in blocked)
            out.append(f"{timing.SHARED_REASON} (seeds timed alone: {counts}; at least two each are needed)")
        mixed = timing.device_mismatch(real, x.measured)
        if mixed:
            out.append(mixed)
    few = sorted(m for m, v in values.items() if len(v) < 2 and not set(_members([m], x)) & set(blocked))
    if few:
        out.append(
            f"only one seed for {_names(few)}: no seed-to-seed uncertainty, so an ordering cannot be told from noise"
        )
    if not x.comparable:
        out.append(x.not_comparable_reason())
    return out


def _measured_pairs(pairs: Pairs, sign: int, x: Inputs, rule: str, margin: float = 0.0, what: str = "better") -> dict:
    """Each pair: one-sided Welch test over seeds; reproduced iff every pair is significant (IUT). Times: the seeds
    timed alone only (resrepro.timing)."""
    needed = sorted({m for a, b, _ in pairs for m in (a, b)})
    absent = [m for m in needed if m not in x.measured]
    if absent:
        return check(rule, "measurement", NOT_TESTABLE, f"needs {_names(absent)}, absent from this run")
    quantities = {q for *_, q in pairs}
    values: dict[str, list] = {}
    tests = []
    for a, b, q in pairs:
        va, vb = x.values(a, q), x.values(b, q)
        if va is None or vb is None:
            return check(
                rule, "measurement", "not testable", f"no {_label(q)} measured for {_display(a if va is None else b)}"
            )
        values[a], values[b] = min(values.get(a, va), va, key=len), min(values.get(b, vb), vb, key=len)
        if va and vb:
            tests.append(_pair_test(a, b, q, va, vb, sign, margin))
            tests[-1].update(paired_test(x, a, b, q, sign))
    ev: dict = {"tests": tests, "alpha": ALPHA, "margin": margin}
    ours = "; ".join(_line(t) for t in tests) or "no seed timed alone to compare"
    _, note = timing.claim_note(_members(needed, x), sorted(quantities), x.measured)  # times not alone say so
    if note:
        ev["shared_timing"], ours = note, f"{ours} ({note})"
    if quantities & set(timing.QUANTITIES):
        ev["sharing_sampled"] = timing.SAMPLING
    undefined = sorted({q for q in quantities if q in DEFINITION_DEPENDENT and not x.defined(q)})
    if undefined:
        return check(
            rule,
            "measurement",
            NOT_TESTABLE,
            f"the paper does not define {', '.join(_label(q) for q in undefined)}; ours (the first epoch within "
            "a fixed distance of the best validation accuracy) mostly reads back our learning-rate schedule, so it "
            f"decides nothing about the paper's claim; measured, for what it is: {ours}",
            untestable=UNDERSPECIFIED,
            **ev,
        )
    obstacles = _obstacles(needed, values, quantities, x)
    if obstacles:
        return check(rule, "measurement", NOT_TESTABLE, "; and ".join(obstacles) + f"; measured: {ours}", **ev)
    ev["p_iut"] = max(t["p"] for t in tests)  # the intersection-union p: the claim's p is its weakest pair's
    ev["power"] = power_note(tests, x, margin)
    failing = [t for t in tests if not t["significant"]]
    if not failing:
        return check(
            rule,
            "measurement",
            REPRODUCED,
            f"every pair is {what} at one-sided alpha = {ALPHA} (Welch t-test over seeds; largest p "
            f"{ev['p_iut']:.3g}): {ours}",
            **ev,
        )
    # each failing pair: significantly the other way (the reverse one-sided test at the same alpha), an exact tie
    # without spread, or undecided: within seed-to-seed noise, or, for a non-inferiority margin, inconclusive
    # a reversal refutes the claim; with k pairs, Holm over their reverse p keeps the chance of a false one at alpha
    reverse_adjusted = holm([t["p_reverse"] if t["df"] is not None else 1.0 for t in tests])
    for t, q in zip(tests, reverse_adjusted):
        t["p_reverse_holm"] = q
        if t["df"] is not None:
            t["reversed"] = q < ALPHA
    reversed_ = [t for t in failing if t["reversed"]]
    tied = [t for t in failing if t["tied"]]
    undecided = len(failing) - len(reversed_) - len(tied)
    parts = [f"{len(reversed_)} significantly the other way"] if reversed_ else []
    parts += [f"{len(tied)} tied (no seed-to-seed spread)"] if tied else []
    if undecided:
        parts.append(
            f"{undecided} inconclusive against the {margin:g} pp margin"
            if margin
            else f"{undecided} within seed-to-seed noise"
        )
    # a pair shown the other way (or exactly tied) refutes a claim about every pair; noise alone cannot tell
    outcome = NOT_REPRODUCED if reversed_ or tied else INCONCLUSIVE
    tail = "" if outcome == NOT_REPRODUCED else f"; {ev['power']['text']}"
    return check(
        rule,
        "measurement",
        outcome,
        f"{len(failing)} of {fmt.count(len(tests), 'pair')} not shown {what} at alpha = {ALPHA} ({', '.join(parts)}): "
        + "; ".join(_line(t) for t in failing)
        + tail,
        **ev,
    )


@form_rule("better")
def rules_better(form: Mapping, x: Inputs) -> list[dict]:
    """Every model of ``better`` against every one of ``than`` in every metric; with ``aggregate: mean`` (a hedge
    such as "tend to"), the mean over ``better`` per seed against each of ``than``."""
    sign = _better_sign(form["metrics"][0], form["direction"])
    pairs = [(a, b, q) for q in form["metrics"] for a in form["better"] for b in form["than"]]
    paper = _paper_pairs(pairs, sign, x, "better")
    if form.get("aggregate") == "mean":
        group, x = group_mean(x, list(form["better"]), list(form["metrics"]))
        pairs = [(group, b, q) for q in form["metrics"] for b in form["than"]]
    elif form.get("aggregate") is not None:
        raise ResreproError(f"unknown aggregate {form['aggregate']!r} in a 'better' form; use mean")
    return [paper, _measured_pairs(pairs, sign, x, "better")]


def _by_seed(entry: Mapping, quantity: str, x: Inputs, model: str) -> dict:
    """seed -> value of ``quantity`` (a time: the seeds timed alone only); seeds by position when none are recorded."""
    values = x.values(model, quantity) or []
    seeds = list(entry.get("seeds") or range(len(timing.timed_alone(entry)) or len(values)))
    if quantity in timing.QUANTITIES and len(timing.timed_alone(entry)) == len(seeds):
        seeds = [s for s, a in zip(seeds, timing.timed_alone(entry)) if a]
    return dict(zip(seeds, values)) if len(seeds) == len(values) else dict(enumerate(values))


def group_mean(x: Inputs, models: list[str], quantities: list[str]) -> tuple[str, Inputs]:
    """The per-seed mean of ``models`` (the same seed of each, over the seeds all of them have; a time: over the
    seeds all of them timed alone) as a model of its own, "mean of ResNet-18, ...", and a copy of ``x`` that
    measures it (none if a model is absent). It keeps its ``members``, whose sharing and devices the rules read."""
    name = "mean of " + _names(models)
    x = copy.copy(x)
    if all(m in x.measured for m in models):
        devices = sorted({d for m in models for d in x.measured[m].get("devices") or []})
        entry: dict = {"members": list(models), "devices": devices}
        for q in quantities:
            per_model = [_by_seed(x.measured[m], q, x, m) for m in models]
            if all(x.values(m, q) is not None for m in models):
                common = [s for s in per_model[0] if all(s in v for v in per_model)]
                per_seed = [float(np.mean([v[s] for v in per_model])) for s in common]
                mean = float(np.mean(per_seed)) if per_seed else None
                entry[q] = {"values": per_seed, "mean": mean, "n": len(common), "seeds": common}
        x.measured = {**x.measured, name: entry}
    return name, x


def _adjacent_paper(rule: str, order: list[str], q: str, sign: int, x: Inputs, none: str) -> tuple[dict, list]:
    """The paper's check of an order: adjacent models among those it prints (each later one "beats" the
    one before); and the models of ``order`` it does not print."""
    printed_models = [m for m in order if x.paper_value(m, q) is not None]
    paper_pairs = [(b, a, q) for a, b in zip(printed_models, printed_models[1:])]
    paper = _paper_pairs(paper_pairs, sign, x, rule) if paper_pairs else check(rule, "paper", NO_PAPER_DATA, none)
    return paper, [m for m in order if m not in printed_models]


@form_rule("trend")
def rules_trend(form: Mapping, x: Inputs) -> list[dict]:
    sign = _better_sign(form["quantity"], form["direction"])
    order, q = list(form["order"]), form["quantity"]
    pairs = [(b, a, q) for a, b in zip(order, order[1:])]  # each later model "beats" the one before
    paper, missing = _adjacent_paper("trend", order, q, sign, x, "the paper prints fewer than two of these models")
    if missing and paper["outcome"] != NO_PAPER_DATA:
        paper["reason"] += f"; the paper prints no {_label(q)} for {_names(missing)}"
    return [paper, _measured_pairs(pairs, sign, x, "trend", what="ordered as claimed")]


@form_rule("lowest")
def rules_lowest(form: Mapping, x: Inputs) -> list[dict]:
    model, q = form["model"], form["quantity"]
    rows = {m for t in TABLES for m in x.paper.get(t, {}).get("rows", {})}
    others_paper = [m for m in sorted(rows | set(x.text_values)) if m != model and x.paper_value(m, q) is not None]
    if others_paper:
        paper = _paper_pairs([(model, o, q) for o in others_paper], -1, x, "lowest")
    else:
        paper = check("lowest", "paper", NO_PAPER_DATA, "no other model printed")
    # the models the paper compares (its tables and text), not whatever else this run trains (twins, other depths)
    compared = set(x.paper.get("models", {}).values())
    others_run = [m for m in x.measured if m != model and m in compared]
    missing = x.unmeasured(sorted(compared | {model}))  # "lowest" ranges over every such model the run planned
    if missing:
        reason = f"ranges over the paper's models this run planned; {_names(missing)} not measured (a partial run)"
        return [paper, check("lowest", "measurement", NOT_TESTABLE, reason)]
    if model not in x.measured or not others_run:
        return [
            paper,
            check("lowest", "measurement", "not testable", f"needs {_display(model)} and other models in this run"),
        ]
    return [paper, _measured_pairs([(model, o, q) for o in others_run], -1, x, "lowest", what="lower")]


@form_rule("no_degradation")
def rules_no_degradation(form: Mapping, x: Inputs) -> list[dict]:
    """Non-inferiority: every deeper model is not worse than every shallower one by the margin or more (every pair,
    so that small drops cannot add up along the chain)."""
    order, q = list(form["order"]), form["quantity"]
    sign = 1 if q in HIGHER_IS_BETTER else -1
    pairs = [(order[j], order[i], q) for i in range(len(order)) for j in range(i + 1, len(order))]
    margin, _ = x.margin(q)
    printed_models = [m for m in order if x.paper_value(m, q) is not None]
    paper_pairs = [(b, a, q) for i, a in enumerate(printed_models) for b in printed_models[i + 1 :]]
    paper = (
        _paper_pairs(paper_pairs, sign, x, "no_degradation", margin)
        if paper_pairs
        else check("no_degradation", "paper", NO_PAPER_DATA, "not in the tables")
    )
    what = f"non-inferior (deeper not worse by the pre-registered {margin:g} pp or more)"
    return [paper, _measured_pairs(pairs, sign, x, "no_degradation", margin=margin, what=what)]


NO_PLAIN = "the paper prints no network without skip connections"
# What to do when a run has no plain/residual twins.
ADD_TWINS = "add plain/residual twins to `models`, as presets/degradation.yaml does"


@form_rule("residual_vs_plain")
def rules_residual_vs_plain(form: Mapping, x: Inputs) -> list[dict]:
    """Each residual network of the run against its plain twin (the same layers without shortcuts)."""
    q = form["quantity"]
    sign = _better_sign(q, form["direction"])
    plain_of = {residual: plain for plain, residual in catalog.twins(list(x.measured))}
    pairs = sorted(((m, plain_of[m], q) for m in x.measured if m in plain_of), key=lambda p: catalog.get(p[0]).depth)
    depths = form.get("depths", "all")
    planned = sorted(catalog.twins(list(x.measured) + x.planned), key=lambda p: catalog.get(p[0]).depth)
    if depths == "deepest":  # "can ..., particularly in deeper networks": the deepest pair the run has
        pairs, planned = pairs[-1:], planned[-1:]
    elif depths != "all":
        raise ResreproError(f"unknown depths {depths!r} in a residual_vs_plain form; use all or deepest")
    missing = x.unmeasured(m for pair in planned for m in pair)
    if missing:
        reason = f"ranges over the twins this run planned ({depths}); {_names(missing)} not measured (a partial run)"
        return [
            check("residual_vs_plain", "paper", NO_PAPER_DATA, NO_PLAIN),
            check("residual_vs_plain", "measurement", NOT_TESTABLE, reason),
        ]
    paper = check("residual_vs_plain", "paper", NO_PAPER_DATA, NO_PLAIN)
    if not pairs:
        return [
            paper,
            check(
                "residual_vs_plain",
                "measurement",
                "not testable",
                f"this run trains no plain network of the same depth as one of its ResNets ({ADD_TWINS})",
            ),
        ]
    return [paper, _measured_pairs(pairs, sign, x, "residual_vs_plain")]
