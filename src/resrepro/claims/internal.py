"""Paper-internal checks: what the paper's printed numbers, CIFAR-10's test set and the exact parameter
counts of the models it names allow, whatever our runs measure."""

from __future__ import annotations

import math
from typing import Mapping

from ..fmt import printed
from .common import (
    CHOICES,
    CONSISTENT,
    IMPLAUSIBLE,
    INCONSISTENT,
    NO_PAPER_DATA,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    SPREAD_FACTOR,
    TEST_PER_CLASS,
    UNSUPPORTED,
    _display,
    _interval,
    _names,
    _overlap,
    check,
    form_rule,
)
from .evidence import Inputs

# ---- one printed value against the dataset and the paper's other numbers ---------------------------


def rule_test_set_resolution(form: Mapping, x: Inputs) -> dict:
    """A test accuracy or error on N images is a multiple of 100/N %; the printed value must admit one."""
    dataset = (x.paper.get("datasets") or [None])[0]
    per_class = TEST_PER_CLASS.get(dataset)
    if not per_class:
        return check("test_set_resolution", "dataset", NO_PAPER_DATA, f"unknown test set {dataset!r}")
    n = sum(per_class)
    lo, hi = _interval(float(form["value"]), int(form["decimals"]))
    k_lo, k_hi = math.ceil(lo * n / 100 - 1e-9), math.floor(hi * n / 100 + 1e-9)
    step = 100 / n
    value = printed(form["value"], form["decimals"])
    if k_lo <= k_hi and 0 <= k_hi and k_lo <= n:
        return check(
            "test_set_resolution",
            "dataset",
            CONSISTENT,
            f"{value} % is possible on {n:,} test images (steps of {step:g} %: e.g. {k_lo:,} images)",
            n_test=n,
            step=step,
        )
    return check(
        "test_set_resolution",
        "dataset",
        INCONSISTENT,
        f"{value} % is impossible on {n:,} test images: every accuracy is a multiple of {step:g} %",
        n_test=n,
        step=step,
    )


def rule_recall_equals_accuracy(form: Mapping, x: Inputs) -> dict:
    """On a test set with equally many images per class, macro recall = accuracy exactly."""
    dataset = (x.paper.get("datasets") or [None])[0]
    per_class = TEST_PER_CLASS.get(dataset)
    acc = x.paper_value(form["model"], "accuracy")
    if not per_class or acc is None:
        return check("recall_equals_accuracy", "dataset", NO_PAPER_DATA, "no accuracy printed for this model")
    ours = ""
    m = x.measured.get(form["model"])
    if m and m.get("recall") and m.get("accuracy"):
        ours = f"; ours: recall {m['recall']['mean']:.2f}, accuracy {m['accuracy']['mean']:.2f}"
    if len(set(per_class)) != 1:
        return check(
            "recall_equals_accuracy",
            "dataset",
            CONSISTENT,
            "classes are not balanced, so recall and accuracy may differ" + ours,
        )
    rec_i = _interval(float(form["value"]), int(form["decimals"]))
    acc_i = _interval(acc[0], acc[1])
    n, c, k = sum(per_class), len(per_class), per_class[0]
    ev = {"recall": form["value"], "accuracy": acc[0], "per_class": k}
    recall, accuracy = printed(form["value"], form["decimals"]), printed(acc[0], acc[1])
    if _overlap(rec_i, acc_i):
        return check(
            "recall_equals_accuracy",
            "dataset",
            CONSISTENT,
            f"recall {recall} equals accuracy {accuracy} within rounding{ours}",
            **ev,
        )
    return check(
        "recall_equals_accuracy",
        "dataset",
        INCONSISTENT,
        f"macro recall {recall} % differs from accuracy {accuracy} %, but on {dataset}'s "
        f"test set ({c} classes x {k:,} = {n:,} images) macro recall = (1/{c}) sum TP_c/{k:,} "
        f"= sum TP_c/{n:,} = accuracy exactly; both are in one row of one table, so one evaluation{ours}",
        **ev,
    )


