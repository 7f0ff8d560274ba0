"""Table 2's times from epochs a training had its GPU alone; times measured on a shared GPU, or where sharing is
not known, are labelled and decide no timing claim.

Packed trainings (``train.pack`` > 1: k processes on one GPU, resrepro.gpus) are each exactly the training they would
be alone, but their epochs' wall times measure the contention. history.csv's ``gpu_shared_by`` says, per epoch, how
many trainings held a slot of that GPU, sampled from the slot locks of one host at the epoch's start and at its end
(the larger count; 1 = alone; empty = a CPU training, or not recorded). What it cannot see (a process without a slot,
another host's locks) it does not count. Per training job (:func:`job_times`), its ``sharing``:

* "alone": every epoch alone (a CPU training with the column empty counts as alone): the times as they are;
* "alone" estimated: some epochs shared, but at least MIN_ALONE_EPOCHS and MIN_ALONE_FRACTION of them alone: time per
  epoch = their mean; total time = that mean x the epochs (an estimate, labelled "est. from u of t epochs");
* "shared": fewer epochs alone than that: all epochs, ``shared_by`` = the median k of its epochs;
* "unknown": a CUDA training (train.json ``device`` "cuda") with an empty/NaN count in some epoch, or ``pack`` > 1
  with no column: all epochs, labelled; nothing tells whether its GPU was shared.

Per model, measured.json records ``timed_alone`` (per seed, in the order of the values), ``seeds``, ``shared_seeds``,
``unknown_seeds``, ``unshared_epochs``, ``epochs_timed`` and ``seconds_per_epoch_shared_by`` (the median k over the
shared seeds; None when none is). The audit's timing claims read only the seeds timed alone (:func:`alone_values`);
the others are a labelled side record (:func:`claim_note`).
"""

from __future__ import annotations

import math
import statistics
from typing import Mapping, Sequence

from . import fmt

SHARED_BY = "gpu_shared_by"  # history.csv's column (resrepro.gpus)
QUANTITIES = ("seconds_per_epoch", "total_hours", "images_per_second")  # the times Table 2 and the claims read
# a seed with some epochs shared is timed from its epochs alone only if they are at least this many and this share
MIN_ALONE_EPOCHS, MIN_ALONE_FRACTION = 5, 0.2
SAMPLING = (
    "sharing is sampled from the GPU slot locks of this host at each epoch's start and end: a process holding no slot "
    "(or another host's) is not counted"
)
# what removes sharing as an obstacle to a timing claim (never, alone, what decides it: other obstacles are listed)
SHARED_REASON = (
    "times measured on a GPU shared with other trainings (train.pack > 1), or where sharing was not recorded, "
    "measure packing, not one training alone, so only seeds timed alone count; retraining them with train.pack: 1 "
    "(a slot each, on a GPU of its own) removes this obstacle"
)


def _counts(history, train_json: Mapping) -> tuple[list[float], bool]:
    """Per epoch the number of trainings on the GPU (NaN: not recorded) and whether a NaN means "unknown"."""
    import pandas as pd

    n = len(history["epoch_seconds"])
    if SHARED_BY in history:
        k = [float(v) for v in pd.to_numeric(history[SHARED_BY], errors="coerce")]
    else:
        k = [math.nan] * n
    cuda = str(train_json.get("device") or "").startswith("cuda")
    packed = int(train_json.get("pack") or 1) > 1
    return k, cuda or packed


def job_times(history, train_json: Mapping) -> dict:
    """One training job's times (QUANTITIES) and its ``sharing`` (alone / shared / unknown, see the module).

    ``history``: its history.csv as a DataFrame (``epoch_seconds``, optionally ``gpu_shared_by``)."""
    seconds = [float(s) for s in history["epoch_seconds"]]
    k, nan_unknown = _counts(history, train_json)
    ips = float(train_json["images_per_second"])  # over all epochs: train images x epochs / their seconds
    mean_all = statistics.fmean(seconds)
    every = {"seconds_per_epoch": mean_all, "total_hours": sum(seconds) / 3600, "images_per_second": ips}
    out = {"epochs": len(seconds), "shared_by": None}
    if nan_unknown and any(math.isnan(n) for n in k):
        return out | every | {"unshared_epochs": 0, "sharing": "unknown"}
    alone = [s for s, n in zip(seconds, k) if math.isnan(n) or n <= 1]  # NaN here: a CPU training
    if len(alone) == len(seconds):
        return out | every | {"unshared_epochs": len(alone), "sharing": "alone"}
    if len(alone) >= MIN_ALONE_EPOCHS and len(alone) >= MIN_ALONE_FRACTION * len(seconds):
        mean = statistics.fmean(alone)
        return out | {
            "seconds_per_epoch": mean,
            "total_hours": mean * len(seconds) / 3600,
            "images_per_second": ips * mean_all / mean,
            "unshared_epochs": len(alone),
            "sharing": "alone",
        }
    shared_k = [n for n in k if not math.isnan(n)]
    return out | every | {"unshared_epochs": len(alone), "sharing": "shared", "shared_by": statistics.median(shared_k)}


