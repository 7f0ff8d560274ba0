"""Training: one loop, read top to bottom (in the spirit of nanoGPT and airbench).

Every hyperparameter comes from the recipe (config.yaml ``train`` + per-model ``overrides``).
The whole split lives on the training device as uint8; crop and flip are batched tensor ops
there; the model runs channels_last, under bf16 autocast on CUDA only (on a CPU without native
bf16 it is many times slower, so the CPU stays in fp32).

Determinism and resumption: the model is initialised from ``seed``, and every epoch draws its
shuffle and augmentation from a generator seeded by ``(seed, epoch)``. A checkpoint written
atomically after each epoch therefore lets a killed job resume from the last completed epoch and
finish with exactly the weights of an uninterrupted run (CPU). The model is selected on the
validation split (best validation accuracy); the test set is never seen here.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import ResreproError, io, models
from .config import digest
from .data import MEAN, STD  # CIFAR-10 train per-channel statistics (0..1 scale)

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_seconds", "images_per_second"]


class NonFiniteLoss(ResreproError):
    pass


def select_device(spec: str = "auto") -> torch.device:
    """``auto``: CUDA if present, otherwise the CPU; or an explicit ``cpu``/``cuda``/``cuda:N``."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ResreproError(f"device {spec!r} requested but CUDA is not available here; set train.device to auto or cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN time its algorithms once per shape
    return device