def rule_f1_bound(form: Mapping, x: Inputs) -> dict:
    """Per class F1 = 2PR/(P+R) <= (P+R)/2, so macro F1 <= (macro P + macro R)/2."""
    p, r = x.paper_value(form["model"], "precision"), x.paper_value(form["model"], "recall")
    if p is None or r is None:
        return check("f1_bound", "paper", NO_PAPER_DATA, "precision or recall not printed for this model")
    f_lo, _ = _interval(float(form["value"]), int(form["decimals"]))
    bound = (_interval(*p[:2])[1] + _interval(*r[:2])[1]) / 2
    ev = {"f1": form["value"], "precision": p[0], "recall": r[0], "upper_bound": bound}
    f1, mean = printed(form["value"], form["decimals"]), f"{(p[0] + r[0]) / 2:.2f}"
    if f_lo <= bound + 1e-12:
        return check("f1_bound", "paper", CONSISTENT, f"F1 {f1} <= (P + R)/2 = {mean} within rounding", **ev)
    return check(
        "f1_bound",
        "paper",
        INCONSISTENT,
        f"macro F1 {f1} exceeds (macro precision + macro recall)/2 = {mean}; "
        "each class's F1 (a harmonic mean) is at most the arithmetic mean of its precision and recall",
        **ev,
    )


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
    ours = f"ours: at most {max(vals):.3f} pp over {len(vals)} seed(s)"
    acc = x.values(model, "accuracy")
    if acc:
        ours += f" at accuracy {sum(acc) / len(acc):.2f} %"
    if not x.comparable:
        return check("recall_spread", "measurement", NOT_TESTABLE, f"{x.not_comparable_reason()}; {need}; {ours}", **ev)
    depends = ("recipe", "resnet110") if model == "resnet110" else ("recipe",)
    top = max(vals)
    if g["least_gap"] > SPREAD_FACTOR * top:
        times = f"{g['least_gap'] / top:.0f} x the largest" if top > 0 else "more than none, the largest"
        return check(
            "recall_spread",
            "measurement",
            IMPLAUSIBLE,
            f"{need}, {times} of our {_display(model)} seeds ({ours}); "
            f"possible only if the paper's classes were recognised far more unevenly than ours (more than "
            f"{SPREAD_FACTOR:g} x our spread)",
            depends_on=depends,
            **ev,
        )
    return check(
        "recall_spread",
        "measurement",
        CONSISTENT,
        f"{need}, within {SPREAD_FACTOR:g} x the largest of our {_display(model)} seeds ({ours})",
        depends_on=depends,
        **ev,
    )


def rule_total_time_arithmetic(form: Mapping, x: Inputs) -> dict:
    """Total training time vs epochs x time per epoch, both from the same table row."""
    e, s = x.paper_value(form["model"], "epochs_to_convergence"), x.paper_value(form["model"], "seconds_per_epoch")
    if e is None or s is None:
        return check(
            "total_time_arithmetic", "paper", NO_PAPER_DATA, "epochs or time per epoch not printed for this model"
        )
    total = float(form["value"])
    s_lo, s_hi = _interval(s[0], s[1])
    implied = (e[0] * s_lo / 3600, e[0] * s_hi / 3600)
    ev = {
        "epochs": e[0],
        "seconds_per_epoch": s[0],
        "total_hours": total,
        "implied_hours": e[0] * s[0] / 3600,
        "implied_epochs_at_printed_total": total * 3600 / s[0],
    }
    text = f"{e[0]:g} epochs x {printed(s[0], s[1])} s = {e[0] * s[0]:g} s = {e[0] * s[0] / 3600:.3f} h"
    printed_total = _interval(total, int(form["decimals"]))
    if _overlap(implied, printed_total):
        return check(
            "total_time_arithmetic", "paper", CONSISTENT, f"{text}, matching {printed(total, form['decimals'])} h", **ev
        )
    minutes = _overlap((e[0] * s_lo / 60, e[0] * s_hi / 60), printed_total)
    hint = f" ({e[0] * s[0] / 60:g} min: it would match if the column were in minutes)" if minutes else ""
    ratio = total * 3600 / s[0] / e[0]
    return check(
        "total_time_arithmetic",
        "paper",
        IMPLAUSIBLE,
        f"{text}, not {printed(total, form['decimals'])} h; the printed total needs "
        f"{total * 3600 / s[0]:,.0f} epochs at {printed(s[0], s[1])} s, {ratio:.0f} x the epochs to convergence"
        f"{hint}. It holds only if training ran {ratio:.0f} x past convergence or the column is not in hours",
        condition=f"training ran {ratio:.0f} x the epochs to convergence, or the unit is not hours",
        **ev,
    )


def rule_error_vs_accuracy(form: Mapping, x: Inputs) -> dict:
    """Test error must be 100 - accuracy (Table 1) within rounding."""
    acc = x.paper_value(form["model"], "accuracy")
    if acc is None:
        return check(
            "error_vs_accuracy", "paper", NO_PAPER_DATA, f"the paper prints no accuracy for {_display(form['model'])}"
        )
    err_i = _interval(float(form["value"]), int(form["decimals"]))
    a_lo, a_hi = _interval(acc[0], acc[1])
    ev = {"test_error": form["value"], "accuracy": acc[0], "implied_error": 100 - acc[0]}
    error, accuracy = printed(form["value"], form["decimals"]), printed(acc[0], acc[1])
    if _overlap(err_i, (100 - a_hi, 100 - a_lo)):
        return check("error_vs_accuracy", "paper", CONSISTENT, f"{error} % = 100 - {accuracy} % ({acc[2]})", **ev)
    return check(
        "error_vs_accuracy",
        "paper",
        IMPLAUSIBLE,
        f"test error {error} % but {acc[2]} prints accuracy {accuracy} %, i.e. error {100 - acc[0]:.1f} %; "
        "both hold only if the two tables report different runs or checkpoints of the same model, "
        "which the paper never says",
        condition="the tables report different runs or checkpoints of one model",
        **ev,
    )


