"""The one style of every figure: rc-params, colours, the stamp note and how a figure is written.

Every figure is written twice, atomically: an SVG (vector, embedded in the Typst PDF and inlined in
the HTML report) and a 150 dpi PNG for quick viewing. Output is byte-reproducible: matplotlib is
used through its object-oriented API (no pyplot, no global backend switch; matplotlib docs,
"Embedding in a web application server"), with a fixed SVG hash salt, text drawn as paths (the SVG
needs no fonts) and no date in the metadata (matplotlib docs, ``Figure.savefig``, ``metadata``).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, Mapping

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import atomic_path

PNG_DPI = 150

# rcParams applied (locally, via matplotlib.rc_context) to every figure we draw.
RC = {
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

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"
OURS_COLOR = "#1f77b4"
PAPER_COLOR = "#d62728"
NOTE_COLOR = "#b00020"
# one colour per depth in the degradation figures (the first five of matplotlib's tab10 cycle)
DEPTH_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")

NOTE_PAD = 0.3  # inches kept free at the top of a hand-laid-out figure for the stamp note


def note_pad(note: str | None) -> float:
    """Inches to keep free at the top for ``note`` (none without a note)."""
    return NOTE_PAD if note else 0.0


def save(fig: Figure, out_svg: str | os.PathLike, out_png: str | os.PathLike) -> None:
    """Write ``fig`` as SVG and PNG, each atomically (the temp file lacks the real suffix, so the
    format is always given explicitly)."""
    FigureCanvasAgg(fig)  # attach a canvas; no global backend is touched
    with atomic_path(out_svg) as tmp:
        fig.savefig(tmp, format="svg", metadata={"Date": None})
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=PNG_DPI, metadata={"Software": None})


def as_written(text: object) -> str:
    """Free text (a stamp) for matplotlib, shown as written: every ``$`` escaped, so that ``$...$`` is never
    mathtext (which would fail on ``$a_b_c$``). ``parse_math=False`` is not enough: wrapped text ignores it."""
    return str(text).replace("$", r"\$")


def stamp_note(fig: Figure, note: str | None) -> None:
    """``note`` in bold red across the top of ``fig`` (nothing without a note)."""
    if note:
        fig.text(
            0.5,
            0.995,
            as_written(note),
            ha="center",
            va="top",
            fontsize=9,
            fontweight="bold",
            wrap=True,  # long stamps wrap instead of running off the figure
            color=NOTE_COLOR,
            bbox={"boxstyle": "round,pad=0.3", "fc": "#fff3f3", "ec": NOTE_COLOR, "lw": 0.8},
        )


@contextlib.contextmanager
def figure(
    figsize: tuple[float, float],
    out_svg: str | os.PathLike,
    out_png: str | os.PathLike,
    note: str | None = None,
    *,
    rc: Mapping | None = None,
    tight_top: float | None = None,
) -> Iterator[Figure]:
    """A new figure in the shared style; once the block has drawn it: the stamp note, then
    ``tight_layout`` (only with ``tight_top``: the top of its rect when there is a note, so the note
    keeps its room), then SVG and PNG. Nothing is written when the block raises.

    ``rc``: rcParams on top of :data:`RC` for this figure.
    """
    with matplotlib.rc_context({**RC, **(rc or {})}):
        fig = Figure(figsize=figsize)
        yield fig
        stamp_note(fig, note)
        if tight_top is not None:
            fig.tight_layout(rect=(0, 0, 1, tight_top if note else 1))
        save(fig, out_svg, out_png)
