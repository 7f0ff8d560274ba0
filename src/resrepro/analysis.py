"""Analysis: Tables 1-3 of the paper, paper | ours | difference, computed from result files alone.

Inputs are the per-job JSON/CSV outputs (models.json, train/*/train.json, train/*/history.csv,
eval/*/metrics.json) and the transcription of the paper's numbers (reports/paper.yaml).
"Ours" is the mean +- sample standard deviation over seeds; with one seed no spread is shown.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import fmt, io, outputs, selection
from .fmt import display_name
from .stats import sqrt_recall_variance, summarise


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


def collect(results: str | Path, models: list[str], seeds: list[int], tolerance: float) -> dict[str, dict]:
    """Per model: the per-seed measurements, read from the run's result files."""
    results = Path(results)
    info = {m["model"]: m for m in io.read_json(results / "models.json")}
    out = {}
    for model in models:
        per_seed = {k: [] for k in outputs.MEASURED_QUANTITIES}
        devices = set()
        for seed in seeds:
            m = io.read_json(results / "eval" / model / f"seed{seed}" / "metrics.json")
            t = io.read_json(results / "train" / model / f"seed{seed}" / "train.json")
            h = pd.read_csv(results / "train" / model / f"seed{seed}" / "history.csv")
            per_seed["accuracy"].append(100 * m["accuracy"])
            per_seed["precision"].append(100 * m["precision_macro"])
            per_seed["recall"].append(100 * m["recall_macro"])
            per_seed["f1"].append(100 * m["f1_macro"])
            if "confusion_matrix" in m:  # Var_c(sqrt r_c) of the per-class recalls, in percentage points
                per_seed["recall_spread"].append(100 * sqrt_recall_variance(m["confusion_matrix"]))
            per_seed["epochs_to_convergence"].append(epochs_to_convergence(h["val_acc"].tolist(), tolerance))
            per_seed["seconds_per_epoch"].append(float(h["epoch_seconds"].mean()))
            per_seed["total_hours"].append(float(h["epoch_seconds"].sum()) / 3600)
            per_seed["images_per_second"].append(t["images_per_second"])
            if "train_acc" in h:  # final epoch, on the augmented training batches
                per_seed["train_accuracy"].append(100 * float(h["train_acc"].iloc[-1]))
            devices.add(t["device_name"])
        out[model] = {k: summarise(v) for k, v in per_seed.items() if v}
        out[model]["test_error"] = summarise([100 - a for a in per_seed["accuracy"]])
        out[model]["params"] = info[model]["params"]
        out[model]["flops_per_image"] = info[model]["flops_per_image"]
        out[model]["devices"] = sorted(devices)
    return out


def _rows(measured: dict, paper_table: dict, quantities: list[tuple[str, str, int]]) -> tuple[list, list]:
    rows, records = [], []
    paper_rows = paper_table["rows"]
    decimals = {k: c.get("decimals") for k, c in (paper_table.get("columns") or {}).items()}
    for model, ours in measured.items():
        paper = paper_rows.get(model, {})
        for key, label, digits in quantities:
            p = paper.get(key)
            rows.append(
                [
                    display_name(model),
                    label,
                    fmt_paper(p, decimals.get(key)),
                    fmt.mean_std(ours[key], digits),
                    fmt_diff(ours[key], p, digits),
                ]
            )
            records.append(
                {
                    "model": model,
                    "quantity": key,
                    "paper": p,
                    **{k: ours[key][k] for k in ("mean", "std", "n", "values")},
                    "difference": None if p is None else ours[key]["mean"] - p,
                }
            )
    return rows, records


COLUMNS = ["Model", "Quantity", "Paper", "Ours (mean \u00b1 std)", "Ours \u2212 paper"]
ALIGN = ["left", "left", "right", "right", "right"]


# The quantities of Tables 1-3 in the paper's order: (key in measured.json, row label, decimals shown).
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
            "update), excluding validation. Total training time: the sum over epochs, in hours.",
            f"The paper names no hardware; ours: {', '.join(devices)}.",
        ],
        "table3": [
            "Parameters: exact count of our CIFAR-10 models (10 classes), by resrepro.models.",
            "Test error = 100 \u2212 test accuracy.",
        ],
    }


