"""What history.csv's gpu_shared_by records (resrepro.gpus.sharing), with real processes and real file locks on
fake GPU names: probes that never take a slot nor count each other, an evaluation holding a slot like a training,
and no slot (train.device cuda:N, no --gpu) recorded as unknown (empty), never as 1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import torch
from archives import make_arrays, official_files, write_tar
from test_gpus import env_for, line_of, snakemake, stop, workdir

from resrepro import checkpoints, config, errors, gpus, models, train
from resrepro.cli import main
from resrepro.io import file_digest

# a stand-in training that holds a slot and, when told "probe S", calls gpus.sharing() for S seconds
PROBER = textwrap.dedent(
    """
    import os, sys, time
    from resrepro import gpus
    with gpus.slot(int(sys.argv[1])) as s:
        print("got", os.environ["CUDA_VISIBLE_DEVICES"], s.index, flush=True)
        for line in sys.stdin:
            words = line.split()
            if words[:1] != ["probe"]:
                break
            seen, end = set(), time.monotonic() + float(words[1])
            while time.monotonic() < end:
                seen.add(gpus.sharing())
            print("seen", *sorted(seen), flush=True)
    """
)
# `resrepro evaluate` where CUDA's checks pass (no GPU here: only they are replaced); it says when it holds its
# slot and evaluates (for real, on the CPU) once told to
EVALUATOR = textwrap.dedent(
    """
    import sys
    from resrepro import cli, evaluate, gpus
    gpus._require_cuda = gpus._no_driver = lambda why: None
    real = evaluate.evaluate
    def when_told(*args, **kwargs):
        print("evaluating on", gpus.held().gpu, "slot", gpus.held().index, flush=True)
        sys.stdin.readline()
        return real(*args, **kwargs)
    evaluate.evaluate = when_told
    sys.exit(cli.main(sys.argv[1:]))
    """
)


def started(tmp_path: Path, script: str, *args: str, visible: str = "5") -> subprocess.Popen:
    path = tmp_path / f"script{abs(hash(script))}.py"
    path.write_text(script)
    return subprocess.Popen(
        [sys.executable, str(path), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path / "locks", visible),
    )


def tell(proc: subprocess.Popen, line: str) -> None:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def test_probing_trainings_never_count_each_others_probes_nor_keep_a_starting_training_from_a_free_slot(tmp_path):
    a, b = started(tmp_path, PROBER, "3"), started(tmp_path, PROBER, "3")
    try:
        assert sorted([line_of(a), line_of(b)]) == ["got 5 0", "got 5 1"]
        for p in (a, b):
            tell(p, "probe 2")
        assert [line_of(a), line_of(b)] == ["seen 2", "seen 2"]  # two holders; slot 2 free however often probed
        for p in (a, b):
            tell(p, "probe 4")
        time.sleep(0.5)
        t0 = time.perf_counter()
        c = started(tmp_path, PROBER, "3")  # the only free slot, probed all the while by a and b
        assert line_of(c) == "got 5 2", "a starting training must get the free slot at once"
        print(f"\nthe third training got the free slot in {time.perf_counter() - t0:.2f} s while two others probed")
        seen = [line_of(a, timeout=60), line_of(b, timeout=60)]
        assert all(set(s.split()[1:]) <= {"2", "3"} for s in seen), seen
        stop(c)
        assert "busy" not in c.stderr.read()
    finally:
        stop(a, b)


def test_no_slot_records_an_empty_gpu_shared_by_never_1(tmp_path, monkeypatch):
    """train.device cuda:N (pinned by hand) and a training without --gpu take no slot: unknown, not alone."""
    monkeypatch.setenv(gpus.LOCKS_ENV, str(tmp_path / "locks"))
    monkeypatch.setattr(gpus, "_require_cuda", lambda why: None)  # no GPU here: CUDA's check is all we replace
    recipe = config.validate(
        {"run": "t", "models": ["resnet20"], "seeds": [0], "data": {}, "train": {"epochs": 1, "threads": 1}}
    )["train"]
    data = make_arrays(n_batch=8, n_test=10)[:2]
    for gpu, device in ((1, "cuda:1"), (0, "auto")):
        with gpus.for_job(gpu, {"device": device}) as held:
            assert held is None and gpus.sharing() is None
            out = tmp_path / device.replace(":", "")
            train.train("resnet20", dict(recipe, device="cpu"), data, data, 0, out, out / "c.pt", progress=False)
        assert pd.read_csv(out / "history.csv")["gpu_shared_by"].isna().all(), device


def tiny_data(root: Path) -> tuple[Path, dict, Path]:
    """A prepared cache of a generated archive and untrained resnet20 weights."""
    write_tar(root / "tiny.tar.gz", official_files(make_arrays(n_batch=20, n_test=40)))
    data = config.validate(
        {
            "run": "t",
            "models": ["resnet20"],
            "seeds": [0],
            "data": {"source": str(root / "tiny.tar.gz"), "sha256": file_digest(root / "tiny.tar.gz"), "val_size": 20},
            "train": {},
        }
    )["data"]
    data["cache_dir"] = str(root / "data")
    assert main(["data", "--cache", data["cache_dir"], "--source", data["source"], "--sha256", data["sha256"]]) == 0
    torch.manual_seed(0)
    checkpoints.save(root / "weights.pt", models.create("resnet20").state_dict())
    return root / "data", data, root / "weights.pt"


def evaluate_args(cache: Path, data: dict, weights: Path, out: Path, *extra: str) -> list[str]:
    return [
        "evaluate", "--model", "resnet20", "--cache", str(cache), "--data", json.dumps(data),
        "--weights", str(weights), "--batch-size", "40", "--out-dir", str(out), *extra,
    ]  # fmt: skip


def test_an_evaluation_holds_a_gpu_slot_and_a_concurrent_training_counts_it(tmp_path, monkeypatch):
    cache, data, weights = tiny_data(tmp_path)
    monkeypatch.setenv(gpus.LOCKS_ENV, str(tmp_path / "locks"))
    recipe = config.validate(
        {"run": "t", "models": ["resnet20"], "seeds": [0], "data": {}, "train": {"epochs": 2, "threads": 1}}
    )["train"]
    arrays = make_arrays(n_batch=8, n_test=10)[:2]
    with gpus.slot(2, ["5"]):
        args = evaluate_args(cache, data, weights, tmp_path / "eval", "--gpu", "1", "--pack", "2")
        ev = started(tmp_path, EVALUATOR, *args)
        try:
            assert line_of(ev, timeout=120) == "evaluating on 5 slot 1"
            out = tmp_path / "train"
            train.train("resnet20", dict(recipe, device="cpu"), arrays, arrays, 0, out, out / "c.pt", progress=False)
        finally:
            tell(ev, "go")
            try:
                ev.wait(timeout=120)
            finally:
                ev.kill()
    assert list(pd.read_csv(out / "history.csv")["gpu_shared_by"]) == [2, 2]  # the evaluation shared the GPU
    assert ev.returncode == 0, ev.stderr.read()[-2000:]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["n"] > 0


def test_an_evaluation_given_a_gpu_without_cuda_fails_at_once_with_code_5_naming_the_fix(tmp_path):
    cache, data, weights = tmp_path / "data", {"source": None}, tmp_path / "weights.pt"
    out = subprocess.run(
        [sys.executable, "-m", "resrepro", *evaluate_args(cache, data, weights, tmp_path / "eval", "--gpu", "1")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_for(tmp_path / "locks", None),
    )
    assert out.returncode == errors.EXIT_CODES["gpu"] == 5, out.stderr[-2000:]
    error, fix = out.stderr.strip().splitlines()[-2:]
    assert error.startswith("resrepro evaluate: error: a GPU was requested but CUDA is not usable"), error
    assert fix.startswith("resrepro evaluate: fix: ") and "train.device: cpu" in fix
    assert not (tmp_path / "eval").exists()


def test_the_evaluate_rule_asks_for_a_gpu_slot_unless_it_runs_on_the_cpu(tmp_path):
    for device, gpu in (("cpu", "0"), ("auto", "1")):
        (tmp_path / device).mkdir()
        wd = workdir(tmp_path / device, device)
        out = snakemake(wd, "-n", "-p", "--cores", "2", "results/tiny/eval/resnet20/seed0/metrics.json")
        assert out.returncode == 0, out.stderr[-3000:]
        text = out.stdout + out.stderr
        rule = text[text.index("rule evaluate") :]
        assert re.search(rf"resources: .*\bgpu={gpu}\b", rule) and f"--pack 1 --gpu {gpu} --out-dir" in rule, rule
