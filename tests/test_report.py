"""Report rendering: PDF (Typst) and HTML from one context; escaping, reproducibility, failures."""

from __future__ import annotations

import copy
import csv
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pypdf
import pytest

from resrepro import ResreproError, outputs, report
from resrepro.figures import error_vs_params, training_curves
from resrepro.paper import load_context, load_paper
from resrepro.report import render, table_to_csv, table_to_latex, typst_str

REPO = Path(__file__).resolve().parents[1]
REFERENCES = REPO / "reports" / "references.yaml"
STAMP = "quick preset, not comparable with the paper"
INJECTIONS = [
    "#set page(fill: red)",
    "*bold*",
    "<script>alert(1)</script>",
    '"); #set text(fill: red) //',
    "$x$",
    "_under_ @label <lbl> `raw` ] ) } \\ back",
]


def n_claims() -> int:
    """Every claim of the transcription: the table cells and the statements of the text."""
    paper = load_paper(REPO / "reports" / "paper.yaml")
    from resrepro import claims

    return len(claims.table_cell_claims(paper)) + len(claims.load_claims(REPO / "reports" / "claims.yaml"))


def _history(epochs: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    e = np.arange(1, epochs + 1)
    acc = 0.3 + 0.15 * e + rng.uniform(0, 0.02, epochs)
    return pd.DataFrame(
        {
            "epoch": e,
            "train_loss": 2 - acc,
            "train_acc": acc,
            "val_loss": 2.1 - acc,
            "val_acc": acc - 0.05,
            "lr": 0.1,
            "epoch_seconds": 3.0,
            "images_per_second": 1e4,
        }
    )


@pytest.fixture(scope="module")
def figs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("figs")
    training_curves(
        {"resnet20": [_history(3, 0), _history(3, 1)], "resnet56": [_history(1, 2)]},
        d / "curves.svg",
        d / "curves.png",
        note=STAMP,
    )
    error_vs_params(
        [
            {
                "model": "resnet20",
                "params": 269722,
                "test_error_mean": 9.1,
                "test_error_std": 0.3,
                "paper_params": None,
                "paper_test_error": 8.75,
            },
            {
                "model": "resnet56",
                "params": 853018,
                "test_error_mean": 7.3,
                "test_error_std": None,
                "paper_params": None,
                "paper_test_error": 6.97,
            },
        ],
        d / "err.svg",
        d / "err.png",
        note=STAMP,
    )
    return {"curves": d / "curves.svg", "err": d / "err.svg"}


def make_context(figs: dict[str, Path], stamp: str | None = STAMP) -> dict:
    return {
        "title": "Reproduction of Arslan, Zhang & Hossein (2025) on CIFAR-10",
        "run": "quick",
        "stamp": stamp,
        "summary": ["We retrained four networks for one epoch.", "Probe: " + " ".join(INJECTIONS)],
        "sections": [
            {
                "title": "Methodology",
                "paragraphs": ["SGD with momentum 0.9.", "Two seeds per model."],
            },
            {"title": "Probe #set page(fill: red)", "paragraphs": INJECTIONS},
        ],
        "definitions": [
            {"term": "Test error", "text": "100 % minus top-1 accuracy."},
            {"term": "*Gap*", "text": "ours minus the paper's, $in points$."},
        ],
        "tables": [
            {
                "id": "table1",
                "title": "Table 1: Test accuracy (%), mean ± std over seeds",
                "columns": ["Model", "Params (M)", "Paper", "Ours", "Gap", "Epochs"],
                "rows": [
                    ["ResNet-18", "11.17", "94.5", "23.1 ± 1.2", "−71.4", "1"],
                    ["ResNet-34", "21.28", "95.1", "21.0 ± 0.8", "−74.1", "1"],
                    ["VGG-16", "14.73", "—", "25.3 ± 0.4", "—", "1"],
                    ["<script>", "#set page(fill: red)", "*bold*", '"); ', "$x$", "\\"],
                ],
                "notes": ["Gap is ours minus the paper's."],
            },
            {
                "id": "table2",
                "title": "Table 2: Throughput",
                "columns": ["Model", "Images/s"],
                "rows": [["resnet20", "23,114"], ["resnet110", "5,021"]],
            },
        ],
        "figures": [
            {"id": "curves", "svg": str(figs["curves"]), "png": "", "caption": "Training curves."},
            {
                "id": "err",
                "svg": str(figs["err"]),
                "png": "",
                "caption": "Test error vs parameters.",
            },
        ],
        "provenance": [
            {"key": "git commit", "value": "0123456789abcdef" * 2 + "01234567"},
            {"key": "dataset sha256", "value": "141f061ffa2f5e41adf9f7f13f2b4024" * 2},
        ],
    }


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("\u200b", "")).strip()


