"""Rules on one printed value (a table cell or a number in the text): our measurement against it, and
the paper-internal checks that apply to its quantity (:data:`CELL_RULES`)."""

from __future__ import annotations

import math
from typing import Callable, Mapping

from .. import ResreproError, timing
from ..fmt import printed
from ..stats import equivalence, mean_ci, prediction_interval, t_ppf
from .bounds import rule_macro_floor, rule_recall_spread
from .common import (
    IMPLAUSIBLE,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    TRAIN_IMAGES,
    UNDERSPECIFIED,
    _display,
    _interval,
    _summary_text,
    check,
    form_rule,
)
from .evidence import Inputs
from .internal import (
    rule_error_vs_accuracy,
    rule_f1_bound,
    rule_recall_equals_accuracy,
    rule_test_set_resolution,
    rule_total_time_arithmetic,
)

PI_LEVEL = 0.90  # a two-sided 90 % interval: each of the two one-sided tests of TOST at 5 %
_TOST_OUTCOME = {"equivalent": REPRODUCED, "different": NOT_REPRODUCED, "undecided": INCONCLUSIVE}


def _equivalence(rule: str, form: Mapping, x: Inputs, why: str = "") -> dict:
    """TOST against the printed value with the pre-registered margin (reports/claims.yaml: margins): reproduced
    iff the 90 % prediction interval of one run of ours, minus the printed value and widened by its rounding,
    lies inside +-margin; not reproduced iff it lies wholly outside; inconclusive otherwise. The paper never
    says how many runs a number summarises, so it is compared as one run (a prediction interval, not the
    mean's confidence interval)."""
    model, q, p, d = form["model"], form["quantity"], float(form["value"]), int(form["decimals"])
    prefix = f"{why}; " if why else ""
    vals = x.values(model, q)
    if vals is None:
        return check(rule, "measurement", NOT_TESTABLE, f"{prefix}{_display(model)} is not in this run", paper=p)
    margin, stated = x.margin(q, p)
    s, pi = mean_ci(vals), prediction_interval(vals, PI_LEVEL)
    r = 0.5 * 10.0 ** (-d)
    diff = s["mean"] - p
    ev = {"paper": p, "ours": s, "difference": diff, "margin": margin, "rounding": r, "prediction": pi}
    ours = f"{prefix}ours {_summary_text(s)}, difference {diff:+.2f}"
    if not x.comparable:
        return check(rule, "measurement", NOT_TESTABLE, f"{x.not_comparable_reason()}; {ours}", **ev)
    if pi["interval"] is None:
        return check(
            rule,
            "measurement",
            INCONCLUSIVE,
            f"{ours}; one seed gives no seed-to-seed spread, so no interval: run two or more seeds",
            **ev,
        )
    if s["std"] == 0:  # different seeds that agree exactly hint at a seeding or caching fault, not at certainty
        return check(
            rule,
            "measurement",
            INCONCLUSIVE,
            f"{ours}; the {s['n']} seeds agree exactly, so their spread estimates nothing (check that each seed "
            "trained its own network)",
            **ev,
        )
    lo, hi = (v - p for v in pi["interval"])
    ev["interval_minus_paper"] = [lo, hi]
    outcome = _TOST_OUTCOME[equivalence(pi["interval"], p, margin, r)]
    where = {REPRODUCED: "inside", NOT_REPRODUCED: "wholly outside", INCONCLUSIVE: "neither inside nor wholly outside"}
    seeds = ""
    if outcome == INCONCLUSIVE:
        seeds = f"; the interval alone is {2 * pi['half_width']:.2f} wide against a {2 * margin:.2f}-wide band"
        seeds += "; " + _what_would_decide(abs(diff), s["std"], margin, r)
    return check(
        rule,
        "measurement",
        outcome,
        f"{ours}; the {PI_LEVEL:.0%} prediction interval of ours - paper, {lo:+.2f} to {hi:+.2f} "
        f"(+-{r:g} rounding), is {where[outcome]} the pre-registered +-{margin:.3g} margin ({stated}){seeds}",
        **ev,
    )


def _what_would_decide(gap: float, sd: float, margin: float, rounding: float) -> str:
    """The seeds that would decide an inconclusive value if the mean and spread stayed as measured."""
    for n in range(2, 101):
        half = t_ppf(0.5 + PI_LEVEL / 2, n - 1) * sd * math.sqrt(1 + 1 / n)
        if gap + half + rounding <= margin:
            return f"with the same mean and spread, {n} seeds would show equivalence"
        if gap - half - rounding > margin:
            return f"with the same mean and spread, {n} seeds would show a difference"
    return (
        "no number of seeds up to 100 decides it at this spread: a single run varies too much for the margin "
        f"(one run's interval is at least +-{t_ppf(0.5 + PI_LEVEL / 2, 1e6) * sd:.2f})"
    )


def rule_measured_value(form: Mapping, x: Inputs) -> dict:
    """A printed value against our seeds: an equivalence test (TOST) with the pre-registered margin."""
    return _equivalence("measured_value", form, x)


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
            NOT_TESTABLE,
            "the paper does not define convergence (nor its schedule), so no number of ours is comparable; " + ours,
            untestable=UNDERSPECIFIED,
            paper=form["value"],
            ours=mean_ci(vals) if vals else None,
        )
    return _equivalence("definition_dependent", form, x, f"the paper defines it as {definition!r}")


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
    vals = x.values(form["model"], form["quantity"])  # a time: the seeds timed alone only
    entry = x.measured.get(form["model"]) or {}
    devices = list(entry.get("devices") or []) if entry else x.devices()  # the model's own devices
    ours = _ours_or_absent(form, vals, lambda v: f"ours {_summary_text(mean_ci(v))} on {', '.join(devices)}")
    if vals == []:
        ours = f"ours: no seed of {_display(form['model'])} timed alone on its GPU"
    ev: dict = {"paper": form["value"], "ours": mean_ci(vals) if vals else None}
    if form["quantity"] == "seconds_per_epoch":
        ours += _implied_rate(form, x, ev)
    shared, note = timing.claim_note([form["model"]], [form["quantity"]], x.measured)  # times on a shared GPU
    if note:
        ev["shared_timing"], ours = note, f"{ours} ({note})"
    if form["quantity"] in timing.QUANTITIES:
        ev["sharing_sampled"] = timing.SAMPLING
    if not hw:
        return check(
            "hardware_dependent",
            "measurement",
            NOT_TESTABLE,
            f"the paper names no hardware, so absolute times cannot be compared; {ours}",
            untestable=UNDERSPECIFIED,
            **ev,
        )
    obstacles = [f"the paper used {hw}, this run {', '.join(devices) or 'unknown'}"] if devices != [hw] else []
    if len(devices) > 1:
        obstacles.append(timing.device_mismatch([form["model"]], x.measured))
    if shared:
        obstacles.append(timing.SHARED_REASON)
    if obstacles:
        return check("hardware_dependent", "measurement", NOT_TESTABLE, "; and ".join(obstacles) + f"; {ours}", **ev)
    out = _equivalence("hardware_dependent", form, x, f"same hardware ({hw})" + (f"; {note}" if note else ""))
    if note:
        out["evidence"]["shared_timing"] = note
    return out


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
            IMPLAUSIBLE,
            f"{paper} M is the count of the 1000-class ImageNet {name} ({imagenet:,}); "
            f"a CIFAR-10 {name} (10 classes) has {cifar:,} = {cifar / 1e6:.2f} M. It holds only if the "
            "1000-class ImageNet head was left on a 10-class problem (likely a slip: torchvision's default)",
            condition="the 1000-class ImageNet head left in",
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
