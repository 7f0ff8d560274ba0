"""What one training writes: a line of history.csv per epoch, the result files, and train.json's summary.

Split from :mod:`resrepro.train` (its loop stays readable top to bottom); these touch no random numbers, so
the weights do not depend on them. The GPU's sharing (``gpu_shared_by``) and the training's environment
(torch, CUDA, cuDNN, driver, GPU model: :func:`resrepro.device.environment`) are recorded here.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoints, engines, io, outputs
from .config import digest
from .device import compiles, device_name, environment, peak_memory_mib, use_bf16


def history_row(epoch: int, ep: dict, n_train: int, val_loss: float, val_acc: float) -> dict:
    """One line of history.csv (outputs.HISTORY_COLUMNS; the test curve's columns are added by the caller)."""
    return {
        "epoch": epoch + 1,
        "train_loss": ep["loss_sum"].item() / n_train,
        "train_acc": ep["correct"].item() / n_train,
        "val_loss": val_loss,
        "val_acc": val_acc,
        "lr": ep["lr"],
        "epoch_seconds": ep["seconds"],
        "images_per_second": n_train / ep["seconds"],
        "gpu_shared_by": ep.get("gpu_shared_by"),  # slots of this GPU held (gpus.sharing); empty: no slot, unknown
    }


def progress_line(row: dict) -> str:
    return (
        f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | val loss {row['val_loss']:.4f} "
        f"acc {row['val_acc']:.4f} | {row['epoch_seconds']:.1f}s, {row['images_per_second']:.0f} img/s"
    )


OUTPUT_NAMES = ("history.csv", "weights.pt", "train.json", "gradflow.json")  # what write_outputs and train write


def write_outputs(out_dir: Path, model_name: str, seed: int, history: list, best: dict, gradients: list, images: int):
    """history.csv, the weights selected on validation (weights.pt) and gradflow.json, each written atomically.
    The test curve's columns (outputs.HISTORY_TEST_COLUMNS) are written only when it was recorded."""
    import pandas as pd

    columns = list(outputs.HISTORY_COLUMNS)
    if history and all(c in history[0] for c in outputs.HISTORY_TEST_COLUMNS):
        columns += outputs.HISTORY_TEST_COLUMNS
    with io.atomic_path(out_dir / "history.csv") as tmp:
        pd.DataFrame(history, columns=columns).to_csv(tmp, index=False, float_format="%.6g")
    checkpoints.save(out_dir / "weights.pt", best["state"])  # through a file object: the same bytes every run
    record = {"model": model_name, "seed": seed, "images": images, "measurements": gradients}
    io.write_json(out_dir / "gradflow.json", record)


def run_summary(
    run: dict, history: list, best: dict, n_train: int, n_val: int, compile_seconds, start_epoch: int, t_start: float
) -> dict:
    """train.json: the recipe, the selected epoch, the hardware and the measured times of one training job."""
    epoch_seconds = [h["epoch_seconds"] for h in history]
    device, recipe = run["device"], run["recipe"]
    return {
        "model": run["model"],
        "seed": run["seed"],
        "recipe": recipe,
        "recipe_digest": digest(recipe),
        "data_key": run["data_key"],
        "epochs": recipe["epochs"],
        "selected_epoch": best["epoch"],
        "selected_val_acc": best["val_acc"],
        "final_val_acc": history[-1]["val_acc"],
        "train_images": n_train,
        "val_images": n_val,
        "device": device.type,
        "device_name": device_name(device),
        "gpu_peak_memory_mib": peak_memory_mib(device),  # this attempt's; None on the CPU
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "precision": engines.BF16 if use_bf16(device, recipe["precision"]) else engines.FP32,
        "compiled": compiles(recipe, device),
        "compile_seconds": compile_seconds,
        "test_curve": bool(history) and "test_acc" in history[-1],  # in history.csv only; it selects nothing
        "mean_epoch_seconds": float(np.mean(epoch_seconds)),
        "total_train_seconds": float(np.sum(epoch_seconds)),
        "images_per_second": n_train * len(history) / float(np.sum(epoch_seconds)),
        "pack": recipe.get("pack", 1),  # train.pack: trainings per GPU (history.csv's gpu_shared_by: how many did)
        "environment": environment(device),
        "resumed_after_epoch": start_epoch,
        "job_wall_seconds": time.time() - t_start,
    }
