"""``resrepro plan``: what a run of the config costs before it starts, in GPU-hours and wall-clock hours.

Work per training (model, seed): ``epochs x (training images + eval_cost x evaluation images)`` training-image
equivalents, where each epoch evaluates the validation split and, with ``train.test_curve``, the test set, and the
training ends with the evaluation job's one pass over the test set; in FLOPs, ``epochs x (3 x F x training images
+ F x evaluation images) + F x test images`` with F the catalog's forward FLOPs. Seconds per training: that work
at the model's throughput (:mod:`resrepro.speeds`: measured where a bench file has the model on the device, else
stated) plus a fixed overhead (start-up, and compilation: the bench's measured warm-up where there is one).

Packing: ``pack`` trainings share a GPU; sharing k ways, each runs at ``speedup(k) / k`` of its rate alone, with
``speedup(k)`` from a ``resrepro bench --pack`` file (1.0, i.e. no gain, where not measured). The wall-clock is a
schedule: trainings longest first, each onto the GPU with the most free slots (N GPUs x pack slots), simulated
event by event (a training speeds up when its GPU's other trainings end). GPU-hours per model: its trainings'
seconds alone / speedup(pack): the GPU time they hold when packed full. The evaluation job's own start-up is not
counted. Device ``cpu`` (``train.device: cpu``): the same from the CPU measurements, in CPU-hours of one job.

Torch-free: the Snakefile prints :func:`line` before every run.
"""

from __future__ import annotations

import math

from . import ResreproError, catalog, gpus, speeds
from .cifar10 import TEST_SIZE, TRAIN_SIZE
from .config import recipe_for

NOT_MEASURED = "pack speedup not measured: 1.0 assumed"


def images(cfg: dict) -> tuple[int, int, int]:
    """(training, validation, test) images of the config's data section."""
    d = cfg["data"]
    return (
        d["train_subset"] or TRAIN_SIZE - d["val_size"],
        d["val_subset"] or d["val_size"],
        d["test_subset"] or TEST_SIZE,
    )


def work(cfg: dict, model: str) -> dict:
    """One training's images and FLOPs (the module's docstring); the final test pass is kept apart."""
    recipe = recipe_for(cfg, model)
    n_train, n_val, n_test = images(cfg)
    per_epoch = n_val + (n_test if recipe.get("test_curve", True) else 0)
    f, epochs = catalog.get(model).gflops * 1e9, recipe["epochs"]
    return {
        "epochs": epochs,
        "train_images": epochs * n_train,
        "eval_images": epochs * per_epoch,  # during training: validation (and test curve) passes
        "final_eval_images": n_test,  # the evaluation job
        "flops": epochs * (3 * f * n_train + f * per_epoch) + f * n_test,
    }


def seconds(w: dict, speed: speeds.Speed, final: bool = True) -> float:
    """Seconds of one training of work ``w`` at ``speed`` (with the evaluation job's pass unless ``final`` is off)."""
    eval_images = w["eval_images"] + (w["final_eval_images"] if final else 0)
    return speed.overhead_seconds + speed.image_seconds * (
        w["train_images"] + speeds.declared()["eval_cost"] * eval_images
    )


def slurm_minutes(cfg: dict, model: str, attempt: int = 1) -> int:
    """SLURM time limit (minutes) of one training job: its work (without the evaluation job) at the cautious
    stated speed ``slurm`` of speeds.yaml, times the head-room, plus the start-up; x attempt on retries."""
    s = speeds.declared()["stated"]["slurm"]
    speed = speeds.stated("gpu", model, recipe_for(cfg, model), name="slurm")
    minutes = s["startup_minutes"] + s["headroom"] * seconds(work(cfg, model), speed, final=False) / 60
    return math.ceil(minutes) * attempt


def models_here() -> list[str]:
    """The GPU models this machine has (resrepro.gpus.gpu_models: nvidia-smi), [] where none is known."""
    return sorted(set(gpus.gpu_models().values()))


def _speedups(entries: list[dict], kind: str, device: str, cfg: dict, notes: list[str]) -> dict[str, dict]:
    """{model: {k: speedup}} of the pack files that stand for this plan (speeds.pack_fits); the others named."""
    found: dict[str, dict] = {m: {} for m in cfg["models"]}
    for e in entries:
        if e["model"] not in found:
            continue
        recipe = recipe_for(cfg, e["model"])
        if speeds.pack_fits(e, kind, device, recipe):
            found[e["model"]].update(e["speedups"])
        else:
            notes.append(
                f"pack speedups of {e['model']} on {e['device']} at batch {e['batch_size']} "
                f"({speeds.shown(e['file'])}) not used: the plan is for {device} at batch {recipe['batch_size']}"
            )
    return found


