"""The figures and tables of a run, declared once: ids, captions, titles and the stage that writes them.

The Snakemake rules read their output lists from here (``workflow/rules/figures.smk``,
``analysis.smk``, ``report.smk``); the figures stage draws each id, and the report places and
captions them from these entries. Torch-free and light: the Snakefile imports it.

To add a figure: an entry here and its drawing function in :mod:`resrepro.figures` (for the figures
stage, an entry in ``resrepro.figures.run.DRAWERS``: the stage refuses a declared figure without one);
a table: an entry here and the code that fills it.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ResreproError

STAGES = ("figures", "tables", "report", "degradation")

# The columns of every training job's history.csv (written by resrepro.train, read by the figures).
# The per-seed quantities of results/<run>/tables/measured.json (resrepro.analysis.collect), which the audit reads.
MEASURED_QUANTITIES = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "epochs_to_convergence",
    "seconds_per_epoch",
    "total_hours",
    "images_per_second",
    "train_accuracy",
    "recall_spread",
)

HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "epoch_seconds",
    "images_per_second",
    # trainings that held a slot of this GPU during the epoch (sampled at its start and end; 1 = alone, empty on
    # the CPU): resrepro.gpus. Epoch times of shared epochs measure contention.
    "gpu_shared_by",
)
# Optional columns of history.csv, written only when train.test_curve is on (a test set was given): the test
# accuracy after each epoch and the seconds that pass took (not part of epoch_seconds). They select nothing;
# resrepro.selection reads them to measure what selecting on the test set would add.
# test_acc_a / test_acc_b: the same pass on the two fixed halves of the test set (even and odd positions), for
# the split-half estimate of the selection bias (resrepro.selection).
HISTORY_TEST_COLUMNS = ("test_acc", "test_acc_a", "test_acc_b", "test_seconds")


# Snakemake's benchmark file of every job (the rules' `benchmark:` directive), relative to results/<run>/:
# benchmarks/<rule>.tsv, or benchmarks/<rule>/<model>-seed<seed>.tsv for a job per (model, seed). The rules
# (workflow/rules/common.smk: bench) and the report's compute table (resrepro.compute) both build it here.
BENCHMARKS = "benchmarks"


def benchmark_file(rule: str, model: str | None = None, seed: int | str | None = None) -> str:
    """The benchmark TSV of ``rule``'s job (of ``model`` and ``seed`` for a per-job rule; patterns work too)."""
    if model is None:
        return f"{BENCHMARKS}/{rule}.tsv"
    return f"{BENCHMARKS}/{rule}/{model}-seed{seed}.tsv"


@dataclass(frozen=True)
class Figure:
    id: str  # file name: results/<run>/<stage folder>/<id>.svg and .png
    stage: str  # the rule that draws it: figures (results/<run>/figures) or degradation
    caption: str
    table: str = ""  # the table whose results it supports: the report places it beside that table


@dataclass(frozen=True)
class Table:
    id: str  # file name: <id>.csv, its numeric data_csv(id) (and .tex in reports/<run>/tables)
    stage: str  # the rule that computes it: tables, report or degradation
    title: str  # "" for Tables 1-3: they take the paper's own title (reports/paper.yaml)
    paper: bool = False  # one of the paper's own tables: its key in reports/paper.yaml is the id


FIGURES = (
    Figure(
        "curves",
        "figures",
        "Training (solid) and validation (dashed) accuracy and loss per epoch for each model; line: mean over "
        "seeds, band: min-max over seeds.",
        table="table2",
    ),
    Figure(
        "error_vs_params",
        "figures",
        "Test error against parameter count: ours (filled, mean \u00b1 std over seeds) and the paper (hollow): "
        "Table 3 at its printed counts (the ImageNet ones), ResNet-110's 4.2 % from its Conclusion at our count, "
        "since the paper prints none.",
        table="table3",
    ),
    Figure(
        "error_vs_flops",
        "figures",
        "Test error against forward multiply-accumulates per image. The paper prints no FLOPs: its points "
        "(hollow; Table 3 and the Conclusion's 4.2 % for ResNet-110) sit at the cost of our model of the same name.",
        table="table3",
    ),
    Figure(
        "time_vs_flops",
        "figures",
        "Training time per epoch of 50,000 images (the full CIFAR-10 training set, the paper's epoch) against "
        "forward multiply-accumulates per image (log-log): ours on our hardware, as our time per training image "
        "\u00d7 50,000 when our epochs are smaller (a run on a subset; the legend names their size); "
        "the paper's Table 2 (hollow) on hardware it does not name, at the cost of our model of the same name.",
        table="table2",
    ),
    Figure(
        "per_class_f1",
        "figures",
        "Test F1 per class and model (mean over seeds; whisker: \u00b11 std when there are several seeds).",
        table="table1",
    ),
    Figure(
        "confusion",
        "figures",
        "Test confusion matrices, summed over seeds; each row (true class) is normalised to 100 %, and every cell "
        "shows its percentage.",
        table="table1",
    ),
    Figure(
        "figure6",
        "degradation",
        "Training error (dashed) and validation error (bold) per epoch: plain networks (left) and residual "
        "networks (right), as in He et al. (2016), Fig. 6.",
        table="table6",
    ),
    Figure(
        "gradflow",
        "degradation",
        "Norm of the loss gradient reaching each block (input to output), on fixed training images: plain "
        "(dashed) and residual (solid), at initialisation and after training epochs.",
        table="table6",
    ),
)

