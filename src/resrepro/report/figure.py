"""A figure of the document model (:mod:`.document`): an SVG file, inlined in the HTML and copied for Typst."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from markupsafe import Markup

from .. import ResreproError
from . import svg
from .claimlist import text as _text
from .escape import TypstCode

# Typst page geometry used to fit figures (A4, keep in sync with report.typ.j2).
_TEXT_WIDTH_CM = 21.0 - 2 * 2.2
_MAX_FIGURE_HEIGHT_CM = 19.5


@dataclass
class Figure:
    """An SVG figure. ``position``: its 1-based place among the document's figures (names its copy
    in the Typst root and prefixes its ids in the HTML)."""

    id: str
    source: Path
    caption: str = ""
    position: int = 1
    table: str = ""  # the table it supports: a section that places both sets it beside that table
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
        source = path if path.is_absolute() else base / path
        return cls(fid, source, _text(f.get("caption")), i + 1, _text(f.get("table")))

    @property
    def typst_file(self) -> str:
        return f"figures/fig{self.position:02d}.svg"

    @property
    def typst_size(self) -> TypstCode:
        w_pt, h_pt = self.size_pt
        if h_pt / w_pt * _TEXT_WIDTH_CM > _MAX_FIGURE_HEIGHT_CM:
            return TypstCode(f"height: {_MAX_FIGURE_HEIGHT_CM}cm")
        return TypstCode("width: 88%")  # two of the 6.6 x 4.5 in plots fit on a page
