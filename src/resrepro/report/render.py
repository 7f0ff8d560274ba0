"""The render engine: one report context -> a PDF (Typst) and a self-contained HTML page (Jinja2).

Both outputs come from Jinja templates in :data:`TEMPLATE_DIR` (``report.typ.j2``,
``report.html.j2``). The engine knows the document model (:mod:`.document`), not any report's content.

Escaping, so that no data value can inject markup:

* Typst: every value reaches the Typst source only as a string literal made by the ``typst_str``
  filter; in markup the template writes ``#{{ value|typst_str }}``. As a second guard the Typst
  environment's ``finalize`` hook refuses to print any value that did not pass through ``typst_str``
  (or is Typst code built by the engine, or a number): a template that forgets the filter fails
  loudly instead of injecting (:mod:`.escape`).
* HTML: Jinja autoescape is on. Only the figure SVGs (read from disk, checked for scripts and
  given per-figure id prefixes, :mod:`.svg`) are inserted as markup.

Output is deterministic: the PDF has no date (``#set document(date: none)``), only the fonts
bundled in typst are used (system fonts ignored), figures are copied under fixed names into a
private temporary Typst root; the HTML has no timestamp. Both files are written only after both have
been rendered, each atomically, so a failure leaves neither a partial PDF nor a partial HTML.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import jinja2

from .. import ResreproError
from ..io import write_bytes, write_text
from .document import Document, Figure
from .escape import soft_breaks, typst_finalize, typst_str

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
TYPST_TEMPLATE = "report.typ.j2"
HTML_TEMPLATE = "report.html.j2"


def template_dir() -> Path:
    """The template folder, read at call time from the package (``resrepro.report.TEMPLATE_DIR``),
    so that pointing that attribute elsewhere renders with other templates."""
    return Path(importlib.import_module(__package__).TEMPLATE_DIR)


def _environment(typst: bool) -> jinja2.Environment:
    folder = template_dir()
    if not folder.is_dir():
        raise ResreproError(f"template folder {str(folder)!r} is missing; reinstall resrepro")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=not typst,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=typst_finalize if typst else None,
    )
    env.filters["typst_str"] = typst_str
    env.filters["soft_breaks"] = soft_breaks
    return env


def _render_template(typst: bool, name: str, values: Mapping) -> str:
    env = _environment(typst)
    try:
        return env.get_template(name).render(**values)
    except jinja2.TemplateSyntaxError as e:
        where = e.filename or str(template_dir() / name)
        raise ResreproError(
            f"report template {where} line {e.lineno} has a syntax error: {e.message}; fix the template"
        ) from e
    except jinja2.TemplateNotFound as e:
        raise ResreproError(
            f"report template {e.name!r} not found in {str(template_dir())!r}; reinstall resrepro"
        ) from e
    except jinja2.UndefinedError as e:
        raise ResreproError(
            f"report template {name} uses an undefined value ({e.message}); fix the template or the report context"
        ) from e


def _typst_error(e: Exception, figures: Sequence[Figure]) -> ResreproError:
    """A Typst compile error as a ResreproError that names the figure or the template at fault."""
    msg = getattr(e, "message", "") or str(e)
    missing = re.search(r"file not found \(searched at (.*?)\)", msg)
    if missing:
        searched = missing.group(1)
        for f in figures:
            if searched.endswith(f.typst_file):
                return ResreproError(
                    f"figure {f.id!r}: SVG file {str(f.source)!r} could not be read "
                    "while building the PDF; run the figures stage again"
                )
        return ResreproError(f"the report template refers to a file that does not exist ({searched}); fix the template")
    diag = (getattr(e, "diagnostic", "") or "").strip()
    for f in figures:
        if f.typst_file in diag:
            return ResreproError(f"figure {f.id!r}: Typst cannot use {str(f.source)!r} ({msg}); regenerate the figure")
    return ResreproError(
        f"Typst could not compile the report from template {TYPST_TEMPLATE}: {msg}\n{diag}\n"
        "fix the template (data values cannot cause this: they are passed as string literals)"
    )


def _compile_pdf(source: str, figures: Sequence[Figure]) -> bytes:
    import typst  # imported here: the PyPI wheel is large and only this stage needs it

    with tempfile.TemporaryDirectory(prefix="resrepro-typst-") as tmp:
        rootdir = Path(tmp)
        (rootdir / "figures").mkdir()
        for f in figures:
            shutil.copyfile(f.source, rootdir / f.typst_file)
        (rootdir / "report.typ").write_text(source, encoding="utf-8")
        try:
            pdf, warns = typst.compile_with_warnings(
                str(rootdir / "report.typ"), root=str(rootdir), format="pdf", ignore_system_fonts=True
            )
        except typst.TypstError as e:
            raise _typst_error(e, figures) from e
    for w in warns or []:
        text = getattr(w, "message", "") or str(w)
        if "font" in text:
            raise ResreproError(
                f"Typst font problem in {TYPST_TEMPLATE}: {text}; use only the fonts bundled with "
                "typst (Libertinus Serif, New Computer Modern, DejaVu Sans Mono)"
            )
        warnings.warn(f"typst: {text}", stacklevel=3)
    if not isinstance(pdf, (bytes, bytearray)) or not bytes(pdf).startswith(b"%PDF"):
        raise ResreproError("Typst returned no PDF; check the typst installation (pip install typst)")
    return bytes(pdf)


def render_sources(context: Mapping | Document, *, root: str | os.PathLike | None = None) -> tuple[str, str, Document]:
    """Check ``context`` and return (Typst source, HTML text, the :class:`Document`). Writes no files."""
    doc = context if isinstance(context, Document) else Document.from_mapping(context, root)
    values = doc.template_values()
    typ = _render_template(True, TYPST_TEMPLATE, values)
    html = _render_template(False, HTML_TEMPLATE, values)
    return typ, html, doc


def render(
    context: Mapping | Document,
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
    typ, html, doc = render_sources(context, root=root)
    pdf = _compile_pdf(typ, doc.figures)
    write_bytes(out_pdf, pdf)
    write_text(out_html, html)
