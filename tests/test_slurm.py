"""SLURM: the pipeline through profiles/slurm on a real single-node cluster, and the time limits.

The `slurm` tests start a cluster on this machine with tools/slurm/start-local-slurm.sh (munge,
slurmctld, slurmd, slurmdbd + MariaDB so that `sacct` works, two fake GPUs; the Debian packages are
installed on first use) and stop exactly the daemons that this module started (test sessions that
run at the same time on one machine share the cluster; the last one stops it). The executor plugin
is installed into .venv/slurm-plugin and put on PYTHONPATH for the SLURM runs only. They skip, with
the reason, where the cluster cannot be had: not root, the packages cannot be installed, or another
SLURM installation owns /etc/slurm. Every Snakemake run has a time limit and is stopped with SIGINT
(a run waiting on SLURM ignores SIGTERM), so nothing hangs.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from archives import make_arrays, official_files, write_tar

from resrepro import catalog, io

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools" / "slurm"
PLUGIN_DIR = Path(sys.prefix) / "slurm-plugin"  # .venv/slurm-plugin, as `make slurm-plugin` makes it
BIN = str(Path(sys.executable).parent)
# The test overrides of profiles/slurm: partition names and status-check timing, and one of the cluster's fake
# GPUs per training (its config trains on the CPU: train.device cpu alone would ask for gpu=0).
SITE = [
    "--set-resources",
    "train:slurm_partition=gpu",
    "train:gpu=1",
    "--slurm-init-seconds-before-status-checks",
    "2",
]
TIMING_COLUMNS = ["epoch_seconds", "images_per_second", "test_seconds"]  # test_seconds: train.test_curve


# --- time limits of training jobs (no cluster needed) ----------------------------------------------


def test_slurm_sizing_reads_cost_and_depth_from_the_catalog_and_its_speed_from_speeds_yaml():
    """common.smk holds no table or speed of its own: the time limit is resrepro.plan's count of the work (the
    catalog's FLOPs and depths) at the cautious speed that src/resrepro/speeds.yaml declares once."""
    text = (REPO / "workflow" / "rules" / "common.smk").read_text()
    assert "GFLOPS_PER_IMAGE" not in text and "isdigit" not in text and "TFLOPS" not in text
    assert re.search(r"plan\.slurm_minutes\(\s*config,\s*model,\s*attempt\s*\)", text)
    speeds = (REPO / "src" / "resrepro" / "speeds.py").read_text()
    assert re.search(r"catalog\.get\(\s*model\s*\)", speeds), "the speed model reads the catalog entry of the model"


def test_training_jobs_request_a_gpu_and_a_time_limit_scaled_by_cost(tmp_path):
    """Dry run of the full reproduction: one GPU, CPUs per GPU, memory, and minutes by model cost."""
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "--cores",
            "8",
            *[
                f"results/paper/train/{m}/seed0/train.json"
                for m in ("resnet18", "resnet34", "resnet50", "resnet110", "vgg16")
            ],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    jobs = re.findall(r"wildcards: model=(\w+), seed=0\n(?:.*\n)*?\s+resources: (.*)", out.stdout + out.stderr)
    res = {m: dict(kv.split("=", 1) for kv in r.split(", ")) for m, r in jobs}
    assert set(res) == {"resnet18", "resnet34", "resnet50", "resnet110", "vgg16"}
    threads = yaml.safe_load((REPO / "config.yaml").read_text())["train"]["threads"]
    for r in res.values():
        assert (r["gpu"], r["cpus_per_gpu"], r["mem_mb"]) == ("1", str(threads), "10000")
    minutes = {m: int(r["runtime"]) for m, r in res.items()}
    # 200 epochs x 50k images: about 10-40 min each on an H200 (tools/slurm/gpu_epoch_time.py)
    assert minutes["vgg16"] < minutes["resnet18"] < minutes["resnet34"] < minutes["resnet50"] <= 240
    assert minutes["resnet110"] > minutes["resnet18"]  # thin and deep: latency-bound, not FLOP-bound
    assert min(minutes.values()) >= 30
    # the README quotes these limits: they must be the ones Snakemake computes
    readme = " ".join((REPO / "README.md").read_text().split())
    quoted = {}
    for m, n in minutes.items():
        quoted[m] = re.search(rf"(\d+)(?: min)? \({re.escape(catalog.get(m).display)}\)", readme)
        assert quoted[m] and int(quoted[m].group(1)) == n, f"README quotes a time limit for {m} that is not {n} min"


