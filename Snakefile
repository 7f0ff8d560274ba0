# resrepro: reproduce and audit Arslan, Zhang & Hossein (2025) on CIFAR-10.
#   snakemake --cores all                                   full reproduction (config.yaml)
#   snakemake --cores all --configfile presets/quick.yaml   CPU demo (make demo)
#   snakemake --cores all merged_claims                     one audit of the runs in `merge` (make merged)
# Snakemake orchestrates; every rule calls the `resrepro` command line (src/resrepro).
import sys

from snakemake.utils import min_version
from resrepro import plan
from resrepro.config import check_file

min_version("9.0")
# A YAML error in config.yaml names its file and line here, before Snakemake's own message (which
# names neither). --configfile files are read by Snakemake before the Snakefile: see the README.
check_file("config.yaml")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"  # the description of `snakemake --report`


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/archive.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/degradation.smk"
include: "workflow/rules/merged.smk"


# The cost up front (resrepro.plan), on stderr: not in the jobs' own runs, nor in what --dag or --lint print
# on stdout. At parse time, because onstart: is skipped by a dry run (snakemake -n).
if workflow.is_main_process:
    print(plan.line(config), file=sys.stderr)


rule all:
    default_target: True
    input:
        rules.report.output,
        degradation_outputs(),
