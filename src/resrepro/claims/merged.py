"""One audit across runs (``results/merged/claims.json``): every claim that any of the runs (after
``make full``: ``paper`` and ``degradation``) can decide is decided, and each claim records the runs
its evidence came from.

A model measured in several runs takes its numbers from the run comparable with the paper, else from
the one with more seeds (then the first named); the gradient norms come from a run with a degradation
study. Comparability stays per run: :func:`audit` is run on the comparable runs together, then (if some
run is not comparable) on all runs under a spec that names the runs not comparable and why; a claim
takes the first of the two that decides it, so a claim decided only from a run that is not comparable
stays "not testable" and says why. Claims still not testable because no run of ours has what they
need get the cost of the runs that would decide them (:mod:`.cost`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .. import ResreproError, io
from .. import paper as transcription
from . import cost
from .audit import audit, headline, load_claims, load_margins
from .common import NOT_IN_RUN, NOT_TESTABLE, OUT_OF_SCOPE, UNDERSPECIFIED, VERDICTS
from .cost import seeds_of
from .evidence import comparability, models_named, parameter_counts, predictions_reader

MERGED_RUN = "merged"  # results/merged/: no run may have this name (the config schema refuses it)
COMPARABLE_VIEW = "comparable runs"
ALL_VIEW = "all runs"


@dataclass
class Run:
    """One run's result files, as the merged audit reads them."""

    name: str
    results: Path
    spec: Mapping
    measured: dict
    models_json: list
    gradients: dict | None
    comparable: bool = True
    not_comparable: list[str] = field(default_factory=list)

    def seeds(self, model: str) -> int:
        return seeds_of(self.measured.get(model) or {})


def load_run(results: str | Path, paper: Mapping, spec: Mapping | None = None) -> Run:
    """A run's measurements, model counts, degradation study and configuration (``spec``, else the
    configuration recorded in its provenance.json)."""
    results = Path(results)
    measured_path = results / "tables" / "measured.json"
    if not measured_path.exists():
        raise ResreproError(
            f"{measured_path} not found: the run in {results} has not finished its analysis stage; "
            "run it first (make full runs config.yaml and presets/degradation.yaml)"
        )
    if spec is None:
        prov = results / "provenance.json"
        if not prov.exists():
            raise ResreproError(f"{prov} not found: the merged audit needs each run's configuration (or pass specs)")
        spec = io.read_json(prov)["config"]
    study = results / "degradation" / "summary.json"
    models_path = results / "models.json"
    ok, reasons = comparability(spec, paper)
    return Run(
        name=spec.get("run") or results.name,
        results=results,
        spec=spec,
        measured=io.read_json(measured_path),
        models_json=io.read_json(models_path) if models_path.exists() else [],
        gradients=io.read_json(study) if study.exists() else None,
        comparable=ok,
        not_comparable=reasons,
    )


def pick(runs: Sequence[Run]) -> tuple[dict, dict]:
    """Per model, the measurement of the run comparable with the paper, else the one with more seeds
    (then the first named); and the run each model's numbers come from."""
    measured, sources = {}, {}
    for model in dict.fromkeys(m for r in runs for m in r.measured):
        having = [(i, r) for i, r in enumerate(runs) if model in r.measured]
        _, best = max(having, key=lambda ir: (ir[1].comparable, ir[1].seeds(model), -ir[0]))
        measured[model], sources[model] = best.measured[model], best.name
    return measured, sources


def gradient_run(runs: Sequence[Run]) -> Run | None:
    """The run whose degradation study gives the gradient norms: a comparable one first, then the first named."""
    studies = [r for r in runs if r.gradients]
    return sorted(studies, key=lambda r: not r.comparable)[0] if studies else None


def views(runs: Sequence[Run]) -> list[tuple[str, list[Run], dict]]:
    """The audits to run: the comparable runs together, under a spec comparable with the paper; then, if
    some run is not comparable, every run together, under a spec that names those runs and why."""
    out = [(COMPARABLE_VIEW, [r for r in runs if r.comparable], {"run": MERGED_RUN})]
    others = [r for r in runs if not r.comparable]
    if others:
        why = "; ".join(f"{r.name}: {', '.join(r.not_comparable)}" for r in others)
        out.append((ALL_VIEW, list(runs), {"run": MERGED_RUN, "stamp": f"{ALL_VIEW}, not all comparable ({why})"}))
    return out


def _has_measurement(entry: Mapping) -> bool:
    """Whether a measurement check of the claim saw numbers of ours (not merely an absent model)."""
    return any(
        ch["kind"] == "measurement" and any(k in ch["evidence"] for k in ("ours", "tests", "ratios"))
        for ch in entry["checks"]
    )


def choose(candidates: Sequence[tuple[str, Mapping]]) -> tuple[str, Mapping]:
    """The first audit that decides the claim; else the first whose checks saw numbers of ours; else the first."""
    for view, entry in candidates:
        if entry["verdict"] != NOT_TESTABLE:
            return view, entry
    return next(((v, e) for v, e in candidates if _has_measurement(e)), candidates[0])


def untestable_of(entry: Mapping) -> str | None:
    """Why a claim is not testable: the gravest reason among its checks (underspecified, out of scope,
    not in this run); None for a decided claim."""
    if entry["verdict"] != NOT_TESTABLE:
        return None
    if entry.get("untestable"):
        return entry["untestable"]
    why = {c.get("untestable") or NOT_IN_RUN for c in entry["checks"] if c["outcome"] == NOT_TESTABLE}
    return next((u for u in (UNDERSPECIFIED, OUT_OF_SCOPE) if u in why), NOT_IN_RUN)