def test_plugin_pins_agree_with_the_slurm_extra():
    """tools/slurm/plugin-requirements.txt (tests, make slurm-plugin) pins what `.[slurm]` pins."""
    import tomllib

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["slurm"]
    pins = [
        line
        for line in (TOOLS / "plugin-requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert pins[0] == extra[0] == "snakemake-executor-plugin-slurm==2.8.0"
    assert all("==" in p for p in pins)


# --- the cluster --------------------------------------------------------------------------------


def _tail(text: str, n: int = 3000) -> str:
    return text[-n:]


BASE = Path(os.environ.get("RESREPRO_SLURM_BASE", "/tmp/resrepro-slurm"))


def _stop_when_last(started: list[str], users) -> None:
    """Stop the daemons this session started, unless another test session still uses the cluster:
    then leave them to that session (BASE.owed), whose teardown stops them."""
    owed = Path(f"{BASE}.owed")
    with open(f"{BASE}.start.lock", "a") as start_lock:
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        fcntl.flock(users, fcntl.LOCK_UN)
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another session holds the cluster
            if started:
                owed.write_text(" ".join(sorted(set(started) | set(owed.read_text().split() if owed.exists() else []))))
            return
        daemons = sorted(set(started) | set(owed.read_text().split() if owed.exists() else []))
        if daemons:
            subprocess.run(
                ["bash", str(TOOLS / "stop-local-slurm.sh"), *daemons], capture_output=True, text=True, timeout=300
            )
        owed.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def slurm():
    """A running single-node cluster; yields the environment for SLURM Snakemake runs. Test
    sessions running at the same time on this machine share it (a shared lock on BASE.users)."""
    if os.geteuid() != 0:
        pytest.skip("the local SLURM cluster needs root (packages, munged, slurmd); run the tests as root")
    t0 = time.time()
    users = open(f"{BASE}.users", "a")
    fcntl.flock(users, fcntl.LOCK_SH)
    with open(f"{BASE}.start.lock", "a") as start_lock:
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        start = subprocess.run(
            ["bash", str(TOOLS / "start-local-slurm.sh")], capture_output=True, text=True, timeout=900
        )
    started = start.stdout.strip().splitlines()[-1].removeprefix("started:").split() if start.returncode == 0 else []
    try:
        if start.returncode in (2, 3, 4):  # not root / packages unavailable / another SLURM installed here
            pytest.skip(f"no local SLURM cluster: {start.stderr.strip().splitlines()[-1]}")
        assert start.returncode == 0, f"start-local-slurm.sh failed:\n{_tail(start.stderr)}"
        print(f"local SLURM cluster ready in {time.time() - t0:.0f} s (started: {' '.join(started) or 'none'})")
        if not (PLUGIN_DIR / "snakemake_executor_plugin_slurm").is_dir():
            pip = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--target",
                    str(PLUGIN_DIR),
                    "-r",
                    str(TOOLS / "plugin-requirements.txt"),
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if pip.returncode != 0:
                pytest.skip(f"cannot install the SLURM executor plugin: {_tail(pip.stderr, 500)}")
        env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN_DIR), os.environ.get("PYTHONPATH")])),
        }
        yield env
    finally:
        _stop_when_last(started, users)
        users.close()


