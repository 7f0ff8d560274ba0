"""Synthetic result folders (results/<run>/) as the analysis and provenance stages write them:
tables/measured.json, models.json, provenance.json, train/<model>/seed<k>/train.json, and optionally
degradation/summary.json. For the merged audit's tests (tests/test_claims_merged.py, tests/test_pipeline.py)."""

from __future__ import annotations

from pathlib import Path

from resrepro import catalog, io
from resrepro.stats import summarise

# parameter counts of the 10-class models (tests/test_claims.py), so that nothing is built for them; other
# models get 1 (no claim counts their parameters)
PARAMS = {"resnet18": 11_173_962, "resnet110": 1_727_962, "vgg16": 14_728_266}


def spec(run, *, subset=None, epochs=200, stamp=None, models=(), seeds=(0, 1, 2)):
    data = {"train_subset": subset, "val_subset": subset, "test_subset": subset, "val_size": 5000}
    return {
        "run": run,
        "stamp": stamp,
        "models": list(models),
        "seeds": list(seeds),
        "data": data,
        "train": {"epochs": epochs},
    }


def write_run(root: Path, cfg: dict, models: dict, *, gradients=None, device="cuda") -> Path:
    """results/<run>/ as the pipeline leaves it: models -> {quantity: per-seed values}, plus images_per_second."""
    out = root / cfg["run"]
    measured, info = {}, []
    for m, qs in models.items():
        entry = {q: summarise(v) for q, v in qs.items()}
        if "accuracy" in qs:
            entry["test_error"] = summarise([100 - a for a in qs["accuracy"]])
        flops = 2 * catalog.get(m).macs
        measured[m] = entry | {"devices": ["Test GPU"], "params": PARAMS.get(m, 1), "flops_per_image": flops}
        info.append({"model": m, "params": PARAMS.get(m, 1), "flops_per_image": flops})
        for seed in range(len(next(iter(qs.values())))):
            io.write_json(out / "train" / m / f"seed{seed}" / "train.json", {"model": m, "device": device})
    io.write_json(out / "tables" / "measured.json", measured)
    io.write_json(out / "models.json", info)
    io.write_json(out / "provenance.json", {"config": cfg | {"models": cfg["models"] or list(models)}})
    if gradients:
        io.write_json(out / "degradation" / "summary.json", gradients)
    return out


def grads():
    def k(values):
        return {"grad_ratio_first_to_last_block": {"0": {"mean": sum(values) / len(values), "values": values}}}

    return {
        "depths": [20, 56],
        "kinds": {"plain20": k([1.0]), "plain56": k([0.01]), "resnet20": k([0.9]), "resnet56": k([0.8])},
    }
