"""Selection bias (resrepro.selection): known test curves in, known optimism out; runs without a curve."""

import json

import pandas as pd
import pytest

from resrepro import outputs, selection
from resrepro.report import TEMPLATE_DIR, TEXT_FILE, content
from resrepro.report.prose import Prose


def history(test_acc, epoch_seconds=10.0, test_seconds=1.0) -> pd.DataFrame:
    """A history of len(test_acc) epochs; test_acc None: without the test curve's columns."""
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
        df["test_acc"], df["test_seconds"] = test_acc, test_seconds
    return df[[c for c in outputs.HISTORY_COLUMNS + outputs.HISTORY_TEST_COLUMNS if c in df.columns]]


def write_run(root, curves: dict, selected: dict) -> None:
    """results/<run>/ with eval metrics.json, train.json and history.csv per (model, seed)."""
    for (model, seed), acc in curves.items():
        (root / "eval" / model / f"seed{seed}").mkdir(parents=True)
        (root / "train" / model / f"seed{seed}").mkdir(parents=True)
        (root / "eval" / model / f"seed{seed}" / "metrics.json").write_text(
            json.dumps({"accuracy": selected[model, seed]})
        )
        (root / "train" / model / f"seed{seed}" / "train.json").write_text(json.dumps({"selected_epoch": 2}))
        history(acc).to_csv(root / "train" / model / f"seed{seed}" / "history.csv", index=False)


def test_a_known_test_curve_gives_the_known_optimism_over_seeds(tmp_path):
    curves = {("resnet20", 0): [0.50, 0.70, 0.60], ("resnet20", 1): [0.55, 0.65, 0.75]}
    write_run(tmp_path, curves, {("resnet20", 0): 0.68, ("resnet20", 1): 0.72})
    data = selection.collect(tmp_path, ["resnet20"], [0, 1])
    (m,) = data["models"]
    assert m["recorded"] and m["seeds"] == [0, 1] and m["not_recorded"] == []
    assert m["per_seed"]["0"]["best_test"] == pytest.approx(70.0) and m["per_seed"]["0"]["best_test_epoch"] == 2
    assert m["per_seed"]["1"]["last"] == pytest.approx(75.0)
    assert m["per_seed"]["1"]["curve_at_selected_epoch"] == pytest.approx(65.0)  # train.json: selected epoch 2
    # optimism = best test epoch - selected on validation: seed 0: 70 - 68 = 2, seed 1: 75 - 72 = 3
    assert m["optimism"]["values"] == pytest.approx([2.0, 3.0])
    assert m["optimism"]["mean"] == pytest.approx(2.5) and m["optimism"]["n"] == 2
    assert m["optimism"]["std"] == pytest.approx(0.5**0.5)
    # best - last: seed 0: 70 - 60 = 10, seed 1: 0
    assert m["optimism_last"]["values"] == pytest.approx([10.0, 0.0])
    assert data["cost"] == {
        "jobs": 2,
        "epochs": 6,
        "test_seconds_per_epoch": pytest.approx(1.0),
        "epoch_seconds": pytest.approx(10.0),
        "share": pytest.approx(0.1),
    }


def test_a_run_without_a_test_curve_is_not_recorded_and_never_crashes(tmp_path):
    write_run(tmp_path, {("resnet20", 0): None}, {("resnet20", 0): 0.6})
    data = selection.collect(tmp_path, ["resnet20"], [0])
    (m,) = data["models"]
    assert not data["recorded"] and not m["recorded"] and data["cost"] is None
    assert m["selected"]["mean"] == pytest.approx(60.0) and m["optimism"] is None and m["not_recorded"] == [0]
    selection.write(data, tmp_path / "tables")
    csv = pd.read_csv(tmp_path / "tables" / outputs.data_csv("selection"))
    assert list(csv.columns) == list(selection.NUMERIC_COLUMNS) and csv["optimism_mean"].isna().all()
    rows = selection.display_rows(data, "not recorded")
    assert rows == [["ResNet-20", "60.00", "not recorded", "not recorded", "not recorded", "not recorded", "0"]]
    assert selection.report_values(data)["models_not_recorded"] == ["ResNet-20"]