RUNNING: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _interrupt_leftover_runs():
    """A test that fails half-way leaves no Snakemake (nor its SLURM jobs) behind."""
    yield
    while RUNNING:
        proc = RUNNING.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def snakemake(workdir: Path, *args: str, env: dict, timeout: int) -> subprocess.Popen:
    """Start Snakemake on ``workdir`` (its config.yaml); output goes to workdir/snakemake.log."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        f"--configfile={workdir / 'config.yaml'}",
        *args,
    ]
    log = open(workdir / "snakemake.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    proc.deadline = time.time() + timeout
    proc.logfile = workdir / "snakemake.log"
    RUNNING.append(proc)
    return proc


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    """Wait for a run until its deadline; past it SIGINT (Snakemake cancels its SLURM jobs), then KILL."""
    try:
        proc.wait(timeout=max(1, proc.deadline - time.time()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        pytest.fail(f"snakemake did not finish in time; stopped with SIGINT:\n{_tail(proc.logfile.read_text())}")
    return proc.returncode, proc.logfile.read_text()


def make_workdir(path: Path, run: str, models_: list[str], seeds: list[int], epochs: int) -> Path:
    """A workdir with a tiny generated CIFAR-10 archive and a config in the style of test_pipeline."""
    path.mkdir(parents=True)
    archive = write_tar(path / "tiny-cifar.tar.gz", official_files(make_arrays(n_batch=40, n_test=100)))
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg.update(
        run=run, stamp="tiny SLURM test run, not comparable with the paper", models=models_, seeds=seeds, overrides={}
    )
    cfg["data"].update(source=str(archive), sha256=io.file_digest(archive), val_size=50, cache_dir="data")
    cfg["train"].update(epochs=epochs, batch_size=32, threads=1, eval_batch_size=64, device="cpu")
    (path / "config.yaml").write_text(yaml.safe_dump(cfg))
    return path


def sacct(*args: str) -> list[dict]:
    fields = ["JobID", "JobName", "Partition", "State", "Timelimit", "ReqTRES", "AllocTRES", "Comment", "SubmitLine"]
    out = subprocess.run(
        ["sacct", "-n", "-P", "-S", "now-6hours", "-o", ",".join(fields), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return [dict(zip(fields, line.split("|", len(fields) - 1))) for line in out.splitlines() if line]


def run_id(log: str) -> str:
    return re.search(r"SLURM run ID: (\S+)", log).group(1)


def assert_same_training(a: Path, b: Path) -> None:
    """Same history (timings aside) and bit-identical selected weights."""
    ha = pd.read_csv(a / "history.csv").drop(columns=TIMING_COLUMNS)
    hb = pd.read_csv(b / "history.csv").drop(columns=TIMING_COLUMNS)
    pd.testing.assert_frame_equal(ha, hb)
    wa, wb = torch.load(a / "weights.pt", weights_only=True), torch.load(b / "weights.pt", weights_only=True)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def _queued_job(comment: str, name: str) -> str | None:
    """The id of the queued or running job of this run with this comment (sacct has the comment
    only once a job has ended)."""
    out = subprocess.run(["squeue", "-h", "-n", name, "-o", "%A|%k"], capture_output=True, text=True, timeout=30).stdout
    return next((job for job, c in (line.split("|", 1) for line in out.splitlines()) if c == comment), None)


def _squeue_state(job: str) -> str:
    return subprocess.run(
        ["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True, timeout=30
    ).stdout.strip()


def _to_minutes(limit: str) -> int:  # sacct Timelimit, [D-]HH:MM:SS
    days, _, hms = limit.rpartition("-")
    h, m, _ = map(int, hms.split(":"))
    return (int(days or 0) * 24 + h) * 60 + m


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_pipeline_on_slurm_survives_preemption_and_kills_and_equals_a_local_run(slurm, tmp_path):
    """The tiny pipeline through profiles/slurm (overrides: partition names, status-check timing).

    While it runs, the seed-0 training is requeued (preemption) and the seed-1 training is killed,
    each after its first checkpoint. The requeued job resumes by itself; the killed one fails and
    Snakemake submits it again (attempt 2, twice the time limit), and it resumes too. Every
    output equals that of an uninterrupted local run, and nothing finished is ever redone.

    The kill is `scancel --signal=TERM`, which ends the job FAILED like a crash or the OOM killer.
    A plain `scancel` is recorded as 'CANCELLED by <uid>', which the executor plugin (2.8.0) does
    not recognise: Snakemake would keep waiting (README, "Running on a cluster").
    """
    cluster = make_workdir(tmp_path / "slurm", "tiny", ["resnet20"], [0, 1], epochs=4)
    local = make_workdir(tmp_path / "local", "tiny", ["resnet20"], [0, 1], epochs=4)
    targets = [f"results/tiny/eval/resnet20/seed{s}/metrics.json" for s in (0, 1)]
    t0 = time.time()
    proc = snakemake(cluster, "--profile", str(REPO / "profiles" / "slurm"), *SITE, env=slurm, timeout=480)
    here = snakemake(
        local, "--profile", str(REPO / "profiles" / "local"), *targets, env={**slurm, "PYTHONPATH": ""}, timeout=480
    )

    name = _wait(
        "the SLURM run ID",
        lambda: (m := re.search(r"SLURM run ID: (\S+)", proc.logfile.read_text())) and m.group(1),
        60,
        proc,
    )
    ckpt = {s: cluster / f"results/tiny/checkpoints/resnet20-seed{s}.pt" for s in (0, 1)}
    comment = {s: f"rule_train_wildcards_resnet20_{s}" for s in (0, 1)}
    job: dict[int, str] = {}
    requeued_at = killed_at = None
    released = False

    def interrupt() -> bool:
        """One pass: requeue seed 0 / kill seed 1 once each has written its first checkpoint."""
        nonlocal requeued_at, killed_at, released
        for s in (0, 1):
            job[s] = job.get(s) or _queued_job(comment[s], name)
        if requeued_at is None and job[0] and ckpt[0].exists():
            subprocess.run(["scontrol", "requeue", job[0]], check=True, timeout=30)
            requeued_at = time.time()
        if killed_at is None and job[1] and ckpt[1].exists():
            subprocess.run(["scancel", "--signal=TERM", job[1]], check=True, timeout=30)
            killed_at = time.time()
        if requeued_at is not None and _squeue_state(job[0]) == "PENDING":
            # SLURM holds a requeued job for about 2 minutes (BeginTime): release it now
            released |= (
                subprocess.run(
                    ["scontrol", "update", f"jobid={job[0]}", "starttime=now"], capture_output=True, timeout=30
                ).returncode
                == 0
            )
        return requeued_at is not None and killed_at is not None

    _wait("both trainings to be interrupted after their first checkpoint", interrupt, 240, proc)
    _wait(
        "the requeued training to be released",
        lambda: interrupt() and released and _squeue_state(job[0]) != "PENDING",
        120,
        proc,
    )
    rc, log = finish(proc)
    assert rc == 0, _tail(log)
    elapsed = time.time() - t0
    rc_local, log_local = finish(here)
    assert rc_local == 0, _tail(log_local)

    # every job but the local rules went through sbatch; trainings with a GPU, on the GPU partition
    runs = sacct("-D", "-X", f"--name={name}")  # -D: every run of a requeued job too
    rules = [re.match(r"rule_([a-z_]+?)(_wildcards|$)", j["Comment"]).group(1) for j in runs]
    assert "model_info" in rules and rules.count("evaluate") == 2, rules
    assert "prepare_data" not in rules and "report" not in rules, "download and report run on the submitting host"
    for j in runs:
        is_train = j["Comment"].startswith("rule_train_")
        assert ("gres/gpu=1" in j["ReqTRES"] and "gres/gpu=1" in j["AllocTRES"]) == is_train, j
        assert j["Partition"] == ("gpu" if is_train else "main"), j
        assert is_train or j["State"] == "COMPLETED", j
    trains = {
        s: [
            (j["JobID"], j["State"].split()[0], _to_minutes(j["Timelimit"]), j["SubmitLine"])
            for j in runs
            if j["Comment"] == comment[s]
        ]
        for s in (0, 1)
    }
    # seed 0: one SLURM job, requeued once, then completed; seed 1: killed, then Snakemake's retry
    assert [(jid, st) for jid, st, *_ in trains[0]] == [(job[0], "REQUEUED"), (job[0], "COMPLETED")], trains[0]
    assert [st for _, st, *_ in trains[1]] == ["FAILED", "COMPLETED"] and trains[1][0][0] == job[1], trains[1]
    assert trains[1][1][2] == 2 * trains[1][0][2] and "--attempt 2" in trains[1][1][3], (
        "a retry gets twice the time limit"
    )
    assert f"SLURM-job '{job[1]}' failed, SLURM status is: 'FAILED'" in log
    line = trains[0][0][3]
    for flag in (
        "--gpus=1",
        "--cpus-per-gpu=1",
        "--mem 10000",
        "--requeue",
        "-p gpu",
        f"-t {trains[0][0][2]}",
        "/logs/slurm/rule_train/",
    ):
        assert flag in line, (flag, line)
    assert (cluster / "reports" / "tiny" / "report.pdf").stat().st_size > 0

    # both interrupted trainings resumed from a checkpoint, and every number equals the local run
    for s in (0, 1):
        out = cluster / f"results/tiny/train/resnet20/seed{s}"
        resumed = io.read_json(out / "train.json")["resumed_after_epoch"]
        assert 1 <= resumed < 4, (s, resumed)
        assert list(pd.read_csv(out / "history.csv")["epoch"]) == [1, 2, 3, 4]
        assert_same_training(out, local / f"results/tiny/train/resnet20/seed{s}")
        rel = f"results/tiny/eval/resnet20/seed{s}/metrics.json"
        assert io.read_json(cluster / rel) == io.read_json(local / rel)
        assert not ckpt[s].exists(), "the checkpoint is removed once the training has finished"

    # finished work is never redone
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(cluster),
            f"--configfile={cluster / 'config.yaml'}",
            "--profile",
            str(REPO / "profiles" / "slurm"),
            *SITE,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=slurm,
    )
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, _tail(
        again.stdout + again.stderr
    )
    print(f"\ntiny pipeline on SLURM with a requeue and a kill: {elapsed:.0f} s\n{trains[0][0][3][:330]}")
    print("\n".join("|".join(v for k, v in j.items() if k != "SubmitLine") for j in runs))


def _wait(what: str, cond, timeout: float, proc: subprocess.Popen):
    end = time.time() + timeout
    while time.time() < end:
        if value := cond():
            return value
        if proc.poll() is not None:
            pytest.fail(f"snakemake ended while waiting for {what}:\n{_tail(proc.logfile.read_text())}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slurm
@pytest.mark.timeout(300)
def test_impossible_gpu_request_fails_fast_with_a_clear_message(slurm, tmp_path):
    cluster = make_workdir(tmp_path / "slurm", "toomany", ["resnet20"], [0], epochs=1)
    t0 = time.time()
    proc = snakemake(
        cluster,
        "results/toomany/train/resnet20/seed0/train.json",
        "--profile",
        str(REPO / "profiles" / "slurm"),
        *(a for a in SITE if a != "train:gpu=1"),  # a later --set-resources would replace SITE's whole list
        "--set-resources",
        "train:slurm_partition=gpu",
        "train:gpu=3",
        env=slurm,
        timeout=180,
    )
    rc, log = finish(proc)
    elapsed = time.time() - t0
    assert rc != 0
    assert "Requested node configuration is not available" in log and "--gpus=3" in log, _tail(log)
    assert elapsed < 120, f"took {elapsed:.0f} s"
    # sbatch refused every attempt (1 + the profile's 2 retries) at once: nothing ran or waits;
    # each retry asked for a longer time limit (attempt x the first)
    assert log.count("Error in rule train:") == 3, _tail(log)
    limits = [int(t) for t in re.findall(r"sbatch --parsable .*? -t (\d+) ", log)]
    assert len(limits) == 3 and limits == [limits[0], 2 * limits[0], 3 * limits[0]], limits
    assert all(j["State"] == "FAILED" for j in sacct("-X", f"--name={run_id(log)}"))
    assert (
        shutil.which("squeue")
        and not subprocess.run(["squeue", "-h", "-n", run_id(log)], capture_output=True, text=True).stdout.strip()
    )
