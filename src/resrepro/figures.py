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
            ax_loss.yaxis.set_major_locator(MaxNLocator(nbins=4))
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
    if not rows:
        raise ResreproError("no rows for the error-vs-parameters figure; run the analysis stage")
    pts = []
    for row in rows:
        if not row.get("model"):
            raise ResreproError(
                f"error_vs_params row {dict(row)!r} has no 'model'; fix the analysis output"
            )
        params = _num(row, "params", required=True)
        if params <= 0:
            raise ResreproError(
                f"model {row['model']!r} has params={params:g}; a log axis needs a positive "
                "parameter count (fix the analysis output)"
            )
        pp = _num(row, "paper_params", required=False)
        if pp is not None and pp <= 0:
            pp = None
        pts.append(
            {
                "model": str(row["model"]),
                "params": params,
                "err": _num(row, "test_error_mean", required=True),
                "std": _num(row, "test_error_std", required=False),
                "paper_params": pp,
                "paper_err": _num(row, "paper_test_error", required=False),
            }
        )

    with matplotlib.rc_context(_RC):
        top_pad = 0.3 if note else 0.0
        height = 4.2 + top_pad
        fig = Figure(figsize=(6.6, height))
        ax = fig.add_axes((0.1, 0.12, 0.86, 1 - 0.12 - (top_pad + 0.15) / height))
        any_paper = False
        for i, p in enumerate(pts):
            yerr = p["std"] if p["std"] is not None else None
            ax.errorbar(
                [p["params"]],
                [p["err"]],
                yerr=yerr,
                fmt="o",
                color=_OURS_COLOR,
                markersize=5,
                capsize=3,
                elinewidth=1,
                zorder=3,
                label="this reproduction (mean ± std over seeds)" if i == 0 else None,
            )
            ax.annotate(
                p["model"],
                (p["params"], p["err"]),
                xytext=(5, 4),
                textcoords="offset points",
                fontsize=7,
                color=_OURS_COLOR,
            )
            if p["paper_err"] is not None:
                px = p["paper_params"] if p["paper_params"] is not None else p["params"]
                ax.plot(
                    [p["params"], px],
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
                ax.annotate(
                    p["model"],
                    (px, p["paper_err"]),
                    xytext=(5, -9),
                    textcoords="offset points",
                    fontsize=7,
                    color=_PAPER_COLOR,
                )
                any_paper = True
        ax.set_xscale("log")
        xs = [p["params"] for p in pts] + [p["paper_params"] for p in pts if p["paper_params"]]
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
        ax.xaxis.set_major_formatter(FuncFormatter(_fmt_params))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("parameters (log scale)")
        ax.set_ylabel("test error (%)")
        ax.legend(loc="best", frameon=False)
        _stamp_note(fig, note)
        _save(fig, out_svg, out_png)
