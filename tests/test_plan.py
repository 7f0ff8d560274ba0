"""resrepro.plan: the cost of a config before it runs (work, throughput sources, packing, N GPUs, the run's line)."""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resrepro import catalog, cli, config, plan, speeds

REPO = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)
ENV = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "PYTHONPATH": str(REPO / "src")}
H200 = REPO / "benchmarks" / "results" / "h200-run2"


def paper(**train) -> dict:
    cfg = config.load(REPO / "config.yaml")
    cfg = copy.deepcopy(cfg)
    cfg["train"].update(train)
    return cfg


def bench_file(path: Path, *records: dict, device: str = "NVIDIA H200") -> Path:
    """A `resrepro bench --json` file of the given records (the fields the bench writes that the plan reads)."""
    full = [
        {"device": device, "batch_size": 128, "compiled": True, "precision": "bf16-autocast", "threads": None}
        | {"warmup_seconds": 5.0}
        | r
        for r in records
    ]
    path.write_text(json.dumps({"device": device, "records": full}))
    return path


def pack_file(path: Path, model: str, speedups: dict[int, float], **where) -> Path:
    """A `resrepro bench --pack` file (interface of issue 14, H2)."""
    entries = [{"k": k, "aggregate_images_per_second": 1e4 * s, "speedup": s} for k, s in speedups.items()]
    body = {"pack": entries, "model": model, "device": "cuda", "device_name": "NVIDIA H200", "batch_size": 128}
    body |= where
    path.write_text(json.dumps(body))
    return path


# --- work and FLOPs -------------------------------------------------------------------------------


def test_the_work_of_a_training_is_epochs_times_its_images_at_the_catalogs_forward_flops():
    cfg = paper()
    f = 2 * catalog.get("resnet18").macs  # the catalog's MACs: 1 MAC = 2 FLOPs
    w = plan.work(cfg, "resnet18")
    # 45k training images (3 x forward), 5k validation + 10k test-curve images (forward) per epoch, one test pass
    assert w["flops"] == pytest.approx(200 * (3 * f * 45_000 + f * 15_000) + f * 10_000)
    assert (w["train_images"], w["eval_images"], w["final_eval_images"]) == (200 * 45_000, 200 * 15_000, 10_000)
    no_curve = plan.work(paper(test_curve=False), "resnet18")
    assert no_curve["eval_images"] == 200 * 5_000
    # the whole reproduction: about 6.4e17 FLOP (the 5.8e17 counts the training images only)
    total = sum(plan.work(cfg, m)["flops"] for m in cfg["models"]) * len(cfg["seeds"])
    assert plan.plan(cfg, gpus=1)["total_flops"] == pytest.approx(total)


def test_a_subset_and_an_override_change_the_work_as_the_config_says():
    cfg = config.load(REPO / "config.yaml", REPO / "presets" / "quick.yaml")
    assert plan.images(cfg) == (1000, 500, 1000)
    cfg = config.load(REPO / "config.yaml", REPO / "presets" / "degradation.yaml")
    assert plan.work(cfg, "resnet20")["epochs"] == 182


def test_seconds_per_training_are_the_work_at_the_measured_rate_plus_the_overhead(tmp_path):
    cfg = paper(epochs=2)
    cfg["models"], cfg["seeds"] = ["resnet18"], [0, 1]
    f = bench_file(tmp_path / "b.json", {"model": "resnet18", "ours_img_s": 1000.0, "warmup_seconds": 7.0})
    p = plan.plan(cfg, gpus=1, bench_files=[f])
    startup = speeds.declared()["stated"]["gpu"]["startup_seconds"]
    images = 2 * 45_000 + (2 * 15_000 + 10_000) / 3  # an evaluation image costs a third of a training image
    expected = startup + 7.0 + images / 1000
    m = p["models"]["resnet18"]
    assert m["seconds_per_training"] == pytest.approx(expected)
    assert m["gpu_hours"] == pytest.approx(2 * expected / 3600) == pytest.approx(p["total_gpu_hours"])
    assert m["measured"] and "measured" in m["throughput_source"] and "b.json" in m["throughput_source"]


# --- where the throughput comes from -------------------------------------------------------------------


