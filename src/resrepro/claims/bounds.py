"""What a balanced test set allows between accuracy and macro precision or macro F1: the floor (mean_c sqrt r_c)^2
of any recall profile (:func:`macro_floor`, with its proof), the paper's Table 1 cells against it, and the per-class
recall spread that a printed gap needs against the spread our seeds show."""

from __future__ import annotations

import math
from typing import Mapping

from ..fmt import count, printed
from .common import (
    CONSISTENT,
    IMPLAUSIBLE,
    NO_PAPER_DATA,
    NOT_TESTABLE,
    SPREAD_FACTOR,
    TEST_PER_CLASS,
    _display,
    _interval,
    check,
)
from .evidence import Inputs


def macro_floor(accuracy: float, classes: int) -> float:
    """The least macro precision and the least macro F1 possible at ``accuracy`` (a fraction) on a test set
    with equally many images of each of ``classes`` classes, whatever the confusion matrix.

    Proof. Class c has n test images (N = C n in all), TP_c true positives, P_c images predicted as c
    (sum_c P_c = N), recall r_c = TP_c / n, precision TP_c / P_c (0 where P_c = 0, and then TP_c = 0) and
    F1 2 TP_c / (P_c + n). (1) Cauchy-Schwarz over the classes with P_c > 0 (the others add nothing below):
    (sum_c sqrt TP_c)^2 = (sum_c sqrt(TP_c / P_c) sqrt P_c)^2 <= (sum_c TP_c / P_c)(sum_c P_c) = C P N, with
    P the macro precision, so P >= (sum_c sqrt(n r_c))^2 / (C^2 n) = (mean_c sqrt r_c)^2. (2) The same
    with the weights P_c + n, which sum to 2 N: (sum_c sqrt TP_c)^2 <= (sum_c TP_c / (P_c + n)) 2 N = C F N,
    with F the macro F1, so F >= (mean_c sqrt r_c)^2 as well (and the F1 of the two macro averages,
    2 P A / (P + A) >= min(P, A), too). (3) On a balanced test set macro recall = mean_c r_c = accuracy A,
    so A - P and A - F are at most mean_c r_c - (mean_c sqrt r_c)^2 = Var_c(sqrt r_c). Equality in (1) holds
    when P_c is proportional to sqrt TP_c (4 classes of 300: TP = 300, 75, 300, 75 and P = 400, 200, 400,
    200 give P = 0.5625 = 0.75^2). (4) At a given A the largest Var_c(sqrt r_c) = A - (mean_c sqrt r_c)^2
    has the smallest sum_c sqrt r_c under sum_c r_c = C A, 0 <= r_c <= 1: sqrt is concave, so the minimum is
    at a vertex of that polytope, which has at most one r_c strictly between 0 and 1: k = floor(C A)
    classes at recall 1, one at t = C A - k, the rest at 0. Hence P, F >= ((k + sqrt t) / C)^2, the value
    returned, and Var_c(sqrt r_c) <= A - ((k + sqrt t) / C)^2 <= A (1 - A); the floor grows with A."""
    total = min(max(accuracy, 0.0), 1.0) * classes
    k = math.floor(total + 1e-12)
    return ((k + math.sqrt(max(total - k, 0.0))) / classes) ** 2


_METRIC = {"precision": "precision", "f1": "F1"}


def _gap(form: Mapping, x: Inputs) -> dict | None:
    """The printed accuracy - precision (or - F1) gap of ``form``'s cell, within rounding, and the
    recall spread it needs; None without a printed accuracy or a balanced test set."""
    dataset = (x.paper.get("datasets") or [None])[0]
    per_class = TEST_PER_CLASS.get(dataset)
    acc = x.paper_value(form["model"], "accuracy")
    if not per_class or len(set(per_class)) != 1 or acc is None:
        return None
    a_lo = _interval(acc[0], acc[1])[0]
    v_hi = _interval(float(form["value"]), int(form["decimals"]))[1]
    c = len(per_class)
    floor = 100 * macro_floor(a_lo / 100, c)
    k = math.floor(c * a_lo / 100 + 1e-12)
    return {
        "dataset": dataset,
        "classes": c,
        "per_class": per_class[0],
        "accuracy": acc[0],
        "lowest_accuracy": a_lo,  # the lowest accuracy that prints as the paper's
        "value": float(form["value"]),
        "highest_value": v_hi,
        "gap": acc[0] - float(form["value"]),
        "least_gap": max(0.0, a_lo - v_hi),  # the spread Var_c(sqrt r_c) the printed gap needs, pp
        "floor": floor,  # the least macro precision / F1 possible at the lowest accuracy
        "largest_spread": a_lo - floor,  # the largest Var_c(sqrt r_c) possible there, pp
        "extreme": (k, c * a_lo / 100 - k),  # its recall profile: k classes at 1, one at t, the rest at 0
        "printed": (printed(acc[0], acc[1]), printed(form["value"], form["decimals"]), printed(a_lo, acc[1] + 1)),
    }


