"""The document model: what a report shows, as dataclasses, checked once when it is built.

A report context is a plain mapping (what :func:`resrepro.report.build_context` returns, or a test's
dict); :meth:`Document.from_mapping` turns it into a :class:`Document` and says clearly what is
malformed. The model knows nothing of this study's content: a title, an optional stamp, summary
paragraphs, sections (paragraphs, terms, and the ids of the tables and figures they place), tables,
SVG figures, the claims of an audit with their checks, and provenance items.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from markupsafe import Markup

from .. import ResreproError
from ..claims import VERDICTS
from . import svg
from .escape import TypstCode, soft_breaks
from .tables import check_groups, check_table, column_alignment, split_parts

# Verdicts of the claims audit (resrepro.claims.VERDICTS) and their colours in both outputs.
VERDICT_COLORS = dict(
    zip(VERDICTS, ("#1b7a3a", "#b00020", "#5b4a8a", "#a65400", "#8a6d00", "#7a4a2a", "#5a5a5a"), strict=True)
)

# Typst page geometry used to fit figures (A4, keep in sync with report.typ.j2).
_TEXT_WIDTH_CM = 21.0 - 2 * 2.2
_MAX_FIGURE_HEIGHT_CM = 19.5
_WIDTH = re.compile(r"auto|\d+(\.\d+)?(fr|cm|mm|pt|em)")


# --- reading a mapping ---------------------------------------------------------------------------


def _req_str(m: Mapping, key: str, where: str = "report context") -> str:
    v = m.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ResreproError(f"{where} lacks a non-empty string {key!r}; the report stage must set it")
    return v


def _str_list(v: Any, what: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str) or not isinstance(v, Sequence):
        raise ResreproError(f"{what} must be a list of strings, not {type(v).__name__}; fix the report context")
    return ["" if x is None else str(x) for x in v]


def _dict_list(v: Any, what: str) -> list[Mapping]:
    if v is None:
        return []
    if isinstance(v, str) or not isinstance(v, Sequence) or not all(isinstance(x, Mapping) for x in v):
        raise ResreproError(f"{what} must be a list of dicts; fix the report context")
    return list(v)


def _each(context: Mapping, key: str) -> Iterator[tuple[int, Mapping]]:
    """The dicts listed under ``key`` with their positions."""
    return enumerate(_dict_list(context.get(key), f"'{key}'"))


def _text(v: Any) -> str:
    return str(v or "")


# --- the parts of a document ---------------------------------------------------------------------


@dataclass
class Term:
    """A defined term and its definition."""

    term: str
    text: str = ""

    @classmethod
    def from_mapping(cls, m: Mapping, where: str) -> Term:
        return cls(_req_str(m, "term", where), _text(m.get("text")))


@dataclass
class Section:
    """A heading; its paragraphs and terms; the tables, figures, claims and provenance it places."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # table ids
    figures: list[str] = field(default_factory=list)  # figure ids
    claims: bool = False
    provenance: bool = False
    after: list[str] = field(default_factory=list)  # paragraphs after everything else

    @classmethod
    def from_mapping(cls, s: Mapping, i: int) -> Section:
        where = f"section {i + 1}"
        terms = _dict_list(s.get("terms"), f"{where} 'terms'")
        return cls(
            title=_req_str(s, "title", where),
            paragraphs=_str_list(s.get("paragraphs"), f"{where} 'paragraphs'"),
            terms=[Term.from_mapping(d, f"{where} term {j + 1}") for j, d in enumerate(terms)],
            tables=_str_list(s.get("tables"), f"{where} 'tables'"),
            figures=_str_list(s.get("figures"), f"{where} 'figures'"),
            claims=bool(s.get("claims")),
            provenance=bool(s.get("provenance")),
            after=_str_list(s.get("after"), f"{where} 'after'"),
        )

    def blocks(self, tables: Mapping, figures: Mapping, claims: list, provenance: list) -> list[dict]:
        """This section in reading order: heading, paragraphs, terms, provenance, tables, figures, claims."""
        out: list[dict] = [{"kind": "heading", "title": self.title}]
        out += [{"kind": "paragraph", "text": p} for p in self.paragraphs]
        if self.terms:
            out.append({"kind": "terms", "items": list(self.terms)})
        if self.provenance and provenance:
            out.append({"kind": "provenance", "items": provenance})
        out += [{"kind": "table", "table": part} for tid in self.tables for part in tables[tid].pieces()]
        out += [{"kind": "figure", "figure": figures[fid]} for fid in self.figures]
        if self.claims and claims:
            out.append({"kind": "claims", "claims": claims})
        out += [{"kind": "paragraph", "text": p} for p in self.after]
        return out


