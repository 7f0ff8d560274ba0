"""The compute a run used, from Snakemake's public interface: the benchmark file of every job.

Every rule has a ``benchmark:`` directive (path: :func:`resrepro.outputs.benchmark_file`). Snakemake writes
one TSV per job with a header ``s, h:m:s, max_rss, max_vms, max_uss, max_pss, io_in, io_out, mean_load,
cpu_time`` and one row per repeat: ``s`` the wall time (seconds), ``max_rss`` the peak resident memory of the
job's process tree (MiB), ``cpu_time`` its user + system CPU seconds, ``NA`` where nothing could be sampled.
Memory and CPU time are sampled (every 0.5 s for the first seconds, then every 30 s), so both are lower bounds.

What can be seen of failures: Snakemake writes a job's benchmark only when the job succeeds, and a retry
(``retries`` in profiles/slurm) overwrites it, so a benchmark holds the last, successful attempt. A training
job resumed from its checkpoint records the epochs done before (train.json ``resumed_after_epoch``) and keeps
their times in history.csv; for a GPU job those seconds are added to its GPU-hours as an earlier attempt. A failed
attempt's start-up and its unfinished epoch leave no record, and neither does a job that never succeeded.

GPU-hours: the wall time of training jobs whose train.json names a GPU device (their earlier attempts too).
CPU-hours: the CPU time of every job's recorded attempt (an earlier attempt's CPU time is not known).
Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from . import ResreproError, catalog, jobset, outputs
from .io import read_json

HEADER = ("s", "h:m:s", "max_rss", "max_vms", "max_uss", "max_pss", "io_in", "io_out", "mean_load", "cpu_time")


@dataclass(frozen=True)
class Job:
    rule: str
    model: str | None = None
    seed: int | None = None

    @property
    def benchmark(self) -> str:
        """Its benchmark file, relative to results/<run>/."""
        return outputs.benchmark_file(self.rule, self.model, self.seed)

    @property
    def label(self) -> str:
        return self.rule if self.model is None else f"{self.rule} {catalog.display(self.model)} seed {self.seed}"


def jobs(models: list[str], seeds: jobset.Seeds, study: bool = False) -> list[Job]:
    """Every job of a run before its report, in the order they run (the report cannot time itself); ``seeds``:
    one list, or per model (:func:`resrepro.jobset.seeds_for`)."""
    per_job = [Job(rule, m, s) for rule in ("train", "evaluate") for m, s in jobset.pairs(models, seeds)]
    after = ["tables", "provenance", "figures", *(["degradation"] if study else []), "claims"]
    return [Job("prepare_data"), Job("model_info"), *per_job, *(Job(r) for r in after)]


def _number(value: str, path: Path, column: str) -> float | None:
    if value in ("NA", "-", ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise ResreproError(
            f"benchmark file {str(path)!r}: {column} is {value!r}, not a number; delete the file and re-run the job"
        ) from None


def read_benchmark(path: str | Path) -> dict | None:
    """One benchmark file as {wall_s, cpu_s, max_rss_mib, repeats}: times summed over its repeats (the compute
    spent), the largest peak; None where not sampled. None when the file does not exist."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except FileNotFoundError:
        return None
    if not rows or any(c not in rows[0] for c in ("s", "max_rss", "cpu_time")):
        raise ResreproError(
            f"benchmark file {str(path)!r} is not a Snakemake benchmark (header {', '.join(HEADER)}); "
            "delete it and re-run the job"
        )

    def over_repeats(column: str, combine) -> float | None:
        values = [_number(r[column], path, column) for r in rows]
        return None if None in values else combine(values)

    return {
        "wall_s": over_repeats("s", math.fsum),
        "cpu_s": over_repeats("cpu_time", math.fsum),
        "max_rss_mib": over_repeats("max_rss", max),
        "repeats": len(rows),
    }


