"""The audit: each claim's form type names its rules (:data:`FORM_RULES`); their checks combine into
the claim's verdict; :func:`run_audit` audits one run from its result files."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from .. import ResreproError, fmt
from .. import paper as transcription
from ..fmt import printed
from ..stats import CONFIDENCE, holm
from . import gradients as gradient_rules  # noqa: F401  (registers its form types; "gradients" is an argument here)
from . import internal, orderings, responses, scope, theory, values  # noqa: F401  (each registers its form types)
from .common import (
    ALPHA,
    CHOICES,
    FORM_RULES,
    IMPLAUSIBLE,
    INCONCLUSIVE,
    INCONSISTENT,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    UNSUPPORTED,
    UNTESTABLE,
    VERDICTS,
    _display,
    _summary_text,
)
from .evidence import Inputs, comparability, models_named, predictions_reader, read_run
from .power import POWER
from .values import PI_LEVEL

RULES_STATED = {
    "alpha": ALPHA,
    "confidence": CONFIDENCE,
    "prediction_interval": PI_LEVEL,
    "power": POWER,
    "value": "TOST with the pre-registered margin: reproduced iff the 90 % prediction interval of one run of ours"
    " minus the printed value, widened by its rounding, lies inside +-margin; not reproduced iff wholly outside;"
    " inconclusive otherwise",
    "ordering": "one-sided Welch t-tests over seeds for every pair the claim names (intersection-union: the claim's"
    " p is its largest pair p), then Holm's correction across the ordering claims; reproduced iff the adjusted p"
    " < alpha; not reproduced iff a pair is significantly the other way (or exactly tied); inconclusive otherwise",
    "combination": "within a reading: inconsistent as stated, then implausible, then not reproduced, then reproduced,"
    " then unsupported, then inconclusive, else not testable; across readings: robust iff every reading agrees and"
    " no choice of ours decides it; 'inconsistent as stated' only if every reading is",
}
PRECEDENCE = (INCONSISTENT, IMPLAUSIBLE, NOT_REPRODUCED, REPRODUCED, UNSUPPORTED, INCONCLUSIVE)
# When readings disagree and the literal one is impossible, the claim takes its most favourable other reading.
FAVOURABLE = (REPRODUCED, INCONCLUSIVE, NOT_TESTABLE, UNSUPPORTED, NOT_REPRODUCED, IMPLAUSIBLE, INCONSISTENT)
# The headline's claim families: what decided the claim (a check's kind).
FAMILIES = {
    "paper": "the paper against itself",
    "dataset": "CIFAR-10's test set",
    "model": "the models' parameter counts",
    "mathematics": "mathematics",
    "measurement": "our measurements",
    "scope": "scope",
}
ORDERING_RULES = {"better", "trend", "lowest", "no_degradation", "residual_vs_plain", "degradation"}


def load_claims(path: str | Path) -> list[dict]:
    """The text claims of reports/claims.yaml, checked for shape (ids unique, every form type has rules here)."""
    return transcription.load_claims(path, known_forms=FORM_RULES)


def load_margins(path: str | Path) -> dict:
    """The pre-registered margins of reports/claims.yaml, with their SHA-256."""
    return transcription.load_margins(path)


def combine(checks: Sequence[Mapping]) -> tuple[str, str]:
    """The verdict of one reading and the reason of the check(s) that decided it."""
    if not checks:
        raise ResreproError("a claim with no checks cannot get a verdict")
    for verdict in PRECEDENCE:
        deciding = [c for c in checks if c["outcome"] == verdict]
        if deciding:
            return verdict, " | ".join(c["reason"] for c in deciding)
    reasons = [c["reason"] for c in checks if c["outcome"] == NOT_TESTABLE] or [c["reason"] for c in checks]
    return NOT_TESTABLE, " | ".join(reasons)


def _reading(name: str, form: Mapping, x: Inputs) -> dict:
    """One reading of a claim: its checks, verdict, the kind of evidence that decided it and what it rests on."""
    checks = FORM_RULES[form["type"]](form, x)
    verdict, reason = combine(checks)
    deciding = [c for c in checks if c["outcome"] == verdict] or checks
    depends = {d for c in deciding for d in c.get("depends_on", ())}
    kind = deciding[0]["kind"]
    if kind == "measurement" and verdict != NOT_TESTABLE:
        depends |= {m for m in models_named(form) if m in CHOICES}
    untestable = sorted({c.get("untestable") for c in deciding if c.get("untestable")}, key=UNTESTABLE.index)
    return {
        "name": name,
        "form": dict(form),
        "verdict": verdict,
        "reason": reason,
        "kind": kind,
        "depends_on": sorted(depends),
        "untestable": untestable[0] if verdict == NOT_TESTABLE and untestable else None,
        "checks": checks,
    }


def _entry(c: Mapping, x: Inputs) -> dict:
    """A claim of the audit: what it says, its readings, its verdict and the checks behind it."""
    readings = [_reading(c.get("reading", "as stated"), c["form"], x)]
    readings += [_reading(r["name"], r["form"], x) for r in c.get("readings") or ()]
    agree = len({r["verdict"] for r in readings}) == 1
    chosen = readings[0]
    if chosen["verdict"] == INCONSISTENT and not agree:
        chosen = min(readings[1:], key=lambda r: FAVOURABLE.index(r["verdict"]))
    form, checks = c["form"], chosen["checks"]
    meas = next((ch for ch in checks if ch["kind"] == "measurement"), None)
    stated = printed(form["value"], form["decimals"]) if form["type"] == "value" else c["statement"]
    return {
        "id": c["id"],
        "location": c["location"],
        "quote": c["quote"],
        "statement": c["statement"],
        "paper": c.get("paper") or stated,
        "form": form,
        "verdict": chosen["verdict"],
        "reason": chosen["reason"],
        "reading": chosen["name"],
        "robust": agree and not chosen["depends_on"],
        "depends_on": chosen["depends_on"],
        "untestable": chosen["untestable"],
        "family": chosen["kind"],
        "readings": [{k: r[k] for k in ("name", "verdict", "reason", "depends_on")} for r in readings],
        "measurement": meas["evidence"] if meas else None,
        "ours": _ours_text(checks),
        "checks": checks,
    }


def _ordering_check(e: Mapping) -> Mapping | None:
    return next((ch for ch in e["checks"] if ch["rule"] in ORDERING_RULES and "p_iut" in ch["evidence"]), None)


def _correct_for_multiplicity(entries: list[dict]) -> dict:
    """Holm across every ordering claim that was tested: a claim is reproduced only if its adjusted p < ALPHA."""
    tested = [(e, ch) for e in entries if (ch := _ordering_check(e))]
    adjusted = holm([ch["evidence"]["p_iut"] for _, ch in tested])
    for (e, ch), q in zip(tested, adjusted):
        e["holm"] = {"p": ch["evidence"]["p_iut"], "adjusted": q, "family_size": len(tested)}
        if e["verdict"] == REPRODUCED and q >= ALPHA:
            e["verdict"] = INCONCLUSIVE
            reading = next(r for r in e["readings"] if r["name"] == e["reading"])
            reading["verdict"] = INCONCLUSIVE
            e["robust"] = len({r["verdict"] for r in e["readings"]}) == 1 and not e["depends_on"]
            e["reason"] += (
                f"; but not significant after Holm's correction across the {len(tested)} ordering claims tested"
                f" (adjusted p = {q:.3g} >= {ALPHA})"
            )
    return {"method": "Holm", "family_size": len(tested), "alpha": ALPHA}


def headline(entries: Sequence[Mapping]) -> dict:
    """Robust verdicts by claim family; the rest counted apart as resting on a reading or a choice of ours."""
    out: dict = {label: {} for label in FAMILIES.values()}
    for e in entries:
        if e["robust"]:
            fam = out[FAMILIES[e["family"]]]
            fam[e["verdict"]] = fam.get(e["verdict"], 0) + 1
    return {
        "robust": {f: v for f, v in out.items() if v},
        "not_robust": sum(not e["robust"] for e in entries),
        "not_testable_because": {
            u: sum(e["verdict"] == NOT_TESTABLE and e["untestable"] == u for e in entries) for u in UNTESTABLE
        },
    }


def audit(
    claims: Sequence[Mapping],
    paper: Mapping,
    measured: Mapping,
    counts: Mapping,
    spec: Mapping,
    gradients: Mapping | None = None,
    margins: Mapping | None = None,
    predictions=None,
) -> dict:
    """Every claim (table cells first, then the text) with its readings, checks and verdict."""
    ok, reasons = comparability(spec, paper)
    x = Inputs(paper, measured, counts, ok, reasons, transcription.text_values(claims))
    x.gradients, x.margins, x.predictions = gradients, margins, predictions
    x.planned = list(dict.fromkeys([j[0] for j in spec.get("planned") or ()] + list(spec.get("models") or ())))
    entries = [_entry(c, x) for c in list(transcription.table_cell_claims(paper)) + list(claims)]
    multiplicity = _correct_for_multiplicity(entries)
    return {
        "run": spec.get("run"),
        "comparable": ok,
        "not_comparable_because": reasons,
        "verdicts": {v: sum(e["verdict"] == v for e in entries) for v in VERDICTS},
        "headline": headline(entries),
        "rules": dict(RULES_STATED),
        "multiplicity": multiplicity,
        "preregistered": {k: (margins or {}).get(k) for k in ("file", "sha256", "quantities")},
        "choices": {k: v for k, v in CHOICES.items() if any(k in e["depends_on"] for e in entries)},
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
                largest = max(t["p"] for t in tests)
                pairs = fmt.count(len(tests), "pair")
                return f"{len(sig)} of {pairs} significant (Welch, alpha {ALPHA}; largest p {largest:.3g})"
            return f"{fmt.count(len(tests), 'pair')}, one seed: no test"
    for ch in checks:
        ev = ch["evidence"]
        if ch["rule"] == "parameter_count" and ev.get("cifar10"):
            return f"{ev['cifar10']:,} parameters (10 classes)"
        if ch["rule"] in ("params_relation", "params_trend") and ev.get("counts"):
            return ", ".join(f"{_display(m)} {c / 1e6:.2f} M" for m, c in ev["counts"].items())
    return "\u2014"


def run_audit(results: str | Path, paper_path: str | Path, claims_path: str | Path, spec: Mapping) -> dict:
    """The audit of one run, from its result files."""
    paper = transcription.load_paper(paper_path)
    claims = load_claims(claims_path)
    forms = [c["form"] for c in transcription.table_cell_claims(paper) + claims]
    measured, counts, gradients = read_run(results, forms)
    margins = load_margins(claims_path)
    return audit(claims, paper, measured, counts, spec, gradients, margins, predictions_reader(results))
