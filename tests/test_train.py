"""Training engine: schedule, augmentation, outputs, NaN handling, and exact resumption after a kill."""

import json
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import torch

from resrepro import config, device, errors, outputs, train

RECIPE = config.validate(
    {
        "run": "t",
        "models": ["resnet20"],
        "seeds": [0],
        "data": {},
        "train": {"epochs": 2, "batch_size": 32, "threads": 1},
    }
)["train"]


def tiny(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10


def fit(tmp_path, recipe=RECIPE, model="resnet20", train_set=None, val_set=None, ckpt="c.pt", test_set=None):
    """One quiet training on the tiny data in tmp_path (the shape every test below shares)."""
    train_set = tiny() if train_set is None else train_set
    val_set = tiny(20, 1) if val_set is None else val_set
    return train.train(
        model,
        recipe,
        train_set,
        val_set,
        seed=0,
        out_dir=tmp_path,
        checkpoint=tmp_path / ckpt,
        progress=False,
        test_set=test_set,
    )


def test_lr_schedule():
    r = dict(RECIPE, epochs=10, lr=0.1, schedule="cosine", warmup_epochs=0)
    assert train.lr_at(0, 100, r) == pytest.approx(0.1)
    assert train.lr_at(500, 100, r) == pytest.approx(0.05)
    assert train.lr_at(999, 100, r) < 1e-4
    w = dict(r, warmup_epochs=1, warmup_lr=0.01)
    assert train.lr_at(99, 100, w) == 0.01 and train.lr_at(100, 100, w) == pytest.approx(0.1)
    m = dict(r, schedule="multistep", milestones=[5, 8], gamma=0.1)
    assert [round(train.lr_at(e * 100, 100, m), 6) for e in (0, 4, 5, 8, 9)] == [0.1, 0.1, 0.01, 0.001, 0.001]


def test_augment_is_a_crop_of_the_padded_image_and_a_flip():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.int64).remainder(251).to(torch.uint8).view(2, 3, 32, 32)
    assert torch.equal(train.augment(x, 0, False, torch.Generator().manual_seed(0)), x)
    gen = torch.Generator().manual_seed(1)
    out = train.augment(x, 4, False, gen)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(2):
        windows = [
            (dy, dx)
            for dy in range(9)
            for dx in range(9)
            if torch.equal(out[i], padded[i, :, dy : dy + 32, dx : dx + 32])
        ]
        assert windows, "each output must be a 32x32 window of the zero-padded input"
    flipped = train.augment(x.repeat(50, 1, 1, 1), 0, True, torch.Generator().manual_seed(2))
    n_flipped = sum(torch.equal(f, x[i % 2].flip(2)) for i, f in enumerate(flipped))
    assert 25 < n_flipped < 75


def test_training_writes_history_weights_and_summary(tmp_path):
    s = fit(tmp_path, ckpt="ckpt.pt")
    h = pd.read_csv(tmp_path / "history.csv")
    assert tuple(h.columns) == outputs.HISTORY_COLUMNS and len(h) == 2
    assert (h["images_per_second"] > 0).all() and h["val_acc"].between(0, 1).all()
    assert s["selected_epoch"] in (1, 2) and s["device"] == "cpu" and s["precision"] == "fp32"
    assert json.loads((tmp_path / "train.json").read_text())["selected_val_acc"] == pytest.approx(h["val_acc"].max())
    assert set(torch.load(tmp_path / "weights.pt", weights_only=True)) >= {"conv1.weight", "fc.bias"}
    assert not (tmp_path / "ckpt.pt").exists(), "the checkpoint is removed once the job has succeeded"


