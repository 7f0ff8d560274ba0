# Figures stage: training curves, test error against parameters and FLOPs, time per epoch against
# FLOPs, per-class F1 and confusion matrices, as SVG (report) and PNG.

FIGURES = outputs.figure_ids("figures")  # declared once in resrepro.outputs


rule figures:
    input:
        models=rules.model_info.output.info,
        measured=rules.tables.output.measured,
        histories=rules.tables.input.histories,
        metrics=rules.tables.input.metrics,
        summaries=rules.tables.input.summaries,  # train.json: the epoch's size, for time_vs_flops
        paper=PAPER,
        claims=CLAIMS,
        code=code("figures"),
    output:
        svg=report(
            expand(f"{RESULTS}/figures/{{name}}.svg", name=FIGURES),
            caption="../report/figures.rst",
            category="Figures",
            labels=lambda wildcards: {"run": RUN},
        ),
        png=expand(f"{RESULTS}/figures/{{name}}.png", name=FIGURES),
    log:
        f"{LOGS}/figures.log",
    benchmark:
        bench("figures")
    conda:
        "../../envs/report.yaml"
    params:
        results=lambda wildcards, input: results_dir(input),
        spec=lambda wildcards: analysis_spec(),
        out_dir=lambda wildcards, output: str(Path(output.svg[0]).parent),
    shell:
        "resrepro figures --results {params.results:q} --paper {input.paper:q} --claims {input.claims:q}"
        " --spec {params.spec:q} --out-dir {params.out_dir:q} > {log:q} 2>&1"