def test_by_default_the_plan_uses_the_shipped_h200_measurements_and_says_so():
    p = plan.plan(paper(), gpus=1)
    assert p["device_name"] == "NVIDIA H200"
    assert all(v["measured"] for v in p["models"].values()), p["throughput_source"]
    assert any("h200-run2" in n for n in p["notes"])
    # resnet18 at the bench's 41,229 img/s: 200 x 50,000 image equivalents in about 243 s, plus the overhead
    record = json.loads((H200 / "bench_cudagraphs_b128.json").read_text())["records"][0]
    assert record["model"] == "resnet18"
    s = p["models"]["resnet18"]["seconds_per_training"]
    assert s - record["warmup_seconds"] - 10 == pytest.approx((200 * 45_000 + (200 * 15_000 + 10_000) / 3) / 41229.24)


def test_a_measured_model_beats_the_stated_figure_and_the_line_says_which_is_which(tmp_path):
    cfg = paper()
    cfg["models"] = ["resnet18", "resnet20"]
    f = bench_file(tmp_path / "b.json", {"model": "resnet18", "ours_img_s": 1000.0})
    p = plan.plan(cfg, gpus=1, bench_files=[f])
    assert p["models"]["resnet18"]["measured"] and not p["models"]["resnet20"]["measured"]
    assert p["models"]["resnet20"]["throughput_source"].startswith("stated, not measured")
    stated = speeds.stated("gpu", "resnet18", cfg["train"])
    assert p["models"]["resnet18"]["seconds_per_training"] > plan.seconds(plan.work(cfg, "resnet18"), stated)
    # what the run's line shows in brackets: a measured row's evaluation cost and start-up are stated
    assert plan._which(p) == "NVIDIA H200 throughput measured, eval cost and start-up stated; resnet20 stated"
    source = p["models"]["resnet18"]["throughput_source"]
    assert source.startswith("throughput measured: ") and "eval cost 0.33 and start-up 10 s stated" in source


def test_a_record_at_another_batch_size_compile_state_or_device_is_not_used(tmp_path):
    cfg = paper()
    cfg["models"] = ["resnet18"]
    for other in ({"batch_size": 512}, {"compiled": False}, {"threads": 2, "precision": "fp32"}):
        f = bench_file(tmp_path / "b.json", {"model": "resnet18", "ours_img_s": 1000.0} | other)
        p = plan.plan(cfg, gpus=1, bench_files=[f])
        assert not p["models"]["resnet18"]["measured"], other
    assert any("no GPU measurement" in n for n in p["notes"]), "a CPU record alone leaves the GPU plan stated"
    two = bench_file(tmp_path / "h100.json", {"model": "resnet18", "ours_img_s": 1.0}, device="NVIDIA H100")
    p = plan.plan(
        cfg, gpus=1, bench_files=[bench_file(tmp_path / "b.json", {"model": "resnet18", "ours_img_s": 1e3}), two]
    )
    assert p["models"]["resnet18"]["seconds_per_training"] < 1e6 and any("H100" in n for n in p["notes"])


def test_without_the_shipped_measurements_the_plan_falls_back_to_stated_figures_and_says_so(tmp_path):
    """An installed package has no benchmarks/ beside it: a copy of the package, run for real."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "src" / "resrepro", site / "resrepro", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    out = subprocess.run(
        [sys.executable, "-m", "resrepro", "plan", "--gpus", "1"],
        cwd=tmp_path,
        env={**ENV, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "no measurement files found" in out.stdout
    assert out.stdout.count("stated, not measured") == 5 and "measured: batch" not in out.stdout


def test_the_stated_figures_are_the_fit_of_the_shipped_measurements():
    """speeds.yaml's stated speeds: least squares (relative error) of 3F/tflops + depth x latency / batch."""
    for kind in ("gpu", "cpu"):
        best: dict[str, float] = {}
        for f in speeds.declared()["measured"][kind]:
            for r in json.loads((REPO / f).read_text())["records"]:
                best[r["model"]] = max(best.get(r["model"], 0.0), r["ours_img_s"])
        x = np.array([[3 * catalog.get(m).gflops * 1e9, catalog.get(m).depth / 128] for m in best])
        y = 1 / np.array(list(best.values()))
        c, *_ = np.linalg.lstsq(x / y[:, None], np.ones_like(y), rcond=None)
        s = speeds.declared()["stated"][kind]
        assert s["tflops"] == pytest.approx(1 / c[0] / 1e12, rel=0.01), kind
        assert s["layer_step_ms"] == pytest.approx(c[1] * 1e3, rel=0.01), kind


