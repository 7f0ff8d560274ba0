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


def _reusable(cache: Path, src: Path | None, sha256: str | None, md5: str | None) -> bool:
    manifest_path, npz = cache / MANIFEST_NAME, cache / PREPARED_NAME
    if not (manifest_path.is_file() and npz.is_file()):
        return False
    try:
        m = read_json(manifest_path)
        if m.get("format") != MANIFEST_FORMAT or m["prepared"]["sha256"] != file_digest(npz):
            return False
        if src is not None:
            s = m["source"]
            if s["kind"] != "path" or s["location"] != str(src.resolve()):
                return False
            if sha256 and s.get("sha256") != sha256 or md5 and s.get("md5") != md5:
                return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return True


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
