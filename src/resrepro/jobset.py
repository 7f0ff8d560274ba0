"""Which (model, seed) jobs a run holds: one seed list for every model, or one per model.

A run trained in full has the config's ``seeds`` for every model. A run rendered from the shipped archive
alone (``archive.only: true``, :mod:`resrepro.archive`) has, per model, the seeds that were measured; a model
without any is absent. Every stage that loops over a run's jobs asks :func:`seeds_for` which seeds a model has,
so the two cases read the same files the same way. Torch- and numpy-free (the workflow imports it at parse time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Seeds = Sequence[int] | Mapping[str, Sequence[int]]


def seeds_for(seeds: Seeds, model: str) -> list[int]:
    """The seeds of ``model``: ``seeds`` itself when it is one list for all, else its entry (none if absent)."""
    if isinstance(seeds, Mapping):
        return [int(s) for s in seeds.get(model, ())]
    return [int(s) for s in seeds]


def pairs(models: Sequence[str], seeds: Seeds) -> list[tuple[str, int]]:
    """Every (model, seed) job, in config order (models, then seeds)."""
    return [(m, s) for m in models for s in seeds_for(seeds, m)]


def all_seeds(seeds: Seeds) -> list[int]:
    """Every seed any model has, sorted."""
    if isinstance(seeds, Mapping):
        return sorted({int(s) for v in seeds.values() for s in v})
    return [int(s) for s in seeds]


def measured_line(spec: Mapping) -> str | None:
    """The report's "6 of 15 trainings measured (archive/paper): ..." for a run that used the shipped archive
    (``spec``: the report spec: models, seeds, planned, archived, archive); None for a run trained in full here."""
    planned = [tuple(j) for j in spec.get("planned") or ()]
    archived = [tuple(j) for j in spec.get("archived") or ()]
    have = pairs(spec["models"], spec["seeds"])
    if not planned or (not archived and len(have) == len(planned)):
        return None
    trained = [j for j in have if j not in set(archived)]
    where = spec.get("archive", "archive")
    where = f"{where}" if not trained else f"{len(archived)} restored from {where}, {len(trained)} trained here"
    return describe(have, planned, where)


def _seed_list(seeds: Sequence[int]) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def by_model(jobs: Sequence[tuple[str, int]]) -> dict[str, list[int]]:
    """{model: [seeds]} in the order the jobs come."""
    out: dict[str, list[int]] = {}
    for m, s in jobs:
        out.setdefault(m, []).append(int(s))
    return out


def describe(measured: Sequence[tuple[str, int]], planned: Sequence[tuple[str, int]], where: str) -> str:
    """ "6 of 15 trainings measured (archive/paper): resnet18 seeds 0, 1, 2; ...; not measured: vgg16 seed 0"."""
    done = set(map(tuple, measured))
    have = "; ".join(f"{m} {_seed_list(s)}" for m, s in by_model([j for j in planned if j in done]).items())
    missing = by_model([j for j in planned if j not in done])
    text = f"{sum(1 for j in planned if j in done)} of {len(planned)} trainings measured ({where})"
    text += f": {have}" if have else ""
    if missing:
        text += "; not measured: " + "; ".join(f"{m} {_seed_list(s)}" for m, s in missing.items())
    return text
