# The shipped measured jobs (resrepro.archive): a (model, seed) archived under archive/<run>/ for this config
# (its recorded recipe and data match) is restored from there instead of trained and evaluated; the rest train.
# The archive's files are the restore rules' inputs: one missing there means the job does not count, and it
# trains. An archived job ships no weights.pt, and no rule asks for one (degradation.smk: jacobian_weights).
import re

# "resnet18/seed0|resnet18/seed1|...": the restore rules match the archived jobs alone
ARCHIVED_JOB = "|".join(re.escape(f"{m}/seed{s}") for m, s in ARCHIVED)


def restore_params(wildcards):
    model, seed = wildcards.job.rsplit("/seed", 1)
    return f"--archive-dir {shlex.quote(config['archive']['dir'])} --run {shlex.quote(RUN)} --model {model} --seed {seed}"


def data_manifest():
    """The data manifest provenance records: with archive.only, the archive's (no data is prepared), else the cache's."""
    if config["archive"]["only"]:
        return [f"{ARCHIVE}/data.json"] if Path(ARCHIVE, "data.json").exists() else []
    return [rules.prepare_data.output.manifest]


if ARCHIVED:

    ruleorder: restore_train > train
    ruleorder: restore_eval > evaluate

    rule restore_train:
        input:
            expand(f"{ARCHIVE}/train/{{{{job}}}}/{{name}}", name=archive.FILES["train"]),
        output:
            history=f"{RESULTS}/train/{{job}}/history.csv",
            summary=f"{RESULTS}/train/{{job}}/train.json",
            gradflow=f"{RESULTS}/train/{{job}}/gradflow.json",
        log:
            f"{LOGS}/restore/train-{{job}}.log",
        wildcard_constraints:
            job=ARCHIVED_JOB,
        conda:
            "../../envs/report.yaml"
        params:
            job=restore_params,
            out_dir=subpath(output.summary, parent=True),
        shell:
            "resrepro archive restore {params.job} --stage train --out-dir {params.out_dir:q} > {log:q} 2>&1"

    rule restore_eval:
        input:
            expand(f"{ARCHIVE}/eval/{{{{job}}}}/{{name}}", name=archive.FILES["eval"]),
        output:
            metrics=f"{RESULTS}/eval/{{job}}/metrics.json",
            predictions=f"{RESULTS}/eval/{{job}}/predictions.csv",
        log:
            f"{LOGS}/restore/eval-{{job}}.log",
        wildcard_constraints:
            job=ARCHIVED_JOB,
        conda:
            "../../envs/report.yaml"
        params:
            job=restore_params,
            out_dir=subpath(output.metrics, parent=True),
        shell:
            "resrepro archive restore {params.job} --stage eval --out-dir {params.out_dir:q} > {log:q} 2>&1"
