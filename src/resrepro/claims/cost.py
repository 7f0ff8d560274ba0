"""What deciding a claim still "not testable" (not in this run) would cost: which models x seeds x
epochs are missing from the runs comparable with the paper, and the training hours at the measured
throughput.

What is missing is found by trying, not by reading the rules: the claim's rules are run on the
comparable measurements plus hypothetical ones (the target's seeds, numbers spread around the paper's)
for the models it names, then also for the plain/residual twins and every model of the merged runs.
The first set that decides the claim is the one costed; if none does (a claim about hardware the
paper does not name, about other work, ...), no run of ours decides it and the cost says so.

Hours per model: seeds x epochs x training images / training images per second, the throughput
measured for that model (tables/measured.json, ``images_per_second``: training only, without the
validation passes and the start-up), else scaled by the catalog's MACs from the measured model of the
same family closest in MACs. GPU-hours only when that throughput was measured on a GPU (train.json).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .. import ResreproError, catalog, fmt, io, jobset, outputs, timing
from .. import paper as transcription
from ..fmt import display_name, names
from ..stats import summarise
from .audit import FORM_RULES
from .common import CONSISTENT, NO_PAPER_DATA, NOT_TESTABLE, TRAIN_IMAGES
from .evidence import Inputs, models_named

NO_RUN_DECIDES = "no further run of ours decides it"
# form types (= their rules' names) decided from a degradation study's summary (Inputs.gradients), not measured.json
STUDY_FORMS = {"gradient_flow", "degradation_is_vanishing", "identity_when_needed"}


@dataclass
class Context:
    """What the cost of a claim is computed from."""

    paper: Mapping
    claims: Sequence[Mapping]
    counts: Mapping
    comparable_measured: Mapping  # the merged measurements of the runs comparable with the paper
    runs: Sequence[Any]  # merged.Run
    target: Mapping  # {seeds, epochs, train_images}: one run that would count
    has_gradients: bool  # some run has a degradation study
    margins: Mapping | None = None  # the pre-registered margins, for the rules re-run on hypothetical numbers

    def configured(self) -> list[str]:
        """Every model the merged runs train (their configs) or measured."""
        out = [m for r in self.runs for m in list(r.spec.get("models") or []) + list(r.measured)]
        return [m for m in dict.fromkeys(out) if m in catalog.available()]


def default_target(runs: Sequence[Any]) -> dict:
    """The size of a run that counts: the first comparable run's seeds, epochs and training images."""
    for r in runs:
        if r.comparable:
            data = r.spec.get("data") or {}
            n_train = data.get("train_subset") or TRAIN_IMAGES["CIFAR-10"] - data.get("val_size", 5000)
            seeds = r.spec.get("config_seeds") or jobset.all_seeds(r.spec["seeds"])  # the config's, not the measured
            return {"seeds": len(seeds), "epochs": r.spec["train"]["epochs"], "train_images": n_train}
    raise ResreproError(
        "no run is comparable with the paper, so the size of a run that would decide a claim is not known: "
        'pass a target {"seeds", "epochs", "train_images"} (the merged rule takes it from config.yaml)'
    )


def hypothetical(model: str, n: int, x: Inputs) -> dict:
    """A measured.json entry with ``n`` seeds: each quantity spread by 0.1 around the paper's value (else 50)."""
    entry: dict = {"devices": []}
    for q in outputs.MEASURED_QUANTITIES:
        p = x.paper_value(model, q)
        entry[q] = summarise([(p[0] if p else 50.0) + 0.1 * k for k in range(n)])
    entry["test_error"] = summarise([100.0 - v for v in entry["accuracy"]["values"]])
    return entry


def decides(form: Mapping, x: Inputs) -> bool:
    """Whether the claim's rules decide it on ``x`` (an outcome other than not testable / consistent / no data)."""
    return any(c["outcome"] not in (NOT_TESTABLE, CONSISTENT, NO_PAPER_DATA) for c in FORM_RULES[form["type"]](form, x))


