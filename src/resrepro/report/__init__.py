"""The report: one run's results -> a PDF (Typst) and a self-contained HTML page, and every table as
LaTeX and CSV.

* :mod:`.render` (with :mod:`.escape`, :mod:`.svg`, :mod:`.tables`): the render engine, general and
  injection-safe: Jinja templates in :data:`TEMPLATE_DIR`, Typst string escaping, SVG inlining.
* :mod:`.document`: the document model (dataclasses), built from a context mapping and checked.
* :mod:`.content`: :func:`build_context`, this report's content computed from result files; its
  sentences are text in ``templates/report_text.yaml`` (:mod:`.prose`).
"""

from .content import TEXT_FILE, build_context
from .document import VERDICT_COLORS, Document
from .escape import TypstCode, latex_escape, typst_str
from .render import HTML_TEMPLATE, TEMPLATE_DIR, TYPST_TEMPLATE, render, render_sources
from .tables import column_alignment, table_to_csv, table_to_latex, write_table_files

__all__ = [
    "HTML_TEMPLATE",
    "TEMPLATE_DIR",
    "TEXT_FILE",
    "TYPST_TEMPLATE",
    "VERDICT_COLORS",
    "Document",
    "TypstCode",
    "build_context",
    "column_alignment",
    "latex_escape",
    "render",
    "render_sources",
    "table_to_csv",
    "table_to_latex",
    "typst_str",
    "write_table_files",
]
