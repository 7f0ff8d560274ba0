"""The paper's references as data (``reports/references.yaml``): the entries that do not match the works
they name, those unrelated to the sentences citing them, and works the text misdescribes.

Apart from the claims audit: a finding here concerns the paper's scholarship, not its results, and has
no verdict. :func:`load_references` reads and checks the file; :func:`report_rows` gives the report's
table, :func:`counts` the number of findings of each kind. Torch-free.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from . import ResreproError

KINDS = (
    "entry does not match the work it names",
    "unrelated to the citing sentence",
    "misdescribes the cited work",
)
NONE = "none"  # findings: none -- the reference was read and nothing is wrong
_CITATION = re.compile(r"\[([\d,\s]+)\]")


def citation_numbers(quote: str) -> set[int]:
    """The reference numbers cited in ``quote``: ``[7, 8]`` gives {7, 8}."""
    return {int(x) for group in _CITATION.findall(quote) for x in group.replace(" ", "").split(",") if x}


def label(ref: Mapping) -> str:
    """How the report names a reference: ``[17]``, or the author and year for one not in the list."""
    return f"[{ref['n']}]" if ref.get("n") is not None else str(ref["cited_as"])


def _text(ref: Mapping, key: str, where: str) -> str:
    v = ref.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ResreproError(f"{where} lacks a non-empty string {key!r}")
    return v


def _check_cited(ref: Mapping, where: str) -> None:
    cited = ref.get("cited")
    if not isinstance(cited, list) or not cited or not all(isinstance(c, Mapping) for c in cited):
        raise ResreproError(f"{where} 'cited' must be a non-empty list of {{location, quote}}")
    for j, c in enumerate(cited):
        here = f"{where} cited #{j + 1}"
        _text(c, "location", here)
        quote = _text(c, "quote", here)
        if ref.get("n") is not None and ref["n"] not in citation_numbers(quote):
            raise ResreproError(f"{here}: the quote does not cite [{ref['n']}]; quote the sentence with its citation")
        if ref.get("n") is None and str(ref["cited_as"]) not in quote:
            raise ResreproError(f"{here}: the quote does not name {ref['cited_as']!r}")


def _check_findings(ref: Mapping, where: str) -> None:
    findings = ref.get("findings")
    if findings == NONE:
        return
    if not isinstance(findings, list) or not findings or not all(isinstance(f, Mapping) for f in findings):
        raise ResreproError(f"{where} 'findings' must be a non-empty list of {{kind, evidence}} or {NONE!r}")
    for j, f in enumerate(findings):
        here = f"{where} finding #{j + 1}"
        if f.get("kind") not in KINDS:
            raise ResreproError(f"{here} has the kind {f.get('kind')!r}; known: {'; '.join(KINDS)}")
        _text(f, "evidence", here)


def _check(ref: Any, i: int, path: str) -> None:
    where = f"{path}: reference #{i + 1}"
    if not isinstance(ref, Mapping):
        raise ResreproError(f"{where} is a {type(ref).__name__}, not a mapping")
    n = ref.get("n", "missing")
    if n is None:
        where += f" ({ref.get('cited_as', '?')})"
        _text(ref, "cited_as", where)
        if ref.get("entry") is not None:
            raise ResreproError(f"{where} has no number but an 'entry'; give its number n")
    elif isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ResreproError(f"{where}: 'n' must be its number in the reference list (or null), not {n!r}")
    else:
        where += f" ([{n}])"
        _text(ref, "entry", where)
    _check_cited(ref, where)
    _check_findings(ref, where)
    if "work" in ref:
        _text(ref, "work", where)


def load_references(path: str | Path) -> list[dict]:
    """The references of ``reports/references.yaml``, checked for shape; a clear error naming the file and key."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except OSError as e:
        raise ResreproError(f"{path}: cannot be read ({e})") from e
    except yaml.YAMLError as e:
        raise ResreproError(f"{path}: not valid YAML ({e})") from e
    refs = doc.get("references") if isinstance(doc, Mapping) else None
    if not isinstance(refs, list) or not refs:
        raise ResreproError(f"{path}: no 'references' list; see the header of reports/references.yaml")
    seen: set = set()
    for i, ref in enumerate(refs):
        _check(ref, i, path)
        key = label(ref)
        if key in seen:
            raise ResreproError(f"{path}: reference {key} is listed twice")
        seen.add(key)
    return refs


def with_findings(refs: Sequence[Mapping]) -> list[Mapping]:
    return [r for r in refs if r["findings"] != NONE]


def counts(refs: Sequence[Mapping]) -> dict[str, int]:
    """How many references have a finding of each kind (every kind listed, zero included)."""
    return {k: sum(any(f["kind"] == k for f in r["findings"]) for r in with_findings(refs)) for k in KINDS}


def report_rows(refs: Sequence[Mapping], *, no_entry: str, published: str) -> list[list[str]]:
    """One row per reference with a finding: label, the entry as printed (``no_entry`` for a work the list
    lacks), where it is cited (with the quote), and each finding with its evidence, then ``published``
    and the work as published where the file gives it. The two labels are the report's wording."""
    rows = []
    for r in with_findings(refs):
        cited = " ".join(f"{c['location']}: \u201c{c['quote']}\u201d" for c in r["cited"])
        found = " ".join(f"{f['kind'].capitalize()}: {f['evidence']}" for f in r["findings"])
        if r.get("work"):
            found += f" {published} {r['work']}"
        rows.append([label(r), r.get("entry") or no_entry, cited, found])
    return rows
