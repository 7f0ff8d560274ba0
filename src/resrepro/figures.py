"""Figures: training curves and test error against parameter count.

Every figure is written twice, atomically: an SVG (vector, embedded in the Typst PDF and inlined in
the HTML report) and a 150 dpi PNG for quick viewing. Output is byte-reproducible: matplotlib is
used through its object-oriented API (no pyplot, no global backend switch), with a fixed SVG hash
salt, text drawn as paths (the SVG needs no fonts) and no date in the metadata.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from . import ResreproError
from .io import atomic_path

HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "epoch_seconds",
    "images_per_second",
)
_NEEDED_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")

PNG_DPI = 150

# rcParams applied (locally, via rc_context) to every figure we draw.
_RC = {
    "svg.hashsalt": "resrepro",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",  # shipped with matplotlib: same glyphs everywhere
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "path.simplify": False,
}

_TRAIN_COLOR = "#1f77b4"
_VAL_COLOR = "#d62728"
_OURS_COLOR = "#1f77b4"
_PAPER_COLOR = "#d62728"
_NOTE_COLOR = "#b00020"

_HISTORY_RE = re.compile(r"(?:^|/)train/(?P<model>[^/]+)/seed(?P<seed>\d+)/history\.csv$")


# --------------------------------------------------------------------------------------------
# helpers


def _natural_key(s: str) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def _save(fig: Figure, out_svg, out_png) -> None:
    """Write ``fig`` as SVG and PNG, each atomically (the temp file lacks the real suffix, so the
    format is always given explicitly)."""
    FigureCanvasAgg(fig)  # attach a canvas; no global backend is touched
    with atomic_path(out_svg) as tmp:
        fig.savefig(tmp, format="svg", metadata={"Date": None})
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=PNG_DPI, metadata={"Software": None})


def _stamp_note(fig: Figure, note: str | None) -> None:
    if note:
        fig.text(
            0.5,
            0.995,
            str(note),
            ha="center",
            va="top",
            fontsize=9,
            fontweight="bold",
            wrap=True,  # long stamps wrap instead of running off the figure
            color=_NOTE_COLOR,
            bbox={"boxstyle": "round,pad=0.3", "fc": "#fff3f3", "ec": _NOTE_COLOR, "lw": 0.8},
        )


def _source(df: pd.DataFrame, model: str, i: int) -> str:
    src = df.attrs.get("source") if hasattr(df, "attrs") else None
    return str(src) if src else f"history #{i + 1} of model {model!r}"


def _check_history(df, model: str, i: int) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ResreproError(
            f"training history #{i + 1} of model {model!r} is a {type(df).__name__}, not a pandas "
            "DataFrame; pass the parsed history.csv (see figures.load_histories)"
        )
    missing = [c for c in _NEEDED_COLUMNS if c not in df.columns]
    if missing:
        raise ResreproError(
            f"{_source(df, model, i)} lacks column(s) {', '.join(missing)}; a training history "
            f"needs the columns {','.join(HISTORY_COLUMNS)} (re-run the train stage)"
        )
    if len(df) == 0:
        raise ResreproError(
            f"{_source(df, model, i)} has no epochs; re-run or finish training for {model!r} "
            "before drawing figures"
        )
    out = df[list(_NEEDED_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    if out["epoch"].isna().any():
        raise ResreproError(
            f"{_source(df, model, i)} has a non-numeric or empty 'epoch' value; fix or regenerate "
            "the history file"
        )
    return out


def _aggregate(dfs: Sequence[pd.DataFrame], column: str) -> pd.DataFrame | None:
    """Mean, min and max of ``column`` over seeds, per epoch; None if the column is all NaN."""
    long = pd.concat([d[["epoch", column]] for d in dfs], ignore_index=True).dropna()
    if long.empty:
        return None
    g = long.groupby("epoch", sort=True)[column]
    return pd.DataFrame({"mean": g.mean(), "min": g.min(), "max": g.max(), "n": g.count()})


def _plot_series(ax, agg: pd.DataFrame, *, color, label, linestyle, markers: bool, scale=1.0):
    x = agg.index.to_numpy(dtype=float)
    y = agg["mean"].to_numpy(dtype=float) * scale
    lo = agg["min"].to_numpy(dtype=float) * scale
    hi = agg["max"].to_numpy(dtype=float) * scale
    banded = bool((agg["n"] > 1).any())
    marker = "o" if markers else None
    if len(x) == 1:
        # a band over a single epoch has no width: show the seed range as an error bar
        yerr = np.array([[y[0] - lo[0]], [hi[0] - y[0]]]) if banded else None
        ax.errorbar(
            x,
            y,
            yerr=yerr,
            color=color,
            marker="o",
            markersize=4,
            capsize=3,
            linestyle="none",
            label=label,
        )
        return
    ax.plot(
        x,
        y,
        color=color,
        linestyle=linestyle,
        marker=marker,
        markersize=3,
        linewidth=1.2,
        label=label,
    )
    if banded:
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)


def _epoch_axis(ax, epochs: np.ndarray) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    if len(epochs) == 1:
        e = float(epochs[0])
        ax.set_xlim(e - 1, e + 1)
    else:
        lo, hi = float(epochs.min()), float(epochs.max())
        pad = max((hi - lo) * 0.03, 0.25)
        ax.set_xlim(lo - pad, hi + pad)


def _place_labels(ax, labels: Sequence[tuple[float, float, str, str]], fontsize: float = 7) -> None:
    """Annotate points without overlapping labels: each label takes the first of a few offsets
    (right-above, right-below, left-above, left-below, further out) whose box collides with no
    label placed before it. ``labels``: (x, y, text, color) in data coordinates; call after the
    axis limits are final."""
    fig = ax.figure
    to_pt = 72.0 / fig.dpi
    placed: list[tuple[float, float, float, float]] = []
    offsets = [(5, 4, "left"), (5, -10, "left"), (-5, 4, "right"), (-5, -10, "right"),
               (5, 13, "left"), (5, -19, "left"), (-5, 13, "right"), (-5, -19, "right")]
    for x, y, text, color in labels:
        px, py = ax.transData.transform((x, y)) * to_pt
        w, h = 0.62 * fontsize * len(text), fontsize * 1.1
        choice = offsets[0]
        for dx, dy, ha in offsets:
            x0 = px + dx if ha == "left" else px + dx - w
            box = (x0, py + dy, x0 + w, py + dy + h)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                choice = (dx, dy, ha)
                placed.append(box)
                break
        else:
            dx, dy, ha = choice
            x0 = px + dx
            placed.append((x0, py + dy, x0 + w, py + dy + h))
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize, color=color, ha=ha)


# --------------------------------------------------------------------------------------------
# public API


def load_histories(paths: Iterable[str | os.PathLike]) -> dict[str, list[pd.DataFrame]]:
    """Read ``.../train/<model>/seed<k>/history.csv`` files into ``{model: [df per seed]}``.

    Models are in natural order (resnet20 before resnet110), seeds in numeric order. Each frame
    carries its path in ``df.attrs["source"]`` and its seed in ``df.attrs["seed"]``.
    """
    found: dict[str, list[tuple[int, pd.DataFrame]]] = {}
    for p in paths:
        path = Path(p)
        m = _HISTORY_RE.search(path.as_posix())
        if not m:
            raise ResreproError(
                f"cannot tell model and seed from history path {str(path)!r}; expected "
                ".../train/<model>/seed<k>/history.csv"
            )
        if not path.is_file():
            raise ResreproError(
                f"training history {str(path)!r} does not exist; run the train stage"
            )
        try:
            df = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise ResreproError(
                f"training history {str(path)!r} is not a readable CSV ({e}); delete it and "
                "re-run the train stage"
            ) from e
        df.attrs["source"] = str(path)
        df.attrs["seed"] = int(m["seed"])
        model = m["model"]
        seeds = found.setdefault(model, [])
        if any(s == int(m["seed"]) for s, _ in seeds):
            raise ResreproError(
                f"two history files for model {model!r} seed {int(m['seed'])} (last: {str(path)!r}); "
                "pass each run once"
            )
        seeds.append((int(m["seed"]), df))
    return {
        model: [df for _, df in sorted(found[model], key=lambda t: t[0])]
        for model in sorted(found, key=_natural_key)
    }


def training_curves(
    histories: Mapping[str, Sequence[pd.DataFrame]],
    out_svg: str | os.PathLike,
    out_png: str | os.PathLike,
    note: str | None = None,
) -> None:
    """One panel pair per model: accuracy (top, %) and loss (bottom) against epoch.

    Train is solid blue, validation dashed red; the line is the mean over seeds and the shaded
    band (an error bar when there is a single epoch) spans min..max over seeds when there are
    several. ``note`` is stamped in red across the top of the figure.
    """
    if not histories:
        raise ResreproError("no training histories to plot; run the train stage first")
    models = list(histories)
    checked = {}
    for model in models:
        dfs = list(histories[model])
        if not dfs:
            raise ResreproError(f"model {model!r} has no training histories; train it or drop it")
        checked[model] = [_check_history(d, model, i) for i, d in enumerate(dfs)]

    n = len(models)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    top_pad = 0.3 if note else 0.0
    width = 2.55 * ncols + 0.5
    height = 3.05 * nrows + top_pad + 0.75
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width, height))
        outer = fig.add_gridspec(
            nrows,
            ncols,
            left=0.6 / width,
            right=1 - 0.15 / width,
            top=1 - (top_pad + 0.25) / height,
            bottom=0.95 / height,
            hspace=0.32,
            wspace=0.38,
        )
        handles = labels = None
        any_multi = False
        for k, model in enumerate(models):
            dfs = checked[model]
            inner = outer[k // ncols, k % ncols].subgridspec(
                2, 1, height_ratios=[3, 2], hspace=0.08
            )
            ax_acc = fig.add_subplot(inner[0])
            ax_loss = fig.add_subplot(inner[1], sharex=ax_acc)
            epochs = np.unique(np.concatenate([d["epoch"].to_numpy(dtype=float) for d in dfs]))
            markers = len(epochs) <= 30
            nseeds = len(dfs)
            for col, ax, color, ls, lab, scale in (
                ("train_acc", ax_acc, _TRAIN_COLOR, "-", "train", 100.0),
                ("val_acc", ax_acc, _VAL_COLOR, "--", "validation", 100.0),
                ("train_loss", ax_loss, _TRAIN_COLOR, "-", "train", 1.0),
                ("val_loss", ax_loss, _VAL_COLOR, "--", "validation", 1.0),
            ):
                agg = _aggregate(dfs, col)
                if agg is not None:
                    _plot_series(
                        ax, agg, color=color, label=lab, linestyle=ls, markers=markers, scale=scale
                    )
            any_multi = any_multi or nseeds > 1
            ax_acc.set_title(f"{model}  ({nseeds} seed{'s' if nseeds > 1 else ''})", fontsize=8.5)
            ax_acc.set_ylabel("accuracy (%)")
            ax_loss.set_ylabel("loss")
            ax_loss.set_xlabel("epoch")
            ax_acc.tick_params(labelbottom=False)
            _epoch_axis(ax_loss, epochs)
            ax_acc.yaxis.set_major_locator(MaxNLocator(nbins=5))
            ax_acc.ticklabel_format(axis="y", useOffset=False)
            losses = np.concatenate([d[c].to_numpy(dtype=float) for d in dfs for c in ("train_loss", "val_loss")])
            losses = losses[np.isfinite(losses)]
            if len(losses) and losses.min() > 0 and losses.max() / losses.min() > 50:
                ax_loss.set_yscale("log")  # a diverged validation loss would squash the rest
            else:
                ax_loss.yaxis.set_major_locator(MaxNLocator(nbins=4))
                ax_loss.ticklabel_format(axis="y", useOffset=False)
            h, lbl = ax_acc.get_legend_handles_labels()
            if h and (handles is None or len(h) > len(handles)):
                handles, labels = h, lbl
        if handles:
            title = "line: mean over seeds; band or bar: min–max over seeds" if any_multi else None
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
        _stamp_note(fig, note)
        _save(fig, out_svg, out_png)


def _fmt_params(x: float, _pos=None) -> str:
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    if x >= 1e3:
        return f"{x / 1e3:g}k"
    return f"{x:g}"


def _num(row: Mapping, key: str, *, required: bool) -> float | None:
    v = row.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        if required:
            raise ResreproError(
                f"error_vs_params row for model {row.get('model')!r} lacks {key!r}; the analysis "
                "stage must provide it (re-run it)"
            )
        return None
    try:
        f = float(v)
    except (TypeError, ValueError) as e:
        raise ResreproError(
            f"error_vs_params row for model {row.get('model')!r}: {key}={v!r} is not a number; "
            "fix the analysis output"
        ) from e
    if math.isnan(f):
        if required:
            raise ResreproError(
                f"error_vs_params row for model {row.get('model')!r} has {key}=NaN; re-run the "
                "analysis stage"
            )
        return None
    return f


def error_vs_params(
    rows: Sequence[Mapping],
    out_svg: str | os.PathLike,
    out_png: str | os.PathLike,
    note: str | None = None,
) -> None:
    """Test error (%) against parameter count (log x).

    ``rows``: dicts with ``model``, ``params``, ``test_error_mean`` and ``test_error_std`` (in
    percent; std may be None for one seed), ``paper_params`` and ``paper_test_error`` (None when
    the paper has no number; ``paper_params`` None means "same as ours"). Ours: filled circles with
    ±1 std error bars; paper: hollow squares, joined to ours by a dotted line; all labelled.
    """
    _error_vs_cost(rows, out_svg, out_png, note, x_key="params", paper_x_key="paper_params",
                   xlabel="parameters (log scale)", formatter=_fmt_params)


def error_vs_flops(
    rows: Sequence[Mapping],
    out_svg: str | os.PathLike,
    out_png: str | os.PathLike,
    note: str | None = None,
) -> None:
    """Test error (%) against forward multiply-accumulates per image (log x).

    ``rows`` as for :func:`error_vs_params` with ``macs`` instead of ``params``; the paper prints no
    FLOPs, so its points sit at the cost of our model of the same name.
    """
    _error_vs_cost(rows, out_svg, out_png, note, x_key="macs", paper_x_key=None,
                   xlabel="multiply-accumulates per 32×32 image (log scale)", formatter=_fmt_params)


def _error_vs_cost(rows, out_svg, out_png, note, *, x_key: str, paper_x_key: str | None, xlabel: str, formatter) -> None:
    if not rows:
        raise ResreproError(f"no rows for the error-vs-{x_key} figure; run the analysis stage")
    pts = []
    for row in rows:
        if not row.get("model"):
            raise ResreproError(
                f"error_vs_{x_key} row {dict(row)!r} has no 'model'; fix the analysis output"
            )
        xv = _num(row, x_key, required=True)
        if xv <= 0:
            raise ResreproError(
                f"model {row['model']!r} has {x_key}={xv:g}; a log axis needs a positive "
                "value (fix the analysis output)"
            )
        pp = _num(row, paper_x_key, required=False) if paper_x_key else None
        if pp is not None and pp <= 0:
            pp = None
        pts.append(
            {
                "model": str(row["model"]),
                "x": xv,
                "err": _num(row, "test_error_mean", required=True),
                "std": _num(row, "test_error_std", required=False),
                "paper_x": pp,
                "paper_err": _num(row, "paper_test_error", required=False),
            }
        )

    with matplotlib.rc_context(_RC):
        top_pad = 0.3 if note else 0.0
        height = 4.2 + top_pad
        fig = Figure(figsize=(6.6, height))
        ax = fig.add_axes((0.1, 0.12, 0.86, 1 - 0.12 - (top_pad + 0.15) / height))
        any_paper = False
        labels: list = []
        for i, p in enumerate(pts):
            ax.errorbar(
                [p["x"]],
                [p["err"]],
                yerr=p["std"],
                fmt="o",
                color=_OURS_COLOR,
                markersize=5,
                capsize=3,
                elinewidth=1,
                zorder=3,
                label="this reproduction (mean ± std over seeds)" if i == 0 else None,
            )
            labels.append((p["x"], p["err"], p["model"], _OURS_COLOR))
            if p["paper_err"] is not None:
                px = p["paper_x"] if p["paper_x"] is not None else p["x"]
                ax.plot(
                    [p["x"], px],
                    [p["err"], p["paper_err"]],
                    linestyle=":",
                    color="0.55",
                    linewidth=0.8,
                    zorder=1,
                )
                ax.plot(
                    [px],
                    [p["paper_err"]],
                    marker="s",
                    markersize=6,
                    linestyle="none",
                    markerfacecolor="white",
                    markeredgecolor=_PAPER_COLOR,
                    markeredgewidth=1.2,
                    zorder=2,
                    label="paper (reported)" if not any_paper else None,
                )
                labels.append((px, p["paper_err"], p["model"], _PAPER_COLOR))
                any_paper = True
        ax.set_xscale("log")
        xs = [p["x"] for p in pts] + [p["paper_x"] for p in pts if p["paper_x"]]
        lo, hi = min(xs), max(xs)
        ax.set_xlim(lo / 1.6, hi * 2.2)  # room for the labels on the right
        ys = [p["err"] + (p["std"] or 0) for p in pts] + [
            p["paper_err"] for p in pts if p["paper_err"] is not None
        ]
        ys_lo = [p["err"] - (p["std"] or 0) for p in pts] + [
            p["paper_err"] for p in pts if p["paper_err"] is not None
        ]
        span = max(max(ys) - min(ys_lo), 1.0)
        ax.set_ylim(max(0.0, min(ys_lo) - 0.12 * span), max(ys) + 0.12 * span)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
        ax.xaxis.set_major_formatter(FuncFormatter(formatter))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test error (%)")
        ax.legend(loc="best", frameon=False)
        _place_labels(ax, labels)
        _stamp_note(fig, note)
        _save(fig, out_svg, out_png)


def time_vs_flops(
    rows: Sequence[Mapping],
    out_svg: str | os.PathLike,
    out_png: str | os.PathLike,
    note: str | None = None,
) -> None:
    """Training time per epoch (s) against forward multiply-accumulates per image, log-log.

    ``rows``: ``model``, ``macs``, ``seconds_mean``, ``seconds_std`` (None for one seed), ``device``
    and ``paper_seconds`` (None when the paper prints none; plotted at our model's cost, since the
    paper prints no FLOPs and names no hardware).
    """
    if not rows:
        raise ResreproError("no rows for the time-vs-FLOPs figure; run the analysis stage")
    pts = []
    for row in rows:
        macs = _num(row, "macs", required=True)
        sec = _num(row, "seconds_mean", required=True)
        if macs <= 0 or sec <= 0:
            raise ResreproError(f"model {row.get('model')!r}: macs and seconds must be positive for a log-log plot")
        pts.append({"model": str(row.get("model")), "x": macs, "y": sec, "std": _num(row, "seconds_std", required=False),
                    "paper": _num(row, "paper_seconds", required=False), "device": row.get("device") or ""})
    devices = sorted({p["device"] for p in pts if p["device"]})
    with matplotlib.rc_context(_RC):
        top_pad = 0.3 if note else 0.0
        height = 4.2 + top_pad
        fig = Figure(figsize=(6.6, height))
        ax = fig.add_axes((0.1, 0.12, 0.86, 1 - 0.12 - (top_pad + 0.15) / height))
        for i, p in enumerate(pts):
            ax.errorbar([p["x"]], [p["y"]], yerr=p["std"], fmt="o", color=_OURS_COLOR, markersize=5, capsize=3, zorder=3,
                        label=f"this reproduction ({', '.join(devices) or 'our hardware'})" if i == 0 else None)
        paper = [p for p in pts if p["paper"] is not None]
        for i, p in enumerate(paper):
            ax.plot([p["x"]], [p["paper"]], marker="s", markersize=6, linestyle="none", markerfacecolor="white",
                    markeredgecolor=_PAPER_COLOR, markeredgewidth=1.2, zorder=2,
                    label="paper, Table 2 (hardware not stated)" if i == 0 else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        xs = [p["x"] for p in pts]
        ax.set_xlim(min(xs) / 1.6, max(xs) * 2.2)
        ys = [p["y"] for p in pts] + [p["paper"] for p in paper]
        ax.set_ylim(min(ys) / 2, max(ys) * 2)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
        ax.xaxis.set_major_formatter(FuncFormatter(_fmt_params))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("multiply-accumulates per 32×32 image (log scale)")
        ax.set_ylabel("training time per epoch (s, log scale)")
        ax.legend(loc="best", frameon=False)
        _place_labels(ax, [(p["x"], p["y"], p["model"], _OURS_COLOR) for p in pts]
                      + [(p["x"], p["paper"], p["model"], _PAPER_COLOR) for p in paper])
        _stamp_note(fig, note)
        _save(fig, out_svg, out_png)


def _check_matrix_models(data: Mapping, what: str) -> list[str]:
    if not data:
        raise ResreproError(f"no {what} to plot; run the evaluation stage first")
    return list(data)


def per_class_f1(
    f1: Mapping[str, Sequence[Sequence[float]]],
    classes: Sequence[str],
    out_svg: str | os.PathLike,
    out_png: str | os.PathLike,
    note: str | None = None,
) -> None:
    """Per-class test F1 (%) as grouped bars: one group per class, one bar per model (mean over
    seeds, ±1 std whisker when there are several seeds). ``f1``: {model: [per-seed list of
    per-class F1 on a 0..1 scale]}."""
    models = _check_matrix_models(f1, "per-class F1 values")
    k = len(classes)
    arr = {}
    for m in models:
        a = np.asarray(f1[m], dtype=float)
        if a.ndim != 2 or a.shape[1] != k or a.shape[0] == 0:
            raise ResreproError(f"per-class F1 of {m!r} has shape {a.shape}, expected (seeds, {k}); re-run the evaluation")
        arr[m] = a * 100
    colors = matplotlib.colormaps["tab10"]
    with matplotlib.rc_context(_RC):
        top_pad = 0.3 if note else 0.0
        height = 3.6 + top_pad
        fig = Figure(figsize=(6.6, height))
        ax = fig.add_axes((0.09, 0.2, 0.89, 1 - 0.2 - (top_pad + 0.42) / height))
        width = 0.8 / len(models)
        x = np.arange(k)
        for i, m in enumerate(models):
            a = arr[m]
            mean = a.mean(0)
            err = a.std(0, ddof=1) if a.shape[0] > 1 else None
            ax.bar(x - 0.4 + width * (i + 0.5), mean, width, yerr=err, color=colors(i % 10), label=m,
                   error_kw={"elinewidth": 0.6, "capsize": 1.5})
        ax.set_xticks(x)
        ax.set_xticklabels(classes, rotation=30, ha="right")
        ax.set_ylim(0, 100)
        ax.set_ylabel("test F1 (%)")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(len(models), 5), frameon=False)
        _stamp_note(fig, note)
        _save(fig, out_svg, out_png)


def confusion_matrices(
    matrices: Mapping[str, Sequence[Sequence[float]]],
    classes: Sequence[str],
    out_svg: str | os.PathLike,
    out_png: str | os.PathLike,
    note: str | None = None,
) -> None:
    """One heat map per model: the test confusion matrix summed over seeds, each row (true class)
    normalised to 100 %, the percentage written in each cell. ``matrices``: {model: k x k counts}."""
    models = _check_matrix_models(matrices, "confusion matrices")
    k = len(classes)
    ncols = min(len(models), 3)
    nrows = math.ceil(len(models) / ncols)
    top_pad = 0.3 if note else 0.0
    cell = 2.15
    width = cell * ncols + 0.9
    height = (cell + 0.45) * nrows + top_pad + 0.35
    with matplotlib.rc_context({**_RC, "axes.grid": False}):
        fig = Figure(figsize=(width, height))
        gs = fig.add_gridspec(nrows, ncols, left=0.75 / width, right=1 - 0.12 / width, bottom=0.55 / height,
                              top=1 - (top_pad + 0.3) / height, wspace=0.12, hspace=0.42)
        for i, m in enumerate(models):
            cm = np.asarray(matrices[m], dtype=float)
            if cm.shape != (k, k):
                raise ResreproError(f"confusion matrix of {m!r} has shape {cm.shape}, expected ({k}, {k}); re-run the evaluation")
            rows = cm.sum(1, keepdims=True)
            pct = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) * 100
            r, c = divmod(i, ncols)
            ax = fig.add_subplot(gs[r, c])
            ax.imshow(pct, cmap="Blues", vmin=0, vmax=100, interpolation="nearest")
            for (ti, pj), v in np.ndenumerate(pct):
                if v >= 0.5:
                    ax.text(pj, ti, f"{v:.0f}", ha="center", va="center", fontsize=4.6,
                            color="white" if v > 55 else "0.15")
            ax.set_title(f"{m}  (n = {int(cm.sum()):,})", fontsize=8)
            ax.set_xticks(range(k))
            ax.set_yticks(range(k))
            ax.set_xticklabels(classes if r == nrows - 1 or i + ncols >= len(models) else [], rotation=90, fontsize=5.5)
            ax.set_yticklabels(classes if c == 0 else [], fontsize=5.5)
            ax.tick_params(length=0)
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_linewidth(0.4)
        fig.text(0.5, 0.005, "predicted class (columns); rows: true class, % of that class", ha="center", va="bottom", fontsize=7)
        _stamp_note(fig, note)
        _save(fig, out_svg, out_png)


# --------------------------------------------------------------------------------------------
# all figures of a run, from its result files



def from_results(results: str | os.PathLike, paper: Mapping, text_values: Mapping, spec: Mapping, out_dir: str | os.PathLike) -> None:
    """Every figure of the report from ``results/<run>/`` (history.csv, measured.json, metrics.json).

    ``paper``: reports/paper.yaml; ``text_values``: numbers the paper prints only in its text
    (resrepro.paper.text_values). Writes ``<id>.svg`` and ``<id>.png`` for each figure of the figures
    stage (resrepro.outputs).
    """
    from .data import CLASSES
    from .io import read_json

    results, out = Path(results), Path(out_dir)
    models, seeds, note = list(spec["models"]), list(spec["seeds"]), spec.get("stamp")
    histories = load_histories(sorted(results.glob("train/*/seed*/history.csv")))
    training_curves({m: histories[m] for m in models if m in histories}, out / "curves.svg", out / "curves.png", note=note)

    measured = read_json(results / "tables" / "measured.json")
    t2, t3 = paper["table2"]["rows"], paper["table3"]["rows"]

    def paper_error(m):
        v = t3.get(m, {}).get("test_error")
        return v if v is not None else (text_values.get(m, {}).get("test_error") or (None,))[0]

    rows = []
    for m in models:
        v = measured[m]
        pp = t3.get(m, {}).get("params_millions")
        rows.append({
            "model": m, "params": v["params"], "macs": v["flops_per_image"] / 2,
            "test_error_mean": v["test_error"]["mean"], "test_error_std": v["test_error"]["std"],
            "paper_params": pp * 1e6 if pp else None, "paper_test_error": paper_error(m),
        })
    error_vs_params(rows, out / "error_vs_params.svg", out / "error_vs_params.png", note=note)
    error_vs_flops(rows, out / "error_vs_flops.svg", out / "error_vs_flops.png", note=note)
    time_vs_flops(
        [{"model": m, "macs": measured[m]["flops_per_image"] / 2, "seconds_mean": measured[m]["seconds_per_epoch"]["mean"],
          "seconds_std": measured[m]["seconds_per_epoch"]["std"], "device": ", ".join(measured[m].get("devices", [])),
          "paper_seconds": t2.get(m, {}).get("seconds_per_epoch")} for m in models],
        out / "time_vs_flops.svg", out / "time_vs_flops.png", note=note,
    )
    metrics = {m: [read_json(results / "eval" / m / f"seed{s}" / "metrics.json") for s in seeds] for m in models}
    per_class_f1({m: [x["f1_per_class"] for x in metrics[m]] for m in models}, CLASSES,
                 out / "per_class_f1.svg", out / "per_class_f1.png", note=note)
    confusion_matrices({m: np.sum([np.asarray(x["confusion_matrix"]) for x in metrics[m]], axis=0) for m in models}, CLASSES,
                       out / "confusion.svg", out / "confusion.png", note=note)
