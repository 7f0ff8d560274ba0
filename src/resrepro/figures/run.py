"""The figures of a run: training curves, test error against parameters and multiply-accumulates, time per
epoch, per-class F1 and confusion matrices (ids and captions: :mod:`resrepro.outputs`, stage ``figures``).

Functions take registry names (``resnet110``) as keys and label each model with its display name
(``ResNet-110``, :func:`resrepro.catalog.display`); error messages keep the registry name, which is what
configs and result paths use.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .. import ResreproError, catalog, outputs
from ..data import TRAIN_SIZE
from .axes import epoch_axis, log_count_axis, ours_point, place_labels, plot_series
from .inputs import RunResults, aggregate, check_histories, check_models, error_points, time_points
from .style import OURS_COLOR, PAPER_COLOR, TRAIN_COLOR, VAL_COLOR, figure, note_pad

OutPath = str | os.PathLike  # where a figure's SVG or PNG goes
PerModel = Mapping[str, Sequence[Sequence[float]]]  # {model: one row per seed, or a k x k matrix}

# --------------------------------------------------------------------------------------------
# training curves

# (column, panel, colour, line style, legend label, scale): accuracy in %, loss as is
_CURVES = (
    ("train_acc", "acc", TRAIN_COLOR, "-", "train", 100.0),
    ("val_acc", "acc", VAL_COLOR, "--", "validation", 100.0),
    ("train_loss", "loss", TRAIN_COLOR, "-", "train", 1.0),
    ("val_loss", "loss", VAL_COLOR, "--", "validation", 1.0),
)


def _loss_axis(ax, dfs: Sequence[pd.DataFrame]) -> None:
    losses = np.concatenate([d[c].to_numpy(dtype=float) for d in dfs for c in ("train_loss", "val_loss")])
    losses = losses[np.isfinite(losses)]
    if len(losses) and losses.min() > 0 and losses.max() / losses.min() > 50:
        ax.set_yscale("log")  # a diverged validation loss would squash the rest
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.ticklabel_format(axis="y", useOffset=False)


def _curve_panel(fig, cell, model: str, dfs: Sequence[pd.DataFrame]):
    """Accuracy (top) and loss (bottom) of one model in grid cell ``cell``; returns the accuracy axes."""
    inner = cell.subgridspec(2, 1, height_ratios=[3, 2], hspace=0.08)
    ax_acc = fig.add_subplot(inner[0])
    ax_loss = fig.add_subplot(inner[1], sharex=ax_acc)
    epochs = np.unique(np.concatenate([d["epoch"].to_numpy(dtype=float) for d in dfs]))
    panels = {"acc": ax_acc, "loss": ax_loss}
    markers = len(epochs) <= 30
    for col, panel, color, ls, lab, scale in _CURVES:
        agg = aggregate(dfs, col)
        if agg is not None:
            plot_series(panels[panel], agg, color=color, label=lab, linestyle=ls, markers=markers, scale=scale)
    nseeds = len(dfs)
    ax_acc.set_title(f"{catalog.display(model)}  ({nseeds} seed{'s' if nseeds > 1 else ''})", fontsize=8.5)
    ax_acc.set_ylabel("accuracy (%)")
    ax_loss.set_ylabel("loss")
    ax_loss.set_xlabel("epoch")
    ax_acc.tick_params(labelbottom=False)
    epoch_axis(ax_loss, epochs)
    ax_acc.yaxis.set_major_locator(MaxNLocator(nbins=5))
    ax_acc.ticklabel_format(axis="y", useOffset=False)
    _loss_axis(ax_loss, dfs)
    return ax_acc


def training_curves(
    histories: Mapping[str, Sequence[pd.DataFrame]], out_svg: OutPath, out_png: OutPath, note: str | None = None
) -> None:
    """One panel pair per model: accuracy (top, %) and loss (bottom) against epoch.

    Train is solid blue, validation dashed red; the line is the mean over seeds and the shaded
    band (an error bar when there is a single epoch) spans min..max over seeds when there are
    several. ``note`` is stamped in red across the top of the figure.
    """
    checked = check_histories(histories)
    n = len(checked)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    width = 2.55 * ncols + 0.5
    height = 3.05 * nrows + note_pad(note) + 0.75
    with figure((width, height), out_svg, out_png, note) as fig:
        top = 1 - (note_pad(note) + 0.25) / height
        outer = fig.add_gridspec(
            nrows,
            ncols,
            left=0.6 / width,
            right=1 - 0.15 / width,
            top=top,
            bottom=0.95 / height,
            hspace=0.32,
            wspace=0.38,
        )
        handles = labels = None
        for k, (model, dfs) in enumerate(checked.items()):
            ax_acc = _curve_panel(fig, outer[k // ncols, k % ncols], model, dfs)
            h, lbl = ax_acc.get_legend_handles_labels()
            if h and (handles is None or len(h) > len(handles)):
                handles, labels = h, lbl
        if handles:
            multi = any(len(dfs) > 1 for dfs in checked.values())
            title = "line: mean over seeds; band or bar: min–max over seeds" if multi else None
            fig.legend(
                handles,
                labels,
                loc="lower center",
                ncol=len(handles),
                frameon=False,
                bbox_to_anchor=(0.5, 0.0),
                title=title,
                title_fontsize=7.5,
            )


# --------------------------------------------------------------------------------------------
# cost figures: test error and time per epoch against parameters or multiply-accumulates


@contextlib.contextmanager
def _cost_axes(out_svg, out_png, note) -> Iterator:
    """The one axes of a cost figure (6.6 in wide), with room for the stamp note."""
    height = 4.2 + note_pad(note)
    with figure((6.6, height), out_svg, out_png, note) as fig:
        yield fig.add_axes((0.1, 0.12, 0.86, 1 - 0.12 - (note_pad(note) + 0.15) / height))


def _draw_error_points(ax, pts: Sequence[Mapping]) -> list:
    """Ours (filled, ±1 std) and the paper (hollow, joined to ours by a dotted line); returns the labels."""
    labels: list = []
    any_paper = False
    for i, p in enumerate(pts):
        name = catalog.display(p["model"])
        ours_point(ax, p["x"], p["err"], p["std"], "this reproduction (mean ± std over seeds)" if i == 0 else None, 1)
        labels.append((p["x"], p["err"], name, OURS_COLOR))
        if p["paper_err"] is None:
            continue
        px = p["paper_x"] if p["paper_x"] is not None else p["x"]
        ax.plot([p["x"], px], [p["err"], p["paper_err"]], linestyle=":", color="0.55", linewidth=0.8, zorder=1)
        ax.plot(
            [px],
            [p["paper_err"]],
            marker="s",
            markersize=6,
            linestyle="none",
            markerfacecolor="white",
            markeredgecolor=PAPER_COLOR,
            markeredgewidth=1.2,
            zorder=2,
            label="paper (reported)" if not any_paper else None,
        )
        labels.append((px, p["paper_err"], name, PAPER_COLOR))
        any_paper = True
    return labels


def _error_limits(ax, pts: Sequence[Mapping]) -> None:
    xs = [p["x"] for p in pts] + [p["paper_x"] for p in pts if p["paper_x"]]
    ax.set_xlim(min(xs) / 1.6, max(xs) * 2.2)  # room for the labels on the right
    paper = [p["paper_err"] for p in pts if p["paper_err"] is not None]
    ys = [p["err"] + (p["std"] or 0) for p in pts] + paper
    ys_lo = [p["err"] - (p["std"] or 0) for p in pts] + paper
    span = max(max(ys) - min(ys_lo), 1.0)
    ax.set_ylim(max(0.0, min(ys_lo) - 0.12 * span), max(ys) + 0.12 * span)


def _error_vs_cost(rows, out_svg, out_png, note, *, x_key: str, paper_x_key: str | None, xlabel: str) -> None:
    pts = error_points(rows, x_key, paper_x_key)
    with _cost_axes(out_svg, out_png, note) as ax:
        labels = _draw_error_points(ax, pts)
        ax.set_xscale("log")
        _error_limits(ax, pts)
        log_count_axis(ax.xaxis)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test error (%)")
        ax.legend(loc="best", frameon=False)
        place_labels(ax, labels)


def error_vs_params(rows: Sequence[Mapping], out_svg: OutPath, out_png: OutPath, note: str | None = None) -> None:
    """Test error (%) against parameter count (log x).

    ``rows``: dicts with ``model``, ``params``, ``test_error_mean`` and ``test_error_std`` (in
    percent; std may be None for one seed), ``paper_params`` and ``paper_test_error`` (None when
    the paper has no number; ``paper_params`` None means "same as ours"). Ours: filled circles with
    ±1 std error bars; paper: hollow squares, joined to ours by a dotted line; all labelled.
    """
    _error_vs_cost(
        rows, out_svg, out_png, note, x_key="params", paper_x_key="paper_params", xlabel="parameters (log scale)"
    )


def error_vs_flops(rows: Sequence[Mapping], out_svg: OutPath, out_png: OutPath, note: str | None = None) -> None:
    """Test error (%) against forward multiply-accumulates per image (log x).

    ``rows`` as for :func:`error_vs_params` with ``macs`` instead of ``params``; the paper prints no
    FLOPs, so its points sit at the cost of our model of the same name.
    """
    _error_vs_cost(
        rows,
        out_svg,
        out_png,
        note,
        x_key="macs",
        paper_x_key=None,
        xlabel="multiply-accumulates per 32×32 image (log scale)",
    )


def time_vs_flops(rows: Sequence[Mapping], out_svg: OutPath, out_png: OutPath, note: str | None = None) -> None:
    """Training time per epoch (s) against forward multiply-accumulates per image, log-log.

    ``rows``: ``model``, ``macs``, ``seconds_mean``, ``seconds_std`` (None for one seed), ``device``
    and ``paper_seconds`` (None when the paper prints none; plotted at our model's cost, since the
    paper prints no FLOPs and names no hardware). Seconds are per epoch of the full training set
    (``TRAIN_SIZE`` images, as the paper's); ``epoch_images`` (optional): the size of the epochs ours were
    measured on, named in the legend when it differs.
    """
    pts = time_points(rows)
    devices = sorted({p["device"] for p in pts if p["device"]})
    paper = [p for p in pts if p["paper"] is not None]
    sizes = sorted({r["epoch_images"] for r in rows if r.get("epoch_images")})
    measured_on = ""  # ours measured on smaller epochs: their size and the factor to the full one
    if sizes and sizes != [TRAIN_SIZE]:
        factor = f" \u00d7 {TRAIN_SIZE / sizes[0]:g}" if len(sizes) == 1 else ""
        measured_on = f"; measured on {', '.join(f'{n:,}' for n in sizes)}-image epochs{factor}"
    with _cost_axes(out_svg, out_png, note) as ax:
        for i, p in enumerate(pts):
            label = f"this reproduction ({', '.join(devices) or 'our hardware'}{measured_on})" if i == 0 else None
            ours_point(ax, p["x"], p["y"], p["std"], label)
        for i, p in enumerate(paper):
            ax.plot(
                [p["x"]],
                [p["paper"]],
                marker="s",
                markersize=6,
                linestyle="none",
                markerfacecolor="white",
                markeredgecolor=PAPER_COLOR,
                markeredgewidth=1.2,
                zorder=2,
                label="paper, Table 2 (hardware not stated)" if i == 0 else None,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        xs = [p["x"] for p in pts]
        ax.set_xlim(min(xs) / 1.6, max(xs) * 2.2)
        ys = [p["y"] for p in pts] + [p["paper"] for p in paper]
        ax.set_ylim(min(ys) / 2, max(ys) * 2)
        log_count_axis(ax.xaxis)
        ax.set_xlabel("multiply-accumulates per 32×32 image (log scale)")
        ax.set_ylabel(f"training time per {TRAIN_SIZE:,}-image epoch (s, log scale)")
        ax.legend(loc="best", frameon=False)
        place_labels(
            ax,
            [(p["x"], p["y"], catalog.display(p["model"]), OURS_COLOR) for p in pts]
            + [(p["x"], p["paper"], catalog.display(p["model"]), PAPER_COLOR) for p in paper],
        )


# --------------------------------------------------------------------------------------------
# per-class figures


def per_class_f1(
    f1: PerModel, classes: Sequence[str], out_svg: OutPath, out_png: OutPath, note: str | None = None
) -> None:
    """Per-class test F1 (%) as grouped bars: one group per class, one bar per model (mean over
    seeds, ±1 std whisker when there are several seeds). ``f1``: {model: [per-seed list of
    per-class F1 on a 0..1 scale]}."""
    models = check_models(f1, "per-class F1 values")
    k = len(classes)
    arr = {}
    for m in models:
        a = np.asarray(f1[m], dtype=float)
        if a.ndim != 2 or a.shape[1] != k or a.shape[0] == 0:
            raise ResreproError(
                f"per-class F1 of {m!r} has shape {a.shape}, expected (seeds, {k}); re-run the evaluation"
            )
        arr[m] = a * 100
    colors = matplotlib.colormaps["tab10"]
    height = 3.6 + note_pad(note)
    with figure((6.6, height), out_svg, out_png, note) as fig:
        ax = fig.add_axes((0.09, 0.2, 0.89, 1 - 0.2 - (note_pad(note) + 0.42) / height))
        width = 0.8 / len(models)
        x = np.arange(k)
        for i, m in enumerate(models):
            a = arr[m]
            err = a.std(0, ddof=1) if a.shape[0] > 1 else None
            ax.bar(
                x - 0.4 + width * (i + 0.5),
                a.mean(0),
                width,
                yerr=err,
                color=colors(i % 10),
                label=catalog.display(m),
                error_kw={"elinewidth": 0.6, "capsize": 1.5},
            )
        ax.set_xticks(x)
        ax.set_xticklabels(classes, rotation=30, ha="right")
        ax.set_ylim(0, 100)
        ax.set_ylabel("test F1 (%)")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(models), 5), frameon=False)


def _confusion_panel(ax, cm: np.ndarray, model: str, classes: Sequence[str], *, xlabels: bool, ylabels: bool) -> None:
    """One heat map: each row (true class) normalised to 100 %, the percentage in each cell of at least 0.5 %."""
    rows = cm.sum(1, keepdims=True)
    pct = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) * 100
    ax.imshow(pct, cmap="Blues", vmin=0, vmax=100, interpolation="nearest")
    for (ti, pj), v in np.ndenumerate(pct):
        if v >= 0.5:
            ax.text(pj, ti, f"{v:.0f}", ha="center", va="center", fontsize=4.6, color="white" if v > 55 else "0.15")
    ax.set_title(f"{catalog.display(model)}  (n = {int(cm.sum()):,})", fontsize=8)
    ax.set_xticks(range(len(classes)))
    ax.set_yticks(range(len(classes)))
    ax.set_xticklabels(classes if xlabels else [], rotation=90, fontsize=5.5)
    ax.set_yticklabels(classes if ylabels else [], fontsize=5.5)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_linewidth(0.4)


def confusion_matrices(
    matrices: PerModel, classes: Sequence[str], out_svg: OutPath, out_png: OutPath, note: str | None = None
) -> None:
    """One heat map per model: the test confusion matrix summed over seeds, each row (true class)
    normalised to 100 %, the percentage written in each cell. ``matrices``: {model: k x k counts}."""
    models = check_models(matrices, "confusion matrices")
    k = len(classes)
    ncols = min(len(models), 3)
    nrows = math.ceil(len(models) / ncols)
    cell = 2.15
    width = cell * ncols + 0.9
    height = (cell + 0.45) * nrows + note_pad(note) + 0.55
    with figure((width, height), out_svg, out_png, note, rc={"axes.grid": False}) as fig:
        gs = fig.add_gridspec(
            nrows,
            ncols,
            left=0.75 / width,
            right=1 - 0.12 / width,
            bottom=0.75 / height,  # room for the rotated class names above the axis note
            top=1 - (note_pad(note) + 0.3) / height,
            wspace=0.12,
            hspace=0.42,
        )
        for i, m in enumerate(models):
            cm = np.asarray(matrices[m], dtype=float)
            if cm.shape != (k, k):
                raise ResreproError(
                    f"confusion matrix of {m!r} has shape {cm.shape}, expected ({k}, {k}); re-run the evaluation"
                )
            r, c = divmod(i, ncols)
            _confusion_panel(
                fig.add_subplot(gs[r, c]),
                cm,
                m,
                classes,
                xlabels=r == nrows - 1 or i + ncols >= len(models),
                ylabels=c == 0,
            )
        fig.text(
            0.5,
            0.005,
            "predicted class (columns); rows: true class, % of that class",
            ha="center",
            va="bottom",
            fontsize=7,
        )


# --------------------------------------------------------------------------------------------
# all figures of a run, from its result files


# every figure of the figures stage (resrepro.outputs) and how it is drawn from the run's result files
DRAWERS: dict[str, Callable[[RunResults, Path, Path, str | None], None]] = {
    "curves": lambda r, svg, png, note: training_curves(r.histories(), svg, png, note),
    "error_vs_params": lambda r, svg, png, note: error_vs_params(r.error_rows(), svg, png, note),
    "error_vs_flops": lambda r, svg, png, note: error_vs_flops(r.error_rows(), svg, png, note),
    "time_vs_flops": lambda r, svg, png, note: time_vs_flops(r.time_rows(), svg, png, note),
    "per_class_f1": lambda r, svg, png, note: per_class_f1(r.f1(), r.classes, svg, png, note),
    "confusion": lambda r, svg, png, note: confusion_matrices(r.confusion(), r.classes, svg, png, note),
}


def check_drawers() -> list[str]:
    """The ids of the figures stage (resrepro.outputs), once each has a drawing function in :data:`DRAWERS`."""
    return outputs.check_drawers("figures", DRAWERS, "resrepro.figures.run.DRAWERS")


def from_results(
    results: str | os.PathLike, paper: Mapping, text_values: Mapping, spec: Mapping, out_dir: str | os.PathLike
) -> None:
    """Every figure of the report from ``results/<run>/`` (history.csv, measured.json, metrics.json).

    ``paper``: reports/paper.yaml; ``text_values``: numbers the paper prints only in its text
    (resrepro.paper.text_values). Writes ``<id>.svg`` and ``<id>.png`` for each figure of the
    figures stage (resrepro.outputs), in the order declared there.
    """
    run, out, note = RunResults(results, paper, text_values, spec), Path(out_dir), spec.get("stamp")
    for fid in check_drawers():
        DRAWERS[fid](run, out / f"{fid}.svg", out / f"{fid}.png", note)
