"""The fault matrix, checkpoint rows: a checkpoint that cannot lie, writes that a kill cannot tear.

Each fault is driven through the real command line (``resrepro train`` / ``resrepro evaluate``, in
process through ``resrepro.cli.main`` or as a subprocess that is really killed) on a tiny generated
archive (tests/archives.py). What must hold: a checkpoint of other data, a damaged one or a malicious
one is never resumed, it is moved aside (never deleted) with a message naming the file and the reason;
a kill (SIGKILL mid-epoch or mid-write, SIGINT) loses at most the epoch under way, and the rerun ends
with weights.pt byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from archives import make_arrays, official_files, write_tar

import resrepro
from resrepro import checkpoints, config
from resrepro.cli import main
from resrepro.io import file_digest

EPOCHS = 3


class Killed(BaseException):
    """Stands for a kill right after a checkpoint write: no `except Exception` in the code under test stops it."""


def prepare(root: Path, seed: int = 0) -> dict:
    """A tiny archive prepared by the data stage (`resrepro data`) into root/cache; its config."""
    src = write_tar(root / f"cifar-{seed}.tar.gz", official_files(make_arrays(n_batch=10, n_test=10, seed=seed)))
    cache = root / "cache"
    assert main(["data", "--cache", str(cache), "--source", str(src), "--sha256", file_digest(src)]) == 0
    return config.validate(
        {
            "run": "ckpt",
            "models": ["resnet20"],
            "seeds": [0],
            "data": {"source": str(src), "sha256": file_digest(src), "cache_dir": str(cache), "val_size": 10},
            "train": {"epochs": EPOCHS, "batch_size": 20, "threads": 1, "device": "cpu"},
        }
    )


def train_args(cfg: dict, out: Path, ckpt: Path) -> list[str]:
    return [
        "train", "--model", "resnet20", "--seed", "0", "--cache", cfg["data"]["cache_dir"],
        "--data", json.dumps(cfg["data"]), "--recipe", json.dumps(config.recipe_for(cfg, "resnet20")),
        "--out-dir", str(out), "--checkpoint", str(ckpt), "--no-progress",
    ]  # fmt: skip


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def summary(out: Path) -> dict:
    return json.loads((out / "train.json").read_text())


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The prepared data, its config, and the uninterrupted training every fault must end up equal to."""
    root = tmp_path_factory.mktemp("ckpt")
    cfg = prepare(root)
    assert main(train_args(cfg, root / "straight", root / "straight.pt")) == 0
    return root, cfg, sha(root / "straight" / "weights.pt")


def interrupt_after(monkeypatch, epoch: int) -> None:
    """Make the train job stop dead right after it has written the checkpoint of ``epoch``."""
    real = checkpoints.save

    def save(path, obj):
        real(path, obj)
        if isinstance(obj, dict) and obj.get("epoch") == epoch:
            raise Killed

    monkeypatch.setattr(checkpoints, "save", save)


@pytest.fixture(scope="module")
def after_epoch_1(setup):
    """A real checkpoint written after epoch 1 of the straight run's training (then the job stopped)."""
    root, cfg, _ = setup
    with pytest.MonkeyPatch.context() as mp:
        interrupt_after(mp, 1)
        with pytest.raises(Killed):
            main(train_args(cfg, root / "stopped", root / "stopped.pt"))
    assert torch.load(root / "stopped.pt", weights_only=True)["epoch"] == 1
    return root / "stopped.pt"


# --------------------------------------------------------------------------------------------------
# the same bytes, and the same result after a resume
# --------------------------------------------------------------------------------------------------


def test_two_identical_trainings_write_byte_identical_weights(setup, tmp_path):
    root, cfg, straight = setup
    assert main(train_args(cfg, tmp_path / "again", tmp_path / "again.pt")) == 0
    assert sha(tmp_path / "again" / "weights.pt") == straight, "torch.save must not name its records after a tmp file"
    assert not list(tmp_path.rglob("*.part")) and not (tmp_path / "again.pt").exists()


def test_a_resumed_checkpoint_ends_with_the_straight_runs_bytes(setup, after_epoch_1, tmp_path, capsys):
    root, cfg, straight = setup
    shutil.copy(after_epoch_1, tmp_path / "c.pt")
    capsys.readouterr()
    assert main(train_args(cfg, tmp_path / "out", tmp_path / "c.pt")) == 0
    assert "resuming resnet20 seed 0 after epoch 1" in capsys.readouterr().err
    assert summary(tmp_path / "out")["resumed_after_epoch"] == 1
    assert sha(tmp_path / "out" / "weights.pt") == straight


