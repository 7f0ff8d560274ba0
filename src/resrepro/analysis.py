"""Analysis: Tables 1-3 of the paper, paper | ours | difference, computed from result files alone.

Inputs are the per-job JSON/CSV outputs (models.json, train/*/train.json, train/*/history.csv,
eval/*/metrics.json) and the transcription of the paper's numbers (reports/paper.yaml).
"Ours" is the mean +- sample standard deviation over seeds; with one seed no spread is shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from . import fmt, io, jobset, outputs, selection, timing
from .fmt import display_name
from .stats import sqrt_recall_variance, summarise
from .tablefiles import table_to_csv, table_to_data_csv


def epochs_to_convergence(val_acc: list[float], tolerance: float) -> int:
    """First epoch (1-based) whose validation accuracy is within ``tolerance`` of the run's best."""
    best = max(val_acc)
    return next(i + 1 for i, a in enumerate(val_acc) if a >= best - tolerance)


def fmt_paper(x: float | None, decimals: int | None = None) -> str:
    """The paper's value exactly as printed (its own number of decimals, from reports/paper.yaml)."""
    if x is None:
        return fmt.DASH
    return f"{x:g}" if decimals is None else fmt.printed(x, decimals)


def fmt_diff(ours: dict, paper: float | None, digits: int) -> str:
    return fmt.DASH if paper is None else fmt.signed(ours["mean"] - paper, digits)


def collect(results: str | Path, models: list[str], seeds: jobset.Seeds, tolerance: float) -> dict[str, dict]:
    """Per model: the per-seed measurements, read from the run's result files (``seeds``: one list, or per model)."""
    results = Path(results)
    info = {m["model"]: m for m in io.read_json(results / "models.json")}
    out = {}
    for model in models:
        per_seed = {k: [] for k in outputs.MEASURED_QUANTITIES}
        devices, jobs = set(), []
        for seed in jobset.seeds_for(seeds, model):
            m = io.read_json(results / "eval" / model / f"seed{seed}" / "metrics.json")
            t = io.read_json(results / "train" / model / f"seed{seed}" / "train.json")
            h = io.read_csv(results / "train" / model / f"seed{seed}" / "history.csv", ("val_acc", "epoch_seconds"))
            per_seed["accuracy"].append(100 * m["accuracy"])
            per_seed["precision"].append(100 * m["precision_macro"])
            per_seed["recall"].append(100 * m["recall_macro"])
            per_seed["f1"].append(100 * m["f1_macro"])
            if "confusion_matrix" in m:  # Var_c(sqrt r_c) of the per-class recalls, in percentage points
                per_seed["recall_spread"].append(100 * sqrt_recall_variance(m["confusion_matrix"]))
            per_seed["epochs_to_convergence"].append(epochs_to_convergence(h["val_acc"].tolist(), tolerance))
            jobs.append((seed, timing.job_times(h, t)))  # from unshared epochs, else labelled shared (timing.py)
            for q in timing.QUANTITIES:
                per_seed[q].append(jobs[-1][1][q])
            if "train_acc" in h:  # final epoch, on the augmented training batches
                per_seed["train_accuracy"].append(100 * float(h["train_acc"].iloc[-1]))
            devices.add(t["device_name"])
        out[model] = {k: summarise(v) for k, v in per_seed.items() if v}
        out[model]["test_error"] = summarise([100 - a for a in per_seed["accuracy"]])
        out[model]["params"] = info[model]["params"]
        out[model]["flops_per_image"] = info[model]["flops_per_image"]
        out[model]["devices"] = sorted(devices)
        out[model].update(timing.model_times(jobs))
    return out


def _cell(ours: dict, digits: int, exact: bool) -> str:
    """Our value of one cell: mean ± sd (n), or the exact value alone (a parameter count)."""
    text = fmt.mean_std(ours, digits)
    return text if exact else f"{text} ({ours['n']})"