def pdf_pages(path: Path) -> list[str]:
    return [_norm(p.extract_text() or "") for p in pypdf.PdfReader(str(path)).pages]


@pytest.fixture(scope="module")
def rendered(figs, tmp_path_factory):
    d = tmp_path_factory.mktemp("out")
    ctx = make_context(figs)
    render(ctx, d / "report.pdf", d / "report.html")
    return ctx, d / "report.pdf", d / "report.html"


def test_pdf_contains_every_table_value(rendered):
    ctx, pdf, _ = rendered
    assert pdf.read_bytes().startswith(b"%PDF")
    text = " ".join(pdf_pages(pdf))
    for t in ctx["tables"]:
        assert _norm(t["title"]) in text
        for c in t["columns"]:
            assert _norm(c) in text, c
        for row in t["rows"]:
            for cell in row:
                assert _norm(cell) in text, cell
        for n in t.get("notes", []):
            assert _norm(n) in text
    for p in ctx["summary"][:1] + ctx["sections"][0]["paragraphs"]:
        assert _norm(p) in text
    assert "Training curves." in text and "Test error vs parameters." in text
    assert "git commit" in text and "0123456789abcdef" in text


def test_stamp_on_first_page_and_every_header(rendered):
    _, pdf, html = rendered
    pages = pdf_pages(pdf)
    assert len(pages) >= 2
    assert pages[0].count(STAMP) >= 2  # header + the box under the title
    for p in pages:
        assert STAMP in p
    h = html.read_text(encoding="utf-8")
    assert re.search(r'<div class="banner"[^>]*>' + re.escape(STAMP) + "</div>", h)


def test_injection_strings_are_literal_text(rendered):
    _, pdf, html = rendered
    text = " ".join(pdf_pages(pdf))
    # Had any been interpreted as markup, its syntax characters would be gone from the text.
    for s in INJECTIONS:
        assert _norm(s) in text, s
    assert "Probe #set page(fill: red)" in text  # a heading made from data
    assert "*Gap*" in text and "$in points$" in text
    # nothing was drawn in typst's `red` (what `#set page(fill: red)` or `text(fill: red)` would do)
    assert not _uses_typst_red(pdf.read_bytes())
    h = html.read_text(encoding="utf-8")
    assert "<script" not in h
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert "#set page(fill: red)" in h


def _uses_typst_red(pdf_bytes: bytes) -> bool:
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    return any(
        re.search(rb"1 0\.2549\d* 0\.2117\d* (scn|rg|sc)\b", page.get_contents().get_data()) for page in reader.pages
    )


def test_red_detector_positive_control():
    import typst

    assert _uses_typst_red(typst.compile(b"#set page(fill: red)\nhi", format="pdf"))
    assert _uses_typst_red(typst.compile(b"#text(fill: red)[hi]", format="pdf"))
    assert not _uses_typst_red(typst.compile(b"hi", format="pdf"))


