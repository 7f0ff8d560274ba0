"""Synthetic result folders (results/<run>/) as the analysis and provenance stages write them:
tables/measured.json, models.json, provenance.json, train/<model>/seed<k>/train.json, and optionally
degradation/summary.json. For the merged audit's tests (tests/test_claims_merged.py, tests/test_pipeline.py)."""

from __future__ import annotations

from pathlib import Path

from resrepro import catalog, io
from resrepro.claims.gradients import WEIGHT_RATIO
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
    """A degradation study's summary (resrepro.degradation.collect): plain-56's first/last-block weight-gradient
    ratio vanishes against plain-20's at initialisation, in each of three seeds; every net started converging."""

    def k(ratio, train_error):
        return {
            WEIGHT_RATIO: {"0": {"mean": ratio, "values": [ratio] * 3}},
            "grad_ratio_first_to_last_block": {"0": {"mean": ratio, "values": [ratio] * 3}},
            "final_train_error": summarise([train_error] * 3),
            "test_error": summarise([train_error + 6.0] * 3),
        }

    from resrepro import degradation

    out = {
        "depths": [20, 56],
        "seeds": [0, 1, 2],
        "kinds": {"plain20": k(1.0, 1.0), "plain56": k(0.01, 5.0), "resnet20": k(0.9, 0.5), "resnet56": k(0.8, 0.2)},
    }
    return out | {"evidence": degradation.evidence(out)}