def set_cpu_threads(requested: int) -> int:
    """Use ``train.threads`` CPU threads, but never more than the cores this process may run on:
    oversubscribed oneDNN convolutions run far slower than at one thread per core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    threads = max(1, min(requested, cores))
    torch.set_num_threads(threads)
    return threads


def lr_at(step: int, steps_per_epoch: int, recipe: dict, warming: bool = False) -> float:
    """Learning rate for global step ``step`` (0-based): constant warm-up, then the schedule.

    ``warming``: still in He et al.'s warm-up by the training-error rule (:func:`still_warming`).
    """
    warmup_steps = round(recipe["warmup_epochs"] * steps_per_epoch)
    if step < warmup_steps or warming:
        return recipe["warmup_lr"]
    total = recipe["epochs"] * steps_per_epoch
    base = recipe["lr"]
    if recipe["schedule"] == "cosine":
        t = (step - warmup_steps) / max(1, total - warmup_steps)
        return base * 0.5 * (1 + math.cos(math.pi * t))
    if recipe["schedule"] == "multistep":
        epoch = step / steps_per_epoch
        return base * recipe["gamma"] ** sum(epoch >= m for m in recipe["milestones"])
    return base


def still_warming(history: list[dict], recipe: dict) -> bool:
    """He et al. (2016, Sec. 4.2): lr ``warmup_lr`` "until the training error is below 80 %", then the schedule.

    With ``train.warmup_until_train_error`` set (percent), the warm-up lasts until the first epoch
    that ends with a training error below it, decided from the completed epochs' history (so a
    resumed job decides exactly as an uninterrupted one).
    """
    limit = recipe.get("warmup_until_train_error")
    return limit is not None and all(100 * (1 - h["train_acc"]) >= limit for h in history)


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
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).contiguous().to(device), torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)


def use_bf16(device: torch.device, precision: str = "auto") -> bool:
    """bf16 autocast on CUDA by default; fp32 on the CPU (no native bf16 there: many times slower)."""
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def autocast(device: torch.device, precision: str = "auto"):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(device, precision))


def compiles(recipe: dict, device: torch.device) -> bool:
    """``train.compile``: true, false, or "cuda" (compile on CUDA only: on the CPU it costs a minute
    or more and gains nothing)."""
    flag = recipe.get("compile", False)
    return flag is True or (flag == "cuda" and device.type == "cuda")


def build_model(name: str, device: torch.device, recipe: dict) -> torch.nn.Module:
    """The registry model on ``device``, channels_last, optionally ``torch.compile``d (config)."""
    model = models.create(name).to(device, memory_format=torch.channels_last)
    if compiles(recipe, device):
        # static shapes: the last, smaller batch of an epoch gets its own graph instead of turning every step dynamic
        model = torch.compile(model, mode=None if recipe["compile_mode"] == "default" else recipe["compile_mode"], dynamic=False)
    return model


def warm_up(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, recipe: dict, batch_sizes: list[int]) -> float:
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
        raise ResreproError(
            f"torch.compile (mode {recipe['compile_mode']}) failed: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}. "
            "Set train.compile: false in the config to train without compilation (on an H200, resnet18: 0.53 instead of 0.21 s per 8,000-image epoch, benchmarks/README.md)."
        ) from e
    synchronize(x.device)
    seconds = time.perf_counter() - t0
    weights_of.load_state_dict(saved_model)
    optimizer.load_state_dict(saved_optimizer)
    return seconds


def mark_step(recipe: dict, device: torch.device) -> None:
    """Tell CUDA graph trees that a new training iteration begins (a no-op unless compiled with CUDA graphs)."""
    if compiles(recipe, device) and device.type == "cuda" and recipe["compile_mode"] in ("reduce-overhead", "max-autotune"):
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


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work (timings); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_gradients(model: torch.nn.Module, probe: tuple[torch.Tensor, torch.Tensor], epoch: int) -> dict:
    """Per-block gradient norms on the fixed probe images (a copy of the model: no side effects)."""
    import copy

    from .gradflow import block_gradient_norms

    twin = copy.deepcopy(model)
    return {"epoch": epoch, **block_gradient_norms(twin, to_input(probe[0]), probe[1])}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from .provenance import cpu_name

    return cpu_name()


def train(
    model_name: str,
    recipe: dict,
    train_set: tuple[np.ndarray, np.ndarray],
    val_set: tuple[np.ndarray, np.ndarray],
    seed: int,
    out_dir: str | Path,
    checkpoint: str | Path,
    data_key: str = "",
    progress: bool = True,
) -> dict:
    """Train one (model, seed); write history.csv, weights.pt and train.json to ``out_dir``.

    ``checkpoint`` is a resumable state written after every epoch, deliberately not one of the
    job's declared outputs (Snakemake deletes those when a job fails). It is removed on success.
    """
    t_start = time.time()
    out_dir, checkpoint = Path(out_dir), Path(checkpoint)
    device = select_device(recipe["device"])
    if device.type == "cpu":
        set_cpu_threads(recipe["threads"])
    torch.manual_seed(seed)
    np.random.seed(seed)

    x_train, y_train = to_device(*train_set, device)
    x_val, y_val = to_device(*val_set, device)
    n_train = len(x_train)
    batch = recipe["batch_size"]
    steps_per_epoch = math.ceil(n_train / batch)

    model = build_model(model_name, device, recipe)
    optimizer = build_optimizer(model, recipe, device)
    weights_of = getattr(model, "_orig_mod", model)  # the uncompiled module holds the state

    # --- resume from the last completed epoch, if a matching checkpoint exists ----------------
    key = digest({"model": model_name, "seed": seed, "recipe": recipe, "data": data_key})
    start_epoch, history, best, gradients = 0, [], {"val_acc": -1.0, "epoch": 0, "state": None}, []
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state.get("key") == key:
            weights_of.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start_epoch, history, best, gradients = state["epoch"], state["history"], state["best"], state.get("gradients", [])
            print(f"[resrepro] resuming {model_name} seed {seed} after epoch {start_epoch}", file=sys.stderr)
        else:
            print(f"[resrepro] ignoring checkpoint {checkpoint}: it belongs to another configuration", file=sys.stderr)

    # gradient flow (degradation study): the gradient reaching each block, on fixed batches
    probe_epochs = set(recipe["gradflow_epochs"])
    probe = (x_train[: recipe["gradflow_images"]], y_train[: recipe["gradflow_images"]])
    if probe_epochs and not hasattr(weights_of, "blocks"):
        raise ResreproError(f"train.gradflow_epochs is set but {model_name} has no residual blocks to measure; use it for resnet20..110 / plain20..110 only")
    if start_epoch == 0 and 0 in probe_epochs:
        gradients.append(measure_gradients(weights_of, probe, 0))

    from tqdm import tqdm

    compile_seconds = None
    if compiles(recipe, device) and start_epoch < recipe["epochs"]:
        sizes = sorted({min(batch, n_train), n_train % batch} - {0}, reverse=True)
        sample = to_input(augment(x_train[:batch], recipe["crop_padding"], recipe["flip"], torch.Generator(device=device).manual_seed(0)))
        compile_seconds = warm_up(model, optimizer, sample, y_train[:batch], recipe, sizes)
        print(f"[resrepro] {model_name}: compiled for batch sizes {sizes} in {compile_seconds:.1f}s", file=sys.stderr)
    for epoch in range(start_epoch, recipe["epochs"]):
        # --- one epoch of training -------------------------------------------------------------
        model.train()
        warming = still_warming(history, recipe)
        gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(n_train, device=device, generator=gen)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        first_bad_step = torch.full((), -1, device=device, dtype=torch.long)
        t0 = time.perf_counter()
        bar = tqdm(total=steps_per_epoch, desc=f"{model_name} s{seed} epoch {epoch + 1}/{recipe['epochs']}", disable=not progress, leave=False, mininterval=1.0 if sys.stderr.isatty() else 30.0)
        for step in range(steps_per_epoch):
            idx = order[step * batch : (step + 1) * batch]
            x = to_input(augment(x_train[idx], recipe["crop_padding"], recipe["flip"], gen))
            y = y_train[idx]
            lr = lr_at(epoch * steps_per_epoch + step, steps_per_epoch, recipe, warming)
            for group in optimizer.param_groups:
                group["lr"] = lr
            mark_step(recipe, device)
            loss, logits = train_step(model, optimizer, x, y, recipe)
            # metrics stay on the device: no host synchronisation per step
            bad = ~torch.isfinite(loss)
            first_bad_step = torch.where((first_bad_step < 0) & bad, torch.full_like(first_bad_step, step + 1), first_bad_step)
            loss_sum += loss * len(idx)
            correct += (logits.argmax(1) == y).sum()
            bar.update()
        bar.close()
        synchronize(device)
        train_seconds = time.perf_counter() - t0
        if (bad_step := int(first_bad_step)) >= 0:
            raise NonFiniteLoss(
                f"{model_name} seed {seed}: the training loss became NaN or infinite at epoch {epoch + 1}, "
                f"step {bad_step} of {steps_per_epoch} (lr {lr_at(epoch * steps_per_epoch + bad_step - 1, steps_per_epoch, recipe, warming):g}). "
                "Lower train.lr or add warm-up (train.warmup_epochs) for this model in config.yaml."
            )

        # --- validation: model selection happens here, never on the test set --------------------
        # eager module for evaluation: a compiled one would re-record its graphs at every train/eval switch
        logits = predict(weights_of, x_val, recipe["eval_batch_size"], recipe["precision"])
        val_loss = F.cross_entropy(logits, y_val).item()
        val_acc = (logits.argmax(1) == y_val).sum().item() / len(y_val)
        row = {
            "epoch": epoch + 1,
            "train_loss": loss_sum.item() / n_train,
            "train_acc": correct.item() / n_train,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "epoch_seconds": train_seconds,
            "images_per_second": n_train / train_seconds,
        }
        history.append(row)
        if val_acc > best["val_acc"]:
            best = {"val_acc": val_acc, "epoch": epoch + 1, "state": {k: v.detach().clone() for k, v in weights_of.state_dict().items()}}
        print(
            f"[resrepro] {model_name} s{seed} epoch {epoch + 1}/{recipe['epochs']}: train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f} | val loss {val_loss:.4f} acc {val_acc:.4f} | {train_seconds:.1f}s, {row['images_per_second']:.0f} img/s",
            file=sys.stderr,
        )
        if epoch + 1 in probe_epochs:
            gradients.append(measure_gradients(weights_of, probe, epoch + 1))
        with io.atomic_path(checkpoint) as tmp:
            torch.save({"key": key, "epoch": epoch + 1, "model": weights_of.state_dict(), "optimizer": optimizer.state_dict(), "history": history, "best": best, "gradients": gradients}, tmp)

    # --- outputs: history, the weights selected on validation, a summary ----------------------------
    import pandas as pd

    with io.atomic_path(out_dir / "history.csv") as tmp:
        pd.DataFrame(history, columns=HISTORY_COLUMNS).to_csv(tmp, index=False, float_format="%.6g")
    with io.atomic_path(out_dir / "weights.pt") as tmp:
        torch.save(best["state"], tmp)
    io.write_json(out_dir / "gradflow.json", {"model": model_name, "seed": seed, "images": len(probe[0]) if probe_epochs else 0, "measurements": gradients})
    epoch_seconds = [h["epoch_seconds"] for h in history]
    summary = {
        "model": model_name,
        "seed": seed,
        "recipe": recipe,
        "recipe_digest": digest(recipe),
        "data_key": data_key,
        "epochs": recipe["epochs"],
        "selected_epoch": best["epoch"],
        "selected_val_acc": best["val_acc"],
        "final_val_acc": history[-1]["val_acc"],
        "train_images": n_train,
        "val_images": len(x_val),
        "device": device.type,
        "device_name": device_name(device),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "precision": "bf16-autocast" if use_bf16(device, recipe["precision"]) else "fp32",
        "compiled": compiles(recipe, device),
        "compile_seconds": compile_seconds,
        "mean_epoch_seconds": float(np.mean(epoch_seconds)),
        "total_train_seconds": float(np.sum(epoch_seconds)),
        "images_per_second": n_train * len(history) / float(np.sum(epoch_seconds)),
        "resumed_after_epoch": start_epoch,
        "job_wall_seconds": time.time() - t_start,
    }
    io.write_json(out_dir / "train.json", summary)
    checkpoint.unlink(missing_ok=True)
    return summary
