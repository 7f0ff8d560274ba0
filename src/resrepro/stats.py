"""Statistics over seeds, shared by every stage: summaries, Student-t intervals and Welch's test.

No scipy: the Student t distribution comes from the regularised incomplete beta function (Numerical
Recipes, 3rd ed., Sec. 6.4). :func:`summarise` is the one mean +- std of the project (sample standard
deviation, ``ddof=1``; None with one value).
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np

from . import ResreproError

CONFIDENCE = 0.95
# He et al. (2016, Sec. 4.2) call a net started once its training error is below 80 %: a net above it at the end
# never began to converge (an optimisation failure at this learning rate and length, not a measured depth effect).
# Here, not in resrepro.degradation, so that the claims audit reads it without importing pandas.
STARTED_BELOW = 80.0


def summarise(values: Sequence[float]) -> dict:
    """Mean, sample standard deviation (None with one value), n and the values themselves."""
    v = np.asarray(values, dtype=float)
    std = float(v.std(ddof=1)) if len(v) > 1 else None
    return {"mean": float(v.mean()), "std": std, "n": int(len(v)), "values": v.tolist()}


def sqrt_recall_variance(confusion: Sequence[Sequence[float]]) -> float:
    """Var_c(sqrt r_c): the population variance over the classes of the square roots of the per-class
    recalls r_c = TP_c / (images of class c), from a confusion matrix (rows: true class). On a test set with
    equally many images per class, accuracy minus macro precision (or macro F1) is at most this
    (resrepro.claims.bounds.macro_floor proves it); a class without images is left out."""
    cm = np.asarray(confusion, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ResreproError(f"a confusion matrix must be square, not of shape {cm.shape}")
    rows = cm.sum(1)
    recall = np.diag(cm)[rows > 0] / rows[rows > 0]
    return float(np.var(np.sqrt(recall)))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (Lentz; Numerical Recipes 6.4)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(df / 2, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


@functools.lru_cache(maxsize=4096)
def t_ppf(q: float, df: float) -> float:
    """Quantile of Student's t (bisection on t_sf, to 1e-10; cached: the audit asks for the same few often)."""
    lo, hi = -1e4, 1e4
    while hi - lo > 1e-10:
        mid = (lo + hi) / 2
        if 1 - t_sf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> dict:
    """Mean, sample std and the Student-t confidence interval of the mean (None with one value)."""
    s = summarise(values)
    if s["n"] < 2:
        return {**s, "ci": None, "half_width": None}
    half = t_ppf(0.5 + confidence / 2, s["n"] - 1) * s["std"] / math.sqrt(s["n"])
    return {**s, "ci": [s["mean"] - half, s["mean"] + half], "half_width": half}


# Differences of means smaller than this count as zero when neither sample varies (float rounding).
EXACT_TOLERANCE = 1e-9


def no_spread(*samples: Sequence[float]) -> bool:
    """True when every sample repeats one value (then means differ exactly, with no uncertainty)."""
    return all(np.ptp(np.asarray(s, dtype=float)) == 0 for s in samples)


def welch(a: Sequence[float], b: Sequence[float], shift: float = 0.0) -> dict:
    """One-sided Welch t-test of H1: mean(a) - mean(b) > -shift (shift = 0: "a is larger").

    Returns the difference of means, its 95 % Welch confidence interval, t, df and the one-sided p.
    Both samples need two or more values. If neither sample varies (decided on the values, not on a
    variance that rounding may leave at 1e-14) the difference is exact: p is 0 when it favours H1 by more
    than rounding (``EXACT_TOLERANCE``) and 1 otherwise.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ResreproError("a Welch test needs at least two seeds per model")
    va, vb = float(a.var(ddof=1)) / len(a), float(b.var(ddof=1)) / len(b)
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if no_spread(a, b):
        return {
            "diff": diff,
            "se": 0.0,
            "df": None,
            "t": None,
            "p": 0.0 if diff + shift > EXACT_TOLERANCE else 1.0,
            "ci": [diff, diff],
        }
    df = (va + vb) ** 2 / ((va**2 / (len(a) - 1) if va else 0.0) + (vb**2 / (len(b) - 1) if vb else 0.0))
    t = (diff + shift) / se
    half = t_ppf(0.5 + CONFIDENCE / 2, df) * se
    return {"diff": diff, "se": se, "df": df, "t": t, "p": t_sf(t, df), "ci": [diff - half, diff + half]}


def prediction_interval(values: Sequence[float], level: float = 0.90) -> dict:
    """The ``level`` Student-t prediction interval for ONE new run: mean +- t_{(1+level)/2, n-1} s sqrt(1 + 1/n).

    A printed number that summarises an unknown number of runs is compared as if it were one run, the
    weaker assumption (its interval is wider than the mean's). None without two or more values."""
    s = summarise(values)
    if s["n"] < 2:
        return {**s, "interval": None, "half_width": None, "level": level}
    half = t_ppf(0.5 + level / 2, s["n"] - 1) * s["std"] * math.sqrt(1 + 1 / s["n"])
    return {**s, "interval": [s["mean"] - half, s["mean"] + half], "half_width": half, "level": level}


def equivalence(interval: Sequence[float], reference: float, margin: float, rounding: float = 0.0) -> str:
    """Two one-sided tests (TOST) read off an interval of ours against a printed ``reference`` known to within
    +- ``rounding``: "equivalent" iff every difference the interval and the rounding allow lies inside +-margin,
    "different" iff every one lies outside, "undecided" otherwise. With a 90 % interval each side is a 5 % test."""
    lo, hi = interval[0] - reference - rounding, interval[1] - reference + rounding
    if -margin <= lo and hi <= margin:
        return "equivalent"
    if lo > margin or hi < -margin:
        return "different"
    return "undecided"


def holm(p: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error at most alpha when compared with alpha)."""
    if not all(math.isfinite(v) for v in p):
        raise ResreproError(f"Holm's correction needs finite p-values, got {list(p)}")
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [1.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out
