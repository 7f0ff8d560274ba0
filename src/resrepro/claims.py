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
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import yaml

from . import ResreproError, fmt, io
from .fmt import printed
from .stats import CONFIDENCE, betainc, mean_ci, t_ppf, t_sf, welch  # noqa: F401  (re-exported)

VERDICTS = ("reproduced", "not reproduced", "inconsistent as stated", "not testable")
# outcomes of a single check: the verdicts, plus these two (they never decide a claim)
CONSISTENT = "consistent"
NO_PAPER_DATA = "no paper data"
OUTCOMES = VERDICTS + (CONSISTENT, NO_PAPER_DATA)

ALPHA = 0.05
# Practical margin (percentage points) within which a measured mean "reproduces" a printed value,
# on top of the printed rounding and our 95 % CI: about 3x the seed-to-seed standard deviation of a
# CIFAR-10 ResNet (He et al. 2016 report 6.61 +- 0.16 % for ResNet-110 over 5 runs).
MARGIN_PP = 0.5
# Relative margin for times and epoch counts, where a definition or the hardware matches.
RELATIVE_MARGIN = 0.10

# CIFAR-10's official test set: 10,000 images, exactly 1,000 per class (Krizhevsky 2009).
TEST_PER_CLASS = {"CIFAR-10": [1000] * 10}
TRAIN_IMAGES = {"CIFAR-10": 50000}

HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "train_accuracy"}
LABELS = {
    "accuracy": "test accuracy (%)", "precision": "macro precision (%)", "recall": "macro recall (%)",
    "f1": "macro F1 (%)", "test_error": "test error (%)", "epochs_to_convergence": "epochs to convergence",
    "seconds_per_epoch": "seconds per epoch", "total_hours": "total training hours",
    "train_accuracy": "final training accuracy (%)", "generalization_gap": "train - test accuracy gap (pp)",
    "params_millions": "parameters (millions)",
}
UNMEASURED = {
    "gradient_norms": "this pipeline records no gradient norms; testing it needs per-layer gradient norms of plain and residual networks of equal depth",
    "thousand_layer_training": "no network with hundreds or thousands of layers is trained here; it needs e.g. He et al.'s ResNet-1202 and its plain counterpart",
}
OUR_LOSS = "cross-entropy (softmax), optionally with label smoothing (resrepro.train)"


# ============================================================================================
# formatting helpers (numbers in reasons)


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


def _summary_text(s: dict, d: int = 2) -> str:
    if s["std"] is None:
        return f"{_f(s['mean'], d)} (1 seed)"
    return f"{fmt.mean_std(s, d, table=False)} (n = {s['n']}, 95 % CI {_f(s['ci'][0], d)} to {_f(s['ci'][1], d)})"


def check(rule: str, kind: str, outcome: str, reason: str, **evidence: Any) -> dict:
    if outcome not in OUTCOMES:
        raise ResreproError(f"rule {rule!r} returned the unknown outcome {outcome!r}")
    return {"rule": rule, "kind": kind, "outcome": outcome, "reason": reason, "evidence": evidence}


# ============================================================================================
# what the rules see


class Inputs:
    """The paper's numbers, our measurements and exact model counts, as the rules see them."""

    def __init__(
        self,
        paper: Mapping,
        measured: Mapping[str, Mapping],
        counts: Mapping[str, Mapping[str, int | None]] | None = None,
        comparable: bool = True,
        not_comparable: Sequence[str] = (),
        text_values: Mapping[str, Mapping[str, tuple[float, int, str]]] | None = None,
    ):
        self.paper = paper
        self.measured = measured
        self.counts = dict(counts or {})
        self.comparable = comparable
        self.not_comparable = list(not_comparable)
        self.text_values = text_values or {}
        self.gradients: Mapping | None = None  # results/<run>/degradation/summary.json, when the run has one

    # paper side -------------------------------------------------------------------------
    def table_of(self, quantity: str) -> str | None:
        for t in ("table1", "table2", "table3"):
            if quantity in (self.paper.get(t, {}).get("columns") or {}):
                return t
        return None

    def paper_value(self, model: str, quantity: str) -> tuple[float, int, str] | None:
        """(value, decimals, where) printed by the paper for ``model``, or None."""
        t = self.table_of(quantity)
        if t:
            row = self.paper[t]["rows"].get(model, {})
            if quantity in row and row[quantity] is not None:
                dec = self.paper[t]["columns"][quantity]["decimals"]
                return float(row[quantity]), dec, self.paper[t]["title"].split(":")[0]
        tv = self.text_values.get(model, {}).get(quantity)
        if tv:
            return tv
        return None

    # our side ---------------------------------------------------------------------------
    def values(self, model: str, quantity: str) -> list[float] | None:
        m = self.measured.get(model)
        if not m:
            return None
        if quantity == "generalization_gap":
            tr, te = m.get("train_accuracy"), m.get("accuracy")
            if not tr or not te:
                return None
            return [a - b for a, b in zip(tr["values"], te["values"])]
        s = m.get(quantity)
        return list(s["values"]) if isinstance(s, Mapping) and s.get("values") else None

    def devices(self) -> list[str]:
        return sorted({d for m in self.measured.values() for d in m.get("devices", [])})

    def not_comparable_reason(self) -> str:
        return "run not comparable with the paper (" + "; ".join(self.not_comparable) + ")"


# ============================================================================================
# rules on one printed value (table cells and numbers in the text)


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
    return check(rule, "measurement", "reproduced" if ok else "not reproduced",
                 f"{why}; {ours} is {'within' if ok else 'outside'} {RELATIVE_MARGIN:.0%} of the paper's {p:g}", **ev)


def rule_definition_dependent(form: Mapping, x: Inputs) -> dict:
    """Epochs to convergence: comparable only if the paper defines convergence."""
    definition = (x.paper.get("definitions") or {}).get(form["quantity"])
    vals = x.values(form["model"], form["quantity"])
    ours = f"ours {_summary_text(mean_ci(vals), 1)} by our definition" if vals else f"{_display(form['model'])} is not in this run"
    if not definition:
        return check("definition_dependent", "measurement", "not testable",
                     f"the paper does not define convergence (nor its schedule), so no number of ours is comparable; {ours}",
                     paper=form["value"], ours=mean_ci(vals) if vals else None)
    return _relative_value("definition_dependent", form, x, f"the paper defines it as {definition!r}")


