# Report stage: one set of result files, rendered through Jinja templates to PDF (Typst) and HTML,
# and every table as a LaTeX booktabs fragment and CSV. Only this rule reads the templates and the
# report's wording (templates/report_text.yaml), so editing one re-runs nothing upstream
# (tests/test_pipeline.py).

TABLE_FILES = outputs.table_ids("tables", "report")  # declared once in resrepro.outputs


localrules:
    report,


rule report:
    input:
        tables=rules.tables.output.tables,
        selection=rules.tables.output.selection,
        figures=rules.figures.output.svg,
        claims=rules.claims.output.audit,
        provenance=rules.provenance.output,
        degradation=degradation_outputs(),
        models=rules.model_info.output.info,
        references=REFERENCES,
        templates=TEMPLATES,
        code=code("report"),
    output:
        pdf=report(f"{REPORTS}/report.pdf", category="Report", labels={"file": "PDF"}),
        html=report(
            f"{REPORTS}/report.html", category="Report", labels={"file": "HTML"}
        ),
        tables=expand(
            f"{REPORTS}/tables/{{name}}.{{ext}}", name=TABLE_FILES, ext=["tex", "csv"]
        ),
        data=expand(
            f"{REPORTS}/tables/{{name}}", name=outputs.data_csvs("tables", "report")
        ),
    log:
        f"{LOGS}/report.log",
    conda:
        "../../envs/report.yaml"
    params:
        results=lambda wildcards, input: results_dir(input),
        spec=lambda wildcards: report_spec(),
        tables_dir=lambda wildcards, output: str(Path(output.tables[0]).parent),
    shell:
        "resrepro report --results {params.results:q} --spec {params.spec:q}"
        " --pdf {output.pdf:q} --html {output.html:q} --tables-dir {params.tables_dir:q}"
        " --references {input.references:q} > {log:q} 2>&1"
