"""Axis helpers shared by the run figures: epoch and log-cost axes, seed bands, labels that do not overlap."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from .style import OURS_COLOR


def format_count(x: float, _pos=None) -> str:
    """A tick label for a count: 270k, 11.2M."""
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    if x >= 1e3:
        return f"{x / 1e3:g}k"
    return f"{x:g}"


def log_count_axis(axis) -> None:
    """A log axis of counts (parameters, multiply-accumulates): ticks at 1, 2 and 5 per decade, labelled 2M."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    axis.set_major_formatter(FuncFormatter(format_count))
    axis.set_minor_formatter(NullFormatter())


def epoch_axis(ax, epochs: np.ndarray) -> None:
    """Integer epoch ticks and a little room either side of the first and last epoch."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    if len(epochs) == 1:
        e = float(epochs[0])
        ax.set_xlim(e - 1, e + 1)
    else:
        lo, hi = float(epochs.min()), float(epochs.max())
        pad = max((hi - lo) * 0.03, 0.25)
        ax.set_xlim(lo - pad, hi + pad)


def plot_series(ax, agg: pd.DataFrame, *, color, label, linestyle, markers: bool, scale=1.0) -> None:
    """The mean over seeds of one history column (``agg``: mean, min, max, n per epoch) with a
    min..max band when there are several seeds (an error bar when there is a single epoch)."""
    x = agg.index.to_numpy(dtype=float)
    y = agg["mean"].to_numpy(dtype=float) * scale
    lo = agg["min"].to_numpy(dtype=float) * scale
    hi = agg["max"].to_numpy(dtype=float) * scale
    banded = bool((agg["n"] > 1).any())
    if len(x) == 1:
        # a band over a single epoch has no width: show the seed range as an error bar
        yerr = np.array([[y[0] - lo[0]], [hi[0] - y[0]]]) if banded else None
        ax.errorbar(x, y, yerr=yerr, color=color, marker="o", markersize=4, capsize=3, linestyle="none", label=label)
        return
    marker = "o" if markers else None
    ax.plot(x, y, color=color, linestyle=linestyle, marker=marker, markersize=3, linewidth=1.2, label=label)
    if banded:
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)


# offsets (points) tried in turn for a label: right-above, right-below, left-above, left-below, further out
_OFFSETS = [
    (5, 4, "left"),
    (5, -10, "left"),
    (-5, 4, "right"),
    (-5, -10, "right"),
    (5, 13, "left"),
    (5, -19, "left"),
    (-5, 13, "right"),
    (-5, -19, "right"),
]


def ours_point(ax, x: float, y: float, std: float | None, label: str | None, elinewidth: float | None = None) -> None:
    """One of our measurements: a filled dot with a ±1 std bar over seeds (none with one seed)."""
    ax.errorbar(
        [x],
        [y],
        yerr=std,
        fmt="o",
        color=OURS_COLOR,
        markersize=5,
        capsize=3,
        elinewidth=elinewidth,
        zorder=3,
        label=label,
    )


def _overlaps(box: tuple, placed: list[tuple]) -> bool:
    return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed)


def place_labels(ax, labels: Sequence[tuple[float, float, str, str]], fontsize: float = 7) -> None:
    """Annotate points without overlapping labels: each label takes the first of a few offsets
    (right-above, right-below, left-above, left-below, further out) whose box collides with no
    label placed before it and no labelled point. ``labels``: (x, y, text, color) in data coordinates; call after the
    axis limits are final."""
    to_pt = 72.0 / ax.figure.dpi
    # every labelled point's marker is taken too, so that no label covers another point
    r = 4.0
    points = [ax.transData.transform((x, y)) * to_pt for x, y, _, _ in labels]
    placed: list[tuple[float, float, float, float]] = [(px - r, py - r, px + r, py + r) for px, py in points]
    for x, y, text, color in labels:
        px, py = ax.transData.transform((x, y)) * to_pt
        w, h = 0.62 * fontsize * len(text), fontsize * 1.1
        for dx, dy, ha in _OFFSETS:
            x0 = px + dx if ha == "left" else px + dx - w
            box = (x0, py + dy, x0 + w, py + dy + h)
            if not _overlaps(box, placed):
                break
        else:  # every place is taken: the first one
            dx, dy, ha = _OFFSETS[0]
            x0 = px + dx
            box = (x0, py + dy, x0 + w, py + dy + h)
        placed.append(box)
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize, color=color, ha=ha)
