"""The audit: each claim's form type names its rules (:data:`FORM_RULES`); their checks combine into
the claim's verdict; :func:`run_audit` audits one run from its result files."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from .. import ResreproError
from .. import paper as transcription
from ..fmt import printed
from ..stats import CONFIDENCE
from . import gradients as gradient_rules  # noqa: F401  (registers its form types; "gradients" is an argument here)
from . import internal, orderings, scope, theory, values  # noqa: F401  (each registers its form types)
from .common import ALPHA, FORM_RULES, MARGIN_PP, RELATIVE_MARGIN, VERDICTS, _display, _summary_text
from .evidence import Inputs, comparability, read_run

RULES_STATED = {
    "alpha": ALPHA,
    "confidence": CONFIDENCE,
    "margin_pp": MARGIN_PP,
    "relative_margin": RELATIVE_MARGIN,
    "value": "reproduced iff |mean over seeds - printed value| <= rounding half-unit"
    " + max(margin, 95 % t-CI half-width)",
    "ordering": "reproduced iff a one-sided Welch t-test over seeds is significant at alpha"
    " for every pair the claim names",
    "combination": "any 'inconsistent as stated' check wins, then 'not reproduced', then 'reproduced',"
    " else 'not testable'",
}


def load_claims(path: str | Path) -> list[dict]:
    """The text claims of reports/claims.yaml, checked for shape (ids unique, every form type has rules here)."""
    return transcription.load_claims(path, known_forms=FORM_RULES)


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


def _entry(c: Mapping, checks: list[dict]) -> dict:
    """A claim of the audit: what it says, its verdict and the checks behind it."""
    form = c["form"]
    verdict, reason = combine(checks)
    meas = next((ch for ch in checks if ch["kind"] == "measurement"), None)
    stated = printed(form["value"], form["decimals"]) if form["type"] == "value" else c["statement"]
    return {
        "id": c["id"],
        "location": c["location"],
        "quote": c["quote"],
        "statement": c["statement"],
        "paper": c.get("paper") or stated,
        "form": form,
        "verdict": verdict,
        "reason": reason,
        "measurement": meas["evidence"] if meas else None,
        "ours": _ours_text(checks),
        "checks": checks,
    }


def audit(
    claims: Sequence[Mapping],
    paper: Mapping,
    measured: Mapping,
    counts: Mapping,
    spec: Mapping,
    gradients: Mapping | None = None,
) -> dict:
    """Every claim (table cells first, then the text) with its checks and verdict."""
    ok, reasons = comparability(spec, paper)
    x = Inputs(paper, measured, counts, ok, reasons, transcription.text_values(claims))
    x.gradients = gradients
    entries = []
    for c in list(transcription.table_cell_claims(paper)) + list(claims):
        entries.append(_entry(c, FORM_RULES[c["form"]["type"]](c["form"], x)))
    counts_by_verdict = {v: sum(e["verdict"] == v for e in entries) for v in VERDICTS}
    return {
        "run": spec.get("run"),
        "comparable": ok,
        "not_comparable_because": reasons,
        "verdicts": counts_by_verdict,
        "rules": dict(RULES_STATED),
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
    paper = transcription.load_paper(paper_path)
    claims = load_claims(claims_path)
    forms = [c["form"] for c in transcription.table_cell_claims(paper) + claims]
    measured, counts, gradients = read_run(results, forms)
    return audit(claims, paper, measured, counts, spec, gradients)
