"""Tables 1-3 from result files: definitions, formatting, and paper | ours | difference."""

from pathlib import Path

import pandas as pd
import pytest

from resrepro import analysis, fmt, io, outputs
from resrepro.paper import load_context, load_paper

REPO = Path(__file__).resolve().parents[1]


def test_epochs_to_convergence_definition():
    assert analysis.epochs_to_convergence([0.5, 0.80, 0.895, 0.90, 0.905], 0.01) == 3
    assert analysis.epochs_to_convergence([0.5, 0.80, 0.895, 0.90, 0.905], 0.001) == 5
    assert analysis.epochs_to_convergence([0.3], 0.01) == 1


def test_summary_and_formatting():
    s = analysis.summarise([90.0, 92.0])
    assert s["mean"] == 91.0 and s["std"] == pytest.approx(2**0.5) and s["n"] == 2
    assert analysis.summarise([5.0])["std"] is None
    assert fmt.mean_std(s, 2) == "91.00 \u00b1 1.41"
    assert analysis.fmt_diff(s, 94.5, 2) == "\u22123.50" and analysis.fmt_diff(s, 90.0, 1) == "+1.0"
    assert analysis.fmt_diff(s, None, 2) == "\u2014"


def make_run(root: Path, models=("resnet18", "vgg16"), seeds=(0, 1)):
    io.write_json(
        root / "models.json",
        [{"model": m, "params": 11_173_962 if m == "resnet18" else 14_728_266, "flops_per_image": 1} for m in models],
    )
    for i, m in enumerate(models):
        for s in seeds:
            acc = 0.5 + 0.1 * i + 0.01 * s
            io.write_json(
                root / "eval" / m / f"seed{s}" / "metrics.json",
                {"accuracy": acc, "precision_macro": acc, "recall_macro": acc, "f1_macro": acc},
            )
            io.write_json(
                root / "train" / m / f"seed{s}" / "train.json", {"images_per_second": 100.0, "device_name": "Test CPU"}
            )
            pd.DataFrame({"epoch": [1, 2, 3], "val_acc": [0.2, 0.5, 0.51], "epoch_seconds": [10.0, 12.0, 14.0]}).to_csv(
                root / "train" / m / f"seed{s}" / "history.csv", index=False
            )


def test_tables_from_result_files(tmp_path):
    make_run(tmp_path)
    measured = analysis.collect(tmp_path, ["resnet18", "vgg16"], [0, 1], 0.01)
    assert measured["resnet18"]["accuracy"]["mean"] == pytest.approx(50.5)
    assert measured["vgg16"]["epochs_to_convergence"]["mean"] == 2
    assert measured["resnet18"]["seconds_per_epoch"]["mean"] == pytest.approx(12.0)
    assert measured["resnet18"]["total_hours"]["mean"] == pytest.approx(36 / 3600)
    tables = analysis.build_tables(
        measured, load_paper(REPO / "reports" / "paper.yaml"), [0, 1], 0.01, stamp="quick preset"
    )
    t1, t2, t3 = tables
    # the paper's layout: a model per row; per paper column: paper | ours (mean +- sd, n) | difference
    assert [g["title"] for g in t1["groups"]] == ["Accuracy (%)", "Precision (%)", "Recall (%)", "F1-Score (%)"]
    assert len(t1["columns"]) == 1 + 3 * 4 and [r[0] for r in t1["rows"]] == ["ResNet-18", "VGG-16"]
    r18 = t1["rows"][0]
    assert r18[1:4] == ["94.5", "50.50 \u00b1 0.71 (2)", "\u221244.00"]
    assert t1["rows"][1][1] == "\u2014" and t1["rows"][1][3] == "\u2014", "the paper's Table 1 has no VGG-16 numbers"
    assert t3["rows"][0][1:4] == ["11.7", "11.17", "\u22120.53"], "an exact count has no n"
    assert any("ours: Test CPU" in n for n in t2["notes"])
    total = t2["columns"].index("Paper", 7)  # Table 2's third column: total training time
    assert t2["rows"][0][total] == "1.0", "paper values keep their printed decimals"
    assert t1["align"] == ["left"] + ["right"] * 12
    assert all(t["notes"][0] == "QUICK PRESET." for t in tables)
    # too wide for a page: Tables 1 and 2 print in two parts (1a, 1b) of two of the paper's columns each
    assert [p["groups"] for p in t1["parts"]] == [2, 2] and t1["parts"][1]["title"].startswith("Table 1b:")
    assert t3["parts"] == []
    assert t1["records"][0] == {
        "model": "resnet18",
        "quantity": "accuracy",
        "paper": 94.5,
        "mean": pytest.approx(50.5),
        "std": pytest.approx(0.5**0.5),
        "n": 2,
        "values": pytest.approx([50.0, 51.0]),
        "difference": pytest.approx(-44.0),
    }, "the long-format records stay as they were"
    analysis.write_tables(tables, tmp_path / "tables")
    assert pd.read_csv(tmp_path / "tables" / "table1.csv").shape == (2, 13)
    data = pd.read_csv(tmp_path / "tables" / outputs.data_csv("table1"))
    assert data.loc[0, "accuracy_mean"] == pytest.approx(50.5) and data.loc[0, "accuracy_n"] == 2
    assert data.loc[0, "accuracy_diff"] == pytest.approx(-44.0) and pd.isna(data.loc[1, "accuracy_paper"])
    assert "train_accuracy" not in measured["resnet18"]  # the fixture's histories have no train_acc column


