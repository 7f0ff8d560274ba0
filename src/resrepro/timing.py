"""Table 2's times from epochs a training had its GPU alone; times measured on a shared GPU are labelled, never mixed
in silently.

Packed trainings (``train.pack`` > 1: k processes on one GPU, resrepro.gpus) are each exactly the training they would
be alone, but their epochs' wall times measure the contention. history.csv's ``gpu_shared_by`` says, per epoch, how
many trainings held a slot of that GPU (1 = alone; empty = a CPU training, or not recorded). Per training job:

* every epoch alone (or the column empty / absent): the times as they are (train.json's images per second);
* some epochs alone: time per epoch = the mean over those; total time = that mean x the epochs; images per second
  scaled to it (the shared epochs are left out, and the notes say how many epochs were used);
* no epoch alone: all epochs, labelled shared: ``shared_by`` = the median k of its epochs.

Per model, measured.json records ``seconds_per_epoch_shared_by`` (the median k over the seeds whose times are
shared; None when none is), ``unshared_epochs`` (per seed) and ``shared_seeds``. The audit's timing claims read them
(:func:`claim_note`): a claim on shared times says so, and one whose models have only shared times is not testable.
"""

from __future__ import annotations

import statistics
from typing import Mapping, Sequence

from . import fmt

SHARED_BY = "gpu_shared_by"  # history.csv's column (resrepro.gpus)
QUANTITIES = ("seconds_per_epoch", "total_hours", "images_per_second")  # the times Table 2 and the claims read
# why a timing claim whose models were all timed on a shared GPU is not testable
SHARED_REASON = (
    "times measured on a GPU shared with other trainings (train.pack > 1) measure packing, not one training alone; "
    "a run with train.pack: 1 (or the same jobs retrained alone) would decide it"
)


def job_times(history, train_json: Mapping) -> dict:
    """One training job's times (QUANTITIES) from its unshared epochs, else from all of them, labelled shared.

    ``history``: its history.csv as a DataFrame (``epoch_seconds``, optionally ``gpu_shared_by``)."""
    seconds = [float(s) for s in history["epoch_seconds"]]
    if SHARED_BY in history:  # empty cells (a CPU training) read as NaN: alone
        import pandas as pd

        k = [float(v) for v in pd.to_numeric(history[SHARED_BY], errors="coerce")]
    else:
        k = [float("nan")] * len(seconds)
    alone = [s for s, n in zip(seconds, k) if not n > 1]  # NaN (CPU, not recorded) or 1 counts as alone
    ips = float(train_json["images_per_second"])  # over all epochs: train images x epochs / their seconds
    mean_all = statistics.fmean(seconds)
    out = {"unshared_epochs": len(alone), "epochs": len(seconds), "shared_by": None}
    if len(alone) == len(seconds):
        return out | {"seconds_per_epoch": mean_all, "total_hours": sum(seconds) / 3600, "images_per_second": ips}
    if alone:
        mean = statistics.fmean(alone)
        return out | {
            "seconds_per_epoch": mean,
            "total_hours": mean * len(seconds) / 3600,
            "images_per_second": ips * mean_all / mean,
        }
    shared = {"seconds_per_epoch": mean_all, "total_hours": sum(seconds) / 3600, "images_per_second": ips}
    return out | shared | {"shared_by": statistics.median(k)}


def model_times(jobs: Sequence[tuple[int, dict]]) -> dict:
    """measured.json's sharing record of one model, from its (seed, :func:`job_times`) pairs."""
    shared = [(seed, j["shared_by"]) for seed, j in jobs if j["shared_by"] is not None]
    return {
        "seconds_per_epoch_shared_by": statistics.median(k for _, k in shared) if shared else None,
        "unshared_epochs": [j["unshared_epochs"] for _, j in jobs],
        "epochs_timed": [j["epochs"] for _, j in jobs],
        "shared_seeds": [seed for seed, _ in shared],
    }


def _k(value: float) -> str:
    return fmt.count(int(value), "training") if float(value).is_integer() else f"{value:g} trainings (median)"


def state(entry: Mapping) -> str:
    """ "alone", "partly shared" (some seeds' times shared) or "shared" (every seed's) for a measured.json entry."""
    shared, seeds = entry.get("shared_seeds") or [], entry.get("unshared_epochs") or []
    if not shared:
        return "alone"
    return "shared" if len(shared) >= len(seeds) else "partly shared"


def device_label(entry: Mapping) -> str:
    """After the device of a model timed on a shared GPU: "(shared GPU)" or "(partly shared GPU)"; "" when alone."""
    s = state(entry)
    return "" if s == "alone" else f" ({s} GPU)"


def cell_label(entry: Mapping) -> str:
    """What a timing cell of Table 2 adds for a model timed on a shared GPU ("" when alone)."""
    s = state(entry)
    if s == "alone":
        return ""
    k = _k(entry["seconds_per_epoch_shared_by"])
    if s == "shared":
        return f" shared GPU ({k})"
    return f" partly shared GPU ({len(entry['shared_seeds'])} of {len(entry['unshared_epochs'])} seeds, {k})"


def notes(measured: Mapping[str, Mapping]) -> list[str]:
    """Table 2's notes on how each model's times were taken, where they are not simply all epochs alone."""
    out = []
    for model, e in measured.items():
        name, s = fmt.display_name(model), state(e)
        used, timed = e.get("unshared_epochs") or [], e.get("epochs_timed") or []
        if s == "shared":
            out.append(
                f"{name}: every epoch of every seed shared its GPU with other trainings "
                f"({_k(e['seconds_per_epoch_shared_by'])}, train.pack): its times measure packing, not one training "
                "alone, and decide no timing claim."
            )
        elif s == "partly shared":
            seeds = ", ".join(map(str, e["shared_seeds"]))
            out.append(
                f"{name}: seeds {seeds} shared their GPU in every epoch "
                f"({_k(e['seconds_per_epoch_shared_by'])}); the other seeds' times are from epochs alone, so the "
                "mean mixes shared and unshared times."
            )
        partial = [(u, t) for u, t in zip(used, timed) if 0 < u < t]
        if partial:
            counts = ", ".join(f"{u} of {t}" for u, t in partial)
            out.append(
                f"{name}: times from the epochs that had the GPU alone only ({counts} epochs); total training time = "
                "their mean time per epoch x the epochs."
            )
    return out


def claim_note(models: Sequence[str], quantities: Sequence[str], measured: Mapping[str, Mapping]) -> tuple[list, str]:
    """For an audit check on ``quantities`` of ``models``: the models whose times are all shared (they decide nothing)
    and a sentence for the evidence ("" when every time was taken alone or no quantity is a time)."""
    if not set(quantities) & set(QUANTITIES):
        return [], ""
    states = {m: state(measured.get(m) or {}) for m in models}
    shared = [m for m, s in states.items() if s == "shared"]
    partly = [m for m, s in states.items() if s == "partly shared"]
    parts = []
    if shared:
        parts.append(f"every time of {fmt.names(shared)} was measured on a GPU shared with other trainings")
    if partly:
        parts.append(f"some seeds of {fmt.names(partly)} were timed on a shared GPU")
    return shared, "; ".join(parts)


def label_cells(row: list[str], entry: Mapping, quantities: Sequence[tuple[str, str, int]]) -> list[str]:
    """A row of Table 2 (model, then paper | ours | difference per quantity) with its timing cells labelled."""
    label = cell_label(entry)
    if not label:
        return row
    row = list(row)
    for i, (key, _, _) in enumerate(quantities):
        if key in QUANTITIES:
            row[2 + 3 * i] += label  # the "ours" sub-column of that quantity
    return row
