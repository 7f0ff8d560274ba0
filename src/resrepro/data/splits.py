"""Stratified train/val splits and per-class subsets of CIFAR-10 label arrays (indices, not images)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ResreproError


def stratified_split(labels: Any, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, val), exactly ``val_size / num_classes`` per class in val.

    Deterministic for a given ``seed`` (``numpy.random.default_rng``); both index arrays sorted.
    """
    y, classes = _labels(labels)
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ResreproError(f"split seed must be an integer, got {seed!r}; fix: set data.split_seed, e.g. 0")
    per = _per_class(y, classes, val_size, "val_size")
    rng = np.random.default_rng(int(seed))
    picks = [idx[rng.permutation(idx.size)[:per]] for idx in (np.flatnonzero(y == c) for c in classes)]
    val = np.sort(np.concatenate(picks)).astype(np.int64) if picks else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(len(y), dtype=np.int64), val, assume_unique=True)
    return train, val


def stratified_subset(labels: Any, size: int, seed: int | None = None) -> np.ndarray:
    """Sorted indices of ``size / num_classes`` images per class.

    ``seed=None``: the first ones of each class in the given order (deterministic); else a random
    choice drawn with ``numpy.random.default_rng(seed)``.
    """
    y, classes = _labels(labels)
    per = _per_class(y, classes, size, "subset size")
    rng = None if seed is None else np.random.default_rng(int(seed))
    picks = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        picks.append(idx[:per] if rng is None else idx[rng.permutation(idx.size)[:per]])
    return np.sort(np.concatenate(picks)).astype(np.int64) if picks else np.zeros(0, np.int64)


def select(data_cfg: dict, y_train: Any, y_test: Any) -> dict[str, np.ndarray]:
    """Index arrays ``{"train", "val", "test"}`` for the config's ``data`` section.

    train/val: :func:`stratified_split` of the official training set (``val_size``, ``split_seed``);
    ``train_subset``/``val_subset``/``test_subset`` (None = all): the first images of each class
    (:func:`stratified_subset` with ``seed=None``) of the train part, val part and test set.
    """
    train, val = stratified_split(y_train, int(data_cfg.get("val_size", 5000)), data_cfg.get("split_seed", 0))
    y_train = np.asarray(y_train)
    out = {"train": train, "val": val, "test": np.arange(len(y_test), dtype=np.int64)}
    for key, labels in (("train", y_train[train]), ("val", y_train[val]), ("test", np.asarray(y_test))):
        size = data_cfg.get(f"{key}_subset")
        if size is not None:
            out[key] = out[key][stratified_subset(labels, int(size))]
    return out


# =====================================================================================================
# helpers: labels for the split functions
# =====================================================================================================


def _labels(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise ResreproError(
            f"labels must be a 1-D integer array, got shape {y.shape} dtype {y.dtype}; "
            "fix: pass the label array returned by resrepro.data.load"
        )
    return y, np.unique(y)


def _per_class(y: np.ndarray, classes: np.ndarray, size: int, what: str) -> int:
    k = len(classes)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ResreproError(f"{what} must be a non-negative integer, got {size!r}; fix: set a whole number")
    if size == 0:
        return 0
    if k == 0 or size % k:
        near = max(k, round(size / max(k, 1)) * k)
        raise ResreproError(
            f"{what} {size} is not a multiple of the {k} classes, so the classes cannot be equally "
            f"represented; fix: use a multiple of {k} (e.g. {near})"
        )
    per = size // k
    smallest = int(np.bincount(np.searchsorted(classes, y), minlength=k).min())
    if per > smallest:
        raise ResreproError(
            f"{what} {size} needs {per} images per class but the smallest class has only {smallest}; "
            f"fix: use at most {smallest * k}"
        )
    return per
