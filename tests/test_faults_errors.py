"""The fault matrix, error-path rows: every expected failure ends with `error:` and `fix:` lines, its own
exit code (resrepro.errors) and no traceback; outputs are checked before training; Snakemake's plain run
reruns incomplete jobs, shows failed logs and names --unlock after a kill.

Each fault is driven through the real command line (``resrepro.cli.main`` or ``python -m resrepro``) or
Snakemake, on tiny generated archives (tests/archives.py).
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from archives import make_arrays, official_files, write_tar

from resrepro import config, io
from resrepro.cli import main
from resrepro.errors import EXIT_CODES

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
}


def failure(capsys, argv: list[str]) -> tuple[int, str]:
    """Exit code and stderr of a resrepro command that must fail through the error path."""
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert ": error: " in lines[-2] and ": fix: " in lines[-1], err
    return code, err


# --------------------------------------------------------------------------------------------
# malformed result files


def write_results(root: Path) -> Path:
    """A one-job results folder as train and evaluate leave it, for `resrepro tables`."""
    results = root / "results"
    io.write_json(results / "models.json", [{"model": "resnet20", "params": 1, "flops_per_image": 2}])
    metrics = {"accuracy": 0.5, "precision_macro": 0.5, "recall_macro": 0.5, "f1_macro": 0.5, "n": 10}
    io.write_json(results / "eval" / "resnet20" / "seed0" / "metrics.json", metrics)
    io.write_json(
        results / "train" / "resnet20" / "seed0" / "train.json", {"images_per_second": 10.0, "device_name": "cpu"}
    )
    io.write_text(
        results / "train" / "resnet20" / "seed0" / "history.csv",
        "epoch,train_loss,train_acc,val_loss,val_acc,lr,epoch_seconds,images_per_second\n1,2,0.1,2,0.1,0.1,1.0,10\n",
    )
    return results


def tables_args(results: Path) -> list[str]:
    spec = {"models": ["resnet20"], "seeds": [0], "tolerance": 0.01, "stamp": None}
    return ["tables", "--results", str(results), "--paper", str(REPO / "reports" / "paper.yaml"),
            "--spec", json.dumps(spec), "--out-dir", str(results / "tables")]  # fmt: skip


def test_well_formed_results_give_tables(tmp_path):
    results = write_results(tmp_path)
    assert main(tables_args(results)) == 0
    assert (results / "tables" / "measured.json").is_file()


@pytest.mark.parametrize(
    "name, damage, expected",
    [
        ("eval/resnet20/seed0/metrics.json", lambda t: t.replace('"accuracy"', '"acc"'), "no key 'accuracy'"),
        ("eval/resnet20/seed0/metrics.json", lambda t: t[: len(t) // 2], "not valid JSON"),
        ("train/resnet20/seed0/train.json", lambda t: t.replace("images_per_second", "ips"), "'images_per_second'"),
        ("train/resnet20/seed0/history.csv", lambda t: t.replace("val_acc", "valacc"), "no column(s) 'val_acc'"),
    ],
)
def test_a_malformed_result_file_names_the_file_and_the_key(tmp_path, capsys, name, damage, expected):
    results = write_results(tmp_path)
    path = results / name
    path.write_text(damage(path.read_text()))
    code, err = failure(capsys, tables_args(results))
    assert code == EXIT_CODES["input"]
    assert expected in err and str(path) in err, err
    assert not (results / "tables" / "measured.json").exists()  # nothing written from a bad input


def test_a_missing_result_file_is_named_with_the_stage_to_run(tmp_path, capsys):
    results = write_results(tmp_path)
    (results / "models.json").unlink()
    code, err = failure(capsys, tables_args(results))
    assert code == EXIT_CODES["input"] and "no such file" in err and str(results / "models.json") in err


@pytest.mark.parametrize(
    "code, expected",
    [
        (errno.ENOSPC, "disk full"),
        (errno.EFBIG, "disk full"),
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "permission denied"),
    ],
)
def test_an_io_fault_during_a_write_names_its_kind_and_the_file(tmp_path, capsys, monkeypatch, code, expected):
    def fail(self, *a, **k):  # as write(2) fails: an OSError without a file name
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_text", fail)
    out = tmp_path / "models.json"
    status, err = failure(capsys, ["models", "--models", "resnet20", "--out", str(out)])
    assert status == EXIT_CODES["io"] and expected in err and str(out) in err, err
    assert not list(tmp_path.iterdir())  # no .part left


def test_a_bug_keeps_its_traceback(monkeypatch):
    from resrepro import cli

    def bug(a):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_catalog", bug)
    with pytest.raises(ZeroDivisionError):
        cli.main(["catalog"])


# --------------------------------------------------------------------------------------------
# the train command: bad arguments, unwritable outputs, a full disk


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("prepared")
    src = write_tar(root / "cifar-10-python.tar.gz", official_files(make_arrays(n_batch=20, n_test=20)))
    cache = root / "cache"
    assert main(["data", "--cache", str(cache), "--source", str(src), "--sha256", io.file_digest(src)]) == 0
    return config.validate(
        {
            "run": "faults",
            "models": ["resnet20"],
            "seeds": [0],
            "data": {"source": str(src), "sha256": io.file_digest(src), "cache_dir": str(cache), "val_size": 20},
            "train": {"epochs": 2, "batch_size": 40, "threads": 1, "device": "cpu"},
        }
    )


def train_args(cfg: dict, out: Path, checkpoint: Path | None = None, recipe: dict | None = None) -> list[str]:
    recipe = config.recipe_for(cfg, "resnet20") if recipe is None else recipe
    return [
        "train", "--model", "resnet20", "--seed", "0", "--cache", cfg["data"]["cache_dir"],
        "--data", json.dumps(cfg["data"]), "--recipe", json.dumps(recipe),
        "--out-dir", str(out), "--checkpoint", str(checkpoint or out.parent / "ckpt.pt"), "--no-progress",
    ]  # fmt: skip


def test_a_partial_recipe_is_refused_naming_what_it_lacks(prepared, tmp_path, capsys):
    code, err = failure(capsys, train_args(prepared, tmp_path / "train", recipe={"epochs": 1, "lr": 0.1}))
    assert code == EXIT_CODES["usage"]
    assert "--recipe is not the whole train section" in err and "batch_size" in err and "validate --print" in err
    assert not (tmp_path / "train").exists()


@pytest.fixture
def read_only(tmp_path):
    """A read-only folder: a read-only tmpfs where this user may mount one (root), else chmod 555."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                                                   capture_output=True).returncode == 0  # fmt: skip
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root without mount: a chmod would not stop root writing")
        folder.chmod(0o555)
    yield folder
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o755)


