"""The report's content: its document context, computed from a run's result files alone.

The values (numbers, lists, flags) are computed here; every sentence, heading, definition, table note
and label is in ``templates/report_text.yaml`` (:data:`TEXT_FILE`), rendered by :class:`.prose.Prose`.
Figures and tables are declared, with their captions and titles, in :mod:`resrepro.outputs`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .. import catalog, compute, fmt, jobset, outputs, selection
from .. import references as paper_references
from ..claims.gradients import WEIGHT_RATIO
from ..claims.values import PI_LEVEL
from ..data import TRAIN_SIZE
from ..io import read_json
from ..provenance import engines
from ..stats import CONFIDENCE
from . import layout
from .prose import Prose
from .render import template_dir

TEXT_FILE = "report_text.yaml"  # in the template folder
STUDY_SUMMARY = ("degradation", "summary.json")  # the degradation study's summary, when the run has one


def build_context(
    results: str | Path,
    spec: dict,
    references: str | Path | None = None,
) -> dict:
    """Everything the templates show, from ``results/<run>/`` files and the run's spec; with ``references``
    (reports/references.yaml) also the section on the paper's references."""
    results = Path(results)
    run = _load(results, spec)
    audit, stamp = run["audit"], spec.get("stamp")
    text = Prose(template_dir() / TEXT_FILE)
    common = {"stamp": stamp, "comparable": audit["comparable"], "study": results.joinpath(*STUDY_SUMMARY).exists()}
    common["measured_line"] = jobset.measured_line(spec)  # a run from the shipped archive: which jobs it holds
    study, degradation_tables, degradation_figures = _degradation(results, text, common)
    refs_section, refs_tables = _references(text, common, references)
    bib = layout.bibliography()
    common["cite"] = layout.citations(bib)
    selection_section, selection_table = _selection(results, spec, text, common)
    usage = compute.collect(
        results,
        spec["models"],
        spec["seeds"],
        common["study"],
        spec.get("archived", ()),
        spec.get("archive_only", False),
    )
    sections = [
        _scope(text, common, audit),
        _methodology(text, common, run, spec),
        _section(
            text, "results", common, tables=[t["id"] for t in run["tables"]], figures=outputs.figure_ids("figures")
        ),
        _section(text, "claims_audit", common, tables=["claims"]),
        _section(text, "beyond", common),
        *([study | {"level": 2}] if study else []),  # a study beyond the paper: a subsection (level 2)
        selection_section | {"level": 2},  # selection bias: what test-set selection adds
        _section(text, "discussion", common | {"choices": audit["choices"]}),
        _section(text, "deviations", common),
        _checklist(text, common, spec, run["prov"], usage),  # NeurIPS checklist Q7, Q8 (with Table A1)
        *([refs_section] if refs_section else []),  # the paper's references, apart from the verdicts
        layout.bibliography_section(text, common, bib),
        _section(text, "claims_evidence", common, claims=True, numbered=False),  # appendices from here
        _section(text, "bounds", common | {"floors": _floors(audit)}, numbered=False),
        _section(text, "appendix", common, provenance=True, tables=["runtimes"], numbered=False),
    ]
    shown = ("id", "title", "columns", "rows", "notes", "align", "groups", "parts", "data")
    tables = [{k: t[k] for k in shown if k in t} for t in run["tables"]]
    tables += degradation_tables + refs_tables + [selection_table]
    tables.append(layout.claims_table(text, common, audit))
    tables.append(_runtimes(text, common, usage))
    claims = [
        {k: c[k] for k in ("id", "verdict", "location", "quote", "ours")}
        | {
            "paper": c["statement"],
            "reason": c["reason"],
            "checks": [{k: ch[k] for k in ("kind", "outcome", "reason")} for ch in c["checks"]],
            "robust": c.get("robust", True),
            "depends_on": c.get("depends_on") or [],
            "untestable": c.get("untestable"),
            "holm": c.get("holm"),
            "readings": [{k: r[k] for k in ("name", "verdict", "reason")} for r in c.get("readings") or []],
        }
        for c in audit["claims"]
    ]
    return {
        "title": text.render("title", **common),
        "byline": layout.byline(text, common, run["prov"], spec["run"]),
        "summary_title": text.render("summary_box.heading", **common),
        "highlights_title": text.render("summary_box.title", **common),
        "highlights": layout.highlights(text, common, audit),
        "run": spec["run"],
        "stamp": stamp,
        "summary": _summary(text, common, run, spec),
        "sections": sections,
        "tables": tables,
        "figures": [_figure(fid, results / "figures") for fid in outputs.figure_ids("figures")] + degradation_figures,
        "claims": claims,
        "provenance": _provenance(text, common, run["prov"]),
    }


