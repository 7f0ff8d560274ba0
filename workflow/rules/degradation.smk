# Degradation study (He et al. Fig. 6 / Table 6, gradient flow): runs when `models` holds
# plain/residual twins (presets/degradation.yaml, presets/degradation-quick.yaml).


rule degradation:
    input:
        models=rules.model_info.output.info,
        metrics=per_job(f"{RESULTS}/eval/{{model}}/seed{{seed}}/metrics.json"),
        histories=per_job(f"{RESULTS}/train/{{model}}/seed{{seed}}/history.csv"),
        gradflow=per_job(f"{RESULTS}/train/{{model}}/seed{{seed}}/gradflow.json"),
        weights=jacobian_weights,
        context=CONTEXT,
        code=code("degradation"),
    output:
        summary=f"{RESULTS}/degradation/summary.json",
        # tables and figures of the study, declared once in resrepro.outputs
        tables=report(
            expand(
                f"{RESULTS}/degradation/{{name}}.csv",
                name=outputs.table_ids("degradation"),
            ),
            caption="../report/degradation.rst",
            category="Degradation study",
            labels=lambda wildcards: {"run": RUN, "kind": "table"},
        ),
        data=expand(
            f"{RESULTS}/degradation/{{name}}",
            name=outputs.data_csvs("degradation"),
        ),
        svg=report(
            expand(
                f"{RESULTS}/degradation/{{name}}.svg",
                name=outputs.figure_ids("degradation"),
            ),
            caption="../report/degradation.rst",
            category="Degradation study",
            labels=lambda wildcards: {"run": RUN, "kind": "figure"},
        ),
        png=expand(
            f"{RESULTS}/degradation/{{name}}.png",
            name=outputs.figure_ids("degradation"),
        ),
    log:
        f"{LOGS}/degradation.log",
    benchmark:
        bench("degradation")
    conda:
        "../../envs/report.yaml"
    params:
        results=lambda wildcards, input: results_dir(input),
        spec=lambda wildcards: as_json(
            {"models": MODELS, "seeds": JOBS, "stamp": config["stamp"]}
        ),
        out_dir=subpath(output.summary, parent=True),
    shell:
        "resrepro degradation --results {params.results:q} --spec {params.spec:q}"
        " --context {input.context:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