def _assumed(speedups: dict[str, dict], pack: int, notes: list[str]) -> dict[str, list[int]]:
    """{model: the k (2..pack) the schedule assumes 1.0 for}, each named in a note."""
    assumed = {m: [k for k in range(2, pack + 1) if k not in s] for m, s in speedups.items()}
    assumed = {m: ks for m, ks in assumed.items() if ks}
    by_ks: dict[tuple, list[str]] = {}
    for m, ks in assumed.items():
        by_ks.setdefault(tuple(ks), []).append(m)
    for ks, ms in by_ks.items():
        at = ",".join(map(str, ks))
        notes.append(f"{', '.join(ms)} at k={at}: {NOT_MEASURED} (resrepro bench --pack 1,{at})")
    return assumed


def gpus_found() -> int | None:
    """GPUs this process may use (resrepro.gpus.visible: CUDA_VISIBLE_DEVICES, else nvidia-smi); None if none."""
    return len(gpus.visible()) or None


def schedule(trainings: list[tuple[float, dict[int, float]]], gpus: int, pack: int) -> float:
    """Wall seconds of ``trainings`` (seconds alone, {k: speedup}) on ``gpus`` x ``pack`` slots (module docstring)."""
    queue = sorted(trainings, key=lambda t: -t[0])
    running: list[list[list]] = [[] for _ in range(gpus)]  # per GPU: [seconds of work left, speedups]
    now = 0.0

    def rate(speedup: dict[int, float], k: int) -> float:
        return (speedup.get(k, 1.0) if k > 1 else 1.0) / k

    while queue or any(running):
        while queue:
            g = min(range(gpus), key=lambda i: len(running[i]))
            if len(running[g]) >= pack:
                break
            left, speedup = queue.pop(0)
            running[g].append([left, speedup])
        dt = min(job[0] / rate(job[1], len(jobs)) for jobs in running for job in jobs)
        for g, jobs in enumerate(running):
            k = len(jobs)
            for job in jobs:
                job[0] -= dt * rate(job[1], k)
            running[g] = [job for job in jobs if job[0] > 1e-9 * max(1.0, dt)]
        now += dt
    return now


def _throughput(cfg: dict, kind: str, bench_files) -> tuple[list[dict], list[dict], list[str], list[str]]:
    """Bench records, pack speedups, the files read and notes: the given files, else the shipped ones."""
    given = [speeds.read(f) for f in bench_files]
    records = [r for g in given for r in g["records"]]
    pack = [e for g in given for e in g["pack"]]
    files, notes = [speeds.shown(f) for f in bench_files], []
    if not records:
        defaults = speeds.default_files(kind)
        records = [r for f in defaults for r in speeds.read(f)["records"]]
        files += [speeds.shown(f) for f in defaults]
        if defaults:
            notes.append(f"throughput: the shipped measurements ({', '.join(speeds.shown(f) for f in defaults)})")
        else:
            notes.append("throughput: no measurement files found (benchmarks/results): stated figures only")
    if not any(r["gpu"] == (kind == "gpu") for r in records):
        notes.append(f"throughput: no {kind.upper()} measurement in the bench files: stated figures only")
    return records, pack, files, notes