def test_html_self_contained(rendered):
    ctx, _, html = rendered
    h = html.read_text(encoding="utf-8")
    assert h.startswith("<!DOCTYPE html>")
    assert h.count("<svg") == 2 and "<style>" in h
    assert not re.search(r'\s(src|href)="(?!#)', h)  # nothing loaded from elsewhere
    ids = re.findall(r'\sid="([^"]+)"', h)
    assert len(ids) == len(set(ids))  # figure ids were prefixed, no clashes
    for ref in re.findall(r'(?:href="|url\()#([^")]+)', h):
        assert ref in ids
    for t in ctx["tables"]:
        assert f'id="{t["id"]}"' in h
    assert "Table 1: Test accuracy (%), mean ± std over seeds" in h
    assert ">23.1 ± 1.2</td>" in h
    assert '<td class="al-right">23,114</td>' in h  # numeric column right-aligned


def test_rerender_is_byte_identical(rendered, figs, tmp_path, monkeypatch):
    ctx, pdf, html = rendered
    monkeypatch.chdir(tmp_path)
    render(copy.deepcopy(ctx), tmp_path / "again.pdf", tmp_path / "again.html")
    assert (tmp_path / "again.pdf").read_bytes() == pdf.read_bytes()
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == html.read_text(encoding="utf-8")


def test_no_stamp_and_minimal_context(figs, tmp_path):
    ctx = {"title": "Minimal", "stamp": None}
    render(ctx, tmp_path / "m.pdf", tmp_path / "m.html")
    assert "Minimal" in " ".join(pdf_pages(tmp_path / "m.pdf"))
    full = make_context(figs, stamp=None)
    render(full, tmp_path / "f.pdf", tmp_path / "f.html")
    assert STAMP not in " ".join(pdf_pages(tmp_path / "f.pdf"))
    assert 'class="banner"' not in (tmp_path / "f.html").read_text(encoding="utf-8")


def test_relative_figure_paths_use_root(figs, tmp_path):
    ctx = make_context(figs)
    for f in ctx["figures"]:
        f["svg"] = Path(f["svg"]).name
    render(ctx, tmp_path / "r.pdf", tmp_path / "r.html", root=figs["curves"].parent)
    assert (tmp_path / "r.pdf").stat().st_size > 1000


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_missing_figure_raises_naming_file(figs, tmp_path):
    ctx = make_context(figs)
    missing = tmp_path / "nowhere" / "fig.svg"
    ctx["figures"][1]["svg"] = str(missing)
    out = tmp_path / "out"
    with pytest.raises(ResreproError, match=re.escape(str(missing))):
        render(ctx, out / "r.pdf", out / "r.html")
    assert _outputs(out) == []


def test_figure_that_typst_cannot_read_raises(figs, tmp_path):
    bad = tmp_path / "bad.svg"
    bad.write_text("<svg xmlns='http://www.w3.org/2000/svg' width='10pt' height='10pt'><g>", encoding="utf-8")
    ctx = make_context(figs)
    ctx["figures"][0]["svg"] = str(bad)
    out = tmp_path / "out"
    with pytest.raises(ResreproError, match="bad.svg"):
        render(ctx, out / "r.pdf", out / "r.html")
    assert _outputs(out) == []


def _template_copy(tmp_path: Path, monkeypatch, name: str, edit) -> None:
    tdir = tmp_path / "templates"
    shutil.copytree(report.TEMPLATE_DIR, tdir)
    p = tdir / name
    p.write_text(edit(p.read_text(encoding="utf-8")), encoding="utf-8")
    monkeypatch.setattr(report, "TEMPLATE_DIR", tdir)


@pytest.mark.parametrize(
    "name, edit, match",
    [
        ("report.typ.j2", lambda s: s + "\n{% if %}\n", "syntax error"),
        ("report.html.j2", lambda s: s.replace("{% endfor %}", "", 1), "syntax error"),
        ("report.typ.j2", lambda s: s + "\n#let = (\n", "Typst could not compile"),
        ("report.typ.j2", lambda s: s + "\n{{ title }}\n", "typst_str"),
        ("report.typ.j2", lambda s: s + "\n{{ no_such_value|typst_str }}\n", "undefined"),
    ],
)
def test_broken_template_fails_loudly_and_writes_nothing(figs, tmp_path, monkeypatch, name, edit, match):
    _template_copy(tmp_path, monkeypatch, name, edit)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ResreproError, match=match):
        render(make_context(figs), out / "r.pdf", out / "r.html")
    assert _outputs(out) == []


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda c: c.pop("title"), "title"),
        (lambda c: c["tables"][0]["rows"].append(["too", "short"]), "row 5 has 2 cells"),
        (lambda c: c["tables"].append(dict(c["tables"][0])), "two tables"),
        (lambda c: c.__setitem__("stamp", 3), "stamp"),
        (lambda c: c["figures"][0].pop("svg"), "svg"),
    ],
)
def test_bad_context(figs, tmp_path, mutate, match):
    ctx = make_context(figs)
    mutate(ctx)
    with pytest.raises(ResreproError, match=match):
        render(ctx, tmp_path / "r.pdf", tmp_path / "r.html")
    assert _outputs(tmp_path) == []