def rule_hardware_dependent(form: Mapping, x: Inputs) -> dict:
    """Times: comparable only on the paper's hardware, which must be stated."""
    hw = x.paper.get("hardware")
    vals = x.values(form["model"], form["quantity"])
    devices = x.devices()
    ours = f"ours {_summary_text(mean_ci(vals))} on {', '.join(devices)}" if vals else f"{_display(form['model'])} is not in this run"
    ev: dict = {"paper": form["value"], "ours": mean_ci(vals) if vals else None}
    if form["quantity"] == "seconds_per_epoch":
        n_train = TRAIN_IMAGES.get((x.paper.get("datasets") or ["?"])[0])
        flops = (x.measured.get(form["model"]) or {}).get("flops_per_image") or x.counts.get(form["model"], {}).get("flops_per_image")
        if n_train:
            ips = n_train / float(form["value"])
            ev["implied_images_per_second"] = ips
            extra = f"; the printed time implies {ips:,.0f} training images/s on the {n_train:,} training images"
            if flops:
                rate = 3 * flops * ips / 1e12
                ev["implied_training_tflops"] = rate
                extra += f", i.e. about {rate:,.0f} TFLOP/s for our CIFAR {_display(form['model'])} (training ~ 3 x forward FLOPs)"
            ours += extra
    if not hw:
        return check("hardware_dependent", "measurement", "not testable",
                     f"the paper names no hardware, so absolute times cannot be compared; {ours}", **ev)
    if hw not in devices:
        return check("hardware_dependent", "measurement", "not testable",
                     f"the paper used {hw}, this run {', '.join(devices) or 'unknown'}; {ours}", **ev)
    return _relative_value("hardware_dependent", form, x, f"same hardware ({hw})")


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
    if k_lo <= k_hi and 0 <= k_hi and k_lo <= n:
        return check("test_set_resolution", "dataset", CONSISTENT,
                     f"{printed(form['value'], form['decimals'])} % is possible on {n:,} test images (steps of {step:g} %: e.g. {k_lo:,} images)",
                     n_test=n, step=step)
    return check("test_set_resolution", "dataset", "inconsistent as stated",
                 f"{printed(form['value'], form['decimals'])} % is impossible on {n:,} test images: every accuracy is a multiple of {step:g} %",
                 n_test=n, step=step)


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
        return check("recall_equals_accuracy", "dataset", CONSISTENT, "classes are not balanced, so recall and accuracy may differ" + ours)
    rec_i = _interval(float(form["value"]), int(form["decimals"]))
    acc_i = _interval(acc[0], acc[1])
    n, c = sum(per_class), len(per_class)
    ev = {"recall": form["value"], "accuracy": acc[0], "per_class": per_class[0]}
    if _overlap(rec_i, acc_i):
        return check("recall_equals_accuracy", "dataset", CONSISTENT,
                     f"recall {printed(form['value'], form['decimals'])} equals accuracy {printed(acc[0], acc[1])} within rounding{ours}", **ev)
    return check("recall_equals_accuracy", "dataset", "inconsistent as stated",
                 f"macro recall {printed(form['value'], form['decimals'])} % differs from accuracy {printed(acc[0], acc[1])} %, but on {dataset}'s "
                 f"test set ({c} classes x {per_class[0]:,} = {n:,} images) macro recall = (1/{c}) sum TP_c/{per_class[0]:,} = sum TP_c/{n:,} = accuracy exactly{ours}", **ev)


def rule_f1_bound(form: Mapping, x: Inputs) -> dict:
    """Per class F1 = 2PR/(P+R) <= (P+R)/2, so macro F1 <= (macro P + macro R)/2."""
    p, r = x.paper_value(form["model"], "precision"), x.paper_value(form["model"], "recall")
    if p is None or r is None:
        return check("f1_bound", "paper", NO_PAPER_DATA, "precision or recall not printed for this model")
    f_lo, _ = _interval(float(form["value"]), int(form["decimals"]))
    bound = (_interval(*p[:2])[1] + _interval(*r[:2])[1]) / 2
    ev = {"f1": form["value"], "precision": p[0], "recall": r[0], "upper_bound": bound}
    if f_lo <= bound + 1e-12:
        return check("f1_bound", "paper", CONSISTENT,
                     f"F1 {printed(form['value'], form['decimals'])} <= (P + R)/2 = {(p[0] + r[0]) / 2:.2f} within rounding", **ev)
    return check("f1_bound", "paper", "inconsistent as stated",
                 f"macro F1 {printed(form['value'], form['decimals'])} exceeds (macro precision + macro recall)/2 = {(p[0] + r[0]) / 2:.2f}; "
                 "each class's F1 (a harmonic mean) is at most the arithmetic mean of its precision and recall", **ev)


def rule_total_time_arithmetic(form: Mapping, x: Inputs) -> dict:
    """Total training time vs epochs x time per epoch, both from the same table row."""
    e, s = x.paper_value(form["model"], "epochs_to_convergence"), x.paper_value(form["model"], "seconds_per_epoch")
    if e is None or s is None:
        return check("total_time_arithmetic", "paper", NO_PAPER_DATA, "epochs or time per epoch not printed for this model")
    total = float(form["value"])
    s_lo, s_hi = _interval(s[0], s[1])
    implied = (e[0] * s_lo / 3600, e[0] * s_hi / 3600)
    ev = {"epochs": e[0], "seconds_per_epoch": s[0], "total_hours": total, "implied_hours": e[0] * s[0] / 3600,
          "implied_epochs_at_printed_total": total * 3600 / s[0]}
    text = (f"{e[0]:g} epochs x {printed(s[0], s[1])} s = {e[0] * s[0]:g} s = {e[0] * s[0] / 3600:.3f} h")
    if _overlap(implied, _interval(total, int(form["decimals"]))):
        return check("total_time_arithmetic", "paper", CONSISTENT, f"{text}, matching {printed(total, form['decimals'])} h", **ev)
    minutes = _overlap((e[0] * s_lo / 60, e[0] * s_hi / 60), _interval(total, int(form["decimals"])))
    hint = f" ({e[0] * s[0] / 60:g} min: it would match if the column were in minutes)" if minutes else ""
    return check("total_time_arithmetic", "paper", "inconsistent as stated",
                 f"{text}, not {printed(total, form['decimals'])} h; the printed total needs {total * 3600 / s[0]:,.0f} epochs at "
                 f"{printed(s[0], s[1])} s, {total * 3600 / s[0] / e[0]:.0f} x the epochs to convergence{hint}", **ev)


