"""Checkpoints that cannot lie, and weights files whose bytes repeat.

A training checkpoint is resumed only if it was written for exactly this training: the same model,
seed, recipe and data (the prepared data's sha256 from the data stage's manifest, the split and the
subsets): its ``key`` is the digest of that identity, and the identity itself is stored beside it so
that a mismatch can say what changed. A checkpoint that does not match, cannot be read (truncated,
not a zip), is refused unread (anything but tensors and plain data: ``torch.load(weights_only=True)``)
or has the wrong structure is never resumed: it is moved aside as ``<name>.rejected-<reason>``
(never deleted), with a message that says why, and training starts again from epoch 1.

Every file here is written atomically (:func:`resrepro.io.atomic_path`: a ``.part`` beside it,
fsynced, renamed, the folder fsynced), so a kill during a write leaves the previous checkpoint
intact; a ``.part`` left by such a kill is removed (and said) when the job runs again. ``torch.save``
goes to an open file, so the zip's records are always named ``archive/...`` rather than after the
temporary file: two identical trainings give byte-identical ``weights.pt``.
"""

from __future__ import annotations

import copy
import os
import pickle
import sys
from pathlib import Path

from . import ResreproError, io
from .config import digest, what_trains

# the data settings that decide the training split (config.yaml ``data``); the source and checksum
# decide the prepared data, which the identity holds by its sha256
SPLIT_KEYS = ("val_size", "split_seed", "train_subset", "val_subset", "test_subset")  # the test curve's images too
REQUIRED = {"key": str, "epoch": int, "model": dict, "optimizer": dict, "history": list, "best": dict}


def data_identity(data_cfg: dict, manifest: dict) -> dict:
    """What decides the training data: the prepared data's sha256 (the data manifest), the split, the subsets."""
    try:
        prepared = manifest["prepared"]["sha256"]
    except (KeyError, TypeError):
        raise ResreproError(
            "the data manifest has no prepared.sha256; fix: run `resrepro data` again to rebuild the cache"
        ) from None
    return {**{k: data_cfg.get(k) for k in SPLIT_KEYS}, "prepared_sha256": prepared}


def identity(model: str, seed: int, recipe: dict, data, engine: dict | None = None) -> dict:
    """Everything that decides a training: its digest is the checkpoint's key. ``engine``: how it runs, resolved
    (the device type, bf16, torch.compile, the torch version), so that a CUDA bf16 checkpoint never resumes on
    the CPU in fp32 (the recipe says only "auto")."""
    recipe = what_trains(recipe)  # train.threads / train.pack say how it runs, not what (a resume may change them)
    return {"model": model, "seed": seed, "recipe": recipe, "data": data, "engine": engine or {}}


