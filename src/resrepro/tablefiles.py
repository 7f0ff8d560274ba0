"""A table's CSV files: the display CSV and the numeric CSV, with the checks of a table's shape.

A table is a mapping with ``columns`` (the headers), ``rows`` (lists as long as the header) and
optionally ``id``, ``title``, ``notes``, ``align``, ``groups`` (a header row above the last columns:
``{"title", "span"}`` each, spanning that many columns; the columns before them are the table's lead)
and ``data`` (``{"columns", "rows"}``: the numbers behind the display, for the numeric CSV).
Numeric CSV (:func:`resrepro.outputs.data_csv`): one quantity a column, mean, sd and
n apart, ASCII minus, no thousands separators, no "%" or "\u00b1", an empty cell for a missing value. A
table without ``data`` gets one derived from its display cells (:func:`derived_data`).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Mapping, Sequence

from . import ResreproError


def check_table(table: Mapping, where: str = "table") -> tuple[list[str], list[list[str]]]:
    """The table's headers and rows as strings; a clear error for a malformed table."""
    tid = table.get("id", "?") if isinstance(table, Mapping) else "?"
    if not isinstance(table, Mapping):
        raise ResreproError(f"{where} is a {type(table).__name__}, not a dict; fix the report context")
    columns = table.get("columns")
    rows = table.get("rows")
    if not isinstance(columns, Sequence) or isinstance(columns, str) or not columns:
        raise ResreproError(f"table {tid!r} has no 'columns' list; the report context must give the headers")
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise ResreproError(f"table {tid!r} has no 'rows' list; the report context must give the rows")
    cols = ["" if c is None else str(c) for c in columns]
    out_rows = []
    for i, row in enumerate(rows):
        if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != len(cols):
            n = len(row) if isinstance(row, Sequence) and not isinstance(row, str) else "not a list"
            raise ResreproError(
                f"table {tid!r} row {i + 1} has {n} cells but {len(cols)} columns; make every row as long as the header"
            )
        out_rows.append(["" if c is None else str(c) for c in row])
    return cols, out_rows


_PLACEHOLDER = {"", "—", "–", "-", "n/a", "NA", "nan", "?"}  # a missing value, as displays show it


def check_groups(table: Mapping, n_columns: int) -> list[tuple[str, int]]:
    """The table's column groups as (title, span); a clear error when they do not fit its columns."""
    groups = table.get("groups") or []
    tid = table.get("id", "?")
    if isinstance(groups, str) or not isinstance(groups, Sequence):
        raise ResreproError(f"table {tid!r}: 'groups' must be a list of {{title, span}}; fix the report context")
    out = []
    for g in groups:
        span = g.get("span") if isinstance(g, Mapping) else None
        if not isinstance(span, int) or span < 1 or not isinstance(g.get("title"), str):
            raise ResreproError(f"table {tid!r}: every group needs a 'title' and a positive 'span'; got {g!r}")
        out.append((g["title"], span))
    if sum(s for _, s in out) >= n_columns and out:
        raise ResreproError(
            f"table {tid!r}: its groups span {sum(s for _, s in out)} of {n_columns} columns; leave the first "
            "column (the lead) outside the groups"
        )
    return out


def flat_columns(table: Mapping) -> list[str]:
    """The headers in one row (CSV): a grouped column as ``<group>: <column>``."""
    cols, _ = check_table(table)
    groups = check_groups(table, len(cols))
    j = len(cols) - sum(s for _, s in groups)
    out = cols[:j]
    for title, span in groups:
        out += [f"{title}: {c}" for c in cols[j : j + span]]
        j += span
    return out


def table_to_csv(table: Mapping) -> str:
    """The table's header (in one row: :func:`flat_columns`) and rows as CSV text (``\\n`` line ends,
    minimal quoting)."""
    _, rows = check_table(table)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(flat_columns(table))
    w.writerows(rows)
    return buf.getvalue()


# A display cell that is a number: optional sign, digits (thousands separators allowed), then optionally
# "\u00b1 sd", "(n)" and a unit "%".
_NUMBER = r"[+\-\u2212]?\d[\d,]*(?:\.\d+)?"
_DISPLAY_NUMBER = re.compile(rf"^({_NUMBER})(?:\s*\u00b1\s*({_NUMBER}))?(?:\s*\((\d+)\))?\s*%?$")


def _number(text: str | None) -> float | None:
    return None if text is None else float(text.replace(",", "").replace("\u2212", "-"))


def _slug(header: str, j: int) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_") or f"column{j + 1}"


def derived_data(table: Mapping) -> dict:
    """Numeric data from a table's display cells: a column whose cells are all numbers (or missing) becomes
    a float column, split into ``_sd`` and ``_n`` columns where cells give them; other cells stay text with
    ASCII signs ("+-" for "\u00b1", "-" for the minus)."""
    _, rows = check_table(table)
    columns, out_cols = flat_columns(table), []
    for j, header in enumerate(columns):
        cells = [r[j].strip() for r in rows]
        shown = [c for c in cells if c not in _PLACEHOLDER]
        matches = [_DISPLAY_NUMBER.match(c) for c in shown]
        name = _slug(header, j)
        if shown and all(matches):
            parsed = [_DISPLAY_NUMBER.match(c) if c not in _PLACEHOLDER else None for c in cells]
            parts = [(name, 1)]
            parts += [(f"{name}_sd", 2)] if any(m.group(2) for m in matches) else []
            parts += [(f"{name}_n", 3)] if any(m.group(3) for m in matches) else []
            for col, g in parts:
                out_cols.append((col, [_number(m.group(g)) if m else None for m in parsed]))
        else:
            text = [None if c in _PLACEHOLDER else c.replace("\u00b1", "+-").replace("\u2212", "-") for c in cells]
            out_cols.append((name, text))
    return {"columns": [c for c, _ in out_cols], "rows": [list(r) for r in zip(*[v for _, v in out_cols])]}


def _data_cell(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, str):
        return v.replace("\u00b1", "+-").replace("\u2212", "-")
    # 12 significant digits: no binary noise (6.98, not 6.980000000000004)
    return f"{v:.12g}" if isinstance(v, float) else str(v)


def table_to_data_csv(table: Mapping) -> str:
    """The numeric CSV of a table: its ``data`` if given, else :func:`derived_data` of its display."""
    data = table.get("data") or derived_data(table)
    cols, rows = data.get("columns"), data.get("rows")
    if not cols or any(len(r) != len(cols) for r in rows or []):
        raise ResreproError(
            f"table {table.get('id', '?')!r}: its 'data' needs 'columns' and rows as long as them; fix its stage"
        )
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows([[_data_cell(v) for v in r] for r in rows])
    return buf.getvalue()
