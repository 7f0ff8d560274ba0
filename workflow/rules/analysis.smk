# Analysis stage: Tables 1-3 (paper | ours | difference) with the context table, the claims audit,
# and the run's provenance.


rule tables:
    input:
        models=rules.model_info.output.info,
        metrics=per_job(f"{RESULTS}/eval/{{model}}/seed{{seed}}/metrics.json"),
        summaries=per_job(f"{RESULTS}/train/{{model}}/seed{{seed}}/train.json"),
        histories=per_job(f"{RESULTS}/train/{{model}}/seed{{seed}}/history.csv"),
        paper=PAPER,
        claims=CLAIMS,
        context=CONTEXT,
        code=code("analysis"),
    output:
        tables=f"{RESULTS}/tables/tables.json",
        measured=f"{RESULTS}/tables/measured.json",
        selection=f"{RESULTS}/tables/selection.json",
        selection_data=f"{RESULTS}/tables/{outputs.data_csv('selection')}",
        csv=report(
            expand(
                f"{RESULTS}/tables/{{name}}.csv",
                name=outputs.table_ids("tables"),
            ),
            caption="../report/tables.rst",
            category="Tables",
            labels=lambda wildcards: {"run": RUN},
        ),
        data=expand(
            f"{RESULTS}/tables/{{name}}",
            name=outputs.data_csvs("tables"),
        ),
    log:
        f"{LOGS}/tables.log",
    benchmark:
        bench("tables")
    conda:
        "../../envs/report.yaml"
    params:
        results=lambda wildcards, input: results_dir(input),
        spec=lambda wildcards: analysis_spec(),
        out_dir=subpath(output.tables, parent=True),
    shell:
        "resrepro tables --results {params.results:q} --paper {input.paper:q} --claims {input.claims:q}"
        " --context {input.context:q} --spec {params.spec:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"


rule claims:
    input:
        models=rules.model_info.output.info,
        measured=rules.tables.output.measured,
        paper=PAPER,
        claims=CLAIMS,
        degradation=degradation_outputs(),
        code=code("claims"),
    output:
        audit=report(
            f"{RESULTS}/claims.json",
            caption="../report/claims.rst",
            category="Claims audit",
            labels={"file": "claims.json"},
        ),
        rubric=report(
            f"{RESULTS}/rubric.json",
            category="Claims audit",
            labels={"file": "rubric.json"},
        ),
    log:
        f"{LOGS}/claims.log",
    benchmark:
        bench("claims")
    conda:
        "../../envs/report.yaml"
    params:
        results=lambda wildcards, input: results_dir(input),
        spec=lambda wildcards: report_spec(),
    shell:
        "resrepro claims --results {params.results:q} --paper {input.paper:q} --claims {input.claims:q}"
        " --spec {params.spec:q} --out {output.audit:q} --rubric {output.rubric:q} > {log:q} 2>&1"


rule provenance:
    input:
        manifest=data_manifest(),
        summaries=per_job(f"{RESULTS}/train/{{model}}/seed{{seed}}/train.json"),
        claims=CLAIMS,
    output:
        report(
            f"{RESULTS}/provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"file": "provenance.json"},
        ),
    log:
        f"{LOGS}/provenance.log",
    benchmark:
        bench("provenance")
    conda:
        "../../envs/report.yaml"
    params:
        config=lambda wildcards: as_json(config),
        repo=lambda wildcards: str(REPO),  # the commit of the workflow's sources, also under `snakemake -d <dir>`
        manifest=lambda wildcards, input: (
            f"--data-manifest {shlex.quote(str(input.manifest))}"
            if str(input.manifest)
            else ""
        ),
    shell:
        "resrepro provenance --config {params.config:q} {params.manifest}"
        " --claims {input.claims:q} --repo {params.repo:q} --summaries {input.summaries:q}"
        " --out {output:q} > {log:q} 2>&1"