def _twins(models: Sequence[str]) -> list[str]:
    """The plain/residual twins among ``models``; else the catalog's two shallowest pairs."""
    pairs = catalog.twins(list(models)) or catalog.twins(catalog.available())[:2]
    return [m for pair in pairs for m in pair]


def candidate_sets(form: Mapping, ctx: Context) -> list[list[str]]:
    """The model sets to try, smallest first: the models the claim names, then with every model of the merged
    runs, then with plain/residual twins; for a claim that names no model, the twins, then with every model."""
    named = [m for m in models_named(form) if m in catalog.available()]
    configured, twins = ctx.configured(), _twins(ctx.configured())
    sets = [named, named + configured, named + configured + twins] if named else [twins, twins + configured]
    out = []
    for s in sets:
        s = list(dict.fromkeys(s))
        if s and s not in out:
            out.append(s)
    return out


def timed(form: Mapping) -> bool:
    """Whether the claim is about times (its seeds count only if timed alone on their GPU: resrepro.timing)."""
    qs = [form.get("quantity"), *(form.get("metrics") or [])]
    return any(q in timing.QUANTITIES for q in qs)


def _have(entry: Mapping, alone: bool) -> int:
    return timing.alone_count(entry) if alone and timing.timed_alone(entry) else seeds_of(entry)


def _missing(models: Sequence[str], ctx: Context, alone: bool = False) -> dict[str, int]:
    """Per model, the seeds it lacks in the comparable runs to reach the target (``alone``: seeds timed alone)."""
    need = {m: ctx.target["seeds"] - _have(ctx.comparable_measured.get(m) or {}, alone) for m in models}
    measured = [m for m in models if m in ctx.comparable_measured]
    if alone and timing.device_mismatch(measured, ctx.comparable_measured):  # times of one device: retrain them all
        need = {m: ctx.target["seeds"] for m in models}
    return {m: n for m, n in need.items() if n > 0}


def seeds_of(entry: Mapping) -> int:
    """How many seeds a model's measurement (one entry of measured.json) has."""
    return max((len(s["values"]) for s in entry.values() if isinstance(s, Mapping) and s.get("values")), default=0)


def what_decides(form: Mapping, ctx: Context) -> dict[str, int] | None:
    """The missing seeds per model that would decide the claim; None if no such set is found."""
    if form["type"] in STUDY_FORMS:  # the norms come from a degradation study, not from measured.json
        return None if ctx.has_gradients else _missing(_twins(ctx.configured()), ctx)
    text = transcription.text_values(ctx.claims)
    alone = timed(form)
    for models in candidate_sets(form, ctx):
        missing = _missing(models, ctx, alone)
        if not missing:
            continue
        x = Inputs(ctx.paper, dict(ctx.comparable_measured), ctx.counts, True, [], text)
        x.margins = ctx.margins
        for m, n in missing.items():
            x.measured[m] = hypothetical(m, n + _have(ctx.comparable_measured.get(m) or {}, alone), x)
        if decides(form, x):
            return missing
    return None


def _device_kind(run: Any, model: str) -> str:
    """cuda / cpu / unknown: the device type its train.json files record for ``model``."""
    kinds = {io.read_json(p).get("device") for p in sorted((run.results / "train" / model).glob("seed*/train.json"))}
    return kinds.pop() if len(kinds) == 1 and None not in kinds else "unknown"


def _measured_ips(run: Any, model: str) -> float | None:
    """Training images per second of ``model`` in ``run``: the mean over its seeds timed alone, else over all."""
    entry = run.measured.get(model) or {}
    values = timing.alone_values(entry, "images_per_second")
    if values:
        return float(sum(values) / len(values))
    s = entry.get("images_per_second")
    return float(s["mean"]) if isinstance(s, Mapping) and s.get("mean") else None


def _preference(r: Any, model: str) -> tuple:
    """Runs to take a throughput from, best first: comparable, then timed alone (more such seeds), then more seeds."""
    e = r.measured.get(model) or {}
    return (not r.comparable, timing.state(e) != "alone", -timing.alone_count(e), -seeds_of(e))