def test_train_accuracy_is_the_last_epochs(tmp_path):
    make_run(tmp_path, models=("resnet18",), seeds=(0,))
    h = tmp_path / "train" / "resnet18" / "seed0" / "history.csv"
    pd.read_csv(h).assign(train_acc=[0.3, 0.6, 0.9]).to_csv(h, index=False)
    measured = analysis.collect(tmp_path, ["resnet18"], [0], 0.01)
    assert measured["resnet18"]["train_accuracy"]["mean"] == pytest.approx(90.0)


def test_context_table():
    measured = {
        "resnet18": {"test_error": analysis.summarise([6.0, 6.2])},
        "resnet110": {"test_error": analysis.summarise([6.5, 6.7])},
    }
    paper = load_paper(REPO / "reports" / "paper.yaml")
    sources = load_context(REPO / "reports" / "context.yaml")
    t = analysis.build_context_table(
        measured, paper, {"resnet110": {"test_error": (4.2, 1, "the text")}}, sources, stamp="quick preset"
    )
    assert t["columns"][:2] == ["Model", "Paper"] and t["columns"][2].startswith("Ours")
    assert len(t["columns"]) == 3 + len(sources) + 1, "He et al.'s mean has a column beside their best"
    r18 = next(r for r in t["rows"] if r[0] == "ResNet-18")
    assert r18[1] == "5.5" and r18[2] == "6.10 \u00b1 0.14 (2)"
    assert r18[t["columns"].index("kuangliu")] == "6.98"  # 100 - 93.02
    r110 = next(r for r in t["rows"] if r[0] == "ResNet-110")
    assert r110[1] == "4.2 (text)" and r110[t["columns"].index("He et al. 2016")] == "6.43 (best of 5)"
    # He et al. 2016, Table 6: best of 5 runs 6.43 %, mean +- std 6.61 +- 0.16 (arXiv:1512.03385)
    assert r110[t["columns"].index("He et al. 2016, mean \u00b1 sd (n)")] == "6.61 \u00b1 0.16 (5)"
    assert t["data"]["rows"][1][t["data"]["columns"].index("he2016_mean")] == 6.61
    assert [r[0] for r in t["rows"]] == ["ResNet-18", "ResNet-110", "ResNet-34", "ResNet-50"]
    assert any("TEST set" in n for n in t["notes"]) and t["notes"][0] == "QUICK PRESET."


def test_tables_1_to_3_are_the_papers_tables_declared_in_outputs():
    from resrepro import outputs, paper

    assert list(analysis.QUANTITIES) == outputs.paper_table_ids() == list(paper.TABLES)