def _rows(measured: dict, paper_table: dict, quantities: list[tuple[str, str, int]]) -> tuple[list, list, list]:
    """One row per model: for each quantity paper | ours | difference; the long-format records (one per
    model and quantity, as the audit and earlier runs have them) and the numeric data rows."""
    rows, records, data = [], [], []
    paper_rows = paper_table["rows"]
    decimals = {k: c.get("decimals") for k, c in (paper_table.get("columns") or {}).items()}
    for model, ours in measured.items():
        paper = paper_rows.get(model, {})
        row, values = [display_name(model)], [display_name(model), model]
        for key, _, digits in quantities:
            p, o = paper.get(key), ours[key]
            diff = None if p is None else o["mean"] - p
            row += [fmt_paper(p, decimals.get(key)), _cell(o, digits, key in EXACT), fmt_diff(o, p, digits)]
            values += [p, o["mean"], o["std"], o["n"], diff]
            records.append(
                {
                    "model": model,
                    "quantity": key,
                    "paper": p,
                    **{k: o[k] for k in ("mean", "std", "n", "values")},
                    "difference": diff,
                }
            )
        rows.append(row)
        data.append(values)
    return rows, records, data


# The sub-columns of each of the paper's columns, and the table's leading column.
SUB_COLUMNS = ["Paper", "Ours (mean \u00b1 sd, n)", "\u0394"]
LEAD = ["Model"]
DATA_LEAD = ["model", "model_id"]  # the numeric CSV: the display name and the registry name
DATA_SUB = ("paper", "mean", "sd", "n", "diff")  # <quantity>_<sub> columns of the numeric CSV
GROUPS_PER_PART = 2  # the paper's columns per printed part: Tables 1 and 2 (4 columns each) print in two parts
EXACT = {"params_millions"}  # exact values (no seeds): shown without n


# The quantities of Tables 1-3 in the paper's order: (key in measured.json, heading when the paper has none,
# decimals shown).
QUANTITIES = {
    "table1": [
        ("accuracy", "Accuracy (%)", 2),
        ("precision", "Precision, macro (%)", 2),
        ("recall", "Recall, macro (%)", 2),
        ("f1", "F1, macro (%)", 2),
    ],
    "table2": [
        ("epochs_to_convergence", "Epochs to convergence", 1),
        ("seconds_per_epoch", "Time per epoch (s)", 2),
        ("total_hours", "Total training time (h)", 3),
        ("images_per_second", "Training images per second", 0),
    ],
    "table3": [("params_millions", "Parameters (millions)", 2), ("test_error", "Test error (%)", 2)],
}


def _table_notes(measured: dict, tolerance: float) -> dict[str, list[str]]:
    """The notes that define each table's quantities."""
    devices = sorted({d for ours in measured.values() for d in ours["devices"]})
    return {
        "table1": [
            "Precision, recall and F1 are macro averages over the 10 classes of the test set; "
            "the model is selected on validation, never on the test set."
        ],
        "table2": [
            f"Epochs to convergence: the first epoch whose validation accuracy is within {100 * tolerance:g} "
            "percentage points of the run's best validation accuracy.",
            "Time per epoch: mean wall time of the training part of an epoch (augmentation, forward, backward, "
            "update), excluding validation, on the run's own training set (see the methodology for its size). "
            "Total training time: the sum over epochs, in hours (a cell marked \u201cest.\u201d: the mean over the "
            "epochs a training had its GPU alone x its epochs, an estimate). Training images per second: the paper has "
            "no such column.",
            f"The paper names no hardware; ours: {', '.join(devices)}.",
            *timing.notes(measured),
        ],
        "table3": [
            "Parameters: exact count of our CIFAR-10 models (10 classes), by resrepro.models; one value, no spread.",
            "Test error = 100 \u2212 test accuracy.",
        ],
    }


def _parts(title: str, groups: list[dict]) -> list[dict]:
    """The printed parts of a wide table (Table 1a, 1b), ``GROUPS_PER_PART`` of the paper's columns each."""
    if len(groups) <= GROUPS_PER_PART:
        return []
    chunks = [groups[i : i + GROUPS_PER_PART] for i in range(0, len(groups), GROUPS_PER_PART)]
    parts = []
    for letter, chunk in zip("abcdefgh", chunks):
        named = re.sub(r"^(Table \d+)", rf"\g<1>{letter}", title)
        parts.append({"title": f"{named}: {' and '.join(g['title'] for g in chunk)}", "groups": len(chunk)})
    return parts


