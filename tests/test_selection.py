"""Selection bias (resrepro.selection): known test curves in, known gaps and split-half bias out; runs without
a curve."""

import json

import pandas as pd
import pytest

from resrepro import outputs, selection
from resrepro.report import TEMPLATE_DIR, TEXT_FILE, content
from resrepro.report.prose import Prose


def history(test_acc, epoch_seconds=10.0, test_seconds=1.0, halves=None) -> pd.DataFrame:
    """A history of len(test_acc) epochs; test_acc None: without the test curve's columns; ``halves``: the two
    halves' curves (else both equal to test_acc)."""
    n = len(test_acc) if test_acc is not None else 3
    df = pd.DataFrame(
        {
            "epoch": range(1, n + 1),
            "train_loss": 1.0,
            "train_acc": 0.5,
            "val_loss": 1.0,
            "val_acc": 0.5,
            "lr": 0.1,
            "epoch_seconds": epoch_seconds,
            "images_per_second": 100.0,
        }
    )
    if test_acc is not None:
        a, b = halves or (test_acc, test_acc)
        df["test_acc"], df["test_acc_a"], df["test_acc_b"], df["test_seconds"] = test_acc, a, b, test_seconds
    return df[[c for c in outputs.HISTORY_COLUMNS + outputs.HISTORY_TEST_COLUMNS if c in df.columns]]


def write_run(root, curves: dict, selected: dict, halves: dict | None = None) -> None:
    """results/<run>/ with eval metrics.json (on 1,000 test images), train.json (selected epoch 2) and
    history.csv per (model, seed)."""
    for (model, seed), acc in curves.items():
        (root / "eval" / model / f"seed{seed}").mkdir(parents=True)
        (root / "train" / model / f"seed{seed}").mkdir(parents=True)
        (root / "eval" / model / f"seed{seed}" / "metrics.json").write_text(
            json.dumps({"accuracy": selected[model, seed], "n": 1000})
        )
        (root / "train" / model / f"seed{seed}" / "train.json").write_text(json.dumps({"selected_epoch": 2}))
        h = history(acc, halves=(halves or {}).get((model, seed)))
        h.to_csv(root / "train" / model / f"seed{seed}" / "history.csv", index=False)


def test_a_known_test_curve_gives_the_known_gaps_over_seeds(tmp_path):
    # the evaluation (metrics.json) agrees with the curve at the selected epoch 2, as the same weights must
    curves = {("resnet20", 0): [0.50, 0.70, 0.60], ("resnet20", 1): [0.55, 0.65, 0.75]}
    write_run(tmp_path, curves, {("resnet20", 0): 0.70, ("resnet20", 1): 0.65})
    data = selection.collect(tmp_path, ["resnet20"], [0, 1])
    (m,) = data["models"]
    assert m["recorded"] and m["seeds"] == [0, 1] and m["not_recorded"] == [] and m["mismatched"] == []
    assert m["per_seed"]["0"]["best_test"] == pytest.approx(70.0) and m["per_seed"]["0"]["best_test_epoch"] == 2
    assert m["per_seed"]["1"]["last"] == pytest.approx(75.0)
    assert m["per_seed"]["1"]["curve_at_selected_epoch"] == pytest.approx(65.0)
    # gap = best test epoch - the curve at the selected epoch: seed 0: 70 - 70 = 0, seed 1: 75 - 65 = 10
    assert m["gap"]["values"] == pytest.approx([0.0, 10.0])
    assert m["gap"]["mean"] == pytest.approx(5.0) and m["gap"]["n"] == 2 and m["gap"]["std"] == pytest.approx(50**0.5)
    assert m["gap"]["ci"][0] < 0 < m["gap"]["ci"][1]  # two seeds this far apart: the interval holds 0
    # best - last: seed 0: 70 - 60 = 10, seed 1: 0
    assert m["gap_last"]["values"] == pytest.approx([10.0, 0.0])
    assert data["cost"] == {
        "jobs": 2,
        "epochs": 6,
        "test_seconds_per_epoch": pytest.approx(1.0),
        "epoch_seconds": pytest.approx(10.0),
        "share": pytest.approx(0.1),
    }


def test_the_split_half_bias_scores_each_halfs_pick_on_the_other_half():
    # half a peaks at epoch 2 (0.80), where half b has 0.70; half b peaks at epoch 3 (0.78), where a has 0.72
    h = history([0.6, 0.75, 0.75], halves=([0.6, 0.80, 0.72], [0.6, 0.70, 0.78]))
    assert selection.split_half_bias(h) == pytest.approx(100 * ((0.80 - 0.70) + (0.78 - 0.72)) / 2)
    # identical halves: picking on one and scoring on the other adds nothing
    assert selection.split_half_bias(history([0.5, 0.9, 0.7])) == pytest.approx(0.0)
    older = history([0.5, 0.9]).drop(columns=["test_acc_a", "test_acc_b"])  # a curve recorded without halves
    assert selection.split_half_bias(older) is None and selection.per_seed(0.9, older, 2)["recorded"]


def test_an_evaluation_that_disagrees_with_the_curve_by_more_than_one_image_is_reported(tmp_path):
    # metrics.json 0.69 on 1,000 images against the curve's 0.70 at the selected epoch: 10 images apart
    write_run(tmp_path, {("resnet20", 0): [0.5, 0.70]}, {("resnet20", 0): 0.69})
    data = selection.collect(tmp_path, ["resnet20"], [0])
    assert data["models"][0]["mismatched"] == [0]
    assert selection.report_values(data)["mismatched"] == {"ResNet-20": [0]}
    write_run(tmp_path / "ok", {("resnet20", 0): [0.5, 0.70]}, {("resnet20", 0): 0.701})  # within one image
    assert selection.collect(tmp_path / "ok", ["resnet20"], [0])["models"][0]["mismatched"] == []