def test_a_cpu_config_is_planned_in_cpu_hours_from_the_cpu_measurements():
    cfg = paper(device="cpu")
    cfg["models"] = ["resnet18", "resnet20", "resnet34"]
    p = plan.plan(cfg)
    assert p["unit"] == "CPU-hours" and p["gpus"] == 1 and p["pack"] == 1
    assert p["models"]["resnet18"]["measured"] and p["models"]["resnet20"]["measured"]
    assert not p["models"]["resnet34"]["measured"]
    assert "CPU-hours on 1 CPU job at a time" in plan.line(cfg)


# --- packing and N GPUs ------------------------------------------------------------------------------------


def test_n_gpus_and_packing_change_the_wall_clock_as_scheduled():
    four = [(100.0, {})] * 4
    assert plan.schedule(four, gpus=1, pack=1) == pytest.approx(400)
    assert plan.schedule(four, gpus=2, pack=1) == pytest.approx(200)
    assert plan.schedule(four, gpus=4, pack=1) == pytest.approx(100)
    packed = [(100.0, {2: 1.6})] * 4  # two at once: each at 0.8 of its rate alone
    assert plan.schedule(packed, gpus=1, pack=2) == pytest.approx(250)
    assert plan.schedule(four, gpus=1, pack=2) == pytest.approx(400)  # speedup not measured: no gain
    # the tail: the third runs alone (at its full rate) once the pair has ended
    assert plan.schedule(packed[:3], gpus=1, pack=2) == pytest.approx(125 + 100)
    # longest first: the long one on its own GPU, the two short ones after each other on the other
    assert plan.schedule([(100.0, {}), (300.0, {}), (100.0, {})], gpus=2, pack=1) == pytest.approx(300)


def test_a_measured_pack_speedup_shortens_the_plan_and_an_unmeasured_one_is_named(tmp_path):
    cfg = paper()
    alone = plan.plan(cfg, gpus=1, pack=1)
    unmeasured = plan.plan(cfg, gpus=1, pack=2)
    assert unmeasured["wall_hours"] == pytest.approx(alone["wall_hours"])
    assert unmeasured["pack_source"] == plan.NOT_MEASURED and any(plan.NOT_MEASURED in n for n in unmeasured["notes"])
    files = [pack_file(tmp_path / f"{m}.json", m, {1: 1.0, 2: 1.6}) for m in cfg["models"]]
    packed = plan.plan(cfg, gpus=1, pack=2, bench_files=files)
    assert packed["pack_source"] == "measured" and packed["pack_speedup"] == pytest.approx(1.6)
    assert packed["total_gpu_hours"] == pytest.approx(alone["total_gpu_hours"] / 1.6)
    assert alone["wall_hours"] / 1.6 <= packed["wall_hours"] < alone["wall_hours"]
    assert all(v["measured"] for v in packed["models"].values()), "pack files alone keep the shipped measurements"
    on_two = plan.plan(cfg, gpus=2, pack=2, bench_files=files)
    assert on_two["wall_hours"] < packed["wall_hours"]
    assert f"pack 2 ({plan.NOT_MEASURED})" in plan.line(cfg | {"train": cfg["train"] | {"pack": 2}})


def test_a_pack_file_of_several_models_is_read(tmp_path):
    one = json.loads(pack_file(tmp_path / "a.json", "resnet18", {2: 1.5}).read_text())
    two = json.loads(pack_file(tmp_path / "b.json", "vgg16", {2: 1.2}).read_text())
    (tmp_path / "both.json").write_text(json.dumps({"models": [one, two]}))
    read = speeds.read(tmp_path / "both.json")["pack"]
    assert [(e["model"], e["speedups"], e["device"], e["batch_size"]) for e in read] == [
        ("resnet18", {2: 1.5}, "NVIDIA H200", 128),
        ("vgg16", {2: 1.2}, "NVIDIA H200", 128),
    ]