def _earlier_attempt_seconds(history: Path, resumed_after: int) -> float:
    """The training seconds of the epochs an earlier attempt completed (history.csv's first rows)."""
    if not resumed_after or not history.exists():
        return 0.0
    with open(history, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return math.fsum(float(r["epoch_seconds"]) for r in rows[:resumed_after])


def _row(results: Path, job: Job) -> dict:
    bench = read_benchmark(results / job.benchmark)
    row = {"job": job.label, "rule": job.rule, "file": job.benchmark, "recorded": bench is not None}
    row |= bench or {"wall_s": None, "cpu_s": None, "max_rss_mib": None, "repeats": 0}
    row |= {"device": None, "gpu": False, "resumed_after_epoch": 0, "earlier_attempt_s": 0.0, "own": None}
    if job.rule == "train":
        folder = results / "train" / job.model / f"seed{job.seed}"
        if (folder / "train.json").exists():
            t = read_json(folder / "train.json")
            resumed = int(t.get("resumed_after_epoch") or 0)
            row |= {
                "device": t.get("device_name"),
                "gpu": t.get("device", "cpu") != "cpu",
                "resumed_after_epoch": resumed,
                "earlier_attempt_s": _earlier_attempt_seconds(folder / "history.csv", resumed),
                "own": {k: t.get(k) for k in ("job_wall_seconds", "total_train_seconds", "gpu_peak_memory_mib")},
            }
    return row


def _sum(values) -> float:
    return math.fsum(v for v in values if v is not None)


def collect(
    results: str | Path, models: list[str], seeds: jobset.Seeds, study: bool = False, archived=(), only=False
) -> dict:
    """Per-job rows and the run's totals: {"jobs": [...], "totals": {...}} (see the module's docstring).

    ``archived``: the (model, seed) jobs restored from the shipped archive (resrepro.archive), whose training and
    evaluation were measured elsewhere: no benchmark file here, and none is missing (``archived`` rows, totals);
    ``only`` (archive.only): the data were prepared elsewhere too.
    """
    results = Path(results)
    elsewhere = {(m, int(s)) for m, s in archived} | ({(None, None)} if only else set())
    rows = [
        _row(results, j) | {"archived": (j.model, j.seed) in elsewhere and j.rule != "model_info"}
        for j in jobs(models, seeds, study)
    ]
    recorded = [r for r in rows if r["recorded"]]
    gpu_s = _sum(r["wall_s"] for r in recorded if r["gpu"]) + _sum(r["earlier_attempt_s"] for r in rows if r["gpu"])
    rss = [r["max_rss_mib"] for r in recorded if r["max_rss_mib"] is not None]
    gpu_mem = [r["own"]["gpu_peak_memory_mib"] for r in rows if r["own"] and r["own"]["gpu_peak_memory_mib"]]
    peak = max(recorded, key=lambda r: r["max_rss_mib"] or 0.0) if rss else None
    totals = {
        "jobs": len(rows),
        "recorded": len(recorded),
        "not_recorded": [r["job"] for r in rows if not r["recorded"] and not r["archived"]],
        "archived": [r["job"] for r in rows if r["archived"] and not r["recorded"]],
        "wall_s": _sum(r["wall_s"] for r in recorded),
        "cpu_s": _sum(r["cpu_s"] for r in recorded),
        "gpu_hours": gpu_s / 3600,
        "cpu_hours": _sum(r["cpu_s"] for r in recorded) / 3600,
        "peak_rss_mib": max(rss) if rss else None,
        "peak_rss_job": peak["job"] if peak else None,
        "gpu_peak_memory_mib": max(gpu_mem) if gpu_mem else None,
        "devices": sorted({r["device"] for r in rows if r["device"]}),
        "resumed": [{"job": r["job"], "after_epoch": n} for r in rows if (n := r["resumed_after_epoch"])],
        "earlier_attempt_s": _sum(r["earlier_attempt_s"] for r in rows),
        "repeated": [r["job"] for r in rows if r["repeats"] > 1],
    }
    return {"jobs": rows, "totals": totals}