def _seed_note(seeds: jobset.Seeds) -> str:
    """How "ours" is summarised: over which seeds (one list, or per model when they differ)."""
    lists = {tuple(v) for v in seeds.values()} if isinstance(seeds, Mapping) else {tuple(seeds)}
    if len(lists) > 1:
        return (
            "Ours: mean \u00b1 sample standard deviation (sd) over each model's measured seeds, with n, the number "
            "of seeds, in brackets (it differs between models); \u0394 = ours \u2212 paper."
        )
    seeds = list(next(iter(lists)))
    n = len(seeds)
    return (
        f"Ours: mean \u00b1 sample standard deviation (sd) over {fmt.count(n, 'seed')} ({', '.join(map(str, seeds))}), "
        "with n, the number of seeds, in brackets; \u0394 = ours \u2212 paper."
        if n > 1
        else f"Ours: a single seed ({seeds[0]}), so no spread can be given; n in brackets; \u0394 = ours \u2212 paper."
    )


def build_tables(
    measured: dict, paper: dict, seeds: jobset.Seeds, tolerance: float, stamp: str | None = None
) -> list[dict]:
    """Tables 1-3 in the paper's layout: a model per row; for each of the paper's columns, the paper's
    value, ours (mean \u00b1 sd, n) and the difference. ``groups`` heads each column's three sub-columns,
    ``parts`` splits a wide table for the page, ``data`` holds the numbers for the numeric CSV."""
    seed_note = _seed_note(seeds)
    stamp_note = [f"{stamp.upper()}."] if stamp else []
    missing = "\u2014: the paper reports no value for this model."
    # Table 3: exact parameter counts (one value, no spread) and test error
    with_params = {m: {**v, "params_millions": summarise([v["params"] / 1e6])} for m, v in measured.items()}
    notes = _table_notes(measured, tolerance)
    tables = []
    for tid, quantities in QUANTITIES.items():
        rows, records, data = _rows(with_params, paper[tid], quantities)
        if tid == "table2":  # a time taken on a shared GPU says so in its cell (resrepro.timing)
            rows = [timing.label_cells(row, measured[m], quantities) for row, m in zip(rows, measured)]
        headers = paper[tid].get("columns") or {}
        groups = [{"title": headers.get(k, {}).get("header", label), "span": 3} for k, label, _ in quantities]
        title = paper[tid]["title"] + " (paper vs. ours)"
        tables.append(
            {
                "id": tid,
                "title": title,
                "columns": LEAD + SUB_COLUMNS * len(quantities),
                "groups": groups,
                "parts": _parts(paper[tid]["title"], groups),
                "align": ["left"] + ["right"] * (3 * len(quantities)),
                "rows": rows,
                "records": records,
                "data": {
                    "columns": DATA_LEAD + [f"{k}_{sub}" for k, _, _ in quantities for sub in DATA_SUB],
                    "rows": data,
                },
                "notes": stamp_note + [seed_note, *notes[tid], missing],
            }
        )
    return tables


def _source_columns(src: dict) -> tuple[list[str], list[str]]:
    """A source's display and data columns: its values, and its means over runs where it prints them."""
    shown = [src["label"]]
    data = [src["id"]]
    if src.get("means"):
        shown.append(f"{src['label']}, mean \u00b1 sd (n)")
        data += [f"{src['id']}_mean", f"{src['id']}_sd", f"{src['id']}_n"]
    return shown, data


def _source_cells(src: dict, model: str) -> tuple[list[str], list]:
    """A source's cells for one model, as test error (%): shown and as numbers."""

    def error(v):
        return None if v is None else (v if src["metric"] == "test_error" else 100 - v)

    digits = src.get("decimals", 2)
    err = error(src["values"].get(model))
    best = src.get("best_of", {}).get(model)
    shown = [fmt.number(err, digits) + (f" (best of {best})" if best and err is not None else "")]
    values = [err]
    if src.get("means"):
        m = src["means"].get(model)
        if m is None:
            shown.append(fmt.DASH)
            values += [None, None, None]
        else:
            s = {"mean": error(m["mean"]), "std": m["std"], "n": m["n"]}
            shown.append(f"{fmt.mean_std(s, digits)} ({m['n']})")
            values += [s["mean"], s["std"], s["n"]]
    return shown, values


