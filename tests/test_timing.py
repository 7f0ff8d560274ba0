"""Table 2's times from epochs alone on the GPU, or labelled as shared or of unknown sharing (history.csv's
gpu_shared_by, train.json's device and pack), never mixed silently (the claims' side: test_claims_timing.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_analysis import make_run

from resrepro import analysis, io, timing
from resrepro.paper import load_paper

REPO = Path(__file__).resolve().parents[1]
PAPER = load_paper(REPO / "reports" / "paper.yaml")


def history(seconds, shared_by=None) -> pd.DataFrame:
    h = pd.DataFrame({"epoch": range(1, len(seconds) + 1), "val_acc": 0.5, "epoch_seconds": seconds})
    return h if shared_by is None else h.assign(gpu_shared_by=shared_by)


def test_a_job_alone_or_on_the_cpu_keeps_its_times_as_they_are():
    for h in (history([10.0, 12.0, 14.0]), history([10.0, 12.0, 14.0], [1, 1, 1]), history([10.0, 12.0], [None] * 2)):
        t = timing.job_times(h, {"images_per_second": 100.0, "device": "cpu"})
        assert t["seconds_per_epoch"] == pytest.approx(h["epoch_seconds"].mean())
        assert t["total_hours"] == pytest.approx(h["epoch_seconds"].sum() / 3600)
        assert t["images_per_second"] == 100.0 and t["shared_by"] is None and t["sharing"] == "alone"
        assert t["unshared_epochs"] == t["epochs"] == len(h)


def test_a_job_with_enough_epochs_alone_is_timed_on_them_and_its_total_is_an_estimate():
    seconds, k = [10.0, 20.0, 14.0, 10.0, 14.0, 10.0, 20.0], [1, 2, 1, 1, 1, 1, 2]  # 5 of 7 alone
    t = timing.job_times(history(seconds, k), {"images_per_second": 100.0})
    assert t["seconds_per_epoch"] == pytest.approx(11.6)  # the shared epochs (20 s) left out
    assert t["total_hours"] == pytest.approx(11.6 * 7 / 3600)
    assert t["images_per_second"] == pytest.approx(100.0 * (98 / 7) / 11.6)
    assert (t["unshared_epochs"], t["epochs"], t["shared_by"], t["sharing"]) == (5, 7, None, "alone")


def test_a_job_with_too_few_epochs_alone_counts_as_shared_with_its_measured_sum():
    # 200 epochs: only the first (with its warm-up) alone; extrapolating it would overstate the total by a quarter
    seconds = [3.0] + [2.4] * 199
    t = timing.job_times(history(seconds, [1] + [2] * 199), {"images_per_second": 45000 * 200 / sum(seconds)})
    assert t["sharing"] == "shared" and t["shared_by"] == 2
    assert t["total_hours"] == pytest.approx(sum(seconds) / 3600)
    four = timing.job_times(history([10.0] * 8, [1, 1, 1, 1, 2, 2, 2, 2]), {"images_per_second": 1.0})
    assert four["sharing"] == "shared", "4 epochs alone: fewer than MIN_ALONE_EPOCHS"
    few = timing.job_times(history([10.0] * 30, [1] * 5 + [2] * 25), {"images_per_second": 1.0})
    assert few["sharing"] == "shared", "5 of 30 epochs alone: under MIN_ALONE_FRACTION"


def test_a_job_shared_in_every_epoch_uses_all_epochs_and_records_the_median_k():
    t = timing.job_times(history([20.0, 22.0, 30.0], [2, 2, 3]), {"images_per_second": 50.0})
    assert t["seconds_per_epoch"] == pytest.approx(24.0) and t["images_per_second"] == 50.0
    assert (t["unshared_epochs"], t["shared_by"], t["sharing"]) == (0, 2, "shared")


def test_a_cuda_job_without_a_sharing_record_or_packed_without_the_column_is_unknown_not_alone():
    cuda = {"images_per_second": 1.0, "device": "cuda", "pack": 1}
    for h, train in (
        (history([2.4] * 3, [None] * 3), cuda),  # train.device cuda:N: no slot, the column empty
        (history([2.4] * 3, [1, float("nan"), 1]), cuda),  # one epoch not recorded
        (history([2.4] * 3), {"images_per_second": 1.0, "device": "cpu", "pack": 2}),  # pack 2, no column
    ):
        t = timing.job_times(h, train)
        assert (t["sharing"], t["shared_by"], t["unshared_epochs"]) == ("unknown", None, 0)
    entry = timing.model_times([(0, timing.job_times(history([2.4] * 3, [None] * 3), cuda))])
    assert timing.state(entry) == "unknown" and entry["unknown_seeds"] == [0] and entry["shared_seeds"] == []


def share(root: Path, model: str, seed: int, shared_by: list, seconds: list | None = None, **train) -> None:
    """Rewrite a job's history.csv with ``shared_by`` per epoch (and ``seconds``); ``train``: train.json fields."""
    f = root / "train" / model / f"seed{seed}" / "history.csv"
    seconds = seconds or [10.0 + 2 * i for i in range(len(shared_by))]
    n = len(shared_by)
    h = pd.DataFrame({"epoch": range(1, n + 1), "val_acc": [0.5] * n, "epoch_seconds": seconds})
    h.assign(gpu_shared_by=shared_by).to_csv(f, index=False)
    if train:
        t = root / "train" / model / f"seed{seed}" / "train.json"
        io.write_json(t, io.read_json(t) | train)


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
    assert any(n.startswith("ResNet-18: no seed had enough epochs alone on its GPU") for n in t2["notes"])
    assert not any(n.startswith("VGG-16") for n in t2["notes"])
    assert measured["resnet18"]["seeds"] == [0, 1] and measured["resnet18"]["timed_alone"] == [False, False]


