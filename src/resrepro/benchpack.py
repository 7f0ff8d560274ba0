"""``resrepro bench --pack 1,2,3,4``: what k trainings on one device at once deliver together.

Packing is k separate training processes per device (``train.pack``): each has its own seed stream and,
on CUDA, its own context; nothing is shared but the device, so each training is exactly the training it
would be alone (tests/test_pack.py trains two at once and compares them with the same trainings alone).

For each k this starts k worker processes (multiprocessing, spawn: no state inherited from this one).
Each builds the model and its step exactly as the train stage does (:func:`resrepro.bench.our_steps`:
the same compile, precision and channels_last path) on synthetic batches of its own seed, runs its
warm-up (any compilation included, not timed), waits at a barrier for the others, then times the same
number of steps. A training's own rate is its images over its own time; the aggregate is all images
over the common wall time, from the barrier to the last worker's end. Torch is imported in the workers
only (this module is torch-free at import).
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time

from . import ResreproError, io

CPU_NOTE = (
    "on the CPU the k workers compete for the same cores (train.threads threads each, capped at the cores "
    "this process may use): the aggregate shows contention, not what k trainings on a GPU would give"
)
WAIT_SECONDS = 3600  # the longest a worker may take (warm-up and compilation included) before it is given up


def parse_pack(text: str) -> list[int]:
    """``"1,2,3,4"`` -> [1, 2, 3, 4]: distinct integers >= 1, with 1 (the speedup's baseline) first."""
    try:
        ks = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        raise ResreproError(
            f"--pack {text!r} is not a list of trainings per device; fix: pass integers >= 1 separated by "
            "commas, e.g. --pack 1,2,3,4"
        )
    return sorted(set(ks) | {1})  # k = 1 is the baseline of every speedup: always measured


def _worker(index, name, recipe, device, batch, warmup, steps, barrier, results) -> None:
    """One training's timing: warm up, meet the others at ``barrier``, time ``steps`` steps, report."""
    try:
        import torch

        from .bench import our_steps
        from .device import device_name, select_device, set_cpu_threads, synchronize

        dev = select_device(device)
        threads = set_cpu_threads(recipe["threads"]) if dev.type == "cpu" else None
        torch.manual_seed(index)  # its own seed stream, as a packed training has
        run = our_steps(name, recipe, dev, batch, warmup + steps, seed=index)
        t0 = time.perf_counter()
        run(0, warmup)
        synchronize(dev)
        warm = time.perf_counter() - t0
        barrier.wait(timeout=WAIT_SECONDS)
        start = time.time()  # wall clock: comparable across the workers' processes
        run(warmup, warmup + steps)
        synchronize(dev)
        end = time.time()
        results.put(
            {
                "index": index,
                "start": start,
                "end": end,
                "images": batch * steps,
                "warmup_seconds": warm,
                "device_type": dev.type,
                "device_name": device_name(dev),
                "threads": threads,
            }
        )
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it with the fix
        barrier.abort()
        results.put({"index": index, "error": f"{type(e).__name__}: {e}"})


def _collect(procs: list, results, k: int) -> list[dict]:
    """The k workers' reports; a worker that failed or died fails the measurement, naming it."""
    out, deadline = [], time.monotonic() + WAIT_SECONDS
    while len(out) < k:
        try:
            out.append(results.get(timeout=1.0))
            continue
        except queue.Empty:
            pass
        dead = [p for p in procs if p.exitcode not in (None, 0)]
        if dead or time.monotonic() > deadline:  # measure() terminates the others
            why = f"exit code {dead[0].exitcode}" if dead else f"no report after {WAIT_SECONDS} s"
            raise ResreproError(
                f"bench --pack: a worker of k = {k} stopped without a report ({why}); fix: rerun with "
                "a smaller --pack or --batch-size (memory), or run `resrepro bench` without --pack to see the error"
            )
    for p in procs:
        p.join()
    failed = [r for r in out if "error" in r]
    if failed:
        raise ResreproError(
            f"bench --pack: training {failed[0]['index']} of k = {k} failed: {failed[0]['error']}; fix: make "
            "`resrepro bench` without --pack run on this device first (same --models, --device, --batch-size)"
        )
    return sorted(out, key=lambda r: r["index"])


def measure(name: str, recipe: dict, device: str, k: int, batch: int, warmup: int, steps: int) -> dict:
    """k trainings of ``name`` at once: each one's images/s, the aggregate, and the raw timings."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(k), ctx.Queue()
    args = (name, recipe, device, batch, warmup, steps, barrier, results)
    # not daemonic: torch.compile's inductor starts compile workers of its own, which a daemonic process may not
    procs = [ctx.Process(target=_worker, args=(i, *args)) for i in range(k)]
    try:
        for p in procs:
            p.start()
        reports = _collect(procs, results, k)
    finally:  # never leave a worker behind (an error, Ctrl-C)
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    return {
        "k": k,
        "aggregate_images_per_second": sum(r["images"] for r in reports) / wall,
        "per_training_images_per_second": [r["images"] / (r["end"] - r["start"]) for r in reports],
        "wall_seconds": wall,
        "warmup_seconds": [r["warmup_seconds"] for r in reports],
        "device_type": reports[0]["device_type"],
        "device_name": reports[0]["device_name"],
        "threads": reports[0]["threads"],
    }


PER_DEVICE = ("device_type", "device_name", "threads")  # the same for every k: said once per model


def _model(name: str, recipe: dict, ks: list[int], device: str, batch: int, warmup, steps, progress: bool) -> dict:
    """One model, each k of ``ks`` (1 first): the interface's entry."""
    rows: list[dict] = []
    for k in ks:
        if progress:
            print(f"[resrepro] bench --pack: {name}, k = {k}: starting {k} training(s) on {device}", flush=True)
        cpu = rows[0]["device_type"] == "cpu" if rows else device == "cpu"
        w = warmup if warmup is not None else (2 if cpu else 15)
        s = steps if steps is not None else (4 if cpu else 60)
        row = measure(name, recipe, device, k, batch, w, s)
        base = (rows[0] if rows else row)["aggregate_images_per_second"]
        row.update(speedup=row["aggregate_images_per_second"] / base, steps=s, warmup_steps=w)
        rows.append(row)
        if progress:
            each = ", ".join(f"{v:,.0f}" for v in row["per_training_images_per_second"])
            print(
                f"[resrepro] bench --pack: {name}, k = {k}: {row['aggregate_images_per_second']:,.0f} img/s "
                f"together (x{row['speedup']:.2f}), each {each}",
                flush=True,
            )
    first = rows[0]
    return {
        "model": name,
        "device": first["device_type"],
        "device_name": first["device_name"],
        "batch_size": batch,
        "threads_per_training": first["threads"],
        "synthetic_data": True,
        "note": CPU_NOTE if first["device_type"] == "cpu" else "all k trainings on the same GPU",
        "pack": [{key: v for key, v in r.items() if key not in PER_DEVICE} for r in rows],
    }


def run(
    model_names: list[str],
    recipe: dict,
    ks: list[int],
    device: str = "auto",
    batch: int = 128,
    warmup: int | None = None,
    steps: int | None = None,
    progress: bool = True,
) -> dict:
    """The interface's JSON: one model's entry, or {"models": [entry, ...]} for several."""
    entries = [_model(name, recipe, ks, device, batch, warmup, steps, progress) for name in model_names]
    return entries[0] if len(entries) == 1 else {"models": entries}


def table(result: dict) -> str:
    """k | aggregate img/s | speedup vs k = 1 | each training's img/s, per model."""
    lines = []
    for e in result.get("models", [result]):
        head = f"{'k':>2} {'aggregate img/s':>16} {'speedup':>8}  each training's img/s"
        lines += [f"resrepro bench --pack: {e['model']} on {e['device_name']}, batch {e['batch_size']}; {e['note']}"]
        lines += [head, "-" * len(head)]
        for r in e["pack"]:
            each = ", ".join(f"{v:,.0f}" for v in r["per_training_images_per_second"])
            lines.append(f"{r['k']:>2} {r['aggregate_images_per_second']:>16,.0f} {r['speedup']:>8.2f}  {each}")
    return "\n".join(lines)


def main(model_names, recipe, pack, device, batch, warmup, steps, json_out=None) -> dict:
    result = run(model_names, recipe, parse_pack(pack), device, batch, warmup, steps)
    print(table(result))
    if json_out:
        io.write_json(json_out, result)
    return result
