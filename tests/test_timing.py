"""Table 2's times from epochs alone on the GPU, or labelled as shared (history.csv's gpu_shared_by), never mixed
silently; the audit's timing claims say when they rest on shared times, and are not testable on shared times only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_analysis import make_run

from resrepro import analysis, timing
from resrepro.claims import FORM_RULES, Inputs, load_margins
from resrepro.claims.common import NOT_TESTABLE
from resrepro.paper import load_paper
from resrepro.stats import summarise

REPO = Path(__file__).resolve().parents[1]
PAPER = load_paper(REPO / "reports" / "paper.yaml")


def history(seconds, shared_by=None) -> pd.DataFrame:
    h = pd.DataFrame({"epoch": range(1, len(seconds) + 1), "val_acc": 0.5, "epoch_seconds": seconds})
    return h if shared_by is None else h.assign(gpu_shared_by=shared_by)


def test_a_job_alone_or_on_the_cpu_keeps_its_times_as_they_are():
    for h in (history([10.0, 12.0, 14.0]), history([10.0, 12.0, 14.0], [1, 1, 1]), history([10.0, 12.0], [None] * 2)):
        t = timing.job_times(h, {"images_per_second": 100.0})
        assert t["seconds_per_epoch"] == pytest.approx(h["epoch_seconds"].mean())
        assert t["total_hours"] == pytest.approx(h["epoch_seconds"].sum() / 3600)
        assert t["images_per_second"] == 100.0 and t["shared_by"] is None
        assert t["unshared_epochs"] == t["epochs"] == len(h)


def test_a_job_with_some_epochs_shared_is_timed_on_its_epochs_alone():
    t = timing.job_times(history([10.0, 20.0, 14.0], [1, 2, 1]), {"images_per_second": 100.0})
    assert t["seconds_per_epoch"] == pytest.approx(12.0)  # the shared epoch (20 s) left out
    assert t["total_hours"] == pytest.approx(12.0 * 3 / 3600)
    assert t["images_per_second"] == pytest.approx(100.0 * (44 / 3) / 12.0)
    assert (t["unshared_epochs"], t["epochs"], t["shared_by"]) == (2, 3, None)


def test_a_job_shared_in_every_epoch_uses_all_epochs_and_records_the_median_k():
    t = timing.job_times(history([20.0, 22.0, 30.0], [2, 2, 3]), {"images_per_second": 50.0})
    assert t["seconds_per_epoch"] == pytest.approx(24.0) and t["images_per_second"] == 50.0
    assert (t["unshared_epochs"], t["shared_by"]) == (0, 2)


def share(root: Path, model: str, seed: int, shared_by: list) -> None:
    f = root / "train" / model / f"seed{seed}" / "history.csv"
    pd.read_csv(f).assign(gpu_shared_by=shared_by).to_csv(f, index=False)


def tables(root: Path) -> tuple[dict, dict]:
    measured = analysis.collect(root, ["resnet18", "vgg16"], [0, 1], 0.01)
    return measured, analysis.build_tables(measured, PAPER, [0, 1], 0.01)[1]


def test_table_2_labels_a_model_timed_only_on_a_shared_gpu_and_says_so_in_its_notes(tmp_path):
    make_run(tmp_path)
    for seed in (0, 1):
        share(tmp_path, "resnet18", seed, [2, 2, 2])
        share(tmp_path, "vgg16", seed, [1, 1, 1])
    measured, t2 = tables(tmp_path)
    assert measured["resnet18"]["seconds_per_epoch_shared_by"] == 2
    assert measured["resnet18"]["shared_seeds"] == [0, 1] and measured["resnet18"]["unshared_epochs"] == [0, 0]
    assert measured["vgg16"]["seconds_per_epoch_shared_by"] is None and measured["vgg16"]["shared_seeds"] == []
    time_cell = t2["columns"].index("Paper", 4) + 1  # Table 2's second column (time per epoch): ours
    assert t2["rows"][0][time_cell].endswith("shared GPU (2 trainings)")
    assert "shared" not in t2["rows"][0][1 + 1], "epochs to convergence is no time: no label"
    assert "shared" not in t2["rows"][1][time_cell]
    assert any(n.startswith("ResNet-18: every epoch of every seed shared its GPU") for n in t2["notes"])
    assert not any(n.startswith("VGG-16") for n in t2["notes"])


def test_table_2_never_mixes_shared_and_unshared_seeds_silently(tmp_path):
    make_run(tmp_path)
    share(tmp_path, "resnet18", 0, [3, 3, 3])
    share(tmp_path, "vgg16", 0, [1, 4, 1])  # one shared epoch: left out
    measured, t2 = tables(tmp_path)
    time_cell = t2["columns"].index("Paper", 4) + 1
    assert t2["rows"][0][time_cell].endswith("partly shared GPU (1 of 2 seeds, 3 trainings)")
    assert any("seeds 0 shared their GPU" in n and "mixes shared and unshared" in n for n in t2["notes"])
    assert measured["vgg16"]["unshared_epochs"] == [2, 3]
    assert measured["vgg16"]["seconds_per_epoch"]["values"][0] == pytest.approx(12.0)  # (10 + 14) / 2
    assert any(n.startswith("VGG-16: times from the epochs that had the GPU alone only (2 of 3") for n in t2["notes"])


def inputs(shared: dict[str, list[int]], paper=PAPER) -> Inputs:
    """A run with three seeds each of ResNet-18/34/50 and VGG-16; ``shared``: model -> the seeds timed shared."""
    measured = {}
    for i, m in enumerate(("resnet18", "resnet34", "resnet50", "vgg16")):
        seeds = shared.get(m, [])
        measured[m] = {
            "seconds_per_epoch": summarise([10.0 * (i + 1) + s for s in (0.0, 0.1, 0.2)]),
            "total_hours": summarise([(i + 1) + s for s in (0.0, 0.1, 0.2)]),
            "devices": ["Test GPU"],
            "seconds_per_epoch_shared_by": 2 if seeds else None,
            "unshared_epochs": [0 if s in seeds else 3 for s in range(3)],
            "shared_seeds": seeds,
        }
    x = Inputs(paper, measured, {}, True)
    x.margins = load_margins(REPO / "reports" / "claims.yaml")
    return x


TREND = {"type": "trend", "order": ["resnet18", "resnet34", "resnet50"], "quantity": "seconds_per_epoch"}


def test_a_timing_claim_on_models_timed_only_on_a_shared_gpu_is_not_testable_and_says_why():
    measured_check = FORM_RULES["trend"](TREND | {"direction": "increasing"}, inputs({"resnet34": [0, 1, 2]}))[1]
    assert measured_check["outcome"] == NOT_TESTABLE
    assert measured_check["reason"].startswith(timing.SHARED_REASON)
    assert "every time of ResNet-34 was measured on a GPU shared" in measured_check["evidence"]["shared_timing"]


def test_a_timing_claim_on_partly_shared_times_is_decided_and_says_so_in_its_evidence():
    alone = FORM_RULES["trend"](TREND | {"direction": "increasing"}, inputs({}))[1]
    partly = FORM_RULES["trend"](TREND | {"direction": "increasing"}, inputs({"resnet34": [1]}))[1]
    assert alone["outcome"] == partly["outcome"] == "reproduced"
    assert "shared_timing" not in alone["evidence"] and "shared" not in alone["reason"]
    assert partly["evidence"]["shared_timing"] == "some seeds of ResNet-34 were timed on a shared GPU"
    assert "some seeds of ResNet-34 were timed on a shared GPU" in partly["reason"]


def test_a_printed_time_on_the_papers_hardware_is_not_testable_when_ours_were_all_shared():
    paper = {**PAPER, "hardware": "Test GPU"}
    form = {"type": "table_cell", "model": "resnet18", "quantity": "seconds_per_epoch", "value": 10.1, "decimals": 1}
    shared = FORM_RULES["table_cell"](form, inputs({"resnet18": [0, 1, 2]}, paper))[0]
    alone = FORM_RULES["table_cell"](form, inputs({}, paper))[0]
    assert shared["outcome"] == NOT_TESTABLE and timing.SHARED_REASON in shared["reason"]
    assert alone["outcome"] != NOT_TESTABLE and "shared_timing" not in alone["evidence"]


def test_the_cost_of_a_claim_says_when_its_throughput_was_timed_on_a_shared_gpu(tmp_path):
    from resrepro.claims import cost
    from resrepro.claims.merged import Run

    def throughput(shared_seeds):
        entry = {"images_per_second": summarise([1000.0] * 3), "devices": ["Test GPU"], "shared_seeds": shared_seeds}
        entry |= {"unshared_epochs": [0 if s in shared_seeds else 3 for s in range(3)]}
        run = Run("paper", tmp_path, {}, {"resnet18": entry}, [], None)
        return cost.throughput("resnet18", cost.Context(PAPER, [], {}, {}, [run], {}, False))

    assert throughput([])["device"] == "Test GPU"
    assert throughput([0, 1, 2])["device"] == "Test GPU (shared GPU)"
    assert throughput([2])["device"] == "Test GPU (partly shared GPU)"


def test_the_time_figure_names_a_device_whose_times_were_shared(tmp_path):
    from resrepro import io
    from resrepro.figures.inputs import RunResults

    def device(shared_seeds):
        entry = {"flops_per_image": 2e9, "seconds_per_epoch": {"mean": 2.0, "std": 0.1}, "devices": ["GPU X"]}
        entry |= {"shared_seeds": shared_seeds, "unshared_epochs": [0 if s in shared_seeds else 3 for s in (0, 1)]}
        io.write_json(tmp_path / "tables" / "measured.json", {"resnet18": entry})
        for s in (0, 1):
            io.write_json(tmp_path / "train" / "resnet18" / f"seed{s}" / "train.json", {"train_images": 1000})
        paper = {"table2": {"rows": {}}}
        return RunResults(tmp_path, paper, {}, {"models": ["resnet18"], "seeds": [0, 1]}).time_rows()[0]["device"]

    assert device([]) == "GPU X" and device([0, 1]) == "GPU X (shared GPU)"