def plan(cfg: dict, gpus: int | None = None, pack: int | None = None, bench_files=()) -> dict:
    """The cost of ``cfg``: per model, in total and as wall-clock on ``gpus`` x ``pack`` (module docstring)."""
    kind = "cpu" if cfg["train"].get("device") == "cpu" else "gpu"
    pack = int(pack or cfg["train"].get("pack", 1) or 1) if kind == "gpu" else 1
    found = None if gpus or kind == "cpu" else gpus_found()
    n = gpus or (found if kind == "gpu" else None) or 1
    if n < 1 or pack < 1:
        raise ResreproError(f"--gpus {n} --pack {pack}: both must be at least 1; fix: give whole numbers >= 1")
    records, pack_entries, files, notes = _throughput(cfg, kind, bench_files)
    device = speeds.device_of(records, kind)
    ignored = sorted({r["device"] for r in records if r["gpu"] == (kind == "gpu") and r["device"] != device})
    if ignored:
        notes.append(f"throughput: measurements of {', '.join(ignored)} not used (the plan is for {device})")
    name = device or speeds.declared()["stated"][kind]["device"]
    pack_files = _speedups(pack_entries, kind, name, cfg, notes) if pack > 1 else {m: {} for m in cfg["models"]}
    models, trainings = {}, []
    for m in cfg["models"]:
        recipe, w = recipe_for(cfg, m), work(cfg, m)
        speed = speeds.measured(records, kind, m, recipe, device) or speeds.stated(kind, m, recipe)
        speedup = pack_files.get(m, {})
        s = seconds(w, speed)
        sp = speedup.get(pack, 1.0) if pack > 1 else 1.0
        trainings += [(s, speedup)] * len(cfg["seeds"])
        models[m] = {
            "trainings": len(cfg["seeds"]),
            "epochs": w["epochs"],
            "seconds_per_training": s,
            "gpu_hours": len(cfg["seeds"]) * s / sp / 3600,
            "flops_per_training": w["flops"],
            "measured": speed.measured,
            "throughput_source": speed.source,
            "pack_speedup": sp,
        }
    unpacked = [m for m in models if pack > 1 and pack not in pack_files.get(m, {})]
    assumed = _assumed(pack_files, pack, notes) if pack > 1 else {}
    here = models_here() if kind == "gpu" else []
    elsewhere = None
    if here and any(h != name for h in here):
        how = "measured" if any(v["measured"] for v in models.values()) else "stated"
        elsewhere = f"{how} on {name}; this machine has {', '.join(here)}"
        notes.append(f"throughput {elsewhere}: its speeds may differ")
    alone = math.fsum(v["trainings"] * v["seconds_per_training"] for v in models.values())
    total = math.fsum(v["gpu_hours"] for v in models.values())
    return {
        "run": cfg["run"],
        "device": kind,
        "device_name": name,
        "gpus_here": here,
        "measured_elsewhere": elsewhere,
        "unit": "GPU-hours" if kind == "gpu" else "CPU-hours",
        "models": models,
        "trainings": len(trainings),
        "total_flops": math.fsum(v["trainings"] * v["flops_per_training"] for v in models.values()),
        "total_gpu_hours": total,
        "wall_hours": schedule(trainings, n, pack) / 3600 if trainings else 0.0,
        "gpus": n,
        "gpus_source": "given" if gpus else _found(found, kind),
        "pack": pack,
        "pack_speedup": alone / 3600 / total if total else 1.0,
        "pack_source": _pack_source(pack, len(unpacked), len(models), bool(assumed)),
        "pack_assumed": assumed,
        "throughput_source": {m: v["throughput_source"] for m, v in models.items()},
        "files": files,
        "notes": notes,
    }


def _pack_source(pack: int, unmeasured: int, models: int, assumed: bool) -> str:
    if pack == 1:
        return "not packed"
    return "measured" if not assumed else NOT_MEASURED if unmeasured == models else "partly measured"


def _found(found: int | None, kind: str) -> str:
    if kind == "cpu":
        return "by default"
    return "found" if found else "none found: 1 assumed"


def _hours(h: float) -> str:
    return f"{h:.2f}" if h < 10 else f"{h:.1f}"


def _which(p: dict) -> str:
    """'NVIDIA H200 throughput measured, eval cost and start-up stated; resnet110 stated' (or 'stated, not
    measured')."""
    stated_ = [m for m, v in p["models"].items() if not v["measured"]]
    if len(stated_) == len(p["models"]):
        return f"{p['device_name']} stated, not measured"
    named = ", ".join(stated_) if len(stated_) <= 3 else f"{len(stated_)} models"
    return f"{p['device_name']} throughput measured, eval cost and start-up stated" + (
        f"; {named} stated" if stated_ else ""
    )


def _slots(p: dict) -> str:
    if p["device"] == "cpu":
        return f"{p['gpus']} CPU job{'s' if p['gpus'] > 1 else ''} at a time"
    return f"{p['gpus']} GPU{'s' if p['gpus'] > 1 else ''}"