@dataclass
class Table:
    """A table: headers, rows of strings, notes; alignment, Typst column widths, a verdict column."""

    id: str
    columns: list[str]
    rows: list[list[str]]
    title: str = ""
    notes: list[str] = field(default_factory=list)
    align: list[str] | None = None  # left/center/right per column; None: first left, numeric right
    widths: list[str] | None = None  # Typst column widths (auto, <n>fr, <n>cm/mm/pt/em); None: auto
    verdict_column: int | None = None  # the column whose cells are verdicts (coloured)
    groups: list[dict] = field(default_factory=list)  # a header row above the last columns: {title, span}
    parts: list[dict] = field(default_factory=list)  # printed as parts: {title, groups (how many)} each

    def __post_init__(self):
        self.columns, self.rows = check_table({"id": self.id, "columns": self.columns, "rows": self.rows})
        spans = check_groups({"id": self.id, "groups": self.groups}, len(self.columns))
        self.groups = [{"title": t, "span": n} for t, n in spans]
        self._parts = split_parts(self.id, len(self.columns), spans, self.parts)
        self.align = column_alignment({"id": self.id, "columns": self.columns, "rows": self.rows, "align": self.align})
        n = len(self.columns)
        w = self.widths
        if w is not None and (
            isinstance(w, str)
            or not isinstance(w, Sequence)
            or len(w) != n
            or not all(isinstance(x, str) and _WIDTH.fullmatch(x) for x in w)
        ):
            raise ResreproError(
                f"table {self.id!r}: 'widths' must give one of auto, <n>fr or <n>cm/mm/pt/em per "
                f"column ({n} columns); fix the report context"
            )
        v = self.verdict_column
        if v is not None:
            if not isinstance(v, int) or not 0 <= v < n:
                raise ResreproError(f"table {self.id!r}: 'verdict_column' must be a column index")
            for r in self.rows:
                if r[v] not in VERDICT_COLORS:
                    raise ResreproError(f"table {self.id!r}: {r[v]!r} is not a verdict ({', '.join(VERDICT_COLORS)})")

    @classmethod
    def from_mapping(cls, t: Mapping, i: int) -> Table:
        columns, rows = check_table(t, f"table {i + 1}")
        tid = str(t.get("id") or f"table{i + 1}")
        return cls(
            id=tid,
            columns=columns,
            rows=rows,
            title=_text(t.get("title")),
            notes=_str_list(t.get("notes"), f"table {tid!r} 'notes'"),
            align=t.get("align"),
            widths=t.get("widths"),
            verdict_column=t.get("verdict_column"),
            groups=list(t.get("groups") or []),
            parts=list(t.get("parts") or []),
        )

    @property
    def lead(self) -> int:
        """The columns before the groups."""
        return len(self.columns) - sum(g["span"] for g in self.groups)

    @property
    def group_cells(self) -> list[dict]:
        """The groups with their first and last column (0-based, end exclusive), for the header rules."""
        ends = [self.lead + sum(g["span"] for g in self.groups[: i + 1]) for i in range(len(self.groups))]
        return [g | {"start": e - g["span"], "end": e} for g, e in zip(self.groups, ends)]

    def pieces(self) -> list[Table]:
        """The table as printed: itself, or one table per part; the first keeps the id, the last the notes."""
        if not self._parts:
            return [self]
        return [
            Table(
                id=self.id if k == 0 else f"{self.id}-{k + 1}",
                columns=[self.columns[j] for j in cols],
                rows=[[r[j] for j in cols] for r in self.rows],
                title=str(self.parts[k].get("title") or self.title),
                notes=self.notes if k == len(self._parts) - 1 else [],
                align=[self.align[j] for j in cols],
                widths=None if self.widths is None else [self.widths[j] for j in cols],
                groups=[{"title": t, "span": n} for t, n in groups],
            )
            for k, (cols, groups) in enumerate(self._parts)
        ]

    # how the Typst template sets the table
    @property
    def typst_align(self) -> TypstCode:
        return TypstCode("(" + ", ".join(self.align) + ",)")

    @property
    def typst_columns(self) -> TypstCode:
        return TypstCode(str(len(self.columns)) if self.widths is None else "(" + ", ".join(self.widths) + ",)")

    @property
    def typst_gutter(self) -> TypstCode:
        """A gap between two column groups, so that their header rules stay apart (booktabs' trimmed cmidrule)."""
        starts = {g["start"] for g in self.group_cells[1:]}
        return TypstCode(
            "(" + ", ".join("0.8em" if j + 1 in starts else "0pt" for j in range(len(self.columns) - 1)) + ",)"
        )

    @property
    def typst_font(self) -> TypstCode:
        """The font size that lets the table's widest cells fit the page."""
        widths = [max([len(c) for c in [h] + [r[j] for r in self.rows]] or [0]) for j, h in enumerate(self.columns)]
        est = sum(widths) + 3 * len(self.columns)
        font = 10 if est <= 80 else 9 if est <= 95 else 8 if est <= 115 else 7
        if self.widths is not None and any("fr" in w for w in self.widths):
            font = min(font, 8)
        return TypstCode(f"{font}pt")


