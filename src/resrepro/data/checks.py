"""Summaries of the arrays (counts, per-channel statistics, first labels) and their check against the
published CIFAR-10 facts (Krizhevsky 2009; https://www.cs.toronto.edu/~kriz/cifar.html)."""

from __future__ import annotations

import numpy as np

from .. import ResreproError
from .constants import (
    _FIX_SOURCE,
    CLASSES,
    FIRST_TEST_LABELS,
    FIRST_TRAIN_LABELS,
    MEAN,
    STATS_TOLERANCE,
    STD,
    TEST_MEAN,
)


def summarize(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Counts, per-class counts, per-channel mean/std (0..1 scale) and first labels."""
    out: dict[str, dict] = {"counts": {}, "per_class_counts": {}, "stats": {}, "first_labels": {}}
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        mean, std = channel_stats(x)
        out["counts"][part] = int(len(y))
        out["per_class_counts"][part] = np.bincount(y, minlength=len(CLASSES)).tolist()
        out["stats"][part] = {"mean": [round(v, 6) for v in mean], "std": [round(v, 6) for v in std]}
        out["first_labels"][part] = [int(v) for v in y[:10]]
    return out


def channel_stats(x: np.ndarray, chunk: int = 1 << 22) -> tuple[list[float], list[float]]:
    """Exact per-channel mean and population std of uint8 HWC images, on a 0..1 scale."""
    flat = x.reshape(-1, 3)
    hist = np.zeros((3, 256), np.int64)  # value histograms: exact, and fast (bincount per channel)
    for c in range(3):
        for i in range(0, flat.shape[0], chunk):
            hist[c] += np.bincount(flat[i : i + chunk, c], minlength=256)
    v = np.arange(256, dtype=np.float64)
    n = max(1, flat.shape[0])
    mean = hist @ v / n
    var = np.maximum(hist @ (v * v) / n - mean * mean, 0.0)
    return (mean / 255).tolist(), (np.sqrt(var) / 255).tolist()


def verify(summary: dict, origin: str = "the dataset") -> dict:
    """Check a :func:`summarize` result against the published facts; return the ``verified`` block.

    Full size (``resrepro.data.TRAIN_SIZE``/``TEST_SIZE``, 50,000/10,000): exact per-class counts,
    first labels, train mean/std and test mean within ``STATS_TOLERANCE``; any failure raises.
    Smaller sets are only checked for consistency.
    """
    train_size, test_size = _full_size()
    counts, per_class = summary["counts"], summary["per_class_counts"]
    for part in ("train", "test"):
        if sum(per_class[part]) != counts[part] or len(per_class[part]) != len(CLASSES):
            raise ResreproError(
                f"{origin}: the {part} per-class counts {per_class[part]} do not add up to {counts[part]}; "
                "fix: delete the cache and prepare again"
            )
    if (counts["train"], counts["test"]) != (train_size, test_size):
        balanced = all(len(set(per_class[p])) == 1 for p in ("train", "test"))
        return {"full_size": False, "checked": ["shapes_dtypes", "label_range", "per_class_counts_consistent"],
                "balanced": balanced}
    problems = []
    for part, size in (("train", train_size), ("test", test_size)):
        want = size // len(CLASSES)
        if per_class[part] != [want] * len(CLASSES):
            problems.append(f"{part} per-class counts {per_class[part]} (expected {want} each)")
    for part, want in (("train", FIRST_TRAIN_LABELS), ("test", FIRST_TEST_LABELS)):
        if tuple(summary["first_labels"][part]) != want:
            problems.append(f"first {part} labels {summary['first_labels'][part]} (expected {list(want)})")
    diffs = {}
    for name, got, want in (
        ("train_mean", summary["stats"]["train"]["mean"], MEAN),
        ("train_std", summary["stats"]["train"]["std"], STD),
        ("test_mean", summary["stats"]["test"]["mean"], TEST_MEAN),
    ):
        diffs[name] = round(max(abs(g - w) for g, w in zip(got, want)), 6)
        if diffs[name] > STATS_TOLERANCE:
            problems.append(f"{name} {got} (published {list(want)}, tolerance {STATS_TOLERANCE})")
    if problems:
        raise ResreproError(
            f"{origin} is not the genuine CIFAR-10 (or was decoded wrongly): " + "; ".join(problems)
            + f". Nothing was written. Fix: {_FIX_SOURCE}, or remove data.source to use the verified "
            "official/npm sources"
        )
    return {
        "full_size": True,
        "checked": ["shapes_dtypes", "label_range", "per_class_counts", "first_labels",
                    "train_mean", "train_std", "test_mean"],
        "tolerance": STATS_TOLERANCE,
        "max_abs_diff": diffs,
        "reference": "published CIFAR-10 statistics (Krizhevsky 2009; official archive)",
    }


def _full_size() -> tuple[int, int]:
    """``(TRAIN_SIZE, TEST_SIZE)`` read from :mod:`resrepro.data` at call time, so that setting them
    there (as the tests do, to make a small generated set count as full size) takes effect."""
    from resrepro import data

    return data.TRAIN_SIZE, data.TEST_SIZE
