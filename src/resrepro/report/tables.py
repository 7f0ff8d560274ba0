"""Tables of a report as data: checks, column alignment, and the CSV and LaTeX booktabs writers.

A table is a mapping with ``columns`` (the headers), ``rows`` (lists as long as the header) and
optionally ``id``, ``title``, ``notes`` and ``align``. Booktabs rules: the ``booktabs`` LaTeX
package (https://ctan.org/pkg/booktabs).
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Mapping, Sequence

from .. import ResreproError
from ..io import write_text
from .escape import latex_escape

ALIGNS = ("left", "center", "right")


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


_NUMERIC_START = re.compile(r"^[\s(]*[+\-−–]?[\s]*[0-9.]")
_PLACEHOLDER = {"", "—", "–", "-", "n/a", "NA", "nan", "—", "?"}


def column_alignment(table: Mapping) -> list[str]:
    """``table["align"]`` if given, else: first column left, numeric-looking columns right."""
    cols, rows = check_table(table)
    given = table.get("align")
    if given is not None:
        if (
            not isinstance(given, Sequence)
            or isinstance(given, str)
            or len(given) != len(cols)
            or any(a not in ALIGNS for a in given)
        ):
            raise ResreproError(
                f"table {table.get('id', '?')!r}: 'align' must list one of {'/'.join(ALIGNS)} per "
                f"column ({len(cols)} columns); fix the report context"
            )
        return list(given)
    aligns = []
    for j in range(len(cols)):
        cells = [r[j].strip() for r in rows]
        numeric = [c for c in cells if c not in _PLACEHOLDER]
        if j > 0 and numeric and all(_NUMERIC_START.match(c) for c in numeric):
            aligns.append("right")
        else:
            aligns.append("left")
    return aligns


def table_to_csv(table: Mapping) -> str:
    """The table's header and rows as CSV text (``\\n`` line ends, minimal quoting)."""
    cols, rows = check_table(table)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows(rows)
    return buf.getvalue()


def table_to_latex(table: Mapping) -> str:
    """A booktabs ``tabular`` fragment (needs ``\\usepackage{booktabs}``), every cell escaped.

    The title and notes are written as ``%`` comments so the fragment can go into any float.
    """
    cols, rows = check_table(table)
    spec = "".join({"left": "l", "center": "c", "right": "r"}[a] for a in column_alignment(table))
    lines = []
    if table.get("title"):
        lines.append("% " + latex_escape(table["title"]))
    lines += [
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(latex_escape(c) for c in cols) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(latex_escape(c) for c in r) + " \\\\" for r in rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    for note in table.get("notes") or []:
        lines.append("% " + latex_escape(note))
    return "\n".join(lines) + "\n"


def write_table_files(context: Mapping, out_dir: str | os.PathLike) -> list[Path]:
    """Each table of the report as a LaTeX booktabs fragment (<id>.tex) and as CSV (<id>.csv)."""
    out = Path(out_dir)
    written = []
    for t in context.get("tables") or []:
        tid = str(t.get("id"))
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", tid):
            raise ResreproError(f"table id {tid!r} cannot be a file name; use letters, digits, _ . -")
        for suffix, text in ((".tex", table_to_latex(t)), (".csv", table_to_csv(t))):
            write_text(out / f"{tid}{suffix}", text)
            written.append(out / f"{tid}{suffix}")
    return written
