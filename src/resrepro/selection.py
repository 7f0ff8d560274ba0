"""Selection bias: what selecting the epoch on the test set, as peers do, adds to a test accuracy.

Three test accuracies (%) per (model, seed), from a run's result files:

* ``selected``: the test accuracy of the weights selected on validation (``eval/<m>/seed<s>/metrics.json``),
  the number we report;
* ``last``: the test accuracy after the last epoch (``history.csv``'s ``test_acc``, last row);
* ``best_test``: the highest test accuracy over all epochs (``history.csv``): what peers report when they keep
  the checkpoint of the best test epoch (kuangliu/pytorch-cifar, akamaster/pytorch_resnet_cifar10).

Two quantities, in percentage points, per seed and then mean, sd and a 95 % t-interval over seeds:

* ``gap`` = best_test - (the curve at the validation-selected epoch): how far the peers' figure lies above
  ours, both from the same test pass (none when the curve has no row at the selected epoch). It is NOT the
  bias alone: per seed it is the selection bias plus the true difference between the two selected epochs
  (10,000 test images tend to pick a better epoch than 5,000 validation images) plus noise; ``gap_last`` =
  best_test - last likewise.
* ``selection_bias``, the split-half estimate: the test set's two fixed halves (even and odd positions,
  ``test_acc_a`` / ``test_acc_b``); pick the epoch on one half, score it on both;
  bias = mean over the two directions of (accuracy on the picking half - accuracy on the other half) at the
  picked epoch. The other half is independent of the pick, so this estimates the optimism of reporting a test
  set's own maximum, for a test set of half the size (in expectation a larger test set has a smaller one,
  about 1/sqrt(2) of it when the epochs' test noise dominates; one seed's estimate is noisy and can be
  negative). Intervals over seeds are conditional on this test set and its one split into halves.

``selected`` (metrics.json, the evaluate job) and the curve at the selected epoch are the same weights on the
same images; a difference larger than one image's share is reported (``mismatch``). The test curve is
recorded by training with ``train.test_curve`` on (:mod:`resrepro.train`) and only ever written to the
history: nothing selects on it. A job without it (an older run, or the curve off) is "not recorded", never an
error. Torch-free.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import fmt, io, jobset, outputs
from .stats import mean_ci

FIGURES = ("selected", "last", "best_test")  # the three test accuracies (%), in this order
GAPS = ("gap", "gap_last", "selection_bias")  # percentage points (the module's docstring)
CORE = ("test_acc", "test_seconds")  # the curve itself; the halves (test_acc_a, _b) may be absent in older runs
NUMERIC_COLUMNS = (
    "model",
    "n",
    *(f"{q}_{s}" for q in FIGURES + GAPS for s in ("mean", "sd", "ci_low", "ci_high")),
    "test_share_mean",
    "mismatched_seeds",
)


def from_history(history: pd.DataFrame) -> dict | None:
    """The test curve of one history: last and best test accuracy (%), the best epoch and the test pass's cost;
    None when the history has no complete test curve (not recorded)."""
    if not all(c in history.columns for c in CORE) or len(history) == 0:
        return None
    acc = pd.to_numeric(history["test_acc"], errors="coerce")
    seconds = pd.to_numeric(history["test_seconds"], errors="coerce")
    if acc.isna().any() or seconds.isna().any():
        return None
    best = int(acc.to_numpy().argmax())  # the first epoch of the highest test accuracy
    epoch_seconds = float(pd.to_numeric(history["epoch_seconds"]).sum())
    return {
        "last": 100 * float(acc.iloc[-1]),
        "best_test": 100 * float(acc.iloc[best]),
        "best_test_epoch": int(history["epoch"].iloc[best]),
        "epochs": len(history),
        "test_seconds": float(seconds.sum()),
        "epoch_seconds": epoch_seconds,
        "test_share": float(seconds.sum()) / epoch_seconds if epoch_seconds > 0 else None,
    }


def split_half_bias(history: pd.DataFrame) -> float | None:
    """The split-half selection bias (pp): pick the epoch on one half of the test set, score it on the other;
    the mean over both directions of (picking half - other half) at the picked epoch. None without halves."""
    if not all(c in history.columns for c in ("test_acc_a", "test_acc_b")):
        return None
    a, b = (pd.to_numeric(history[c], errors="coerce").to_numpy() for c in ("test_acc_a", "test_acc_b"))
    if pd.isna(a).any() or pd.isna(b).any():
        return None
    i, j = int(a.argmax()), int(b.argmax())
    return 100 * ((a[i] - b[i]) + (b[j] - a[j])) / 2


def per_seed(selected_accuracy: float, history: pd.DataFrame, selected_epoch: int | None = None, n_test=None) -> dict:
    """One (model, seed): the three figures, the gaps and the split-half bias, from the selected model's test
    accuracy (0..1, metrics.json, on ``n_test`` images) and the job's history; {"recorded": False, ...} without
    a test curve."""
    selected = 100 * float(selected_accuracy)
    curve = from_history(history)
    if curve is None:
        return {"recorded": False, "selected": selected, "selected_epoch": selected_epoch}
    at = history.loc[history["epoch"] == selected_epoch, "test_acc"]  # the same weights, from the same pass
    at_selected = 100 * float(at.iloc[0]) if len(at) else None
    one_image = 100 / n_test if n_test else 0.0
    return {
        "recorded": True,
        "selected": selected,
        "selected_epoch": selected_epoch,
        "curve_at_selected_epoch": at_selected,
        "mismatch": bool(n_test) and at_selected is not None and abs(at_selected - selected) > one_image + 1e-9,
        **curve,
        "gap": None if at_selected is None else curve["best_test"] - at_selected,  # one test pass, never two
        "gap_last": curve["best_test"] - curve["last"],
        "selection_bias": split_half_bias(history),
    }


def summarise_model(model: str, seeds: dict[int, dict]) -> dict:
    """Mean, sd and n over the seeds that recorded a test curve (the same seeds for every figure, so that the
    gaps are paired); the seeds without one are listed."""
    recorded = {s: r for s, r in seeds.items() if r["recorded"]}
    out = {
        "model": model,
        "recorded": bool(recorded),
        "seeds": sorted(recorded),
        "not_recorded": sorted(s for s in seeds if s not in recorded),
    }
    for q in FIGURES + GAPS:
        values = [r[q] for r in recorded.values() if r[q] is not None]
        out[q] = mean_ci(values) if values else None
    if not recorded:  # our own figure is known without the curve: over every seed
        out["selected"] = mean_ci([r["selected"] for r in seeds.values()]) if seeds else None
    shares = [r["test_share"] for r in recorded.values() if r["test_share"] is not None]
    out["test_share"] = mean_ci(shares) if shares else None
    out["mismatched"] = sorted(s for s, r in recorded.items() if r["mismatch"])
    return out


def cost(per_job: list[dict]) -> dict | None:
    """What the test pass costs: its seconds per epoch and its share of the epoch time (which excludes it),
    over every job that recorded the curve; None when none did."""
    jobs = [r for r in per_job if r["recorded"]]
    if not jobs:
        return None
    epochs = sum(r["epochs"] for r in jobs)
    test, train = sum(r["test_seconds"] for r in jobs), sum(r["epoch_seconds"] for r in jobs)
    return {
        "jobs": len(jobs),
        "epochs": epochs,
        "test_seconds_per_epoch": test / epochs,
        "epoch_seconds": train / epochs,
        "share": test / train if train > 0 else None,
    }


def collect(results: str | Path, models: list[str], seeds: jobset.Seeds) -> dict:
    """selection.json: per model the summary over seeds and each seed's figures, and the test pass's cost."""
    results = Path(results)
    out_models, jobs = [], []
    for model in models:
        by_seed = {}
        for seed in jobset.seeds_for(seeds, model):
            metrics = io.read_json(results / "eval" / model / f"seed{seed}" / "metrics.json")
            history = io.read_csv(results / "train" / model / f"seed{seed}" / "history.csv", ("epoch_seconds",))
            summary = results / "train" / model / f"seed{seed}" / "train.json"
            epoch = io.read_json(summary).get("selected_epoch") if summary.exists() else None
            by_seed[seed] = per_seed(metrics["accuracy"], history, epoch, metrics.get("n"))
            jobs.append(by_seed[seed])
        out_models.append(summarise_model(model, by_seed) | {"per_seed": {str(s): r for s, r in by_seed.items()}})
    return {
        "recorded": any(m["recorded"] for m in out_models),
        "models": out_models,
        "cost": cost(jobs),
    }


def numeric_rows(data: dict) -> pd.DataFrame:
    """One row per model, one quantity per column (mean and sd apart, n: the seeds with a test curve);
    empty cells where the curve was not recorded."""
    rows = []
    for m in data["models"]:
        row = {"model": m["model"], "n": len(m["seeds"])}  # the seeds with a test curve
        for q in FIGURES + GAPS:
            s = m[q]
            ci = (s or {}).get("ci") or [None, None]
            row |= {
                f"{q}_mean": s and s["mean"],
                f"{q}_sd": s and s["std"],
                f"{q}_ci_low": ci[0],
                f"{q}_ci_high": ci[1],
            }
        row["test_share_mean"] = m["test_share"]["mean"] if m["test_share"] else None
        row["mismatched_seeds"] = len(m.get("mismatched", []))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(NUMERIC_COLUMNS))


def write(data: dict, out_dir: str | Path) -> dict:
    """selection.json (the data) and its numeric CSV (outputs.data_csv: numbers only, pandas reads floats)."""
    out_dir = Path(out_dir)
    io.write_json(out_dir / "selection.json", data)
    with io.atomic_path(out_dir / outputs.data_csv("selection")) as tmp:
        numeric_rows(data).to_csv(tmp, index=False, float_format="%.12g")  # as tablefiles' numeric CSVs
    return data


def _cell(s: dict | None, not_recorded: str, signed: bool = False) -> str:
    """A display cell: mean ± sd (a signed mean for a difference), or ``not_recorded``."""
    if s is None:
        return not_recorded
    mean = fmt.signed(s["mean"]) if signed else fmt.number(s["mean"])
    return mean if s["std"] is None else f"{mean} {fmt.PM} {fmt.number(s['std'])}"


def display_rows(data: dict, not_recorded: str) -> list[list[str]]:
    """The report's table: model, the three figures, the two gaps and the split-half bias, n (seeds with a curve)."""
    rows = []
    for m in data["models"]:
        figures = [_cell(m[q], not_recorded) for q in FIGURES]
        gaps = [_cell(m[q], not_recorded, signed=True) for q in GAPS]
        rows.append([fmt.display_name(m["model"]), *figures, *gaps, str(len(m["seeds"]))])
    return rows


def report_values(data: dict) -> dict:
    """What the report's text uses: recorded, models_not_recorded, cost, epochs (the most epochs of a job with a
    test curve; 0 without one), bias (per model with a split-half estimate: name, mean, 95 % CI or None, n),
    mismatched (model: seeds whose curve and metrics.json disagree by more than one image)."""
    recorded = [m for m in data["models"] if m["recorded"]]
    epochs = [r["epochs"] for m in recorded for r in m["per_seed"].values() if r["recorded"]]
    bias = [
        {"model": fmt.display_name(m["model"]), **{k: m["selection_bias"][k] for k in ("mean", "ci", "n")}}
        for m in recorded
        if m["selection_bias"]
    ]
    return {
        "recorded": data["recorded"],
        "epochs": max(epochs, default=0),
        "models_not_recorded": [fmt.display_name(m["model"]) for m in data["models"] if not m["recorded"]],
        "cost": data["cost"],
        "bias": bias,
        "mismatched": {fmt.display_name(m["model"]): m["mismatched"] for m in recorded if m.get("mismatched")},
    }
