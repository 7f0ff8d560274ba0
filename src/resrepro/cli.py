"""The ``resrepro`` command line: one subcommand per pipeline stage.

Snakemake rules call these; they are equally usable by hand. Every subcommand writes its outputs
atomically and exits non-zero with a one-paragraph message (problem and fix) on bad input.
Heavy imports (torch) happen inside the subcommands that need them, so ``resrepro --help`` and the
light stages start quickly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__, archive, errors, gpus, io, plan


def _json_arg(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON: {e}") from None


def cmd_validate(a) -> None:
    from . import config

    cfg = config.load(*a.configfile)
    print(
        json.dumps(cfg, indent=2)
        if a.print
        else f"configuration OK: run {cfg['run']!r}, {len(cfg['models'])} models x {len(cfg['seeds'])} seeds"
    )


def cmd_data(a) -> None:
    from . import data

    manifest = data.prepare(a.source, a.cache, sha256=a.sha256)
    print(f"prepared CIFAR-10: {manifest}")


def cmd_models(a) -> None:
    from . import models

    io.write_json(a.out, [models.model_info(m) for m in a.models.split(",")])


def cmd_catalog(a) -> None:
    """Print the model catalog (torch-free): what each name is and what it costs."""
    from . import catalog

    print(f"{'name':<11} {'display':<11} {'family':<13} {'depth':>5} {'block':<13} {'twin':<11} {'GMACs':>7}")
    for spec in catalog.specs():
        twin = spec.twin or "-"
        print(
            f"{spec.name:<11} {spec.display:<11} {spec.family:<13} {spec.depth:>5} {spec.block:<13} {twin:<11} "
            f"{spec.macs / 1e9:>7.3f}"
        )


def _arrays(cache: str, data_cfg: dict):
    from . import data

    # the configured source and checksum: a damaged cache is rebuilt from them, never from another source
    source, sha256 = data_cfg.get("source"), data_cfg.get("sha256")
    x_train, y_train, x_test, y_test = data.load(source, cache, sha256=sha256, progress=False)
    sel = data.select(data_cfg, y_train, y_test)
    return x_train, y_train, x_test, y_test, sel


def _check_section(option: str, value, section: str) -> None:
    """Refuse a partial or unknown ``--recipe`` / ``--data``: it must be the whole resolved config section."""
    from .config import ConfigError, schema

    keys = set(schema()["properties"][section]["properties"])
    missing = sorted(keys - set(value)) if isinstance(value, dict) else sorted(keys)
    if missing:
        raise ConfigError(
            f"{option} is not the whole {section} section: it lacks {', '.join(missing)}; fix: pass the resolved "
            f"section as JSON (`resrepro validate --print config.yaml` shows it; the Snakemake rules pass it)"
        )


def cmd_train(a) -> None:
    _check_section("--recipe", a.recipe, "train")
    _check_section("--data", a.data, "data")
    errors.check_writable(a.out_dir, Path(a.checkpoint).parent)  # before any epoch, not after the last
    with gpus.for_job(a.gpu, a.recipe):  # a GPU slot (CUDA_VISIBLE_DEVICES) when given one; CUDA checked first
        _train(a)


def _train(a) -> None:
    from . import train
    from .checkpoints import data_identity
    from .data import read_manifest

    x_train, y_train, x_test, y_test, sel = _arrays(a.cache, a.data)
    # train.test_curve: the test accuracy per epoch goes to history.csv only (it never selects: resrepro.train)
    test_set = (x_test[sel["test"]], y_test[sel["test"]]) if a.recipe.get("test_curve", True) else None
    summary = train.train(
        a.model,
        a.recipe,
        (x_train[sel["train"]], y_train[sel["train"]]),
        (x_train[sel["val"]], y_train[sel["val"]]),
        a.seed,
        a.out_dir,
        a.checkpoint,
        data_key=data_identity(a.data, read_manifest(a.cache)),  # a checkpoint of other data is never resumed
        progress=not a.no_progress,
        test_set=test_set,
    )
    print(
        f"{a.model} seed {a.seed}: selected epoch {summary['selected_epoch']} "
        f"(val acc {summary['selected_val_acc']:.4f}), {summary['images_per_second']:.0f} img/s "
        f"on {summary['device_name']}"
    )


def cmd_evaluate(a) -> None:
    from . import evaluate

    # a GPU slot like a training's (so concurrent trainings' gpu_shared_by count it); CUDA checked first
    with gpus.for_job(a.gpu, {"device": a.device, "pack": a.pack}):
        _, _, x_test, y_test, sel = _arrays(a.cache, a.data)
        idx = sel["test"]
        test_set = (x_test[idx], y_test[idx])
        m = evaluate.evaluate(a.model, a.weights, test_set, idx, a.out_dir, a.batch_size, a.device)
    print(f"{a.model}: test accuracy {m['accuracy']:.4f} on {m['n']} images")


def _text_values(claims: str | None) -> dict:
    """Numbers the paper prints only in its text (reports/claims.yaml); none without the file."""
    from .paper import load_claims, text_values

    return text_values(load_claims(claims)) if claims else {}


def cmd_tables(a) -> None:
    from . import analysis
    from .paper import load_context, load_paper

    measured = analysis.collect(a.results, a.spec["models"], a.spec["seeds"], a.spec["tolerance"])
    paper = load_paper(a.paper)
    tables = analysis.build_tables(measured, paper, a.spec["seeds"], a.spec["tolerance"], a.spec.get("stamp"))
    if a.context:
        text, sources = _text_values(a.claims), load_context(a.context)
        tables.append(analysis.build_context_table(measured, paper, text, sources, a.spec.get("stamp")))
    io.write_json(Path(a.out_dir) / "measured.json", measured)
    analysis.write_tables(tables, a.out_dir)
    analysis.write_selection(a.results, a.spec["models"], a.spec["seeds"], a.out_dir)


def cmd_figures(a) -> None:
    from . import figures
    from .paper import load_paper

    figures.from_results(a.results, load_paper(a.paper), _text_values(a.claims), a.spec, a.out_dir)


def cmd_claims(a) -> None:
    from . import claims
    from .claims import rubric

    if a.merge:  # one audit across runs: per-run configurations from their provenance.json
        audit = claims.run_merged_audit(a.merge, a.paper, a.claims, target=a.spec.get("target"))
    else:
        audit = claims.run_audit(a.results, a.paper, a.claims, a.spec)
    tree = rubric.build(audit)
    rubric.validate(tree)
    io.write_json(a.out, audit)
    if a.rubric:
        io.write_json(a.rubric, tree)
    print(f"{len(audit['claims'])} claims audited: " + ", ".join(f"{v} {k}" for k, v in audit["verdicts"].items()))


def cmd_provenance(a) -> None:
    from . import provenance

    manifest = io.read_json(a.data_manifest) if a.data_manifest else None
    summaries = [io.read_json(p) for p in a.summaries]
    io.write_json(a.out, provenance.collect(a.config, manifest, repo=a.repo, claims=a.claims, summaries=summaries))


def cmd_report(a) -> None:
    from . import report

    context = report.build_context(a.results, a.spec, references=a.references)
    report.render(context, a.pdf, a.html)
    if a.tables_dir:
        report.write_table_files(context, a.tables_dir)
    print(f"report written: {a.pdf}, {a.html}")


def cmd_degradation(a) -> None:
    from . import degradation
    from .paper import load_context

    s = degradation.run(
        a.results, a.spec["models"], a.spec["seeds"], a.out_dir, load_context(a.context), a.spec.get("stamp")
    )
    ev = s["evidence"]
    print(f"degradation study: plain degrades: {ev['plain_degrades']}, residual degrades: {ev['residual_degrades']}")


def cmd_bench(a) -> None:
    from . import bench, config

    cfg = config.load(*a.configfile)
    recipe = dict(cfg["train"])  # by default, the engine exactly as the pipeline runs it
    if a.compile is not None:
        recipe["compile"] = a.compile
    if a.compile_mode:
        recipe["compile_mode"] = a.compile_mode
    if a.threads:
        recipe["threads"] = a.threads
    if a.pack:  # k trainings at once on one device (resrepro.benchpack)
        from . import benchpack

        benchpack.main(a.models.split(","), recipe, a.pack, a.device, a.batch_size, a.warmup, a.steps, a.json)
        return
    bench.main(a.models.split(","), recipe, a.device, a.batch_size, a.warmup, a.steps, a.workers, a.rounds, a.json)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="resrepro", description="Reproduce and audit Arslan, Zhang & Hossein (2025) on CIFAR-10."
    )
    p.add_argument("--version", action="version", version=f"resrepro {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("validate", help="validate configuration files (merged in order)")
    s.add_argument("configfile", nargs="+")
    s.add_argument("--print", action="store_true", help="print the resolved configuration")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("data", help="fetch, verify and prepare CIFAR-10 into the cache")
    s.add_argument("--cache", required=True)
    s.add_argument("--source", default=None, help="local archive or extracted folder, tried first")
    s.add_argument("--sha256", default=None, help="expected sha256 of a non-standard archive")
    s.set_defaults(func=cmd_data)

    s = sub.add_parser("catalog", help="list the model catalog: names, families, depths, twins, MACs")
    s.set_defaults(func=cmd_catalog)

    s = sub.add_parser("models", help="parameter and FLOP counts")
    s.add_argument("--models", required=True, help="comma-separated registry names")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_models)

    _add_job_commands(sub)
    _add_result_commands(sub)
    _add_bench_command(sub)
    plan.add_command(sub)
    archive.add_command(sub)
    gpus.add_command(sub)
    return p


def _add_job_commands(sub) -> None:
    """The per-job commands: train and evaluate one (model, seed)."""
    for name, func, help_ in (
        ("train", cmd_train, "train one (model, seed)"),
        ("evaluate", cmd_evaluate, "evaluate on the test set"),
    ):
        s = sub.add_parser(name, help=help_)
        s.add_argument("--model", required=True)
        s.add_argument("--cache", required=True, help="the prepared-data cache folder")
        s.add_argument("--data", type=_json_arg, required=True, help="the config's data section, as JSON")
        s.add_argument("--out-dir", required=True)
        s.set_defaults(func=func)
        if name == "train":
            s.add_argument("--seed", type=int, required=True)
            s.add_argument("--recipe", type=_json_arg, required=True, help="the resolved training recipe, as JSON")
            s.add_argument("--checkpoint", required=True, help="resumable state (not a declared output)")
            s.add_argument("--no-progress", action="store_true")
        else:
            s.add_argument("--weights", required=True)
            s.add_argument("--batch-size", type=int, default=1000)
            s.add_argument("--device", default="auto")
            s.add_argument("--pack", type=int, default=1, help="train.pack: the GPU's slots, shared with trainings")
        s.add_argument("--gpu", type=int, default=0, help="GPUs given to the job (its Snakemake gpu resource)")


def _add_result_commands(sub) -> None:
    """The commands that compute from a run's result files: tables, figures, claims, provenance, report."""
    for name, func in (("tables", cmd_tables), ("figures", cmd_figures)):
        s = sub.add_parser(name, help=f"{name} from a run's result files")
        s.add_argument("--results", required=True)
        s.add_argument("--paper", required=True, help="transcription of the paper's numbers (reports/paper.yaml)")
        s.add_argument(
            "--spec", type=_json_arg, required=True, help='{"models", "seeds", "tolerance", "stamp"} as JSON'
        )
        s.add_argument("--out-dir", required=True)
        s.add_argument(
            "--claims",
            default=None,
            help="the paper's text claims (reports/claims.yaml), for numbers printed only in the text",
        )
        if name == "tables":
            s.add_argument(
                "--context",
                default=None,
                help="published results of other work (reports/context.yaml): adds the context table",
            )
        s.set_defaults(func=func)

    s = sub.add_parser("claims", help="audit every claim of the paper against itself and a run's results")
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--results", help="one run's results folder (results/<run>)")
    which.add_argument(
        "--merge",
        nargs="+",
        metavar="RESULTS",
        help="several runs' results folders: one merged audit (results/merged/claims.json)",
    )
    s.add_argument("--paper", required=True, help="the paper's tables (reports/paper.yaml)")
    s.add_argument("--claims", required=True, help="the paper's text claims (reports/claims.yaml)")
    s.add_argument(
        "--spec",
        type=_json_arg,
        required=True,
        help='the run: {"run", "stamp", "models", "seeds", "data", "train"} as JSON; with --merge:'
        ' {"target": {"seeds", "epochs", "train_images"}}, the run that would decide a claim',
    )
    s.add_argument("--out", required=True, help="results/<run>/claims.json")
    s.add_argument(
        "--rubric", default=None, help="results/<run>/rubric.json: the audit as a weighted tree (rubric.schema.json)"
    )
    s.set_defaults(func=cmd_claims)

    s = sub.add_parser("provenance", help="record code, config, software, hardware and data")
    s.add_argument("--config", type=_json_arg, required=True)
    s.add_argument("--data-manifest", default=None)
    s.add_argument(
        "--claims", default=None, help="reports/claims.yaml: records the SHA-256 of its pre-registered margins"
    )
    s.add_argument(
        "--repo", default=".", help="the workflow's source folder, whose git commit is recorded (default: here)"
    )
    s.add_argument("--summaries", nargs="*", default=[], help="the training jobs' train.json (their environments)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_provenance)

    s = sub.add_parser("report", help="render the report (PDF and HTML) from a run's result files")
    s.add_argument("--results", required=True)
    s.add_argument("--spec", type=_json_arg, required=True, help='{"run", "stamp", ...} as JSON')
    s.add_argument("--pdf", required=True)
    s.add_argument("--html", required=True)
    s.add_argument(
        "--tables-dir",
        default=None,
        help="also write every table as <id>.tex (booktabs), <id>.csv and its numeric CSV (<id>.data.csv) here",
    )
    s.add_argument(
        "--references", default=None, help="the paper's references (reports/references.yaml): adds their section"
    )
    s.set_defaults(func=cmd_report)
    s = sub.add_parser("degradation", help="plain vs residual: Figure 6, Table 6, gradient flow (He et al.)")
    s.add_argument("--results", required=True)
    s.add_argument("--spec", type=_json_arg, required=True, help='{"models", "seeds", "stamp"} as JSON')
    s.add_argument("--context", required=True, help="published results (reports/context.yaml): He et al.'s Table 6")
    s.add_argument("--out-dir", required=True)
    s.set_defaults(func=cmd_degradation)


def _add_bench_command(sub) -> None:
    s = sub.add_parser("bench", help="training throughput: our engine vs. the DataLoader+PIL+fp32 loop")
    s.add_argument("--models", default="resnet20,resnet18", help="comma-separated registry names")
    s.add_argument("--device", default="auto")
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--steps", type=int, default=None, help="timed steps per model (default: 4 on CPU, 60 on CUDA)")
    s.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 2 on CPU, 15 on CUDA)")
    s.add_argument("--workers", type=int, default=2, help="DataLoader workers of the reference loop (kuangliu uses 2)")
    s.add_argument("--threads", type=int, default=None, help="CPU threads (default: train.threads of the config)")
    s.add_argument("--rounds", type=int, default=2, help="alternating timings per model; the best of each counts")
    s.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile our model or not (default: train.compile of the config: on CUDA only); "
        "warm-up time is reported",
    )
    s.add_argument(
        "--compile-mode",
        default=None,
        choices=["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
        help="default: train.compile_mode of the config (reduce-overhead captures CUDA graphs)",
    )
    s.add_argument(
        "--pack", default=None, help="e.g. 1,2,3,4: k trainings at once on the device, one process each (adds k = 1)"
    )
    s.add_argument("--configfile", nargs="+", default=["config.yaml"], help="recipe source (default: config.yaml)")
    s.add_argument("--json", default=None, help="also write the figures as JSON here")
    s.set_defaults(func=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; an expected failure prints ``error:`` and ``fix:`` lines and returns its exit code
    (:mod:`resrepro.errors`), a bug keeps its traceback."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except Exception as e:  # noqa: BLE001 - re-raised below unless it is an expected failure
        known = errors.describe(e)
        if known is None:
            raise
        what, fix, code = known
        print(f"resrepro {args.command}: error: {what}\nresrepro {args.command}: fix: {fix}", file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
