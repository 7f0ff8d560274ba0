# Figures stage: training curves and test error against parameters, as SVG (report) and PNG.


rule figures:
    input:
        models=rules.model_info.output.info,
        measured=rules.tables.output.measured,
        histories=rules.tables.input.histories,
        paper=PAPER,
    output:
        curves=f"{RESULTS}/figures/curves.svg",
        curves_png=f"{RESULTS}/figures/curves.png",
        params=f"{RESULTS}/figures/error_vs_params.svg",
        params_png=f"{RESULTS}/figures/error_vs_params.png",
    log:
        f"{LOGS}/figures.log",
    conda:
        "../../envs/report.yaml"
    params:
        results=lambda wildcards, input: results_dir(input),
        spec=lambda wildcards: analysis_spec(),
        out_dir=subpath(output.curves, parent=True),
    shell:
        "resrepro figures --results {params.results:q} --paper {input.paper:q} --spec {params.spec:q}"
        " --out-dir {params.out_dir:q} > {log:q} 2>&1"