TABLES = (
    Table("table1", "tables", "", paper=True),
    Table("table2", "tables", "", paper=True),
    Table("table3", "tables", "", paper=True),
    Table("context", "tables", "Table 4: Test error (%) in context: the paper, ours and published CIFAR-10 results"),
    Table("claims", "report", "Table 5: Claims audit (every claim of the paper, with its verdict)"),
    Table("runtimes", "report", "Table A1: Compute of each job (Snakemake benchmark files)"),
    Table("references", "report", "Table R1: References of the paper with a finding (no verdicts)"),
    Table(  # its data (selection.json and the numeric CSV) come from the tables stage, its display from the report
        "selection",
        "report",
        "Table 7: Selection bias: test accuracy (%) selected on validation, at the last epoch and at the best "
        "test epoch",
    ),
    Table("table6", "degradation", "Table 6: Plain and residual networks by depth, beside He et al. (2016), Table 6"),
)


# Beside each display table <id>.csv (typographic signs, "mean \u00b1 sd" in one cell) its numeric CSV: one
# quantity a column, mean, sd and n apart, ASCII minus, empty when missing (resrepro.report.tables).
DATA_CSV = "{id}.data.csv"


def data_csv(tid: str) -> str:
    """The file name of table ``tid``'s numeric CSV."""
    return DATA_CSV.format(id=tid)


def data_csvs(*stages: str) -> list[str]:
    """The numeric CSVs of the tables of ``stages``, as file names."""
    return [data_csv(t) for t in table_ids(*stages)]


def _check(stage: str) -> str:
    if stage not in STAGES:
        raise ResreproError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
    return stage


def figure_ids(stage: str) -> list[str]:
    return [f.id for f in FIGURES if f.stage == _check(stage)]


def figures_beside(tid: str) -> list[str]:
    """The figures that support table ``tid`` (their ``table``), in declaration order."""
    return [f.id for f in FIGURES if f.table == tid]


def table_ids(*stages: str) -> list[str]:
    return [t.id for t in TABLES if t.stage in {_check(s) for s in stages}]


def check_drawers(stage: str, drawers, where: str) -> list[str]:
    """The figure ids of ``stage``, once each has a drawing function in ``drawers`` (named ``where``) and every
    drawing function a declared figure; otherwise a ResreproError that says which side to fix."""
    declared = figure_ids(stage)
    missing = [f for f in declared if f not in drawers]
    if missing:
        raise ResreproError(
            f"figure(s) {', '.join(missing)} are declared in resrepro.outputs (stage {stage!r}) but have no "
            f"drawing function; add one to {where}"
        )
    extra = [f for f in drawers if f not in declared]
    if extra:
        raise ResreproError(
            f"{where} draws figure(s) {', '.join(extra)} that resrepro.outputs does not declare for the {stage} "
            "stage; declare them there (the Snakemake rule lists its outputs from it)"
        )
    return declared


def paper_table_ids() -> list[str]:
    """The paper's own tables (Tables 1-3), in order: keys of reports/paper.yaml and of the tables stage."""
    return [t.id for t in TABLES if t.paper]


def figure(fid: str) -> Figure:
    for f in FIGURES:
        if f.id == fid:
            return f
    raise ResreproError(f"no figure {fid!r} is declared in resrepro.outputs.FIGURES")


def table(tid: str) -> Table:
    for t in TABLES:
        if t.id == tid:
            return t
    raise ResreproError(f"no table {tid!r} is declared in resrepro.outputs.TABLES")
