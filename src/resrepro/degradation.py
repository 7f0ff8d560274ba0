"""The degradation and gradient-flow study (He et al. 2016, Fig. 6 and Table 6), from result files.

Inputs: a run whose models include plain/residual twins (``plainD``/``resnetD``), with their
histories, test metrics and gradient-flow measurements (``train.gradflow_epochs``). Outputs, under
``results/<run>/degradation/``: ``summary.json`` (per depth and kind: final training and test
error, mean +- std over seeds; per recorded epoch and seed, the ratios first/last block of the gradient
reaching a block and of its weight gradient; the degradation evidence),
``table6.csv``, ``figure6.svg/png`` (training and validation error per epoch, plain left, residual
right) and ``gradflow.svg/png`` (gradient norm reaching each block, plain against residual; both
drawn by :func:`resrepro.figures.degradation_figures`); the
summary also holds He et al.'s Table 6 (from reports/context.yaml) and the paper's dy/dx = dF/dx + I
checked on trained blocks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import ResreproError, catalog, fmt, io, jobset, outputs
from .stats import STARTED_BELOW, summarise

# He et al.'s Table 6 comes from reports/context.yaml (source ``he2016``), the one transcription of it.
HE_SOURCE = "he2016"


def he_table6(sources: list[dict]) -> dict:
    """He et al.'s CIFAR-10 test errors (%) by depth, with the citation, from the context sources."""
    he = next((src for src in sources if src["id"] == HE_SOURCE), None)
    if he is None:
        raise ResreproError(
            f"the context file has no source {HE_SOURCE!r} (He et al. 2016, Table 6); see reports/context.yaml"
        )
    he_nets = {m: catalog.get(m) for m in he["values"] if m in catalog.available()}
    errors = {spec.depth: he["values"][m] for m, spec in he_nets.items() if spec.family == "cifar-resnet"}
    return {"citation": he["cite"], "test_error": errors}


def twins(models: list[str]) -> list[int]:
    """Depths for which the run has both a plain net and its residual twin (resrepro.catalog)."""
    return [catalog.get(plain).depth for plain, _ in catalog.twins(models)]


KINDS = ("plain", "resnet")  # the two members of a catalog.pair, as keyed in summary.json


def _model(kind: str, depth: int) -> str:
    return catalog.pair(depth)[KINDS.index(kind)]


def read_runs(results: str | Path, models: list[str], seeds: jobset.Seeds) -> tuple[list[int], dict]:
    """The twins' depths and each twin's result files, read once (``seeds``: one list, or per model).

    Returns ``(depths, runs)``, ``runs``: {model: [per seed: seed, history, test accuracy, gradflow]}.
    """
    results = Path(results)
    depths = twins(models)
    if not depths:
        raise ResreproError(
            "the degradation study needs plain/residual twins in `models` (e.g. plain20 and resnet20); "
            "see presets/degradation.yaml"
        )
    runs = {}
    for model in (_model(kind, d) for kind in KINDS for d in depths):
        runs[model] = [
            {
                "seed": s,
                "history": io.read_csv(results / "train" / model / f"seed{s}" / "history.csv", ("epoch", "train_acc")),
                "test_accuracy": io.read_json(results / "eval" / model / f"seed{s}" / "metrics.json")["accuracy"],
                "gradflow": io.read_json(results / "train" / model / f"seed{s}" / "gradflow.json")["measurements"],
            }
            for s in jobset.seeds_for(seeds, model)
        ]
    return depths, runs


def _scale_free(measurement: dict) -> list[float]:
    """Per block ||dL/dW|| ||W|| (invariant to the growth of W before batch normalisation), or ||dL/dW|| alone for
    measurements recorded before resrepro kept ||W||."""
    g = measurement["weight_grad_norm"]
    w = measurement.get("weight_norm")
    return [a * b for a, b in zip(g, w)] if w else list(g)


def _ratio(norms: list[float]) -> float:
    """First block's norm over the last block's (NaN when the last block gets no gradient at all)."""
    return norms[0] / norms[-1] if norms[-1] > 0 else float("nan")


# summary.json's keys of the two ratios, per recorded epoch: {epoch: summarise(per-seed ratios, in seed order)}
ACTIVATION_RATIO = "grad_ratio_first_to_last_block"  # dL/d(block output): the gradient reaching the block
WEIGHT_RATIO = "weight_grad_ratio_first_to_last_block"  # ||dL/d(conv1 weights)|| ||W||: what updates the block
# the median over blocks of ||F(x)|| / ||x||, per recorded epoch (recorded by resrepro.gradflow since it measures it)
RESIDUAL_RESPONSE = "median_block_residual_ratio"


