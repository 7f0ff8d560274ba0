"""``resrepro bench``: training throughput of our engine against the loop users would write.

For each model, in one process, on the same device, batch size and model: our engine (split
resident on the device as uint8, batched crop/flip there, channels_last, bf16 autocast on CUDA,
fused/foreach SGD, no per-step host synchronisation) and the reference loop of
:mod:`resrepro.reference` (DataLoader + PIL transforms + fp32). Data are synthetic images of CIFAR
shape: throughput does not depend on pixel values. The device's peak is measured here with a large
matrix product (bf16 on CUDA, fp32 on the CPU), and "share of peak" is the counted training FLOPs
(3 x forward) per second divided by it.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from . import io, models, reference
from .device import select_device, set_cpu_threads, synchronize
from .train import (
    augment,
    build_model,
    build_optimizer,
    compiles,
    mark_step,
    to_device,
    to_input,
    train_step,
)

EPOCH_IMAGES = 50_000


def measure_peak(device: torch.device, seconds: float = 1.0) -> float:
    """Dense matrix-product FLOP/s: bf16 8192^3 on CUDA, fp32 2048^3 on the CPU."""
    n, dtype = (8192, torch.bfloat16) if device.type == "cuda" else (2048, torch.float32)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    synchronize(device)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or reps < 3:
        a @ b
        reps += 1
        if device.type == "cuda" and reps % 10 == 0:
            synchronize(device)
    synchronize(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def our_steps(name: str, recipe: dict, device: torch.device, batch: int, n_steps: int, seed: int = 0):
    """``run(lo, hi)``: steps lo..hi-1 of our training engine (the train stage's model, optimizer, augmentation,
    compile and precision path) on ``n_steps`` synthetic batches drawn from ``seed``."""
    x_np, y_np = synthetic(batch * n_steps, seed)
    x, y = to_device(x_np, y_np, device)
    model = build_model(name, device, recipe)
    model.train()
    optimizer = build_optimizer(model, recipe, device)
    gen = torch.Generator(device=device).manual_seed(seed)

    def run(lo, hi):
        for i in range(lo, hi):
            xb = to_input(augment(x[i * batch : (i + 1) * batch], recipe["crop_padding"], recipe["flip"], gen))
            mark_step(recipe, device)
            train_step(model, optimizer, xb, y[i * batch : (i + 1) * batch], recipe)

    return run


def time_ours(
    name: str, recipe: dict, device: torch.device, batch: int, warmup: int, steps: int
) -> tuple[float, float]:
    """(images/s, seconds of warm-up incl. any compilation) of our training step."""
    run = our_steps(name, recipe, device, batch, warmup + steps)
    t0 = time.perf_counter()
    run(0, warmup)
    synchronize(device)
    t1 = time.perf_counter()
    run(warmup, warmup + steps)
    synchronize(device)
    return batch * steps / (time.perf_counter() - t1), t1 - t0


def time_reference(
    name: str, recipe: dict, device: torch.device, batch: int, warmup: int, steps: int, workers: int
) -> float:
    x, y = synthetic(batch * (warmup + steps))
    model, optimizer = reference.make(name, recipe, device)
    model.train()
    it = iter(reference.loader(x, y, batch, True, workers))
    for _ in range(warmup):
        reference.step(model, optimizer, *next(it), device)
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        reference.step(model, optimizer, *next(it), device)
    synchronize(device)
    return batch * steps / (time.perf_counter() - t0)


def run(
    model_names: list[str],
    recipe: dict,
    device: str = "auto",
    batch: int = 128,
    warmup: int | None = None,
    steps: int | None = None,
    workers: int = 2,
    rounds: int = 2,
    progress: bool = True,
) -> dict:
    """Each model: ``rounds`` alternating timings of ours and the reference; the best of each counts
    (on a shared machine, background load only ever slows a timing down)."""
    dev = select_device(device)
    if dev.type == "cpu":
        set_cpu_threads(recipe["threads"])
    warmup = warmup if warmup is not None else (2 if dev.type == "cpu" else 15)
    steps = steps if steps is not None else (4 if dev.type == "cpu" else 60)
    from .device import device_name

    peak = measure_peak(dev)
    records = []
    for name in model_names:
        flops = models.count_flops(models.create(name))
        ours_runs, ref_runs, warm_s = [], [], None
        for _ in range(rounds):
            speed, warm = time_ours(name, recipe, dev, batch, warmup, steps)
            ours_runs.append(speed)
            warm_s = warm if warm_s is None else warm_s  # the first warm-up includes any compilation
            ref_runs.append(time_reference(name, recipe, dev, batch, warmup, steps, workers))
        ours, ref = max(ours_runs), max(ref_runs)
        rec = {
            "model": name,
            "device": device_name(dev),
            "batch_size": batch,
            "precision": "bf16-autocast" if dev.type == "cuda" else "fp32",
            "compiled": compiles(recipe, dev),
            "warmup_seconds": warm_s,
            "threads": torch.get_num_threads() if dev.type == "cpu" else None,
            "ours_img_s": ours,
            "reference_img_s": ref,
            "ratio": ours / ref,
            "epoch_s": EPOCH_IMAGES / ours,
            "reference_epoch_s": EPOCH_IMAGES / ref,
            "train_flops_per_image": 3 * flops,
            "peak_flops": peak,
            "share_of_peak": 3 * flops * ours / peak,
            "steps": steps,
            "warmup_steps": warmup,
            "reference_workers": workers,
            "rounds": rounds,
            "ours_runs_img_s": ours_runs,
            "reference_runs_img_s": ref_runs,
        }
        records.append(rec)
        if progress:
            print(f"  {name}: ours {ours:,.0f} img/s, reference {ref:,.0f} img/s, ratio {ours / ref:.2f}", flush=True)
    return {
        "synthetic_data": True,
        "note": "synthetic images of CIFAR shape (throughput does not depend on pixel values)",
        "device": device_name(dev),
        "peak_tflops": peak / 1e12,
        "records": records,
    }


def table(result: dict) -> str:
    head = (
        f"{'model':<10} {'device':<28} {'batch':>5} {'ours img/s':>11} {'ref img/s':>10} {'ratio':>6} "
        f"{'epoch s':>8} {'% peak':>7}"
    )
    lines = [
        f"resrepro bench -- {result['note']}; peak {result['peak_tflops']:.2f} TFLOP/s measured by matrix product",
        head,
        "-" * len(head),
    ]
    for r in result["records"]:
        lines.append(
            f"{r['model']:<10} {r['device'][:28]:<28} {r['batch_size']:>5} {r['ours_img_s']:>11,.0f} "
            f"{r['reference_img_s']:>10,.0f} {r['ratio']:>6.2f} {r['epoch_s']:>8.1f} {100 * r['share_of_peak']:>6.1f}%"
        )
    return "\n".join(lines)


def main(model_names, recipe, device, batch, warmup, steps, workers, rounds=2, json_out=None) -> dict:
    result = run(model_names, recipe, device, batch, warmup, steps, workers, rounds)
    print(table(result))
    if json_out:
        io.write_json(json_out, result)
    return result