def rule_error_vs_accuracy(form: Mapping, x: Inputs) -> dict:
    """Test error must be 100 - accuracy (Table 1) within rounding."""
    acc = x.paper_value(form["model"], "accuracy")
    if acc is None:
        return check("error_vs_accuracy", "paper", NO_PAPER_DATA, f"the paper prints no accuracy for {_display(form['model'])}")
    err_i = _interval(float(form["value"]), int(form["decimals"]))
    a_lo, a_hi = _interval(acc[0], acc[1])
    ev = {"test_error": form["value"], "accuracy": acc[0], "implied_error": 100 - acc[0]}
    if _overlap(err_i, (100 - a_hi, 100 - a_lo)):
        return check("error_vs_accuracy", "paper", CONSISTENT,
                     f"{printed(form['value'], form['decimals'])} % = 100 - {printed(acc[0], acc[1])} % ({acc[2]})", **ev)
    return check("error_vs_accuracy", "paper", "inconsistent as stated",
                 f"test error {printed(form['value'], form['decimals'])} % but {acc[2]} prints accuracy {printed(acc[0], acc[1])} %, "
                 f"i.e. error {100 - acc[0]:.1f} %", **ev)


def rule_parameter_count(form: Mapping, x: Inputs) -> dict:
    """The printed count vs the exact count of the model for CIFAR-10 (10 classes) and for ImageNet."""
    model = form["model"]
    c = x.counts.get(model) or {}
    cifar, imagenet = c.get("cifar10"), c.get("imagenet")
    if cifar is None:
        return check("parameter_count", "model", "not testable", f"no parameter count for {_display(model)}")
    lo, hi = _interval(float(form["value"]) * 1e6, int(form["decimals"]) - 6)
    ev = {"paper_millions": form["value"], "cifar10": cifar, "imagenet": imagenet}
    if lo <= cifar <= hi:
        return check("parameter_count", "model", "reproduced",
                     f"our 10-class {_display(model)} has {cifar:,} parameters = {printed(form['value'], form['decimals'])} M", **ev)
    if imagenet is not None and lo <= imagenet <= hi:
        return check("parameter_count", "model", "inconsistent as stated",
                     f"{printed(form['value'], form['decimals'])} M is the count of the 1000-class ImageNet {_display(model)} ({imagenet:,}); "
                     f"a CIFAR-10 {_display(model)} (10 classes, 3x3 stem) has {cifar:,} = {cifar / 1e6:.2f} M", **ev)
    return check("parameter_count", "model", "not reproduced",
                 f"our 10-class {_display(model)} has {cifar:,} = {cifar / 1e6:.2f} M parameters, not {printed(form['value'], form['decimals'])} M"
                 + (f" (ImageNet: {imagenet:,})" if imagenet else ""), **ev)


CELL_RULES: dict[str, list[Callable]] = {
    "accuracy": [rule_measured_value, rule_test_set_resolution],
    "precision": [rule_measured_value],
    "recall": [rule_measured_value, rule_recall_equals_accuracy],
    "f1": [rule_measured_value, rule_f1_bound],
    "epochs_to_convergence": [rule_definition_dependent],
    "seconds_per_epoch": [rule_hardware_dependent],
    "total_hours": [rule_hardware_dependent, rule_total_time_arithmetic],
    "params_millions": [rule_parameter_count],
    "test_error": [rule_measured_value, rule_test_set_resolution, rule_error_vs_accuracy],
}


def rules_value(form: Mapping, x: Inputs) -> list[dict]:
    rules = CELL_RULES.get(form["quantity"])
    if rules is None:
        raise ResreproError(f"no rule for a printed value of {form['quantity']!r}; add one to resrepro.claims.CELL_RULES")
    return [r(form, x) for r in rules]


# ============================================================================================
# rules on orderings


def _better_sign(quantity: str, direction: str) -> int:
    """+1 if 'better'/'increasing' means a larger number, -1 if smaller."""
    if direction in ("higher", "increasing"):
        return 1
    if direction in ("lower", "decreasing"):
        return -1
    raise ResreproError(f"unknown direction {direction!r} for {quantity!r}; use higher/lower or increasing/decreasing")


def _paper_pairs(pairs: Sequence[tuple[str, str, str]], sign: int, x: Inputs, rule: str) -> dict:
    """Self-consistency: do the paper's printed numbers order each pair (a better than b) as claimed?"""
    missing, wrong, ok = [], [], []
    for a, b, q in pairs:
        pa, pb = x.paper_value(a, q), x.paper_value(b, q)
        if pa is None or pb is None:
            missing.append(_display(a if pa is None else b))
            continue
        (ok if sign * (pa[0] - pb[0]) > 0 else wrong).append(f"{_display(a)} {printed(pa[0], pa[1])} vs {_display(b)} {printed(pb[0], pb[1])} ({LABELS.get(q, q)})")
    missing = sorted(set(missing))
    note = f"; the paper prints no {', '.join(sorted({LABELS.get(q, q) for *_, q in pairs}))} for {', '.join(missing)}" if missing else ""
    if wrong:
        return check(rule, "paper", "inconsistent as stated", "the paper's own numbers contradict it: " + "; ".join(wrong) + note, wrong=wrong, missing=missing)
    if not ok:
        return check(rule, "paper", NO_PAPER_DATA, "the paper's tables cannot support it" + note, missing=missing)
    return check(rule, "paper", CONSISTENT, f"the paper's numbers agree ({len(ok)} comparison(s))" + note, agree=ok, missing=missing)