def test_a_curve_with_an_empty_epoch_is_not_recorded():
    h = history([0.5, None, 0.7])
    assert selection.from_history(h) is None
    assert selection.per_seed(0.7, h)["recorded"] is False


def test_seeds_without_a_curve_are_left_out_of_the_paired_summary(tmp_path):
    curves = {("resnet20", 0): [0.5, 0.8], ("resnet20", 1): None}
    write_run(tmp_path, curves, {("resnet20", 0): 0.7, ("resnet20", 1): 0.9})
    (m,) = selection.collect(tmp_path, ["resnet20"], [0, 1])["models"]
    assert m["seeds"] == [0] and m["not_recorded"] == [1]
    assert m["selected"]["values"] == pytest.approx([70.0]) and m["optimism"]["values"] == pytest.approx([10.0])


def test_the_numeric_csv_reads_as_floats(tmp_path):
    curves = {("resnet20", 0): [0.5, 0.8], ("resnet20", 1): [0.6, 0.7]}
    write_run(tmp_path, curves, {("resnet20", 0): 0.7, ("resnet20", 1): 0.7})
    selection.write(selection.collect(tmp_path, ["resnet20"], [0, 1]), tmp_path / "tables")
    csv = pd.read_csv(tmp_path / "tables" / outputs.data_csv("selection"))
    numeric = [c for c in selection.NUMERIC_COLUMNS if c != "model"]
    assert all(pd.api.types.is_numeric_dtype(csv[c]) for c in numeric)
    assert csv.loc[0, "optimism_mean"] == pytest.approx(5.0)  # (80 - 70 + 70 - 70) / 2
    assert json.loads((tmp_path / "tables" / "selection.json").read_text())["models"][0]["model"] == "resnet20"


@pytest.mark.parametrize("comparable", [True, False])
def test_the_report_section_defines_the_figures_and_stamps_a_run_that_is_not_comparable(tmp_path, comparable):
    write_run(tmp_path, {("resnet20", 0): [0.5, 0.8]}, {("resnet20", 0): 0.7})
    spec = {"models": ["resnet20"], "seeds": [0]}
    common = {"stamp": None if comparable else "quick preset", "comparable": comparable, "study": False}
    section, table = content._selection(tmp_path, spec, Prose(TEMPLATE_DIR / TEXT_FILE), common)
    text = " ".join(section["paragraphs"])
    assert section["title"] == "Selection bias: what test-set selection adds" and section["tables"] == ["selection"]
    assert ("Not comparable" in text) is not comparable and ("QUICK PRESET" in text) is not comparable
    assert "never used to select" in text and "10.00 pp (ResNet-20)" in text
    assert "10.0 % of the training epoch's time" in text
    terms = {t["term"] for t in section["terms"]}
    assert terms == {"Selected on validation", "Last epoch", "Best test epoch", "Optimism"}
    assert table["rows"] == [["ResNet-20", "70.00", "80.00", "80.00", "+10.00", "0.00", "1"]]
    assert table["title"] == outputs.table("selection").title
    assert "coincide by construction" not in text  # two epochs: there was an epoch to choose


def test_one_epoch_jobs_are_said_to_coincide_by_construction(tmp_path):
    write_run(tmp_path, {("resnet20", 0): [0.5]}, {("resnet20", 0): 0.5})
    spec, common = {"models": ["resnet20"], "seeds": [0]}, {"stamp": None, "comparable": True, "study": False}
    section, _ = content._selection(tmp_path, spec, Prose(TEMPLATE_DIR / TEXT_FILE), common)
    assert "coincide by construction" in " ".join(section["paragraphs"])
