"""Report rendering: one data context -> a PDF (Typst) and a self-contained HTML page (Jinja2).

Both outputs come from Jinja templates in ``templates/`` (``report.typ.j2``, ``report.html.j2``).

Escaping, so that no data value can inject markup:

* Typst: every value reaches the Typst source only as a string literal made by the ``typst_str``
  filter (``"..."`` with backslash, quote and every control character escaped); in markup the
  template writes ``#{{ value|typst_str }}``. A string literal is rendered as plain text by Typst,
  so ``*bold*``, ``$x$``, ``#set page(...)`` or ``"); ...`` come out literally. As a second guard
  the Typst environment's ``finalize`` hook refuses to print any value that did not pass through
  ``typst_str`` (or is Typst code built here, or a number): a template that forgets the filter
  fails loudly instead of injecting.
* HTML: Jinja autoescape is on. Only the figure SVGs (read from disk, checked for scripts and
  given per-figure id prefixes) are inserted as markup.

Output is deterministic: the PDF has no date (``#set document(date: none)``), only the fonts
bundled in typst are used (system fonts ignored), figures are copied under fixed names into a
private temporary Typst root; the HTML has no timestamp. Both files are written atomically after
both have been rendered, so a failure leaves neither a partial PDF nor a partial HTML.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
from markupsafe import Markup

from . import ResreproError, outputs
from .claims import VERDICTS
from .io import read_json, write_bytes, write_text

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TYPST_TEMPLATE = "report.typ.j2"
HTML_TEMPLATE = "report.html.j2"

# Typst page geometry used to fit figures (A4, keep in sync with report.typ.j2).
_TEXT_WIDTH_CM = 21.0 - 2 * 2.2
_MAX_FIGURE_HEIGHT_CM = 19.5

_ALIGNS = ("left", "center", "right")
_WIDTH = re.compile(r"auto|\d+(\.\d+)?(fr|cm|mm|pt|em)")

# Verdicts of the claims audit (resrepro.claims.VERDICTS) and their colours in both outputs.
VERDICT_COLORS = dict(zip(VERDICTS, ("#1b7a3a", "#b00020", "#a65400", "#5a5a5a"), strict=True))


# --------------------------------------------------------------------------------------------
# Typst escaping


class TypstCode(str):
    """A fragment of Typst source that is safe to emit verbatim (built here, never from data)."""


def typst_str(value: Any) -> TypstCode:
    """Return ``value`` as a Typst string literal (``"..."``), escaped so it can only be text.

    ``None`` becomes the empty string; other non-strings go through ``str()``.
    """
    s = "" if value is None else str(value)
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or 0x7F <= o < 0xA0 or o in (0x2028, 0x2029):
            out.append("\\u{%x}" % o)
        else:
            out.append(ch)
    out.append('"')
    return TypstCode("".join(out))


def _typst_finalize(value: Any) -> Any:
    if isinstance(value, TypstCode):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise ResreproError(
        f"the Typst template prints the raw value {str(value)[:60]!r}; every data value must go "
        "through the typst_str filter ({{ value|typst_str }}) - fix the template"
    )


# --------------------------------------------------------------------------------------------
# table helpers (also used by the report stage to write per-table files)


def _check_table(table: Mapping, where: str = "table") -> tuple[list[str], list[list[str]]]:
    tid = table.get("id", "?") if isinstance(table, Mapping) else "?"
    if not isinstance(table, Mapping):
        raise ResreproError(
            f"{where} is a {type(table).__name__}, not a dict; fix the report context"
        )
    columns = table.get("columns")
    rows = table.get("rows")
    if not isinstance(columns, Sequence) or isinstance(columns, str) or not columns:
        raise ResreproError(
            f"table {tid!r} has no 'columns' list; the report context must give the headers"
        )
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise ResreproError(
            f"table {tid!r} has no 'rows' list; the report context must give the rows"
        )
    cols = ["" if c is None else str(c) for c in columns]
    out_rows = []
    for i, row in enumerate(rows):
        if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != len(cols):
            n = len(row) if isinstance(row, Sequence) and not isinstance(row, str) else "not a list"
            raise ResreproError(
                f"table {tid!r} row {i + 1} has {n} cells but {len(cols)} columns; make every row "
                "as long as the header"
            )
        out_rows.append(["" if c is None else str(c) for c in row])
    return cols, out_rows


_NUMERIC_START = re.compile(r"^[\s(]*[+\-−–]?[\s]*[0-9.]")
_PLACEHOLDER = {"", "—", "–", "-", "n/a", "NA", "nan", "—", "?"}


def column_alignment(table: Mapping) -> list[str]:
    """``table["align"]`` if given, else: first column left, numeric-looking columns right."""
    cols, rows = _check_table(table)
    given = table.get("align")
    if given is not None:
        if (
            not isinstance(given, Sequence)
            or isinstance(given, str)
            or len(given) != len(cols)
            or any(a not in _ALIGNS for a in given)
        ):
            raise ResreproError(
                f"table {table.get('id', '?')!r}: 'align' must list one of {'/'.join(_ALIGNS)} per "
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
    cols, rows = _check_table(table)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows(rows)
    return buf.getvalue()


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "±": r"\ensuremath{\pm}",
    "−": r"\ensuremath{-}",
    "×": r"\ensuremath{\times}",
    "≈": r"\ensuremath{\approx}",
    "\n": " ",
    "\r": " ",
    "\t": " ",
}


def latex_escape(value: Any) -> str:
    s = "" if value is None else str(value)
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)


def table_to_latex(table: Mapping) -> str:
    """A booktabs ``tabular`` fragment (needs ``\\usepackage{booktabs}``), every cell escaped.

    The title and notes are written as ``%`` comments so the fragment can go into any float.
    """
    cols, rows = _check_table(table)
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


# --------------------------------------------------------------------------------------------
# context validation and preparation


def _req_str(ctx: Mapping, key: str, where: str = "report context") -> str:
    v = ctx.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ResreproError(
            f"{where} lacks a non-empty string {key!r}; the report stage must set it"
        )
    return v


def _str_list(v: Any, what: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str) or not isinstance(v, Sequence):
        raise ResreproError(
            f"{what} must be a list of strings, not {type(v).__name__}; fix the report context"
        )
    return ["" if x is None else str(x) for x in v]


def _dict_list(v: Any, what: str) -> list[Mapping]:
    if v is None:
        return []
    if (
        isinstance(v, str)
        or not isinstance(v, Sequence)
        or not all(isinstance(x, Mapping) for x in v)
    ):
        raise ResreproError(f"{what} must be a list of dicts; fix the report context")
    return list(v)


def _svg_size_pt(text: str, path: Path) -> tuple[float, float]:
    """Width and height of an SVG in points, from width/height or the viewBox."""
    m = re.search(r"<svg\b[^>]*>", text, re.S)
    if not m:
        raise ResreproError(f"figure {str(path)!r} is not an SVG (no <svg> element); regenerate it")
    tag = m.group(0)

    def attr(name):
        a = re.search(rf'\b{name}\s*=\s*"([^"]*)"', tag)
        return a.group(1) if a else None

    units = {"pt": 1.0, "px": 0.75, "in": 72.0, "cm": 72 / 2.54, "mm": 72 / 25.4, "": 0.75}
    w, h = attr("width"), attr("height")
    if w and h:
        mw = re.fullmatch(r"\s*([0-9.]+)\s*(pt|px|in|cm|mm|)\s*", w)
        mh = re.fullmatch(r"\s*([0-9.]+)\s*(pt|px|in|cm|mm|)\s*", h)
        if mw and mh:
            return float(mw[1]) * units[mw[2]], float(mh[1]) * units[mh[2]]
    vb = attr("viewBox")
    if vb:
        parts = re.split(r"[\s,]+", vb.strip())
        if len(parts) == 4:
            return float(parts[2]), float(parts[3])
    return 4.0, 3.0  # unknown: treat as 4:3


_UNSAFE_SVG = re.compile(
    r"<\s*(script|foreignObject|iframe|object|embed)\b|\son[a-z]+\s*=|javascript:", re.I
)


def _inline_svg(text: str, prefix: str, caption: str, path: Path) -> Markup:
    """SVG text ready to inline into HTML: prolog dropped, ids prefixed, no scripts."""
    if _UNSAFE_SVG.search(text):
        raise ResreproError(
            f"figure {str(path)!r} contains scripts or event handlers; refusing to inline it - "
            "regenerate it with resrepro.figures"
        )
    start = text.find("<svg")
    if start < 0:
        raise ResreproError(f"figure {str(path)!r} is not an SVG (no <svg> element); regenerate it")
    svg = text[start:]
    ids = set(re.findall(r'\sid="([^"]+)"', svg))
    if ids:
        svg = re.sub(r'(\sid=")([^"]+)(")', lambda m: f"{m[1]}{prefix}{m[2]}{m[3]}", svg)

        def ref(m):
            name = m.group(2)
            return f"{m.group(1)}{prefix}{name}" if name in ids else m.group(0)

        svg = re.sub(r'((?:href="|url\()#)([^")\s]+)', ref, svg)
    label = str(Markup.escape(caption))
    svg = re.sub(r"<svg\b", f'<svg role="img" aria-label="{label}"', svg, count=1)
    return Markup(svg.strip())


def _soft_breaks(s: str, every: int = 16, longer_than: int = 32) -> str:
    """Insert zero-width spaces into long unbroken tokens (hashes, paths) so Typst can wrap them."""

    def cut(m):
        tok = m.group(0)
        return "\u200b".join(tok[i : i + every] for i in range(0, len(tok), every))

    return re.sub(r"\S{%d,}" % (longer_than + 1), cut, s)


def _prepare(context: Mapping, root: str | os.PathLike | None) -> dict:
    if not isinstance(context, Mapping):
        raise ResreproError(f"report context is a {type(context).__name__}, not a dict")
    base = Path(root) if root is not None else Path.cwd()
    stamp = context.get("stamp")
    if stamp is not None and not isinstance(stamp, str):
        raise ResreproError("report context 'stamp' must be a string or None; fix the report stage")
    ctx: dict[str, Any] = {
        "title": _req_str(context, "title"),
        "run": str(context.get("run") or ""),
        "stamp": stamp.strip() if stamp and stamp.strip() else None,
        "summary": _str_list(context.get("summary"), "'summary'"),
    }

    sections = []
    for i, s in enumerate(_dict_list(context.get("sections"), "'sections'")):
        sections.append(
            {
                "title": _req_str(s, "title", f"section {i + 1}"),
                "paragraphs": _str_list(s.get("paragraphs"), f"section {i + 1} 'paragraphs'"),
                "terms": [
                    {"term": _req_str(d, "term", f"section {i + 1} term {j + 1}"), "text": str(d.get("text") or "")}
                    for j, d in enumerate(_dict_list(s.get("terms"), f"section {i + 1} 'terms'"))
                ],
                "tables": _str_list(s.get("tables"), f"section {i + 1} 'tables'"),
                "figures": _str_list(s.get("figures"), f"section {i + 1} 'figures'"),
                "claims": bool(s.get("claims")),
                "provenance": bool(s.get("provenance")),
                "after": _str_list(s.get("after"), f"section {i + 1} 'after'"),
            }
        )
    ctx["sections"] = sections

    ctx["definitions"] = [
        {"term": _req_str(d, "term", f"definition {i + 1}"), "text": str(d.get("text") or "")}
        for i, d in enumerate(_dict_list(context.get("definitions"), "'definitions'"))
    ]

    tables, seen = [], set()
    for i, t in enumerate(_dict_list(context.get("tables"), "'tables'")):
        cols, rows = _check_table(t, f"table {i + 1}")
        tid = str(t.get("id") or f"table{i + 1}")
        if tid in seen:
            raise ResreproError(f"two tables have the id {tid!r}; give each table its own id")
        seen.add(tid)
        aligns = column_alignment(t)
        widths = [
            max([len(c) for c in [h] + [r[j] for r in rows]] or [0]) for j, h in enumerate(cols)
        ]
        est = sum(widths) + 3 * len(cols)
        font = 10 if est <= 80 else 9 if est <= 95 else 8 if est <= 115 else 7
        given_widths = t.get("widths")
        if given_widths is not None:
            if (
                isinstance(given_widths, str)
                or not isinstance(given_widths, Sequence)
                or len(given_widths) != len(cols)
                or not all(isinstance(w, str) and _WIDTH.fullmatch(w) for w in given_widths)
            ):
                raise ResreproError(
                    f"table {tid!r}: 'widths' must give one of auto, <n>fr or <n>cm/mm/pt/em per "
                    f"column ({len(cols)} columns); fix the report context"
                )
            typst_columns = TypstCode("(" + ", ".join(given_widths) + ",)")
            font = min(font, 8) if any("fr" in w for w in given_widths) else font
        else:
            typst_columns = TypstCode(str(len(cols)))
        vcol = t.get("verdict_column")
        if vcol is not None:
            if not isinstance(vcol, int) or not 0 <= vcol < len(cols):
                raise ResreproError(f"table {tid!r}: 'verdict_column' must be a column index")
            for r in rows:
                if r[vcol] not in VERDICT_COLORS:
                    raise ResreproError(
                        f"table {tid!r}: {r[vcol]!r} is not a verdict ({', '.join(VERDICT_COLORS)})"
                    )
        tables.append(
            {
                "id": tid,
                "title": str(t.get("title") or ""),
                "columns": cols,
                "rows": rows,
                "notes": _str_list(t.get("notes"), f"table {tid!r} 'notes'"),
                "align": aligns,
                "typst_align": TypstCode("(" + ", ".join(aligns) + ",)"),
                "typst_font": TypstCode(f"{font}pt"),
                "typst_columns": typst_columns,
                "verdict_column": -1 if vcol is None else vcol,
            }
        )
    ctx["tables"] = tables

    figures, seen = [], set()
    for i, f in enumerate(_dict_list(context.get("figures"), "'figures'")):
        fid = str(f.get("id") or f"figure{i + 1}")
        if fid in seen:
            raise ResreproError(f"two figures have the id {fid!r}; give each figure its own id")
        seen.add(fid)
        svg = f.get("svg")
        if not svg:
            raise ResreproError(
                f"figure {fid!r} has no 'svg' path; the figures stage must provide one"
            )
        path = Path(svg)
        if not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise ResreproError(
                f"figure {fid!r}: SVG file {str(path)!r} does not exist; run the figures stage "
                "(or fix the path in the report context)"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ResreproError(
                f"figure {fid!r}: cannot read SVG {str(path)!r} ({e}); regenerate it"
            ) from e
        w_pt, h_pt = _svg_size_pt(text, path)
        caption = str(f.get("caption") or "")
        if h_pt / w_pt * _TEXT_WIDTH_CM > _MAX_FIGURE_HEIGHT_CM:
            size = TypstCode(f"height: {_MAX_FIGURE_HEIGHT_CM}cm")
        else:
            size = TypstCode("width: 88%")  # two of the 6.6 x 4.5 in plots fit on a page
        figures.append(
            {
                "id": fid,
                "caption": caption,
                "source": path,
                "text": text,
                "typst_file": f"figures/fig{i + 1:02d}.svg",
                "typst_size": size,
                "inline_svg": _inline_svg(text, f"f{i + 1}-", caption, path),
            }
        )
    ctx["figures"] = figures

    ctx["provenance"] = []
    for i, p in enumerate(_dict_list(context.get("provenance"), "'provenance'")):
        key = _req_str(p, "key", f"provenance item {i + 1}")
        value = "" if p.get("value") is None else str(p.get("value"))
        ctx["provenance"].append({"key": key, "value": value, "value_wrapped": _soft_breaks(value)})

    ctx["claims"] = []
    for i, c in enumerate(_dict_list(context.get("claims"), "'claims'")):
        where = f"claim {i + 1}"
        verdict = _req_str(c, "verdict", where)
        if verdict not in VERDICT_COLORS:
            raise ResreproError(
                f"{where} ({c.get('id')!r}) has the verdict {verdict!r}; known: {', '.join(VERDICT_COLORS)}"
            )
        checks = []
        for j, ch in enumerate(_dict_list(c.get("checks"), f"{where} 'checks'")):
            checks.append(
                {
                    "kind": _req_str(ch, "kind", f"{where} check {j + 1}"),
                    "outcome": _req_str(ch, "outcome", f"{where} check {j + 1}"),
                    "reason": str(ch.get("reason") or ""),
                }
            )
        ctx["claims"].append(
            {
                "id": _req_str(c, "id", where),
                "verdict": verdict,
                "css": "v-" + verdict.replace(" ", "-"),
                "location": str(c.get("location") or ""),
                "quote": str(c.get("quote") or ""),
                "paper": str(c.get("paper") or ""),
                "ours": str(c.get("ours") or ""),
                "reason": str(c.get("reason") or ""),
                "checks": checks,
            }
        )
    ctx["verdict_colors"] = VERDICT_COLORS
    ctx["blocks"] = _blocks(ctx)
    return ctx


def _blocks(ctx: Mapping) -> list[dict]:
    """The document body in order: each section's heading, paragraphs, terms, tables, figures,
    claims and provenance; then, as before sections could hold them, any tables (Results),
    figures (Figures) and provenance that no section placed."""
    tables = {t["id"]: t for t in ctx["tables"]}
    figures = {f["id"]: f for f in ctx["figures"]}
    used_t, used_f, placed = set(), set(), {"claims": False, "provenance": False}
    out: list[dict] = []

    def section(title, paragraphs=(), terms=(), tids=(), fids=(), claims=False, prov=False, after=()):
        out.append({"kind": "heading", "title": title})
        out.extend({"kind": "paragraph", "text": p} for p in paragraphs)
        if terms:
            out.append({"kind": "terms", "items": list(terms)})
        if prov and ctx["provenance"]:
            placed["provenance"] = True
            out.append({"kind": "provenance", "items": ctx["provenance"]})
        for tid in tids:
            if tid not in tables:
                raise ResreproError(f"section {title!r} refers to table {tid!r}, which the context lacks")
            used_t.add(tid)
            out.append({"kind": "table", "table": tables[tid]})
        for fid in fids:
            if fid not in figures:
                raise ResreproError(f"section {title!r} refers to figure {fid!r}, which the context lacks")
            used_f.add(fid)
            out.append({"kind": "figure", "figure": figures[fid]})
        if claims and ctx["claims"]:
            placed["claims"] = True
            out.append({"kind": "claims", "claims": ctx["claims"]})
        out.extend({"kind": "paragraph", "text": p} for p in after)

    for s in ctx["sections"]:
        section(s["title"], s["paragraphs"], s["terms"], s["tables"], s["figures"], s["claims"], s["provenance"], s["after"])
    if ctx["definitions"]:
        section("Definitions", terms=ctx["definitions"])
    rest_t = [t["id"] for t in ctx["tables"] if t["id"] not in used_t]
    if rest_t:
        section("Results", tids=rest_t)
    rest_f = [f["id"] for f in ctx["figures"] if f["id"] not in used_f]
    if rest_f:
        section("Figures", fids=rest_f)
    if ctx["claims"] and not placed["claims"]:
        section("Claims", claims=True)
    if ctx["provenance"] and not placed["provenance"]:
        section("Provenance", prov=True)
    return out


# --------------------------------------------------------------------------------------------
# rendering


def _environment(typst: bool) -> jinja2.Environment:
    if not TEMPLATE_DIR.is_dir():
        raise ResreproError(f"template folder {str(TEMPLATE_DIR)!r} is missing; reinstall resrepro")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=not typst,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_typst_finalize if typst else None,
    )
    env.filters["typst_str"] = typst_str
    env.filters["soft_breaks"] = _soft_breaks
    return env


def _render_template(typst: bool, name: str, ctx: Mapping) -> str:
    env = _environment(typst)
    try:
        return env.get_template(name).render(**ctx)
    except jinja2.TemplateSyntaxError as e:
        where = e.filename or str(TEMPLATE_DIR / name)
        raise ResreproError(
            f"report template {where} line {e.lineno} has a syntax error: {e.message}; fix the template"
        ) from e
    except jinja2.TemplateNotFound as e:
        raise ResreproError(
            f"report template {e.name!r} not found in {str(TEMPLATE_DIR)!r}; reinstall resrepro"
        ) from e
    except jinja2.UndefinedError as e:
        raise ResreproError(
            f"report template {name} uses an undefined value ({e.message}); fix the template or "
            "the report context"
        ) from e


def _compile_pdf(source: str, figures: Sequence[Mapping]) -> bytes:
    import typst  # imported here: the PyPI wheel is large and only this stage needs it

    with tempfile.TemporaryDirectory(prefix="resrepro-typst-") as tmp:
        rootdir = Path(tmp)
        (rootdir / "figures").mkdir()
        for f in figures:
            shutil.copyfile(f["source"], rootdir / f["typst_file"])
        (rootdir / "report.typ").write_text(source, encoding="utf-8")
        try:
            pdf, warns = typst.compile_with_warnings(
                str(rootdir / "report.typ"),
                root=str(rootdir),
                format="pdf",
                ignore_system_fonts=True,
            )
        except typst.TypstError as e:
            msg = getattr(e, "message", "") or str(e)
            missing = re.search(r"file not found \(searched at (.*?)\)", msg)
            if missing:
                searched = missing.group(1)
                for f in figures:
                    if searched.endswith(f["typst_file"]):
                        raise ResreproError(
                            f"figure {f['id']!r}: SVG file {str(f['source'])!r} could not be read "
                            "while building the PDF; run the figures stage again"
                        ) from e
                raise ResreproError(
                    f"the report template refers to a file that does not exist ({searched}); "
                    "fix the template"
                ) from e
            for f in figures:
                if f["typst_file"] in (getattr(e, "diagnostic", "") or ""):
                    raise ResreproError(
                        f"figure {f['id']!r}: Typst cannot use {str(f['source'])!r} ({msg}); "
                        "regenerate the figure"
                    ) from e
            diag = (getattr(e, "diagnostic", "") or "").strip()
            raise ResreproError(
                f"Typst could not compile the report from template {TYPST_TEMPLATE}: {msg}\n{diag}\n"
                "fix the template (data values cannot cause this: they are passed as string literals)"
            ) from e
    for w in warns or []:
        text = getattr(w, "message", "") or str(w)
        if "font" in text:
            raise ResreproError(
                f"Typst font problem in {TYPST_TEMPLATE}: {text}; use only the fonts bundled with "
                "typst (Libertinus Serif, New Computer Modern, DejaVu Sans Mono)"
            )
        warnings.warn(f"typst: {text}", stacklevel=3)
    if not isinstance(pdf, (bytes, bytearray)) or not bytes(pdf).startswith(b"%PDF"):
        raise ResreproError(
            "Typst returned no PDF; check the typst installation (pip install typst)"
        )
    return bytes(pdf)


def render_sources(
    context: Mapping, *, root: str | os.PathLike | None = None
) -> tuple[str, str, dict]:
    """Validate ``context`` and return (Typst source, HTML text, prepared context). No files."""
    ctx = _prepare(context, root)
    typ = _render_template(True, TYPST_TEMPLATE, ctx)
    html = _render_template(False, HTML_TEMPLATE, ctx)
    return typ, html, ctx


def render(
    context: Mapping,
    out_pdf: str | os.PathLike,
    out_html: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
) -> None:
    """Render ``context`` to ``out_pdf`` (Typst) and ``out_html`` (self-contained HTML).

    ``root``: folder that relative figure paths in the context are resolved against (default: the
    current directory). Figures are copied into a private temporary folder that is the Typst root,
    so the document can read nothing else. Raises :class:`ResreproError` on a bad context, a
    missing or unreadable figure, or a broken template; then no output file is written.
    """
    typ, html, ctx = render_sources(context, root=root)
    pdf = _compile_pdf(typ, ctx["figures"])
    write_bytes(out_pdf, pdf)
    write_text(out_html, html)


# --- The report's content, computed from a run's result files alone ------------------------------

RECIPE_CITATION = (
    "The paper states no training recipe. We use the standard CIFAR-10 recipe of kuangliu/pytorch-cifar "
    "(github.com/kuangliu/pytorch-cifar): SGD with momentum, cosine learning-rate schedule, pad-4 random crop "
    "and horizontal flip; ResNet-110 warms up at a lower learning rate as in He et al. (2016, Sec. 4.2)."
)

TABLE_FILES = tuple(outputs.table_ids("tables", "report"))


def _recipe_text(train: dict, overrides: dict) -> str:
    t = train
    milestones = ""
    if t["schedule"] == "multistep":
        milestones = f" (milestones {', '.join(map(str, t['milestones']))}, factor {t['gamma']:g})"
    text = (
        f"{t['epochs']} epochs, batch {t['batch_size']}, SGD (momentum {t['momentum']:g}"
        f"{', Nesterov' if t['nesterov'] else ''}), learning rate {t['lr']:g} with a {t['schedule']} schedule"
        f"{milestones}, "
        f"weight decay {t['weight_decay']:g}, label smoothing {t['label_smoothing']:g}; augmentation: "
        f"{'pad-' + str(t['crop_padding']) + ' random crop' if t['crop_padding'] else 'no crop'}"
        f"{' and horizontal flip' if t['flip'] else ''}; loss: cross-entropy."
    )
    for model, o in sorted(overrides.items()):
        text += f" {model}: " + ", ".join(f"{k} = {v}" for k, v in sorted(o.items())) + "."
    return text


def snakemake_metadata(path: str, root: str | os.PathLike = ".snakemake") -> dict | None:
    """Snakemake's record of the job that wrote ``path`` (rule, start and end time), if any.

    Read from Snakemake's file-based metadata store (``.snakemake/metadata``: one JSON record per
    output, named by the url-safe base64 of its path); None when absent or unreadable.
    """
    import base64
    import json

    b64 = base64.urlsafe_b64encode(path.encode()).decode()
    parts = [b64[i : i + 254] for i in range(0, len(b64), 254)]
    parts = ["@" + x for x in parts[:-1]] + [parts[-1]]
    f = Path(root, "metadata", *parts)
    try:
        rec = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("incomplete"):
        return None
    return rec


def _runtimes(results: Path, spec: dict, summaries: dict, snakemake_dir) -> dict:
    """One row per job of the run: rule, start (UTC) and wall time, from Snakemake's metadata;
    training jobs also give their own measured wall and training times (train.json)."""
    import datetime as dt

    r = str(results)
    jobs = [("prepare_data", f"{spec['data']['cache_dir']}/cifar10.npz"), ("model_info", f"{r}/models.json")]
    for m in spec["models"]:
        for sd in spec["seeds"]:
            jobs.append((f"train {m} seed {sd}", f"{r}/train/{m}/seed{sd}/history.csv"))
    for m in spec["models"]:
        for sd in spec["seeds"]:
            jobs.append((f"evaluate {m} seed {sd}", f"{r}/eval/{m}/seed{sd}/metrics.json"))
    jobs += [("tables", f"{r}/tables/tables.json"), ("provenance", f"{r}/provenance.json"),
             ("figures", f"{r}/figures/curves.svg"), ("claims", f"{r}/claims.json")]
    rows, missing = [], 0
    for name, out in jobs:
        rec = snakemake_metadata(out, snakemake_dir)
        if rec and rec.get("starttime") and rec.get("endtime"):
            start = dt.datetime.fromtimestamp(rec["starttime"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            wall = f"{rec['endtime'] - rec['starttime']:,.1f}"
        else:
            start, wall = "not recorded", "\u2014"
            missing += 1
        own = "\u2014"
        if name.startswith("train "):
            _, m, _, sd = name.split()
            t = summaries.get((m, int(sd)))
            if t:
                own = f"{t['job_wall_seconds']:,.1f} (training {t['total_train_seconds']:,.1f}) on {t['device_name']}"
        rows.append([name, out, start, wall, own])
    notes = ["Start and wall time: Snakemake's record of each job (.snakemake/metadata); the report job itself is not listed.",
             "Own measurement: the training job's wall time and the time spent in training epochs, measured by resrepro.train."]
    if missing:
        notes.append(f"{missing} job(s) not recorded: run through Snakemake in this folder to record them.")
    return {"id": "runtimes", "title": outputs.table("runtimes").title, "columns": ["Job", "Output", "Started (UTC)", "Wall (s)", "Own measurement (s)"],
            "rows": rows, "notes": notes, "widths": ["auto", "1fr", "auto", "auto", "auto"]}


def _claims_table(audit: dict, stamp: str | None) -> dict:
    rows = [[c["id"], c["statement"], c["ours"], c["verdict"]] for c in audit["claims"]]
    n = len(rows)
    counts = "; ".join(f"{k}: {v}" for k, v in audit["verdicts"].items())
    notes = [f"{stamp.upper()}."] if stamp else []
    notes += [
        f"{n} claims: every cell of Tables 1-3 (T<table>.<model>.<quantity>) and every statement of the text (reports/claims.yaml). {counts}.",
        "Ours: mean \u00b1 std over seeds with the 95 % t-interval, or the outcome of the ordering tests; \u2014 where nothing of ours applies. "
        "The evidence and the rule behind each verdict follow in the list below and in claims.json.",
    ]
    return {"id": "claims", "title": outputs.table("claims").title,
            "columns": ["Claim", "The paper states", "Ours", "Verdict"], "rows": rows, "notes": notes,
            "widths": ["auto", "1fr", "1fr", "auto"], "verdict_column": 3}


def _degradation(results: Path) -> tuple[dict | None, list[dict], list[dict]]:
    """The degradation study's section, table and figures, when the run has one (resrepro.degradation)."""
    path = results / "degradation" / "summary.json"
    if not path.exists():
        return None, [], []
    s = read_json(path)
    ev = s["evidence"]
    depths = s["depths"]
    deep = str(depths[-1])

    def err(m, key):
        v = s["kinds"][m][key]
        return f"{v['mean']:.2f} %" + ("" if v["std"] is None else f" ± {v['std']:.2f}")

    def yes_no(v):
        return "not testable (neither net started converging)" if v is None else ("yes" if v else "no")

    not_started = ev.get("not_started", [])
    started_text = (
        f" Did not start converging ({ev['started_rule']}): {', '.join(not_started)}; their training error says how the run failed at this "
        "learning rate and length, not how depth acts on a network that trains." if not_started else ""
    )
    init = {m: s["kinds"][m]["grad_ratio_first_to_last_block"].get("0") for m in s["kinds"]}
    grad_text = "; ".join(f"{m} {v['mean']:.3g}" for m, v in init.items() if v) or "not measured at initialisation"
    jac = s["jacobian"]
    paragraphs = [
        f"Plain networks (no shortcuts, same layers and parameters) against their residual twins at depths {', '.join(map(str, depths))}, "
        f"seeds {', '.join(map(str, s['seeds']))}, as in He et al. (2016), Fig. 6 and Table 6. Rule: {ev['rule']}.",
        "Final training error: " + "; ".join(f"plain-{d} {err(f'plain{d}', 'final_train_error')}, ResNet-{d} {err(f'resnet{d}', 'final_train_error')}" for d in depths) + ". "
        f"Plain networks degrade: {'yes' if ev['plain_degrades'] else 'no'}; residual networks degrade: {'yes' if ev['residual_degrades'] else 'no'}; "
        f"at depth {deep} the shortcut lowers training error beyond the noise: {yes_no(ev['shortcut_lowers_train_error_at_depth'][deep])}, "
        f"test error: {yes_no(ev['shortcut_lowers_test_error_at_depth'][deep])}." + started_text,
        "Gradient flow: ratio of the gradient norm reaching the first block to that reaching the last block, at initialisation (values far below 1 mean "
        f"the gradient shrinks on its way back to the input): {grad_text}.",
        f"The paper's identity dy/dx = dF/dx + I, on trained blocks of {jac['checks'][0]['model']} (one identity block per stage, autograd): "
        f"the shortcut's Jacobian equals I (largest deviation {max(c['max_abs_dev_identity'] or 0.0 for c in jac['checks']):.1e}), so before the "
        f"block's ReLU its Jacobian is dF/dx + I; after the ReLU it is diag(relu')(dF/dx + I) (largest deviation "
        f"{max(c['max_abs_dev_out'] for c in jac['checks']):.1e}): the identity term reaches the input only through active units.",
    ]
    section = {"title": "Degradation and gradient flow", "paragraphs": paragraphs, "tables": ["table6"], "figures": ["figure6", "gradflow"]}
    with open(results / "degradation" / "table6.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    table = {"id": "table6", "title": outputs.table("table6").title,
             "columns": rows[0], "rows": rows[1:],
             "notes": [s["he_table6"]["citation"] + ": their ResNet test errors (full data, 164 epochs); ours: mean ± std over seeds of this run."]}
    fig_dir = results / "degradation"
    figures = [
        {"id": fid, "caption": outputs.figure(fid).caption, "svg": str(fig_dir / f"{fid}.svg"), "png": str(fig_dir / f"{fid}.png")}
        for fid in outputs.figure_ids("degradation")
    ]
    return section, [table], figures


