"""Training throughput for :mod:`resrepro.plan`: measured (``resrepro bench`` JSON files) or stated (speeds.yaml).

A measured speed is a bench record of the model on the plan's kind of device (a GPU record has no ``threads``)
at the recipe's batch size, compile state and precision: images/s of a training step, and the bench's warm-up
seconds (compilation included) as the training's compile time. Several such records: the fastest counts (as in
the bench, background load only ever slows a timing down). Records of another GPU than the first one found are
not used. A measured row's evaluation cost and start-up stay stated (speeds.yaml), and its label says so. A
stated speed is the model of ``speeds.yaml`` (compute at an effective rate plus a latency per layer and step),
labelled "stated, not measured". ``resrepro bench --pack`` files give the packing speedup per model, on their
device at their batch size only (:func:`pack_fits`).

Torch-free: the Snakefile imports :mod:`resrepro.plan`, which imports this module.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import catalog, engines
from .errors import InputError
from .io import read_json

REPO = Path(__file__).resolve().parents[2]  # the repository of a source checkout (benchmarks/ lies there)
DECLARED = Path(__file__).with_name("speeds.yaml")
BENCH_FIX = "give a file written by `resrepro bench --json OUT` or `resrepro bench --pack 1,2,3,4 --json OUT`"


@functools.cache
def declared() -> dict:
    """speeds.yaml: the default measurement files and the stated speeds, each with its source."""
    with open(DECLARED, encoding="utf-8") as f:
        return yaml.safe_load(f)


@dataclass(frozen=True)
class Speed:
    image_seconds: float  # one training image (an evaluation image costs declared()["eval_cost"] of it)
    overhead_seconds: float  # per training: start-up, then compilation or warm-up
    measured: bool
    device: str
    source: str


def expected(kind: str, recipe: dict) -> dict:
    """What a bench record must show to stand for this recipe's training on a ``kind`` ("gpu"/"cpu") device."""
    engine = engines.resolved(recipe, "cuda" if kind == "gpu" else "cpu")
    return {"batch_size": recipe["batch_size"], "compiled": engine["compiled"], "precision": engine["precision"]}


def stated(kind: str, model: str, recipe: dict, name: str | None = None) -> Speed:
    """The stated speed of ``model`` (speeds.yaml, entry ``name`` or ``kind``)."""
    s = declared()["stated"][name or kind]
    spec, want = catalog.get(model), expected(kind, recipe)
    seconds = 3 * spec.gflops * 1e9 / (s["tflops"] * 1e12) + spec.depth * s["layer_step_ms"] / 1e3 / want["batch_size"]
    overhead = s.get("startup_seconds", 0) + (s.get("compile_seconds", 0) if want["compiled"] else 0)
    label = f"stated, not measured: {s['tflops']:g} TFLOP/s + {s['layer_step_ms']:g} ms per layer and step"
    return Speed(seconds, overhead, False, s["device"], f"{label} ({s['device']}; speeds.yaml)")


def _bad(path: Path, what: str) -> InputError:
    return InputError(f"bench file: {what}", path, BENCH_FIX)