def build_tables(
    measured: dict, paper: dict, seeds: list[int], tolerance: float, stamp: str | None = None
) -> list[dict]:
    n = len(seeds)
    seed_note = (
        f"Ours: mean \u00b1 sample standard deviation over {n} seeds ({', '.join(map(str, seeds))})."
        if n > 1
        else f"Ours: a single seed ({seeds[0]}); no spread can be given."
    )
    stamp_note = [f"{stamp.upper()}."] if stamp else []
    missing = "\u2014: the paper reports no value for this model."
    # Table 3: exact parameter counts (one value, no spread) and test error
    with_params = {m: {**v, "params_millions": summarise([v["params"] / 1e6])} for m, v in measured.items()}
    notes = _table_notes(measured, tolerance)
    tables = []
    for tid, quantities in QUANTITIES.items():
        rows, records = _rows(with_params, paper[tid], quantities)
        tables.append(
            {
                "id": tid,
                "title": paper[tid]["title"] + " (paper vs. ours)",
                "columns": COLUMNS,
                "align": ALIGN,
                "rows": rows,
                "records": records,
                "notes": stamp_note + [seed_note, *notes[tid], missing],
            }
        )
    return tables


def build_context_table(
    measured: dict, paper: dict, text_values: dict, sources: list[dict], stamp: str | None = None
) -> dict:
    """Test error (%): the paper, ours and each published source, one row per model.

    ``text_values``: numbers the paper prints only in its text ({model: {quantity: (value, decimals, where)}}).
    Sources reporting accuracy are shown as 100 - accuracy.
    """
    t3 = paper["table3"]
    dec = t3["columns"]["test_error"]["decimals"]
    models = list(measured) + [m for m in list(t3["rows"]) + list(text_values) if m not in measured]
    rows, records, from_text = [], [], []
    for m in models:
        p = t3["rows"].get(m, {}).get("test_error")
        p_txt = fmt_paper(p, dec)
        if p is None and "test_error" in text_values.get(m, {}):
            value, d, _ = text_values[m]["test_error"]
            p, p_txt = value, fmt_paper(value, d) + " (text)"
            from_text.append(display_name(m))
        ours = measured.get(m, {}).get("test_error")
        row = [display_name(m), p_txt, fmt.mean_std(ours, 2) if ours else fmt.DASH]
        rec = {"model": m, "paper": p, "ours": ours["mean"] if ours else None}
        for src in sources:
            v = src["values"].get(m)
            err = None if v is None else (v if src["metric"] == "test_error" else 100 - v)
            row.append(fmt.number(err, src.get("decimals", 2)))
            rec[src["id"]] = err
        rows.append(row)
        records.append(rec)
    notes = [f"{stamp.upper()}."] if stamp else []
    notes.append(
        "All values are test error (%); sources that report accuracy are shown as 100 \u2212 accuracy. "
        "\u2014: not reported."
    )
    notes.append(
        "Paper: Table 3"
        + (f"; {', '.join(from_text)} only in the Conclusion's text" if from_text else "")
        + ". Ours: mean \u00b1 std over seeds, selected on validation."
    )
    for src in sources:
        notes.append(f"{src['label']}: {src['cite']}. Selection: {src['selection']}. {src.get('note', '')}".strip())
    return {
        "id": "context",
        "title": outputs.table("context").title,
        "columns": ["Model", "Paper", "Ours"] + [s["label"] for s in sources],
        "rows": rows,
        "records": records,
        "notes": notes,
    }


def write_tables(tables: list[dict], out_dir: str | Path) -> None:
    out_dir = Path(out_dir)
    for t in tables:
        with io.atomic_path(out_dir / f"{t['id']}.csv") as tmp:
            pd.DataFrame(t["rows"], columns=t["columns"]).to_csv(tmp, index=False)
    io.write_json(out_dir / "tables.json", tables)


def write_selection(results: str | Path, models: list[str], seeds: list[int], out_dir: str | Path) -> dict:
    """The tables stage's selection-bias data: selection.json and selection.csv (resrepro.selection)."""
    return selection.write(selection.collect(results, models, seeds), out_dir)