def throughput(model: str, ctx: Context) -> dict | None:
    """Training images per second for ``model``: measured (the run its numbers come from first), else
    scaled by MACs from the measured model of the same family closest in MACs; None if nothing is measured."""
    runs = sorted(ctx.runs, key=lambda r: _preference(r, model))
    for r in runs:
        ips = _measured_ips(r, model)
        if ips:
            dev = ", ".join((r.measured[model].get("devices") or [])) or "unknown device"
            dev += timing.device_label(r.measured[model])
            return {"images_per_second": ips, "basis": "measured", "run": r.name, "device": dev}
    spec = catalog.get(model)
    refs = [(m, r) for r in runs for m in r.measured if m in catalog.available() and _measured_ips(r, m)]
    if not refs:
        return None

    def distance(ref):
        other = catalog.get(ref[0])
        return (other.family != spec.family, abs(math.log(other.macs / spec.macs)))

    ref, r = min(refs, key=distance)
    ips = _measured_ips(r, ref) * catalog.get(ref).macs / spec.macs
    dev = ", ".join(r.measured[ref].get("devices") or []) or "unknown device"
    dev += timing.device_label(r.measured[ref])
    basis = f"scaled by MACs from {ref}"
    return {"images_per_second": ips, "basis": basis, "from_model": ref, "run": r.name, "device": dev}


def _row(model: str, seeds: int, ctx: Context) -> dict:
    t = ctx.target
    row = {"model": model, "seeds": seeds, "epochs": t["epochs"], "train_images": t["train_images"]}
    tp = throughput(model, ctx)
    row["throughput"] = tp
    row["hours"] = seeds * t["epochs"] * t["train_images"] / tp["images_per_second"] / 3600 if tp else None
    if tp:
        run = next(r for r in ctx.runs if r.name == tp["run"])
        row["device_kind"] = _device_kind(run, tp.get("from_model", model))
    return row


def to_decide(form: Mapping, ctx: Context) -> dict:
    """The runs that would decide the claim, their hours at the measured throughput, and a sentence."""
    missing = what_decides(form, ctx)
    if missing is None:
        return {"runs": [], "hours": None, "gpu_hours": None, "basis": NO_RUN_DECIDES, "text": NO_RUN_DECIDES}
    rows = [_row(m, n, ctx) for m, n in missing.items()]
    known = all(r["hours"] is not None for r in rows)
    hours = sum(r["hours"] for r in rows) if known else None
    gpu = known and all(r.get("device_kind") == "cuda" for r in rows)
    devices = sorted({r["throughput"]["device"] for r in rows if r["throughput"]})
    scaled = [
        f"{display_name(r['model'])} from {display_name(r['throughput']['from_model'])}"
        for r in rows
        if r["throughput"] and "from_model" in r["throughput"]
    ]
    basis = (
        "training images per second measured on " + ", ".join(devices) + " (validation passes and start-up not "
        "counted)" + (f"; scaled by MACs: {', '.join(scaled)}" if scaled else "")
        if known
        else "no training throughput measured for " + names([r["model"] for r in rows if r["hours"] is None])
    )
    t = ctx.target
    what = ", ".join(f"{display_name(r['model'])} x {fmt.count(r['seeds'], 'seed')}" for r in rows)
    study = "the degradation study: " if form["type"] in STUDY_FORMS else ""
    text = f"to decide it: {study}train {what}, {t['epochs']} epochs on {t['train_images']:,} images each"
    if timed(form):
        measured = [m for m in missing if m in ctx.comparable_measured]
        one = ", all on one device" if timing.device_mismatch(measured, ctx.comparable_measured) else ""
        text += f" (timed alone: train.pack: 1{one})"
    if known:
        cpu = all(r.get("device_kind") == "cpu" for r in rows)
        unit = "GPU-hours" if gpu else "hours on " + ", ".join(devices) + (" (a CPU)" if cpu else "")
        text += f": about {hours:,.1f} {unit} ({basis})"
    else:
        text += f" ({basis})"
    return {"runs": rows, "hours": hours, "gpu_hours": hours if gpu else None, "basis": basis, "text": text}