# --------------------------------------------------------------------------------------------------
# a checkpoint of other data: moved aside, training starts again from epoch 1 and says why
# --------------------------------------------------------------------------------------------------


def test_a_checkpoint_of_other_data_is_moved_aside_and_training_starts_again_from_epoch_1(
    tmp_path, monkeypatch, capsys
):
    cfg = prepare(tmp_path, seed=0)
    out, ckpt = tmp_path / "out", tmp_path / "c.pt"
    interrupt_after(monkeypatch, 2)  # killed after epoch 2
    with pytest.raises(Killed):
        main(train_args(cfg, out, ckpt))
    monkeypatch.undo()
    written = ckpt.read_bytes()
    switched = prepare(tmp_path, seed=1)  # data.source switched to another archive: the cache is rebuilt
    assert switched["data"]["source"] != cfg["data"]["source"]
    capsys.readouterr()
    assert main(train_args(switched, out, ckpt)) == 0
    err = capsys.readouterr().err
    assert f"checkpoint {ckpt} is not resumed: it belongs to another configuration" in err
    assert "the prepared data (sha256" in err and "training starts again from epoch 1" in err
    assert "resuming" not in err
    assert summary(out)["resumed_after_epoch"] == 0
    assert (ckpt.parent / "c.pt.rejected-mismatch").read_bytes() == written, "moved aside, never deleted"
    import pandas as pd

    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == list(range(1, EPOCHS + 1))