def test_typst_str_escapes():
    assert typst_str('a"b\\c') == '"a\\"b\\\\c"'
    assert typst_str("x\ny\r\tz") == '"x\\ny\\r\\tz"'
    assert typst_str("\x00\x1b\u2028") == '"\\u{0}\\u{1b}\\u{2028}"'
    assert typst_str(None) == '""'
    assert typst_str(1.5) == '"1.5"'
    assert typst_str("#set page(fill: red) *b* $x$") == '"#set page(fill: red) *b* $x$"'


def test_typst_str_roundtrips_through_typst():
    import typst

    probe = "".join(chr(c) for c in range(1, 200)) + ' "); \\ \u2028 ±−'
    out = typst.compile(f"#metadata({typst_str(probe)}) <v>".encode(), format="pdf")
    assert out.startswith(b"%PDF")
    got = typst.query(f"#metadata({typst_str(probe)}) <v>".encode(), "<v>", field="value", one=True)
    import json

    assert json.loads(got) == probe


TABLE = {
    "id": "t",
    "title": "Table 9: 100% & more_{x}",
    "columns": ["Model", "Acc. (%)", "Gap"],
    "rows": [
        ["res_net#1", "23.1 ± 1.2", "−71.4"],
        ["a&b {c} ~ ^ \\ $", "9", "—"],
        ['quote "x", comma', "1", "2"],
    ],
    "notes": ["note with 50%"],
}


def test_table_to_csv_roundtrip():
    text = table_to_csv(TABLE)
    assert list(csv.reader(io.StringIO(text))) == [TABLE["columns"]] + TABLE["rows"]
    assert text.endswith("\n") and "\r" not in text


def test_table_to_latex_escapes_and_booktabs():
    tex = table_to_latex(TABLE)
    assert "\\begin{tabular}{lrr}" in tex
    assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule")
    assert "res\\_net\\#1" in tex
    assert "a\\&b \\{c\\} \\textasciitilde{} \\textasciicircum{} \\textbackslash{} \\$" in tex
    assert "23.1 \\ensuremath{\\pm} 1.2" in tex and "\\ensuremath{-}71.4" in tex
    assert "% Table 9: 100\\% \\& more\\_\\{x\\}" in tex
    body = [ln for ln in tex.splitlines() if not ln.startswith("%")]
    # no unescaped specials left in the tabular body
    for ln in body:
        stripped = re.sub(
            r"\\(textbackslash|textasciitilde|textasciicircum|ensuremath|begin|end|"
            r"toprule|midrule|bottomrule|pm)\b|\\[&%$#_{}]|\\\\",
            "",
            ln,
        )
        assert not re.search(r"[%$#_~^\\]", stripped), ln


def test_table_helpers_reject_ragged_rows():
    with pytest.raises(ResreproError, match="row 1"):
        table_to_csv({"id": "x", "columns": ["a", "b"], "rows": [["1"]]})


# --------------------------------------------------------------------------------------------
# the report of a run, from a fixture of result files (no training)

from test_claims import COUNTS  # noqa: E402  (exact parameter counts)

RUN_MODELS, RUN_SEEDS = ("resnet18", "resnet110", "vgg16"), (0, 1)
RUN_DATE = "2027-01-15"  # the run's date in provenance.json: the report's title block shows it