@pytest.mark.parametrize("which", ["out-dir", "checkpoint"])
def test_a_read_only_output_folder_fails_before_training(prepared, read_only, tmp_path, capsys, which):
    out, ckpt = tmp_path / "train", tmp_path / "ckpt" / "ckpt.pt"
    if which == "out-dir":
        out = read_only / "train"
    else:
        ckpt = read_only / "ckpt.pt"
    code, err = failure(capsys, train_args(prepared, out, ckpt))
    assert code == EXIT_CODES["io"]
    assert "read-only file system" in err or "permission denied" in err
    assert str(read_only) in err
    assert "epoch" not in capsys.readouterr().out + err  # no epoch trained, none to lose
    assert not ckpt.exists()


def _limit_file_size(limit: int):
    def preexec():  # in the child: a write past `limit` bytes fails with EFBIG instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_a_full_disk_during_the_checkpoint_write_says_disk_full_and_leaves_nothing_half_written(prepared, tmp_path):
    out, ckpt = tmp_path / "train", tmp_path / "ckpt" / "ckpt.pt"
    run = subprocess.run(
        [sys.executable, "-m", "resrepro", *train_args(prepared, out, ckpt)],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        preexec_fn=_limit_file_size(200_000),  # the checkpoint of resnet20 is about 2 MB
    )
    assert run.returncode == EXIT_CODES["io"], run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert "disk full" in run.stderr and str(ckpt) in run.stderr and "fix:" in run.stderr, run.stderr
    assert not ckpt.exists() and not list(ckpt.parent.glob("*.part"))  # the old file or none, never a torso
    # the same job, with room, completes
    assert main(train_args(prepared, out, ckpt)) == 0
    assert (out / "train.json").is_file()


# --------------------------------------------------------------------------------------------
# Snakemake: free text in the figures and report, provenance under -d, failed logs, a stale lock

STAMP = "tiny run: $a_b_c$ is not mathtext, $x^2$ costs \\$5, <b>bold</b> onerror=alert(1)"


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)


def tiny_workdir(workdir: Path, **cfg) -> Path:
    archive = write_tar(workdir / "tiny-cifar.tar.gz", official_files(make_arrays(n_batch=20, n_test=40)))
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    base.update(run="tiny", stamp=STAMP, models=["resnet20"], seeds=[0], overrides={}, **cfg)
    base["data"].update(source=str(archive), sha256=io.file_digest(archive), val_size=20, cache_dir="data")
    base["train"].update(epochs=1, batch_size=40, threads=1, eval_batch_size=40, device="cpu")
    (workdir / "config.yaml").write_text(yaml.safe_dump(base))
    return archive


