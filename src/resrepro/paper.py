"""The paper as data: its Tables 1-3 (``reports/paper.yaml``), the claims of its text
(``reports/claims.yaml``) and what other work reports (``reports/context.yaml``), loaded and checked
for shape.

The tables, figures and claims stages read the paper through this module; it knows nothing of the
audit's rules (:mod:`resrepro.claims` passes its form types to :func:`load_claims`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Collection, Mapping, Sequence

import yaml

from . import ResreproError, outputs
from .fmt import display_name, printed

TABLES = tuple(outputs.paper_table_ids())  # the paper's Tables 1-3, declared in resrepro.outputs
_REQUIRED = ("id", "location", "quote", "statement", "form")


def load_paper(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_context(path: str | Path) -> list[dict]:
    """Published results of other work (reports/context.yaml), for the context table."""
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)["sources"]


def load_claims(path: str | Path, known_forms: Collection[str] | None = None) -> list[dict]:
    """The text claims of reports/claims.yaml, checked for shape: every key present, ids unique and,
    when ``known_forms`` is given (the audit's form types), every form type among them."""
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
        readings = c.get("readings") or []
        if not isinstance(readings, list) or any(
            not (isinstance(r, Mapping) and r.get("name") and r.get("form")) for r in readings
        ):
            raise ResreproError(f"{path}: claim {c['id']!r}: every entry of 'readings' needs a name and a form")
        for form in [c["form"]] + [r["form"] for r in readings]:
            if known_forms is not None and form.get("type") not in known_forms:
                raise ResreproError(
                    f"{path}: claim {c['id']!r} has the form type {form.get('type')!r}; "
                    f"known: {', '.join(sorted(known_forms))}"
                )
    return claims


def load_margins(path: str | Path) -> dict:
    """The pre-registered margins of reports/claims.yaml (``margins``), written before any run, and their
    SHA-256 (of the canonical JSON), which every claims.json and provenance.json records.

    Each quantity has either ``pp`` (an absolute margin, percentage points) or ``relative`` (a fraction of
    the printed value); a rule's threshold has ``factor``. Returns {"quantities": {q: {kind: x}},
    "sha256": ..., "file": ...}."""
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    margins = doc.get("margins") if isinstance(doc, Mapping) else None
    if not isinstance(margins, Mapping) or not margins:
        raise ResreproError(f"{path}: no 'margins' mapping; pre-register a margin per quantity (see its header)")
    for q, m in margins.items():
        ok = isinstance(m, Mapping) and len(m) == 1 and next(iter(m)) in ("pp", "relative", "factor")
        value = next(iter(m.values())) if ok else None
        low = 1 if ok and "factor" in m else 0
        if not ok or isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value < 100:
            raise ResreproError(
                f"{path}: margins.{q} must be {{pp: <points>}}, {{relative: <fraction>}} or {{factor: <above 1>}} "
                f"with a positive number, got {m!r}"
            )
    canonical = json.dumps(margins, sort_keys=True, separators=(",", ":"))
    return {
        "quantities": {q: dict(m) for q, m in margins.items()},
        "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
        "file": Path(path).name,
    }


def text_values(claims: Sequence[Mapping]) -> dict:
    """Numbers printed only in the text: {model: {quantity: (value, decimals, location)}}."""
    out: dict = {}
    for c in claims:
        f = c["form"]
        if f["type"] == "value":
            out.setdefault(f["model"], {})[f["quantity"]] = (float(f["value"]), int(f["decimals"]), "the text")
    return out


def table_cell_claims(paper: Mapping) -> list[dict]:
    """Every cell of the paper's Tables 1-3 as a claim, id T<n>.<model>.<quantity>."""
    out = []
    for n, t in enumerate(TABLES, start=1):
        table = paper[t]
        cols = table["columns"]
        where = table.get("location", table["title"].split(":")[0])
        for model, row in table["rows"].items():
            name = display_name(model)
            cells = " | ".join(printed(row[q], cols[q]["decimals"]) for q in cols)
            for q, col in cols.items():
                value = printed(row[q], col["decimals"])
                out.append(
                    {
                        "id": f"T{n}.{model}.{q}",
                        "location": f'{where}, row {name}, column "{col["header"]}"',
                        "quote": f"{table['title']} | {name} | {cells}",
                        "statement": f"{name}: {col['header']} = {value}",
                        "paper": value,
                        "form": {
                            "type": "table_cell",
                            "table": t,
                            "model": model,
                            "quantity": q,
                            "value": row[q],
                            "decimals": col["decimals"],
                        },
                    }
                )
    return out
