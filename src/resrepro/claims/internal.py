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
