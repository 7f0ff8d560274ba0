"""The evidence the rules see: the paper's numbers, a run's measurements, exact parameter counts, the
degradation study's gradient norms, and whether the run is comparable with the paper."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from .. import ResreproError, catalog, fmt, io, timing
from ..paper import TABLES


class Inputs:
    """The paper's numbers, our measurements and exact model counts, as the rules see them."""

    def __init__(
        self,
        paper: Mapping,
        measured: Mapping[str, Mapping],
        counts: Mapping[str, Mapping[str, int | None]] | None = None,
        comparable: bool = True,
        not_comparable: Sequence[str] = (),
        text_values: Mapping[str, Mapping[str, tuple[float, int, str]]] | None = None,
    ):
        self.paper = paper
        self.measured = measured
        self.counts = dict(counts or {})
        self.comparable = comparable
        self.not_comparable = list(not_comparable)
        self.text_values = text_values or {}
        self.gradients: Mapping | None = None  # results/<run>/degradation/summary.json, when the run has one
        self.margins: Mapping | None = None  # the pre-registered margins (resrepro.paper.load_margins)
        # model -> {seed: [right or wrong, per test image]} from eval/<model>/seed<s>/predictions.csv, if read
        self.predictions: Callable[[str], Mapping[int, Sequence[bool]]] | None = None
        self.planned: list[str] = []  # the models the run planned (spec.planned), measured or not

    # paper side -------------------------------------------------------------------------
    def table_of(self, quantity: str) -> str | None:
        for t in TABLES:
            if quantity in (self.paper.get(t, {}).get("columns") or {}):
                return t
        return None

    def paper_value(self, model: str, quantity: str) -> tuple[float, int, str] | None:
        """(value, decimals, where) printed by the paper for ``model``, or None."""
        t = self.table_of(quantity)
        if t:
            row = self.paper[t]["rows"].get(model, {})
            if quantity in row and row[quantity] is not None:
                dec = self.paper[t]["columns"][quantity]["decimals"]
                return float(row[quantity]), dec, self.paper[t]["title"].split(":")[0]
        tv = self.text_values.get(model, {}).get(quantity)
        if tv:
            return tv
        return None

    def margin(self, quantity: str, printed_value: float | None = None) -> tuple[float, str]:
        """The pre-registered margin for ``quantity`` in its units, and how it is stated ("1 pp", "10 %")."""
        m = ((self.margins or {}).get("quantities") or {}).get(quantity)
        if m is None:
            raise ResreproError(
                f"no pre-registered margin for {quantity!r}; add it to the 'margins' of reports/claims.yaml"
                " before any run"
            )
        if "pp" in m:
            return float(m["pp"]), f"{m['pp']:g} pp"
        if printed_value is None:
            raise ResreproError(f"the margin of {quantity!r} is relative; it needs the printed value")
        return float(m["relative"]) * abs(float(printed_value)), f"{m['relative']:.0%} of the printed value"

    def defined(self, quantity: str) -> bool:
        """Whether the paper defines ``quantity`` (reports/paper.yaml: definitions)."""
        return bool((self.paper.get("definitions") or {}).get(quantity))

    def factor(self, name: str) -> float:
        """A rule's pre-registered factor (reports/claims.yaml: margins.<name>.factor)."""
        m = ((self.margins or {}).get("quantities") or {}).get(name) or {}
        if "factor" not in m:
            raise ResreproError(f"no pre-registered factor {name!r}; add it to the 'margins' of reports/claims.yaml")
        return float(m["factor"])

    # our side ---------------------------------------------------------------------------
    def values(self, model: str, quantity: str) -> list[float] | None:
        m = self.measured.get(model)
        if not m:
            return None
        if quantity == "generalization_gap":
            tr, te = m.get("train_accuracy"), m.get("accuracy")
            if not tr or not te:
                return None
            return [a - b for a, b in zip(tr["values"], te["values"])]
        values = timing.alone_values(m, quantity)  # a time: the seeds timed alone only ([] if none was)
        if values and not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise ResreproError(
                f"measured.json: {model}'s {quantity} has a value that is not a finite number ({values}); "
                "rerun that model's evaluation (or its analysis stage) before the audit"
            )
        return values

    def unmeasured(self, models: Iterable[str]) -> list[str]:
        """The models of ``models`` this run planned but has no measurement of (a partial archive)."""
        return sorted(m for m in dict.fromkeys(models) if m in self.planned and m not in self.measured)

    def devices(self) -> list[str]:
        return sorted({d for m in self.measured.values() for d in m.get("devices", [])})

    def not_comparable_reason(self) -> str:
        return "run not comparable with the paper (" + "; ".join(self.not_comparable) + ")"


