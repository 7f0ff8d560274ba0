"""The compute of a run from Snakemake's benchmark files (resrepro.compute): per-job rows, totals, what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resrepro import ResreproError, compute, outputs

MODELS, SEEDS = ["resnet20", "resnet18"], [0, 1]


def write_benchmark(results: Path, job: compute.Job, *rows: tuple) -> Path:
    """A benchmark TSV as Snakemake writes it: its header, then (s, max_rss, cpu_time) per repeat; None is NA."""
    path = results / job.benchmark
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(compute.HEADER)]
    for s, rss, cpu in rows:
        na = lambda x: "NA" if x is None else f"{x:.2f}"  # noqa: E731
        lines.append("\t".join([f"{s:.4f}", "0:00:01", na(rss), na(rss), na(rss), na(rss), "0", "0", "0.5", na(cpu)]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_train(results: Path, model: str, seed: int, device: str, resumed: int = 0, epoch_s=(10.0, 20.0, 30.0)):
    folder = results / "train" / model / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    summary = {
        "device": device,
        "device_name": "Fixture GPU" if device == "cuda" else "Fixture CPU",
        "resumed_after_epoch": resumed,
        "job_wall_seconds": 99.0,
        "total_train_seconds": sum(epoch_s),
        "gpu_peak_memory_mib": 2048.0 if device == "cuda" else None,
    }
    (folder / "train.json").write_text(json.dumps(summary), encoding="utf-8")
    rows = "\n".join(f"{i + 1},{t}" for i, t in enumerate(epoch_s))
    (folder / "history.csv").write_text(f"epoch,epoch_seconds\n{rows}\n", encoding="utf-8")


def test_the_jobs_are_every_rule_before_the_report_and_their_files_follow_the_declared_scheme():
    jobs = compute.jobs(MODELS, SEEDS, study=True)
    assert [j.rule for j in jobs].count("train") == 4 and [j.rule for j in jobs].count("evaluate") == 4
    assert {j.rule for j in jobs} == {
        "prepare_data", "model_info", "train", "evaluate", "tables", "provenance", "figures", "degradation", "claims"
    }  # fmt: skip
    assert "report" not in {j.rule for j in jobs} and "degradation" not in {j.rule for j in compute.jobs(MODELS, SEEDS)}
    train = next(j for j in jobs if j.rule == "train")
    assert train.benchmark == outputs.benchmark_file("train", "resnet20", 0) == "benchmarks/train/resnet20-seed0.tsv"
    assert train.label == "train ResNet-20 seed 0"
    assert jobs[0].benchmark == "benchmarks/prepare_data.tsv"


def test_a_benchmark_file_is_read_with_repeats_summed_and_na_as_none(tmp_path):
    job = compute.Job("tables")
    write_benchmark(tmp_path, job, (2.0, 100.0, 1.5), (3.0, 150.0, 2.5))
    assert compute.read_benchmark(tmp_path / job.benchmark) == {
        "wall_s": 5.0,
        "cpu_s": 4.0,
        "max_rss_mib": 150.0,
        "repeats": 2,
    }
    write_benchmark(tmp_path, job, (0.4, None, None))  # a job faster than the first sample
    assert compute.read_benchmark(tmp_path / job.benchmark) == {
        "wall_s": 0.4,
        "cpu_s": None,
        "max_rss_mib": None,
        "repeats": 1,
    }
    assert compute.read_benchmark(tmp_path / "absent.tsv") is None


def test_a_file_that_is_not_a_benchmark_is_refused_with_the_fix(tmp_path):
    (tmp_path / "b.tsv").write_text("wall\tmem\n1\t2\n", encoding="utf-8")
    with pytest.raises(ResreproError, match="not a Snakemake benchmark.*re-run the job"):
        compute.read_benchmark(tmp_path / "b.tsv")
    (tmp_path / "c.tsv").write_text("\t".join(compute.HEADER) + "\n" + "\t".join(["x"] * 10) + "\n")
    with pytest.raises(ResreproError, match="s is 'x', not a number"):
        compute.read_benchmark(tmp_path / "c.tsv")


def test_totals_count_gpu_hours_for_gpu_training_only_and_cpu_hours_for_every_job(tmp_path):
    for job in compute.jobs(MODELS, SEEDS):
        if job.rule == "train":
            gpu = job.model == "resnet18"
            write_train(tmp_path, job.model, job.seed, "cuda" if gpu else "cpu")
            write_benchmark(tmp_path, job, (1800.0 if gpu else 600.0, 4000.0, 900.0))
        else:
            write_benchmark(tmp_path, job, (36.0, 500.0, 18.0))
    usage = compute.collect(tmp_path, MODELS, SEEDS)
    t = usage["totals"]
    n_other = len(compute.jobs(MODELS, SEEDS)) - 4
    assert t["jobs"] == t["recorded"] == n_other + 4 and t["not_recorded"] == []
    assert t["gpu_hours"] == pytest.approx(2 * 1800 / 3600)  # two resnet18 jobs on the GPU; CPU jobs add none
    assert t["cpu_hours"] == pytest.approx((4 * 900 + n_other * 18) / 3600)
    assert t["wall_s"] == pytest.approx(2 * 1800 + 2 * 600 + n_other * 36)
    assert t["peak_rss_mib"] == 4000.0 and t["peak_rss_job"].startswith("train ")
    assert t["gpu_peak_memory_mib"] == 2048.0 and t["devices"] == ["Fixture CPU", "Fixture GPU"]
    assert t["resumed"] == [] and t["earlier_attempt_s"] == 0.0
    row = next(r for r in usage["jobs"] if r["job"] == "train ResNet-18 seed 1")
    assert row["gpu"] and row["device"] == "Fixture GPU" and row["own"]["job_wall_seconds"] == 99.0


def test_a_missing_benchmark_is_not_recorded_and_left_out_of_the_totals(tmp_path):
    jobs = compute.jobs(MODELS, SEEDS)
    write_benchmark(tmp_path, jobs[0], (10.0, 50.0, 5.0))
    usage = compute.collect(tmp_path, MODELS, SEEDS)  # no train.json either: nothing crashes
    t = usage["totals"]
    assert t["recorded"] == 1 and len(t["not_recorded"]) == len(jobs) - 1 and "claims" in t["not_recorded"]
    assert t["wall_s"] == 10.0 and t["gpu_hours"] == 0.0 and t["cpu_hours"] == pytest.approx(5 / 3600)
    assert [r["recorded"] for r in usage["jobs"]].count(True) == 1
    assert all(r["wall_s"] is None for r in usage["jobs"][1:])


def test_a_resumed_training_job_shows_its_earlier_attempt_and_adds_its_epochs_to_the_gpu_hours(tmp_path):
    """A retry's benchmark holds only its last attempt; the epochs done before it are in history.csv."""
    write_train(tmp_path, "resnet20", 0, "cuda", resumed=2, epoch_s=(100.0, 200.0, 300.0))
    write_benchmark(tmp_path, compute.Job("train", "resnet20", 0), (360.0, 3000.0, 400.0))
    usage = compute.collect(tmp_path, ["resnet20"], [0])
    t = usage["totals"]
    assert t["resumed"] == [{"job": "train ResNet-20 seed 0", "after_epoch": 2}]
    assert t["earlier_attempt_s"] == 300.0  # the first two epochs
    assert t["gpu_hours"] == pytest.approx((360.0 + 300.0) / 3600)
    assert t["cpu_hours"] == pytest.approx(400.0 / 3600)  # an earlier attempt's CPU time is unknown
