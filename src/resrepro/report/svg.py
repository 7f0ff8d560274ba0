"""SVG figures for the report: their size, and their text made safe to inline into HTML.

Inlined SVGs share one HTML document, so each figure's ``id`` attributes (and the ``href``/``url()``
references to them) get a per-figure prefix; an SVG with scripts or event handlers is refused
(scripting in SVG: https://www.w3.org/TR/SVG2/interact.html#ScriptElement).
"""

from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup

from .. import ResreproError

_UNITS_PT = {"pt": 1.0, "px": 0.75, "in": 72.0, "cm": 72 / 2.54, "mm": 72 / 25.4, "": 0.75}
_LENGTH = re.compile(r"\s*([0-9.]+)\s*(pt|px|in|cm|mm|)\s*")
_UNSAFE_SVG = re.compile(r"<\s*(script|foreignObject|iframe|object|embed)\b|\son[a-z]+\s*=|javascript:", re.I)
# where markup lives: tags; comments and text (a stamp such as "x onerror=y" that matplotlib echoes) are inert
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"<[^>]*>")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


def _unsafe(text: str) -> bool:
    """Scripts, event-handler attributes or ``javascript:`` URLs in the tags of an SVG (not in its text)."""
    for tag in _TAG.findall(_COMMENT.sub("", text)):
        # attribute names are outside quotes; a javascript: URL is inside them
        if _UNSAFE_SVG.search(_QUOTED.sub('""', tag)) or "javascript:" in tag.lower():
            return True
    return False


def _not_svg(path: Path) -> ResreproError:
    return ResreproError(f"figure {str(path)!r} is not an SVG (no <svg> element); regenerate it")


def size_pt(text: str, path: Path) -> tuple[float, float]:
    """Width and height of an SVG in points, from width/height or the viewBox."""
    m = re.search(r"<svg\b[^>]*>", text, re.S)
    if not m:
        raise _not_svg(path)
    tag = m.group(0)

    def attr(name):
        a = re.search(rf'\b{name}\s*=\s*"([^"]*)"', tag)
        return a.group(1) if a else None

    w, h = attr("width"), attr("height")
    if w and h:
        mw, mh = _LENGTH.fullmatch(w), _LENGTH.fullmatch(h)
        if mw and mh:
            return float(mw[1]) * _UNITS_PT[mw[2]], float(mh[1]) * _UNITS_PT[mh[2]]
    vb = attr("viewBox")
    if vb:
        parts = re.split(r"[\s,]+", vb.strip())
        if len(parts) == 4:
            return float(parts[2]), float(parts[3])
    return 4.0, 3.0  # unknown: treat as 4:3


def inline(text: str, prefix: str, caption: str, path: Path) -> Markup:
    """SVG text ready to inline into HTML: prolog dropped, ids prefixed, no scripts."""
    if _unsafe(text):
        raise ResreproError(
            f"figure {str(path)!r} contains scripts or event handlers; refusing to inline it - "
            "regenerate it with resrepro.figures"
        )
    start = text.find("<svg")
    if start < 0:
        raise _not_svg(path)
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