def collect(depths: list[int], seeds: jobset.Seeds, runs: dict) -> dict:
    """Per twin: final training and test error (mean +- std over seeds) and, at every recorded gradient-flow
    epoch, the ratios first/last block of the activation and of the weight gradient (per seed, in the order
    of ``seeds``); then the evidence. The first and last blocks differ in width (16 and 64 channels), so a
    weight ratio is compared between nets of the same stages (a deeper plain net with a shallower one, a
    residual net with its plain twin), never with 1."""
    recorded = sorted({r["seed"] for v in runs.values() for r in v if "seed" in r})
    out = {"depths": depths, "seeds": recorded or list(jobset.seeds_for(seeds, "")), "kinds": {}}
    for model, per_seed in runs.items():
        ratios: dict = {ACTIVATION_RATIO: {}, WEIGHT_RATIO: {}}
        for m in per_seed[0]["gradflow"]:
            at_epoch = [next((x for x in r["gradflow"] if x["epoch"] == m["epoch"]), None) for r in per_seed]
            if None in at_epoch:
                seed, first = (r.get("seed", "?") for r in (per_seed[at_epoch.index(None)], per_seed[0]))
                raise ResreproError(
                    f"{model} seed {seed} has no gradient-flow measurement at epoch {m['epoch']}, which seed "
                    f"{first} has: train every seed with the same train.gradflow_epochs"
                )
            ratios[ACTIVATION_RATIO][str(m["epoch"])] = summarise([_ratio(x["activation_grad_norm"]) for x in at_epoch])
            ratios[WEIGHT_RATIO][str(m["epoch"])] = summarise([_ratio(_scale_free(x)) for x in at_epoch])
            if all("residual_ratio" in x for x in at_epoch):
                medians = [float(np.nanmedian(np.asarray(x["residual_ratio"], dtype=float))) for x in at_epoch]
                ratios.setdefault(RESIDUAL_RESPONSE, {})[str(m["epoch"])] = summarise(medians)
        out["kinds"][model] = {
            "depth": catalog.get(model).depth,
            "kind": "resnet" if catalog.get(model).residual else "plain",
            "final_train_error": summarise([100 * (1 - r["history"]["train_acc"].iloc[-1]) for r in per_seed]),
            "test_error": summarise([100 * (1 - r["test_accuracy"]) for r in per_seed]),
            **ratios,
        }
    out["evidence"] = evidence(out)
    return out


def _differs(a: dict, b: dict, floor: float) -> bool:
    """``b`` is above ``a`` by more than the noise: 2 x the larger std over seeds, at least ``floor``."""
    spread = max(a["std"] or 0.0, b["std"] or 0.0)
    return b["mean"] - a["mean"] > max(2 * spread, floor)


def evidence(summary: dict, floor: float = 1.0) -> dict:
    """Degradation (deeper has higher *training* error) per kind, between the shallowest and each deeper depth.

    A difference counts only if it exceeds twice the larger standard deviation over seeds and at
    least ``floor`` percentage points (with one seed there is no spread, so only the floor applies).
    """
    depths = summary["depths"]
    res = {}
    for kind in ("plain", "resnet"):
        shallow = summary["kinds"][_model(kind, depths[0])]["final_train_error"]
        res[kind] = {
            str(d): {
                "deeper_minus_shallower_train_error": (
                    summary["kinds"][_model(kind, d)]["final_train_error"]["mean"] - shallow["mean"]
                ),
                "degraded": _differs(shallow, summary["kinds"][_model(kind, d)]["final_train_error"], floor),
            }
            for d in depths[1:]
        }
    deepest = depths[-1]
    plain_deep, res_deep = (summary["kinds"][m] for m in catalog.pair(deepest))
    not_started = sorted(
        (m for m, k in summary["kinds"].items() if k["final_train_error"]["mean"] >= STARTED_BELOW),
        key=lambda m: (catalog.get(m).residual, catalog.get(m).depth),
    )
    # when neither twin at the deepest depth started converging, comparing them says nothing about the shortcut
    comparable = any(m not in not_started for m in catalog.pair(deepest))
    return {
        "rule": (
            f"a deeper net is degraded when its final training error exceeds the {depths[0]}-layer net's "
            f"by more than max(2 std over seeds, {floor} points)"
        ),
        "started_rule": (
            f"a net started converging when its final training error is below {STARTED_BELOW:g} % (He et al., Sec. 4.2)"
        ),
        "not_started": not_started,
        "degradation": res,
        "plain_degrades": any(v["degraded"] for v in res["plain"].values()),
        "residual_degrades": any(v["degraded"] for v in res["resnet"].values()),
        "shortcut_lowers_train_error_at_depth": {
            str(deepest): _differs(res_deep["final_train_error"], plain_deep["final_train_error"], floor)
            if comparable
            else None
        },
        "shortcut_lowers_test_error_at_depth": {
            str(deepest): _differs(res_deep["test_error"], plain_deep["test_error"], floor) if comparable else None
        },
    }