def test_a_run_without_a_test_curve_is_not_recorded_and_never_crashes(tmp_path):
    write_run(tmp_path, {("resnet20", 0): None}, {("resnet20", 0): 0.6})
    data = selection.collect(tmp_path, ["resnet20"], [0])
    (m,) = data["models"]
    assert not data["recorded"] and not m["recorded"] and data["cost"] is None
    assert m["selected"]["mean"] == pytest.approx(60.0) and m["gap"] is None and m["not_recorded"] == [0]
    selection.write(data, tmp_path / "tables")
    csv = pd.read_csv(tmp_path / "tables" / outputs.data_csv("selection"))
    assert list(csv.columns) == list(selection.NUMERIC_COLUMNS) and csv["gap_mean"].isna().all()
    rows = selection.display_rows(data, "not recorded")
    assert rows == [["ResNet-20", "60.00", *["not recorded"] * 5, "0"]]
    assert selection.report_values(data)["models_not_recorded"] == ["ResNet-20"]


def test_a_curve_with_an_empty_epoch_is_not_recorded():
    h = history([0.5, None, 0.7])
    assert selection.from_history(h) is None
    assert selection.per_seed(0.7, h)["recorded"] is False


def test_seeds_without_a_curve_are_left_out_of_the_paired_summary(tmp_path):
    curves = {("resnet20", 0): [0.5, 0.8], ("resnet20", 1): None}
    write_run(tmp_path, curves, {("resnet20", 0): 0.8, ("resnet20", 1): 0.9})
    (m,) = selection.collect(tmp_path, ["resnet20"], [0, 1])["models"]
    assert m["seeds"] == [0] and m["not_recorded"] == [1]
    assert m["selected"]["values"] == pytest.approx([80.0]) and m["gap"]["values"] == pytest.approx([0.0])


def test_the_numeric_csv_reads_as_floats(tmp_path):
    curves = {("resnet20", 0): [0.8, 0.7], ("resnet20", 1): [0.6, 0.7]}
    write_run(tmp_path, curves, {("resnet20", 0): 0.7, ("resnet20", 1): 0.7})
    selection.write(selection.collect(tmp_path, ["resnet20"], [0, 1]), tmp_path / "tables")
    csv = pd.read_csv(tmp_path / "tables" / outputs.data_csv("selection"))
    numeric = [c for c in selection.NUMERIC_COLUMNS if c != "model"]
    assert all(pd.api.types.is_numeric_dtype(csv[c]) for c in numeric)
    assert csv.loc[0, "gap_mean"] == pytest.approx(5.0)  # (80 - 70 + 70 - 70) / 2
    assert csv.loc[0, "gap_ci_low"] < 5.0 < csv.loc[0, "gap_ci_high"]
    assert json.loads((tmp_path / "tables" / "selection.json").read_text())["models"][0]["model"] == "resnet20"


@pytest.mark.parametrize("comparable", [True, False])
def test_the_report_section_defines_the_figures_and_stamps_a_run_that_is_not_comparable(tmp_path, comparable):
    write_run(tmp_path, {("resnet20", 0): [0.5, 0.8]}, {("resnet20", 0): 0.8})
    spec = {"models": ["resnet20"], "seeds": [0]}
    common = {"stamp": None if comparable else "quick preset", "comparable": comparable, "study": False}
    section, table = content._selection(tmp_path, spec, Prose(TEMPLATE_DIR / TEXT_FILE), common)
    text = " ".join(section["paragraphs"])
    assert section["title"] == "Selection bias: what test-set selection adds" and section["tables"] == ["selection"]
    assert ("Not comparable" in text) is not comparable and ("QUICK PRESET" in text) is not comparable
    assert "never used to select" in text and "ResNet-20 0.00 pp (n = 1, no interval)" in text
    assert "adds 10.0 % to the training time" in text and "not the bias alone" in text
    terms = {t["term"] for t in section["terms"]}
    assert {"Gap to the peers' protocol", "Split-half selection bias"} <= terms
    assert table["rows"] == [["ResNet-20", "80.00", "80.00", "80.00", "0.00", "0.00", "0.00", "1"]]
    assert table["title"] == outputs.table("selection").title
    assert "coincide" not in text  # two epochs: there was an epoch to choose


def test_one_epoch_jobs_are_said_to_coincide(tmp_path):
    write_run(tmp_path, {("resnet20", 0): [0.5]}, {("resnet20", 0): 0.5})
    spec, common = {"models": ["resnet20"], "seeds": [0]}, {"stamp": None, "comparable": True, "study": False}
    section, _ = content._selection(tmp_path, spec, Prose(TEMPLATE_DIR / TEXT_FILE), common)
    assert "the three figures coincide" in " ".join(section["paragraphs"])


def test_the_gap_is_never_taken_across_two_test_passes_and_no_image_count_claims_no_mismatch():
    h = history([0.5, 0.7])
    lone = selection.per_seed(0.69, h, selected_epoch=None, n_test=1000)  # no row at the selected epoch
    assert lone["gap"] is None and lone["gap_last"] == pytest.approx(0.0)
    assert selection.per_seed(0.69, h, selected_epoch=2, n_test=None)["mismatch"] is False
    assert selection.per_seed(0.69, h, selected_epoch=2, n_test=1000)["mismatch"] is True