def model_times(jobs: Sequence[tuple[int, dict]]) -> dict:
    """measured.json's sharing record of one model, from its (seed, :func:`job_times`) pairs."""
    shared = [(seed, j["shared_by"]) for seed, j in jobs if j.get("sharing") == "shared"]
    return {
        "seconds_per_epoch_shared_by": statistics.median(k for _, k in shared) if shared else None,
        "seeds": [seed for seed, _ in jobs],
        "timed_alone": [j.get("sharing") == "alone" for _, j in jobs],
        "unshared_epochs": [j["unshared_epochs"] for _, j in jobs],
        "epochs_timed": [j["epochs"] for _, j in jobs],
        "shared_seeds": [seed for seed, _ in shared],
        "unknown_seeds": [seed for seed, j in jobs if j.get("sharing") == "unknown"],
    }


def timed_alone(entry: Mapping) -> list[bool]:
    """Per seed (in the order of the values): whether its times were taken alone. measured.json files written
    before ``timed_alone`` existed: a seed with no epoch alone was the shared one."""
    if "timed_alone" in entry:
        return [bool(a) for a in entry["timed_alone"]]
    return [u > 0 for u in entry.get("unshared_epochs") or []]


def alone_values(entry: Mapping, quantity: str) -> list[float] | None:
    """The values of ``quantity`` of the seeds timed alone (all values for a quantity that is no time)."""
    s = entry.get(quantity)
    values = list(s["values"]) if isinstance(s, Mapping) and isinstance(s.get("values"), list) else None
    flags = timed_alone(entry)
    if values is None or quantity not in QUANTITIES or len(flags) != len(values):
        return values
    return [v for v, a in zip(values, flags) if a]


def side_values(entry: Mapping, quantity: str) -> list[float]:
    """The values of ``quantity`` of the seeds not timed alone (shared or unknown): the labelled side record."""
    s = entry.get(quantity)
    values = list(s["values"]) if isinstance(s, Mapping) and s.get("values") else []
    flags = timed_alone(entry)
    return [v for v, a in zip(values, flags) if not a] if len(flags) == len(values) else []


def alone_count(entry: Mapping) -> int:
    return sum(timed_alone(entry))


def estimated(entry: Mapping) -> list[tuple[int, int]]:
    """(epochs alone, epochs) of each seed timed alone from only some of its epochs (its total is an estimate)."""
    used, timed = entry.get("unshared_epochs") or [], entry.get("epochs_timed") or []
    flags = timed_alone(entry)
    return [(u, t) for u, t, a in zip(used, timed, flags) if a and 0 < u < t]


def _k(value: float) -> str:
    return fmt.count(int(value), "training") if float(value).is_integer() else f"{value:g} trainings (median)"


def state(entry: Mapping) -> str:
    """ "alone" (every seed timed alone), "partly shared" (some seeds not), "shared" (no seed timed alone, some
    shared) or "unknown" (no seed timed alone, sharing not recorded for any) for a measured.json entry."""
    flags = timed_alone(entry)
    out = len(flags) - sum(flags)
    if not out:
        return "alone"
    if sum(flags):
        return "partly shared"
    return "shared" if entry.get("shared_seeds") else "unknown"


def device_label(entry: Mapping) -> str:
    """After the device of a model not timed alone: "(shared GPU)", "(partly shared GPU)", "(GPU sharing unknown)";
    "" when alone."""
    s = state(entry)
    return {"alone": "", "unknown": " (GPU sharing unknown)"}.get(s, f" ({s} GPU)")


def _k_of(entry: Mapping) -> str:
    k = entry.get("seconds_per_epoch_shared_by")
    return _k(k) if k is not None else "sharing not recorded"