def _spec(stamp=STAMP):
    return {
        "run": "fixture",
        "stamp": stamp,
        "models": list(RUN_MODELS),
        "seeds": list(RUN_SEEDS),
        "tolerance": 0.01,
        "data": {
            "cache_dir": "data",
            "val_size": 5000,
            "split_seed": 0,
            "train_subset": 1000,
            "val_subset": 500,
            "test_subset": 1000,
        },
        "train": {
            "epochs": 3,
            "batch_size": 128,
            "momentum": 0.9,
            "nesterov": False,
            "lr": 0.1,
            "schedule": "cosine",
            "milestones": [],
            "gamma": 0.1,
            "weight_decay": 5e-4,
            "label_smoothing": 0.0,
            "crop_padding": 4,
            "flip": True,
        },
        "overrides": {"resnet110": {"warmup_epochs": 1}},
    }


def make_run_results(root: Path, stamp=STAMP) -> dict:
    """A complete results/<run>/ folder up to the report stage, from synthetic numbers."""
    import yaml

    from resrepro import analysis, claims, evaluate, figures
    from resrepro.io import write_json

    rng = np.random.default_rng(0)
    spec = _spec(stamp)
    write_json(
        root / "models.json",
        [
            {"model": m, "params": COUNTS[m]["cifar10"], "flops_per_image": 2 * (i + 1) * 10**8}
            for i, m in enumerate(RUN_MODELS)
        ],
    )
    for m in RUN_MODELS:
        for s in RUN_SEEDS:
            y = np.repeat(np.arange(10), 100)
            pred = np.where(rng.random(1000) < 0.6 + 0.05 * s, y, rng.integers(0, 10, 1000))
            write_json(root / "eval" / m / f"seed{s}" / "metrics.json", {"model": m, **evaluate.metrics(y, pred)})
            (root / "train" / m / f"seed{s}").mkdir(parents=True, exist_ok=True)
            _history(3, s).to_csv(root / "train" / m / f"seed{s}" / "history.csv", index=False)
            write_json(
                root / "train" / m / f"seed{s}" / "train.json",
                {
                    "images_per_second": 1000.0,
                    "device_name": "Fixture GPU",
                    "train_images": 1000,
                    "val_images": 500,
                    "precision": "bf16",
                    "job_wall_seconds": 12.5,
                    "total_train_seconds": 9.0,
                },
            )
    write_json(
        root / "provenance.json",
        {
            "git": {"commit": "0" * 40, "dirty": False},
            "date": RUN_DATE,
            "config_digest": "f" * 64,
            "config": {"run": "fixture"},
            "versions": {"python": "3.11"},
            "platform": "Linux",
            "cpu": "Fixture CPU",
            "gpus": ["Fixture GPU"],
            "data": {
                "source": {"kind": "path", "location": "/data/cifar.tar.gz", "sha256": "a" * 64},
                "verified": {"full_size": True, "checked": ["counts"]},
                "prepared": {"sha256": "b" * 64},
            },
        },
    )
    paper = load_paper(REPO / "reports" / "paper.yaml")
    text_claims = claims.load_claims(REPO / "reports" / "claims.yaml")
    measured = analysis.collect(root, list(RUN_MODELS), list(RUN_SEEDS), 0.01)
    tables = analysis.build_tables(measured, paper, list(RUN_SEEDS), 0.01, stamp)
    tables.append(
        analysis.build_context_table(
            measured,
            paper,
            claims.text_values(text_claims),
            load_context(REPO / "reports" / "context.yaml"),
            stamp,
        )
    )
    write_json(root / "tables" / "measured.json", measured)
    analysis.write_tables(tables, root / "tables")
    write_json(
        root / "claims.json",
        claims.audit(
            text_claims,
            yaml.safe_load((REPO / "reports" / "paper.yaml").read_text()),
            measured,
            COUNTS,
            spec,
            margins=claims.load_margins(REPO / "reports" / "claims.yaml"),
        ),
    )
    figures.from_results(root, paper, claims.text_values(text_claims), spec, root / "figures")
    # Snakemake's record of one job, as .snakemake/metadata holds it
    import base64
    import json

    meta = root / ".snakemake" / "metadata"
    meta.mkdir(parents=True)
    key = base64.urlsafe_b64encode(f"{root}/claims.json".encode()).decode()
    (meta / key).write_text(
        json.dumps({"rule": "claims", "starttime": 1_800_000_000.0, "endtime": 1_800_000_004.25, "incomplete": False})
    )
    return spec


