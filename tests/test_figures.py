"""Figures render from small synthetic histories; SVG and PNG are valid and byte-reproducible."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resrepro import ResreproError, catalog, outputs
from resrepro.figures import (
    confusion_matrices,
    error_vs_flops,
    error_vs_params,
    load_histories,
    per_class_f1,
    time_vs_flops,
    training_curves,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NOTE = "quick preset, not comparable with the paper"


def history(epochs: int, seed: int, *, with_val: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    e = np.arange(1, epochs + 1)
    train_acc = 1 - 0.8 * np.exp(-e / 2) - rng.uniform(0, 0.02, epochs)
    val_acc = train_acc - 0.05 - rng.uniform(0, 0.02, epochs)
    df = pd.DataFrame(
        {
            "epoch": e,
            "train_loss": 2 * (1 - train_acc),
            "train_acc": train_acc,
            "val_loss": 2.2 * (1 - val_acc),
            "val_acc": val_acc,
            "lr": 0.1,
            "epoch_seconds": 12.5,
            "images_per_second": 4000.0,
            "gpu_shared_by": math.nan,  # a CPU training
        }
    )
    if not with_val:
        df["val_loss"] = math.nan
        df["val_acc"] = math.nan
    return df[list(outputs.HISTORY_COLUMNS)]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def check_svg(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "viewBox" in root.attrib
    assert "<dc:date>" not in text  # no date: reproducible
    return text


def no_temp_files(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("epochs", [1, 3])
@pytest.mark.parametrize("seeds", [1, 2])
def test_training_curves_render_and_reproduce(tmp_path, epochs, seeds):
    hist = {
        "resnet20": [history(epochs, s) for s in range(seeds)],
        "plain20": [history(epochs, 10 + s) for s in range(seeds)],
    }
    a, b = tmp_path / "a", tmp_path / "b"
    training_curves(hist, a / "curves.svg", a / "curves.png", note=NOTE)
    training_curves(hist, b / "curves.svg", b / "curves.png", note=NOTE)

    svg = check_svg(a / "curves.svg")
    assert NOTE in svg  # matplotlib keeps each text as a comment beside its glyph paths
    assert "ResNet-20" in svg and "plain-20" in svg  # display names (resrepro.catalog)
    w, h = png_size((a / "curves.png").read_bytes())
    assert w > 500 and h > 400
    assert (a / "curves.svg").read_bytes() == (b / "curves.svg").read_bytes()
    assert (a / "curves.png").read_bytes() == (b / "curves.png").read_bytes()
    no_temp_files(a)


def test_training_curves_without_note_and_without_validation(tmp_path):
    hist = {"resnet56": [history(3, 0, with_val=False)]}
    training_curves(hist, tmp_path / "c.svg", tmp_path / "c.png")
    svg = check_svg(tmp_path / "c.svg")
    assert NOTE not in svg
    assert png_size((tmp_path / "c.png").read_bytes())[0] > 0


def test_training_curves_many_models_and_seeds_of_unequal_length(tmp_path):
    hist = {f"resnet{d}": [history(5, 0), history(4, 1)] for d in (20, 32, 44, 56, 110)}
    training_curves(hist, tmp_path / "c.svg", tmp_path / "c.png", note=NOTE)
    check_svg(tmp_path / "c.svg")


@pytest.mark.parametrize(
    "hist, match",
    [
        ({}, "no training histories"),
        ({"resnet20": []}, "resnet20"),
        ({"resnet20": [history(2, 0).drop(columns=["val_acc"])]}, "val_acc"),
        ({"resnet20": [history(2, 0).iloc[0:0]]}, "no epochs"),
    ],
)
def test_training_curves_bad_input(tmp_path, hist, match):
    with pytest.raises(ResreproError, match=match):
        training_curves(hist, tmp_path / "c.svg", tmp_path / "c.png")
    assert not list(tmp_path.iterdir())


def test_load_histories(tmp_path):
    for model in ("resnet110", "resnet20"):
        for seed in (1, 0):
            p = tmp_path / "train" / model / f"seed{seed}" / "history.csv"
            p.parent.mkdir(parents=True)
            history(2 + seed, seed).to_csv(p, index=False)
    paths = sorted(tmp_path.glob("train/*/seed*/history.csv"))
    got = load_histories(paths)
    assert list(got) == ["resnet20", "resnet110"]  # natural order
    assert [df.attrs["seed"] for df in got["resnet20"]] == [0, 1]
    assert [len(df) for df in got["resnet20"]] == [2, 3]
    assert list(got["resnet20"][0].columns) == list(outputs.HISTORY_COLUMNS)
    training_curves(got, tmp_path / "c.svg", tmp_path / "c.png")
    check_svg(tmp_path / "c.svg")


def test_load_histories_bad_path(tmp_path):
    p = tmp_path / "somewhere" / "history.csv"
    p.parent.mkdir()
    history(1, 0).to_csv(p, index=False)
    with pytest.raises(ResreproError, match="seed"):
        load_histories([p])
    with pytest.raises(ResreproError, match="does not exist"):
        load_histories([tmp_path / "train" / "resnet20" / "seed0" / "history.csv"])


ROWS = [
    {
        "model": "resnet20",
        "params": 269722,
        "test_error_mean": 9.1,
        "test_error_std": 0.3,
        "paper_params": None,
        "paper_test_error": 8.75,
    },
    {
        "model": "resnet56",
        "params": 853018,
        "test_error_mean": 7.2,
        "test_error_std": None,
        "paper_params": None,
        "paper_test_error": 6.97,
    },
    {
        "model": "resnet18",
        "params": 11173962,
        "test_error_mean": 5.1,
        "test_error_std": 0.2,
        "paper_params": 11689512,
        "paper_test_error": 6.9,
    },
    {
        "model": "vgg16",
        "params": 14728266,
        "test_error_mean": 6.1,
        "test_error_std": 0.2,
        "paper_params": None,
        "paper_test_error": None,
    },
]


@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], [dict(ROWS[3])]])
def test_error_vs_params_render_and_reproduce(tmp_path, rows):
    a, b = tmp_path / "a", tmp_path / "b"
    error_vs_params(rows, a / "e.svg", a / "e.png", note=NOTE)
    error_vs_params(rows, b / "e.svg", b / "e.png", note=NOTE)
    svg = check_svg(a / "e.svg")
    for r in rows:
        assert catalog.display(r["model"]) in svg
    assert NOTE in svg
    assert png_size((a / "e.png").read_bytes())[0] > 500
    assert (a / "e.svg").read_bytes() == (b / "e.svg").read_bytes()
    assert (a / "e.png").read_bytes() == (b / "e.png").read_bytes()
    no_temp_files(a)


@pytest.mark.parametrize(
    "rows, match",
    [
        ([], "no rows"),
        ([{**ROWS[0], "params": 0}], "positive"),
        ([{**ROWS[0], "params": None}], "params"),
        ([{**ROWS[0], "test_error_mean": "n/a"}], "not a number"),
        ([{**ROWS[0], "model": ""}], "model"),
    ],
)
def test_error_vs_params_bad_rows(tmp_path, rows, match):
    with pytest.raises(ResreproError, match=match):
        error_vs_params(rows, tmp_path / "e.svg", tmp_path / "e.png")
    assert not list(tmp_path.iterdir())


FLOP_ROWS = [{**r, "macs": r["params"] * 40} for r in ROWS]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _twice(tmp_path, draw, *args):
    a, b = tmp_path / "a", tmp_path / "b"
    draw(*args, a / "f.svg", a / "f.png", note=NOTE)
    draw(*args, b / "f.svg", b / "f.png", note=NOTE)
    svg = check_svg(a / "f.svg")
    assert NOTE in svg
    assert png_size((a / "f.png").read_bytes())[0] > 500
    assert (a / "f.svg").read_bytes() == (b / "f.svg").read_bytes()
    assert (a / "f.png").read_bytes() == (b / "f.png").read_bytes()
    no_temp_files(a)
    return svg


def test_error_vs_flops(tmp_path):
    svg = _twice(tmp_path, error_vs_flops, FLOP_ROWS)
    assert "multiply-accumulates" in svg and "ResNet-18" in svg
    with pytest.raises(ResreproError, match="macs"):
        error_vs_flops([{**FLOP_ROWS[0], "macs": None}], tmp_path / "e.svg", tmp_path / "e.png")


def test_time_vs_flops(tmp_path):
    rows = [
        {
            "model": "resnet18",
            "macs": 5.6e8,
            "seconds_mean": 12.0,
            "seconds_std": 0.5,
            "device": "GPU X",
            "paper_seconds": 1.2,
        },
        {
            "model": "resnet110",
            "macs": 2.5e8,
            "seconds_mean": 15.0,
            "seconds_std": None,
            "device": "GPU X",
            "paper_seconds": None,
        },
    ]
    svg = _twice(tmp_path, time_vs_flops, rows)
    assert "GPU X" in svg and "Table 2" in svg
    with pytest.raises(ResreproError, match="positive"):
        time_vs_flops([{**rows[0], "seconds_mean": 0}], tmp_path / "t.svg", tmp_path / "t.png")


def test_per_class_f1(tmp_path):
    rng = np.random.default_rng(0)
    f1 = {"resnet18": rng.uniform(0.8, 1, (3, 10)).tolist(), "vgg16": rng.uniform(0.8, 1, (1, 10)).tolist()}
    svg = _twice(tmp_path, per_class_f1, f1, CLASSES)
    assert "truck" in svg and "VGG-16" in svg
    with pytest.raises(ResreproError, match="shape"):
        per_class_f1({"resnet18": [[0.5] * 9]}, CLASSES, tmp_path / "p.svg", tmp_path / "p.png")
    with pytest.raises(ResreproError, match="no per-class"):
        per_class_f1({}, CLASSES, tmp_path / "p.svg", tmp_path / "p.png")


def test_confusion_matrices(tmp_path):
    rng = np.random.default_rng(1)
    cms = {
        m: (np.eye(10) * 80 + rng.integers(0, 5, (10, 10))).tolist()
        for m in ("resnet18", "resnet34", "resnet50", "resnet110")
    }
    cms["vgg16"] = np.zeros((10, 10)).tolist()  # a model that predicts nothing still draws
    svg = _twice(tmp_path, confusion_matrices, cms, CLASSES)
    assert "ResNet-110" in svg and "predicted class" in svg
    with pytest.raises(ResreproError, match="shape"):
        confusion_matrices({"resnet18": [[1, 2], [3, 4]]}, CLASSES, tmp_path / "c.svg", tmp_path / "c.png")


def test_labels_do_not_overlap(tmp_path):
    """Two models at almost the same cost: their labels go to different places."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from resrepro.figures import place_labels

    fig = Figure(figsize=(4, 3))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    place_labels(ax, [(5, 5, "resnet34", "k"), (5.1, 5.05, "resnet50", "k")])
    offsets = [t.get_position() for t in ax.texts]  # xytext, in offset points
    assert offsets[0] != offsets[1]


