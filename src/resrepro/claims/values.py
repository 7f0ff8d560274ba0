"""Rules on one printed value (a table cell or a number in the text): our measurement against it, and
the paper-internal checks that apply to its quantity (:data:`CELL_RULES`)."""

from __future__ import annotations

from typing import Callable, Mapping

from .. import ResreproError
from ..fmt import printed
from ..stats import mean_ci
from .common import MARGIN_PP, RELATIVE_MARGIN, TRAIN_IMAGES, _display, _f, _interval, _summary_text, check, form_rule
from .evidence import Inputs
from .internal import (
    rule_error_vs_accuracy,
    rule_f1_bound,
    rule_macro_floor,
    rule_recall_equals_accuracy,
    rule_recall_spread,
    rule_test_set_resolution,
    rule_total_time_arithmetic,
)


def rule_measured_value(form: Mapping, x: Inputs) -> dict:
    """Mean over seeds vs the printed value: reproduced iff |mean - paper| <= rounding + max(margin, CI half-width)."""
    model, q, p, d = form["model"], form["quantity"], float(form["value"]), int(form["decimals"])
    vals = x.values(model, q)
    if vals is None:
        return check("measured_value", "measurement", "not testable", f"{_display(model)} is not in this run", paper=p)
    s = mean_ci(vals)
    r = 0.5 * 10.0 ** (-d)
    tol = r + max(MARGIN_PP, s["half_width"] or 0.0)
    diff = s["mean"] - p
    ev = {"paper": p, "ours": s, "difference": diff, "tolerance": tol}
    ours = f"ours {_summary_text(s)}, difference {diff:+.2f}"
    if not x.comparable:
        return check("measured_value", "measurement", "not testable", f"{x.not_comparable_reason()}; {ours}", **ev)
    seed_note = "" if s["std"] is not None else "; one seed, so no seed uncertainty: decided on the margin alone"
    rule = f"tolerance {tol:.2f} = rounding {r:g} + max(margin {MARGIN_PP:g}, CI half-width {_f(s['half_width'])})"
    if abs(diff) <= tol:
        return check("measured_value", "measurement", "reproduced", f"{ours}, within the {rule}{seed_note}", **ev)
    return check("measured_value", "measurement", "not reproduced", f"{ours}, outside the {rule}{seed_note}", **ev)


def _relative_value(rule: str, form: Mapping, x: Inputs, why: str) -> dict:
    model, q, p = form["model"], form["quantity"], float(form["value"])
    vals = x.values(model, q)
    if vals is None:
        return check(rule, "measurement", "not testable", f"{why}; {_display(model)} is not in this run", paper=p)
    s = mean_ci(vals)
    ev = {"paper": p, "ours": s, "difference": s["mean"] - p}
    ours = f"ours {_summary_text(s)}"
    if not x.comparable:
        return check(rule, "measurement", "not testable", f"{x.not_comparable_reason()}; {ours}", **ev)
    tol = RELATIVE_MARGIN * abs(p) + 0.5 * 10.0 ** (-int(form["decimals"]))
    ok = abs(s["mean"] - p) <= tol
    return check(
        rule,
        "measurement",
        "reproduced" if ok else "not reproduced",
        f"{why}; {ours} is {'within' if ok else 'outside'} {RELATIVE_MARGIN:.0%} of the paper's {p:g}",
        **ev,
    )


def _ours_or_absent(form: Mapping, vals: list[float] | None, text: Callable[[list[float]], str]) -> str:
    return text(vals) if vals else f"{_display(form['model'])} is not in this run"


def rule_definition_dependent(form: Mapping, x: Inputs) -> dict:
    """Epochs to convergence: comparable only if the paper defines convergence."""
    definition = (x.paper.get("definitions") or {}).get(form["quantity"])
    vals = x.values(form["model"], form["quantity"])
    ours = _ours_or_absent(form, vals, lambda v: f"ours {_summary_text(mean_ci(v), 1)} by our definition")
    if not definition:
        return check(
            "definition_dependent",
            "measurement",
            "not testable",
            "the paper does not define convergence (nor its schedule), so no number of ours is comparable; " + ours,
            paper=form["value"],
            ours=mean_ci(vals) if vals else None,
        )
    return _relative_value("definition_dependent", form, x, f"the paper defines it as {definition!r}")


