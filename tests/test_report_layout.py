"""The report's layout as a reproducibility paper: title block, summary box, section order, figures beside
their tables, links from the claims table to the evidence, the bibliography, and the web page's filter
(in headless Chromium when it is installed)."""

from __future__ import annotations

import html as html_lib
import importlib.util
import json
import re
from pathlib import Path

import pypdf
import pytest
from test_report import REFERENCES, RUN_DATE, SECTION_ORDER, pdf_pages, render_run

from resrepro import ResreproError, __version__, outputs, report
from resrepro.report import Document, layout
from resrepro.report.prose import Prose

REPO = Path(__file__).resolve().parents[1]
DATE = RUN_DATE


def _screenshots():
    spec = importlib.util.spec_from_file_location("screenshot_html", REPO / "scripts" / "screenshot_html.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def run_report(tmp_path_factory):
    return render_run(tmp_path_factory)


def test_the_title_block_names_resrepro_its_commit_version_and_the_runs_date(run_report):
    _, _, ctx, out = run_report
    first = pdf_pages(out / "report.pdf")[0]
    assert f"Reproduction by resrepro {__version__}, commit {'0' * 12}" in first
    assert f"Run of {DATE}" in first  # the run's date (provenance.json), not the time of rendering
    assert f"Run of {DATE}" in (out / "report.html").read_text(encoding="utf-8")


def test_a_run_without_a_recorded_date_says_so():
    text = Prose(report.TEMPLATE_DIR / report.TEXT_FILE)
    lines = layout.byline(text, {}, {"git": {"commit": "abc", "dirty": True}}, "quick")
    assert lines[0].endswith("commit abc (with uncommitted changes)") and "not recorded" in lines[1]


def test_the_summary_box_shows_each_central_claim_with_its_verdict_and_a_short_reason(run_report):
    root, _, ctx, out = run_report
    audit = {c["id"]: c for c in json.loads((root / "claims.json").read_text())["claims"]}
    central = Prose(report.TEMPLATE_DIR / report.TEXT_FILE).entry("summary_box.central")
    assert [h["id"] for h in ctx["highlights"]] == central and len(central) >= 5
    first = " ".join(pdf_pages(out / "report.pdf")[:2])
    for h in ctx["highlights"]:
        assert h["verdict"] == audit[h["id"]]["verdict"]
        assert len(h["reason"]) <= layout.SHORT_REASON and "; " not in h["reason"]
        assert audit[h["id"]]["reason"].startswith(h["reason"].rstrip("\u2026"))
        assert h["id"] in first
    assert ctx["highlights_title"] in pdf_pages(out / "report.pdf")[0]


def test_a_central_claim_the_audit_lacks_is_refused(run_report, tmp_path, monkeypatch):
    import shutil

    root, spec, _, _ = run_report
    tdir = tmp_path / "templates"
    shutil.copytree(report.TEMPLATE_DIR, tdir)
    p = tdir / report.TEXT_FILE
    p.write_text(p.read_text(encoding="utf-8").replace("- concl.r110-error", "- concl.no-such-claim"))
    monkeypatch.setattr(report, "TEMPLATE_DIR", tdir)
    with pytest.raises(ResreproError, match="concl.no-such-claim"):
        report.build_context(root, spec, snakemake_dir=root / ".snakemake", references=REFERENCES)


def test_shorten_cuts_at_a_clause_or_a_word():
    assert layout.shorten("only one seed; and more", 100) == "only one seed"
    assert layout.shorten("a b; c", 100, first_clause=False) == "a b; c"
    cut = layout.shorten("word " * 40, 30)
    assert len(cut) <= 30 and cut.endswith("\u2026") and not cut.endswith(" \u2026")


def test_sections_come_in_the_order_of_a_reproducibility_report(run_report):
    _, _, ctx, out = run_report
    text = " ".join(pdf_pages(out / "report.pdf"))
    at = [text.index(h) for h in SECTION_ORDER]
    assert at == sorted(at), [h for h, a in zip(SECTION_ORDER, at, strict=True)]
    toc = re.search(r'<nav class="toc".*?</nav>', (out / "report.html").read_text(encoding="utf-8"), re.S).group(0)
    assert [html_lib.unescape(t) for t in re.findall(r'">([^<]+)</a>', toc)] == list(SECTION_ORDER)


def test_each_figure_follows_the_table_it_supports(run_report):
    _, _, ctx, _ = run_report
    blocks = Document.from_mapping(ctx).blocks()
    kinds = [(b["kind"], b.get("table", b.get("figure"))) for b in blocks]
    # a table printed in parts (table1, table1-2) is placed by its last part
    tables_at = {obj.id.split("-")[0]: i for i, (k, obj) in enumerate(kinds) if k == "table"}
    for i, (k, obj) in enumerate(kinds):
        if k == "figure" and obj.table in tables_at:
            between = [o for kk, o in kinds[tables_at[obj.table] + 1 : i] if kk != "figure"]
            assert i > tables_at[obj.table] and not between, obj.id
    assert outputs.figures_beside("table1") == ["per_class_f1", "confusion"]
    assert {f.table for f in outputs.FIGURES} <= {t.id for t in outputs.TABLES}


def test_every_claim_row_links_to_its_evidence_in_both_outputs(run_report):
    root, _, ctx, out = run_report
    ids = [c["id"] for c in json.loads((root / "claims.json").read_text())["claims"]]
    page = (out / "report.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'\sid="([^"]+)"', page))
    for cid in ids:
        assert f'<a href="#claim-{html_lib.escape(cid)}">' in page and f"claim-{cid}" in anchors
    assert all(ref in anchors for ref in re.findall(r'href="#([^"]+)"', page))
    assert not re.search(r'\s(src|href)="(?!#)', page) and page.count("<script>") == 1  # self-contained
    for sec in ("sec-summary", "sec-results", "sec-claims_audit", "sec-discussion", "sec-bibliography"):
        assert sec in anchors
    assert {t["id"] for t in ctx["tables"]} <= anchors and {f["id"] for f in ctx["figures"]} <= anchors
    links = [
        a.get_object()
        for p in pypdf.PdfReader(str(out / "report.pdf")).pages
        for a in p.get("/Annots") or []
        if a.get_object().get("/Subtype") == "/Link"
    ]
    assert len(links) >= len(ids) + len(ctx["highlights"])  # the claims table and the summary box link


def test_a_link_to_a_missing_anchor_is_refused(run_report):
    _, _, ctx, _ = run_report
    bad = dict(ctx, tables=[dict(t, link_prefix="nowhere-") if t["id"] == "claims" else t for t in ctx["tables"]])
    with pytest.raises(ResreproError, match="nowhere-"):
        Document.from_mapping(bad)


def test_the_bibliography_is_numbered_and_every_entry_is_cited(run_report, tmp_path):
    _, _, ctx, out = run_report
    bib = layout.bibliography()
    text = " ".join(pdf_pages(out / "report.pdf"))
    for i, e in enumerate(bib, 1):
        assert f"[{i}] " + " ".join(e["text"].split())[:40] in text
    assert {"paper", "he2016", "kuangliu", "akamaster", "pytorch", "snakemake", "typst"} <= {e["key"] for e in bib}
    p = tmp_path / "t.yaml"
    p.write_text("a: 'see {{ cite.paper }}'\n", encoding="utf-8")
    with pytest.raises(ResreproError, match="cited nowhere"):
        layout.check_cited(Prose(p), bib)


def test_the_text_has_no_plural_placeholders_and_no_capital_after_a_semicolon(run_report):
    raw = (report.TEMPLATE_DIR / report.TEXT_FILE).read_text(encoding="utf-8")
    assert not re.search(r"[a-z]\(s\)", raw)
    _, _, _, out = run_report
    text = " ".join(pdf_pages(out / "report.pdf"))
    assert not re.search(r"\b1 (epochs|seeds|jobs|pairs)\b", text)
    assert not re.search(r"[a-z]\(s\)", text.replace("Editor(s)", ""))  # a reference as the paper prints it
    assert not re.search(r"; (The|It|Each|A) ", text)


def test_the_web_page_filters_the_claims_by_verdict_and_family(run_report, tmp_path):
    """In headless Chromium: the address #filter=verdict:...,family:... hides every other row."""
    shots = _screenshots()
    if shots.find_chromium() is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    root, _, _, out = run_report
    audit = json.loads((root / "claims.json").read_text())["claims"]
    verdict = next(c["verdict"] for c in audit if c["family"] == "paper")
    dom = shots.dump_dom(out / "report.html", f"filter=verdict:{verdict.replace(' ', '%20')},family:paper")
    block = re.search(r'<div class="table-block" id="claims">.*?</tbody>', dom, re.S).group(0)
    table = block[block.index("<tbody>") :]
    rows = re.findall(r"<tr( hidden=\"\")?>(.*?)</tr>", table, re.S)
    shown = {re.search(r'href="#claim-([^"]+)"', r).group(1) for h, r in rows if not h}
    expected = {c["id"] for c in audit if c["verdict"] == verdict and c["family"] == "paper"}
    assert len(rows) == len(audit) and expected and shown == expected and len(shown) < len(audit)
    assert f"{len(expected)} of {len(audit)} shown" in dom
    unfiltered = shots.dump_dom(out / "report.html")
    assert "<tr hidden" not in unfiltered and f"{len(audit)} of {len(audit)} shown" in unfiltered
    png = shots.screenshot(out / "report.html", tmp_path / "page.png", "1000,1400")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_web_page_sorts_the_claims_by_a_click_on_a_column_header(run_report, tmp_path):
    """In headless Chromium (DevTools protocol): one click sorts by verdict, a second reverses the order."""
    shots = _screenshots()
    if shots.find_chromium() is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    _, _, ctx, out = run_report
    column = next(t for t in ctx["tables"] if t["id"] == "claims")["columns"].index("Verdict")
    read = f"Array.from(document.querySelectorAll('#claims tbody tr')).map(r => r.cells[{column}].textContent)"
    click = f"document.querySelectorAll('#claims th[data-sort]')[{column}].click()"
    with shots.devtools(out / "report.html") as (cdp, sid):
        before = shots.evaluate(cdp, sid, read)
        shots.evaluate(cdp, sid, click)
        ascending = shots.evaluate(cdp, sid, read)
        shots.evaluate(cdp, sid, click)
        descending = shots.evaluate(cdp, sid, read)
    assert before != sorted(before) and ascending == sorted(before) and descending == sorted(before, reverse=True)
    png = shots.screenshot_element(out / "report.html", tmp_path / "claims.png", "claims", "filter=family:paper")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_degradation_study_is_a_subsection_of_the_results_beyond_the_paper(tmp_path_factory):
    """A run with plain/residual twins: its study is numbered 6.1, after 6 and before the selection bias (6.2),
    its figures after its table."""
    from test_report import make_run_results
    from test_report_text import _study

    root = tmp_path_factory.mktemp("study") / "fixture"
    root.mkdir()
    spec = make_run_results(root)
    _study(root, {"plain20": 10.0, "resnet20": 9.0, "plain56": 12.0, "resnet56": 8.0})
    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="100pt" height="60pt"><rect width="10" height="10"/></svg>'
    for fid in outputs.figure_ids("degradation"):
        (root / "degradation" / f"{fid}.svg").write_text(svg, encoding="utf-8")
    ctx = report.build_context(root, spec, snakemake_dir=root / ".snakemake", references=REFERENCES)
    blocks = Document.from_mapping(ctx).blocks()
    heads = [(b["number"], b["section"].id, b["section"].level) for b in blocks if b["kind"] == "heading"]
    at = heads.index(("6.1", "degradation", 2))
    assert heads[at - 1] == ("6.", "beyond", 1) and heads[at + 1][:2] == ("6.2", "selection")
    assert heads[at + 2][0] == "7."
    placed = [b.get("table", b.get("figure")).id for b in blocks if b["kind"] in ("table", "figure")]
    i = placed.index("table6")
    assert placed[i + 1 : i + 3] == outputs.figure_ids("degradation")
    _, html, _ = report.render_sources(ctx)
    assert '<h3 id="sec-degradation">6.1 ' in html
