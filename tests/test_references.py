"""The paper's references (reports/references.yaml): the file, checked against the paper's text where it is
on this machine; the loader's errors; the report's rows."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from resrepro import ResreproError
from resrepro import references as R

REPO = Path(__file__).resolve().parents[1]
FILE = REPO / "reports" / "references.yaml"
DOC = yaml.safe_load(FILE.read_text(encoding="utf-8"))
SHARED_PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper"  # ../shared beside the checkout, when present
PAPER_TEXT = next(iter(sorted(SHARED_PAPER.glob("*.txt"))), None) if SHARED_PAPER.is_dir() else None
needs_paper = pytest.mark.skipif(PAPER_TEXT is None, reason="the paper's text (shared/paper) is not on this machine")
SECTIONS = ("Introduction", "Related Work", "Mathematical Formulation", "Results", "Conclusion")


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def paper_text() -> str:
    return PAPER_TEXT.read_text(encoding="utf-8")


def reference_list(text: str) -> dict[int, str]:
    """The paper's numbered reference list, {n: entry}, italics markers dropped."""
    tail = text[text.rindex("\nReferences\n") :]
    return {int(m[1]): norm(m[2].replace("*", "")) for m in re.finditer(r"^(\d+)\. (.*)$", tail, re.M)}


def paragraphs(text: str, section: str) -> list[str]:
    """The paragraphs of a section, a paragraph cut by a page break (next chunk in lower case) joined again."""
    start = text.index(f"\n{section}:\n")
    ends = [text.find(f"\n{s}:\n", start + 1) for s in SECTIONS]
    body = text[start + len(section) + 3 : min([e for e in ends if e > start] + [text.rindex("\nReferences\n")])]
    out: list[str] = []
    for chunk in (norm(c.replace("**", "")) for c in body.split("\n\n")):
        if not chunk:
            continue
        if out and chunk[0].islower():
            out[-1] += " " + chunk
        else:
            out.append(chunk)
    return out


def test_the_file_loads_and_every_finding_has_a_known_kind():
    refs = R.load_references(FILE)
    assert refs == DOC["references"]
    found = R.with_findings(refs)
    assert found and all(f["kind"] in R.KINDS for r in found for f in r["findings"])
    assert sum(R.counts(refs).values()) >= len(found)
    assert len({R.label(r) for r in refs}) == len(refs)


@needs_paper
def test_every_cited_number_is_in_the_papers_reference_list_as_printed():
    listed = reference_list(paper_text())
    assert sorted(listed) == list(range(1, max(listed) + 1))  # the parser found the whole list
    for r in R.load_references(FILE):
        if r["n"] is None:  # cited by author and year: the list must indeed lack it
            surname = r["cited_as"].split()[0]
            assert not any(surname in e for e in listed.values()), f"{surname} is in the reference list"
            continue
        assert r["n"] in listed, f"[{r['n']}] is not in the paper's reference list"
        assert norm(r["entry"]) == listed[r["n"]], f"[{r['n']}]: the entry is not verbatim"


@needs_paper
def test_every_citing_quote_is_verbatim_in_the_paragraph_it_names():
    text = paper_text()
    for r in R.load_references(FILE):
        for c in r["cited"]:
            m = re.fullmatch(r"(.+), paragraph (\d+)", c["location"])
            assert m and m[1] in SECTIONS, c["location"]
            paras = paragraphs(text, m[1])
            assert norm(c["quote"]) in paras[int(m[2]) - 1], f"{R.label(r)}: not in {c['location']}"


@needs_paper
def test_the_reference_numbers_named_in_the_evidence_exist():
    listed = reference_list(paper_text())
    for r in R.with_findings(R.load_references(FILE)):
        for f in r["findings"]:
            for n in re.findall(r"reference (\d+)", f["evidence"]):
                assert int(n) in listed, f"{R.label(r)} names reference {n}"