def table6(summary: dict) -> pd.DataFrame:
    def f(s):
        return fmt.mean_std(s, 2, table=False)

    rows = []
    for d in summary["depths"]:
        p, r = (summary["kinds"][m] for m in catalog.pair(d))
        rows.append(
            {
                "Depth": d,
                "He et al. ResNet test error (%)": summary["he_table6"]["test_error"].get(d, float("nan")),
                "Ours ResNet test error (%)": f(r["test_error"]),
                "Ours plain test error (%)": f(p["test_error"]),
                "Ours ResNet train error (%)": f(r["final_train_error"]),
                "Ours plain train error (%)": f(p["final_train_error"]),
            }
        )
    return pd.DataFrame(rows)


def table6_data(summary: dict) -> pd.DataFrame:
    """Table 6 as numbers (the numeric CSV, resrepro.outputs.data_csv): mean, sd and n of each quantity apart."""
    rows = []
    for d in summary["depths"]:
        row = {"depth": d, "he_resnet_test_error": summary["he_table6"]["test_error"].get(d)}
        for kind, model in zip(KINDS, catalog.pair(d)):
            for q in ("test_error", "final_train_error"):
                s = summary["kinds"][model][q]
                name = f"{kind}_{'train_error' if q == 'final_train_error' else q}"
                row |= {f"{name}_mean": s["mean"], f"{name}_sd": s["std"], f"{name}_n": s["n"]}
        rows.append(row)
    return pd.DataFrame(rows)


def jacobian_on_trained(results: str | Path, depth: int, seeds: list[int]) -> dict:
    """The paper's identity on trained blocks of resnetD: one identity block per stage, with the weights of the
    first of ``seeds`` that has them. Archived jobs ship no weights: with none, on the initialised net (said so)."""
    import torch

    from . import gradflow, models
    from .checkpoints import load_weights

    name = catalog.pair(depth)[1]
    model = models.create(name)
    folders = [Path(results) / "train" / name / f"seed{s}" for s in seeds]
    trained = next(((s, f) for s, f in zip(seeds, folders) if (f / "weights.pt").exists()), None)
    seed = trained[0] if trained else None
    if trained or not all((f / "train.json").exists() for f in folders):  # a trained job: its weights, or an error
        seed, folder = trained or (seeds[0], folders[0])
        load_weights(folder / "weights.pt", "cpu", model)  # a clear error naming the file if unreadable or foreign
    torch.manual_seed(0)
    out = []
    stages = ((model.layer1, 16, 4), (model.layer2, 32, 4), (model.layer3, 64, 3))
    for stage, (layer, channels, size) in enumerate(stages, 1):
        block = layer[-1]
        r = gradflow.jacobian_check(block, torch.randn(channels, size, size))
        out.append({"model": name, "seed": seed, "stage": stage, "block": len(layer), **r})
    worst = max(max(c["max_abs_dev_pre"], c["max_abs_dev_out"]) for c in out)
    return {"checks": out, "max_abs_deviation": worst, "trained": seed is not None}


def run(
    results: str | Path,
    models: list[str],
    seeds: list[int],
    out_dir: str | Path,
    context: list[dict],
    note: str | None = None,
) -> dict:
    """The study from a run's result files; ``context``: the published sources (reports/context.yaml)."""
    out_dir = Path(out_dir)
    depths, runs = read_runs(results, models, seeds)
    summary = collect(depths, seeds, runs)
    summary["he_table6"] = he_table6(context)
    summary["jacobian"] = jacobian_on_trained(results, depths[0], jobset.seeds_for(seeds, catalog.pair(depths[0])[1]))
    (table_id,) = outputs.table_ids("degradation")
    with io.atomic_path(out_dir / f"{table_id}.csv") as tmp:
        table6(summary).to_csv(tmp, index=False)
    with io.atomic_path(out_dir / outputs.data_csv(table_id)) as tmp:
        table6_data(summary).to_csv(tmp, index=False, float_format="%.12g")
    from .figures import degradation_figures  # matplotlib only here: the module stays light

    degradation_figures(runs, summary, out_dir, note)
    io.write_json(out_dir / "summary.json", summary)
    return summary
