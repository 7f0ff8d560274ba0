"""The prepared-data cache: digest arguments, reuse of a valid cache, the lock, the deterministic npz."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import ResreproError
from ..io import atomic_path, file_digest, read_json
from .constants import MANIFEST_FORMAT, MANIFEST_NAME, PREPARED_NAME


def _check_hex(value: str | None, alg: str, length: int) -> str | None:
    if value is None or value == "":
        return None
    v = str(value).strip().lower()
    if not re.fullmatch(f"[0-9a-f]{{{length}}}", v):
        raise ResreproError(
            f"the expected {alg} {value!r} is not {length} hexadecimal digits; fix: copy the full digest "
            f"(e.g. from `{alg}sum FILE`) into data.{alg}"
        )
    return v


def _cache_problem(cache: Path, src: Path | None, sha256: str | None, md5: str | None) -> str | None:
    """Why the prepared dataset in ``cache`` cannot be reused: None if it can, "" if there is none yet,
    else the reason (a damaged file, a stale manifest, another source or checksum than the one asked for)."""
    manifest_path, npz = cache / MANIFEST_NAME, cache / PREPARED_NAME
    if not manifest_path.is_file():
        return f"{npz} has no {MANIFEST_NAME} (an interrupted preparation)" if npz.is_file() else ""
    if not npz.is_file():
        return f"{npz} is missing"
    try:
        m = read_json(manifest_path)
        if m.get("format") != MANIFEST_FORMAT:
            return f"{manifest_path} has format {m.get('format')!r}, expected {MANIFEST_FORMAT!r}"
        want, got = m["prepared"]["sha256"], file_digest(npz)
        if got != want:
            return f"{npz} is damaged or truncated: its sha256 is {got}, its manifest says {want}"
        if src is not None:
            s = m["source"]
            if s["kind"] != "path" or s["location"] != str(src.resolve()):
                return f"it was prepared from {s.get('location')}, not from data.source {src}"
            for alg, value in (("sha256", sha256), ("md5", md5)):
                if value and s.get(alg) != value:
                    return f"its source had {alg} {s.get(alg)}, not the data.{alg} {value} asked for"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        return f"{manifest_path} is unreadable ({type(e).__name__}: {e})"
    return None


@contextlib.contextmanager
def _lock(cache: Path) -> Iterator[None]:
    """Serialise preparation between processes sharing a cache (parallel workflow jobs)."""
    import fcntl

    with open(cache / ".cifar10.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed npz, byte-identical for identical arrays (fixed zip timestamps)."""
    import zipfile

    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key, a in arrays.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.ascontiguousarray(a), allow_pickle=False)
