"""The learning-rate schedule of a recipe: constant warm-up, then cosine, multistep or constant.

Pure functions of the step and the recipe (config.yaml ``train``), so a resumed job follows exactly
the schedule of an uninterrupted one.
"""

from __future__ import annotations

import math


def lr_at(step: int, steps_per_epoch: int, recipe: dict, warming: bool = False) -> float:
    """Learning rate for global step ``step`` (0-based): constant warm-up, then the schedule.

    ``warming``: still in He et al.'s warm-up by the training-error rule (:func:`still_warming`).
    """
    warmup_steps = round(recipe["warmup_epochs"] * steps_per_epoch)
    if step < warmup_steps or warming:
        return recipe["warmup_lr"]
    total = recipe["epochs"] * steps_per_epoch
    base = recipe["lr"]
    if recipe["schedule"] == "cosine":
        t = (step - warmup_steps) / max(1, total - warmup_steps)
        return base * 0.5 * (1 + math.cos(math.pi * t))
    if recipe["schedule"] == "multistep":
        epoch = step / steps_per_epoch
        return base * recipe["gamma"] ** sum(epoch >= m for m in recipe["milestones"])
    return base


def still_warming(history: list[dict], recipe: dict) -> bool:
    """He et al. (2016, Sec. 4.2): lr ``warmup_lr`` "until the training error is below 80 %", then the schedule.

    With ``train.warmup_until_train_error`` set (percent), the warm-up lasts until the first epoch
    that ends with a training error below it, decided from the completed epochs' history (so a
    resumed job decides exactly as an uninterrupted one).
    """
    limit = recipe.get("warmup_until_train_error")
    return limit is not None and all(100 * (1 - h["train_acc"]) >= limit for h in history)