def test_citation_numbers_reads_bracketed_groups():
    assert R.citation_numbers("open challenge[7, 8, 9, 10]. ResNet [17], and [2]") == {2, 7, 8, 9, 10, 17}
    assert R.citation_numbers("no citation (2017)") == set()


def _write(tmp_path, doc) -> Path:
    path = tmp_path / "refs.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _set(i, key, value):
    def edit(doc):
        doc["references"][i][key] = value

    return edit


def _first_finding(key, value):
    def edit(doc):
        doc["references"][0]["findings"][0][key] = value

    return edit


def _quote(value):
    def edit(doc):
        doc["references"][0]["cited"][0]["quote"] = value

    return edit


BAD = [
    (lambda d: d.clear(), r"no 'references' list"),
    (lambda d: d["references"].append("a string"), r"reference #10 is a str"),
    (_set(0, "entry", ""), r"reference #1 \(\[8\]\) lacks a non-empty string 'entry'"),
    (_set(0, "n", True), r"'n' must be its number"),
    (_set(0, "n", 0), r"'n' must be its number"),
    (_set(1, "n", 8), r"reference \[8\] is listed twice"),
    (_set(0, "cited", []), r"\[8\]\) 'cited' must be a non-empty list"),
    (_quote("a sentence without its citation [7, 9]"), r"cited #1: the quote does not cite \[8\]"),
    (_set(0, "findings", []), r"'findings' must be a non-empty list"),
    (_set(0, "findings", "nothing"), r"'findings' must be a non-empty list"),
    (_first_finding("kind", "sloppy"), r"finding #1 has the kind 'sloppy'"),
    (_first_finding("evidence", " "), r"finding #1 lacks a non-empty string 'evidence'"),
    (_set(-1, "cited_as", ""), r"lacks a non-empty string 'cited_as'"),
    (_set(-1, "entry", "an entry"), r"has no number but an 'entry'"),
    (_set(1, "work", 3), r"\(\[10\]\) lacks a non-empty string 'work'"),
]


@pytest.mark.parametrize("edit,match", BAD, ids=[m for _, m in BAD])
def test_bad_files_get_an_error_naming_the_file_and_key(tmp_path, edit, match):
    doc = copy.deepcopy(DOC)
    assert len(doc["references"]) == 9 and doc["references"][0]["n"] == 8 and doc["references"][-1]["n"] is None
    edit(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(ResreproError, match=match) as e:
        R.load_references(path)
    assert str(path) in str(e.value)


def test_unreadable_or_invalid_files_get_a_clear_error(tmp_path):
    with pytest.raises(ResreproError, match="cannot be read"):
        R.load_references(tmp_path / "absent.yaml")
    with pytest.raises(ResreproError, match="not valid YAML"):
        R.load_references(_write(tmp_path, "references: [\n"))


def test_report_rows_give_each_reference_with_a_finding_once(tmp_path):
    doc = copy.deepcopy(DOC)
    doc["references"][0]["findings"] = R.NONE  # read, and found sound: no row, no count
    refs = R.load_references(_write(tmp_path, doc))
    rows = R.report_rows(refs, no_entry="(none)", published="Published:")
    assert [r[0] for r in rows] == [R.label(r) for r in DOC["references"][1:]]
    assert all(len(r) == 4 for r in rows)
    by_label = dict(zip([r[0] for r in rows], rows, strict=True))
    cited_as = DOC["references"][-1]["cited_as"]
    assert by_label[cited_as][1] == "(none)"
    ten = DOC["references"][1]
    assert by_label["[10]"][2].startswith(ten["cited"][0]["location"] + ": \u201c")
    assert by_label["[10]"][3].endswith("Published: " + ten["work"])
    full = R.counts(R.load_references(FILE))
    less = R.counts(refs)
    assert sum(full.values()) - sum(less.values()) == len(DOC["references"][0]["findings"])
    assert set(less) == set(R.KINDS)