def _number(value, path: Path, what: str, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(path, f"{what} is {value!r}, not a number")
    if positive and value <= 0:
        raise _bad(path, f"{what} is {value!r}, not a positive number")
    return float(value)


def _record(r, path: Path) -> dict:
    if not isinstance(r, dict) or not isinstance(r.get("model"), str):
        raise _bad(path, f"a record without a model name: {r!r:.80}")
    m = r["model"]
    if m not in catalog.available():
        raise _bad(path, f"unknown model {m!r}")
    warm = r.get("warmup_seconds")
    return {
        "model": m,
        "device": str(r.get("device", "?")),
        "gpu": r.get("threads") is None,  # the bench records CPU threads for the CPU only
        "batch_size": int(_number(r.get("batch_size"), path, f"{m}: batch_size")),
        "compiled": bool(r.get("compiled")),
        "precision": r.get("precision"),
        "img_s": _number(r.get("ours_img_s"), path, f"{m}: ours_img_s"),
        "warmup_seconds": None if warm is None else _number(warm, path, f"{m}: warmup_seconds", positive=False),
        "file": path,
    }


def _pack_entry(e, path: Path) -> dict:
    if not isinstance(e, dict) or not isinstance(e.get("pack"), list) or e.get("model") not in catalog.available():
        raise _bad(path, 'a pack entry needs a known "model" and a "pack" list of {"k", "speedup"}')
    speedups = {}
    for p in e["pack"]:
        k = p.get("k") if isinstance(p, dict) else None
        if not isinstance(k, int) or k < 1:
            raise _bad(path, f"{e['model']}: a pack entry without a whole k >= 1: {p!r:.80}")
        speedups[k] = _number(p.get("speedup"), path, f"{e['model']}: speedup at k={k}")
    batch = e.get("batch_size")
    return {
        "model": e["model"],
        "gpu": e.get("device") == "cuda",  # the bench's device type
        "device": str(e.get("device_name", "?")),
        "batch_size": None if batch is None else int(_number(batch, path, f"{e['model']}: batch_size")),
        "speedups": speedups,
        "file": path,
    }


def read(path: str | Path) -> dict:
    """One bench file: {"records": [...]} (``resrepro bench --json``) or {"pack": [{model, gpu, device,
    batch_size, speedups: {k: speedup}, file}]} (``resrepro bench --pack``); anything else is refused, naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("bench file not found", path, BENCH_FIX)
    d = read_json(path)
    if isinstance(d, dict) and isinstance(d.get("records"), list):
        return {"records": [_record(r, path) for r in d["records"]], "pack": []}
    if isinstance(d, dict) and ("pack" in d or isinstance(d.get("models"), list)):
        entries = d["models"] if isinstance(d.get("models"), list) else [d]
        return {"records": [], "pack": [_pack_entry(e, path) for e in entries]}
    raise _bad(path, 'neither a `resrepro bench --json` file ("records") nor a `resrepro bench --pack` file ("pack")')


def default_files(kind: str) -> list[Path]:
    """The shipped measurements of speeds.yaml that are there (none in an installed package)."""
    return [p for p in (REPO / f for f in declared()["measured"][kind]) if p.is_file()]


def shown(path: Path) -> str:
    """A file as the plan names it: relative to the repository where it lies there."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def pack_fits(entry: dict, kind: str, device: str, recipe: dict) -> bool:
    """Whether a ``resrepro bench --pack`` entry stands for packing this recipe's training on ``device``: the
    same kind and device (model name), and the recipe's batch size (where the file records one)."""
    return (
        entry["gpu"] == (kind == "gpu")
        and entry["device"] == device
        and entry["batch_size"] in (None, recipe["batch_size"])
    )


def stated_parts(kind: str) -> str:
    """What a measured row still takes from speeds.yaml: the evaluation cost and the start-up."""
    s = declared()["stated"][kind]
    return f"eval cost {declared()['eval_cost']:.2f} and start-up {s.get('startup_seconds', 0):g} s stated"


def measured(records: list[dict], kind: str, model: str, recipe: dict, device: str | None) -> Speed | None:
    """The fastest record of ``model`` that stands for this training (see the module's docstring), or None."""
    want = expected(kind, recipe)
    fits = [
        r
        for r in records
        if r["model"] == model
        and r["gpu"] == (kind == "gpu")
        and (device is None or r["device"] == device)
        and all(r[k] == v for k, v in want.items())
    ]
    if not fits:
        return None
    r = max(fits, key=lambda r: r["img_s"])
    s = declared()["stated"][kind]
    warm = r["warmup_seconds"] if r["warmup_seconds"] is not None else s.get("compile_seconds", 0)
    how = f"batch {r['batch_size']}, {'compiled' if r['compiled'] else 'eager'}, {r['img_s']:,.0f} img/s"
    return Speed(
        1 / r["img_s"],
        s.get("startup_seconds", 0) + warm,
        True,
        r["device"],
        f"throughput measured: {how} ({shown(r['file'])}); {stated_parts(kind)} (speeds.yaml)",
    )


def device_of(records: list[dict], kind: str) -> str | None:
    """The device the plan is for: that of the first record of the right kind."""
    return next((r["device"] for r in records if r["gpu"] == (kind == "gpu")), None)
