"""A report's wording as text: a YAML file of Jinja strings, rendered with values computed in Python.

Each string of the file is a Jinja template (https://jinja.palletsprojects.com/en/3.1.x/templates/)
rendered by a plain environment (no HTML or Typst escaping: the results are the document's strings,
escaped later by each output) with ``StrictUndefined``, so a misspelt value fails loudly. Entries are
addressed by dotted keys (``methodology.terms``); rendering an entry renders every string in it; in a
list, a string that renders empty is left out, so ``{% if ... %}...{% endif %}`` makes a paragraph
conditional.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import jinja2
import yaml

from .. import ResreproError, fmt


def mean_std_percent(s: Mapping, digits: int = 2) -> str:
    """A mean +- std record of percentages as ``12.34 % ± 0.56`` (the mean alone with one value)."""
    return fmt.mean_std(s, digits, table=False, unit=" %")


FILTERS = {
    "thousands": lambda x: f"{x:,}",  # 45,000
    "decimals": lambda x, digits=2: fmt.number(x, digits, table=False),  # 93.21 (digits after the point)
    "short": lambda x: f"{x:g}",  # 0.9, 0.0005, 5e-05: the shortest exact form
    "sig": lambda x, digits=3: f"{x:.{digits}g}",  # 0.00123: significant digits
    "sci": lambda x, digits=1: f"{x:.{digits}e}",  # 1.2e-07
    "mean_std_percent": mean_std_percent,
}


class Prose:
    """The strings of one YAML text file, rendered on request."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.entries = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ResreproError(f"report text file {str(self.path)!r} cannot be read ({e}); reinstall resrepro") from e
        except yaml.YAMLError as e:
            raise ResreproError(f"report text file {str(self.path)!r} is not valid YAML: {e}; fix the file") from e
        if not isinstance(self.entries, dict):
            raise ResreproError(f"report text file {str(self.path)!r} must map names to texts; fix the file")
        self.env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        self.env.filters.update(FILTERS)

    def entry(self, key: str) -> Any:
        node: Any = self.entries
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ResreproError(f"report text file {str(self.path)!r} has no entry {key!r}; add it")
            node = node[part]
        return node

    def render(self, key: str, **values: Any) -> Any:
        """The entry ``key`` with every string in it rendered with ``values``."""
        return self._render(self.entry(key), key, values)

    def _render(self, node: Any, key: str, values: Mapping) -> Any:
        if isinstance(node, str):
            return self._string(node, key, values)
        if isinstance(node, list):
            out = [self._render(x, f"{key}[{i}]", values) for i, x in enumerate(node)]
            return [x for x in out if x != ""]
        if isinstance(node, dict):
            return {k: self._render(v, f"{key}.{k}", values) for k, v in node.items()}
        return node

    def _string(self, text: str, key: str, values: Mapping) -> str:
        where = f"report text file {str(self.path)!r}, entry {key!r}"
        try:
            return self.env.from_string(text).render(**values)
        except jinja2.TemplateSyntaxError as e:
            raise ResreproError(f"{where} has a syntax error: {e.message}; fix the text") from e
        except jinja2.UndefinedError as e:
            raise ResreproError(
                f"{where} uses an undefined value ({e.message}); it can use: {', '.join(sorted(values))}"
            ) from e