def test_table_2_never_mixes_shared_and_unshared_seeds_silently(tmp_path):
    make_run(tmp_path)
    share(tmp_path, "resnet18", 0, [3, 3, 3])
    share(tmp_path, "vgg16", 0, [1, 4, 1, 1, 1, 1], [10.0, 40.0, 14.0, 10.0, 14.0, 12.0])  # one shared epoch: out
    measured, t2 = tables(tmp_path)
    time_cell = t2["columns"].index("Paper", 4) + 1
    total_cell = time_cell + 3
    assert t2["rows"][0][time_cell].endswith("partly shared GPU (1 of 2 seeds, 3 trainings)")
    assert any("seeds 0 were not timed alone" in n and "use only the seeds timed alone" in n for n in t2["notes"])
    assert measured["vgg16"]["unshared_epochs"] == [5, 3] and measured["vgg16"]["timed_alone"] == [True, True]
    assert measured["vgg16"]["seconds_per_epoch"]["values"][0] == pytest.approx(12.0)  # (10 + 14 + 10 + 14 + 12) / 5
    assert measured["vgg16"]["total_hours"]["values"][0] == pytest.approx(12.0 * 6 / 3600)
    assert t2["rows"][1][total_cell].endswith("est. from 5 of 6 epochs"), "an extrapolated total says so"
    assert "est." not in t2["rows"][1][time_cell], "a mean over epochs alone is measured, not extrapolated"
    estimate = "VGG-16: time per epoch from the epochs that had the GPU alone only (5 of 6"
    assert any(n.startswith(estimate) for n in t2["notes"])
    assert any(n.startswith("GPU sharing: sharing is sampled from the GPU slot locks") for n in t2["notes"])


def test_table_2_labels_a_cuda_training_with_no_sharing_record_as_unknown(tmp_path):
    make_run(tmp_path)
    for seed in (0, 1):
        share(tmp_path, "resnet18", seed, [None] * 3, device="cuda", pack=1)
    measured, t2 = tables(tmp_path)
    assert measured["resnet18"]["unknown_seeds"] == [0, 1] and timing.state(measured["resnet18"]) == "unknown"
    time_cell = t2["columns"].index("Paper", 4) + 1
    assert t2["rows"][0][time_cell].endswith("GPU sharing unknown") and "unknown" not in t2["rows"][1][time_cell]
    assert any(n.startswith("ResNet-18: trained on a GPU with no record of whether it was shared") for n in t2["notes"])


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