def _measured_pairs(pairs: Sequence[tuple[str, str, str]], sign: int, x: Inputs, rule: str, margin: float = 0.0,
                    what: str = "better") -> dict:
    """Each pair: one-sided Welch test over seeds; reproduced iff every pair is significant (IUT)."""
    needed = sorted({m for a, b, _ in pairs for m in (a, b)})
    absent = [m for m in needed if m not in x.measured]
    if absent:
        return check(rule, "measurement", "not testable", f"needs {_names(absent)}, absent from this run")
    tests, few = [], []
    for a, b, q in pairs:
        va, vb = x.values(a, q), x.values(b, q)
        if va is None or vb is None:
            return check(rule, "measurement", "not testable", f"no {LABELS.get(q, q)} measured for {_display(a if va is None else b)}")
        if len(va) < 2 or len(vb) < 2:
            few += [m for m, v in ((a, va), (b, vb)) if len(v) < 2]
            tests.append({"better": a, "than": b, "quantity": q, "mean_better": float(np.mean(va)), "mean_than": float(np.mean(vb))})
            continue
        # orient so that H1 is "a better than b" (by more than -margin)
        w = welch(sign * np.asarray(va), sign * np.asarray(vb), shift=margin)
        tests.append({"better": a, "than": b, "quantity": q, "mean_better": float(np.mean(va)), "mean_than": float(np.mean(vb)),
                      "difference": sign * w["diff"], "ci95": sorted(sign * c for c in w["ci"]) if w["ci"] else None,
                      "t": w["t"], "df": w["df"], "p": w["p"], "significant": w["p"] < ALPHA})

    def line(t):
        s = f"{_display(t['better'])} {t['mean_better']:.2f} vs {_display(t['than'])} {t['mean_than']:.2f} ({LABELS.get(t['quantity'], t['quantity'])})"
        if "p" in t:
            s += f", p = {t['p']:.3g}"
        return s

    ev = {"tests": tests, "alpha": ALPHA, "margin": margin}
    if few:
        also = f"; and {x.not_comparable_reason()}" if not x.comparable else ""
        return check(rule, "measurement", "not testable",
                     f"only one seed for {_names(sorted(set(few)))}: no seed-to-seed uncertainty, so an ordering cannot be told from noise{also}; "
                     "measured: " + "; ".join(line(t) for t in tests), **ev)
    ours = "; ".join(line(t) for t in tests)
    if not x.comparable:
        return check(rule, "measurement", "not testable", f"{x.not_comparable_reason()}; measured: {ours}", **ev)
    failing = [t for t in tests if not t["significant"]]
    if not failing:
        return check(rule, "measurement", "reproduced",
                     f"every pair is {what} at one-sided alpha = {ALPHA} (Welch t-test over seeds): {ours}", **ev)
    reversed_ = [t for t in failing if t["difference"] < -margin and t["ci95"] and t["ci95"][1] < -margin]
    parts = [f"{len(reversed_)} significantly the other way"] if reversed_ else []
    if len(failing) > len(reversed_):
        parts.append(f"{len(failing) - len(reversed_)} within seed-to-seed noise")
    why = ", ".join(parts)
    return check(rule, "measurement", "not reproduced",
                 f"{len(failing)} of {len(tests)} pair(s) not shown {what} at alpha = {ALPHA} ({why}): " + "; ".join(line(t) for t in failing), **ev)


def rules_better(form: Mapping, x: Inputs) -> list[dict]:
    sign = _better_sign(form["metrics"][0], form["direction"])
    pairs = [(a, b, q) for q in form["metrics"] for a in form["better"] for b in form["than"]]
    return [_paper_pairs(pairs, sign, x, "better"), _measured_pairs(pairs, sign, x, "better")]


def rules_trend(form: Mapping, x: Inputs) -> list[dict]:
    sign = _better_sign(form["quantity"], form["direction"])
    order, q = list(form["order"]), form["quantity"]
    pairs = [(b, a, q) for a, b in zip(order, order[1:])]  # each later model "beats" the one before
    # paper: compare adjacent models among those the paper prints
    printed_models = [m for m in order if x.paper_value(m, q) is not None]
    paper_pairs = [(b, a, q) for a, b in zip(printed_models, printed_models[1:])]
    paper = _paper_pairs(paper_pairs, sign, x, "trend") if paper_pairs else check("trend", "paper", NO_PAPER_DATA, "the paper prints fewer than two of these models")
    missing = [m for m in order if m not in printed_models]
    if missing and paper["outcome"] != NO_PAPER_DATA:
        paper["reason"] += f"; the paper prints no {LABELS.get(q, q)} for {_names(missing)}"
    return [paper, _measured_pairs(pairs, sign, x, "trend", what="ordered as claimed")]


def rules_lowest(form: Mapping, x: Inputs) -> list[dict]:
    model, q = form["model"], form["quantity"]
    others_paper = sorted({m for t in ("table1", "table2", "table3") for m in x.paper.get(t, {}).get("rows", {})} | set(x.text_values))
    others_paper = [m for m in others_paper if m != model and x.paper_value(m, q) is not None]
    paper = _paper_pairs([(model, o, q) for o in others_paper], -1, x, "lowest") if others_paper else check("lowest", "paper", NO_PAPER_DATA, "no other model printed")
    others_run = [m for m in x.measured if m != model]
    if model not in x.measured or not others_run:
        return [paper, check("lowest", "measurement", "not testable", f"needs {_display(model)} and other models in this run")]
    return [paper, _measured_pairs([(model, o, q) for o in others_run], -1, x, "lowest", what="lower")]