def cell_label(entry: Mapping, quantity: str = "seconds_per_epoch") -> str:
    """What a timing cell of Table 2 adds for a model not timed alone, or whose total is estimated ("" else)."""
    s, label = state(entry), ""
    if s in ("shared", "unknown"):
        label = " shared GPU (" + _k_of(entry) + ")" if s == "shared" else " GPU sharing unknown"
    elif s == "partly shared":
        n = len(timed_alone(entry))
        label = f" partly shared GPU ({n - alone_count(entry)} of {n} seeds, {_k_of(entry)})"
    est = estimated(entry)
    if est and quantity in ("total_hours", "images_per_second"):
        label += " est. from " + ", ".join(f"{u} of {t}" for u, t in est) + " epochs"
    return label


def notes(measured: Mapping[str, Mapping]) -> list[str]:
    """Table 2's notes on how each model's times were taken, where they are not simply all epochs alone."""
    out = [f"GPU sharing: {SAMPLING}."]
    for model, e in measured.items():
        name, s = fmt.display_name(model), state(e)
        if s == "shared":
            out.append(
                f"{name}: no seed had enough epochs alone on its GPU ({_k_of(e)}, train.pack): its times measure "
                "packing, not one training alone, and decide no timing claim."
            )
        elif s == "unknown":
            out.append(
                f"{name}: trained on a GPU with no record of whether it was shared (no slot, or train.pack > 1 "
                "without gpu_shared_by): its times decide no timing claim."
            )
        elif s == "partly shared":
            left = [str(seed) for seed, a in zip(e.get("seeds") or [], timed_alone(e)) if not a]
            out.append(
                f"{name}: seeds {', '.join(left) or '?'} were not timed alone ({_k_of(e)}); the table's mean mixes "
                "them in, the timing claims use only the seeds timed alone."
            )
        est = estimated(e)
        if est:
            counts = ", ".join(f"{u} of {t}" for u, t in est)
            out.append(
                f"{name}: time per epoch from the epochs that had the GPU alone only ({counts} epochs); total "
                "training time and images per second are estimates from them (their mean x the epochs), not measured "
                "sums; epochs alone are not a random sample of a training's epochs."
            )
    return out


def claim_note(models: Sequence[str], quantities: Sequence[str], measured: Mapping[str, Mapping]) -> tuple[list, str]:
    """For an audit check on ``quantities`` of ``models``: the models with no seed timed alone (they decide nothing)
    and a sentence for the evidence ("" when every time was taken alone or no quantity is a time)."""
    if not set(quantities) & set(QUANTITIES):
        return [], ""
    entries = {m: measured.get(m) or {} for m in models}
    none = [m for m, e in entries.items() if state(e) in ("shared", "unknown")]
    parts = []
    for m, e in entries.items():
        flags = timed_alone(e)
        left = len(flags) - sum(flags)
        if left and m not in none:
            side = [f"{v:.4g}" for q in quantities if q in QUANTITIES for v in side_values(e, q)]
            parts.append(
                f"{left} of {fmt.count(len(flags), 'seed')} of {fmt.display_name(m)} not timed alone, left out"
                + (f" (their values: {', '.join(side)})" if side else "")
            )
        if estimated(e) and "seconds_per_epoch" not in quantities:
            parts.append(f"{fmt.display_name(m)}'s times of some seeds are estimated from their epochs alone")
    if none:
        parts.insert(0, f"no seed of {fmt.names(none)} was timed alone on its GPU (shared, or sharing not recorded)")
    if parts:
        parts.append(SAMPLING)
    return none, "; ".join(parts)


def device_mismatch(models: Sequence[str], measured: Mapping[str, Mapping]) -> str:
    """Why times of ``models`` cannot be compared: their seeds, or the models, ran on different devices ("" else)."""
    per = {m: list((measured.get(m) or {}).get("devices") or []) for m in models}
    mixed = [m for m, d in per.items() if len(d) > 1]
    if mixed:
        return (
            "seeds of "
            + "; ".join(f"{fmt.display_name(m)} ran on {', '.join(per[m])}" for m in mixed)
            + (", so their times average different hardware; times of one device each would decide it")
        )
    devices = {d for ds in per.values() for d in ds}
    if len(devices) > 1:
        return (
            "the compared models ran on different devices ("
            + "; ".join(f"{fmt.display_name(m)}: {', '.join(d)}" for m, d in per.items() if d)
            + "), so their times compare hardware; the same device for all would decide it"
        )
    return ""


def label_cells(row: list[str], entry: Mapping, quantities: Sequence[tuple[str, str, int]]) -> list[str]:
    """A row of Table 2 (model, then paper | ours | difference per quantity) with its timing cells labelled."""
    row = list(row)
    for i, (key, _, _) in enumerate(quantities):
        if key in QUANTITIES:
            row[2 + 3 * i] += cell_label(entry, key)  # the "ours" sub-column of that quantity
    return row
