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

from .. import ResreproError
from .claimlist import VERDICT_COLORS, Claim, Highlight, dict_list, req_str
from .claimlist import text as _text
from .escape import TypstCode, soft_breaks
from .figure import Figure
from .tables import check_groups, check_table, column_alignment, split_parts

_WIDTH = re.compile(r"auto|\d+(\.\d+)?(fr|cm|mm|pt|em)")
_ANCHOR = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*")  # an id both outputs can link to (HTML id, Typst label)


def _str_list(v: Any, what: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str) or not isinstance(v, Sequence):
        raise ResreproError(f"{what} must be a list of strings, not {type(v).__name__}; fix the report context")
    return ["" if x is None else str(x) for x in v]


def _each(context: Mapping, key: str) -> Iterator[tuple[int, Mapping]]:
    """The dicts listed under ``key`` with their positions."""
    return enumerate(dict_list(context.get(key), f"'{key}'"))


# --- the parts of a document ---------------------------------------------------------------------


@dataclass
class Term:
    """A defined term and its definition."""

    term: str
    text: str = ""

    @classmethod
    def from_mapping(cls, m: Mapping, where: str) -> Term:
        return cls(req_str(m, "term", where), _text(m.get("text")))


@dataclass
class Section:
    """A heading; its paragraphs and terms; the tables, figures, claims and provenance it places.

    ``id``: its anchor (``sec-<id>`` in both outputs); ``level``: 1 (a section) or 2 (a subsection);
    ``numbered``: False for an appendix. A figure that names one of the section's tables (its ``table``)
    follows that table; the other figures follow the tables."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # table ids
    figures: list[str] = field(default_factory=list)  # figure ids
    claims: bool = False
    provenance: bool = False
    after: list[str] = field(default_factory=list)  # paragraphs after everything else
    id: str = ""
    level: int = 1
    numbered: bool = True

    def __post_init__(self):
        self.id = self.id or re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section"
        if not _ANCHOR.fullmatch(self.id) or self.level not in (1, 2):
            raise ResreproError(
                f"section {self.title!r}: id {self.id!r} must be letters, digits and _.:- (starting with a "
                f"letter) and level 1 or 2, not {self.level!r}; fix the report context"
            )

    @property
    def anchor(self) -> str:
        return f"sec-{self.id}"

    @classmethod
    def from_mapping(cls, s: Mapping, i: int) -> Section:
        where = f"section {i + 1}"
        terms = dict_list(s.get("terms"), f"{where} 'terms'")
        return cls(
            title=req_str(s, "title", where),
            paragraphs=_str_list(s.get("paragraphs"), f"{where} 'paragraphs'"),
            terms=[Term.from_mapping(d, f"{where} term {j + 1}") for j, d in enumerate(terms)],
            tables=_str_list(s.get("tables"), f"{where} 'tables'"),
            figures=_str_list(s.get("figures"), f"{where} 'figures'"),
            claims=bool(s.get("claims")),
            provenance=bool(s.get("provenance")),
            after=_str_list(s.get("after"), f"{where} 'after'"),
            id=str(s.get("id") or ""),
            level=s.get("level", 1),
            numbered=bool(s.get("numbered", True)),
        )

    def blocks(self, tables: Mapping, figures: Mapping, claims: list, provenance: list) -> list[dict]:
        """This section in reading order: heading, paragraphs, terms, provenance, each table with the
        figures beside it, the other figures, claims."""
        out: list[dict] = [{"kind": "heading", "section": self, "title": self.title}]
        out += [{"kind": "paragraph", "text": p} for p in self.paragraphs]
        if self.terms:
            out.append({"kind": "terms", "items": list(self.terms)})
        if self.provenance and provenance:
            out.append({"kind": "provenance", "items": provenance})
        placed = [f for f in self.figures if figures[f].table in self.tables]
        for tid in self.tables:
            out += [{"kind": "table", "table": part} for part in tables[tid].pieces()]
            out += [{"kind": "figure", "figure": figures[f]} for f in placed if figures[f].table == tid]
        out += [{"kind": "figure", "figure": figures[f]} for f in self.figures if f not in placed]
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
    link_column: int | None = None  # the column whose cells link to the anchor link_prefix + cell
    link_prefix: str = ""
    filter_columns: list[int] = field(default_factory=list)  # the HTML page filters rows by these columns
    sortable: bool = False  # the HTML page sorts rows by a click on a column header

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
        for what, cols in (
            ("link_column", [] if self.link_column is None else [self.link_column]),
            ("filter_columns", self.filter_columns),
        ):
            if not all(isinstance(c, int) and 0 <= c < n for c in cols):
                raise ResreproError(f"table {self.id!r}: {what!r} must give column indices (0 to {n - 1})")

    @property
    def filters(self) -> list[dict]:
        """Each filter column: its index, key (the header in lower case), header and values (sorted)."""
        return [
            {
                "column": j,
                "key": self.columns[j].lower(),
                "header": self.columns[j],
                "values": sorted({r[j] for r in self.rows}),
            }
            for j in self.filter_columns
        ]

    def link(self, j: int, cell: str) -> str | None:
        """The anchor cell ``cell`` of column ``j`` links to, if that column links."""
        return self.link_prefix + cell if j == self.link_column else None

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
            link_column=t.get("link_column"),
            link_prefix=_text(t.get("link_prefix")),
            filter_columns=list(t.get("filter_columns") or []),
            sortable=bool(t.get("sortable")),
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
class ProvenanceItem:
    key: str
    value: str = ""

    @property
    def value_wrapped(self) -> str:
        return soft_breaks(self.value)

    @classmethod
    def from_mapping(cls, p: Mapping, i: int) -> ProvenanceItem:
        key = req_str(p, "key", f"provenance item {i + 1}")
        return cls(key, "" if p.get("value") is None else str(p.get("value")))


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
    byline: list[str] = field(default_factory=list)  # the title block's lines: who reproduced, version, date
    highlights: list[Highlight] = field(default_factory=list)  # the summary box: the central claims
    highlights_title: str = ""
    summary_title: str = "Summary"  # the heading of the summary (and of the summary box)

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
        anchors = self.anchors()
        for t in self.tables:
            for row in t.rows:
                target = t.link(t.link_column, row[t.link_column]) if t.link_column is not None else None
                if target is not None and target not in anchors:
                    raise ResreproError(f"table {t.id!r} links to {target!r}, which is no anchor of the document")

    def anchors(self) -> list[str]:
        """Every id a link can reach: sections (sec-<id>), tables, figures and claims (claim-<id>); each once."""
        ids = [s.anchor for s in self._sections()] + [t.id for t in self.tables] + [f.id for f in self.figures]
        ids += [f"claim-{c.id}" for c in self.claims]
        dup = next((x for i, x in enumerate(ids) if x in ids[:i]), None)
        if dup is not None:
            raise ResreproError(
                f"two parts of the report have the anchor {dup!r}; give each section, table and figure its own id"
            )
        return ids

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
        title = req_str(context, "title")
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
            byline=_str_list(context.get("byline"), "'byline'"),
            highlights=[Highlight.from_mapping(h, i) for i, h in _each(context, "highlights")],
            highlights_title=_text(context.get("highlights_title")),
            summary_title=_text(context.get("summary_title")) or "Summary",
            **parts,
        )

    def _sections(self) -> list[Section]:
        """The sections in reading order: the summary, the context's, then one for what none places."""
        sections = [Section(self.summary_title, self.summary, id="summary")] if self.summary or self.highlights else []
        sections += self.sections
        if self.definitions:
            sections.append(Section("Definitions", terms=self.definitions))
        placed_t = {tid for s in self.sections for tid in s.tables}
        placed_f = {fid for s in self.sections for fid in s.figures}
        rest_t = [t.id for t in self.tables if t.id not in placed_t]
        if rest_t:
            sections.append(Section("Results", tables=rest_t, id="more-results"))
        rest_f = [f.id for f in self.figures if f.id not in placed_f]
        if rest_f:
            sections.append(Section("Figures", figures=rest_f, id="more-figures"))
        if self.claims and not any(s.claims for s in self.sections):
            sections.append(Section("Claims", claims=True, id="more-claims"))
        if self.provenance and not any(s.provenance for s in self.sections):
            sections.append(Section("Provenance", provenance=True, id="more-provenance"))
        return sections

    def blocks(self) -> list[dict]:
        """The document body in reading order, one dict per heading (with its ``number``, "" when
        unnumbered), highlights box, paragraph, term list, table, figure, claims list or provenance table
        (``kind`` says which)."""
        tables, figures = {t.id: t for t in self.tables}, {f.id: f for f in self.figures}
        out, n1, n2 = [], 0, 0
        for s in self._sections():
            if s.numbered and s.level == 1:
                n1, n2 = n1 + 1, 0
            elif s.numbered:
                n2 += 1
            blocks = s.blocks(tables, figures, self.claims, self.provenance)
            blocks[0]["number"] = "" if not s.numbered else f"{n1}." if s.level == 1 else f"{n1}.{n2}"
            if s.id == "summary" and self.highlights:
                blocks.insert(1, {"kind": "highlights", "title": self.highlights_title, "items": self.highlights})
            out += blocks
        return out

    def template_values(self) -> dict:
        """What the templates see: the document's fields, the verdict colours, the blocks, the table of
        contents (the headings) and the ids of the claims (highlights link to those)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        blocks = self.blocks()
        return values | {
            "verdict_colors": VERDICT_COLORS,
            "blocks": blocks,
            "toc": [b for b in blocks if b["kind"] == "heading"],
            "claim_ids": {c.id for c in self.claims},
            "interactive": any(t.sortable or t.filter_columns for t in self.tables),
            "claims_index": next((t.id for t in self.tables if t.link_prefix == "claim-"), None),
        }