def rules_no_degradation(form: Mapping, x: Inputs) -> list[dict]:
    """Non-inferiority: each deeper model is not worse than the shallower one by more than the margin."""
    order, q = list(form["order"]), form["quantity"]
    sign = 1 if q in HIGHER_IS_BETTER else -1
    pairs = [(b, a, q) for a, b in zip(order, order[1:])]
    printed_models = [m for m in order if x.paper_value(m, q) is not None]
    paper_pairs = [(b, a, q) for a, b in zip(printed_models, printed_models[1:])]
    paper = _paper_pairs(paper_pairs, sign, x, "no_degradation") if paper_pairs else check("no_degradation", "paper", NO_PAPER_DATA, "not in the tables")
    return [paper, _measured_pairs(pairs, sign, x, "no_degradation", margin=MARGIN_PP, what=f"non-inferior (deeper not worse by {MARGIN_PP:g} pp or more)")]


def _depth(model: str) -> int | None:
    m = re.search(r"(\d+)$", model)
    return int(m.group(1)) if m else None


def rules_residual_vs_plain(form: Mapping, x: Inputs) -> list[dict]:
    q = form["quantity"]
    sign = _better_sign(q, form["direction"])
    pairs = [(m, "plain" + m[len("resnet"):], q) for m in x.measured if m.startswith("resnet") and "plain" + m[len("resnet"):] in x.measured]
    paper = check("residual_vs_plain", "paper", NO_PAPER_DATA, "the paper prints no network without skip connections")
    if not pairs:
        return [paper, check("residual_vs_plain", "measurement", "not testable",
                             "this run trains no plain network of the same depth as one of its ResNets (plain networks are added by a later issue)")]
    return [paper, _measured_pairs(pairs, sign, x, "residual_vs_plain")]


def rules_degradation(form: Mapping, x: Inputs) -> list[dict]:
    """Plain networks: the deepest has a lower training accuracy than the shallowest (He et al. Fig. 6)."""
    q = form["quantity"]
    plains = sorted((m for m in x.measured if m.startswith(form.get("family", "plain")) and _depth(m)), key=_depth)
    paper = check("degradation", "paper", NO_PAPER_DATA, "the paper prints no network without skip connections")
    if len(plains) < 2:
        return [paper, check("degradation", "measurement", "not testable",
                             "this run trains fewer than two plain networks of different depth (plain networks are added by a later issue)")]
    sign = 1 if q in HIGHER_IS_BETTER else -1
    # "the deeper is worse": the shallowest beats the deepest
    return [paper, _measured_pairs([(plains[0], plains[-1], q)], sign, x, "degradation", what="worse for the deeper network")]


# ============================================================================================
# rules on parameter counts, the paper's coverage and scope


def rules_params_relation(form: Mapping, x: Inputs) -> list[dict]:
    model, others = form["model"], list(form["more_than"])
    counts = {m: (x.counts.get(m) or {}).get("cifar10") for m in [model] + others}
    unknown = [m for m, c in counts.items() if c is None]
    if unknown:
        return [check("params_relation", "model", "not testable", f"no parameter count for {_names(unknown)}")]
    text = "; ".join(f"{_display(m)} {counts[m]:,}" for m in [model] + others)
    fewer = [m for m in others if counts[model] <= counts[m]]
    if fewer:
        return [check("params_relation", "model", "inconsistent as stated",
                      f"{_display(model)} (He et al.'s CIFAR architecture, the only published one; the paper defines none) has fewer "
                      f"parameters than {_names(fewer)}: {text}", counts=counts)]
    return [check("params_relation", "model", "reproduced", f"{_display(model)} has the most parameters: {text}", counts=counts)]


def rules_params_trend(form: Mapping, x: Inputs) -> list[dict]:
    order = list(form["order"])
    counts = {m: (x.counts.get(m) or {}).get("cifar10") for m in order}
    unknown = [m for m, c in counts.items() if c is None]
    if unknown:
        return [check("params_trend", "model", "not testable", f"no parameter count for {_names(unknown)}")]
    text = " < ".join(f"{_display(m)} {counts[m]:,}" for m in order)
    broken = [(a, b) for a, b in zip(order, order[1:]) if counts[b] <= counts[a]]
    if broken:
        return [check("params_trend", "model", "inconsistent as stated",
                      "parameters do not grow with depth: " + "; ".join(f"{_display(b)} {counts[b]:,} <= {_display(a)} {counts[a]:,}" for a, b in broken)
                      + " (He et al.'s ResNet-110 is the only published one; the paper defines none)", counts=counts)]
    return [check("params_trend", "model", "reproduced", f"parameters grow with depth: {text}", counts=counts)]


def rules_table_covers(form: Mapping, x: Inputs) -> list[dict]:
    t = x.paper[form["table"]]
    absent = [m for m in form["models"] if m not in t["rows"]]
    title = t["title"].split(":")[0]
    if absent:
        return [check("table_covers", "paper", "inconsistent as stated",
                      f"the text names {_names(absent)}, but {title} has rows only for {_names(list(t['rows']))}", absent=absent)]
    return [check("table_covers", "paper", CONSISTENT, f"{title} has rows for {_names(form['models'])}")]


def rules_datasets_reported(form: Mapping, x: Inputs) -> list[dict]:
    ds = list(x.paper.get("datasets") or [])
    if len(ds) < int(form["at_least"]):
        return [check("datasets_reported", "paper", "inconsistent as stated",
                      f"promises {form['at_least']}+ datasets, but every result of the paper is on {', '.join(ds) or 'no dataset'} alone", datasets=ds)]
    return [check("datasets_reported", "paper", CONSISTENT, f"results on {', '.join(ds)}", datasets=ds)]


def rules_unmeasured(form: Mapping, x: Inputs) -> list[dict]:
    q = form["quantity"]
    if q not in UNMEASURED:
        raise ResreproError(f"no description of the unmeasured quantity {q!r}; add it to resrepro.claims.UNMEASURED")
    return [check("unmeasured", "scope", "not testable", UNMEASURED[q])]


GRADIENT_FACTOR = 2.0


