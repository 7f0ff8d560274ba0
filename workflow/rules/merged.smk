# Merged audit (claims stage): one audit across the runs named in `merge` (config.yaml: paper and
# degradation), after each has finished: every claim any of them decides, and what deciding the rest
# would cost. Only a run's own workflow makes its files, so the other runs' files must exist already.

if config["merge"]:

    rule merged_claims:
        input:
            measured=merged_files("tables/measured.json"),
            models=merged_files("models.json"),
            provenance=merged_files("provenance.json"),
            audits=merged_files("claims.json"),
            studies=merged_studies,
            paper=PAPER,
            claims=CLAIMS,
            code=code("claims"),
        output:
            audit=report(
                f"{MERGED}/claims.json",
                caption="../report/merged_claims.rst",
                category="Claims audit",
                labels={"file": "merged claims.json"},
            ),
            rubric=report(
                f"{MERGED}/rubric.json",
                category="Claims audit",
                labels={"file": "merged rubric.json"},
            ),
        log:
            f"{MERGED}/logs/claims.log",
        benchmark:
            bench("merged_claims", root=MERGED)
        conda:
            "../../envs/report.yaml"
        params:
            runs=lambda wildcards, input: " ".join(
                shlex.quote(str(Path(p).parent)) for p in input.models
            ),
            spec=lambda wildcards: merged_spec(),
        shell:
            "resrepro claims --merge {params.runs} --paper {input.paper:q} --claims {input.claims:q}"
            " --spec {params.spec:q} --out {output.audit:q} --rubric {output.rubric:q} > {log:q} 2>&1"