def comparability(spec: Mapping, paper: Mapping) -> tuple[bool, list[str]]:
    """Whether this run's measurements may be compared with the paper's numbers, and why not."""
    reasons = []
    data = spec.get("data") or {}
    kinds = (("train_subset", "training"), ("val_subset", "validation"), ("test_subset", "test"))
    subsets = [(what, data[key]) for key, what in kinds if data.get(key)]
    if subsets:
        reasons.append(
            " / ".join(w for w, _ in subsets) + " subsets of " + " / ".join(f"{n:,}" for _, n in subsets) + " images"
        )
    epochs = (spec.get("train") or {}).get("epochs")
    rows = paper.get("table2", {}).get("rows", {}).values()
    paper_epochs = [r.get("epochs_to_convergence") for r in rows if r.get("epochs_to_convergence")]
    if epochs is not None and paper_epochs and epochs < max(paper_epochs):
        reasons.append(f"{fmt.count(epochs, 'epoch')}, the paper's models converge in up to {max(paper_epochs)}")
    if spec.get("stamp"):
        reasons.append(f"stamped \u201c{spec['stamp']}\u201d")
    return not reasons, reasons


@lru_cache(maxsize=None)  # builds the ImageNet model: once per process
def _imagenet_count(name: str) -> int | None:
    """Parameters of torchvision's 1000-class ImageNet model of the same name, for the catalog's
    ImageNet-style ResNets (He et al. 2016, Table 1); None for every other model or without torchvision."""
    if name not in catalog.available() or catalog.get(name).family != "resnet":
        return None
    try:
        import torchvision
    except ImportError:
        return None
    from .. import models as registry

    ctor = getattr(torchvision.models, name, None)
    return None if ctor is None else registry.count_parameters(ctor(weights=None, num_classes=1000))


def parameter_counts(models: Sequence[str], models_json: Sequence[Mapping] = ()) -> dict:
    """Exact parameter counts: our 10-class models (models.json, else built) and torchvision's ImageNet ones."""
    known = {m["model"]: m for m in models_json}
    out = {}
    for name in models:
        entry = {"cifar10": None, "imagenet": None, "flops_per_image": None}
        if name in known:
            entry["cifar10"] = int(known[name]["params"])
            entry["flops_per_image"] = known[name].get("flops_per_image")
        elif name in catalog.available():
            from .. import models as registry

            entry["cifar10"] = registry.count_parameters(registry.create(name))
        entry["imagenet"] = _imagenet_count(name)
        out[name] = entry
    return out


def models_named(form: Mapping) -> list[str]:
    """The models a claim's form names."""
    out = []
    for k in ("model", "models", "better", "than", "order", "more_than"):
        v = form.get(k)
        out += [v] if isinstance(v, str) else list(v or [])
    return out


def read_run(results: str | Path, forms: Iterable[Mapping]) -> tuple[dict, dict, dict | None]:
    """A run's measurements (tables/measured.json), the exact parameter counts of every model it
    measured or ``forms`` name, and its degradation study (degradation/summary.json) if it has one."""
    results = Path(results)
    measured = io.read_json(results / "tables" / "measured.json")
    models_json = io.read_json(results / "models.json")
    names = sorted({m for f in forms for m in models_named(f)} | set(measured))
    counts = parameter_counts(names, models_json)
    study = results / "degradation" / "summary.json"
    return measured, counts, io.read_json(study) if study.exists() else None


def predictions_reader(results: str | Path) -> Callable[[str], dict[int, list[bool]]]:
    """A reader of each model's per-image correctness, per seed, from eval/<model>/seed<s>/predictions.csv
    (columns index, label, prediction), read once per model."""
    import csv

    results = Path(results)
    cache: dict[str, dict[int, list[bool]]] = {}

    def read(model: str) -> dict[int, list[bool]]:
        if model not in cache:
            out = {}
            for f in sorted((results / "eval" / model).glob("seed*/predictions.csv")):
                with open(f, encoding="utf-8", newline="") as fh:
                    rows = sorted(csv.DictReader(fh), key=lambda r: int(r["index"]))
                out[int(f.parent.name[4:])] = [r["label"] == r["prediction"] for r in rows]
            cache[model] = out
        return cache[model]

    return read
