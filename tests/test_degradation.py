"""The degradation study from result files: the evidence rule (both ways) and the outputs."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from resrepro import degradation, io, models, outputs
from resrepro.paper import load_context


def stats(mean, std=None):
    return {"mean": mean, "std": std, "n": 1 if std is None else 3, "values": []}


def summary(plain_errors, res_errors, std=None):
    kinds = {}
    for kind, errs in (("plain", plain_errors), ("resnet", res_errors)):
        for d, e in zip((20, 56), errs):
            kinds[f"{kind}{d}"] = {"final_train_error": stats(e, std), "test_error": stats(e + 5, std)}
    return {"depths": [20, 56], "kinds": kinds}


def test_evidence_finds_degradation_only_beyond_the_noise():
    ev = degradation.evidence(summary([10.0, 20.0], [10.0, 8.0]))
    assert ev["plain_degrades"] and not ev["residual_degrades"]
    assert ev["shortcut_lowers_train_error_at_depth"]["56"]
    ev = degradation.evidence(summary([10.0, 10.5], [10.0, 8.0]))
    assert not ev["plain_degrades"], "half a point is inside the 1-point floor"
    ev = degradation.evidence(summary([10.0, 15.0], [10.0, 8.0], std=3.0))
    assert not ev["plain_degrades"], "5 points is inside 2 std = 6 points"


def test_twins_are_paired_by_depth():
    assert degradation.twins(["plain20", "resnet20", "resnet56", "plain110", "resnet110", "vgg16"]) == [20, 110]


def make_run(root, depths=(20, 32), seeds=(0,)):
    for kind in ("plain", "resnet"):
        for d in depths:
            for s in seeds:
                base = root / "train" / f"{kind}{d}" / f"seed{s}"
                err = 0.3 + (0.01 * d if kind == "plain" else -0.001 * d)
                base.mkdir(parents=True, exist_ok=True)
                pd.DataFrame(
                    {"epoch": [1, 2, 3], "train_acc": [0.3, 0.5, 1 - err], "val_acc": [0.3, 0.45, 0.6]}
                ).to_csv(base / "history.csv", index=False)
                n_blocks = 3 * (d - 2) // 6
                g = [
                    {
                        "epoch": e,
                        "activation_grad_norm": list(np.geomspace(1e-3 if kind == "plain" else 0.5, 1.0, n_blocks)),
                        "weight_grad_norm": [1.0] * n_blocks,
                        "loss": 2.3,
                    }
                    for e in (0, 3)
                ]
                io.write_json(
                    base / "gradflow.json", {"model": f"{kind}{d}", "seed": s, "images": 8, "measurements": g}
                )
                torch.save(models.create(f"{kind}{d}").state_dict(), base / "weights.pt")
                io.write_json(root / "eval" / f"{kind}{d}" / f"seed{s}" / "metrics.json", {"accuracy": 0.6})


def test_study_outputs_from_result_files(tmp_path):
    make_run(tmp_path)
    context = load_context(Path(__file__).resolve().parents[1] / "reports" / "context.yaml")
    s = degradation.run(
        tmp_path, ["plain20", "resnet20", "plain32", "resnet32"], [0], tmp_path / "out", context, note="fixture"
    )
    assert s["depths"] == [20, 32] and s["evidence"]["plain_degrades"] and not s["evidence"]["residual_degrades"]
    assert s["kinds"]["plain20"]["grad_ratio_first_to_last_block"]["0"]["mean"] == pytest.approx(1e-3)
    assert s["jacobian"]["max_abs_deviation"] < 1e-9 and len(s["jacobian"]["checks"]) == 3
    t = pd.read_csv(tmp_path / "out" / "table6.csv")
    assert list(t["Depth"]) == [20, 32] and list(t["He et al. ResNet test error (%)"]) == [8.75, 7.51]
    data = pd.read_csv(tmp_path / "out" / outputs.data_csv("table6"))  # the numeric CSV: numbers, mean/sd/n apart
    assert list(data["he_resnet_test_error"]) == [8.75, 7.51] and data["plain_train_error_n"].tolist() == [1, 1]
    assert all(data[c].dtype.kind in "fi" for c in data.columns), data.dtypes.to_dict()
    for f in ("figure6.svg", "figure6.png", "gradflow.svg", "gradflow.png", "summary.json"):
        assert (tmp_path / "out" / f).stat().st_size > 1000
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["he_table6"]["test_error"]["20"] == 8.75


def test_study_needs_twins(tmp_path):
    with pytest.raises(degradation.ResreproError, match="plain/residual twins"):
        degradation.read_runs(tmp_path, ["resnet20", "vgg16"], [0])


def test_he_table6_comes_from_the_context_file():
    assert degradation.he_table6([{"id": "he2016", "cite": "He", "values": {"resnet56": 6.97, "vgg16": 9.0}}]) == {
        "citation": "He",
        "test_error": {56: 6.97},
    }
    with pytest.raises(degradation.ResreproError, match="no source 'he2016'"):
        degradation.he_table6([{"id": "kuangliu", "cite": "k", "values": {}}])


def test_nets_that_never_started_converging_make_the_shortcut_comparison_untestable():
    ev = degradation.evidence(summary([50.0, 89.0], [45.0, 88.0]))
    assert ev["not_started"] == ["plain56", "resnet56"]
    assert (
        ev["shortcut_lowers_train_error_at_depth"]["56"] is None
        and ev["shortcut_lowers_test_error_at_depth"]["56"] is None
    )
    ev = degradation.evidence(summary([50.0, 89.0], [45.0, 40.0]))  # only the plain net failed: a real difference
    assert ev["not_started"] == ["plain56"] and ev["shortcut_lowers_train_error_at_depth"]["56"] is True