def used_models(entry: Mapping, measured: Mapping) -> list[str]:
    """The measured models the claim's checks used: those its form names and those its tests compared."""
    used = set(models_named(entry["form"]))
    for ch in entry["checks"]:
        ev = ch["evidence"]
        used |= {t[k] for t in ev.get("tests") or [] for k in ("better", "than")}
        used |= set(ev.get("ratios") or {})
    return sorted(m for m in used if m in measured)


def provenance(entry: Mapping, view: str, sources: Mapping, grad: Run | None) -> dict:
    """The runs the claim's evidence came from: each measured model's run, and the gradient norms' run."""
    models = {m: sources[m] for m in used_models(entry, sources)}
    uses_gradients = any(ch["rule"] in cost.STUDY_FORMS and ch["kind"] == "measurement" for ch in entry["checks"])
    gradients = grad.name if grad and uses_gradients else None
    return {
        "audited_in": view,
        "evidence_from": {"models": models, "gradients": gradients},
        "runs": sorted(set(models.values()) | ({gradients} if gradients else set())),
    }


def _run_summary(r: Run) -> dict:
    return {
        "run": r.name,
        "results": str(r.results),
        "comparable": r.comparable,
        "not_comparable_because": r.not_comparable,
        "models": {m: r.seeds(m) for m in r.measured},
        "degradation_study": r.gradients is not None,
    }


def _predictions(runs: Sequence[Run], sources: Mapping[str, str]):
    """Per-image correctness of each model from the run its numbers come from."""
    readers = {r.name: predictions_reader(r.results) for r in runs}
    return lambda model: readers[sources[model]](model) if model in sources else {}


def merged_audit(
    claims: Sequence[Mapping], paper: Mapping, runs: Sequence[Run], target: Mapping, margins: Mapping
) -> dict:
    """The merged audit of already-loaded runs (see the module's docstring); ``margins``: the pre-registered
    margins (resrepro.paper.load_margins)."""
    names = [r.name for r in runs]
    if not runs or len(set(names)) != len(names) or MERGED_RUN in names:
        raise ResreproError(f"the merged audit needs runs with distinct names other than {MERGED_RUN!r}; got {names}")
    forms = [c["form"] for c in transcription.table_cell_claims(paper) + list(claims)]
    every = sorted({m for f in forms for m in models_named(f)} | {m for r in runs for m in r.measured})
    counts = parameter_counts(every, [m for r in runs for m in r.models_json])
    grad = gradient_run(runs)
    audits = []
    for view, members, spec in views(runs):
        measured, sources = pick(members)
        # a view sees only its own runs' degradation study: a non-comparable study never decides the comparable view
        view_grad = gradient_run(members)
        gradients = view_grad.gradients if view_grad else None
        a = audit(claims, paper, measured, counts, spec, gradients, margins, _predictions(members, sources))
        audits.append((view, a, sources))
    comparable_measured = pick([r for r in runs if r.comparable])[0]
    ctx = cost.Context(paper, claims, counts, comparable_measured, runs, dict(target), grad is not None, margins)
    entries = []
    for i, base in enumerate(audits[0][1]["claims"]):
        view, entry = choose([(v, a["claims"][i]) for v, a, _ in audits])
        assert entry["id"] == base["id"], (entry["id"], base["id"])
        sources = next(s for v, _, s in audits if v == view)
        entry = {**entry, **provenance(entry, view, sources, grad)}
        entry["untestable"] = untestable_of(entry)
        if entry["untestable"] == NOT_IN_RUN:
            entry["to_decide"] = cost.to_decide(entry["form"], ctx)
            entry["reason"] += "; " + entry["to_decide"]["text"]
        entries.append(entry)
    all_measured, all_sources = pick(runs)
    return {
        "run": MERGED_RUN,
        "runs": [_run_summary(r) for r in runs],
        "models": {m: {"run": all_sources[m], "seeds": seeds_of(all_measured[m])} for m in all_measured},
        "gradients_from": grad.name if grad else None,
        "comparable": any(r.comparable for r in runs),
        "not_comparable_because": {r.name: r.not_comparable for r in runs if not r.comparable},
        "target": dict(target),
        "verdicts": {v: sum(e["verdict"] == v for e in entries) for v in VERDICTS},
        "rules": audits[0][1]["rules"],
        "headline": headline(entries),
        "multiplicity": audits[0][1]["multiplicity"],
        "preregistered": audits[0][1]["preregistered"],
        "choices": audits[0][1]["choices"],
        "claims": entries,
    }


def run_merged_audit(
    results_dirs: Sequence[str | Path],
    paper_path: str | Path,
    claims_path: str | Path,
    specs: Sequence[Mapping] | None = None,
    target: Mapping | None = None,
) -> dict:
    """The merged audit of the runs in ``results_dirs``, from their result files. ``specs``: each run's
    configuration (default: its provenance.json). ``target``: the size of a run that would decide a
    claim ({seeds, epochs, train_images}; default: the first comparable run's)."""
    paper = transcription.load_paper(paper_path)
    claims = load_claims(claims_path)
    if specs is not None and len(specs) != len(results_dirs):
        raise ResreproError(f"{len(results_dirs)} results folders but {len(specs)} specs; give one spec per run")
    runs = [load_run(d, paper, specs[i] if specs else None) for i, d in enumerate(results_dirs)]
    return merged_audit(claims, paper, runs, target or cost.default_target(runs), load_margins(claims_path))