def test_the_test_curve_changes_no_weight_and_goes_to_the_history_only(tmp_path):
    """train.test_curve on or off: bit-identical weights and training columns (the test pass draws no random
    numbers and selects nothing); with it on, history.csv gains test_acc and test_seconds, and nothing else does."""
    test_set = tiny(30, 2)
    on = fit(tmp_path / "on", test_set=test_set)
    off = fit(tmp_path / "off", dict(RECIPE, test_curve=False), test_set=test_set)
    none = fit(tmp_path / "none")  # the curve on, but no test set given (a caller without one)
    a, b, c = (torch.load(tmp_path / d / "weights.pt", weights_only=True) for d in ("on", "off", "none"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)
    ha, hb = (pd.read_csv(tmp_path / d / "history.csv") for d in ("on", "off"))
    assert tuple(ha.columns) == outputs.HISTORY_COLUMNS + outputs.HISTORY_TEST_COLUMNS
    assert tuple(hb.columns) == outputs.HISTORY_COLUMNS
    training = ["train_loss", "train_acc", "val_loss", "val_acc", "lr"]
    assert ha[training].equals(hb[training]) and on["selected_epoch"] == off["selected_epoch"]
    assert ha["test_acc"].between(0, 1).all() and (ha["test_seconds"] > 0).all()
    assert on["test_curve"] and not off["test_curve"] and not none["test_curve"]


def test_the_epoch_time_excludes_the_test_pass(tmp_path, monkeypatch):
    """epoch_seconds (Table 2's time per epoch) is the training epoch alone: a slow test pass is not in it."""
    predict, pause = train.predict, 2.0

    def slow_predict(model, x, *args):
        if len(x) == 30:  # the test set only (training batches are 32, validation 20)
            time.sleep(pause)
        return predict(model, x, *args)

    monkeypatch.setattr(train, "predict", slow_predict)
    fit(tmp_path, dict(RECIPE, epochs=1), test_set=tiny(30, 2))
    h = pd.read_csv(tmp_path / "history.csv")
    assert h.loc[0, "test_seconds"] >= pause and h.loc[0, "epoch_seconds"] < pause


def test_non_finite_loss_names_epoch_and_step(tmp_path):
    recipe = dict(RECIPE, lr=1e30, epochs=1)
    with pytest.raises(train.NonFiniteLoss, match=r"epoch 1, step \d+ of 2.*Lower train.lr"):
        fit(tmp_path, recipe)
    assert not (tmp_path / "weights.pt").exists() and not (tmp_path / "history.csv").exists()


SCRIPT = textwrap.dedent(
    """
    import json, sys, numpy as np
    from resrepro import train
    d = np.load(sys.argv[1]); recipe = json.loads(sys.argv[2])
    train.train("resnet20", recipe, (d["x"], d["y"]), (d["vx"], d["vy"]), seed=3,
                out_dir=sys.argv[3], checkpoint=sys.argv[4], progress=False, test_set=(d["tx"], d["ty"]))
    """
)


def run_training(tmp_path, out, kill_after_checkpoint=False):
    data = tmp_path / "d.npz"
    if not data.exists():
        (x, y), (vx, vy), (tx, ty) = tiny(256), tiny(40, 1), tiny(30, 2)
        np.savez(data, x=x, y=y, vx=vx, vy=vy, tx=tx, ty=ty)
    recipe = json.dumps(dict(RECIPE, epochs=4))
    ckpt = tmp_path / f"{out}.ckpt"
    cmd = [sys.executable, "-c", SCRIPT, str(data), recipe, str(tmp_path / out), str(ckpt)]
    if not kill_after_checkpoint:
        subprocess.run(cmd, check=True, timeout=300)
        return
    proc = subprocess.Popen(cmd)
    deadline = time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (tmp_path / out / "weights.pt").exists()
    state = torch.load(ckpt, weights_only=True)
    assert 1 <= state["epoch"] < 4
    subprocess.run(cmd, check=True, timeout=300)  # resumes from the checkpoint


@pytest.mark.slow
def test_killed_job_resumes_to_identical_weights_and_metrics(tmp_path):
    run_training(tmp_path, "straight")
    run_training(tmp_path, "killed", kill_after_checkpoint=True)
    a = torch.load(tmp_path / "straight" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "weights.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    cols = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "test_acc"]  # the test curve too
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "straight" / "history.csv")[cols], pd.read_csv(tmp_path / "killed" / "history.csv")[cols]
    )
    assert json.loads((tmp_path / "killed" / "train.json").read_text())["resumed_after_epoch"] >= 1