def test_a_pack_file_of_another_device_or_batch_size_is_ignored_and_named(tmp_path):
    cfg = paper()
    cfg["models"] = ["resnet18"]
    alone = plan.plan(cfg, gpus=1, pack=2)
    for where in ({"device": "cpu", "device_name": "AMD EPYC (2 cores)", "batch_size": 8}, {"batch_size": 512}):
        f = pack_file(tmp_path / "p.json", "resnet18", {1: 1.0, 2: 1.9}, **where)
        p = plan.plan(cfg, gpus=1, pack=2, bench_files=[f])
        assert p["total_gpu_hours"] == pytest.approx(alone["total_gpu_hours"]) and p["pack_source"] == plan.NOT_MEASURED
        said = [n for n in p["notes"] if n.startswith("pack speedups of resnet18 on")]
        assert said and "not used: the plan is for NVIDIA H200" in said[0], p["notes"]


def test_an_unmeasured_k_is_named_as_assumed_1_in_the_plan_and_its_line(tmp_path):
    cfg = paper(pack=3)
    cfg["models"] = ["resnet18"]
    f = pack_file(tmp_path / "p.json", "resnet18", {1: 1.0, 3: 2.4})  # k=2 not measured
    p = plan.plan(cfg, gpus=1, bench_files=[f])
    assert p["pack_source"] == "partly measured" and p["pack_assumed"] == {"resnet18": [2]}
    assert any(n.startswith(f"resnet18 at k=2: {plan.NOT_MEASURED}") for n in p["notes"])
    assert "pack 3 (x2.40, partly measured: 1.0 assumed for resnet18 k=2)" in plan.line(cfg, bench_files=[f])


def fake_nvidia_smi(folder: Path, model: str, n: int) -> str:
    """An nvidia-smi on PATH answering the queries resrepro.gpus makes (a GPU cannot run here)."""
    folder.mkdir()
    rows = "\\n".join(f"{i}, {model}" for i in range(n))
    index = "\\n".join(str(i) for i in range(n))
    script = folder / "nvidia-smi"
    script.write_text(
        f'#!/bin/sh\ncase "$1" in\n  *index,name*) printf "{rows}\\n";;\n  *index*) printf "{index}\\n";;\n'
        "  *) exit 1;;\nesac\n"
    )
    script.chmod(0o755)
    return f"{folder}:{os.environ['PATH']}"


def test_when_the_gpus_here_differ_from_the_measured_one_the_plan_and_its_line_say_so(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path / "bin", "NVIDIA A100-SXM4-80GB", 4))
    cfg = paper()
    p = plan.plan(cfg)
    assert (p["gpus"], p["gpus_source"], p["gpus_here"]) == (4, "found", ["NVIDIA A100-SXM4-80GB"])
    says = "measured on NVIDIA H200; this machine has NVIDIA A100-SXM4-80GB"
    assert p["measured_elsewhere"] == says and any(says in n for n in p["notes"])
    assert says in plan.line(cfg)
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path / "h200", "NVIDIA H200", 1))
    assert plan.plan(cfg)["measured_elsewhere"] is None and "this machine has" not in plan.line(cfg)


