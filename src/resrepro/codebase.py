"""The source files behind a stage: its own modules and every resrepro module they import, followed.

Snakemake lists these as a rule's inputs (``workflow/rules/common.smk``: ``code(...)``), so editing any
code a stage runs re-runs the stages that run it; the list is derived from the imports, not written by
hand. A package counts whole (importing any part of it runs its ``__init__``, which imports the rest), and
``resrepro/__init__.py`` runs for every stage. Torch-free: the Snakefile uses it (it parses, never imports).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

SRC = Path(__file__).resolve().parent


def files_of(name: str) -> list[Path]:
    """The files of a top-level resrepro module (``<name>.py``) or package (``<name>/``)."""
    if (SRC / f"{name}.py").is_file():
        return [SRC / f"{name}.py"]
    return sorted((SRC / name).rglob("*.py")) if (SRC / name).is_dir() else []


@lru_cache(maxsize=None)
def _imports(path: Path) -> frozenset[str]:
    """Top-level resrepro modules that ``path`` imports (lazily too); siblings of a package are its own."""
    in_package = path.parent != SRC
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            top_level = node.level == (2 if in_package else 1)
            if node.level == 0 and node.module and node.module.split(".")[0] == "resrepro":
                parts = node.module.split(".")[1:]
                names |= {parts[0]} if parts else {a.name for a in node.names}
            elif top_level:
                names |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("resrepro.")}
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
