# Shared helpers: configuration validation, paths, and the JSON parameters handed to the CLI.
import json
import shlex
from pathlib import Path

from resrepro import catalog, codebase, compute, gpus, outputs
from resrepro.config import for_snakemake, recipe_for
from resrepro.cifar10 import TRAIN_SIZE

# Validate against workflow/schemas/config.schema.yaml before any job is scheduled; on error
# every problem is listed (key, allowed values) and no job starts. The config files are read again
# strictly (a duplicate key names its file and line) and each --config KEY=VALUE is read by the
# schema's types (seeds=[0,1], 'train={"epochs": 2}'): resrepro.config.for_snakemake.
config = for_snakemake(workflow)

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
# The report's templates (*.j2) and its wording (report_text.yaml): inputs of the report rule alone,
# so that editing one re-runs only that rule.
TEMPLATES = sorted(
    str(p)
    for p in (REPO / "src" / "resrepro" / "templates").rglob("*")
    if p.is_file() and p.suffix in (".j2", ".yaml")
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


def degradation_outputs():
    """The degradation study's summary when the run has plain/residual twins, else nothing."""
    twins = catalog.twins(MODELS)
    return [f"{RESULTS}/degradation/summary.json"] if twins else []


def code(*stages):
    """The source files a stage runs (its modules and all they import): an edit re-runs that stage.

    Training and evaluation deliberately list no code: a code edit never retrains (hours on GPUs).
    """
    return codebase.stage_files(*stages)


def per_job(pattern):
    return expand(pattern, model=MODELS, seed=SEEDS)


# --- Compute: every rule's benchmark file (wall and CPU time, peak memory; read by resrepro.compute) ---------
def bench(name, per_job=False, root=RESULTS):
    """The benchmark file of rule ``name``, in the one scheme that resrepro.outputs.benchmark_file declares."""
    pattern = ("{model}", "{seed}") if per_job else ()
    return f"{root}/{outputs.benchmark_file(name, *pattern)}"


def recorded_benchmarks(wildcards):
    """The benchmark files of the jobs before the report (resrepro.compute.jobs), for its Table A1."""
    jobs = compute.jobs(MODELS, SEEDS, study=bool(degradation_outputs()))
    return [f"{RESULTS}/{j.benchmark}" for j in jobs if not done_unbenchmarked(j)]


def done_unbenchmarked(job):
    """A job whose output exists without its benchmark (run before the rules had one, or another run's shared
    data cache): left out of the report's inputs, never re-run for it (hours of training); "not recorded".
    """
    output = getattr(rules, job.rule).output[0].format(model=job.model, seed=job.seed)
    return Path(output).exists() and not Path(RESULTS, job.benchmark).exists()


# --- GPUs: one training per GPU slot (resrepro.gpus; README "GPUs: one training per GPU") ------------------
def train_gpus(wildcards):
    """The train job's `gpu` resource: 0 for train.device cpu, else 1 (SLURM's --gpus=1; `resrepro train --gpu`)."""
    return 0 if recipe_for(config, wildcards.model)["device"] == "cpu" else 1


def bound_gpu_jobs():
    """On one machine with no `--resources gpu=N` given, at most its GPU slots (GPUs x train.pack) train at once,
    so a --cores larger than the GPUs never queues trainings on a GPU (the slot locks forbid sharing anyway).
    At least 1: a GPU job on a machine without one then fails at once, naming the fix (resrepro.gpus.no_cuda).
    SLURM runs (non-local executors) and the jobs' own Snakemake processes are left alone.
    """
    given = workflow.resource_settings.resources
    if "gpu" in given or not workflow.local_exec or not workflow.is_main_process:
        return
    workflow.register_resource("gpu", max(1, gpus.slots(config["train"]["pack"])))


bound_gpu_jobs()


# --- SLURM time limits (profiles/slurm) ----------------------------------------------------------
# Assumed speed of one A100-class GPU for this training loop (bf16, data on the GPU): compute at
# GPU_TFLOPS, plus a latency per layer and step that dominates thin deep nets (ResNet-110). These are
# cautious assumptions, not measurements: tools/slurm/gpu_epoch_time.py measures both on a given GPU.
GPU_TFLOPS = 30.0
LAYER_STEP_MS = 0.5
# minutes for the queue-side start, imports, data to the GPU and first-epoch autotuning
STARTUP_MINUTES = 10
HEADROOM = 1.5


def train_minutes(model, attempt=1):
    """SLURM time limit (minutes) of one training job, from its counted cost; x attempt on retries.

    Cost: epochs x (3 x training images + validation images) x FLOPs per image, plus a latency
    per layer (the catalog's depth) and step. A retry (timeout, node failure) resumes
    from the checkpoint of the last completed epoch and gets attempt times the first limit.
    """
    recipe = recipe_for(config, model)
    data_cfg = config["data"]
    n_val = data_cfg["val_subset"] or data_cfg["val_size"]
    n_train = data_cfg["train_subset"] or TRAIN_SIZE - data_cfg["val_size"]
    steps = -(-n_train // recipe["batch_size"])
    # forward cost and depth, declared once in resrepro.catalog
    spec = catalog.get(model)
    gflops, depth = spec.gflops, spec.depth
    epoch_s = (3 * n_train + n_val) * gflops / (GPU_TFLOPS * 1e3)
    epoch_s += steps * depth * LAYER_STEP_MS / 1e3
    minutes = STARTUP_MINUTES + HEADROOM * recipe["epochs"] * epoch_s / 60
    return int(-(-minutes // 1)) * attempt


def train_runtime(wildcards, attempt):
    return train_minutes(wildcards.model, attempt)


# --- The paper's claims and published context (report stage) -------------------------------------
# reports/paper.yaml (PAPER) holds the paper's tables; reports/claims.yaml the statements of its
# text (read by resrepro.paper, audited by resrepro.claims); reports/context.yaml what other work
# reports (the context table).
CLAIMS = str(REPO / "reports" / "claims.yaml")
CONTEXT = str(REPO / "reports" / "context.yaml")
# reports/references.yaml: the paper's references with a finding (resrepro.references; report stage only).
REFERENCES = str(REPO / "reports" / "references.yaml")


# --- The merged audit (merged.smk): one claims audit of the runs named in `merge` -------------------
MERGED = "results/merged"


def merged_files(name):
    """One result file of every run in `merge`, e.g. tables/measured.json."""
    return [f"results/{run}/{name}" for run in config["merge"]]


def merged_studies(wildcards):
    """The degradation studies of the merged runs that have one (their audits need them)."""
    return [p for p in merged_files("degradation/summary.json") if Path(p).exists()]


def merged_spec():
    """The size of a run that would decide a claim: this config's seeds, epochs and training images."""
    data = config["data"]
    n_train = data["train_subset"] or TRAIN_SIZE - data["val_size"]
    return as_json(
        {
            "target": {
                "seeds": len(SEEDS),
                "epochs": config["train"]["epochs"],
                "train_images": n_train,
            }
        }
    )
