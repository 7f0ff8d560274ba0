"""The degradation study's figures (He et al. 2016, Fig. 6; gradient flow), from :mod:`resrepro.degradation`'s runs.

``figure6``: training (dashed) and validation (bold) error per epoch, plain networks left, residual
right, one colour per depth. ``gradflow``: the norm of the loss gradient reaching each block, plain
(dashed) against residual (solid), one panel per measured epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import ResreproError, catalog, outputs
from .axes import epoch_axis
from .style import DEPTH_COLORS, figure

KIND_TITLES = ("plain networks", "residual networks")  # catalog.pair(depth) is (plain, residual)


def _figure6(runs: dict, depths: list[int], colors: dict, out: tuple[Path, Path], note: str | None) -> None:
    with figure((8.0, 3.4), *out, note, tight_top=0.92) as fig:
        axes = fig.subplots(1, 2, sharey=True)
        for kind, (ax, title) in enumerate(zip(axes, KIND_TITLES)):
            for d in depths:
                model = catalog.pair(d)[kind]
                hs = [r["history"] for r in runs[model]]
                ep = hs[0]["epoch"].to_numpy()
                tr = np.mean([100 * (1 - h["train_acc"].to_numpy()) for h in hs], 0)
                va = np.mean([100 * (1 - h["val_acc"].to_numpy()) for h in hs], 0)
                ax.plot(ep, tr, "--", color=colors[d], lw=1.0)
                ax.plot(ep, va, "-", color=colors[d], lw=2.0, label=catalog.display(model))
            # the line styles in the legend, not in the axis label (a long label ran into the tick labels)
            ax.plot([], [], "--", color="0.35", lw=1.0, label="training (dashed)")
            ax.plot([], [], "-", color="0.35", lw=2.0, label="validation (bold)")
            ax.set_title(title)
            ax.set_xlabel("epoch")
            epoch_axis(ax, ep)
            ax.legend(loc="upper right", fontsize=6.5)
        axes[0].set_ylabel("error (%)")


def _gradflow(runs: dict, depths: list[int], colors: dict, out: tuple[Path, Path], note: str | None) -> None:
    epochs = [m["epoch"] for m in runs[catalog.pair(depths[0])[0]][0]["gradflow"]]
    if not epochs:
        raise ResreproError(
            "no gradient-flow measurements in this run; set train.gradflow_epochs (see presets/degradation.yaml)"
        )
    size = (2.6 * len(epochs) + 0.6, 3.2)
    with figure(size, *out, note, tight_top=0.9) as fig:
        axes = np.atleast_1d(fig.subplots(1, len(epochs), sharey=True))
        for ax, e in zip(axes, epochs):
            for kind, style in enumerate(("--", "-")):
                for d in depths:
                    model = catalog.pair(d)[kind]
                    norms = next(x for x in runs[model][0]["gradflow"] if x["epoch"] == e)["activation_grad_norm"]
                    ax.semilogy(
                        np.arange(1, len(norms) + 1),
                        norms,
                        style,
                        color=colors[d],
                        lw=1.4,
                        label=catalog.display(model),
                    )
            ax.set_title("at initialisation" if e == 0 else f"after epoch {e}")
            ax.set_xlabel("block (input \u2192 output)")
        axes[0].set_ylabel("\u2016dL/d(block output)\u2016")
        axes[-1].legend(loc="best", fontsize=6.5)


def degradation_figures(runs: dict, summary: dict, out_dir: str | Path, note: str | None = None) -> None:
    """``figure6`` and ``gradflow`` (SVG and PNG) in ``out_dir``.

    ``runs``: {model: [per seed: history, test accuracy, gradflow]} (resrepro.degradation.read_runs);
    ``summary``: its ``depths`` (resrepro.degradation.collect); ``note``: the run's stamp.
    """
    out_dir = Path(out_dir)
    depths = summary["depths"]
    colors = {d: DEPTH_COLORS[i % len(DEPTH_COLORS)] for i, d in enumerate(depths)}  # any number of depths
    for fid in outputs.check_drawers("degradation", DRAWERS, "resrepro.figures.degradation.DRAWERS"):
        DRAWERS[fid](runs, depths, colors, (out_dir / f"{fid}.svg", out_dir / f"{fid}.png"), note)


DRAWERS = {"figure6": _figure6, "gradflow": _gradflow}
