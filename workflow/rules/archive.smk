# The shipped measured jobs (resrepro.archive): a (model, seed) archived under archive/<run>/ for this config
# (its recorded recipe and data match) is restored from there instead of trained and evaluated; the rest train.
# The archive's files are the restore rules' inputs: one missing there means the job does not count, and it
# trains. An archived job ships no weights.pt, and no rule asks for one (common.smk: jacobian_weights).


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