def test_checkpoint_of_another_configuration_is_ignored(tmp_path, capsys):
    ckpt = tmp_path / "c.pt"
    torch.save({"key": "something else", "epoch": 1}, ckpt)
    fit(tmp_path, dict(RECIPE, epochs=1), ckpt=ckpt.name)
    assert "belongs to another configuration" in capsys.readouterr().err


def test_device_selection():
    assert device.select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device.select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(errors.NoGPUError, match="CUDA is not usable.*fix: .*train.device: cpu"):
            device.select_device("cuda")


def test_compile_warm_up_leaves_training_unchanged(tmp_path, monkeypatch):
    """The compile warm-up (every batch shape, before epoch 1) restores weights, buffers and optimizer state.

    torch.compile is replaced by the identity here (compiling on the CPU takes minutes), so the warm-up
    runs its steps on the eager model: a run with it must end bit-identical to a run without it.
    """
    data, val = tiny(72), tiny(20, 1)  # 72 = 2 x 32 + 8: two batch shapes per epoch
    plain = fit(tmp_path / "a", train_set=data, val_set=val, ckpt="ckpt.pt")
    monkeypatch.setattr(torch, "compile", lambda model, **kw: model)
    warmed = fit(tmp_path / "b", dict(RECIPE, compile=True), train_set=data, val_set=val, ckpt="ckpt.pt")
    assert plain["compile_seconds"] is None and warmed["compile_seconds"] > 0
    a, b = (torch.load(tmp_path / d / "weights.pt", weights_only=True) for d in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    ha, hb = (pd.read_csv(tmp_path / d / "history.csv") for d in ("a", "b"))
    assert ha[["train_loss", "train_acc", "val_loss", "val_acc"]].equals(
        hb[["train_loss", "train_acc", "val_loss", "val_acc"]]
    )


def test_warm_up_restores_the_optimizer_state():
    model = train.build_model("resnet20", torch.device("cpu"), RECIPE)
    opt = train.build_optimizer(model, RECIPE, torch.device("cpu"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = train.to_input(train.to_device(*tiny(8), torch.device("cpu"))[0])
    seconds = train.warm_up(model, opt, x, torch.arange(8) % 10, RECIPE, [8, 3])
    assert seconds > 0 and not opt.state_dict()["state"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_cpu_threads_never_exceed_the_cores(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: {0, 1})
        assert device.set_cpu_threads(8) == 2 and torch.get_num_threads() == 2
        assert device.set_cpu_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_failing_compiler_gives_a_clear_error(tmp_path, monkeypatch):
    class Broken(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self._orig_mod = model

        def forward(self, x):
            raise RuntimeError("InductorError: no working C++ compiler found")

    monkeypatch.setattr(torch, "compile", lambda model, **kw: Broken(model))
    with pytest.raises(
        train.ResreproError, match="torch.compile .* failed: RuntimeError: InductorError.*train.compile: false"
    ):
        fit(tmp_path, dict(RECIPE, compile=True), train_set=tiny(40))


def test_he_warm_up_rule_holds_the_low_lr_until_training_error_falls_below_the_limit(tmp_path):
    r = dict(RECIPE, warmup_until_train_error=80.0, warmup_lr=0.01, lr=0.1, schedule="constant")
    assert train.still_warming([], r), "the first epoch always warms up"
    assert train.still_warming([{"train_acc": 0.15}], r) and not train.still_warming(
        [{"train_acc": 0.15}, {"train_acc": 0.25}], r
    )
    assert not train.still_warming([], dict(r, warmup_until_train_error=None))
    assert train.lr_at(500, 10, r, warming=True) == 0.01 and train.lr_at(500, 10, r) == 0.1
    # in the loop: a limit no net reaches keeps every epoch at warmup_lr (the history's lr column)
    fit(tmp_path, dict(r, warmup_until_train_error=1e-9))
    assert (pd.read_csv(tmp_path / "history.csv")["lr"] == 0.01).all()


def test_gradient_flow_on_a_net_without_he_blocks_is_refused_with_the_fix(tmp_path):
    recipe = dict(RECIPE, epochs=1, gradflow_epochs=[0])
    with pytest.raises(train.ResreproError, match="no residual blocks to measure"):
        fit(tmp_path, recipe, model="vgg16")