def save(path: str | os.PathLike, obj) -> None:
    """``torch.save`` atomically, through a file object: the same object always gives the same bytes."""
    import torch

    with io.atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def load_weights(path: str | os.PathLike, device, model=None):
    """A state dict saved by :func:`save` (loaded into ``model`` if given), or an error naming the file.

    Never unpickles anything but tensors and plain data (``weights_only=True``).
    """
    import torch

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise ResreproError(f"the weights file {path} does not exist; fix: run the train job first") from None
    except Exception as e:  # noqa: BLE001 - any failure to read is the same fault: the file is unusable
        raise ResreproError(f"cannot load the weights {path}: {_why_unreadable(e)}; fix: {_RETRAIN}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ResreproError(f"{path} is not a weights file (a state dict of tensors); fix: {_RETRAIN}")
    if model is not None:
        try:
            model.load_state_dict(state)
        except Exception as e:  # noqa: BLE001 - weights of another model or a damaged state
            raise ResreproError(
                f"the weights {path} do not fit {type(model).__name__} ({_first_line(e)}); fix: {_RETRAIN}"
            ) from None
    return state


_RETRAIN = "delete it and rerun the train job (snakemake retrains it)"


def clear_stale_parts(paths) -> None:
    """Remove the ``.part`` files a killed write left beside each of ``paths``, saying so."""
    for path in paths:  # a train job alone writes these: every .part beside them is stale
        io.remove_stale_parts(path, any_writer=True)


def resume(path: Path, ident: dict, weights_of, optimizer, device, label: str) -> tuple[int, list, dict, list]:
    """(start epoch, history, best, gradients) from the checkpoint of this very training, else a fresh start.

    Any other checkpoint is moved aside with the reason, and training starts from epoch 1. The model and
    optimizer are untouched unless the whole checkpoint loads.
    """
    fresh = (0, [], {"val_acc": -1.0, "epoch": 0, "state": None}, [])
    if not path.exists():
        return fresh
    import torch

    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever makes it unreadable, it is not resumed
        unsafe = isinstance(e, pickle.UnpicklingError) and "weights only" in str(e).lower()
        return _reject(path, "unsafe" if unsafe else "unreadable", _why_unreadable(e), fresh)
    if isinstance(state, dict) and isinstance(state.get("key"), str) and state["key"] != digest(ident):
        why = "it belongs to another configuration: " + _differences(state.get("identity"), ident)
        return _reject(path, "mismatch", why, fresh)
    problem = _structure_problem(state)
    if problem:
        return _reject(path, "malformed", problem, fresh)
    saved = copy.deepcopy(weights_of.state_dict()), copy.deepcopy(optimizer.state_dict())
    try:
        weights_of.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except Exception as e:  # noqa: BLE001 - a state that does not fit this model is malformed
        weights_of.load_state_dict(saved[0])
        optimizer.load_state_dict(saved[1])
        return _reject(path, "malformed", f"its state does not fit {ident['model']} ({_first_line(e)})", fresh)
    _say(f"resuming {label} after epoch {state['epoch']} (checkpoint {path})")
    return state["epoch"], state["history"], state["best"], state.get("gradients", [])


def checkpoint_state(ident: dict, epoch: int, weights_of, optimizer, history, best, gradients) -> dict:
    """What :func:`resume` needs, with the identity it was written for."""
    return {
        "key": digest(ident),
        "identity": ident,
        "epoch": epoch,
        "model": weights_of.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": history,
        "best": best,
        "gradients": gradients,
    }


# -------------------------------------------------------------------------------------------------
# helpers
# -------------------------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"[resrepro] {message}", file=sys.stderr)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0][:200]}" if text else type(e).__name__


def _why_unreadable(e: BaseException) -> str:
    if isinstance(e, pickle.UnpicklingError) and "weights only" in str(e).lower():
        return (
            "it holds objects other than tensors and plain data, so it was refused unread "
            "(torch.load weights_only=True; loading it could run code)"
        )
    return f"it cannot be read: truncated, damaged or not a PyTorch file ({_first_line(e)})"


def _structure_problem(state) -> str | None:
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a training checkpoint"
    for name, kind in REQUIRED.items():
        if not isinstance(state.get(name), kind):
            return f"its {name!r} is missing or not a {kind.__name__}: not a training checkpoint"
    best, epoch = state["best"], state["epoch"]
    if epoch < 1 or len(state["history"]) != epoch or not {"val_acc", "epoch", "state"} <= set(best):
        return f"its epoch ({epoch}), history ({len(state['history'])} rows) and best model do not agree"
    return None


def _differences(old, new: dict) -> str:
    """What changed between the identity a checkpoint was written for and this training's."""
    if not isinstance(old, dict):
        return "it records no model, seed, recipe and data (an older or foreign checkpoint)"
    out = [f"{k} {old.get(k)!r}, now {new[k]!r}" for k in ("model", "seed") if old.get(k) != new[k]]
    old_recipe, recipe = old.get("recipe") or {}, new["recipe"]
    changed = sorted(k for k in set(old_recipe) | set(recipe) if old_recipe.get(k) != recipe.get(k))
    out += [f"train.{k} {old_recipe.get(k)!r}, now {recipe.get(k)!r}" for k in changed[:5]]
    old_data, data = old.get("data"), new["data"]
    if isinstance(old_data, dict) and isinstance(data, dict):
        if old_data.get("prepared_sha256") != data.get("prepared_sha256"):
            out.append(
                f"the prepared data (sha256 {str(old_data.get('prepared_sha256'))[:12]}..., "
                f"now {str(data.get('prepared_sha256'))[:12]}...: data.source or the cache changed)"
            )
        split = [k for k in SPLIT_KEYS if old_data.get(k) != data.get(k)]
        out += [f"data.{k} {old_data.get(k)!r}, now {data.get(k)!r}" for k in split]
    elif old_data != data:
        out.append("the data")
    return "; ".join(out) or "its key does not match its recorded identity"


def _reject(path: Path, reason: str, why: str, fresh):
    """Move ``path`` aside as ``<name>.rejected-<reason>`` (never deleted) and say why; return ``fresh``."""
    dest, n = path.with_name(f"{path.name}.rejected-{reason}"), 1
    while dest.exists():
        n += 1
        dest = path.with_name(f"{path.name}.rejected-{reason}-{n}")
    try:
        os.replace(path, dest)
    except OSError as e:
        raise ResreproError(
            f"the checkpoint {path} cannot be resumed ({why}) and cannot be moved aside ({e}); "
            f"fix: move or delete it by hand, then rerun"
        ) from None
    _say(f"checkpoint {path} is not resumed: {why}; moved aside to {dest.name}; training starts again from epoch 1")
    return fresh
