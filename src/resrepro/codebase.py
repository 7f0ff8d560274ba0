"""The source files behind a stage: its own modules and every resrepro module they import, followed.

Snakemake lists these as a rule's inputs (``workflow/rules/common.smk``: ``code(...)``), so editing any
code a stage runs re-runs the stages that run it; the list is derived from the imports, not written by
hand. A package counts whole (importing any part of it runs its ``__init__``, which imports the rest), and
``resrepro/__init__.py`` runs for every stage. Torch-free: the Snakefile uses it (it parses, never imports).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

SRC = Path(__file__).resolve().parent


def files_of(name: str) -> list[Path]:
    """The files of a top-level resrepro module (``<name>.py``) or package (``<name>/``)."""
    if (SRC / f"{name}.py").is_file():
        return [SRC / f"{name}.py"]
    return sorted((SRC / name).rglob("*.py")) if (SRC / name).is_dir() else []


# ``from .x import y`` / ``from .. import (a, b)`` / ``from resrepro.x import y`` / ``import resrepro.x``, lazy ones
# too. A line scan, not ast.parse: the Snakefile runs this at every start, under SLURM at every job's start
# (tests/test_project.py checks it against ast on every file).
_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+resrepro\.(\w+)", re.M)


@lru_cache(maxsize=None)
def _imports(path: Path) -> frozenset[str]:
    """Top-level resrepro modules that ``path`` imports (lazily too); siblings of a package are its own."""
    top_level_dots = "." * (2 if path.parent != SRC else 1)
    text = path.read_text(encoding="utf-8")
    names = set(_IMPORT.findall(text))
    for dots, module, imported in _FROM.findall(text):
        if not dots and module.split(".")[0] == "resrepro":
            parts = module.split(".")[1:]
        elif dots == top_level_dots:
            parts = module.split(".") if module else []
        else:
            continue
        listed = [n.split(" as ")[0].strip() for n in imported.strip("() \n").replace("\n", ",").split(",")]
        names |= {parts[0]} if parts else {n for n in listed if n}
    return frozenset(n for n in names if files_of(n))


def stage_files(*roots: str) -> list[str]:
    """Every file of ``roots`` and of the resrepro modules they import, transitively, sorted."""
    seen, todo = set(), ["__init__", *roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for path in files_of(name):
            todo.extend(_imports(path) - seen)
    return sorted(str(p) for name in seen for p in files_of(name))