@pytest.fixture(scope="module")
def run_report(tmp_path_factory):
    return render_run(tmp_path_factory)


def render_run(tmp_path_factory):
    """A fixture run's results, its report context and its rendered report: (results, spec, context, folder)."""
    root = tmp_path_factory.mktemp("results") / "fixture"
    root.mkdir()
    spec = make_run_results(root)
    ctx = report.build_context(root, spec, snakemake_dir=root / ".snakemake", references=REFERENCES)
    out = tmp_path_factory.mktemp("report")
    render(ctx, out / "report.pdf", out / "report.html")
    return root, spec, ctx, out


# The report's headings in reading order, as an MLRC / ReScience report has them (numbered, then appendices).
SECTION_ORDER = (
    "1. Summary",
    "2. Scope of reproducibility",
    "3. Methodology",
    "4. Results",
    "5. Claims audit",
    "6. Results beyond the paper",
    "6.1 Selection bias: what test-set selection adds",
    "7. Discussion",
    "8. Deviations from the paper",
    "9. References of the paper",
    "10. References",
    "Appendix A: the evidence for each claim",
    "Appendix B: how far macro precision and F1 can fall below accuracy",
    "Appendix C: provenance and compute",
)


def test_run_report_has_every_table_and_every_claim_with_its_verdict(run_report):
    import json

    root, _, ctx, out = run_report
    text = " ".join(pdf_pages(out / "report.pdf"))
    audit = json.loads((root / "claims.json").read_text())
    assert len(audit["claims"]) == n_claims()
    for t in ctx["tables"]:  # a table printed in parts (Table 1a, 1b) shows each part's title
        for title in [p["title"] for p in t.get("parts") or []] or [t["title"]]:
            assert _norm(title) in text, title
    for title in ("Table 1", "Table 2", "Table 3", "Table 4", "Table 5", "Table A1", "Table R1"):
        assert title in text
    for c in audit["claims"]:
        assert f"{c['id']} {c['verdict']}" in text, c["id"]
    for heading in SECTION_ORDER:
        assert heading in text, heading
    for term in ("Epochs to convergence", "Precision, recall, F1 (macro)", "An ordering is reproduced", "95 % CI"):
        assert term in text
    runtimes = next(t for t in ctx["tables"] if t["id"] == "runtimes")
    assert next(r for r in runtimes["rows"] if r[0] == "claims")[2:4] == [
        "2027-01-15 08:00:00",
        "4.2",
    ]  # Snakemake's record
    assert "2027-01-15 08:00:00" in text
    assert "TEST set" in text and "He et al. 2016" in text
    assert text.count(STAMP) >= len(pdf_pages(out / "report.pdf"))
    h = (out / "report.html").read_text(encoding="utf-8")
    assert h.count("<svg") == 6 and 'id="claim-T1.resnet18.recall"' in h
    assert "inconsistent as stated" in h and 'class="verdict' in h


def test_paper_labels_only_the_papers_own_words(run_report):
    """'Paper:' stands before the verbatim quote alone; our formalisation is labelled as ours."""
    import html as html_lib
    import json

    root, _, _, out = run_report
    audit = json.loads((root / "claims.json").read_text())
    page = html_lib.unescape((out / "report.html").read_text(encoding="utf-8"))
    labelled = re.findall(r"<b>Paper:</b> \u201c(.*?)\u201d</blockquote>", page, re.S)
    assert labelled == [c["quote"] for c in audit["claims"]]
    assert page.count("<b>As we test it:</b>") == len(audit["claims"])
    assert "<b>Paper:</b>" not in page.replace("<blockquote><b>Paper:</b>", "")