def test_training_curves_with_a_diverged_validation_loss(tmp_path):
    h = history(2, 0)
    h["val_loss"] = [9.8e6, 3.0e6]  # e.g. batch-norm statistics after one epoch on a tiny subset
    training_curves({"resnet50": [h]}, tmp_path / "c.svg", tmp_path / "c.png")
    svg = check_svg(tmp_path / "c.svg")
    assert "<!-- $\\mathdefault{10^{6}}$ -->" in svg  # the loss axis went logarithmic
    assert "1e6" not in svg  # and has no offset label to collide with the panel above


def _drawn_tick_labels(ax) -> list:
    """The tick labels that are drawn: visible, with text, at a tick inside the axis' view."""
    out = []
    for labels, (lo, hi), k in ((ax.get_xticklabels(), ax.get_xlim(), 0), (ax.get_yticklabels(), ax.get_ylim(), 1)):
        lo, hi = min(lo, hi), max(lo, hi)
        out += [t for t in labels if t.get_visible() and t.get_text() and lo <= t.get_position()[k] <= hi]
    return out


def _label_overlaps(fig) -> list[str]:
    """An axis label or title whose drawn box meets a tick label of any axes of ``fig``, or an axis label longer
    than its axis (it then runs past the panel into its neighbours)."""
    fig.canvas.draw()  # lay the figure out at its own dpi (the last save drew it at the PNG's)
    renderer = fig.canvas.get_renderer()
    ticks = [t for ax in fig.axes for t in _drawn_tick_labels(ax)]
    found = [  # a note of the figure's own (e.g. the confusion matrices' axis note) and a tick label
        f"{text.get_text()!r} / {t.get_text()!r}"
        for text in fig.texts
        for t in ticks
        if text.get_text() and text.get_window_extent(renderer).overlaps(t.get_window_extent(renderer))
    ]
    for ax in fig.axes:
        frame = ax.get_window_extent(renderer)
        for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
            if not (label.get_visible() and label.get_text()):
                continue
            box = label.get_window_extent(renderer)
            found += [
                f"{label.get_text()!r} / {t.get_text()!r}" for t in ticks if box.overlaps(t.get_window_extent(renderer))
            ]
            if label is ax.yaxis.label and box.height > frame.height * 1.05:
                found.append(f"{label.get_text()!r} is taller than its axis")
            if label is ax.xaxis.label and box.width > frame.width * 1.05:
                found.append(f"{label.get_text()!r} is wider than its axis")
    return found


