"""Training: one loop, read top to bottom (in the spirit of nanoGPT and airbench).

Every hyperparameter comes from the recipe (config.yaml ``train`` + per-model ``overrides``).
The whole split lives on the training device as uint8; crop and flip are batched tensor ops
there; the model runs channels_last, under bf16 autocast on CUDA only (on a CPU without native
bf16 it is many times slower, so the CPU stays in fp32).

Determinism and resumption: the model is initialised from ``seed``, and every epoch draws its
shuffle and augmentation from a generator seeded by ``(seed, epoch)``. A checkpoint written
atomically after each epoch therefore lets a killed job resume from the last completed epoch and
finish with exactly the weights of an uninterrupted run (CPU). The model is selected on the
validation split (best validation accuracy), never on the test set.

The test curve (``train.test_curve``): with a test set given, the test accuracy after every epoch and the
seconds its pass took are written to history.csv (``test_acc``, its halves, ``test_seconds``) and nowhere else. They
select nothing (the selection reads only ``val_acc``), are timed apart from the epoch (``epoch_seconds``, the
time per epoch of Table 2, excludes them) and draw no random numbers (eval mode, no generator), so training is
bit-identical with the curve on or off. They let :mod:`resrepro.selection` measure what selecting on the test
set, as peers do, adds.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import ResreproError, catalog, checkpoints, gpus, io, models
from .config import digest
from .data import MEAN, STD  # CIFAR-10 train per-channel statistics (0..1 scale)
from .device import autocast, compiles, select_device, set_cpu_threads, synchronize, use_bf16
from .schedule import lr_at, still_warming
from .train_files import OUTPUT_NAMES, history_row, progress_line, run_summary, write_outputs


class NonFiniteLoss(ResreproError):
    pass


def augment(x: torch.Tensor, padding: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Random pad-and-crop and horizontal flip of a uint8 NCHW batch, as batched tensor ops."""
    n, _, h, w = x.shape
    if padding:
        padded = F.pad(x, (padding,) * 4).permute(0, 2, 3, 1)  # N, H+2p, W+2p, C
        dy = torch.randint(0, 2 * padding + 1, (n, 1, 1), device=x.device, generator=gen)
        dx = torch.randint(0, 2 * padding + 1, (n, 1, 1), device=x.device, generator=gen)
        rows = dy + torch.arange(h, device=x.device).view(1, h, 1)
        cols = dx + torch.arange(w, device=x.device).view(1, 1, w)
        x = padded[torch.arange(n, device=x.device).view(n, 1, 1), rows, cols].permute(0, 3, 1, 2)
    if flip:
        mirror = torch.rand(n, device=x.device, generator=gen) < 0.5
        x = torch.where(mirror.view(n, 1, 1, 1), x.flip(3), x)
    return x


