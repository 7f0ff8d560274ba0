"""Atomic file output: nothing is ever half-written.

Every writer goes through :func:`atomic_path`: the content is written to a temporary file in
the destination folder and moved into place with ``os.replace`` only once it is complete, so a
killed job leaves either the old file or the new one, never a truncated one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """The JSON in ``path``; its objects are :class:`Record`: a missing key names the file (exit code 3)."""
    from .errors import MalformedJSON

    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f, object_hook=lambda d: Record(d, path=path))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise MalformedJSON(path, e) from None


class Record(dict):
    """A JSON object read from a file: a key it lacks raises :class:`resrepro.errors.MissingKey` (a KeyError)
    that names the file and the key, never a bare ``KeyError``."""

    def __init__(self, *args: Any, path: str | os.PathLike, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._source_file = path  # not `path`: templates look attributes up before keys

    def __missing__(self, key: Any):
        from .errors import MissingKey

        raise MissingKey(self._source_file, key)

    def __reduce__(self):  # pickles and copies as a plain dict
        return dict, (dict(self),)


def read_csv(path: str | os.PathLike, columns: tuple[str, ...] = ()):
    """A CSV result file as a pandas DataFrame, refused (naming the file) if unreadable or without ``columns``."""
    import pandas as pd

    from .errors import InputError

    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"not a readable CSV ({e})", path) from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"malformed result file: no column(s) {', '.join(map(repr, missing))}", path)
    return df


def _json_default(o: Any) -> Any:
    # numpy scalars and arrays, Paths
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def file_digest(path: str | os.PathLike, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
