"""Provenance: what produced a run -- code, configuration, software, hardware and data."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path

PACKAGES = (
    "resrepro",
    "torch",
    "torchvision",
    "numpy",
    "pandas",
    "snakemake",
    "jinja2",
    "matplotlib",
    "typst",
    "jsonschema",
)


def git_state(repo: str | Path = ".") -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None, "note": "not a git checkout"}
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip() != ""
        return {"commit": head.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"commit": None, "dirty": None, "note": f"git unavailable: {e}"}


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    try:
        import torch

        return (
            [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if torch.cuda.is_available()
            else []
        )
    except Exception:  # noqa: BLE001 - provenance never fails a run
        return []


def jobs(summaries: list[dict]) -> list[dict]:
    """Per training job (its train.json): where it ran -- torch, CUDA, cuDNN, driver, GPU model and index -- and
    train.pack (None where an older train.json did not record it)."""
    keys = ("model", "seed", "device", "device_name", "pack", "environment")
    return [{k: s.get(k) for k in keys} for s in summaries]


def engines(job_list: list[dict]) -> list[str]:
    """The distinct GPU / driver / CUDA / cuDNN / torch of a run's trainings, with how many ran on each
    (the report's Appendix C)."""
    counts: dict[str, int] = {}
    for job in job_list:
        env = job.get("environment") or {}
        if not env:
            line = f"{job.get('device_name') or 'not recorded'} (no environment recorded)"
        else:
            hardware = env.get("gpu_model") or f"{job.get('device_name') or 'CPU'} (CPU)"
            driver = f", driver {env['driver']}" if env.get("driver") else ""
            cuda = f", CUDA {env['cuda']}" if env.get("cuda") and env.get("gpu_model") else ""
            cudnn = f", cuDNN {env['cudnn']}" if env.get("cudnn") else ""
            line = f"{hardware}{driver}{cuda}{cudnn}, torch {env.get('torch')}"
        counts[line] = counts.get(line, 0) + 1
    return [f"{line}: {n} training(s)" for line, n in counts.items()]


def collect(
    config: dict,
    data_manifest: dict | None = None,
    repo: str | Path = ".",
    claims: str | Path | None = None,
    summaries: list[dict] = (),
) -> dict:
    """What produced a run. ``claims``: reports/claims.yaml, whose pre-registered margins' SHA-256 is recorded;
    ``summaries``: the training jobs' train.json, whose environments are listed per job."""
    from .config import digest
    from .paper import load_margins

    margins = load_margins(claims) if claims else None
    return {
        "preregistered_margins": {"file": str(claims), "sha256": margins["sha256"]} if margins else None,
        "git": git_state(repo),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d"),  # the run's date (the report shows it)
        "config_digest": digest(config),
        "config": config,
        "versions": versions(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "gpus": gpu_names(),
        "jobs": jobs(list(summaries)),
        "data": data_manifest,
    }