def to_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW -> normalised float32, channels_last."""
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    x = (x.float() / 255.0 - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


def to_device(x: np.ndarray, y: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 NHWC numpy images and integer labels -> uint8 NCHW and int64 tensors on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).contiguous().to(device), torch.from_numpy(
        np.asarray(y, dtype=np.int64)
    ).to(device)


def build_model(name: str, device: torch.device, recipe: dict) -> torch.nn.Module:
    """The registry model on ``device``, channels_last, optionally ``torch.compile``d (config)."""
    model = models.create(name).to(device, memory_format=torch.channels_last)
    if compiles(recipe, device):
        # static shapes: the last, smaller batch of an epoch gets its own graph instead of turning every step dynamic
        model = torch.compile(
            model, mode=None if recipe["compile_mode"] == "default" else recipe["compile_mode"], dynamic=False
        )
    return model


def warm_up(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: dict,
    batch_sizes: list[int],
) -> float:
    """Compile (and record the CUDA graphs of) every batch shape of an epoch before training starts.

    Runs three steps per shape on the given (already augmented, normalised) batch, then restores
    the weights, buffers and optimizer state, so training is exactly as without the warm-up.
    Returns the seconds spent: the compile time, reported apart from the epochs' times.
    """
    import copy

    weights_of = getattr(model, "_orig_mod", model)
    saved_model, saved_optimizer = copy.deepcopy(weights_of.state_dict()), copy.deepcopy(optimizer.state_dict())
    synchronize(x.device)
    t0 = time.perf_counter()
    model.train()
    try:
        for n in batch_sizes:
            for _ in range(3):  # CUDA graph trees: a warm-up run, the recording, a first replay
                mark_step(recipe, x.device)
                train_step(model, optimizer, x[:n], y[:n], recipe)
    except Exception as e:  # inductor needs a C compiler and Triton: say how to train without them
        if not hasattr(model, "_orig_mod"):
            raise
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ResreproError(
            f"torch.compile (mode {recipe['compile_mode']}) failed: {type(e).__name__}: {first_line}. "
            "Set train.compile: false in the config to train without compilation (on an H200, resnet18: "
            "0.53 instead of 0.21 s per 8,000-image epoch, benchmarks/README.md)."
        ) from e
    synchronize(x.device)
    seconds = time.perf_counter() - t0
    weights_of.load_state_dict(saved_model)
    optimizer.load_state_dict(saved_optimizer)
    return seconds


def mark_step(recipe: dict, device: torch.device) -> None:
    """Tell CUDA graph trees that a new training iteration begins (a no-op unless compiled with CUDA graphs)."""
    if (
        compiles(recipe, device)
        and device.type == "cuda"
        and recipe["compile_mode"] in ("reduce-overhead", "max-autotune")
    ):
        torch.compiler.cudagraph_mark_step_begin()


def build_optimizer(model: torch.nn.Module, recipe: dict, device: torch.device) -> torch.optim.Optimizer:
    """SGD with momentum and weight decay on every parameter; fused on CUDA, foreach on the CPU."""
    fused = device.type == "cuda"
    return torch.optim.SGD(
        model.parameters(),
        lr=recipe["lr"],
        momentum=recipe["momentum"],
        nesterov=recipe["nesterov"],
        weight_decay=recipe["weight_decay"],
        fused=fused or None,
        foreach=None if fused else True,
    )


def train_step(model, optimizer, x: torch.Tensor, y: torch.Tensor, recipe: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on a normalised batch; returns (loss, logits), both still on the device."""
    with autocast(x.device, recipe.get("precision", "auto")):
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe["label_smoothing"])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int, precision: str = "auto") -> torch.Tensor:
    """Logits (float32) for a uint8 NCHW tensor, in eval mode."""
    model.eval()
    out = []
    for i in range(0, len(x), batch_size):
        with autocast(x.device, precision):
            out.append(model(to_input(x[i : i + batch_size])).float())
    return torch.cat(out)


def measure_gradients(model: torch.nn.Module, probe: tuple[torch.Tensor, torch.Tensor], epoch: int) -> dict:
    """Per-block gradient norms on the fixed probe images (a copy of the model: no side effects)."""
    import copy

    from .gradflow import block_gradient_norms

    twin = copy.deepcopy(model)
    return {"epoch": epoch, **block_gradient_norms(twin, to_input(probe[0]), probe[1])}


def train_epoch(model, optimizer, x_train, y_train, recipe: dict, epoch: int, seed: int, warming: bool, bar) -> dict:
    """One epoch of SGD over a fresh permutation; metrics stay on the device (no host sync per step)."""
    device, n_train, batch = x_train.device, len(x_train), recipe["batch_size"]
    steps_per_epoch = math.ceil(n_train / batch)
    model.train()
    gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n_train, device=device, generator=gen)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    first_bad_step = torch.full((), -1, device=device, dtype=torch.long)
    shared_by = gpus.sharing()  # slots of this GPU held at the epoch's start and (below) its end; None: no slot
    t0 = time.perf_counter()
    for step in range(steps_per_epoch):
        idx = order[step * batch : (step + 1) * batch]
        x = to_input(augment(x_train[idx], recipe["crop_padding"], recipe["flip"], gen))
        y = y_train[idx]
        lr = lr_at(epoch * steps_per_epoch + step, steps_per_epoch, recipe, warming)
        for group in optimizer.param_groups:
            group["lr"] = lr
        mark_step(recipe, device)
        loss, logits = train_step(model, optimizer, x, y, recipe)
        bad = ~torch.isfinite(loss)
        first_bad_step = torch.where(
            (first_bad_step < 0) & bad, torch.full_like(first_bad_step, step + 1), first_bad_step
        )
        loss_sum += loss * len(idx)
        correct += (logits.argmax(1) == y).sum()
        bar.update()
    synchronize(device)
    seconds = time.perf_counter() - t0
    return {
        "loss_sum": loss_sum,
        "correct": correct,
        "first_bad_step": int(first_bad_step),
        "lr": lr,
        "seconds": seconds,
        "gpu_shared_by": shared_by and max(shared_by, gpus.sharing() or 0),  # None (empty): unknown
    }