# --- errors, the command line, the Snakemake line ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, what",
    [
        ("{not json", "not valid JSON"),
        ('{"device": "x"}', "neither"),
        ('{"records": [{"model": "resnet18", "ours_img_s": "fast", "batch_size": 128}]}', "not a number"),
        ('{"records": [{"model": "resnet9000", "ours_img_s": 1.0, "batch_size": 128}]}', "unknown model"),
        ('{"pack": [{"k": 0, "speedup": 1.0}], "model": "resnet18"}', "k >= 1"),
    ],
)
def test_a_bad_bench_file_fails_naming_the_file_and_the_fix(tmp_path, capsys, text, what):
    bad = tmp_path / "bad_bench.json"
    bad.write_text(text)
    code = cli.main(["plan", "--configfile", str(REPO / "config.yaml"), "--bench", str(bad)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert what in err and str(bad) in err and "resrepro plan: fix:" in err


def test_zero_gpus_or_a_pack_of_zero_is_refused_by_the_command_line(capsys):
    for args in (["--gpus", "0"], ["--pack", "0"], ["--gpus", "two"]):
        with pytest.raises(SystemExit) as e:
            cli.main(["plan", *args])
        assert e.value.code == 2 and "not a whole number >= 1" in capsys.readouterr().err


def test_a_missing_bench_file_fails_naming_it(tmp_path, capsys):
    assert cli.main(["plan", "--configfile", str(REPO / "config.yaml"), "--bench", str(tmp_path / "nope.json")]) == 3
    assert "nope.json" in capsys.readouterr().err


def test_the_command_prints_the_table_and_writes_the_interfaces_json(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert cli.main(["plan", "--configfile", str(REPO / "config.yaml"), "--gpus", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "resnet110" in text and "wall-clock: about" in text and "on 2 GPUs (given)" in text
    p = json.loads(out.read_text())
    for key in (
        "models",
        "total_gpu_hours",
        "wall_hours",
        "gpus",
        "pack",
        "pack_speedup",
        "throughput_source",
        "device",
    ):
        assert key in p
    assert set(p["models"]["vgg16"]) >= {"trainings", "seconds_per_training", "gpu_hours"}
    assert p["gpus"] == 2 and p["wall_hours"] < p["total_gpu_hours"]
    assert math.isclose(sum(v["gpu_hours"] for v in p["models"].values()), p["total_gpu_hours"])


def _snakemake(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "2", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=ENV,
    )


def test_a_snakemake_dry_run_prints_the_plan_line_first_on_stderr(tmp_path):
    out = _snakemake(tmp_path, "-n")
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [x for x in out.stderr.splitlines() if x.startswith("plan: ")]
    assert len(lines) == 1 and lines[0] == plan.line(config.load(REPO / "config.yaml")), out.stderr[-3000:]
    assert lines[0].startswith("plan: 15 trainings x 200 epochs, ") and "NVIDIA H200 throughput measured" in lines[0]
    assert "plan:" not in out.stdout
    dag = _snakemake(tmp_path, "--dag")  # what is piped into dot stays clean
    assert dag.returncode == 0 and dag.stdout.lstrip().startswith("digraph"), dag.stderr[-2000:]
    lint = _snakemake(tmp_path, "--lint")
    assert lint.returncode == 0 and "plan:" not in lint.stdout, lint.stdout[-2000:] + lint.stderr[-2000:]


@pytest.mark.parametrize("preset", [[], ["presets/degradation.yaml"]])
def test_the_slurm_time_limits_from_the_plans_count_are_never_shorter_than_before(preset):
    """Before issue 14 common.smk counted 3 x training + validation images (no test-curve pass) at the same stated
    speed; the plan's count adds the test curve, so no limit got shorter (a shorter one would time out)."""
    cfg = config.load(REPO / "config.yaml", *(REPO / p for p in preset))
    s = speeds.declared()["stated"]["slurm"]
    n_train, n_val, _ = plan.images(cfg)
    for m in cfg["models"]:
        recipe, spec = config.recipe_for(cfg, m), catalog.get(m)
        steps = -(-n_train // recipe["batch_size"])
        epoch = (3 * n_train + n_val) * spec.gflops / (s["tflops"] * 1e3) + steps * spec.depth * s[
            "layer_step_ms"
        ] / 1e3
        before = math.ceil(s["startup_minutes"] + s["headroom"] * recipe["epochs"] * epoch / 60)
        assert before <= plan.slurm_minutes(cfg, m) <= 1.15 * before, m
        assert plan.slurm_minutes(cfg, m, attempt=2) == 2 * plan.slurm_minutes(cfg, m)


def test_the_readme_quotes_the_plans_figures_as_it_prints_them(tmp_path, monkeypatch):
    """README, "What a full run costs": the pasted output is what `resrepro plan --gpus 1` prints, line by line."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # one GPU, whatever this machine has: the README's line
    readme = (REPO / "README.md").read_text()
    section = readme.split("## What a full run costs", 1)[1].split("\n## ", 1)[0]
    cfg = config.load(REPO / "config.yaml")
    assert plan.table(plan.plan(cfg, gpus=1)) in section
    assert plan.line(cfg).startswith(section.split("e.g.\n`", 1)[1].split("`", 1)[0])
    four = plan.table(plan.plan(cfg, gpus=4)).splitlines()
    assert next(x for x in four if x.startswith("wall-clock: ")).removeprefix("wall-clock: ") in section
    degradation = plan.table(plan.plan(config.load(REPO / "config.yaml", REPO / "presets" / "degradation.yaml"), 1))
    block = section.split("presets/degradation.yaml\n", 1)[1].split("```", 1)[0]
    shown = [x for x in block.splitlines() if x and x != "..."]
    assert len(shown) >= 8 and all(x in degradation.splitlines() for x in shown)
    cpu = plan.plan(paper(device="cpu"))
    assert f"about {cpu['total_gpu_hours']:,.0f} CPU-hours" in " ".join(section.split())
