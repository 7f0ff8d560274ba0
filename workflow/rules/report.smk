# Report stage: one set of result files, rendered through Jinja templates to PDF (Typst) and HTML.


localrules:
    report,


rule report:
    input:
        tables=rules.tables.output.tables,
        figures=rules.figures.output,
        provenance=rules.provenance.output,
        models=rules.model_info.output.info,
        templates=TEMPLATES,
    output:
        pdf=f"{REPORTS}/report.pdf",
        html=f"{REPORTS}/report.html",
    log:
        f"{LOGS}/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        results=lambda wildcards, input: results_dir(input),
        spec=lambda wildcards: report_spec(),
    shell:
        "resrepro report --results {params.results:q} --spec {params.spec:q}"
        " --pdf {output.pdf:q} --html {output.html:q} > {log:q} 2>&1"
