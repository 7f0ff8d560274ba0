"""One (model, seed) job of a run, as the Snakemake rules run it: the exact `resrepro train` and `resrepro evaluate`
arguments of workflow/rules/train.smk and evaluate.smk (with common.smk's paths and JSON), so that a training started
on the lent box is the pipeline's own training. tests/test_device_run.py compares these with the commands that
`snakemake --dry-run --printshellcmds` prints for the same config, so the two cannot drift apart silently.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass

from resrepro.config import recipe_for


def as_json(obj) -> str:
    """common.smk's as_json: compact, sorted JSON for a --recipe / --data argument."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def gpu_resource(cfg: dict, model: str) -> int:
    """The train rule's `gpu` resource (common.smk's train_gpus): 0 when the model's train.device is cpu, else 1."""
    return 0 if recipe_for(cfg, model)["device"] == "cpu" else 1


def _passes_gpu() -> bool:
    """The train rule passes --gpu once resrepro.gpus exists (issue 14, H1); before that it does not."""
    return importlib.util.find_spec("resrepro.gpus") is not None


@dataclass(frozen=True)
class Job:
    run: str
    model: str
    seed: int

    @property
    def results(self) -> str:
        return f"results/{self.run}"

    @property
    def train_dir(self) -> str:
        return f"{self.results}/train/{self.model}/seed{self.seed}"

    @property
    def eval_dir(self) -> str:
        return f"{self.results}/eval/{self.model}/seed{self.seed}"

    @property
    def checkpoint(self) -> str:
        return f"{self.results}/checkpoints/{self.model}-seed{self.seed}.pt"

    def log(self, stage: str) -> str:
        return f"{self.results}/logs/{stage}/{self.model}-seed{self.seed}.log"

    @property
    def name(self) -> str:
        return f"{self.model}:{self.seed}"

    def outputs(self) -> list[str]:
        """The result files a finished job leaves (the rules' outputs, weights aside)."""
        t, e = self.train_dir, self.eval_dir
        return [
            f"{t}/history.csv",
            f"{t}/train.json",
            f"{t}/gradflow.json",
            f"{e}/metrics.json",
            f"{e}/predictions.csv",
        ]


def train_args(cfg: dict, job: Job) -> list[str]:
    """The arguments after `resrepro` of the train rule's shell command for ``job``."""
    args = [
        "train",
        "--model",
        job.model,
        "--seed",
        str(job.seed),
        "--cache",
        cfg["data"]["cache_dir"],
        "--data",
        as_json(cfg["data"]),
        "--recipe",
        as_json(recipe_for(cfg, job.model)),
        "--out-dir",
        job.train_dir,
        "--checkpoint",
        job.checkpoint,
    ]
    if _passes_gpu():
        args += ["--gpu", str(gpu_resource(cfg, job.model))]
    return args


def evaluate_args(cfg: dict, job: Job) -> list[str]:
    """The arguments after `resrepro` of the evaluate rule's shell command for ``job``."""
    return [
        "evaluate",
        "--model",
        job.model,
        "--cache",
        cfg["data"]["cache_dir"],
        "--data",
        as_json(cfg["data"]),
        "--weights",
        f"{job.train_dir}/weights.pt",
        "--batch-size",
        str(cfg["train"]["eval_batch_size"]),
        "--device",
        cfg["train"]["device"],
        "--pack",
        str(cfg["train"]["pack"]),
        "--gpu",
        str(gpu_resource(cfg, job.model)),
        "--out-dir",
        job.eval_dir,
    ]


def options(args: list[str]) -> tuple[str, dict[str, str]]:
    """(subcommand, {option: value}) of an argument list of options that each take one value."""
    sub, rest = args[0], args[1:]
    if len(rest) % 2:
        raise ValueError(f"not option/value pairs: {rest}")
    return sub, dict(zip(rest[::2], rest[1::2], strict=True))