def _load(results: Path, spec: dict) -> dict:
    """The result files the report reads: tables, measurements, provenance, the audit, each job's train.json."""
    models, seeds = spec["models"], spec["seeds"]
    return {
        "tables": read_json(results / "tables" / "tables.json"),
        "measured": read_json(results / "tables" / "measured.json"),
        "prov": read_json(results / "provenance.json"),
        "audit": read_json(results / "claims.json"),
        "summaries": {
            (m, s): read_json(results / "train" / m / f"seed{s}" / "train.json") for m, s in jobset.pairs(models, seeds)
        },
        "n_test": read_json(
            results / "eval" / models[0] / f"seed{jobset.seeds_for(seeds, models[0])[0]}" / "metrics.json"
        )["n"],
    }


def _section(text: Prose, key: str, values: dict, **placed: Any) -> dict:
    """A section from the text file's entry ``key`` (title, paragraphs, terms) and what it places."""
    section = {"id": key, "title": text.render(f"{key}.title", **values)}
    for part in ("paragraphs", "terms"):
        if part in text.entry(key):
            section[part] = text.render(f"{key}.{part}", **values)
    return section | placed


def _floors(audit: dict) -> list[dict]:
    """The audit's macro_floor checks (resrepro.claims.bounds.macro_floor), one per Table 1 cell."""
    out = []
    for c in audit["claims"]:
        for ch in c["checks"]:
            ev = ch.get("evidence") or {}
            if ch.get("rule") == "macro_floor" and "printed_value" in ev:
                out.append(
                    {
                        "id": c["id"],
                        "quantity": "F1" if c["form"].get("quantity") == "f1" else c["form"].get("quantity"),
                        "value": ev["printed_value"],
                        "accuracy": ev["printed_accuracy"],
                        "floor": ev["floor"],
                        "largest_spread": ev["largest_spread"],
                        "outcome": ch["outcome"],
                    }
                )
    return out


def _figure(fid: str, folder: Path) -> dict:
    return {
        "id": fid,
        "table": outputs.figure(fid).table,
        "caption": outputs.figure(fid).caption,
        "svg": str(folder / f"{fid}.svg"),
        "png": str(folder / f"{fid}.png"),
    }


def _summary(text: Prose, common: dict, run: dict, spec: dict) -> list[str]:
    models, seeds = spec["models"], spec["seeds"]
    audit, measured = run["audit"], run["measured"]
    first = next(iter(run["summaries"].values()))
    ranking = sorted(models, key=lambda m: -measured[m]["accuracy"]["mean"])
    n_claims = len(audit["claims"])
    n_cells = sum(c["form"]["type"] == "table_cell" for c in audit["claims"])
    return text.render(
        "summary",
        **common,
        models=[fmt.display_name(m) for m in models],
        n_seeds=len(jobset.all_seeds(seeds)),
        seed_counts=sorted({len(jobset.seeds_for(seeds, m)) for m in models}),
        train_images=first["train_images"],
        val_images=first["val_images"],
        n_test=run["n_test"],
        ranking=[{"name": fmt.display_name(m), "accuracy": measured[m]["accuracy"]["mean"]} for m in ranking],
        n_claims=n_claims,
        n_cells=n_cells,
        n_text=n_claims - n_cells,
        verdicts=audit["verdicts"],
        headline=audit["headline"],
        not_comparable_because=audit.get("not_comparable_because", []),
    )


def _scope(text: Prose, common: dict, audit: dict) -> dict:
    by_location: dict[str, int] = {}
    for c in audit["claims"]:
        key = c["location"].split(",")[0]
        by_location[key] = by_location.get(key, 0) + 1
    return _section(text, "scope", common | {"n_claims": len(audit["claims"]), "claims_by_location": by_location})


def _methodology(text: Prose, common: dict, run: dict, spec: dict) -> dict:
    d = spec["data"]
    manifest = run["prov"].get("data") or {}
    verified = manifest.get("verified", {})
    summaries = run["summaries"]
    values = {
        "source": manifest.get("source", {}),
        "full_size": verified.get("full_size"),
        "checked": verified.get("checked", []),
        "data": d,
        "train_split": TRAIN_SIZE - d["val_size"],
        "subsets": bool(d.get("train_subset") or d.get("test_subset")),
        "recipe": _recipe_text(spec["train"], spec.get("overrides", {}), text, **common),
        "seeds": jobset.all_seeds(spec["seeds"]),
        "devices": sorted({v["device_name"] for v in summaries.values()}),
        "precision": next(iter(summaries.values()))["precision"],
        "tolerance_pp": 100 * spec["tolerance"],
        "rules": run["audit"]["rules"],
        "margins": run["audit"]["preregistered"],
        "multiplicity": run["audit"]["multiplicity"],
        "choices": run["audit"]["choices"],
    }
    return _section(text, "methodology", common | values)