def line(cfg: dict, bench_files=()) -> str:
    """The one line a run prints first: trainings, epochs, hours, where the speeds come from, the wall-clock."""
    try:
        p = plan(cfg, bench_files=bench_files)
    except ResreproError as e:  # the run goes on; the line says why there is no plan
        return f"plan: not available ({str(e).partition('; fix: ')[0]}); `resrepro plan` for the detail"
    epochs = sorted({v["epochs"] for v in p["models"].values()})
    span = f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"
    pack = f"pack {p['pack']}"
    if p["pack"] > 1:
        x = f"x{p['pack_speedup']:.2f}"
        assumed = "; ".join(f"{m} k={','.join(map(str, ks))}" for m, ks in p["pack_assumed"].items())
        if len(p["pack_assumed"]) > 3:
            assumed = f"{len(p['pack_assumed'])} models"
        partly = f" ({x}, partly measured: 1.0 assumed for {assumed})"
        pack += {"measured": f" ({x} measured)", "partly measured": partly}.get(p["pack_source"], f" ({NOT_MEASURED})")
    here = f"; {p['measured_elsewhere']}" if p["measured_elsewhere"] else ""
    if p["device"] == "gpu" and p["gpus_source"] != "found" and cfg["train"].get("device") == "auto":
        here += (
            "; no GPU found here: trainings run here ask for one and stop (exit 5), on SLURM the GPU nodes train; "
            "train.device: cpu trains on the CPU"
        )
    return (
        f"plan: {p['trainings']} trainings x {span} epochs, {_hours(p['total_gpu_hours'])} {p['unit']} on "
        f"{_slots(p)} ({_which(p)}), {pack} -> about {_hours(p['wall_hours'])} h wall (resrepro plan for the "
        f"detail){here}"
    )


def table(p: dict) -> str:
    """The plan as printed by ``resrepro plan``."""
    head = f"{'model':<10} {'trainings':>9} {'epochs':>6} {'PFLOP each':>10} {'s each':>9} {p['unit']:>9}  throughput"
    rows = [
        f"resrepro plan: run {p['run']}, {p['trainings']} trainings on {p['device_name']}",
        head,
        "-" * len(head),
    ]
    for m, v in p["models"].items():
        rows.append(
            f"{m:<10} {v['trainings']:>9} {v['epochs']:>6} {v['flops_per_training'] / 1e15:>10.1f} "
            f"{v['seconds_per_training']:>9,.0f} {v['gpu_hours']:>9.2f}  {v['throughput_source']}"
        )
    rows.append("-" * len(head))
    rows.append(
        f"{'total':<10} {p['trainings']:>9} {'':>6} {p['total_flops'] / 1e15:>10.1f} {'':>9} "
        f"{p['total_gpu_hours']:>9.2f}"
    )
    speedup = {"measured": f"speedup x{p['pack_speedup']:.2f} measured", "not packed": "not packed"}
    rows.append(
        f"wall-clock: about {_hours(p['wall_hours'])} h on {_slots(p)} ({p['gpus_source']}), pack {p['pack']} "
        f"({speedup.get(p['pack_source'], p['pack_source'])}); trainings longest first onto "
        f"{p['gpus']} x {p['pack']} slots"
    )
    rows += [f"note: {n}" for n in p["notes"]]
    return "\n".join(rows)


def _cmd(a) -> None:
    from pathlib import Path

    from . import config, io

    base = ["config.yaml"] if Path("config.yaml").is_file() else []
    cfg = config.load(*base, *a.configfile)
    p = plan(cfg, a.gpus, a.pack, a.bench)
    print(table(p))
    if a.json:
        io.write_json(a.json, p)


def _at_least_one(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return n


def add_command(sub) -> None:
    """``resrepro plan [--configfile F ...] [--gpus N] [--pack K] [--bench FILE ...] [--json OUT]``."""
    s = sub.add_parser("plan", help="what the config's run costs: GPU-hours per model and in total, wall-clock")
    s.add_argument("--configfile", nargs="+", default=[], help="merged over ./config.yaml in order, as Snakemake does")
    s.add_argument("--gpus", type=_at_least_one, default=None, help="GPUs (default: those nvidia-smi finds, else 1)")
    s.add_argument("--pack", type=_at_least_one, default=None, help="trainings per GPU (default: train.pack, 1)")
    s.add_argument(
        "--bench",
        nargs="+",
        default=[],
        help="`resrepro bench --json` and `resrepro bench --pack` files (default: benchmarks/results/h200-run2)",
    )
    s.add_argument("--json", default=None, help="also write the plan as JSON here")
    s.set_defaults(func=_cmd)