def _implied_rate(form: Mapping, x: Inputs, ev: dict) -> str:
    """What a printed time per epoch implies: training images per second and, with the model's FLOPs,
    TFLOP/s (added to ``ev``); the text to append to the reason."""
    n_train = TRAIN_IMAGES.get((x.paper.get("datasets") or ["?"])[0])
    if not n_train:
        return ""
    model = form["model"]
    flops = (x.measured.get(model) or {}).get("flops_per_image") or x.counts.get(model, {}).get("flops_per_image")
    ips = n_train / float(form["value"])
    ev["implied_images_per_second"] = ips
    extra = f"; the printed time implies {ips:,.0f} training images/s on the {n_train:,} training images"
    if flops:
        rate = 3 * flops * ips / 1e12
        ev["implied_training_tflops"] = rate
        extra += f", i.e. about {rate:,.0f} TFLOP/s for our CIFAR {_display(model)} (training ~ 3 x forward FLOPs)"
    return extra


def rule_hardware_dependent(form: Mapping, x: Inputs) -> dict:
    """Times: comparable only on the paper's hardware, which must be stated."""
    hw = x.paper.get("hardware")
    vals = x.values(form["model"], form["quantity"])
    devices = x.devices()
    ours = _ours_or_absent(form, vals, lambda v: f"ours {_summary_text(mean_ci(v))} on {', '.join(devices)}")
    ev: dict = {"paper": form["value"], "ours": mean_ci(vals) if vals else None}
    if form["quantity"] == "seconds_per_epoch":
        ours += _implied_rate(form, x, ev)
    if not hw:
        return check(
            "hardware_dependent",
            "measurement",
            "not testable",
            f"the paper names no hardware, so absolute times cannot be compared; {ours}",
            **ev,
        )
    if hw not in devices:
        return check(
            "hardware_dependent",
            "measurement",
            "not testable",
            f"the paper used {hw}, this run {', '.join(devices) or 'unknown'}; {ours}",
            **ev,
        )
    return _relative_value("hardware_dependent", form, x, f"same hardware ({hw})")


def rule_parameter_count(form: Mapping, x: Inputs) -> dict:
    """The printed count vs the exact count of the model for CIFAR-10 (10 classes) and for ImageNet."""
    model = form["model"]
    c = x.counts.get(model) or {}
    cifar, imagenet = c.get("cifar10"), c.get("imagenet")
    if cifar is None:
        return check("parameter_count", "model", "not testable", f"no parameter count for {_display(model)}")
    lo, hi = _interval(float(form["value"]) * 1e6, int(form["decimals"]) - 6)
    ev = {"paper_millions": form["value"], "cifar10": cifar, "imagenet": imagenet}
    name, paper = _display(model), printed(form["value"], form["decimals"])
    if lo <= cifar <= hi:
        return check(
            "parameter_count", "model", "reproduced", f"our 10-class {name} has {cifar:,} parameters = {paper} M", **ev
        )
    if imagenet is not None and lo <= imagenet <= hi:
        return check(
            "parameter_count",
            "model",
            "inconsistent as stated",
            f"{paper} M is the count of the 1000-class ImageNet {name} ({imagenet:,}); "
            f"a CIFAR-10 {name} (10 classes, 3x3 stem) has {cifar:,} = {cifar / 1e6:.2f} M",
            **ev,
        )
    return check(
        "parameter_count",
        "model",
        "not reproduced",
        f"our 10-class {name} has {cifar:,} = {cifar / 1e6:.2f} M parameters, not {paper} M"
        + (f" (ImageNet: {imagenet:,})" if imagenet else ""),
        **ev,
    )


CELL_RULES: dict[str, list[Callable]] = {
    "accuracy": [rule_measured_value, rule_test_set_resolution],
    "precision": [rule_measured_value, rule_macro_floor, rule_recall_spread],
    "recall": [rule_measured_value, rule_recall_equals_accuracy],
    "f1": [rule_measured_value, rule_f1_bound, rule_macro_floor, rule_recall_spread],
    "epochs_to_convergence": [rule_definition_dependent],
    "seconds_per_epoch": [rule_hardware_dependent],
    "total_hours": [rule_hardware_dependent, rule_total_time_arithmetic],
    "params_millions": [rule_parameter_count],
    "test_error": [rule_measured_value, rule_test_set_resolution, rule_error_vs_accuracy],
}


@form_rule("value", "table_cell")
def rules_value(form: Mapping, x: Inputs) -> list[dict]:
    rules = CELL_RULES.get(form["quantity"])
    if rules is None:
        raise ResreproError(
            f"no rule for a printed value of {form['quantity']!r}; add one to resrepro.claims.values.CELL_RULES"
        )
    return [r(form, x) for r in rules]