def _recipe_text(train: dict, overrides: dict, text: Prose | None = None, **values: Any) -> str:
    """The training recipe in words (the text file's ``methodology.recipe``)."""
    text = text or Prose(template_dir() / TEXT_FILE)
    return text.render("methodology.recipe", **values, t=train, overrides=overrides)


def _provenance(text: Prose, common: dict, prov: dict) -> list[dict]:
    manifest = prov.get("data") or {}
    source = manifest.get("source", {})
    return text.render(
        "appendix.provenance",
        **common,
        git=prov.get("git", {}),
        prov=prov,
        config_json=json.dumps(prov.get("config", {}), sort_keys=True, separators=(", ", ": ")),
        gpus=prov.get("gpus") or [],
        engines=engines(prov.get("jobs") or []),
        versions=[(k, v) for k, v in sorted((prov.get("versions") or {}).items()) if v],
        source=source,
        checksum=source.get("checksum_verified") or {},
        prepared_sha256=str(manifest.get("prepared", {}).get("sha256", "")),
    )


def _runtimes(text: Prose, common: dict, usage: dict) -> dict:
    """Table A1: one row per job of the run (resrepro.compute: Snakemake's benchmark files) and a totals row."""
    dash, t = fmt.DASH, text.entry("tables.runtimes")

    def num(x, digits=1):
        return dash if x is None else fmt.number(x, digits, table=False)

    rows = []
    for r in usage["jobs"]:
        own = dash
        if r["own"] and r["own"]["job_wall_seconds"] is not None:
            own = text.render(
                "tables.runtimes.own_measurement",
                **common,
                wall=r["own"]["job_wall_seconds"],
                train=r["own"]["total_train_seconds"],
                resumed=r["resumed_after_epoch"],
            )
        wall = num(r["wall_s"]) if r["recorded"] else t["archived" if r.get("archived") else "not_recorded"]
        rows.append([r["job"], wall, num(r["cpu_s"]), num(r["max_rss_mib"], 0), r["device"] or dash, own])
    tot = usage["totals"]
    rows.append(
        [
            text.render("tables.runtimes.total", **common, n=tot["recorded"]),
            num(tot["wall_s"]),
            num(tot["cpu_s"]),
            num(tot["peak_rss_mib"], 0),
            ", ".join(tot["devices"]) or dash,
            dash,
        ]
    )
    return {
        "id": "runtimes",
        "title": outputs.table("runtimes").title,
        "columns": text.render("tables.runtimes.columns", **common),
        "rows": rows,
        "notes": text.render("tables.runtimes.notes", **common, totals=tot, folder=outputs.BENCHMARKS),
        "widths": ["1fr", "auto", "auto", "auto", "auto", "1fr"],
        "data": _runtimes_data(usage),
    }


def _runtimes_data(usage: dict) -> dict:
    """Table A1's numbers: one row per job (empty where not recorded), then the totals row."""
    own = ("job_wall_seconds", "total_train_seconds", "gpu_peak_memory_mib")
    columns = ["job", "rule", "recorded", "wall_s", "cpu_s", "max_rss_mib", "device", *own, "resumed_after_epoch"]
    rows = [
        [r["job"], r["rule"], int(r["recorded"]), r["wall_s"], r["cpu_s"], r["max_rss_mib"], r["device"]]
        + [(r["own"] or {}).get(k) for k in own]
        + [r["resumed_after_epoch"]]
        for r in usage["jobs"]
    ]
    tot = usage["totals"]
    rows.append(["total", "", tot["recorded"], tot["wall_s"], tot["cpu_s"], tot["peak_rss_mib"], ""] + [None] * 4)
    return {"columns": columns, "rows": rows}


def _checklist(text: Prose, common: dict, spec: dict, prov: dict, usage: dict) -> dict:
    """NeurIPS checklist Q7 (error bars, and what they vary over) and Q8 (compute: totals, hardware, memory)."""
    values = {
        "n_seeds": len(jobset.all_seeds(spec["seeds"])),
        "seeds": jobset.all_seeds(spec["seeds"]),
        "split_seed": spec["data"].get("split_seed"),
        "confidence_pct": round(100 * CONFIDENCE),
        "pi_pct": round(100 * PI_LEVEL),
        "totals": usage["totals"],
        "cpu": prov.get("cpu"),
        "gpus": prov.get("gpus") or [],
    }
    return _section(text, "checklist", common | values)


