"""Figures: the run figures (training curves, test error and time against cost, per-class F1, confusion
matrices) and the degradation study's figures, all in one style.

- :mod:`.style`: rc-params, colours, PNG resolution, the stamp note, :func:`figure` (one figure, written
  as SVG and PNG atomically);
- :mod:`.run`: the figures of the ``figures`` stage, one drawing function per id declared in
  :mod:`resrepro.outputs`, and :func:`from_results`, which draws them all from a run's result files;
- :mod:`.inputs`: reading and checking what the run figures draw;
- :mod:`.degradation`: Figure 6 and the gradient flow of the degradation study (:mod:`resrepro.degradation`).

Models are labelled with their display names (:func:`resrepro.catalog.display`).
"""

from __future__ import annotations

from .axes import place_labels
from .degradation import degradation_figures
from .inputs import RunResults, load_histories
from .run import (
    DRAWERS,
    check_drawers,
    confusion_matrices,
    error_vs_flops,
    error_vs_params,
    from_results,
    per_class_f1,
    time_vs_flops,
    training_curves,
)
from .style import PNG_DPI, RC, figure, save, stamp_note

__all__ = [
    "DRAWERS",
    "PNG_DPI",
    "RC",
    "RunResults",
    "check_drawers",
    "confusion_matrices",
    "degradation_figures",
    "error_vs_flops",
    "error_vs_params",
    "figure",
    "from_results",
    "load_histories",
    "per_class_f1",
    "place_labels",
    "save",
    "stamp_note",
    "time_vs_flops",
    "training_curves",
]
