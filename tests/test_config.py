"""Configuration schema: defaults, and one clear error per kind of bad input, before any job runs."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from resrepro import config

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def base():
    return config.load(REPO / "config.yaml", REPO / "presets" / "quick.yaml")


def test_shipped_configs_are_valid():
    full = config.load(REPO / "config.yaml")
    assert full["run"] == "paper" and full["models"] == ["resnet18", "resnet34", "resnet50", "resnet110", "vgg16"]
    assert full["seeds"] == [0, 1, 2] and full["data"]["val_size"] == 5000 and full["train"]["epochs"] == 200
    quick = base()
    assert quick["run"] == "quick" and quick["models"] == full["models"] and quick["seeds"] == [0]
    assert "not comparable with the paper" in quick["stamp"] and quick["data"]["train_subset"] == 1000


def test_defaults_are_filled():
    cfg = config.validate({"run": "x", "models": ["resnet20"], "seeds": [0], "data": {}, "train": {}})
    assert cfg["train"]["lr"] == 0.1 and cfg["data"]["val_size"] == 5000 and cfg["convergence"]["tolerance"] == 0.01


def test_recipe_overrides_apply_per_model():
    cfg = config.load(REPO / "config.yaml")
    assert config.recipe_for(cfg, "resnet110")["warmup_epochs"] == 1
    assert config.recipe_for(cfg, "resnet18")["warmup_epochs"] == 0


BAD = {
    "unknown key": (lambda c: c["train"].update(foo=1), r"unknown key 'foo' under 'train'; allowed keys: .*batch_size"),
    "wrong type": (
        lambda c: c["train"].update(batch_size="big"),
        r"'train.batch_size': expected integer, got str 'big'",
    ),
    "unknown model": (
        lambda c: c.update(models=["resnet18", "resnet19"]),
        r"'models\[1\]': 'resnet19' is not allowed; allowed values: .*resnet110.*vgg16",
    ),
    "non-positive epochs": (lambda c: c["train"].update(epochs=0), r"'train.epochs': must be >= 1, got 0"),
    "float written as text": (lambda c: c["train"].update(weight_decay="5e-4"), r"write 5.0e-4"),
    "unknown override model": (lambda c: c.update(overrides={"resnet7": {}}), r"'overrides': 'resnet7' is not allowed"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_config_gives_its_own_error(case):
    mutate, pattern = BAD[case]
    cfg = copy.deepcopy(base())
    mutate(cfg)
    with pytest.raises(config.ConfigError, match=pattern) as err:
        config.validate(cfg)
    assert "no job was started" in str(err.value)


def test_malformed_yaml_is_reported(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("run: [unclosed\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(p)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["unknown key", "unknown model", "non-positive epochs"])
def test_snakemake_refuses_bad_config_and_starts_no_job(tmp_path, case):
    mutate, pattern = BAD[case]
    cfg = copy.deepcopy(base())
    mutate(cfg)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run(
        [
            *SNAKEMAKE,
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "--configfile",
            str(tmp_path / "bad.yaml"),
            "--cores",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    assert r.returncode != 0
    assert "invalid configuration" in r.stderr + r.stdout
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()
