"""The inputs of the run figures, read and checked: training histories and the rows of the cost figures.

Every check names the file or model at fault and the stage that makes it, so that a bad input stops
the figures stage with a message, not a traceback from inside matplotlib.
"""

from __future__ import annotations

import functools
import math
import os
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import ResreproError, catalog, outputs, timing
from ..io import read_csv, read_json
from ..jobset import seeds_for

_NEEDED_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")

_HISTORY_RE = re.compile(r"(?:^|/)train/(?P<model>[^/]+)/seed(?P<seed>\d+)/history\.csv$")


# --------------------------------------------------------------------------------------------
# training histories


def _source(df: pd.DataFrame, model: str, i: int) -> str:
    src = df.attrs.get("source") if hasattr(df, "attrs") else None
    return str(src) if src else f"history #{i + 1} of model {model!r}"


def check_history(df, model: str, i: int) -> pd.DataFrame:
    """The columns the curves need from history ``i`` of ``model``, as numbers; refuses a bad history."""
    if not isinstance(df, pd.DataFrame):
        raise ResreproError(
            f"training history #{i + 1} of model {model!r} is a {type(df).__name__}, not a pandas "
            "DataFrame; pass the parsed history.csv (see figures.load_histories)"
        )
    missing = [c for c in _NEEDED_COLUMNS if c not in df.columns]
    if missing:
        raise ResreproError(
            f"{_source(df, model, i)} lacks column(s) {', '.join(missing)}; a training history "
            f"needs the columns {','.join(outputs.HISTORY_COLUMNS)} (re-run the train stage)"
        )
    if len(df) == 0:
        raise ResreproError(
            f"{_source(df, model, i)} has no epochs; re-run or finish training for {model!r} before drawing figures"
        )
    out = df[list(_NEEDED_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    if out["epoch"].isna().any():
        raise ResreproError(
            f"{_source(df, model, i)} has a non-numeric or empty 'epoch' value; fix or regenerate the history file"
        )
    return out


def check_histories(histories: Mapping[str, Sequence[pd.DataFrame]]) -> dict[str, list[pd.DataFrame]]:
    """Each model's histories, checked (:func:`check_history`); refuses an empty mapping and a model without any."""
    if not histories:
        raise ResreproError("no training histories to plot; run the train stage first")
    checked = {}
    for model in histories:
        dfs = list(histories[model])
        if not dfs:
            raise ResreproError(f"model {model!r} has no training histories; train it or drop it")
        checked[model] = [check_history(d, model, i) for i, d in enumerate(dfs)]
    return checked


def aggregate(dfs: Sequence[pd.DataFrame], column: str) -> pd.DataFrame | None:
    """Mean, min and max of ``column`` over seeds, per epoch; None if the column is all NaN."""
    long = pd.concat([d[["epoch", column]] for d in dfs], ignore_index=True).dropna()
    if long.empty:
        return None
    g = long.groupby("epoch", sort=True)[column]
    return pd.DataFrame({"mean": g.mean(), "min": g.min(), "max": g.max(), "n": g.count()})


def _read_history(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ResreproError(f"training history {str(path)!r} does not exist; run the train stage")
    return read_csv(path)


def load_histories(paths: Iterable[str | os.PathLike]) -> dict[str, list[pd.DataFrame]]:
    """Read ``.../train/<model>/seed<k>/history.csv`` files into ``{model: [df per seed]}``.

    Models are in natural order (resnet20 before resnet110), seeds in numeric order. Each frame
    carries its path in ``df.attrs["source"]`` and its seed in ``df.attrs["seed"]``.
    """
    found: dict[str, list[tuple[int, pd.DataFrame]]] = {}
    for p in paths:
        path = Path(p)
        m = _HISTORY_RE.search(path.as_posix())
        if not m:
            raise ResreproError(
                f"cannot tell model and seed from history path {str(path)!r}; expected "
                ".../train/<model>/seed<k>/history.csv"
            )
        df = _read_history(path)
        model, seed = m["model"], int(m["seed"])
        df.attrs["source"] = str(path)
        df.attrs["seed"] = seed
        seeds = found.setdefault(model, [])
        if any(s == seed for s, _ in seeds):
            raise ResreproError(
                f"two history files for model {model!r} seed {seed} (last: {str(path)!r}); pass each run once"
            )
        seeds.append((seed, df))
    return {
        model: [df for _, df in sorted(found[model], key=lambda t: t[0])]
        for model in sorted(found, key=catalog.natural_key)
    }


def check_models(data: Mapping, what: str) -> list[str]:
    """The models of a per-class figure's input (``what``: its name in the message); refuses none."""
    if not data:
        raise ResreproError(f"no {what} to plot; run the evaluation stage first")
    return list(data)


# --------------------------------------------------------------------------------------------
# rows of the cost figures


def number(row: Mapping, key: str, *, required: bool, figure: str) -> float | None:
    """``row[key]`` as a float; None when missing or NaN and not ``required`` (``figure``: for the message)."""
    v = row.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        if required:
            raise ResreproError(
                f"{figure} row for model {row.get('model')!r} lacks {key!r}; the analysis "
                "stage must provide it (re-run it)"
            )
        return None
    try:
        f = float(v)
    except (TypeError, ValueError) as e:
        raise ResreproError(
            f"{figure} row for model {row.get('model')!r}: {key}={v!r} is not a number; fix the analysis output"
        ) from e
    if math.isnan(f):
        if required:
            raise ResreproError(f"{figure} row for model {row.get('model')!r} has {key}=NaN; re-run the analysis stage")
        return None
    return f


def error_points(rows: Sequence[Mapping], x_key: str, paper_x_key: str | None) -> list[dict]:
    """The checked points of an error-vs-cost figure: model, x (> 0), err, std, paper_x, paper_err."""
    if not rows:
        raise ResreproError(f"no rows for the error-vs-{x_key} figure; run the analysis stage")
    figure, pts = f"error_vs_{x_key}", []
    for row in rows:
        if not row.get("model"):
            raise ResreproError(f"error_vs_{x_key} row {dict(row)!r} has no 'model'; fix the analysis output")
        xv = number(row, x_key, required=True, figure=figure)
        if xv <= 0:
            raise ResreproError(
                f"model {row['model']!r} has {x_key}={xv:g}; a log axis needs a positive "
                "value (fix the analysis output)"
            )
        pp = number(row, paper_x_key, required=False, figure=figure) if paper_x_key else None
        pts.append(
            {
                "model": str(row["model"]),
                "x": xv,
                "err": number(row, "test_error_mean", required=True, figure=figure),
                "std": number(row, "test_error_std", required=False, figure=figure),
                "paper_x": pp if pp is not None and pp > 0 else None,
                "paper_err": number(row, "paper_test_error", required=False, figure=figure),
            }
        )
    return pts


def time_points(rows: Sequence[Mapping]) -> list[dict]:
    """The checked points of the time-vs-cost figure: model, x (MACs), y (seconds), std, paper, device."""
    if not rows:
        raise ResreproError("no rows for the time-vs-FLOPs figure; run the analysis stage")
    figure, pts = "time_vs_flops", []
    for row in rows:
        macs = number(row, "macs", required=True, figure=figure)
        sec = number(row, "seconds_mean", required=True, figure=figure)
        if macs <= 0 or sec <= 0:
            raise ResreproError(f"model {row.get('model')!r}: macs and seconds must be positive for a log-log plot")
        pts.append(
            {
                "model": str(row.get("model")),
                "x": macs,
                "y": sec,
                "std": number(row, "seconds_std", required=False, figure=figure),
                "paper": number(row, "paper_seconds", required=False, figure=figure),
                "device": row.get("device") or "",
            }
        )
    return pts


# --------------------------------------------------------------------------------------------
# the result files of a run


class RunResults:
    """What the run figures draw, from the result files of a run (results/<run>/), each file read once.

    ``paper``: reports/paper.yaml; ``text_values``: numbers the paper prints only in its text
    (resrepro.paper.text_values); ``spec``: ``models`` and ``seeds`` of the run.
    """

    def __init__(self, results: str | os.PathLike, paper: Mapping, text_values: Mapping, spec: Mapping):
        self.results = Path(results)
        self.paper, self.text_values = paper, text_values
        self.models, self.seeds = list(spec["models"]), spec["seeds"]  # one list, or per model (resrepro.jobset)

    @functools.cached_property
    def classes(self) -> list[str]:
        from ..data import CLASSES

        return list(CLASSES)

    @functools.cached_property
    def measured(self) -> dict:
        return read_json(self.results / "tables" / "measured.json")

    @functools.cached_property
    def metrics(self) -> dict[str, list[dict]]:
        return {
            m: [read_json(self.results / "eval" / m / f"seed{s}" / "metrics.json") for s in seeds_for(self.seeds, m)]
            for m in self.models
        }

    def histories(self) -> dict[str, list[pd.DataFrame]]:
        paths = [
            self.results / "train" / m / f"seed{s}" / "history.csv"
            for m in self.models
            for s in seeds_for(self.seeds, m)
        ]
        found = load_histories([p for p in paths if p.exists()])  # the run's jobs only (not another run's leftovers)
        return {m: found[m] for m in self.models if m in found}

    def paper_error(self, model: str) -> float | None:
        """The paper's test error: Table 3, else the number its text prints."""
        v = self.paper["table3"]["rows"].get(model, {}).get("test_error")
        return v if v is not None else (self.text_values.get(model, {}).get("test_error") or (None,))[0]

    def error_rows(self) -> list[dict]:
        """The rows of error_vs_params and error_vs_flops (MACs are half the FLOPs)."""
        rows = []
        for m in self.models:
            v = self.measured[m]
            pp = self.paper["table3"]["rows"].get(m, {}).get("params_millions")
            rows.append(
                {
                    "model": m,
                    "params": v["params"],
                    "macs": v["flops_per_image"] / 2,
                    "test_error_mean": v["test_error"]["mean"],
                    "test_error_std": v["test_error"]["std"],
                    "paper_params": pp * 1e6 if pp else None,
                    "paper_test_error": self.paper_error(m),
                }
            )
        return rows

    def time_rows(self) -> list[dict]:
        """The rows of time_vs_flops: our seconds per epoch scaled to the paper's epoch of the full training set
        (time per image x TRAIN_SIZE, from each job's train.json), the paper's Table 2."""
        from ..data import TRAIN_SIZE

        t2 = self.paper["table2"]["rows"]
        rows = []
        for m in self.models:
            images = {
                read_json(self.results / "train" / m / f"seed{s}" / "train.json")["train_images"]
                for s in seeds_for(self.seeds, m)
            }
            if len(images) != 1:
                raise ResreproError(f"{m}: its seeds trained on different numbers of images ({sorted(images)})")
            scale = TRAIN_SIZE / images.pop()
            sec = self.measured[m]["seconds_per_epoch"]
            rows.append(
                {
                    "model": m,
                    "macs": self.measured[m]["flops_per_image"] / 2,
                    "seconds_mean": sec["mean"] * scale,
                    "seconds_std": None if sec["std"] is None else sec["std"] * scale,
                    "epoch_images": round(TRAIN_SIZE / scale),
                    "device": ", ".join(self.measured[m].get("devices", [])) + timing.device_label(self.measured[m]),
                    "paper_seconds": t2.get(m, {}).get("seconds_per_epoch"),
                }
            )
        return rows

    def f1(self) -> dict[str, list]:
        """Per model: the per-class test F1 of each seed."""
        return {m: [x["f1_per_class"] for x in self.metrics[m]] for m in self.models}

    def confusion(self) -> dict[str, np.ndarray]:
        """Per model: the test confusion matrix summed over seeds."""
        return {m: np.sum([np.asarray(x["confusion_matrix"]) for x in self.metrics[m]], axis=0) for m in self.models}
