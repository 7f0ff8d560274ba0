"""Packing: k trainings on one device at once, measured (``resrepro bench --pack``), and each packed training
exactly the training it would be alone (two real ``resrepro train`` processes at once against the same two alone)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from archives import make_arrays, official_files, write_tar

from resrepro import benchpack, config
from resrepro.cli import main
from resrepro.io import file_digest

REPO = Path(__file__).resolve().parents[1]
TIMING_COLUMNS = ("epoch_seconds", "images_per_second", "test_seconds", "gpu_shared_by")


def bench_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "bench", "--models", "resnet20", "--device", "cpu", "--batch-size", "8", "--warmup", "1", "--steps", "2",
        "--threads", "1", "--configfile", str(REPO / "config.yaml"), *extra,
    ]  # fmt: skip


def test_bench_pack_on_the_cpu_reports_each_training_and_the_aggregate_over_the_common_wall_time(tmp_path, capsys):
    out = tmp_path / "pack.json"
    assert main(bench_args(tmp_path, "--pack", "1,2", "--json", str(out))) == 0
    result = json.loads(out.read_text())
    assert result["model"] == "resnet20" and result["device"] == "cpu" and result["batch_size"] == 8
    assert result["device_name"] and "compete for the same cores" in result["note"]
    rows = result["pack"]
    assert [r["k"] for r in rows] == [1, 2]
    assert [len(r["per_training_images_per_second"]) for r in rows] == [1, 2]
    assert rows[0]["speedup"] == 1.0
    assert rows[1]["speedup"] == pytest.approx(
        rows[1]["aggregate_images_per_second"] / rows[0]["aggregate_images_per_second"]
    )
    for r in rows:
        # all images over the common wall time, which is at least each training's own time
        assert r["aggregate_images_per_second"] == pytest.approx(r["k"] * 8 * 2 / r["wall_seconds"])
        assert 0 < r["aggregate_images_per_second"] <= sum(r["per_training_images_per_second"]) * (1 + 1e-9)
    printed = capsys.readouterr().out
    assert "k = 2: starting 2 training(s)" in printed  # progress while it runs
    assert "aggregate img/s" in printed and "each training's img/s" in printed


def test_the_pack_table_of_several_models_has_a_block_per_model():
    def entry(model, rates):
        keys = ("k", "aggregate_images_per_second", "per_training_images_per_second", "speedup")
        rows = [dict(zip(keys, (k, sum(r), r, sum(r) / 100))) for k, r in rates]
        return {"model": model, "device_name": "GPU X", "batch_size": 128, "note": "all on one GPU", "pack": rows}

    text = benchpack.table({"models": [entry("resnet18", [(1, [100.0]), (2, [90.0, 80.0])]), entry("vgg16", [])]})
    assert "resnet18 on GPU X" in text and "vgg16 on GPU X" in text
    assert " 2              170     1.70  90, 80" in text


def test_bench_pack_always_measures_k_1_the_baseline_of_the_speedup():
    assert benchpack.parse_pack("2,4") == [1, 2, 4]
    assert benchpack.parse_pack("3,1,3") == [1, 3]


@pytest.mark.parametrize("bad", ["0", "two", "1,-2", ","])
def test_bench_pack_given_no_list_of_positive_integers_fails_naming_the_fix(tmp_path, capsys, bad):
    assert main(bench_args(tmp_path, "--pack", bad)) == 2
    err = capsys.readouterr().err
    assert "error: --pack" in err and "fix: pass integers >= 1" in err


def test_bench_pack_with_a_failing_training_fails_naming_the_worker_and_the_fix(tmp_path, capsys):
    args = bench_args(tmp_path, "--pack", "1")
    args[args.index("resnet20")] = "nosuchmodel"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "training 0 of k = 1 failed" in err and "nosuchmodel" in err and "fix:" in err


# --------------------------------------------------------------------------------------------------
# packed trainings are the trainings alone
# --------------------------------------------------------------------------------------------------


def _real_cache() -> Path | None:
    """A prepared real CIFAR-10 (cifar10.npz + cifar10.json), if this machine has one."""
    for c in (os.environ.get("RESREPRO_TEST_CACHE"), REPO / ".cache-test", REPO / "data", "/work/main/data"):
        if c and (Path(c) / "cifar10.json").is_file() and (Path(c) / "cifar10.npz").is_file():
            return Path(c)
    return None


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, dict]:
    """A cache and a config for a tiny training: 200 real CIFAR-10 images (or a generated archive without them)."""
    root = tmp_path_factory.mktemp("pack")
    cache, real = root / "cache", _real_cache()
    data: dict = {"cache_dir": str(cache)}
    if real is not None:  # linked, never written: a rebuild would replace the links, not the real files
        cache.mkdir()
        for name in ("cifar10.npz", "cifar10.json"):
            (cache / name).symlink_to(real / name)
        data.update(val_size=5000, train_subset=200, val_subset=100, test_subset=100)
    else:
        src = write_tar(root / "c.tar.gz", official_files(make_arrays(n_batch=40, n_test=20)))
        assert main(["data", "--cache", str(cache), "--source", str(src), "--sha256", file_digest(src)]) == 0
        data.update(source=str(src), sha256=file_digest(src), val_size=50)
    cfg = config.validate(
        {
            "run": "pack",
            "models": ["resnet20"],
            "seeds": [0, 1],
            "data": data,
            "train": {"epochs": 2, "batch_size": 50, "threads": 1, "device": "cpu"},
        }
    )
    return root, cfg


def _train(cfg: dict, seed: int, out: Path) -> subprocess.Popen:
    args = [
        sys.executable, "-m", "resrepro", "train", "--model", "resnet20", "--seed", str(seed),
        "--cache", cfg["data"]["cache_dir"], "--data", json.dumps(cfg["data"]),
        "--recipe", json.dumps(config.recipe_for(cfg, "resnet20")), "--out-dir", str(out),
        "--checkpoint", str(out.parent / f"{out.name}.pt"), "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(p: subprocess.Popen) -> None:
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out


def _result(out: Path) -> tuple[bytes, pd.DataFrame]:
    history = pd.read_csv(out / "history.csv")
    return (out / "weights.pt").read_bytes(), history.drop(columns=[c for c in TIMING_COLUMNS if c in history])


def test_two_trainings_packed_on_the_cpu_end_exactly_as_each_alone(tiny_run):
    root, cfg = tiny_run
    for seed in (0, 1):  # alone: one after the other
        _finish(_train(cfg, seed, root / f"alone{seed}"))
    packed = [_train(cfg, seed, root / f"packed{seed}") for seed in (0, 1)]
    assert all(p.poll() is None for p in packed), "the two trainings must run at the same time"
    for p in packed:
        _finish(p)
    results = {name: _result(root / name) for name in ("alone0", "alone1", "packed0", "packed1")}
    for seed in (0, 1):
        weights, history = results[f"packed{seed}"]
        assert weights == results[f"alone{seed}"][0], f"seed {seed}: packed weights.pt differs from alone"
        pd.testing.assert_frame_equal(history, results[f"alone{seed}"][1])
        assert len(history) == 2
    # the two seed streams are distinct trainings (the comparison above could not pass by training one model)
    assert results["packed0"][0] != results["packed1"][0]