def _non_finite(label: str, epoch: int, bad_step: int, recipe: dict, steps_per_epoch: int, warming: bool):
    lr = lr_at(epoch * steps_per_epoch + bad_step - 1, steps_per_epoch, recipe, warming)
    return NonFiniteLoss(
        f"{label}: the training loss became NaN or infinite at epoch {epoch + 1}, "
        f"step {bad_step} of {steps_per_epoch} (lr {lr:g}). "
        "Lower train.lr or add warm-up (train.warmup_epochs) for this model in config.yaml."
    )


def validate(model, x_val: torch.Tensor, y_val: torch.Tensor, recipe: dict) -> tuple[float, float]:
    """Validation loss and accuracy (the split that selects the weights; the test set is never seen here)."""
    logits = predict(model, x_val, recipe["eval_batch_size"], recipe["precision"])
    return F.cross_entropy(logits, y_val).item(), (logits.argmax(1) == y_val).sum().item() / len(y_val)


def measure_test(model, test: tuple[torch.Tensor, torch.Tensor] | None, recipe: dict) -> dict:
    """The test curve's point after an epoch (outputs.HISTORY_TEST_COLUMNS), or {} without a test set.

    Written to the history only, never used to select (the caller selects on ``val_acc``); timed on its own,
    so it is not part of ``epoch_seconds``; eval mode and no generator: it leaves the training's RNG alone.
    """
    if test is None:
        return {}
    synchronize(test[0].device)
    t0 = time.perf_counter()
    logits = predict(model, test[0], recipe["eval_batch_size"], recipe["precision"])
    hit = (logits.argmax(1) == test[1]).double()
    acc = [hit.mean().item(), hit[0::2].mean().item(), hit[1::2].mean().item()]  # .item() synchronises
    # all of the test set, and its two fixed halves (even and odd positions): resrepro.selection's split-half bias
    return {"test_acc": acc[0], "test_acc_a": acc[1], "test_acc_b": acc[2], "test_seconds": time.perf_counter() - t0}


def gradient_probe(model_name: str, recipe: dict, x_train, y_train) -> tuple[set, tuple]:
    """The epochs at which to measure the gradient flow, and its fixed batch of training images."""
    probe_epochs = set(recipe["gradflow_epochs"])
    if probe_epochs and catalog.get(model_name).builder != "cifar_resnet":
        raise ResreproError(
            f"train.gradflow_epochs is set but {model_name} has no residual blocks to measure; "
            "use it for He et al.'s CIFAR ResNets and plain networks only"
        )
    return probe_epochs, (x_train[: recipe["gradflow_images"]], y_train[: recipe["gradflow_images"]])


def engine_of(recipe: dict, device: torch.device) -> dict:
    """How a training runs, resolved from the recipe's "auto"s: part of its checkpoint's key (checkpoints.py)."""
    return {
        "device": device.type,
        "bf16": use_bf16(device, recipe["precision"]),
        "compiled": compiles(recipe, device),
        "torch": str(torch.__version__),  # plain text: the checkpoint holds only tensors and plain data
    }


def compile_for_epochs(model, optimizer, x_train, y_train, recipe: dict, name: str) -> float:
    """Compile the training step for the epoch's batch shapes before epoch 1 (the seconds are reported apart)."""
    n_train, batch = len(x_train), recipe["batch_size"]
    sizes = sorted({min(batch, n_train), n_train % batch} - {0}, reverse=True)
    gen = torch.Generator(device=x_train.device).manual_seed(0)
    sample = to_input(augment(x_train[:batch], recipe["crop_padding"], recipe["flip"], gen))
    seconds = warm_up(model, optimizer, sample, y_train[:batch], recipe, sizes)
    print(f"[resrepro] {name}: compiled for batch sizes {sizes} in {seconds:.1f}s", file=sys.stderr)
    return seconds


