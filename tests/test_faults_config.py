"""Fault matrix, configuration: each bad config through `--config` and through a file, refused before any job.

Snakemake runs are dry runs (`-n`) in a temporary folder; the file cases also go through `resrepro validate`
(the real CLI). Each test states what must happen: the key named with its fix, and no job started; or,
for a value the user meant, the value the jobs get.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from resrepro import cli, config

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def snakemake_dry(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "-n", "-p", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)


def quick() -> dict:
    """config.yaml with the quick preset merged over it, as a plain mapping (what a user's file holds)."""
    return config.merge(*(yaml.safe_load((REPO / p).read_text()) for p in ("config.yaml", "presets/quick.yaml")))


def write(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def validate_cli(capsys, *files: Path) -> tuple[int, str]:
    """`resrepro validate FILE...` through the real command line: (exit code, what it printed)."""
    try:
        code = cli.main(["validate", *map(str, files)])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out + out.err


def said(r: subprocess.CompletedProcess) -> str:
    """All Snakemake printed (with -n its errors go to stdout)."""
    return r.stdout + r.stderr


def recipes(stdout: str) -> list[dict]:
    """The --recipe of every training job a dry run prints."""
    return [json.loads(m) for m in re.findall(r"resrepro train .*?--recipe '(\{.*?\})'", stdout)]


def test_snakemake_hands_config_values_over_as_this_module_expects():
    """The premise (Snakemake 9's cli.parse_config): numbers parsed, lists and mappings of strings."""
    from snakemake.cli import parse_config

    assert parse_config(["seeds=[0,1]"]) == {"seeds": ["0", "1"]}
    assert parse_config(['train={"epochs": 2}']) == {"train": {"epochs": "2"}}
    assert parse_config(["lr=5e-4", "xx=null"]) == {"lr": 5e-4, "xx": "null"}


# --- overrides that work ----------------------------------------------------------------------------
def test_command_line_text_is_read_by_the_schema_types():
    problems: dict = {}
    got = config.from_command_line(
        [
            "seeds=[0,1]",
            'train={"epochs": 2, "lr": 5e-4, "nesterov": true, "compile": true, "milestones": 3}',
            "models=resnet20",
            'data={"train_subset": 1e3, "source": null, "sha256": null}',
            "stamp=2026",
            "merge=",
        ],
        problems,
    )
    assert problems == {}
    assert got["seeds"] == [0, 1] and got["models"] == ["resnet20"] and got["stamp"] == "2026"
    train = got["train"]
    assert train == {"epochs": 2, "lr": 5e-4, "nesterov": True, "compile": True, "milestones": [3]}
    assert got["data"] == {"train_subset": 1000, "source": None, "sha256": None} and got["merge"] is None
    assert type(train["epochs"]) is int and type(train["lr"]) is float


def test_command_line_text_keeps_a_colon_and_yaml_quotes_mark_text():
    problems: dict = {}
    got = config.from_command_line(["stamp=demo: not the paper", "run='2026'", 'data={"source": "a: b.tgz"}'], problems)
    assert problems == {} and got == {"stamp": "demo: not the paper", "run": "2026", "data": {"source": "a: b.tgz"}}


def test_a_per_model_override_on_the_command_line_is_typed_like_the_train_section():
    problems: dict = {}
    got = config.from_command_line(['overrides={"resnet110": {"warmup_epochs": 1, "warmup_lr": 0.01}}'], problems)
    assert problems == {} and got == {"overrides": {"resnet110": {"warmup_epochs": 1, "warmup_lr": 0.01}}}


@pytest.mark.slow
def test_snakemake_config_overrides_reach_the_jobs_typed_and_whole_floats_in_a_file_become_integers(tmp_path):
    cfg = quick()
    cfg["train"].update(epochs=3.0, batch_size=32.0)  # whole-number floats, in a file
    write(tmp_path / "c.yaml", cfg)
    r = snakemake_dry(
        tmp_path,
        "--configfile",
        str(tmp_path / "c.yaml"),
        "--config",
        "seeds=[0,1]",
        'train={"lr": 5e-4, "weight_decay": 1.0e-4}',
        "models=[resnet20]",
    )
    assert r.returncode == 0, said(r)
    jobs = recipes(r.stdout)
    assert len(jobs) == 2 and {"--seed 0", "--seed 1"} <= set(re.findall(r"--seed \d", r.stdout))
    assert all(j["epochs"] == 3 and j["batch_size"] == 32 and j["lr"] == 5e-4 for j in jobs)
    assert '"epochs":3,' in r.stdout and '"batch_size":32,' in r.stdout  # integers, not 3.0
    assert not (tmp_path / "results").exists()


# --- bad values: one message per key, no job -------------------------------------------------------
# case: (--config argument, key named, what the message says)
BAD_CLI = {
    "list item not an integer": ("seeds=[0,x]", "seeds[1]", "cannot read 'x' (from --config) as integer"),
    "nested value not an integer": ('train={"epochs": 2.5}', "train.epochs", "cannot read '2.5'"),
    "nested value not a number": ('train={"momentum": fast}', "train.momentum", "cannot read 'fast'"),
    "NaN": ("train={lr: nan}", "train.lr", "nan is not allowed; write a finite number"),
    "infinity": ("train={weight_decay: .inf}", "train.weight_decay", "inf is not allowed"),
    "val_size over the data": ("data={val_size: 60000}", "data.val_size", "at most 49990"),
    "test_subset over the data": ("data={test_subset: 20000}", "data.test_subset", "at most 10000"),
    "unreadable mapping": ('train={"epochs": 2', "train", "cannot read"),
    "nested key given at the top level": ("lr=0.1", "lr", """for train.lr write 'train={"lr": 0.1}'"""),
}


@pytest.mark.parametrize("case", sorted(BAD_CLI))
def test_each_bad_command_line_value_names_its_key(case):
    arg, key, says = BAD_CLI[case]
    problems: dict = {}
    cfg = config.merge(quick(), config.from_command_line([arg], problems))
    with pytest.raises(config.ConfigError) as err:
        config._validate(cfg, problems)
    text = str(err.value)
    assert f"'{key}'" in text and says in text and "no job was started" in text
    assert "YAML reads" not in text  # never blames YAML's reading of 5e-4 for a command-line value


@pytest.fixture(scope="module")
def bad_cli_run(tmp_path_factory):
    """One dry run with every bad --config value at once (all are reported together)."""
    tmp = tmp_path_factory.mktemp("bad-cli")
    write(tmp / "config.yaml", quick())
    args = [BAD_CLI[c][0] for c in sorted(BAD_CLI) if c != "unreadable mapping"]
    # several values for one key merge, as Snakemake merges them
    return tmp, snakemake_dry(tmp, "--config", *args)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(set(BAD_CLI) - {"unreadable mapping"}))
def test_snakemake_refuses_each_bad_config_value_naming_the_key_before_any_job(bad_cli_run, case):
    tmp, r = bad_cli_run
    _, key, says = BAD_CLI[case]
    assert r.returncode != 0 and "invalid configuration" in said(r)
    assert any(f"'{key}'" in line and says in line for line in said(r).splitlines()), said(r)
    assert "YAML reads" not in said(r) and not (tmp / "results").exists() and not (tmp / "data").exists()


# case: (change to the file's config, key named, what the message says)
BAD_FILE = {
    "fractional epochs": (lambda c: c["train"].update(epochs=3.5), "train.epochs", "expected integer, got float 3.5"),
    "NaN lr": (lambda c: c["train"].update(lr=float("nan")), "train.lr", "nan is not allowed"),
    "infinite momentum": (lambda c: c["train"].update(momentum=float("inf")), "train.momentum", "inf is not allowed"),
    "negative infinite tolerance": (
        lambda c: c["convergence"].update(tolerance=float("-inf")),
        "convergence.tolerance",
        "-inf is not allowed",
    ),
    "val_size over the data": (lambda c: c["data"].update(val_size=50000), "data.val_size", "at most 49990"),
    "train_subset over the data": (
        lambda c: c["data"].update(val_size=5000, train_subset=46000),
        "data.train_subset",
        "at most 45000 (50,000 training images minus val_size 5000)",
    ),
    "val_subset over val_size": (
        lambda c: c["data"].update(val_size=500, val_subset=1000),
        "data.val_subset",
        "at most 500",
    ),
    "test_subset over the data": (lambda c: c["data"].update(test_subset=10010), "data.test_subset", "at most 10000"),
    "subset not a multiple of the classes": (
        lambda c: c["data"].update(train_subset=1005),
        "data.train_subset",
        "not a multiple of the 10 classes",
    ),
    "NaN in a per-model override": (
        lambda c: c.update(overrides={"resnet110": {"warmup_lr": float("nan")}}),
        "overrides.resnet110.warmup_lr",
        "nan is not allowed",
    ),
    "5e-4 read as text": (lambda c: c["train"].update(weight_decay="5e-4"), "train.weight_decay", "write 5.0e-4"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILE))
def test_each_bad_value_in_a_file_is_refused_by_resrepro_validate_naming_its_key(tmp_path, capsys, case):
    mutate, key, says = BAD_FILE[case]
    cfg = quick()
    mutate(cfg)
    code, out = validate_cli(capsys, write(tmp_path / "bad.yaml", cfg))
    assert code != 0 and "Traceback" not in out
    assert any(f"'{key}'" in line and says in line for line in out.splitlines()), out


def test_whole_number_floats_in_a_file_are_accepted_as_integers(tmp_path):
    cfg = quick()
    cfg["train"].update(epochs=3.0, batch_size=32.0, milestones=[2.0])
    cfg["data"].update(val_size=5000.0, train_subset=1000.0)
    cfg["seeds"] = [0.0, 1]
    got = config.load(write(tmp_path / "c.yaml", cfg))
    assert got["train"]["epochs"] == 3 and type(got["train"]["epochs"]) is int
    assert type(got["train"]["batch_size"]) is int and got["train"]["milestones"] == [2] and got["seeds"] == [0, 1]
    assert type(got["data"]["val_size"]) is int and type(got["train"]["lr"]) is float  # numbers stay floats


@pytest.mark.slow
def test_snakemake_refuses_bad_values_in_a_config_file_naming_each_key_before_any_job(tmp_path):
    cfg = quick()
    for case in ("fractional epochs", "NaN lr", "infinite momentum", "test_subset over the data"):
        BAD_FILE[case][0](cfg)
    write(tmp_path / "bad.yaml", cfg)
    r = snakemake_dry(tmp_path, "--configfile", str(tmp_path / "bad.yaml"))
    assert r.returncode != 0 and "invalid configuration (4 problems)" in said(r), said(r)
    for case in ("fractional epochs", "NaN lr", "infinite momentum", "test_subset over the data"):
        _, key, says = BAD_FILE[case]
        assert any(f"'{key}'" in line and says in line for line in said(r).splitlines()), (case, said(r))
    assert not (tmp_path / "results").exists()


# --- YAML that cannot be read: the file and the line ------------------------------------------------
DUPLICATE = "run: a\nmodels: [resnet20]\nseeds: [0]\nrun: b\n"
SYNTAX = "run: a\nmodels: [resnet20\nseeds: [0]\n"


@pytest.mark.parametrize(
    "text, says",
    [
        (DUPLICATE, "at line 4, column 1: duplicate key 'run' (also on line 1)"),
        (SYNTAX, "at line 3, column 6: while parsing a flow sequence (line 2)"),
        ("data:\n  val_size: 100\n  val_size: 200\n", "at line 3, column 3: duplicate key 'val_size' (also on line 2)"),
    ],
    ids=["duplicate top-level key", "syntax error", "duplicate nested key"],
)
def test_unreadable_yaml_is_refused_by_resrepro_validate_naming_file_and_line(tmp_path, capsys, text, says):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    code, out = validate_cli(capsys, REPO / "config.yaml", bad)
    assert code != 0 and f"config file {bad} is not valid YAML {says}" in out and "Traceback" not in out


def test_a_config_file_that_is_not_a_mapping_is_refused_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "list.yaml"
    bad.write_text("- run\n- models\n")
    code, out = validate_cli(capsys, bad)
    assert code != 0 and f"config file {bad}: expected a mapping of keys to values, got list" in out


@pytest.mark.slow
def test_snakemake_refuses_a_duplicate_key_in_a_configfile_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DUPLICATE)
    r = snakemake_dry(tmp_path, "--configfile", str(bad))
    assert r.returncode != 0 and f"config file {bad} is not valid YAML at line 4, column 1: duplicate key" in said(r)
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_snakemake_names_file_and_line_of_a_syntax_error_in_config_yaml(tmp_path):
    (tmp_path / "config.yaml").write_text(SYNTAX)
    r = snakemake_dry(tmp_path)
    want = f"config file {tmp_path / 'config.yaml'} is not valid YAML at line 3, column 6"
    assert r.returncode != 0 and want in said(r), said(r)
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_a_syntax_error_in_a_configfile_gets_snakemakes_message_and_starts_no_job(tmp_path):
    """Snakemake reads --configfile files before the Snakefile runs, so its own message comes first and
    names neither file nor line (README: `resrepro validate config.yaml FILE` names both)."""
    (tmp_path / "bad.yaml").write_text(SYNTAX)
    r = snakemake_dry(tmp_path, "--configfile", str(tmp_path / "bad.yaml"))
    assert r.returncode != 0 and "Config file is not valid JSON or YAML" in said(r)
    assert not (tmp_path / "results").exists()
