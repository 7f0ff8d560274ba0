"""Tables of a report as data: checks, column alignment, and the CSV and LaTeX booktabs writers.

A table is a mapping with ``columns`` (the headers), ``rows`` (lists as long as the header) and
optionally ``id``, ``title``, ``notes``, ``align``, ``groups`` and ``data`` (:mod:`resrepro.tablefiles`,
which also writes the CSVs). Booktabs rules: the ``booktabs`` LaTeX package (https://ctan.org/pkg/booktabs).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, Sequence

from .. import ResreproError, outputs
from ..io import write_text
from ..tablefiles import (  # noqa: F401 (the table checks and CSV writers, here for the report's users)
    _PLACEHOLDER,
    check_groups,
    check_table,
    derived_data,
    flat_columns,
    table_to_csv,
    table_to_data_csv,
)
from .escape import latex_escape

ALIGNS = ("left", "center", "right")


_NUMERIC_START = re.compile(r"^[\s(]*[+\-−–]?[\s]*[0-9.]")


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


def split_parts(
    tid: str, n_columns: int, groups: list[tuple[str, int]], parts: Sequence
) -> list[tuple[list[int], list[tuple[str, int]]]]:
    """A grouped table's parts (``{"groups": k}`` each: the next k groups) as (column indices, groups): every
    part repeats the lead columns. No parts: []. A clear error when the parts do not cover the groups."""
    if not parts:
        return []
    counts = [p.get("groups") if isinstance(p, Mapping) else None for p in parts]
    if not all(isinstance(k, int) and k > 0 for k in counts) or sum(counts) != len(groups):
        raise ResreproError(
            f"table {tid!r}: its parts' 'groups' ({counts}) must be positive counts adding up to its "
            f"{len(groups)} groups; fix the table's stage"
        )
    lead = n_columns - sum(n for _, n in groups)
    starts = [lead + sum(n for _, n in groups[:i]) for i in range(len(groups))]
    out, g0 = [], 0
    for k in counts:
        chosen = range(g0, g0 + k)
        cols = list(range(lead)) + [j for i in chosen for j in range(starts[i], starts[i] + groups[i][1])]
        out.append((cols, [groups[i] for i in chosen]))
        g0 += k
    return out


def table_to_latex(table: Mapping) -> str:
    """A booktabs ``tabular`` fragment (needs ``\\usepackage{booktabs}``), every cell escaped.

    The title and notes are written as ``%`` comments so the fragment can go into any float.
    """
    cols, rows = check_table(table)
    spec = "".join({"left": "l", "center": "c", "right": "r"}[a] for a in column_alignment(table))
    lines = []
    if table.get("title"):
        lines.append("% " + latex_escape(table["title"]))
    lines += [f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    groups = check_groups(table, len(cols))
    if groups:
        j = len(cols) - sum(s for _, s in groups)
        heads, rules = [""] * j, []
        for title, span in groups:
            heads.append(f"\\multicolumn{{{span}}}{{c}}{{{latex_escape(title)}}}")
            rules.append(f"\\cmidrule(lr){{{j + 1}-{j + span}}}")
            j += span
        lines += [" & ".join(heads) + " \\\\", " ".join(rules)]
    lines += [
        " & ".join(latex_escape(c) for c in cols) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(latex_escape(c) for c in r) + " \\\\" for r in rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    for note in table.get("notes") or []:
        lines.append("% " + latex_escape(note))
    return "\n".join(lines) + "\n"


def write_table_files(context: Mapping, out_dir: str | os.PathLike) -> list[Path]:
    """Each table of the report as a LaTeX booktabs fragment (<id>.tex), as CSV (<id>.csv) and as numeric
    CSV (:func:`resrepro.outputs.data_csv`)."""
    out = Path(out_dir)
    written = []
    for t in context.get("tables") or []:
        tid = str(t.get("id"))
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", tid):
            raise ResreproError(f"table id {tid!r} cannot be a file name; use letters, digits, _ . -")
        files = ((f"{tid}.tex", table_to_latex(t)), (f"{tid}.csv", table_to_csv(t)))
        for name, text in files + ((outputs.data_csv(tid), table_to_data_csv(t)),):
            write_text(out / name, text)
            written.append(out / name)
    return written