def rules_gradient_flow(form: Mapping, x: Inputs) -> list[dict]:
    """Gradient norms measured at initialisation (resrepro.degradation): the ratio r of the gradient
    reaching the first block to that reaching the last, per seed. ``shrinks_with_depth``: the deepest
    plain net's r is below the shallowest's by at least GRADIENT_FACTOR for every seed.
    ``shortcut_mitigates``: the deepest residual net's r exceeds its plain twin's by at least
    GRADIENT_FACTOR for every seed. At initialisation these depend only on the architecture and the
    initialisation, not on data or training length, so any run with plain/residual twins can decide them."""
    g = x.gradients
    if not g:
        return [check("gradient_flow", "scope", "not testable", UNMEASURED["gradient_norms"] + " (run presets/degradation.yaml)")]
    depths = g["depths"]
    r = {m: v["grad_ratio_first_to_last_block"].get("0") for m, v in g["kinds"].items()}
    if any(v is None for v in r.values()):
        return [check("gradient_flow", "measurement", "not testable", "no gradient measurement at initialisation (train.gradflow_epochs must include 0)")]
    if form["claim"] == "shrinks_with_depth":
        if len(depths) < 2:
            return [check("gradient_flow", "measurement", "not testable", "needs plain networks of two depths")]
        lo, hi = f"plain{depths[0]}", f"plain{depths[-1]}"
        holds = all(a / b >= GRADIENT_FACTOR for a, b in zip(r[lo]["values"], r[hi]["values"]))
    else:
        d = depths[-1]
        lo, hi = f"plain{d}", f"resnet{d}"
        holds = all(b / a >= GRADIENT_FACTOR for a, b in zip(r[lo]["values"], r[hi]["values"]))
    what = f"first/last-block gradient ratio at initialisation: {lo} {r[lo]['mean']:.3g}, {hi} {r[hi]['mean']:.3g}"
    return [check("gradient_flow", "measurement", "reproduced" if holds else "not reproduced",
                  f"{what} (rule: a factor of at least {GRADIENT_FACTOR:g} for every seed)", ratios={lo: r[lo], hi: r[hi]})]


def rules_background(form: Mapping, x: Inputs) -> list[dict]:
    return [check("background", "scope", "not testable",
                  f"a statement about {form['about']}, not a result of the paper's experiments; outside what a CIFAR-10 reproduction tests")]


def rules_method(form: Mapping, x: Inputs) -> list[dict]:
    return [check("method", "scope", "not testable",
                  f"describes the {form['aspect']} ({form['paper']}) without saying the experiments used it; we train with {OUR_LOSS} "
                  "(listed under deviations)")]


# ============================================================================================
# rules on the theory section (mathematics, checked numerically)


def _linear(expr: Mapping[str, float], residual: Mapping[str, float]) -> dict[str, float]:
    """Expand a linear form over {F, R, x} into {F, x}, with R = residual."""
    out = {"F": 0.0, "x": 0.0}
    for sym, c in expr.items():
        if sym == "R":
            for s2, c2 in residual.items():
                out[s2] += c * c2
        elif sym in out:
            out[sym] += c
        else:
            raise ResreproError(f"unknown symbol {sym!r} in a residual_notation form; use F, R and x")
    return out


def rules_residual_notation(form: Mapping, x: Inputs) -> list[dict]:
    """With R = residual, a block that learns R outputs R(x) + x; it must equal the desired mapping."""
    residual = _linear(form["residual"], {})
    desired = _linear(form["desired"], residual)
    block = _linear(form["block_output"], residual)
    learned_plus_x = {k: residual[k] + (1.0 if k == "x" else 0.0) for k in residual}
    ev = {"desired": desired, "residual": residual, "block_output": block}

    def show(d):
        return " ".join(f"{'+' if c > 0 else '-'} {abs(c):g}{s}".replace(" 1F", " F").replace(" 1x", " x") for s, c in d.items() if c).lstrip("+ ")

    if block == desired and learned_plus_x == desired:
        return [check("residual_notation", "mathematics", "reproduced", "the block outputs the desired mapping R(x) + x", **ev)]
    return [check("residual_notation", "mathematics", "inconsistent as stated",
                  f"with F the desired mapping and R(x) = {show(residual)}, a block that learns R must output R(x) + x = {show(learned_plus_x)}; "
                  f"the paper's y = {show(block)} adds the input twice (it is He et al.'s y = F(x) + x only if F names the residual, which "
                  "contradicts R = F - x)", **ev)]


def rules_gradient_identity(form: Mapping, x: Inputs) -> list[dict]:
    """dy/dx of y = a F(x) + b x against the claimed c dF/dx + d, by central differences on a smooth F."""
    a, b = form["block"].get("F", 0.0), form["block"].get("x", 0.0)
    c, d = form["derivative"].get("dF", 0.0), form["derivative"].get("one", 0.0)
    rng = np.random.default_rng(0)
    w1, w2, bias = rng.normal(size=3)

    def F(t):
        return w2 * np.tanh(w1 * t + bias)

    def dF(t):
        return w2 * w1 / np.cosh(w1 * t + bias) ** 2

    pts, h = rng.normal(size=50) * 2, 1e-5
    numeric = (a * F(pts + h) + b * (pts + h) - a * F(pts - h) - b * (pts - h)) / (2 * h)
    claimed = c * dF(pts) + d
    err = float(np.max(np.abs(numeric - claimed)))
    ev = {"max_abs_error": err, "points": len(pts)}
    if err < 1e-6:
        return [check("gradient_identity", "mathematics", "reproduced",
                      f"the derivative agrees with central finite differences at {len(pts)} points (max error {err:.1e})", **ev)]
    return [check("gradient_identity", "mathematics", "not reproduced",
                  f"the stated derivative differs from finite differences by up to {err:.3g}", **ev)]