def test_a_stamp_with_mathtext_draws_as_written_and_its_svg_inlines(tmp_path):
    from resrepro.figures import figure
    from resrepro.report import svg

    out = tmp_path / "f.svg"
    with figure((4, 3), out, tmp_path / "f.png", note=STAMP) as fig:  # wrapped, as the figures stage draws it
        fig.add_subplot().plot([1, 2])
    text = out.read_text()
    assert "onerror=alert(1)" in text  # matplotlib echoes the stamp in a comment: inert, not refused
    assert "onerror" not in svg.inline(text, "f-", "caption", out).split("-->")[-1]


@pytest.mark.parametrize(
    "body, refused",
    [
        ('<rect onload="alert(1)"/>', True),
        ("<script>alert(1)</script>", True),
        ('<a href="javascript:alert(1)"><text>x</text></a>', True),
        ("<!-- a onerror=alert(1) stamp --><rect/>", False),
        ("<text>a onerror=alert(1) stamp</text>", False),
        ('<g id="x"><title>onclick=1</title></g>', False),
    ],
)
def test_the_svg_check_refuses_handlers_in_tags_but_not_in_text_or_comments(tmp_path, body, refused):
    from resrepro import ResreproError
    from resrepro.report import svg

    text = f'<svg xmlns="http://www.w3.org/2000/svg" width="10pt" height="10pt">{body}</svg>'
    if refused:
        with pytest.raises(ResreproError, match="scripts or event handlers"):
            svg.inline(text, "f-", "caption", tmp_path / "f.svg")
    else:
        assert svg.inline(text, "f-", "caption", tmp_path / "f.svg").startswith("<svg")


@pytest.mark.slow
def test_a_stamp_with_mathtext_and_an_event_handler_reaches_figures_and_report_and_d_records_the_commit(tmp_path):
    tiny_workdir(tmp_path)
    run = snakemake(tmp_path, "--cores", "2")  # the README's plain command, from another folder (-d)
    assert run.returncode == 0, run.stderr[-4000:]
    results, report = tmp_path / "results" / "tiny", tmp_path / "reports" / "tiny"
    assert (results / "figures" / "curves.svg").stat().st_size > 0
    html = (report / "report.html").read_text()
    assert "$a_b_c$ is not mathtext, $x^2$ costs \\$5" in html  # as written
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    assert io.read_json(results / "provenance.json")["git"]["commit"] == commit


def test_a_failed_job_shows_its_log_in_a_plain_snakemake_run(tmp_path):
    archive = tiny_workdir(tmp_path)
    archive.write_bytes(b"not a gzip archive at all" * 40)  # its checksum, updated: the data stage refuses it
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    cfg["data"]["sha256"] = io.file_digest(archive)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    run = snakemake(tmp_path, "--cores", "1", "data/cifar10.json", timeout=300)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "workflow specific profile" in out  # profiles/default, read by Snakemake itself
    assert "resrepro data: error:" in out and "resrepro data: fix:" in out, out[-3000:]


@pytest.mark.slow
def test_a_kill_9_of_snakemake_leaves_a_lock_whose_message_names_unlock_and_an_incomplete_job_that_reruns(tmp_path):
    tiny_workdir(tmp_path)
    target = "results/tiny/models.json"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "--cores", "1"]
    proc = subprocess.Popen([*cmd, target], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    job_log = tmp_path / "results" / "tiny" / "logs" / "model_info.log"  # made by the job's shell: it runs
    deadline = time.time() + 120
    while not job_log.exists():
        assert proc.poll() is None and time.time() < deadline, "the job did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # Snakemake alone: its job goes on and writes its output
    proc.wait()
    output = tmp_path / target
    while not output.exists():
        assert time.time() < deadline, "the orphaned job did not finish"
        time.sleep(0.1)
    time.sleep(1)

    locked = snakemake(tmp_path, "--cores", "1", target, timeout=300)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    assert snakemake(tmp_path, "--unlock", timeout=300).returncode == 0
    # without the workflow profile, the incomplete output is refused; with it (plain snakemake), redone
    bare = snakemake(tmp_path, "--cores", "1", "--workflow-profile", "none", target, timeout=300)
    assert bare.returncode != 0 and "incomplete" in (bare.stdout + bare.stderr).lower()
    plain = snakemake(tmp_path, "--cores", "1", target, timeout=300)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert "rule model_info" in plain.stdout + plain.stderr or "localrule model_info" in plain.stdout + plain.stderr
    assert isinstance(io.read_json(output), list)