def rule_macro_floor(form: Mapping, x: Inputs) -> dict:
    """Macro precision and macro F1 are at least (mean_c sqrt r_c)^2 on a balanced test set
    (:func:`macro_floor`), so at the printed accuracy they cannot be below the floor of any recall profile."""
    g = _gap(form, x)
    if g is None:
        return check("macro_floor", "dataset", NO_PAPER_DATA, "no printed accuracy or no balanced test set")
    q = _METRIC.get(form["quantity"], form["quantity"])
    acc, val, lowest = g["printed"]
    k, t = g["extreme"]
    ev = {key: g[key] for key in ("accuracy", "value", "gap", "least_gap", "floor", "largest_spread")}
    ev |= {"printed_accuracy": acc, "printed_value": val}
    bound = (
        f"on {g['dataset']}'s balanced test set ({g['classes']} classes x {g['per_class']:,} images) macro precision "
        f"and macro F1 are at least (mean_c sqrt r_c)^2 for any per-class recalls r_c (Cauchy-Schwarz; proof in the "
        f"appendix), so accuracy - {q} <= Var_c(sqrt r_c); at accuracy {lowest} % (the lowest that prints as {acc}) "
        f"that spread is at most {g['largest_spread']:.3f} pp ({k} classes at recall 1, one at {t:.3f}, the rest at "
        f"0), i.e. macro {q} >= {g['floor']:.3f} %"
    )
    # macro recall is the accuracy on a balanced set; the paper prints a recall too (which itself differs from its
    # accuracy, T1.<model>.recall): the floor at the lower of the two is what every reading of one evaluation allows
    rec = x.paper_value(form["model"], "recall")
    r_lo = _interval(rec[0], rec[1])[0] if rec else g["lowest_accuracy"]
    floor_any = 100 * macro_floor(min(g["lowest_accuracy"], r_lo) / 100, g["classes"])
    ev["floor_at_printed_recall"] = floor_any
    if g["highest_value"] < floor_any - 1e-9:
        return check(
            "macro_floor",
            "dataset",
            IMPLAUSIBLE,
            f"macro {q} {val} % is impossible for one evaluation at accuracy {acc} % or at the printed recall: "
            f"{bound} (at the printed recall, >= {floor_any:.3f} %); the printed gap is at least "
            f"{g['least_gap']:.2f} pp within rounding. It holds only if the row averages runs of quite different "
            "accuracy (the floor is concave in accuracy, so an average of runs can fall below it)",
            condition="the row averages several runs of quite different accuracy",
            **ev,
        )
    below = g["highest_value"] < g["floor"] - 1e-9
    note = (
        f"; below the floor at the printed accuracy, possible only at the printed recall ({floor_any:.3f} %), "
        "which itself cannot differ from the accuracy (see the recall cell)"
        if below
        else ""
    )
    return check(
        "macro_floor",
        "dataset",
        CONSISTENT,
        f"accuracy - {q} = {g['gap']:.1f} pp is possible: {bound}{note}",
        **ev,
    )


def rule_recall_spread(form: Mapping, x: Inputs) -> dict:
    """The per-class recall spread Var_c(sqrt r_c) that the printed gap needs (:func:`macro_floor`) against
    the largest that our seeds of the same architecture show: "implausible" beyond SPREAD_FACTOR x ours."""
    g, model, q = _gap(form, x), form["model"], _METRIC.get(form["quantity"], form["quantity"])
    if g is None:
        return check("recall_spread", "measurement", NO_PAPER_DATA, "no printed accuracy or no balanced test set")
    vals = x.values(model, "recall_spread")
    ev: dict = {"least_gap": g["least_gap"], "ours": vals}
    need = (
        f"accuracy - {q} = {g['gap']:.1f} pp needs a per-class recall spread Var_c(sqrt r_c) >= {g['least_gap']:.2f} pp"
    )
    if not vals:
        return check(
            "recall_spread",
            "measurement",
            NOT_TESTABLE,
            f"{need}; no per-class recalls of {_display(model)} in this run",
            **ev,
        )
    ours = f"ours: at most {max(vals):.3f} pp over {count(len(vals), 'seed')}"
    acc = x.values(model, "accuracy")
    if acc:
        ours += f" at accuracy {sum(acc) / len(acc):.2f} %"
    if not x.comparable:
        return check("recall_spread", "measurement", NOT_TESTABLE, f"{x.not_comparable_reason()}; {need}; {ours}", **ev)
    depends = ("recipe", "resnet110") if model == "resnet110" else ("recipe",)
    top = max(vals)
    if g["least_gap"] > x.factor(SPREAD_FACTOR) * top:
        times = f"{g['least_gap'] / top:.0f} x the largest" if top > 0 else "more than none, the largest"
        return check(
            "recall_spread",
            "measurement",
            IMPLAUSIBLE,
            f"{need}, {times} of our {_display(model)} seeds ({ours}); "
            f"possible only if the paper's classes were recognised far more unevenly than ours (more than "
            f"{x.factor(SPREAD_FACTOR):g} x our spread)",
            depends_on=depends,
            **ev,
        )
    return check(
        "recall_spread",
        "measurement",
        CONSISTENT,
        f"{need}, within {x.factor(SPREAD_FACTOR):g} x the largest of our {_display(model)} seeds ({ours})",
        depends_on=depends,
        **ev,
    )