def rules_gradient_guarantee(form: Mapping, x: Inputs) -> list[dict]:
    """Search the paper's own block family for a residual function whose block gradient vanishes."""
    family = form["block"]
    if family == "relu_linear":
        ws = np.linspace(-2, 2, 401)
    elif family == "relu_linear_nonnegative":
        ws = np.linspace(0, 2, 201)
    else:
        raise ResreproError(f"unknown block family {family!r}")
    xs = np.array([-1.0, 1.0])
    W, X = np.meshgrid(ws, xs)
    dF = W * (W * X > 0)  # d/dx ReLU(w x) = w 1[w x > 0]
    factor = 1 + dF
    i = np.unravel_index(np.argmin(np.abs(factor)), factor.shape)
    ev = {"min_abs_factor": float(np.abs(factor).min()), "w": float(W[i]), "x": float(X[i])}
    if abs(factor[i]) < 1e-9:
        depth = 50
        return [check("gradient_guarantee", "mathematics", "inconsistent as stated",
                      f"for the paper's own residual function F(x) = ReLU(w x), w = {W[i]:g} and x = {X[i]:g} give dy/dx = 1 + dF/dx = 0: the identity "
                      f"term prevents vanishing only while dF/dx stays away from -1 (and through {depth} blocks with dF/dx = -0.5 the gradient shrinks by "
                      f"0.5^{depth} = {0.5 ** depth:.1e}); it is not ensured", **ev)]
    return [check("gradient_guarantee", "mathematics", "reproduced",
                  f"|dy/dx| >= {np.abs(factor).min():g} for every block of the family", **ev)]


def rules_stacked_blocks(form: Mapping, x: Inputs) -> list[dict]:
    """The formula for N blocks against N stacked blocks x_k = x_{k-1} + F_k(x_{k-1}) (scalar linear F_k)."""
    rng = np.random.default_rng(0)
    mismatch = []
    for n in range(1, 5):
        a = rng.uniform(-0.9, 0.9, n)
        stacked = float(np.prod(1 + a))
        if form["skip"] == "outer":
            formula = float(np.prod(a)) + 1.0
        elif form["skip"] == "per_block":
            formula = float(np.prod(1 + a))
        else:
            raise ResreproError(f"unknown skip layout {form['skip']!r}; use outer or per_block")
        if abs(stacked - formula) > 1e-12:
            mismatch.append({"n": n, "stacked": stacked, "formula": formula})
    if mismatch:
        m = mismatch[0]
        return [check("stacked_blocks", "mathematics", "inconsistent as stated",
                      f"stacking the paper's block y = F(x) + x N times gives x_N = x_(N-1) + F_N(x_(N-1)), not one skip around the composition: "
                      f"for N = {m['n']} linear blocks F_k(x) = a_k x that is prod(1 + a_k) x = {m['stacked']:.4f} x, the formula gives "
                      f"(prod a_k + 1) x = {m['formula']:.4f} x", mismatch=mismatch)]
    return [check("stacked_blocks", "mathematics", "reproduced", "the formula equals N stacked residual blocks for N = 1..4")]


FORM_RULES: dict[str, Callable[[Mapping, Inputs], list[dict]]] = {
    "value": rules_value,
    "table_cell": rules_value,
    "better": rules_better,
    "trend": rules_trend,
    "lowest": rules_lowest,
    "no_degradation": rules_no_degradation,
    "residual_vs_plain": rules_residual_vs_plain,
    "degradation": rules_degradation,
    "params_relation": rules_params_relation,
    "params_trend": rules_params_trend,
    "table_covers": rules_table_covers,
    "datasets_reported": rules_datasets_reported,
    "unmeasured": rules_unmeasured,
    "gradient_flow": rules_gradient_flow,
    "background": rules_background,
    "method": rules_method,
    "residual_notation": rules_residual_notation,
    "gradient_identity": rules_gradient_identity,
    "gradient_guarantee": rules_gradient_guarantee,
    "stacked_blocks": rules_stacked_blocks,
}


# ============================================================================================
# the claims: loading, combining, auditing


def combine(checks: Sequence[Mapping]) -> tuple[str, str]:
    """The claim's verdict and the reason of the check that decided it."""
    if not checks:
        raise ResreproError("a claim with no checks cannot get a verdict")
    for verdict in ("inconsistent as stated", "not reproduced", "reproduced"):
        deciding = [c for c in checks if c["outcome"] == verdict]
        if deciding:
            return verdict, " | ".join(c["reason"] for c in deciding)
    reasons = [c["reason"] for c in checks if c["outcome"] == "not testable"] or [c["reason"] for c in checks]
    return "not testable", " | ".join(reasons)


def table_cell_claims(paper: Mapping) -> list[dict]:
    """Every cell of the paper's Tables 1-3 as a claim, id T<n>.<model>.<quantity>."""
    out = []
    for n, t in enumerate(("table1", "table2", "table3"), start=1):
        table = paper[t]
        cols = table["columns"]
        for model, row in table["rows"].items():
            cells = " | ".join(printed(row[q], cols[q]["decimals"]) for q in cols)
            for q, col in cols.items():
                value = row[q]
                out.append({
                    "id": f"T{n}.{model}.{q}",
                    "location": f"{table.get('location', table['title'].split(':')[0])}, row {_display(model)}, column \"{col['header']}\"",
                    "quote": f"{table['title']} | {_display(model)} | {cells}",
                    "statement": f"{_display(model)}: {col['header']} = {printed(value, col['decimals'])}",
                    "paper": printed(value, col["decimals"]),
                    "form": {"type": "table_cell", "table": t, "model": model, "quantity": q, "value": value, "decimals": col["decimals"]},
                })
    return out


_REQUIRED = ("id", "location", "quote", "statement", "form")


