"""The one error path of the command line: what went wrong, in which file, and what to do.

Every expected failure of a ``resrepro`` command ends with two lines on stderr and its own exit code,
never a traceback::

    resrepro <command>: error: <what> (<file>)
    resrepro <command>: fix: <what to do>

Exit codes (:data:`EXIT_CODES`):

====  ===========================================================================================
 2    bad arguments or configuration (argparse's own code; :class:`resrepro.config.ConfigError`,
      and every other :class:`resrepro.ResreproError`)
 3    an input file that is missing, unreadable or malformed (:class:`InputError`)
 4    input/output: a full disk, a read-only file system, a permission denied (:class:`OutputError`,
      and the ``OSError`` of those kinds)
 5    a GPU was requested and CUDA is not usable (:class:`NoGPUError`: resrepro.gpus.no_cuda names why)
====  ===========================================================================================

Anything else (a bug) keeps its traceback and Python's exit code 1, so that it stays visible.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from . import ResreproError

EXIT_CODES = {"usage": 2, "input": 3, "io": 4, "gpu": 5}

# errno -> (what the user is told, what to do); the I/O faults a user can meet and mend
_IO_FAULTS = {
    errno.ENOSPC: ("disk full", "free disk space (or choose a folder on another disk) and run the command again"),
    errno.EFBIG: (
        "disk full (the file size limit was reached)",
        "raise the file size limit (ulimit -f) or free disk space, and run the command again",
    ),
    errno.EDQUOT: ("disk full (the disk quota is exceeded)", "free space within your quota and run again"),
    errno.EROFS: ("read-only file system", "write the outputs to a writable folder, or remount it read-write"),
    errno.EACCES: ("permission denied", "make the folder writable for you (chmod/chown), or choose another"),
    errno.EPERM: ("permission denied", "make the folder writable for you (chmod/chown), or choose another"),
}


class InputError(ResreproError):
    """An input file that is missing, unreadable or malformed: names the file (and the key)."""

    exit_code = EXIT_CODES["input"]

    def __init__(self, what: str, path: str | os.PathLike | None = None, fix: str | None = None):
        self.path = None if path is None else os.fspath(path)
        fix = fix or "regenerate it: delete the file and run the stage that writes it again (snakemake)"
        super().__init__(what + (f" ({self.path})" if self.path else "") + f"; fix: {fix}")


class MissingKey(InputError, KeyError):
    """A result file without a key that the reader needs; still a ``KeyError`` for code that expects one."""

    def __init__(self, path: str | os.PathLike, key: Any):
        super().__init__(f"malformed result file: no key {key!r}", path)

    __str__ = ResreproError.__str__  # KeyError would quote the whole message


class MalformedJSON(InputError, ValueError):
    """A file that is not valid JSON; still a ``ValueError`` (as json's own error) for code that expects one."""

    def __init__(self, path: str | os.PathLike, detail: object):
        super().__init__(f"not valid JSON ({detail})", path)


class OutputError(ResreproError):
    """A file or folder that cannot be written: a full disk, a read-only file system, a permission denied."""

    exit_code = EXIT_CODES["io"]


class NoGPUError(ResreproError):
    """A GPU was requested (``--gpu N``, or SLURM set ``CUDA_VISIBLE_DEVICES``) and CUDA is not usable: the driver
    against the torch build's CUDA, and the fix (:func:`resrepro.gpus.no_cuda`)."""

    exit_code = EXIT_CODES["gpu"]


def io_fault(e: OSError, path: str | os.PathLike | None = None) -> OutputError | None:
    """The :class:`OutputError` that an ``OSError`` of a known I/O kind means, naming the file; else None."""
    if e.errno not in _IO_FAULTS:
        return None
    what, fix = _IO_FAULTS[e.errno]
    where = e.filename or path
    return OutputError(what + (f" ({os.fspath(where)})" if where else "") + f"; fix: {fix}")


def check_writable(*folders: str | os.PathLike) -> None:
    """Create each folder and write a probe file in it, so that an unwritable output fails before any work."""
    for folder in folders:
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as e:
            raise io_fault(e, folder) or OutputError(
                f"cannot write to {folder} ({e.strerror or e}); fix: choose a writable folder"
            ) from None


# the temporary file of an atomic write (resrepro.io.atomic_path) beside <name>: .<name>.<random>.part, or
# .<name>.<pid>-<host>.<random>.part where the writer is named (mkstemp's <random>: 8 letters, digits or _)
_PART = re.compile(r"^\.(?P<name>.+?)\.(?:\d+-[0-9a-f]{6}\.)?[A-Za-z0-9_]{8}\.part$")


def _written_path(e: BaseException) -> str | None:
    """The destination of the atomic write (:func:`resrepro.io.atomic_path`) that ``e`` interrupted, if any:
    a failed ``write`` has no file name of its own, but the writing frame holds the temporary file."""
    tb, found = e.__traceback__, None
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, Path) and (m := _PART.match(value.name)):
                found = value.with_name(m["name"])
        tb = tb.tb_next
    return None if found is None else os.fspath(found)


def describe(e: BaseException) -> tuple[str, str, int] | None:
    """``(what, fix, exit code)`` of an expected failure; None for a bug (which keeps its traceback)."""
    if isinstance(e, FileNotFoundError) and e.filename:
        e = InputError("no such file", e.filename, "run the stage that writes it first (snakemake)")
    elif not isinstance(e, ResreproError):
        # an OSError, or an error raised while one was handled (torch.save's writer wraps a failed write)
        cause: BaseException | None = e
        while cause is not None and not (isinstance(cause, OSError) and io_fault(cause)):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            e = io_fault(cause, _written_path(e))
    if not isinstance(e, ResreproError):
        return None
    what, _, fix = str(e).partition("; fix: ")
    if not fix:
        what, _, fix = str(e).partition(" fix: ")
    return what.strip(), fix.strip() or "see the message above", getattr(e, "exit_code", EXIT_CODES["usage"])