# ---- parameter counts and the paper's coverage ----------------------------------------------------


def _choices(models: list[str]) -> tuple[str, ...]:
    """The choices of ours (common.CHOICES) that the parameter counts of ``models`` rest on."""
    return tuple(c for c in CHOICES if c in models)


def _cifar_counts(x: Inputs, models: list[str]) -> dict:
    return {m: (x.counts.get(m) or {}).get("cifar10") for m in models}


def _unknown_counts(rule: str, counts: dict) -> list[dict]:
    unknown = [m for m, c in counts.items() if c is None]
    return [check(rule, "model", "not testable", f"no parameter count for {_names(unknown)}")] if unknown else []


@form_rule("params_relation")
def rules_params_relation(form: Mapping, x: Inputs) -> list[dict]:
    model, others = form["model"], list(form["more_than"])
    counts = _cifar_counts(x, [model] + others)
    unknown = _unknown_counts("params_relation", counts)
    if unknown:
        return unknown
    text = "; ".join(f"{_display(m)} {counts[m]:,}" for m in [model] + others)
    fewer = [m for m in others if counts[model] <= counts[m]]
    if fewer:
        return [
            check(
                "params_relation",
                "model",
                NOT_REPRODUCED,
                f"{_display(model)} as we define it (He et al.'s CIFAR architecture, the only published one; the "
                f"paper defines none) has fewer parameters than {_names(fewer)}: {text}",
                depends_on=_choices([model] + fewer),
                counts=counts,
            )
        ]
    return [
        check(
            "params_relation",
            "model",
            "reproduced",
            f"{_display(model)} has the most parameters: {text}",
            depends_on=_choices([model] + others),
            counts=counts,
        )
    ]


@form_rule("params_trend")
def rules_params_trend(form: Mapping, x: Inputs) -> list[dict]:
    order = list(form["order"])
    counts = _cifar_counts(x, order)
    unknown = _unknown_counts("params_trend", counts)
    if unknown:
        return unknown
    text = " < ".join(f"{_display(m)} {counts[m]:,}" for m in order)
    broken = [(a, b) for a, b in zip(order, order[1:]) if counts[b] <= counts[a]]
    if broken:
        pairs = "; ".join(f"{_display(b)} {counts[b]:,} <= {_display(a)} {counts[a]:,}" for a, b in broken)
        return [
            check(
                "params_trend",
                "model",
                NOT_REPRODUCED,
                f"parameters do not grow with depth: {pairs}"
                " (with our ResNet-110, He et al.'s, the only published one; the paper defines none)",
                depends_on=_choices([m for pair in broken for m in pair]),
                counts=counts,
            )
        ]
    return [
        check(
            "params_trend",
            "model",
            "reproduced",
            f"parameters grow with depth: {text}",
            depends_on=_choices(order),
            counts=counts,
        )
    ]


@form_rule("table_covers")
def rules_table_covers(form: Mapping, x: Inputs) -> list[dict]:
    t = x.paper[form["table"]]
    absent = [m for m in form["models"] if m not in t["rows"]]
    title = t["title"].split(":")[0]
    if absent:
        return [
            check(
                "table_covers",
                "paper",
                UNSUPPORTED,
                f"the text names {_names(absent)}, but {title} has rows only for {_names(list(t['rows']))}",
                absent=absent,
            )
        ]
    return [check("table_covers", "paper", CONSISTENT, f"{title} has rows for {_names(form['models'])}")]


@form_rule("datasets_reported")
def rules_datasets_reported(form: Mapping, x: Inputs) -> list[dict]:
    ds = list(x.paper.get("datasets") or [])
    if len(ds) < int(form["at_least"]):
        return [
            check(
                "datasets_reported",
                "paper",
                UNSUPPORTED,
                f"promises {form['at_least']}+ datasets, but every result of the paper is on "
                f"{', '.join(ds) or 'no dataset'} alone",
                datasets=ds,
            )
        ]
    return [check("datasets_reported", "paper", CONSISTENT, f"results on {', '.join(ds)}", datasets=ds)]