def build_context_table(
    measured: dict, paper: dict, text_values: dict, sources: list[dict], stamp: str | None = None
) -> dict:
    """Test error (%): the paper, ours and each published source, one row per model.

    ``text_values``: numbers the paper prints only in its text ({model: {quantity: (value, decimals, where)}}).
    Sources reporting accuracy are shown as 100 - accuracy; a source's mean over runs (``means``) gets a column
    beside its best (``best_of``).
    """
    t3 = paper["table3"]
    dec = t3["columns"]["test_error"]["decimals"]
    models = list(measured) + [m for m in list(t3["rows"]) + list(text_values) if m not in measured]
    rows, records, data, from_text = [], [], [], []
    for m in models:
        p = t3["rows"].get(m, {}).get("test_error")
        p_txt = fmt_paper(p, dec)
        if p is None and "test_error" in text_values.get(m, {}):
            value, d, _ = text_values[m]["test_error"]
            p, p_txt = value, fmt_paper(value, d) + " (text)"
            from_text.append(display_name(m))
        ours = measured.get(m, {}).get("test_error")
        row = [display_name(m), p_txt, f"{fmt.mean_std(ours, 2)} ({ours['n']})" if ours else fmt.DASH]
        rec = {"model": m, "paper": p, "ours": ours["mean"] if ours else None}
        values = [display_name(m), m, p, *([ours[k] for k in ("mean", "std", "n")] if ours else [None] * 3)]
        for src in sources:
            shown, nums = _source_cells(src, m)
            row += shown
            values += nums
            rec[src["id"]] = nums[0]
        rows.append(row)
        records.append(rec)
        data.append(values)
    notes = [f"{stamp.upper()}."] if stamp else []
    notes.append(
        "All values are test error (%); sources that report accuracy are shown as 100 \u2212 accuracy. "
        "\u2014: not reported."
    )
    notes.append(
        "Paper: Table 3"
        + (f"; {', '.join(from_text)} only in the Conclusion's text" if from_text else "")
        + ". Ours: mean \u00b1 sd over seeds (n in brackets), selected on validation."
    )
    for src in sources:
        extra = ""
        if src.get("means"):
            extra = (
                " Best of k: the best of their k runs, as printed; mean \u00b1 sd (n): their mean over "
                "n runs, printed beside it, for " + ", ".join(display_name(m) for m in src["means"]) + "."
            )
        notes.append(
            f"{src['label']}: {src['cite']}. Selection: {src['selection']}. {src.get('note', '')}{extra}".strip()
        )
    shown_cols, data_cols = (
        ["Model", "Paper", "Ours (mean \u00b1 sd, n)"],
        list(DATA_LEAD)
        + [
            "paper",
            "ours_mean",
            "ours_sd",
            "ours_n",
        ],
    )
    for src in sources:
        shown, cols = _source_columns(src)
        shown_cols += shown
        data_cols += cols
    return {
        "id": "context",
        "title": outputs.table("context").title,
        "columns": shown_cols,
        "rows": rows,
        "records": records,
        "data": {"columns": data_cols, "rows": data},
        "notes": notes,
    }


def write_tables(tables: list[dict], out_dir: str | Path) -> None:
    """Each table as display CSV (<id>.csv) and numeric CSV (outputs.data_csv), and all in tables.json."""
    out_dir = Path(out_dir)
    for t in tables:
        io.write_text(out_dir / f"{t['id']}.csv", table_to_csv(t))
        io.write_text(out_dir / outputs.data_csv(t["id"]), table_to_data_csv(t))
    io.write_json(out_dir / "tables.json", tables)


def write_selection(results: str | Path, models: list[str], seeds: jobset.Seeds, out_dir: str | Path) -> dict:
    """The tables stage's selection-bias data: selection.json and selection.csv (resrepro.selection)."""
    return selection.write(selection.collect(results, models, seeds), out_dir)