def build_context(results: str | Path, spec: dict, snakemake_dir: str | os.PathLike = ".snakemake") -> dict:
    """Everything the templates show, from ``results/<run>/`` files and the run's spec."""
    import json

    from .analysis import display_name

    results = Path(results)
    tables = read_json(results / "tables" / "tables.json")
    measured = read_json(results / "tables" / "measured.json")
    prov = read_json(results / "provenance.json")
    audit = read_json(results / "claims.json")
    data_manifest = prov.get("data") or {}
    models, seeds = spec["models"], spec["seeds"]
    summaries = {(m, s): read_json(results / "train" / m / f"seed{s}" / "train.json") for m in models for s in seeds}
    first = next(iter(summaries.values()))
    devices = sorted({v["device_name"] for v in summaries.values()})
    stamp = spec.get("stamp")

    n_test = read_json(results / "eval" / models[0] / f"seed{seeds[0]}" / "metrics.json")["n"]
    ranking = sorted(models, key=lambda m: -measured[m]["accuracy"]["mean"])
    verdicts = audit["verdicts"]
    n_claims = len(audit["claims"])
    n_cells = sum(c["form"]["type"] == "table_cell" for c in audit["claims"])
    summary = [
        f"We trained {len(models)} architectures ({', '.join(display_name(m) for m in models)}) with "
        f"{len(seeds)} seed(s) each on CIFAR-10 ({first['train_images']:,} training and {first['val_images']:,} validation images), "
        f"selected each model's weights on the validation split, and evaluated them once on "
        f"{n_test:,} test images.",
        "Measured test accuracy, highest first: "
        + "; ".join(f"{display_name(m)} {measured[m]['accuracy']['mean']:.2f} %" for m in ranking) + ".",
        f"Claims audit: {n_claims} claims of the paper ({n_cells} table cells, {n_claims - n_cells} statements of its text), each "
        "decided by a rule in code: " + ", ".join(f"{v} {k}" for k, v in verdicts.items()) + ". "
        f"{verdicts['inconsistent as stated']} claims cannot hold as printed: they contradict the paper's own numbers, the structure "
        "of CIFAR-10's test set, the parameter counts of the models named, or mathematics.",
    ]
    if not audit["comparable"]:
        summary.insert(0, ("This is the " + stamp + ": a short run on a small subset that tests the pipeline, not the paper. " if stamp else "")
                       + "No measurement of this run is compared with the paper's numbers ("
                       + "; ".join(audit["not_comparable_because"]) + "): only the paper's self-consistency checks decide verdicts.")
    elif stamp:
        summary.insert(0, f"This run is marked: {stamp}.")

    d = spec["data"]
    src = data_manifest.get("source", {})
    source_text = f"{src.get('kind', 'unknown')} ({src.get('location', 'unknown')}), sha256 {src.get('sha256', 'n/a')}"
    ver = data_manifest.get("verified", {})
    verified_text = (
        f"checked against the published per-class counts, first labels and channel statistics ({', '.join(ver.get('checked', []))})"
        if ver.get("full_size") else f"not the full dataset, so only {', '.join(ver.get('checked', [])) or 'basic'} checks apply"
    )
    data_text = (
        f"Data: CIFAR-10 (50,000 training and 10,000 test images, 10 classes; the test set has exactly 1,000 images per class). "
        f"Source: {source_text}; {verified_text}. "
        f"A stratified {50000 - d['val_size']:,}/{d['val_size']:,} train/validation split of the official training set is drawn with seed {d['split_seed']}"
        + (f"; this run uses stratified subsets of {d['train_subset']} training, {d['val_subset']} validation and {d['test_subset']} test images" if d.get("train_subset") or d.get("test_subset") else "")
        + "."
    )
    rules = audit["rules"]
    scope_locations: dict[str, int] = {}
    for c in audit["claims"]:
        key = c["location"].split(",")[0]
        scope_locations[key] = scope_locations.get(key, 0) + 1
    study, degradation_tables, degradation_figures = _degradation(results)
    sections = [
        {"title": "Scope of reproducibility", "paragraphs": [
            "Arslan, Zhang and Hossein (2025) claim that deeper ResNets (18, 34, 50, 110 layers) classify CIFAR-10 better than shallower ones and than VGG-16 "
            "(their Table 1), report epochs and time to convergence (Table 2) and test error against parameter count (Table 3), and argue that shortcut "
            "connections cure the degradation and vanishing-gradient problems of deep plain networks.",
            f"We transcribed every claim once (reports/paper.yaml: the tables; reports/claims.yaml: the text, with quotes and locations): {n_claims} claims, "
            + ", ".join(f"{v} from {k}" for k, v in scope_locations.items()) + ". "
            "Each is checked against our measurements and against the paper itself; The claims-audit section lists every claim with its verdict and evidence.",
        ]},
        {"title": "Methodology", "paragraphs": [
            data_text,
            RECIPE_CITATION,
            "Recipe: " + _recipe_text(spec["train"], spec.get("overrides", {})),
            f"Seeds: {', '.join(map(str, seeds))} (one training job per model and seed). Hardware: {', '.join(devices)}; precision {first['precision']}.",
            "Model selection: the weights of the epoch with the best validation accuracy are kept; the test set is used once, for the final evaluation.",
            "Definitions used throughout:",
        ], "terms": [
            {"term": "Accuracy", "text": "share of test images whose predicted class is the true class."},
            {"term": "Precision, recall, F1 (macro)", "text": "computed per class (precision TP/(TP+FP), recall TP/(TP+FN), F1 their harmonic mean), then averaged with equal weight over the 10 classes; the per-class values are in metrics.json and the per-class F1 figure. On a test set with equally many images per class, macro recall equals accuracy."},
            {"term": "Test error", "text": "100 % minus test accuracy."},
            {"term": "Epochs to convergence", "text": f"the first epoch whose validation accuracy is within {100 * spec['tolerance']:g} percentage points of the run's best validation accuracy (the paper gives no definition)."},
            {"term": "Time per epoch", "text": "mean wall time of the training part of an epoch (augmentation, forward, backward, update), without validation."},
            {"term": "Total training time", "text": "sum of the epoch times, in hours."},
            {"term": "Mean \u00b1 std", "text": "mean and sample standard deviation over seeds; with one seed no spread exists and none is shown."},
            {"term": "95 % CI", "text": "Student-t confidence interval of the mean over seeds (t quantile with n \u2212 1 degrees of freedom)."},
            {"term": "A value is reproduced", "text": f"iff |mean \u2212 printed value| \u2264 the printed rounding half-unit + max({rules['margin_pp']:g} percentage points, 95 % CI half-width). The margin is about 3 x the seed-to-seed std of a CIFAR-10 ResNet (He et al. 2016: \u00b10.16 %)."},
            {"term": "An ordering is reproduced", "text": f"iff a one-sided Welch t-test over seeds rejects \u201cnot better\u201d at alpha = {rules['alpha']:g} for every pair the claim names (an intersection-union test, so no multiplicity correction is needed). A difference inside the seed-to-seed noise is not reproduced; with one seed an ordering is not testable."},
            {"term": "Comparable run", "text": "the full dataset, at least as many epochs as the paper's longest convergence (90), and no stamp; otherwise measurements are shown but decide no verdict."},
            {"term": "Verdicts", "text": "reproduced; not reproduced; inconsistent as stated (contradicts the paper's own numbers, CIFAR-10's test set, the exact parameter count of the model named, or mathematics); not testable (with the reason). A claim's checks combine as: " + rules["combination"] + "."},
        ]},
        {"title": "Results", "paragraphs": [
            "Tables 1-3 set the paper's printed values beside ours and their difference; Table 4 adds what the original ResNet paper and well-known public "
            "implementations report. Our numbers come from result files written by the pipeline; none are typed in."
            + ("" if audit["comparable"] else " This run is not comparable with the paper: the differences below measure the run, not the paper."),
        ], "tables": [t["id"] for t in tables]},
        {"title": "Claims audit", "paragraphs": [
            "Every claim, with the paper's statement, our measurement and the verdict. Below the table each claim is listed with its quote, location and "
            "every check that was applied: [paper] the paper's own numbers, [dataset] what CIFAR-10's test set allows, [model] exact parameter counts, "
            "[mathematics] the theory section checked numerically, [measurement] our runs, [scope] what no run here can decide.",
        ], "tables": ["claims"], "claims": True},
        {"title": "Figures", "figures": outputs.figure_ids("figures")},
        {"title": "Deviations from the paper", "paragraphs": [
            "The paper gives no recipe, split, seeds, hardware or definition of convergence; ours are stated under Methodology.",
            "The paper's tables omit VGG-16 (Tables 1-3) and ResNet-110 (Tables 2-3) although its text compares them; those cells show \u2014, and the "
            "claims that rest on them are audited against our runs only.",
            "Our ResNet-18/34/50 are the CIFAR variants (3x3 stem, no max-pool, 10 classes); the paper's parameter counts (11.7, 21.8, 25.6 M) equal those "
            "of the ImageNet models with 1,000 classes. Our ResNet-110 is He et al.'s CIFAR network (1.7 M parameters, option-A shortcuts), the only "
            "published ResNet-110; the paper does not define its own.",
            "Our VGG-16 has batch normalisation and one linear classifier layer (512 to 10), as is usual on CIFAR-10; the paper does not describe its VGG-16.",
            "The paper's theory section writes a squared-error loss; we train with cross-entropy, the standard loss for classification (the paper does not say which loss its experiments used).",
        ] + ([] if study else [
            "No plain (shortcut-free) networks are trained in this run, so the degradation and residual-versus-plain claims are not testable here.",
        ])},
        {"title": "Appendix: provenance", "paragraphs": [
            "What produced this report: code, configuration, software, hardware, data and the runtime of every job.",
        ], "provenance": True, "tables": ["runtimes"]},
    ]
    deviations = next(sec for sec in sections if sec["title"] == "Deviations from the paper")
    if stamp:
        deviations["paragraphs"].insert(0, f"This run ({stamp}) trains on small subsets for few epochs: its numbers are not comparable with the paper's.")
    if study:  # the study's own section, before the deviations
        sections.insert(sections.index(deviations), study)

    fig_dir = results / "figures"
    figures = [{"id": fid, "caption": outputs.figure(fid).caption} for fid in outputs.figure_ids("figures")]
    for f in figures:
        f["svg"] = str(fig_dir / f"{f['id']}.svg")
        f["png"] = str(fig_dir / f"{f['id']}.png")

    git = prov.get("git", {})
    provenance = [
        {"key": "Commit", "value": f"{git.get('commit') or 'unknown'}{' (uncommitted changes)' if git.get('dirty') else ''}"},
        {"key": "Config digest (sha256)", "value": prov.get("config_digest", "")},
        {"key": "Config", "value": json.dumps(prov.get("config", {}), sort_keys=True, separators=(", ", ": "))},
        {"key": "Platform", "value": prov.get("platform", "")},
        {"key": "CPU", "value": prov.get("cpu", "")},
        {"key": "GPUs", "value": ", ".join(prov.get("gpus") or []) or "none"},
        {"key": "Versions", "value": ", ".join(f"{k} {v}" for k, v in sorted((prov.get("versions") or {}).items()) if v)},
        {"key": "Data source", "value": f"{src.get('kind', '')}: {src.get('location', '')}"},
        {"key": "Data checksum (sha256)", "value": f"{src.get('sha256', 'n/a')} ({(src.get('checksum_verified') or {}).get('by', 'not verified before reading')})"},
        {"key": "Prepared data sha256", "value": str(data_manifest.get("prepared", {}).get("sha256", ""))},
        {"key": "Paper transcription", "value": "reports/paper.yaml (Tables 1-3), reports/claims.yaml (text claims); context: reports/context.yaml"},
    ]
    all_tables = [{k: t[k] for k in ("id", "title", "columns", "rows", "notes", "align") if k in t} for t in tables]
    all_tables += degradation_tables
    figures += degradation_figures
    all_tables.append(_claims_table(audit, stamp))
    all_tables.append(_runtimes(results, spec, summaries, snakemake_dir))
    claims = [{k: c[k] for k in ("id", "verdict", "location", "quote", "ours")} | {
        "paper": c["statement"], "reason": c["reason"],
        "checks": [{k: ch[k] for k in ("kind", "outcome", "reason")} for ch in c["checks"]]} for c in audit["claims"]]
    return {
        "title": "Reproduction of Arslan, Zhang & Hossein (2025) on CIFAR-10",
        "run": spec["run"],
        "stamp": stamp,
        "summary": summary,
        "sections": sections,
        "tables": all_tables,
        "figures": figures,
        "claims": claims,
        "provenance": provenance,
    }


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
