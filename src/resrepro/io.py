"""Atomic file output: nothing is ever half-written.

Every writer goes through :func:`atomic_path`: the content is written to a temporary file in
the destination folder (``.<name>.<pid>-<host>.<random>.part``), flushed to the disk (``fsync``),
and moved into place with ``os.replace`` only once it is complete, then the folder is fsynced too: a
killed job or a lost machine leaves either the old file or the new one, never a truncated one. A
``.part`` left by a kill (SIGKILL; an exception removes its own) is removed, with a message, by the
next write of the same file on this machine once its writer is gone (:func:`remove_stale_parts`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-{_HOST}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        _fsync(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync(path.parent, directory=True)


def _fsync(path: Path, directory: bool = False) -> None:
    """Flush a file's (or a folder's entries') data to the disk; a folder that cannot be fsynced is skipped."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as e:
        if not directory or e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]  # which machine's pids a .part names


def stale_parts(path: str | os.PathLike, any_writer: bool = False) -> list[Path]:
    """The temporary files of :func:`atomic_path` for ``path`` that a killed writer left beside it.

    Those whose writer is no longer running on this machine; with ``any_writer``, every one (for a
    job that alone writes ``path``, such as a train job its checkpoint, rerun on another machine).
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    mine = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)-([0-9a-f]{{6}})\.)?[A-Za-z0-9_]{{8}}\.part")
    out = []
    for p in path.parent.iterdir():
        m = mine.fullmatch(p.name)
        if m and (any_writer or (m[2] == _HOST and not _running(int(m[1])))):
            out.append(p)
    return sorted(out)


def remove_stale_parts(path: str | os.PathLike, any_writer: bool = False) -> None:
    """Remove the :func:`stale_parts` of ``path``, saying so on stderr."""
    for part in stale_parts(path, any_writer):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove: the write goes on
            part.unlink()
            print(
                f"[resrepro] removed {part}: a partial write of {Path(path).name} left by an interrupted job",
                file=sys.stderr,
            )


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


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
