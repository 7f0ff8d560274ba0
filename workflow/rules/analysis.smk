# Analysis stage: Tables 1-3 (paper | ours | difference) and the run's provenance.


rule tables:
    input:
        models=rules.model_info.output.info,
        metrics=per_job(f"{RESULTS}/eval/{{model}}/seed{{seed}}/metrics.json"),
        summaries=per_job(f"{RESULTS}/train/{{model}}/seed{{seed}}/train.json"),
        histories=per_job(f"{RESULTS}/train/{{model}}/seed{{seed}}/history.csv"),
        paper=PAPER,
    output:
        tables=f"{RESULTS}/tables/tables.json",
        measured=f"{RESULTS}/tables/measured.json",
        csv=expand(f"{RESULTS}/tables/table{{n}}.csv", n=[1, 2, 3]),
    log:
        f"{LOGS}/tables.log",
    conda:
        "../../envs/report.yaml"
    params:
        results=lambda wildcards, input: results_dir(input),
        spec=lambda wildcards: analysis_spec(),
        out_dir=subpath(output.tables, parent=True),
    shell:
        "resrepro tables --results {params.results:q} --paper {input.paper:q} --spec {params.spec:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule provenance:
    input:
        manifest=rules.prepare_data.output.manifest,
        summaries=per_job(f"{RESULTS}/train/{{model}}/seed{{seed}}/train.json"),
    output:
        f"{RESULTS}/provenance.json",
    log:
        f"{LOGS}/provenance.log",
    conda:
        "../../envs/report.yaml"
    params:
        config=lambda wildcards: as_json(config),
    shell:
        "resrepro provenance --config {params.config:q} --data-manifest {input.manifest:q}"
        " --out {output:q} > {log:q} 2>&1"
