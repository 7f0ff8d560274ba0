# Shared helpers: configuration validation, paths, and the JSON parameters handed to the CLI.
import json
import shlex
from pathlib import Path

from resrepro.config import recipe_for, validate

# Validate against workflow/schemas/config.schema.yaml before any job is scheduled; on error
# every problem is listed (key, allowed values) and no job starts.
config = validate(config)

RUN = config["run"]
RESULTS = f"results/{RUN}"
REPORTS = f"reports/{RUN}"
LOGS = f"{RESULTS}/logs"
CACHE = config["data"]["cache_dir"]
MODELS = config["models"]
SEEDS = config["seeds"]
# Files of the workflow itself, found next to the Snakefile whatever the working directory.
REPO = Path(workflow.basedir)
PAPER = str(REPO / "reports" / "paper.yaml")
TEMPLATES = sorted(
    str(p) for p in (REPO / "src" / "resrepro" / "templates").glob("*.j2")
)


wildcard_constraints:
    model="|".join(MODELS),
    seed=r"\d+",


def as_json(obj):
    """Compact JSON for a --json argument (quoted by the rules with :q)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def train_recipe(wildcards):
    return as_json(recipe_for(config, wildcards.model))


def data_spec():
    return as_json(config["data"])


def analysis_spec():
    return as_json(
        {
            "models": MODELS,
            "seeds": SEEDS,
            "tolerance": config["convergence"]["tolerance"],
            "stamp": config["stamp"],
        }
    )


def report_spec():
    return as_json(
        {
            "run": RUN,
            "stamp": config["stamp"],
            "models": MODELS,
            "seeds": SEEDS,
            "data": config["data"],
            "train": config["train"],
            "overrides": config.get("overrides", {}),
            "tolerance": config["convergence"]["tolerance"],
        }
    )


def results_dir(input):
    """The run's results folder, inferred from its models.json input (lint: no hard-coded prefix)."""
    return str(Path(input.models).parent)


def per_job(pattern):
    return expand(pattern, model=MODELS, seed=SEEDS)
