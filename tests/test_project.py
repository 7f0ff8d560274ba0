"""The habits of a kept project: license, citation, version, exact pins, a layout that stays livable."""

from __future__ import annotations

import ast
import io
import os
import re
import shutil
import subprocess
import sys
import tokenize
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import resrepro

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "resrepro"
BIN = Path(sys.executable).parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 90  # "about 80": a readable step, not a second module


def test_license_file_is_the_license_pyproject_names():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def test_citation_names_this_version_and_the_audited_paper():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["version"] == resrepro.__version__ and cff["license"] == "MIT"
    assert any("Deep Residual Learning Networks" in r["title"] for r in cff["references"])


def test_version_flag_prints_the_package_version():
    out = subprocess.run([str(BIN / "resrepro"), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"resrepro {resrepro.__version__}"


def test_every_dependency_is_pinned_exactly_and_the_lock_agrees():
    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            lock[canonicalize_name(req.name)] = req.specifier
    extras = [r for group in PYPROJECT["project"]["optional-dependencies"].values() for r in group]
    for text in PYPROJECT["project"]["dependencies"] + extras:
        req = Requirement(text)
        (spec,) = req.specifier  # exactly one specifier ...
        assert spec.operator == "==", f"{text}: pin it exactly (outputs depend on it)"  # ... an exact pin
        key = canonicalize_name(req.name)
        if key in lock:
            assert lock[key] == req.specifier, f"requirements.lock has {req.name}{lock[key]}, pyproject {text}"
        else:
            assert req.name.startswith("snakemake-executor-plugin"), f"{req.name} is missing from requirements.lock"


def test_clean_results_keeps_the_conda_environments(tmp_path):
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    for d in (".snakemake/conda/abc", ".snakemake/metadata", ".snakemake/log", "results/quick", "reports/quick"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "reports" / "claims.yaml").write_text("kept\n")
    subprocess.run(["make", "-s", "clean-results"], cwd=tmp_path, check=True, timeout=60, capture_output=True)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.name != "Makefile")
    assert left == [".snakemake", ".snakemake/conda", ".snakemake/conda/abc", "reports", "reports/claims.yaml"]


def test_no_module_is_over_450_lines_and_no_function_over_about_80():
    long_files, long_functions = [], []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(f"{path.relative_to(SRC)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {n} lines")
    assert not long_files and not long_functions, long_files + long_functions


def _comments(path: Path) -> list[tuple[int, str]]:
    """(line, text) of the comments and docstrings of a Python file; every line of any other text file."""
    text = path.read_text(errors="replace")
    if path.suffix != ".py":
        return list(enumerate(text.splitlines(), 1))
    out = [
        (t.start[0], t.string)
        for t in tokenize.generate_tokens(io.StringIO(text).readline)
        if t.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                out.append((node.body[0].lineno, doc))
    return out


def test_comments_cite_no_file_outside_the_repository():
    """Comments and docs cite papers and repositories; a test may *read* ../shared (and skip without it)."""
    outside = ("facts.md", "shared/reference", "/work/")
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    paths = [REPO / p for p in tracked.split() if Path(p).suffix in (".py", ".smk", ".yaml", ".j2", ".sh", ".md", "")]
    hits = [
        f"{p.relative_to(REPO)}:{i}"
        for p in paths
        if p.is_file() and p.name != "test_project.py"
        for i, line in _comments(p)
        if any(o in line for o in outside)
    ]
    assert not hits, hits


def test_the_snakefile_and_its_rules_never_import_torch_or_numpy():
    """What the Snakefile and its rule files import (read off them) loads neither torch nor numpy: Snakemake parses
    the workflow again for every job, so its start stays fast."""
    rule_files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    imports = {
        line
        for f in rule_files
        for line in f.read_text().splitlines()
        if re.fullmatch(r"(from [\w.]+ import [\w, ]+|import [\w.]+)", line)
    }
    assert any("resrepro" in line for line in imports), imports
    code = "; ".join(["import sys", *sorted(imports), "print([m for m in ('torch', 'numpy') if m in sys.modules])"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_each_stage_reruns_when_any_code_it_imports_changes():
    """A rule's code inputs are derived from the imports (resrepro.codebase): every module a stage imports is listed."""
    from resrepro import codebase

    claims = codebase.stage_files("claims")
    for module in ("stats.py", "fmt.py", "catalog.py", "paper.py", "claims/orderings.py"):
        assert str(SRC / module) in claims, module
    assert str(SRC / "outputs.py") in codebase.stage_files("report")
    assert str(SRC / "train.py") not in codebase.stage_files("analysis"), "the tables stage never imports training"
    rules = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    stages = set(re.findall(r"code=code\(\"(\w+)\"\)", rules))
    assert stages == {"analysis", "claims", "figures", "report", "degradation"}, stages
    assert rules.count("code=") == len(re.findall(r"code=code\(", rules)), "a rule lists its code by hand"


def test_the_import_scan_finds_what_the_python_parser_finds_in_every_module():
    from resrepro import codebase

    def by_ast(path: Path) -> set[str]:
        in_package, names = path.parent != SRC, set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module and node.module.split(".")[0] == "resrepro":
                    parts = node.module.split(".")[1:]
                    names |= {parts[0]} if parts else {a.name for a in node.names}
                elif node.level == (2 if in_package else 1):
                    names |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("resrepro.")}
        return {n for n in names if codebase.files_of(n)}

    paths = sorted(SRC.rglob("*.py"))
    assert len(paths) > 40
    for path in paths:
        assert codebase._imports(path) == by_ast(path), path.relative_to(SRC)