def test_each_claim_shows_its_robustness_and_its_readings(run_report):
    """A claim whose readings disagree, or that rests on our choice, says so; its readings table lists each."""
    import html as html_lib
    import json

    root, _, _, out = run_report
    audit = json.loads((root / "claims.json").read_text())
    page = html_lib.unescape((out / "report.html").read_text(encoding="utf-8"))
    for c in audit["claims"]:
        block = page[page.index(f'id="claim-{c["id"]}"') :].split('<div class="claim ', 1)[0]
        assert ("Robust:" in block) == c["robust"], c["id"]
        for d in c["depends_on"]:
            assert f"rests on our choice of {d}" in block or d in block, c["id"]
        if len(c["readings"]) > 1:
            for r in c["readings"]:
                assert f"<td>{r['name']}</td>" in block, (c["id"], r["name"])
    assert any(not c["robust"] for c in audit["claims"]), "the fixture has claims that rest on a choice"


def test_run_report_rerender_is_byte_identical(run_report, tmp_path):
    root, spec, _, out = run_report
    ctx = report.build_context(root, spec, snakemake_dir=root / ".snakemake", references=REFERENCES)
    render(ctx, tmp_path / "again.pdf", tmp_path / "again.html")
    assert (tmp_path / "again.pdf").read_bytes() == (out / "report.pdf").read_bytes()
    assert (tmp_path / "again.html").read_bytes() == (out / "report.html").read_bytes()


