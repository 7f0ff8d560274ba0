"""GPUs: one training per GPU slot (real processes and real file locks, fake GPU names), and a GPU job without
CUDA failing at once with the fix (this machine has no GPU, so that failure is real, not mocked)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from archives import make_arrays, official_files, write_tar

from resrepro import config, errors, gpus, io, train

REPO = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)
# a stand-in training: takes a slot, says which GPU it got and how many share it, ends when told (stdin)
HOLDER = textwrap.dedent(
    """
    import os, sys
    from resrepro import gpus
    with gpus.slot(int(sys.argv[1])) as s:
        print("got", os.environ["CUDA_VISIBLE_DEVICES"], s.index, flush=True)
        for line in sys.stdin:
            if line.strip() == "share":
                print("sharing", gpus.sharing(), flush=True)
            else:
                break
    """
)


def env_for(locks: Path, visible: str | None = "0,1,2,3", **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID")}
    env.update(RESREPRO_GPU_LOCKS=str(locks), PYTHONPATH=str(REPO / "src"), PATH=f"{BIN}:{env['PATH']}", **extra)
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    return env


def start(tmp_path: Path, pack: int = 1, visible: str = "0,1,2,3") -> subprocess.Popen:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    return subprocess.Popen(
        [sys.executable, str(script), str(pack)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path / "locks", visible),
    )


def line_of(proc: subprocess.Popen, stream: str = "stdout", timeout: float = 30.0) -> str | None:
    """The next line the process writes, or None if none comes within ``timeout`` seconds."""
    pipe = getattr(proc, stream)
    ready, _, _ = select.select([pipe], [], [], timeout)
    return pipe.readline().strip() if ready else None


def stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.stdin.write("end\n")
            p.stdin.flush()
    for p in procs:
        p.wait(timeout=30)


def test_four_concurrent_trainings_on_four_gpus_each_get_their_own_gpu_and_a_fifth_waits(tmp_path):
    holders = [start(tmp_path) for _ in range(4)]
    try:
        got = [line_of(p) for p in holders]
        print(f"\nfour concurrent trainings, CUDA_VISIBLE_DEVICES=0,1,2,3 visible: {got}")
        assert sorted(g.split()[1] for g in got) == ["0", "1", "2", "3"], got  # distinct CUDA_VISIBLE_DEVICES
        fifth = start(tmp_path)
        waiting = line_of(fifth, "stderr")
        assert "all 4 GPU slots are busy" in waiting and "waiting" in waiting, waiting
        assert line_of(fifth, timeout=2) is None, "the fifth must not start while four GPUs are busy"
        freed = holders[2]
        stop(freed)
        assert line_of(fifth) == got[2], "the fifth takes the GPU of the training that ended"
        stop(fifth)
    finally:
        stop(*holders)


def test_with_pack_two_each_gpu_runs_two_trainings_and_they_see_each_other(tmp_path):
    holders = [start(tmp_path, pack=2, visible="0,1") for _ in range(4)]
    try:
        got = [line_of(p).split() for p in holders]
        # each GPU's first slot before any second one, then two per GPU
        assert sorted((g[1], g[2]) for g in got) == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")], got
        for p in holders:
            p.stdin.write("share\n")
            p.stdin.flush()
        assert [line_of(p) for p in holders] == ["sharing 2"] * 4
        fifth = start(tmp_path, pack=2, visible="0,1")
        assert "all 4 GPU slots are busy (2 GPU(s) 0,1 x train.pack 2" in line_of(fifth, "stderr")
        fifth.kill()  # it waits for a slot, not on its stdin
        fifth.wait(timeout=30)
    finally:
        stop(*holders)


def test_a_killed_holder_frees_its_slot_at_once(tmp_path):
    holder = start(tmp_path, visible="7")
    assert line_of(holder) == "got 7 0"
    holder.send_signal(signal.SIGKILL)  # no clean-up code runs: the kernel drops the lock
    holder.wait(timeout=30)
    after = start(tmp_path, visible="7")
    try:
        assert line_of(after) == "got 7 0"
    finally:
        stop(after)


def test_sharing_counts_this_training_and_none_without_a_slot(tmp_path, monkeypatch):
    monkeypatch.setenv(gpus.LOCKS_ENV, str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert gpus.sharing() is None and gpus.held() is None
    with gpus.slot(1) as s:
        assert (s.gpu, os.environ["CUDA_VISIBLE_DEVICES"], gpus.sharing()) == ("3", "3", 1)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3,5" and gpus.held() is None  # restored on leaving


@pytest.mark.parametrize(
    "value, found",
    [("0,1,2,3", ["0", "1", "2", "3"]), ("", []), ("-1", []), ("2, 0", ["2", "0"]), ("0,-1,1", ["0"])],
)
def test_visible_gpus_follow_cuda_visible_devices_as_cuda_reads_it(value, found):
    assert gpus.visible({"CUDA_VISIBLE_DEVICES": value}) == found
    assert gpus.slots(3, {"CUDA_VISIBLE_DEVICES": value}) == 3 * len(found)


def test_a_gpu_is_requested_by_the_gpu_resource_or_slurm_unless_the_device_is_cpu_or_pinned():
    slurm = {"SLURM_JOB_ID": "9", "CUDA_VISIBLE_DEVICES": "0"}
    assert "--gpu 1" in gpus.requested(1, "auto", {}) and "SLURM job 9" in gpus.requested(0, "cuda", slurm)
    assert gpus.requested(0, "auto", {}) is None and gpus.requested(0, "auto", {"CUDA_VISIBLE_DEVICES": "0"}) is None
    assert gpus.requested(1, "cpu", slurm) is None and gpus.requested(1, "cuda:1", {}) is None


def test_a_slurm_job_gets_its_own_lock_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(gpus.tempfile, "gettempdir", lambda: str(tmp_path))
    assert gpus.lock_dir({"SLURM_JOB_ID": "42"}) == tmp_path / "resrepro-gpu-locks" / "slurm-42"
    assert (tmp_path / "resrepro-gpu-locks").stat().st_mode & 0o1777 == 0o1777  # any user's trainings


def test_the_fix_names_a_wheel_the_found_driver_supports():
    assert gpus.wheel_for("580.65.06") == "cu130" and gpus.wheel_for("575.57.08") == "cu126"
    assert gpus.wheel_for("470.82.01") == "cu118" and gpus.wheel_for("440.1") is None and gpus.wheel_for(None) is None
    old = str(gpus.no_cuda("x", driver="535.104.05", torch_version="2.14.1+cu130", torch_cuda="13.0"))
    assert "NVIDIA driver 535.104.05" in old and "CUDA 13.0, which needs driver >= 580.65.06" in old
    assert "pip install torch --index-url https://download.pytorch.org/whl/cu126" in old and "train.device: cpu" in old
    none = str(gpus.no_cuda("x", driver="", torch_version="2.14.1+cu130", torch_cuda="13.0"))
    assert "no NVIDIA driver" in none and "driver >= 580.65.06" in none
    cpu_build = str(gpus.no_cuda("x", driver="580.65.06", torch_version="2.9.0+cpu", torch_cuda=None))
    assert "CPU-only build" in cpu_build and "whl/cu130" in cpu_build
    assert isinstance(gpus.no_cuda("x", driver=""), errors.NoGPUError)


def test_the_torch_build_is_read_without_importing_torch():
    assert gpus.torch_build() == (str(torch.__version__), torch.version.cuda)


def train_args(tmp_path: Path, **train_changes) -> list[str]:
    cfg = config.load(REPO / "config.yaml")
    recipe = dict(cfg["train"], **train_changes)
    return [
        "train",
        "--model",
        "resnet20",
        "--seed",
        "0",
        "--cache",
        str(tmp_path / "no-cache"),  # never read: the GPU check comes before the data
        "--data",
        json.dumps(cfg["data"]),
        "--recipe",
        json.dumps(recipe),
        "--out-dir",
        str(tmp_path / "out"),
        "--checkpoint",
        str(tmp_path / "c.pt"),
    ]


CASES = {
    "--gpu 1, no GPU here": (["--gpu", "1"], {}, {}, "no NVIDIA GPU was found"),
    "SLURM set CUDA_VISIBLE_DEVICES": ([], {"CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_ID": "17"}, {}, "SLURM job 17"),
    "CUDA_VISIBLE_DEVICES names a GPU, no CUDA": (
        ["--gpu", "1"],
        {"CUDA_VISIBLE_DEVICES": "0"},
        {},
        "CUDA_VISIBLE_DEVICES='0', but no NVIDIA driver is loaded",
    ),
    "train.device cuda without --gpu": ([], {}, {"device": "cuda"}, "train.device is 'cuda'"),
}


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where CUDA is not usable")
@pytest.mark.parametrize("case", CASES)
def test_a_job_given_a_gpu_without_cuda_fails_at_once_with_code_5_naming_the_fix(tmp_path, case):
    extra, env, recipe, cause = CASES[case]
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "resrepro", *train_args(tmp_path, **recipe), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_for(tmp_path / "locks", None, **env),
    )
    seconds = time.perf_counter() - t0
    print(f"\n{case}: exit {out.returncode} after {seconds:.1f} s (target < 10 s)\n{out.stderr}")
    assert out.returncode == errors.EXIT_CODES["gpu"] == 5, out.stderr[-2000:]
    error, fix = out.stderr.strip().splitlines()[-2:]
    assert error.startswith("resrepro train: error: a GPU was requested but CUDA is not usable") and cause in error
    assert f"torch {torch.__version__}" in error and ("NVIDIA driver" in error)
    assert fix.startswith("resrepro train: fix: ") and "train.device: cpu" in fix
    assert not (tmp_path / "out" / "train.json").exists()


def test_a_cpu_training_records_its_environment_pack_and_no_gpu_sharing(tmp_path):
    recipe = config.validate(
        {"run": "t", "models": ["resnet20"], "seeds": [0], "data": {}, "train": {"epochs": 1, "threads": 1}}
    )["train"]
    data = make_arrays(n_batch=8, n_test=10)[:2]  # 40 images
    summary = train.train("resnet20", recipe, data, data, 0, tmp_path, tmp_path / "c.pt", progress=False)
    env = summary["environment"]
    assert env["torch"] == str(torch.__version__) and env["cuda"] == torch.version.cuda
    gpu_only = {"cudnn", "driver", "gpu_model", "gpu_index", "cuda_visible_devices"}
    assert {k for k, v in env.items() if v is None} == gpu_only
    assert summary["pack"] == 1 and io.read_json(tmp_path / "train.json")["environment"] == env
    assert pd.read_csv(tmp_path / "history.csv")["gpu_shared_by"].isna().all()  # empty: a CPU training


# --- Snakemake: the train rule's gpu resource, its command line, and the bound on GPU jobs -------------------


def workdir(tmp_path: Path, device: str) -> Path:
    archive = write_tar(tmp_path / "tiny-cifar.tar.gz", official_files(make_arrays(n_batch=20, n_test=40)))
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg.update(run="tiny", stamp="tiny GPU-slot test run", models=["resnet20"], seeds=[0, 1], overrides={})
    cfg["data"].update(source=str(archive), sha256=io.file_digest(archive), val_size=20, cache_dir="data")
    cfg["train"].update(epochs=1, batch_size=40, threads=1, eval_batch_size=40, device=device)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path


def snakemake(wd: Path, *args: str, visible: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(wd)]
    cmd += [*args, "--configfile", str(wd / "config.yaml")]  # last: it takes every word up to the next option
    env = env_for(wd / "locks", visible)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.parametrize("device, gpu", [("cpu", "0"), ("auto", "1"), ("cuda", "1")])
def test_the_train_rule_asks_for_a_gpu_unless_it_trains_on_the_cpu(tmp_path, device, gpu):
    target = "results/tiny/train/resnet20/seed0/train.json"
    out = snakemake(workdir(tmp_path, device), "-n", "-p", "--cores", "2", target)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    assert re.search(rf"resources: .*\bgpu={gpu}\b", text) and f"--gpu {gpu} >" in text, text[-3000:]


@pytest.mark.slow
def test_on_two_gpus_snakemake_runs_at_most_two_trainings_and_a_gpu_job_without_cuda_fails_naming_the_fix(tmp_path):
    wd = workdir(tmp_path, "auto")
    targets = [f"results/tiny/train/resnet20/seed{s}/train.json" for s in (0, 1)]
    run = snakemake(wd, "--cores", "4", "--verbose", "--keep-going", *targets, visible="0,1")
    text = run.stdout + run.stderr
    bounds = set(re.findall(r"Resources before job selection: \{.*?'gpu': (\d+)", text))
    print(f"\nSnakemake's gpu bound with CUDA_VISIBLE_DEVICES=0,1: {bounds}")
    assert bounds == {"2"}, text[-3000:]
    assert run.returncode != 0
    log = (wd / "results/tiny/logs/train/resnet20-seed0.log").read_text()
    assert "error: a GPU was requested but CUDA is not usable" in log and "train.device: cpu" in log, log
    given = snakemake(wd, *targets, "--cores", "4", "--verbose", "--resources", "gpu=1", visible="0,1")
    assert set(re.findall(r"Resources before job selection: \{.*?'gpu': (\d+)", given.stdout + given.stderr)) == {"1"}


def test_provenance_lists_each_trainings_environment_and_appendix_c_shows_it(tmp_path):
    from resrepro import provenance
    from resrepro.report import content
    from resrepro.report.prose import Prose
    from resrepro.report.render import template_dir

    env = {"torch": "2.14.1", "cuda": "13.0", "cudnn": 91000, "driver": "580.65.06", "gpu_model": "NVIDIA H200"}
    env |= {"gpu_index": "1", "cuda_visible_devices": "1"}
    summaries = [{"model": "resnet18", "seed": s, "device": "cuda", "pack": 1, "environment": env} for s in (0, 1)]
    prov = provenance.collect({"run": "x"}, summaries=summaries)
    assert [(j["seed"], j["environment"]["gpu_index"], j["pack"]) for j in prov["jobs"]] == [(0, "1", 1), (1, "1", 1)]
    rows = content._provenance(Prose(template_dir() / content.TEXT_FILE), {}, prov)
    row = next(r["value"] for r in rows if r["key"].startswith("Trainings ran on"))
    assert row == "NVIDIA H200, driver 580.65.06, CUDA 13.0, cuDNN 91000, torch 2.14.1: 2 training(s)"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where CUDA is not usable")
def test_a_visible_gpu_that_torch_cannot_use_and_train_device_cuda_raise_the_same_error(monkeypatch):
    from resrepro import device

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(errors.NoGPUError, match=r"CUDA_VISIBLE_DEVICES='0', but torch.cuda.is_available\(\) is False"):
        device.require_cuda("the job was given 1 GPU(s)")
    with pytest.raises(errors.NoGPUError, match=r"train.device is 'cuda'.*fix: .*train.device: cpu"):
        device.select_device("cuda")


def test_resrepro_gpus_prints_the_gpus_found_and_the_slots_of_train_pack(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"run": "x", "models": ["resnet20"], "seeds": [0], "train": {"pack": 3}}))

    def gpus_cli(*args):
        cmd = [sys.executable, "-m", "resrepro", "gpus", "--configfile", str(REPO / "config.yaml"), str(cfg), *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env_for(tmp_path, "0,1"))
        assert out.returncode == 0, out.stderr
        return out.stdout

    info = json.loads(gpus_cli("--json"))
    assert [g["name"] for g in info["gpus"]] == ["0", "1"] and (info["pack"], info["slots"]) == (3, 6)
    assert gpus_cli("--slots").strip() == "6" and gpus_cli("--slots", "--pack", "1").strip() == "2"
    assert "slots: 6 (2 GPU(s) x train.pack 3)" in gpus_cli()


def test_history_records_how_many_trainings_shared_the_gpu_in_each_epoch(tmp_path, monkeypatch):
    """The column's plumbing, on the CPU: a training holding a slot of GPU 5 while another training holds the other."""
    monkeypatch.setenv(gpus.LOCKS_ENV, str(tmp_path / "locks"))
    other = start(tmp_path, pack=2, visible="5")
    try:
        assert line_of(other) == "got 5 0"
        recipe = config.validate(
            {"run": "t", "models": ["resnet20"], "seeds": [0], "data": {}, "train": {"epochs": 2, "threads": 1}}
        )["train"]
        data = make_arrays(n_batch=8, n_test=10)[:2]
        with gpus.slot(2, ["5"]) as s:
            assert s.index == 1
            train.train(
                "resnet20", dict(recipe, device="cpu"), data, data, 0, tmp_path, tmp_path / "c.pt", progress=False
            )
    finally:
        stop(other)
    assert list(pd.read_csv(tmp_path / "history.csv")["gpu_shared_by"]) == [2, 2]