@dataclass
class Figure:
    """An SVG figure. ``position``: its 1-based place among the document's figures (names its copy
    in the Typst root and prefixes its ids in the HTML)."""

    id: str
    source: Path
    caption: str = ""
    position: int = 1
    text: str = field(init=False, repr=False)
    inline_svg: Markup = field(init=False, repr=False)
    size_pt: tuple[float, float] = field(init=False, repr=False)

    def __post_init__(self):
        path = Path(self.source)
        if not path.is_file():
            raise ResreproError(
                f"figure {self.id!r}: SVG file {str(path)!r} does not exist; run the figures stage "
                "(or fix the path in the report context)"
            )
        try:
            self.text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ResreproError(f"figure {self.id!r}: cannot read SVG {str(path)!r} ({e}); regenerate it") from e
        self.size_pt = svg.size_pt(self.text, path)
        self.inline_svg = svg.inline(self.text, f"f{self.position}-", self.caption, path)

    @classmethod
    def from_mapping(cls, f: Mapping, i: int, base: Path) -> Figure:
        fid = str(f.get("id") or f"figure{i + 1}")
        if not f.get("svg"):
            raise ResreproError(f"figure {fid!r} has no 'svg' path; the figures stage must provide one")
        path = Path(f["svg"])
        return cls(fid, path if path.is_absolute() else base / path, _text(f.get("caption")), i + 1)

    @property
    def typst_file(self) -> str:
        return f"figures/fig{self.position:02d}.svg"

    @property
    def typst_size(self) -> TypstCode:
        w_pt, h_pt = self.size_pt
        if h_pt / w_pt * _TEXT_WIDTH_CM > _MAX_FIGURE_HEIGHT_CM:
            return TypstCode(f"height: {_MAX_FIGURE_HEIGHT_CM}cm")
        return TypstCode("width: 88%")  # two of the 6.6 x 4.5 in plots fit on a page


@dataclass
class ProvenanceItem:
    key: str
    value: str = ""

    @property
    def value_wrapped(self) -> str:
        return soft_breaks(self.value)

    @classmethod
    def from_mapping(cls, p: Mapping, i: int) -> ProvenanceItem:
        key = _req_str(p, "key", f"provenance item {i + 1}")
        return cls(key, "" if p.get("value") is None else str(p.get("value")))


@dataclass
class Check:
    """One check behind a claim's verdict: its kind (paper, dataset, measurement...), outcome, reason."""

    kind: str
    outcome: str
    reason: str = ""

    @classmethod
    def from_mapping(cls, ch: Mapping, where: str) -> Check:
        return cls(_req_str(ch, "kind", where), _req_str(ch, "outcome", where), _text(ch.get("reason")))


@dataclass
class Claim:
    """A claim of the audited paper, with its verdict (one of VERDICT_COLORS) and checks."""

    id: str
    verdict: str
    location: str = ""
    quote: str = ""
    paper: str = ""
    ours: str = ""
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    robust: bool = True  # every reading agrees and no choice of ours decides it
    depends_on: list[str] = field(default_factory=list)  # the choices of ours it rests on
    untestable: str = ""  # why a "not testable" claim is one
    adjusted_p: float | None = None  # Holm-adjusted p of an ordering claim
    readings: list[Check] = field(default_factory=list)  # kind = the reading's name (when there are several)

    def __post_init__(self):
        if self.verdict not in VERDICT_COLORS:
            raise ResreproError(
                f"claim {self.id!r} has the verdict {self.verdict!r}; known: {', '.join(VERDICT_COLORS)}"
            )

    @property
    def css(self) -> str:
        return "v-" + self.verdict.replace(" ", "-")

    @classmethod
    def from_mapping(cls, c: Mapping, i: int) -> Claim:
        where = f"claim {i + 1}"
        verdict = _req_str(c, "verdict", where)
        checks = _dict_list(c.get("checks"), f"{where} 'checks'")
        readings = _dict_list(c.get("readings"), f"{where} 'readings'")
        return cls(
            id=_req_str(c, "id", where),
            verdict=verdict,
            checks=[Check.from_mapping(ch, f"{where} check {j + 1}") for j, ch in enumerate(checks)],
            robust=bool(c.get("robust", True)),
            depends_on=[str(d) for d in c.get("depends_on") or ()],
            untestable=_text(c.get("untestable")),
            adjusted_p=(c.get("holm") or {}).get("adjusted"),
            readings=[Check(_text(r.get("name")), _text(r.get("verdict")), _text(r.get("reason"))) for r in readings]
            if len(readings) > 1
            else [],
            **{k: _text(c.get(k)) for k in ("location", "quote", "paper", "ours", "reason")},
        )


