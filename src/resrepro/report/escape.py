"""Escaping for the report's outputs: Typst string literals, the Typst ``finalize`` guard, LaTeX cells.

Typst: every value reaches the Typst source only as a string literal made by :func:`typst_str`
(``"..."`` with backslash, quote and every control character escaped), which Typst renders as plain
text, so ``*bold*``, ``$x$``, ``#set page(...)`` or ``"); ...`` come out literally (string literals
and their escapes: https://typst.app/docs/reference/foundations/str/). :func:`typst_finalize` is the
Jinja ``finalize`` hook of the Typst environment: it refuses to print any value that did not pass
through ``typst_str`` (or is Typst code built by the engine, or a number).
"""

from __future__ import annotations

import re
from typing import Any

from .. import ResreproError


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


def typst_finalize(value: Any) -> Any:
    """Jinja ``finalize`` of the Typst environment: only Typst code and numbers may be printed."""
    if isinstance(value, TypstCode):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise ResreproError(
        f"the Typst template prints the raw value {str(value)[:60]!r}; every data value must go "
        "through the typst_str filter ({{ value|typst_str }}) - fix the template"
    )


def soft_breaks(s: str, every: int = 16, longer_than: int = 32) -> str:
    """Insert zero-width spaces into long unbroken tokens (hashes, paths) so Typst can wrap them."""

    def cut(m):
        tok = m.group(0)
        return "\u200b".join(tok[i : i + every] for i in range(0, len(tok), every))

    return re.sub(r"\S{%d,}" % (longer_than + 1), cut, s)


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
    """``value`` as LaTeX text: every special character escaped, line breaks and tabs as spaces."""
    s = "" if value is None else str(value)
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s)