# --------------------------------------------------------------------------------------------------
# an unreadable, malformed or malicious checkpoint: moved aside naming the file, training proceeds
# --------------------------------------------------------------------------------------------------


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def damaged(kind: str, good: Path, dest: Path) -> str:
    """Write a checkpoint damaged in the way ``kind`` says to ``dest``; return the reason expected."""
    blob = good.read_bytes()
    if kind == "truncated":
        dest.write_bytes(blob[: len(blob) // 2])
    elif kind == "not a zip":
        dest.write_bytes(b"this is not a checkpoint\n" * 40)
    elif kind == "empty":
        dest.write_bytes(b"")
    elif kind == "wrong structure":
        torch.save([1, 2, 3], dest)
    elif kind == "another model's state":  # the right key, a state that does not fit resnet20
        state = torch.load(good, weights_only=True)
        state["model"] = {"conv.weight": torch.zeros(3)}
        torch.save(state, dest)
    elif kind == "malicious pickle in the zip":
        torch.save({"key": _Evil(dest.parent / "pwned")}, dest)
    elif kind == "malicious plain pickle":
        dest.write_bytes(pickle.dumps({"key": _Evil(dest.parent / "pwned")}))
    return {
        "truncated": "unreadable",
        "not a zip": "unreadable",
        "empty": "unreadable",
        "wrong structure": "malformed",
        "another model's state": "malformed",
    }.get(kind, "unsafe")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize(
    "kind",
    [
        "truncated",
        "not a zip",
        "empty",
        "wrong structure",
        "another model's state",
        "malicious pickle in the zip",
        "malicious plain pickle",
    ],
)
def test_a_damaged_checkpoint_is_moved_aside_naming_the_file_and_training_gives_the_straight_result(
    setup, after_epoch_1, kind, tmp_path, capsys
):
    root, cfg, straight = setup
    ckpt = tmp_path / "c.pt"
    reason = damaged(kind, after_epoch_1, ckpt)
    written = ckpt.read_bytes()
    capsys.readouterr()
    assert main(train_args(cfg, tmp_path / "out", ckpt)) == 0
    err = capsys.readouterr().err
    assert f"checkpoint {ckpt} is not resumed" in err and "training starts again from epoch 1" in err
    assert f"moved aside to c.pt.rejected-{reason}" in err
    if reason == "unsafe":
        assert "refused unread" in err and "weights_only=True" in err
    assert "Traceback" not in err and "resuming" not in err
    assert (tmp_path / f"c.pt.rejected-{reason}").read_bytes() == written, "moved aside, never deleted"
    assert not (tmp_path / "pwned").exists(), "nothing in a checkpoint is ever executed"
    assert summary(tmp_path / "out")["resumed_after_epoch"] == 0
    assert sha(tmp_path / "out" / "weights.pt") == straight


@pytest.mark.parametrize("kind", ["malicious pickle in the zip", "truncated"])
def test_evaluate_refuses_malicious_or_truncated_weights_naming_the_file(setup, kind, tmp_path, capsys):
    root, cfg, _ = setup
    weights = tmp_path / "weights.pt"
    damaged(kind, root / "straight" / "weights.pt", weights)
    args = ["evaluate", "--model", "resnet20", "--cache", cfg["data"]["cache_dir"], "--data", json.dumps(cfg["data"])]
    assert main([*args, "--weights", str(weights), "--out-dir", str(tmp_path / "eval"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"cannot load the weights {weights}" in err and "fix:" in err
    assert ("refused unread" if kind != "truncated" else "cannot be read") in err
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "eval" / "metrics.json").exists()


def test_a_part_left_by_a_killed_writer_is_removed_by_the_next_write_and_a_live_writers_is_kept(
    setup, tmp_path, capsys
):
    root, cfg, _ = setup
    out = tmp_path / "eval"
    kill_mid_write = (
        "import os, signal, sys\nfrom resrepro import io\n"
        "with io.atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('{half')\n    os.kill(os.getpid(), signal.SIGKILL)"
    )
    proc = subprocess.run([sys.executable, "-c", kill_mid_write, str(out / "metrics.json")], env=child_env())
    assert proc.returncode == -signal.SIGKILL
    (dead,) = out.glob(".metrics.json.*.part")
    live = out / f".metrics.json.{os.getpid()}-{resrepro.io._HOST}.abcdefgh.part"  # a writer still running
    live.write_text("{")
    args = ["evaluate", "--model", "resnet20", "--cache", cfg["data"]["cache_dir"], "--data", json.dumps(cfg["data"])]
    weights = root / "straight" / "weights.pt"
    capsys.readouterr()
    assert main([*args, "--weights", str(weights), "--out-dir", str(out), "--device", "cpu"]) == 0
    assert f"removed {dead}: a partial write of metrics.json left by an interrupted job" in capsys.readouterr().err
    assert not dead.exists() and live.exists()
    assert json.loads((out / "metrics.json").read_text())["n"] == 10


# --------------------------------------------------------------------------------------------------
# real kills: SIGKILL mid-epoch, SIGKILL mid-checkpoint-write, SIGINT
# --------------------------------------------------------------------------------------------------

# the train job in a subprocess, held (never racing the clock) at a point where the test kills it:
# "mid-epoch": epoch 2 has trained its steps but is not validated nor checkpointed;
# "mid-write": half of epoch 2's checkpoint is in its .part file
JOB = textwrap.dedent(
    """
    import io, os, signal, sys, time
    from pathlib import Path
    from resrepro import checkpoints, cli, train
    where, ready = sys.argv[1], Path(sys.argv[2])
    real_validate, real_save, calls = train.validate, checkpoints.save, []

    def hold():
        ready.write_text("ready")
        time.sleep(120)

    def validate(*a, **k):
        calls.append(1)
        if where == "mid-epoch" and len(calls) == 2:
            hold()
        return real_validate(*a, **k)

    def save(path, obj):
        if where == "mid-write" and isinstance(obj, dict) and obj.get("epoch") == 2:
            import torch
            buf = io.BytesIO()
            torch.save(obj, buf)
            with checkpoints.io.atomic_path(path) as tmp, open(tmp, "wb") as f:
                f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                f.flush()
                hold()
        return real_save(path, obj)

    train.validate, checkpoints.save = validate, save
    sys.exit(cli.main(sys.argv[3:]))
    """
)


def child_env() -> dict:
    """The environment of a subprocess that imports this checkout's resrepro."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(resrepro.__file__).parents[1]), *sys.path]))


def killed_job(cfg: dict, tmp_path: Path, where: str, sig: int) -> tuple[Path, Path, int]:
    """Run `resrepro train` in a subprocess, hold it at ``where``, send ``sig``; (out dir, checkpoint, rc)."""
    out, ckpt, ready = tmp_path / "out", tmp_path / "c.pt", tmp_path / "ready"
    cmd = [sys.executable, "-c", JOB, where, str(ready), *train_args(cfg, out, ckpt)]
    proc = subprocess.Popen(cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while not ready.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert ready.exists(), f"the job never reached {where}: {proc.communicate(timeout=60)[0][-2000:]}"
    proc.send_signal(sig)
    output = proc.communicate(timeout=120)[0]
    assert not (out / "weights.pt").exists(), output[-2000:]
    return out, ckpt, proc.returncode


def test_sigkill_mid_epoch_resumes_after_the_last_epoch_to_the_straight_runs_bytes(setup, tmp_path, capsys):
    root, cfg, straight = setup
    out, ckpt, rc = killed_job(cfg, tmp_path, "mid-epoch", signal.SIGKILL)
    assert rc == -signal.SIGKILL and torch.load(ckpt, weights_only=True)["epoch"] == 1
    capsys.readouterr()
    assert main(train_args(cfg, out, ckpt)) == 0
    assert "resuming resnet20 seed 0 after epoch 1" in capsys.readouterr().err
    assert sha(out / "weights.pt") == straight


def test_sigkill_mid_checkpoint_write_keeps_the_previous_checkpoint_and_the_rerun_removes_the_part(
    setup, tmp_path, capsys
):
    root, cfg, straight = setup
    out, ckpt, rc = killed_job(cfg, tmp_path, "mid-write", signal.SIGKILL)
    assert rc == -signal.SIGKILL
    parts = list(tmp_path.glob(".c.pt.*.part"))
    assert len(parts) == 1, "the kill left the half-written checkpoint in its .part"
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1, "the previous checkpoint is intact"
    capsys.readouterr()
    assert main(train_args(cfg, out, ckpt)) == 0
    err = capsys.readouterr().err
    assert f"removed {parts[0]}: a partial write of c.pt left by an interrupted job" in err
    assert "resuming resnet20 seed 0 after epoch 1" in err
    assert not list(tmp_path.rglob("*.part")) and sha(out / "weights.pt") == straight


def test_sigint_mid_epoch_leaves_the_last_checkpoint_and_no_part_and_the_rerun_resumes(setup, tmp_path, capsys):
    root, cfg, straight = setup
    out, ckpt, rc = killed_job(cfg, tmp_path, "mid-epoch", signal.SIGINT)
    assert rc != 0 and torch.load(ckpt, weights_only=True)["epoch"] == 1
    assert not list(tmp_path.rglob("*.part"))
    capsys.readouterr()
    assert main(train_args(cfg, out, ckpt)) == 0
    assert "resuming resnet20 seed 0 after epoch 1" in capsys.readouterr().err
    assert sha(out / "weights.pt") == straight


def test_every_write_fsyncs_its_file_before_the_rename_and_then_the_folder(tmp_path, monkeypatch):
    from resrepro import io

    events, fsync, replace = [], os.fsync, os.replace

    def recorded_fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def recorded_replace(src, dst):
        events.append(("replace", str(src)))
        replace(src, dst)

    monkeypatch.setattr(io.os, "fsync", recorded_fsync)
    monkeypatch.setattr(io.os, "replace", recorded_replace)
    out = tmp_path / "models.json"
    assert main(["models", "--models", "resnet20", "--out", str(out)]) == 0
    (_, part), (_, renamed), (_, folder) = events
    assert events[0][0] == "fsync" and part == renamed and Path(part).name.startswith(".models.json.")
    assert events[2][0] == "fsync" and folder == str(tmp_path) and len(json.loads(out.read_text())) == 1


# a CUDA bf16 compiled checkpoint resumed on the CPU, in fp32, eagerly, or under another torch: each a new key
ENGINE_VARIANTS = [("device", "cpu"), ("bf16", False), ("compiled", False), ("torch", "2.15.0")]


def test_the_checkpoint_key_changes_with_each_thing_that_decides_the_training():
    recipe = dict(config.validate({"run": "k", "models": ["resnet20"], "seeds": [0], "data": {}, "train": {}})["train"])
    data = {"val_size": 10, "split_seed": 0, "train_subset": None, "val_subset": None, "test_subset": None}
    data["prepared_sha256"] = "a" * 64
    engine = {"device": "cuda", "bf16": True, "compiled": True, "torch": "2.14.1"}
    base = checkpoints.identity("resnet20", 0, recipe, data, engine)
    variants = [
        checkpoints.identity("resnet32", 0, recipe, data),
        checkpoints.identity("resnet20", 1, recipe, data),
        checkpoints.identity("resnet20", 0, dict(recipe, lr=recipe["lr"] / 2), data),
        *(checkpoints.identity("resnet20", 0, recipe, dict(data, **{k: 7})) for k in checkpoints.SPLIT_KEYS),
        checkpoints.identity("resnet20", 0, recipe, dict(data, prepared_sha256="b" * 64)),
        *(checkpoints.identity("resnet20", 0, recipe, data, dict(engine, **{k: v})) for k, v in ENGINE_VARIANTS),
    ]
    assert "test_subset" in checkpoints.SPLIT_KEYS  # the test curve, recorded in the checkpoint's history
    variants = [v for v in variants if v is not None]
    keys = {config.digest(i) for i in [base, *variants]}
    assert len(keys) == len(variants) + 1
