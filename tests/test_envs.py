"""Conda environments of the rule groups (envs/, snakemake --sdm conda) agree with pyproject.toml.

Conda channels cannot be reached here, so the environments are checked, not built: every Python
package is pinned exactly as in pyproject.toml, every third-party module that a group's rules
import is in its environment, every rule names an existing environment, and the post-deploy script
that installs resrepro itself finds the repository or says what to do.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "resrepro"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DECLARED = {canonicalize_name(r.name): r for r in map(Requirement, PYPROJECT["project"]["dependencies"])}
# The modules behind each group's `resrepro` subcommands (their own imports are followed).
GROUPS = {
    "train": ["data", "models", "train", "evaluate", "config"],
    "report": ["analysis", "claims", "figures", "provenance", "report", "config"],
}
ENVS = sorted(GROUPS)


def load_env(name: str) -> dict:
    return yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())


def pip_requirements(env: dict) -> list[Requirement]:
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return [Requirement(line) for block in pips for line in block]


def conda_packages(env: dict) -> dict[str, str]:
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", dep).groups()
            out[name] = spec
    return out


def source_files(mod: str) -> list[Path]:
    """The files of a resrepro module: ``<mod>.py``, or every file of the package ``<mod>/``."""
    if (SRC / f"{mod}.py").exists():
        return [SRC / f"{mod}.py"]
    return sorted((SRC / mod).rglob("*.py")) if (SRC / mod).is_dir() else []


def test_every_module_of_a_rule_group_is_found():
    """A module or package the groups name must exist: a renamed one would silently drop out of the check."""
    for mods in GROUPS.values():
        assert all(source_files(m) for m in mods), mods


def imported_modules(roots: list[str]) -> set[str]:
    """Top-level third-party modules imported (anywhere, lazily too) by these resrepro modules
    and by the resrepro modules they import in turn."""
    seen, todo, found = set(), list(roots), set()
    while todo:
        mod = todo.pop()
        if mod in seen or not source_files(mod):
            continue
        seen.add(mod)
        for node in (n for path in source_files(mod) for n in ast.walk(ast.parse(path.read_text()))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if (
                    node.level
                ):  # from . import x, from .x import y, from ..x import y (a package's own files are all read)
                    todo.extend([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
                else:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("resrepro", "__future__")}


@pytest.mark.parametrize("name", ENVS)
def test_env_pins_agree_with_pyproject(name):
    env = load_env(name)
    assert env["channels"][0] == "conda-forge" and "defaults" not in env["channels"]
    conda = conda_packages(env)
    python = conda["python"].lstrip("=")
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(f"{python}.0"), python
    build = {canonicalize_name(r.name): r for r in map(Requirement, PYPROJECT["build-system"]["requires"])}
    assert conda["setuptools"] == str(build["setuptools"].specifier), "setuptools as in [build-system]"
    for req in pip_requirements(env):
        key = canonicalize_name(req.name)
        assert key in DECLARED, f"{name}.yaml: {req.name} is not a dependency in pyproject.toml"
        assert req.specifier == DECLARED[key].specifier, f"{name}.yaml: {req} but pyproject.toml has {DECLARED[key]}"
        assert not req.url and not req.extras


@pytest.mark.parametrize("name", ENVS)
def test_env_has_every_package_its_rules_import(name):
    env_pkgs = {canonicalize_name(r.name) for r in pip_requirements(load_env(name))}
    # what the listed packages pull in themselves (markupsafe with jinja2, ...)
    pulled = set()
    for pkg in env_pkgs:
        try:
            pulled |= {
                canonicalize_name(Requirement(r).name)
                for r in importlib.metadata.requires(pkg) or []
                if "extra ==" not in r
            }
        except importlib.metadata.PackageNotFoundError:
            pass
    dists = importlib.metadata.packages_distributions()
    for mod in sorted(imported_modules(GROUPS[name])):
        owners = {canonicalize_name(d) for d in dists.get(mod, [mod])}
        assert owners & (env_pkgs | pulled), (
            f"envs/{name}.yaml lacks {sorted(owners)} (imported as {mod!r} by the {name} rules)"
        )


def test_every_rule_uses_an_existing_env_without_relative_pip_paths():
    used = set()
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        used |= set(re.findall(r'conda:\s*\n\s*"\.\./\.\./envs/([\w-]+)\.yaml"', smk.read_text()))
    assert used and used <= set(ENVS), used
    for name in ENVS:
        text = (REPO / "envs" / f"{name}.yaml").read_text()
        # Snakemake copies the file to .snakemake/conda/<hash>.yaml: a relative path would point there
        assert not re.search(r"^\s*-\s*[\"']?-e\b", text, re.M), f"{name}.yaml installs a relative path"
        assert os.access(REPO / "envs" / f"{name}.post-deploy.sh", os.X_OK)


@pytest.mark.parametrize("name", ENVS)
def test_post_deploy_installs_this_repository_or_explains(name, tmp_path):
    """Runs the script with a stand-in `python` that records its arguments."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\n')
    (fake / "python").chmod(0o755)
    script = REPO / "envs" / f"{name}.post-deploy.sh"
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    env.pop("RESREPRO_SRC", None)
    ok = subprocess.run(["bash", str(script)], cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "args").read_text().split() == [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--editable",
        str(REPO),
    ]
    elsewhere = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert elsewhere.returncode == 1 and "RESREPRO_SRC" in elsewhere.stderr
    named = subprocess.run(
        ["bash", str(script)],
        cwd=tmp_path,
        env={**env, "RESREPRO_SRC": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert named.returncode == 0, named.stderr