def test_no_axis_label_overlaps_a_tick_label(tmp_path, monkeypatch):
    """Every figure of the figures and degradation stages, drawn from synthetic data: no axis label or title
    runs into a tick label (figure6's long y label once did)."""
    from resrepro.figures import degradation as deg_figures
    from resrepro.figures import style

    drawn, save = [], style.save
    monkeypatch.setattr(style, "save", lambda fig, svg, png: (drawn.append((Path(svg).stem, fig)), save(fig, svg, png)))
    hs = {m: [history(4, s) for s in range(2)] for m in ("resnet18", "resnet110")}
    training_curves(hs, tmp_path / "curves.svg", tmp_path / "curves.png", NOTE)
    error_vs_params(ROWS, tmp_path / "p.svg", tmp_path / "p.png", NOTE)
    time_rows = [{"model": "resnet18", "macs": 5.6e8, "seconds_mean": 12.0, "seconds_std": 0.5, "paper_seconds": 1.2}]
    time_vs_flops(time_rows, tmp_path / "t.svg", tmp_path / "t.png", NOTE)
    depths = [20, 32]
    runs = {}
    for kind in (0, 1):
        for d in depths:
            grads = [{"epoch": e, "activation_grad_norm": list(np.geomspace(1e-3, 1.0, 9))} for e in (0, 3)]
            runs[catalog.pair(d)[kind]] = [{"history": history(4, d + kind), "gradflow": grads}]
    deg_figures.degradation_figures(runs, {"depths": depths}, tmp_path, NOTE)
    rng = np.random.default_rng(0)
    cms = {m: rng.integers(0, 50, (10, 10)) for m in ("resnet18", "resnet34", "resnet50", "resnet110", "vgg16")}
    confusion_matrices(cms, CLASSES, tmp_path / "confusion.svg", tmp_path / "confusion.png", NOTE)
    per_class_f1({m: rng.uniform(0, 1, (1, 10)).tolist() for m in cms}, CLASSES, tmp_path / "f.svg", tmp_path / "f.png")
    assert {"figure6", "gradflow", "t", "curves", "confusion"} <= {name for name, _ in drawn}
    for name, fig in drawn:
        assert not _label_overlaps(fig), (name, _label_overlaps(fig))


