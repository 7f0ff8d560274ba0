"""The parts of the report that frame its results: the title block, the summary box of the central
claims, the compact claims table, and our own bibliography (:data:`BIBLIOGRAPHY_FILE`, cited in the
text as ``{{ cite.<key> }}``). Values only; the words are in ``templates/report_text.yaml``."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .. import ResreproError, __version__, outputs
from .prose import Prose
from .render import template_dir

BIBLIOGRAPHY_FILE = "bibliography.yaml"  # in the template folder
SHORT_REASON, SHORT_STATEMENT = 150, 120  # characters, the summary box's reasons and the claims table's statements


def shorten(s: str, limit: int, first_clause: bool = True) -> str:
    """``s`` (up to its first "; " clause), cut at a word before ``limit`` characters, with an ellipsis."""
    s = " ".join(s.split())
    if first_clause:
        s = s.split("; ")[0].rstrip(" .;:,")
    if len(s) <= limit:
        return s
    cut = s[: limit - 1].rsplit(" ", 1)[0].rstrip(" .;:,(")
    return cut + "\u2026"


def bibliography(path: str | Path | None = None) -> list[dict]:
    """Our bibliography: a list of {key, text}, numbered in file order."""
    path = Path(path) if path else template_dir() / BIBLIOGRAPHY_FILE
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ResreproError(f"bibliography {str(path)!r} cannot be read ({e}); fix or reinstall it") from e
    if not isinstance(entries, list) or not all(isinstance(e, dict) and {"key", "text"} <= set(e) for e in entries):
        raise ResreproError(f"bibliography {str(path)!r} must be a list of entries with a key and a text")
    keys = [e["key"] for e in entries]
    dup = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
    if dup:
        raise ResreproError(f"bibliography {str(path)!r} lists the key {dup!r} twice; give each entry its own key")
    return entries


def citations(entries: list[dict]) -> dict[str, str]:
    """Each key's citation mark, [1], [2], ... in file order."""
    return {e["key"]: f"[{i}]" for i, e in enumerate(entries, 1)}


def check_cited(text: Prose, entries: list[dict]) -> None:
    """Every entry of the bibliography is cited in the text file (an uncited reference is an error)."""
    raw = text.path.read_text(encoding="utf-8")
    uncited = [e["key"] for e in entries if not re.search(rf"cite\.{re.escape(e['key'])}\b", raw)]
    if uncited:
        raise ResreproError(
            f"bibliography entries {', '.join(uncited)} are cited nowhere in {text.path.name}; cite them "
            "({{ cite.<key> }}) or remove them"
        )


def bibliography_section(text: Prose, common: dict, entries: list[dict]) -> dict:
    check_cited(text, entries)
    marks = citations(entries)
    return {
        "id": "bibliography",
        "title": text.render("bibliography.title", **common),
        "paragraphs": [f"{marks[e['key']]} {' '.join(str(e['text']).split())}" for e in entries],
    }


def byline(text: Prose, common: dict, prov: dict, run: str) -> list[str]:
    """The title block's lines: the reproduction's authors (resrepro and its commit), version, date, run.
    The date is the run's (provenance.json), so that re-rendering gives the same file."""
    git = prov.get("git") or {}
    return text.render(
        "title_block",
        **common,
        commit=git.get("commit") or "",
        dirty=bool(git.get("dirty")),
        version=__version__,
        date=prov.get("date") or "",
        run=run,
    )


def highlights(text: Prose, common: dict, audit: dict) -> list[dict]:
    """The summary box: each central claim (report_text.yaml's summary_box.central) with its verdict and
    a one-line reason."""
    by_id = {c["id"]: c for c in audit["claims"]}
    central = text.entry("summary_box.central")
    unknown = [c for c in central if c not in by_id]
    if unknown:
        raise ResreproError(
            f"summary_box.central in {text.path.name} names claims the audit lacks: {', '.join(unknown)}; "
            "use ids of claims.json"
        )
    return [
        {
            "id": cid,
            "statement": by_id[cid]["statement"],
            "verdict": by_id[cid]["verdict"],
            "reason": shorten(by_id[cid]["reason"], SHORT_REASON),
        }
        for cid in central
    ]


def claims_table(text: Prose, common: dict, audit: dict) -> dict:
    """The compact claims table of the body: id (linked to the claim's evidence), family, the statement
    shortened, verdict; filterable by family and verdict, and sortable, in the HTML page."""
    rows = [
        [c["id"], c["family"], shorten(c["statement"], SHORT_STATEMENT, first_clause=False), c["verdict"]]
        for c in audit["claims"]
    ]
    t = text.render("tables.claims", **common, n_claims=len(rows), verdicts=audit["verdicts"])
    return {
        "id": "claims",
        "title": outputs.table("claims").title,
        "columns": t["columns"],
        "rows": rows,
        "notes": t["notes"],
        "widths": ["auto", "auto", "1fr", "auto"],
        "verdict_column": 3,
        "link_column": 0,
        "link_prefix": "claim-",
        "filter_columns": [1, 3],
        "sortable": True,
    }