def load_claims(path: str | Path) -> list[dict]:
    """The text claims of reports/claims.yaml, checked for shape (ids unique, every form known)."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    claims = doc.get("claims") if isinstance(doc, Mapping) else None
    if not isinstance(claims, list) or not claims:
        raise ResreproError(f"{path}: no 'claims' list; see the header of reports/claims.yaml")
    seen = set()
    for i, c in enumerate(claims):
        missing = [k for k in _REQUIRED if not c.get(k)]
        if missing:
            raise ResreproError(f"{path}: claim #{i + 1} ({c.get('id', '?')}) lacks {', '.join(missing)}")
        if c["id"] in seen:
            raise ResreproError(f"{path}: two claims have the id {c['id']!r}")
        seen.add(c["id"])
        if c["form"].get("type") not in FORM_RULES:
            raise ResreproError(f"{path}: claim {c['id']!r} has the form type {c['form'].get('type')!r}; known: {', '.join(sorted(FORM_RULES))}")
    return claims


def text_values(claims: Sequence[Mapping]) -> dict:
    """Numbers printed only in the text: {model: {quantity: (value, decimals, location)}}."""
    out: dict = {}
    for c in claims:
        f = c["form"]
        if f["type"] == "value":
            out.setdefault(f["model"], {})[f["quantity"]] = (float(f["value"]), int(f["decimals"]), "the text")
    return out


def comparability(spec: Mapping, paper: Mapping) -> tuple[bool, list[str]]:
    """Whether this run's measurements may be compared with the paper's numbers, and why not."""
    reasons = []
    data = spec.get("data") or {}
    subsets = [(what, data[key]) for key, what in (("train_subset", "training"), ("val_subset", "validation"), ("test_subset", "test")) if data.get(key)]
    if subsets:
        reasons.append(" / ".join(w for w, _ in subsets) + " subsets of " + " / ".join(f"{n:,}" for _, n in subsets) + " images")
    epochs = (spec.get("train") or {}).get("epochs")
    paper_epochs = [r.get("epochs_to_convergence") for r in paper.get("table2", {}).get("rows", {}).values() if r.get("epochs_to_convergence")]
    if epochs is not None and paper_epochs and epochs < max(paper_epochs):
        reasons.append(f"{epochs} epoch(s), the paper's models converge in up to {max(paper_epochs)}")
    if spec.get("stamp"):
        reasons.append(f"stamped \u201c{spec['stamp']}\u201d")
    return not reasons, reasons


def parameter_counts(models: Sequence[str], models_json: Sequence[Mapping] = ()) -> dict:
    """Exact parameter counts: our 10-class models (models.json, else built) and torchvision's ImageNet ones."""
    known = {m["model"]: m for m in models_json}
    out = {}
    for name in models:
        entry = {"cifar10": None, "imagenet": None, "flops_per_image": None}
        if name in known:
            entry["cifar10"] = int(known[name]["params"])
            entry["flops_per_image"] = known[name].get("flops_per_image")
        from . import models as registry

        if name not in known and name in registry.available():
            entry["cifar10"] = registry.count_parameters(registry.create(name))
        try:
            import torchvision

            ctor = getattr(torchvision.models, name, None)
            if ctor is not None and name.startswith("resnet"):
                entry["imagenet"] = registry.count_parameters(ctor(weights=None, num_classes=1000))
        except ImportError:
            pass
        out[name] = entry
    return out


def audit(claims: Sequence[Mapping], paper: Mapping, measured: Mapping, counts: Mapping, spec: Mapping, gradients: Mapping | None = None) -> dict:
    """Every claim (table cells first, then the text) with its checks and verdict."""
    ok, reasons = comparability(spec, paper)
    x = Inputs(paper, measured, counts, ok, reasons, text_values(claims))
    x.gradients = gradients
    entries = []
    for c in list(table_cell_claims(paper)) + list(claims):
        form = c["form"]
        checks = FORM_RULES[form["type"]](form, x)
        verdict, reason = combine(checks)
        meas = next((ch for ch in checks if ch["kind"] == "measurement"), None)
        entries.append({
            "id": c["id"], "location": c["location"], "quote": c["quote"], "statement": c["statement"],
            "paper": c.get("paper") or (printed(form["value"], form["decimals"]) if form["type"] == "value" else c["statement"]),
            "form": form, "verdict": verdict, "reason": reason,
            "measurement": meas["evidence"] if meas else None,
            "ours": _ours_text(checks),
            "checks": checks,
        })
    counts_by_verdict = {v: sum(e["verdict"] == v for e in entries) for v in VERDICTS}
    return {
        "run": spec.get("run"),
        "comparable": ok,
        "not_comparable_because": reasons,
        "verdicts": counts_by_verdict,
        "rules": {
            "alpha": ALPHA, "confidence": CONFIDENCE, "margin_pp": MARGIN_PP, "relative_margin": RELATIVE_MARGIN,
            "value": "reproduced iff |mean over seeds - printed value| <= rounding half-unit + max(margin, 95 % t-CI half-width)",
            "ordering": "reproduced iff a one-sided Welch t-test over seeds is significant at alpha for every pair the claim names",
            "combination": "any 'inconsistent as stated' check wins, then 'not reproduced', then 'reproduced', else 'not testable'",
        },
        "claims": entries,
    }


def _ours_text(checks: Sequence[Mapping]) -> str:
    for ch in checks:
        if ch["kind"] != "measurement":
            continue
        ev = ch["evidence"]
        if isinstance(ev.get("ours"), Mapping):
            return _summary_text(ev["ours"])
        tests = ev.get("tests")
        if tests:
            sig = [t for t in tests if t.get("significant")]
            if all("p" in t for t in tests):
                return f"{len(sig)} of {len(tests)} pair(s) significant (Welch, alpha {ALPHA})"
            return f"{len(tests)} pair(s), one seed: no test"
    for ch in checks:
        ev = ch["evidence"]
        if ch["rule"] == "parameter_count" and ev.get("cifar10"):
            return f"{ev['cifar10']:,} parameters (10 classes)"
        if ch["rule"] in ("params_relation", "params_trend") and ev.get("counts"):
            return ", ".join(f"{_display(m)} {c / 1e6:.2f} M" for m, c in ev["counts"].items())
    return "\u2014"


def run_audit(results: str | Path, paper_path: str | Path, claims_path: str | Path, spec: Mapping) -> dict:
    """The audit of one run, from its result files."""
    from .analysis import load_paper

    results = Path(results)
    paper = load_paper(paper_path)
    claims = load_claims(claims_path)
    measured = io.read_json(results / "tables" / "measured.json")
    models_json = io.read_json(results / "models.json")
    names = sorted({m for c in table_cell_claims(paper) + claims for m in _models_named(c["form"])} | set(measured))
    counts = parameter_counts(names, models_json)
    study = results / "degradation" / "summary.json"
    return audit(claims, paper, measured, counts, spec, io.read_json(study) if study.exists() else None)


def _models_named(form: Mapping) -> list[str]:
    out = []
    for k in ("model", "models", "better", "than", "order", "more_than"):
        v = form.get(k)
        out += [v] if isinstance(v, str) else list(v or [])
    return out