def test_time_per_epoch_is_scaled_to_the_papers_50k_image_epoch(tmp_path):
    """Ours on 1,000-image epochs sets 2 s per epoch against the paper's 50k-image one: drawn as 100 s, and named."""
    from resrepro import io
    from resrepro.data import TRAIN_SIZE
    from resrepro.figures.inputs import RunResults

    io.write_json(
        tmp_path / "tables" / "measured.json",
        {"resnet18": {"flops_per_image": 2e9, "seconds_per_epoch": {"mean": 2.0, "std": 0.1}, "devices": ["CPU X"]}},
    )
    for s in (0, 1):
        io.write_json(tmp_path / "train" / "resnet18" / f"seed{s}" / "train.json", {"train_images": 1000})
    paper = {"table2": {"rows": {"resnet18": {"seconds_per_epoch": 1.2}}}}
    (row,) = RunResults(tmp_path, paper, {}, {"models": ["resnet18"], "seeds": [0, 1]}).time_rows()
    assert TRAIN_SIZE == 50_000 and row["epoch_images"] == 1000
    assert row["seconds_mean"] == pytest.approx(100.0) and row["seconds_std"] == pytest.approx(5.0)
    svg = _twice(tmp_path, time_vs_flops, [row])
    assert "1,000-image epochs \u00d7 50" in svg and "50,000-image epoch" in svg