def test_run_report_table_files(run_report, tmp_path):
    _, _, ctx, _ = run_report
    written = report.write_table_files(ctx, tmp_path)
    assert sorted(p.name for p in written) == sorted(
        [f"{t}.{e}" for t in outputs.table_ids("tables", "report") for e in ("tex", "csv")]
        + outputs.data_csvs("tables", "report")
    )
    assert "\\multicolumn{3}{c}{Accuracy (\\%)}" in (tmp_path / "table1.tex").read_text()
    tex = (tmp_path / "claims.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "T1.resnet18.recall" in tex
    rows = list(csv.reader(io.StringIO((tmp_path / "claims.csv").read_text())))
    assert rows[0] == ["Claim", "Family", "The claim as we test it (our wording, shortened)", "Verdict"]
    assert len(rows) == n_claims() + 1


# a display cell that pandas would read as text although it is a number: "1.2 \u00b1 0.3", "\u22121.5", "1,234", "5 %"
_DISPLAY_NUMBER = re.compile(r"^[+\-\u2212]?\d[\d,]*(\.\d+)?(\s*\u00b1.*|\s*\(\d+\)|\s*%)?$")


def test_every_numeric_csv_of_a_run_reads_as_numbers(run_report, tmp_path):
    """The numeric CSVs of the tables and report stages: numbers are float/int columns, nothing is display text."""
    root, _, ctx, _ = run_report
    report.write_table_files(ctx, tmp_path)
    files = [root / "tables" / f for f in outputs.data_csvs("tables")] + [
        tmp_path / f for f in outputs.data_csvs("tables", "report")
    ]
    for f in files:
        data = pd.read_csv(f)
        for col in data.columns:
            if data[col].dtype.kind in "fiub":
                continue
            cells = [str(v) for v in data[col].dropna()]
            shown = [c for c in cells if _DISPLAY_NUMBER.match(c) or "\u00b1" in c or "\u2212" in c]
            assert not shown, f"{f.name}: column {col!r} holds display numbers or signs: {shown[:3]}"
        numeric = [c for c in data.columns if c.endswith(("_mean", "_sd", "_n", "_diff"))]
        assert all(data[c].dtype.kind in "fi" for c in numeric), (f.name, data[numeric].dtypes.to_dict())
    table1 = pd.read_csv(root / "tables" / outputs.data_csv("table1"))
    assert table1["accuracy_mean"].dtype == float and table1["accuracy_n"].dtype.kind == "i"
    assert table1["accuracy_paper"].dtype == float and table1["model"].tolist() == ["ResNet-18", "ResNet-110", "VGG-16"]
    runtimes = pd.read_csv(tmp_path / outputs.data_csv("runtimes"))
    assert runtimes["wall_s"].dtype == float, "a derived numeric CSV: the display's thousands separators go"


def test_run_report_fails_loudly_on_a_missing_figure(run_report, tmp_path):
    root, spec, _, _ = run_report
    ctx = report.build_context(root, spec, snakemake_dir=root / ".snakemake", references=REFERENCES)
    ctx["figures"][-1]["svg"] = str(root / "figures" / "gone.svg")
    with pytest.raises(ResreproError, match="gone.svg"):
        render(ctx, tmp_path / "r.pdf", tmp_path / "r.html")
    assert _outputs(tmp_path) == []


def test_unknown_verdict_or_width_is_refused(figs, tmp_path):
    ctx = make_context(figs)
    ctx["claims"] = [{"id": "x", "verdict": "probably", "checks": []}]
    with pytest.raises(ResreproError, match="probably"):
        render(ctx, tmp_path / "r.pdf", tmp_path / "r.html")
    ctx = make_context(figs)
    ctx["tables"][1]["widths"] = ["auto", "1fr); #set page(fill: red"]
    with pytest.raises(ResreproError, match="widths"):
        render(ctx, tmp_path / "r.pdf", tmp_path / "r.html")
    ctx = make_context(figs)
    ctx["sections"].append({"title": "Bad", "tables": ["nope"]})
    with pytest.raises(ResreproError, match="nope"):
        render(ctx, tmp_path / "r.pdf", tmp_path / "r.html")
    assert _outputs(tmp_path) == []


def test_claim_text_cannot_inject_markup(figs, tmp_path):
    ctx = make_context(figs)
    ctx["claims"] = [
        {
            "id": s,
            "verdict": "not testable",
            "quote": s,
            "paper": s,
            "ours": s,
            "location": s,
            "checks": [{"kind": s, "outcome": s, "reason": s}],
        }
        for s in INJECTIONS
    ]
    render(ctx, tmp_path / "r.pdf", tmp_path / "r.html")
    text = " ".join(pdf_pages(tmp_path / "r.pdf"))
    for s in INJECTIONS:
        assert _norm(s) in text
    assert not _uses_typst_red((tmp_path / "r.pdf").read_bytes())
    assert "<script>" not in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_grouped_table_prints_in_parts_that_repeat_its_lead_column():
    from resrepro.report.document import Table

    grouped = {
        "id": "t1",
        "title": "Table 1",
        "columns": ["Model", "Paper", "Ours", "Gap", "Paper", "Ours", "Gap"],
        "groups": [{"title": "Accuracy", "span": 3}, {"title": "F1", "span": 3}],
        "parts": [{"title": "Table 1a", "groups": 1}, {"title": "Table 1b", "groups": 1}],
        "rows": [["ResNet-18", "1", "2", "3", "4", "5", "6"]],
        "notes": ["a note"],
    }
    a, b = Table.from_mapping(grouped, 0).pieces()
    assert (a.id, a.title, a.columns, a.notes) == ("t1", "Table 1a", ["Model", "Paper", "Ours", "Gap"], [])
    assert (b.id, b.rows, b.notes, b.groups) == (
        "t1-2",
        [["ResNet-18", "4", "5", "6"]],
        ["a note"],
        [grouped["groups"][1]],
    )
    assert "\\multicolumn{3}{c}{F1}" in table_to_latex(grouped) and "\\cmidrule(lr){5-7}" in table_to_latex(grouped)
    assert (
        table_to_csv(grouped).splitlines()[0]
        == "Model,Accuracy: Paper,Accuracy: Ours,Accuracy: Gap,F1: Paper,F1: Ours,F1: Gap"
    )
    with pytest.raises(ResreproError, match="parts"):
        Table.from_mapping({**grouped, "parts": [{"title": "only one", "groups": 1}]}, 0)
    with pytest.raises(ResreproError, match="lead"):
        Table.from_mapping({**grouped, "groups": [{"title": "all", "span": 7}], "parts": []}, 0)
