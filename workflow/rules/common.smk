# Shared helpers: configuration validation, paths, and the JSON parameters handed to the CLI.
import json
import re
import shlex
from pathlib import Path

from resrepro import archive, catalog, codebase, compute, gpus, jobset, outputs, plan
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
SEEDS = config["seeds"]
# The shipped measured jobs (archive.smk, resrepro.archive): those archived for this config are restored, not
# trained. With archive.only: true the run is those jobs alone: per model its archived seeds (JOBS), and a
# model without any is left out (the report says which trainings were measured).
ARCHIVE = f"{config['archive']['dir']}/{RUN}"
ARCHIVED = archive.archived_jobs(config, config["archive"]["dir"])
if config["archive"]["only"]:
    archive.check_only(config, ARCHIVED)
    JOBS = jobset.by_model(ARCHIVED)
else:
    JOBS = {m: list(SEEDS) for m in config["models"]}
MODELS = list(JOBS)
PLANNED = jobset.pairs(config["models"], SEEDS)  # what the config would train
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
            "seeds": JOBS,
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
            "seeds": JOBS,
            "config_seeds": SEEDS,
            "planned": PLANNED,
            "archived": ARCHIVED,
            "archive": ARCHIVE,
            "archive_only": config["archive"]["only"],
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
    """``pattern`` for every job of the run (JOBS: per model its seeds)."""
    return [pattern.format(model=m, seed=s) for m, s in jobset.pairs(MODELS, JOBS)]


# --- Compute: every rule's benchmark file (wall and CPU time, peak memory; read by resrepro.compute) ---------
def bench(name, per_job=False, root=RESULTS):
    """The benchmark file of rule ``name``, in the one scheme that resrepro.outputs.benchmark_file declares."""
    pattern = ("{model}", "{seed}") if per_job else ()
    return f"{root}/{outputs.benchmark_file(name, *pattern)}"


def recorded_benchmarks(wildcards):
    """The benchmark files of the jobs before the report (resrepro.compute.jobs), for its Table A1."""
    jobs = compute.jobs(MODELS, JOBS, study=bool(degradation_outputs()))
    return [
        f"{RESULTS}/{j.benchmark}"
        for j in jobs
        if not done_unbenchmarked(j)
        and (j.model, j.seed) not in ARCHIVED
        and not (config["archive"]["only"] and j.rule == "prepare_data")
    ]  # an archived job was measured elsewhere (archive.only: its data prepared there too): no benchmark file here


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
    SLURM runs (non-local executors) and the jobs' own Snakemake processes are left alone. Called on start, not at
    parse time: only then is the executor known (at parse time a SLURM run looks local, and a bound registered
    then would cap each job's `gpu` request, e.g. --set-resources train:gpu=3, to it).
    """
    given = workflow.resource_settings.resources
    if "gpu" in given or not workflow.local_exec or not workflow.is_main_process:
        return
    workflow.register_resource("gpu", max(1, gpus.slots(config["train"]["pack"])))


onstart:
    bound_gpu_jobs()


# --- SLURM time limits (profiles/slurm) ----------------------------------------------------------
# A training's counted work (resrepro.plan.work: epochs x images x the catalog's FLOPs and depth) at the
# cautious A100-class speed declared once in src/resrepro/speeds.yaml (stated.slurm, with its head-room and
# start-up); tools/slurm/gpu_epoch_time.py measures a given GPU's figures. A retry (timeout, node failure)
# resumes from the checkpoint of the last completed epoch and gets attempt times the first limit.
def train_minutes(model, attempt=1):
    """SLURM time limit (minutes) of one training job, from its counted cost; x attempt on retries."""
    return plan.slurm_minutes(config, model, attempt)


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


# --- The shipped archive (archive.smk, resrepro.archive) ----------------------------------------------
# "resnet18/seed0|resnet18/seed1|...": the restore rules match the archived jobs alone (none: a regex that
# matches nothing)
ARCHIVED_JOB = "|".join(re.escape(f"{m}/seed{s}") for m, s in ARCHIVED) or "(?!)"


def restore_params(wildcards):
    model, _, folder = wildcards.job.partition("/")
    seed = folder.removeprefix("seed")
    return f"--archive-dir {shlex.quote(config['archive']['dir'])} --run {shlex.quote(RUN)} --model {model} --seed {seed}"


def data_manifest():
    """The data manifest provenance records: with archive.only, the archive's (no data is prepared), else the cache's."""
    if config["archive"]["only"]:
        return [f"{ARCHIVE}/data.json"] if Path(ARCHIVE, "data.json").exists() else []
    return [rules.prepare_data.output.manifest]


def jacobian_weights(wildcards):
    """The weights of the study's Jacobian check: the shallowest ResNet's first trained (not archived) seed.

    Archived jobs ship no weights, so an archived job never needs weights.pt; with only archived seeds the
    check runs on the initialised net and the report says so (resrepro.degradation.jacobian_on_trained).
    """
    model = catalog.twins(MODELS)[0][1]
    trained = [s for s in JOBS[model] if (model, s) not in ARCHIVED]
    return [f"{RESULTS}/train/{model}/seed{trained[0]}/weights.pt"] if trained else []