def _degradation(results: Path, text: Prose, common: dict) -> tuple[dict | None, list[dict], list[dict]]:
    """The degradation study's section, table and figures, when the run has one (resrepro.degradation)."""
    path = results.joinpath(*STUDY_SUMMARY)
    if not path.exists():
        return None, [], []
    s = read_json(path)
    ev, jac, kinds = s["evidence"], s["jacobian"], s["kinds"]
    deepest = str(s["depths"][-1])
    pairs = [
        {
            "plain": fmt.display_name(p),
            "resnet": fmt.display_name(r),
            "plain_error": kinds[p]["final_train_error"],
            "resnet_error": kinds[r]["final_train_error"],
        }
        for p, r in catalog.twins(list(kinds))
    ]
    at_init = {m: k["grad_ratio_first_to_last_block"].get("0") for m, k in kinds.items()}
    weight = {m: k.get(WEIGHT_RATIO, {}) for m, k in kinds.items()}  # absent from summaries written before it was
    values = common | {
        "depths": s["depths"],
        "seeds": s["seeds"],
        "rule": ev["rule"],
        "pairs": pairs,
        "plain_degrades": ev["plain_degrades"],
        "residual_degrades": ev["residual_degrades"],
        "deepest": deepest,
        "lowers_train_error": ev["shortcut_lowers_train_error_at_depth"][deepest],
        "lowers_test_error": ev["shortcut_lowers_test_error_at_depth"][deepest],
        "not_started": [catalog.display(m) for m in ev.get("not_started", [])],
        "started_rule": ev.get("started_rule"),
        "grad_at_init": [(catalog.display(m), v["mean"]) for m, v in at_init.items() if v],
        "weight_at_init": [(catalog.display(m), w["0"]["mean"]) for m, w in weight.items() if "0" in w],
        "jacobian_model": catalog.display(jac["checks"][0]["model"]),
        "jacobian_trained": jac.get("trained", True),  # False: archived jobs only, which ship no weights
        "dev_identity": max(c["max_abs_dev_identity"] or 0.0 for c in jac["checks"]),
        "dev_out": max(c["max_abs_dev_out"] for c in jac["checks"]),
        "citation": s["he_table6"]["citation"],
    }
    section = _section(text, "degradation", values, tables=["table6"], figures=outputs.figure_ids("degradation"))
    with open(results / "degradation" / "table6.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    table = {
        "id": "table6",
        "title": outputs.table("table6").title,
        "columns": rows[0],
        "rows": rows[1:],
        "notes": text.render("degradation.table_notes", **values),
    }
    data = results / "degradation" / outputs.data_csv("table6")
    if data.exists():  # the study's numbers, for the report's numeric CSV (older studies: derived from the display)
        with open(data, encoding="utf-8", newline="") as f:
            numbers = list(csv.reader(f))
        table["data"] = {"columns": numbers[0], "rows": numbers[1:]}
    return section, [table], [_figure(fid, results / "degradation") for fid in outputs.figure_ids("degradation")]


def _references(text: Prose, common: dict, path: str | Path | None) -> tuple[dict | None, list[dict]]:
    """The section and table on the paper's references (resrepro.references), when the file is given."""
    if path is None:
        return None, []
    refs = paper_references.load_references(path)
    t = text.entry("references.table")
    rows = paper_references.report_rows(refs, no_entry=t["no_entry"], published=t["published"])
    values = common | {
        "n_refs": len(rows),
        "n_read": len(refs),
        "counts": paper_references.counts(refs),
        "not_listed": [r["cited_as"] for r in paper_references.with_findings(refs) if r.get("n") is None],
    }
    table = {
        "id": "references",
        "title": outputs.table("references").title,
        "columns": text.render("references.table.columns", **values),
        "rows": rows,
        "notes": text.render("references.table.notes", **values),
        "widths": ["auto", "1fr", "1.2fr", "1.6fr"],
    }
    return _section(text, "references", values, tables=["references"]), [table]


def _selection(results: Path, spec: dict, text: Prose, common: dict) -> tuple[dict, dict]:
    """The selection-bias section and its table (resrepro.selection), from the tables stage's selection.json;
    computed from the run's files for a run older than it. Histories without a test curve: "not recorded"."""
    path = results / "tables" / "selection.json"
    data = read_json(path) if path.exists() else selection.collect(results, spec["models"], spec["seeds"])
    values = common | selection.report_values(data)
    t = text.render("selection.table", **values)
    table = {
        "id": "selection",
        "title": outputs.table("selection").title,
        "columns": t["columns"],
        "rows": selection.display_rows(data, t["not_recorded"]),
        "notes": t["notes"],
        "data": _frame_data(selection.numeric_rows(data)),
    }
    return _section(text, "selection", values, tables=["selection"]), table


def _frame_data(frame) -> dict:
    """A table's numeric data (tablefiles: ``data``) from a data frame; missing values as None."""
    rows = frame.astype(object).where(frame.notna(), None).values.tolist()
    return {"columns": list(frame.columns), "rows": rows}