@dataclass
class Document:
    """A whole report. Tables, figures, claims and provenance that no section places get a section of
    their own at the end (Results, Figures, Claims, Provenance), after the definitions."""

    title: str
    run: str = ""
    stamp: str | None = None  # a warning shown on every page (e.g. "quick preset, not comparable")
    summary: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    definitions: list[Term] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    provenance: list[ProvenanceItem] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)

    def __post_init__(self):
        for what, ids in (("tables", [t.id for t in self.tables]), ("figures", [f.id for f in self.figures])):
            dup = next((x for i, x in enumerate(ids) if x in ids[:i]), None)
            if dup is not None:
                raise ResreproError(f"two {what} have the id {dup!r}; give each {what[:-1]} its own id")
        tables, figures = {t.id for t in self.tables}, {f.id for f in self.figures}
        for s in self.sections:
            for what, refs, known in (("table", s.tables, tables), ("figure", s.figures, figures)):
                for ref in refs:
                    if ref not in known:
                        raise ResreproError(f"section {s.title!r} refers to {what} {ref!r}, which the context lacks")

    @classmethod
    def from_mapping(cls, context: Mapping, root: str | os.PathLike | None = None) -> Document:
        """The document of a report context; ``root``: the folder relative figure paths start from
        (default: the current directory)."""
        if not isinstance(context, Mapping):
            raise ResreproError(f"report context is a {type(context).__name__}, not a dict")
        base = Path(root) if root is not None else Path.cwd()
        stamp = context.get("stamp")
        if stamp is not None and not isinstance(stamp, str):
            raise ResreproError("report context 'stamp' must be a string or None; fix the report stage")
        title = _req_str(context, "title")
        parts: dict[str, list] = {
            "sections": [Section.from_mapping(s, i) for i, s in _each(context, "sections")],
            "definitions": [Term.from_mapping(d, f"definition {i + 1}") for i, d in _each(context, "definitions")],
            "tables": [Table.from_mapping(t, i) for i, t in _each(context, "tables")],
            "figures": [Figure.from_mapping(f, i, base) for i, f in _each(context, "figures")],
            "provenance": [ProvenanceItem.from_mapping(p, i) for i, p in _each(context, "provenance")],
            "claims": [Claim.from_mapping(c, i) for i, c in _each(context, "claims")],
        }
        return cls(
            title=title,
            run=str(context.get("run") or ""),
            stamp=stamp.strip() if stamp and stamp.strip() else None,
            summary=_str_list(context.get("summary"), "'summary'"),
            **parts,
        )

    def blocks(self) -> list[dict]:
        """The document body in reading order, one dict per heading, paragraph, term list, table,
        figure, claims list or provenance table (``kind`` says which)."""
        sections = list(self.sections)
        if self.definitions:
            sections.append(Section("Definitions", terms=self.definitions))
        placed_t = {tid for s in self.sections for tid in s.tables}
        placed_f = {fid for s in self.sections for fid in s.figures}
        rest_t = [t.id for t in self.tables if t.id not in placed_t]
        if rest_t:
            sections.append(Section("Results", tables=rest_t))
        rest_f = [f.id for f in self.figures if f.id not in placed_f]
        if rest_f:
            sections.append(Section("Figures", figures=rest_f))
        if self.claims and not any(s.claims for s in self.sections):
            sections.append(Section("Claims", claims=True))
        if self.provenance and not any(s.provenance for s in self.sections):
            sections.append(Section("Provenance", provenance=True))
        tables, figures = {t.id: t for t in self.tables}, {f.id: f for f in self.figures}
        return [b for s in sections for b in s.blocks(tables, figures, self.claims, self.provenance)]

    def template_values(self) -> dict:
        """What the templates see: the document's fields, the verdict colours and the blocks."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return values | {"verdict_colors": VERDICT_COLORS, "blocks": self.blocks()}
