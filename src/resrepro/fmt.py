"""Formatting shared by tables, figures, the claims audit and the report: numbers, mean +- std, names.

Tables use the typographic minus sign and an em dash for a missing value; reasons in the claims audit
use ASCII signs, thousands separators and "n/a". Model names are shown as the catalog declares them.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from . import catalog

MINUS = "\u2212"
DASH = "\u2014"
PM = "\u00b1"


def count(n: int, word: str, plural: str | None = None) -> str:
    """``n`` and ``word`` in the number that ``n`` takes: 1 epoch, 2 epochs (``plural``: default word + s)."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


def display_name(model: str) -> str:
    """The catalog's display name of a model (ResNet-110, plain-56, VGG-16); other strings unchanged."""
    return catalog.display(model)


def names(models: Sequence[str]) -> str:
    return ", ".join(display_name(m) for m in models)


def number(x: float | None, digits: int = 2, *, table: bool = True) -> str:
    """``x`` with ``digits`` decimals. ``table``: typographic minus and an em dash for a missing value;
    otherwise (text) ASCII minus, thousands separators and "n/a"."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH if table else "n/a"
    if table:
        return f"{x:.{digits}f}".replace("-", MINUS)
    return f"{x:,.{digits}f}"


def mean_std(s: Mapping, digits: int = 2, *, table: bool = True, unit: str = "") -> str:
    """``mean ± std`` of a :func:`resrepro.stats.summarise` record (``unit`` after the mean, as in
    ``12.34 % ± 0.56``); the mean alone with one value."""
    text = number(s["mean"], digits, table=table) + unit
    return text if s["std"] is None else f"{text} {PM} {number(s['std'], digits, table=table)}"


def signed(x: float, digits: int = 2) -> str:
    """A difference for a table: + for positive values, the typographic minus for negative ones."""
    return ("+" if x > 0 else "") + number(x, digits)


def printed(value: float, decimals: int) -> str:
    """A paper value as printed, with its own number of decimals."""
    return f"{value:.{decimals}f}"