def train(
    model_name: str,
    recipe: dict,
    train_set: tuple[np.ndarray, np.ndarray],
    val_set: tuple[np.ndarray, np.ndarray],
    seed: int,
    out_dir: str | Path,
    checkpoint: str | Path,
    data_key: str | dict = "",
    progress: bool = True,
    test_set: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Train one (model, seed); write history.csv, weights.pt and train.json to ``out_dir``.

    ``test_set`` (with ``train.test_curve`` on): also the test accuracy after every epoch, in history.csv only.
    ``checkpoint`` is a resumable state written after every epoch, deliberately not one of the
    job's declared outputs (Snakemake deletes those when a job fails). It is removed on success.
    ``data_key`` identifies the data (:func:`checkpoints.data_identity`); another training's checkpoint is not resumed.
    """
    t_start = time.time()
    out_dir, checkpoint = Path(out_dir), Path(checkpoint)
    label = f"{model_name} seed {seed}"
    device = select_device(recipe["device"])
    if device.type == "cpu":
        set_cpu_threads(recipe["threads"])
    torch.manual_seed(seed)
    np.random.seed(seed)

    x_train, y_train = to_device(*train_set, device)
    x_val, y_val = to_device(*val_set, device)
    test = to_device(*test_set, device) if test_set is not None and recipe.get("test_curve", True) else None
    n_train, batch = len(x_train), recipe["batch_size"]
    steps_per_epoch = math.ceil(n_train / batch)

    model = build_model(model_name, device, recipe)
    optimizer = build_optimizer(model, recipe, device)
    weights_of = getattr(model, "_orig_mod", model)  # the uncompiled module holds the state

    # resume from the last completed epoch, if a checkpoint of this very training exists (checkpoints.py)
    ident = checkpoints.identity(model_name, seed, recipe, data_key, engine_of(recipe, device))
    checkpoints.clear_stale_parts([checkpoint, *(out_dir / name for name in OUTPUT_NAMES)])
    start_epoch, history, best, gradients = checkpoints.resume(checkpoint, ident, weights_of, optimizer, device, label)

    # gradient flow (degradation study): the gradient reaching each block, on fixed batches
    probe_epochs, probe = gradient_probe(model_name, recipe, x_train, y_train)
    if start_epoch == 0 and 0 in probe_epochs:
        gradients.append(measure_gradients(weights_of, probe, 0))

    from tqdm import tqdm

    compile_seconds = None
    if compiles(recipe, device) and start_epoch < recipe["epochs"]:
        compile_seconds = compile_for_epochs(model, optimizer, x_train, y_train, recipe, model_name)
    for epoch in range(start_epoch, recipe["epochs"]):
        # --- one epoch of training -------------------------------------------------------------
        warming = still_warming(history, recipe)
        desc = f"{model_name} s{seed} epoch {epoch + 1}/{recipe['epochs']}"
        interval = 1.0 if sys.stderr.isatty() else 30.0
        with tqdm(total=steps_per_epoch, desc=desc, disable=not progress, leave=False, mininterval=interval) as bar:
            ep = train_epoch(model, optimizer, x_train, y_train, recipe, epoch, seed, warming, bar)
        if ep["first_bad_step"] >= 0:
            raise _non_finite(label, epoch, ep["first_bad_step"], recipe, steps_per_epoch, warming)

        # --- validation: model selection happens here, never on the test set --------------------
        # eager module for evaluation: a compiled one would re-record its graphs at every train/eval switch
        val_loss, val_acc = validate(weights_of, x_val, y_val, recipe)
        row = history_row(epoch, ep, n_train, val_loss, val_acc) | measure_test(weights_of, test, recipe)
        history.append(row)  # the test curve (if any) goes to the history only: below, val_acc alone selects
        if val_acc > best["val_acc"]:
            state = {k: v.detach().clone() for k, v in weights_of.state_dict().items()}
            best = {"val_acc": val_acc, "epoch": epoch + 1, "state": state}
        print(f"[resrepro] {desc}: {progress_line(row)}", file=sys.stderr)
        if epoch + 1 in probe_epochs:
            gradients.append(measure_gradients(weights_of, probe, epoch + 1))
        state = checkpoints.checkpoint_state(ident, epoch + 1, weights_of, optimizer, history, best, gradients)
        checkpoints.save(checkpoint, state)

    # --- outputs: history, the weights selected on validation, a summary ----------------------------
    write_outputs(out_dir, model_name, seed, history, best, gradients, len(probe[0]) if probe_epochs else 0)
    key = data_key if isinstance(data_key, str) else digest(data_key)
    run = {"model": model_name, "seed": seed, "recipe": recipe, "data_key": key, "device": device}
    summary = run_summary(run, history, best, n_train, len(x_val), compile_seconds, start_epoch, t_start)
    io.write_json(out_dir / "train.json", summary)
    checkpoint.unlink(missing_ok=True)
    return summary
