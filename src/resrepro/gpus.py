"""GPUs on this machine: which exist, one training per GPU slot, and why CUDA is not usable (torch-free).

A *slot* is one training's (or evaluation's: ``resrepro evaluate --gpu N``, so that the trainings beside it
count it) place on a GPU: ``len(visible()) x train.pack`` slots per machine. A training that
was given a GPU (``resrepro train --gpu N``, N = the job's Snakemake ``gpu`` resource, or SLURM having set
``CUDA_VISIBLE_DEVICES`` for the job) holds one slot for its whole life: an exclusive ``flock`` on a file of a
per-host lock folder (``RESREPRO_GPU_LOCKS``, default ``<temp dir>/resrepro-gpu-locks``; under SLURM a
subfolder per job, since SLURM alone hands out GPUs there). While it holds the slot, ``CUDA_VISIBLE_DEVICES``
names that slot's GPU alone, set before torch initialises CUDA, so the training's ``cuda`` is its own GPU.
When every slot is busy the training waits, saying so and naming the holders' process ids, and tries every slot
again each half second (a blocking lock would wait for one given slot, not for the first that frees). The kernel
releases a lock when its process ends, however it ends (``kill -9`` included): no stale lock to clean up.

Sharing (history.csv's ``gpu_shared_by``, :func:`sharing`): a holder also holds an exclusive lock on its slot's
``.occupied`` file; a probe asks for a *shared* non-blocking lock on each of the GPU's ``.occupied`` files and
counts those refused. Probes never touch the slot locks (a starting training never finds a free slot taken) and
two probes' shared locks do not conflict (two probing trainings never count each other's probes). It sees the
slot locks of one lock folder on one host only: processes that take no slot (``train.device: cuda:N``, a hand-run
``resrepro train`` without ``--gpu``) are not seen and themselves record no sharing (an empty column: unknown).

Whatever Snakemake does (a ``--cores`` larger than the GPUs, no ``--resources``), two trainings never share
a GPU unless ``train.pack`` > 1 asks for it; the workflow also bounds its ``gpu`` resource by the slots
(workflow/rules/common.smk) so that waiting trainings do not hold Snakemake's cores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import functools
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from .errors import NoGPUError

LOCKS_ENV = "RESREPRO_GPU_LOCKS"
POLL_SECONDS = 0.5
# The minimum Linux driver of each CUDA major version (NVIDIA's CUDA compatibility table; minor versions of a
# major one run on its first driver), and the PyTorch wheel index to name for a driver of that major version.
MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}
WHEEL = {11: "cu118", 12: "cu126", 13: "cu130"}
WHEEL_INDEX = "https://download.pytorch.org/whl/"


@dataclasses.dataclass(frozen=True)
class Slot:
    gpu: str  # the GPU's name in CUDA_VISIBLE_DEVICES (an index or a UUID)
    index: int  # which of the GPU's train.pack slots
    pack: int
    path: Path  # the lock file


_held: dict = {}  # the slot this process holds: {"slot": Slot, "fd": int}


# --- discovery ------------------------------------------------------------------------------------------------


def _nvidia_smi(*fields: str) -> list[list[str]] | None:
    """Rows of ``nvidia-smi --query-gpu=<fields>``, or None where it is absent or fails: asked once per process
    (and PATH), since a training start and a Snakemake start each need the GPUs, their models and the driver."""
    return _query(os.environ.get("PATH", ""), fields)


@functools.lru_cache(maxsize=16)
def _query(path: str, fields: tuple[str, ...]) -> list[list[str]] | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return [[v.strip() for v in line.split(",")] for line in out.stdout.splitlines() if line.strip()]


def visible(env: dict | None = None) -> list[str]:
    """The GPUs a training may use: ``CUDA_VISIBLE_DEVICES`` when set (SLURM sets it), else ``nvidia-smi``'s
    indices, else one per entry of /proc/driver/nvidia/gpus, else none."""
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env:
        names = []
        for name in (v.strip() for v in env["CUDA_VISIBLE_DEVICES"].split(",")):
            if not name or name.startswith("-"):  # CUDA stops at an invalid entry: "" or "-1" hides every GPU
                break
            names.append(name)
        return names
    rows = _nvidia_smi("index")
    if rows:
        return [r[0] for r in rows]
    proc = Path("/proc/driver/nvidia/gpus")
    return [str(i) for i in range(len(list(proc.iterdir())))] if proc.is_dir() else []


def slots(pack: int = 1, env: dict | None = None) -> int:
    """How many trainings may run at once on this machine's GPUs: GPUs x ``train.pack``."""
    return len(visible(env)) * pack


def driver_version() -> str | None:
    """The NVIDIA driver's version (e.g. ``"535.104.05"``), or None where no driver is loaded."""
    rows = _nvidia_smi("driver_version")
    if rows:
        return rows[0][0]
    try:
        text = Path("/proc/driver/nvidia/version").read_text()
    except OSError:
        return None
    found = re.search(r"Kernel Module\s+(?:for \S+\s+)?(\d+\.\d+(?:\.\d+)?)", text)
    return found.group(1) if found else None


def gpu_models() -> dict[str, str]:
    """{nvidia-smi index: model name} of this machine's GPUs ({} without nvidia-smi)."""
    return {r[0]: r[1] for r in _nvidia_smi("index", "name") or [] if len(r) == 2}


# --- slots ----------------------------------------------------------------------------------------------------


def lock_dir(env: dict | None = None) -> Path:
    """The per-host lock folder, made usable by every user of the machine (sticky like /tmp)."""
    env = os.environ if env is None else env
    folders = [Path(env.get(LOCKS_ENV) or Path(tempfile.gettempdir()) / "resrepro-gpu-locks")]
    if env.get("SLURM_JOB_ID") and not env.get(LOCKS_ENV):
        folders.append(folders[0] / f"slurm-{env['SLURM_JOB_ID']}")  # SLURM's GPU indices are per job (cgroups)
    for folder in folders:
        folder.mkdir(exist_ok=True, parents=True)
        with contextlib.suppress(OSError):  # another user's folder: theirs to set
            os.chmod(folder, 0o1777)
    return folders[-1]


def _lock_file(folder: Path, gpu: str, index: int) -> Path:
    return folder / f"gpu{re.sub(r'[^A-Za-z0-9._-]', '_', gpu)}.slot{index}.lock"


def _try_lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on ``path``, or None if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)  # any user's training may take this slot later
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def _occupied_file(lock: Path) -> Path:
    return lock.with_suffix(".occupied")


def _occupy(lock: Path) -> int:
    """An fd holding an exclusive lock on the slot's ``.occupied`` file (waits out a probe's shared lock)."""
    fd = os.open(_occupied_file(lock), os.O_RDWR | os.O_CREAT, 0o666)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a probe holds its shared lock for microseconds only
    return fd


def _acquire(gpus: list[str], pack: int, folder: Path) -> tuple[Slot, int] | None:
    # every GPU's first slot before any second one: with pack 2 on 2 GPUs, two trainings get a GPU each
    for index in range(pack):
        for gpu in gpus:
            path = _lock_file(folder, gpu, index)
            fd = _try_lock(path)
            if fd is not None:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                _held["occupied"] = _occupy(path)
                return Slot(gpu, index, pack, path), fd
    return None


@contextlib.contextmanager
def slot(pack: int = 1, gpus: list[str] | None = None, message=None) -> Iterator[Slot]:
    """Hold one GPU slot (waiting while all are busy) and set ``CUDA_VISIBLE_DEVICES`` to its GPU inside.

    ``gpus``: default :func:`visible`. Raises :class:`NoGPUError` where there is none (:func:`no_cuda`).
    ``message``: called once with a line when the training has to wait (default: printed to stderr).
    """
    gpus = visible() if gpus is None else gpus
    if not gpus:
        raise no_cuda("no NVIDIA GPU was found (CUDA_VISIBLE_DEVICES unset, no nvidia-smi, no /proc/driver/nvidia)")
    if pack < 1:
        raise ValueError(f"train.pack must be at least 1, not {pack}")
    folder = lock_dir()
    got, waited = _acquire(gpus, pack, folder), False
    while got is None:
        if not waited:
            (message or _stderr)(
                f"[resrepro] all {len(gpus) * pack} GPU slots are busy ({len(gpus)} GPU(s) {','.join(gpus)} x "
                f"train.pack {pack}; held by process(es) {_holders(folder)}; locks in {folder}): waiting for a "
                "training to end"
            )
            waited = True
        time.sleep(POLL_SECONDS)
        got = _acquire(gpus, pack, folder)
    held, fd = got
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = held.gpu
    _held.update(slot=held, fd=fd)
    try:
        yield held
    finally:
        occupied = _held.get("occupied")
        _held.clear()
        if occupied is not None:
            os.close(occupied)
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before
        os.close(fd)  # releases the lock


def _holders(folder: Path) -> str:
    """The process ids written into the slot files (by :func:`_acquire`), for the waiting message."""
    pids = set()
    for path in folder.glob("gpu*.slot*.lock"):
        with contextlib.suppress(OSError):
            pids.update(path.read_text().split())
    return ", ".join(sorted(pids, key=lambda p: (len(p), p))) or "unknown"


@contextlib.contextmanager
def for_job(gpu: int | None, recipe: dict) -> Iterator[Slot | None]:
    """What ``resrepro train`` (and ``resrepro evaluate``) holds while it runs: a slot when a GPU was requested
    (:func:`requested`), else nothing. Checks CUDA at once, before any data is read: no GPU job trains on the
    CPU (NoGPUError, code 5)."""
    device = recipe.get("device", "auto")
    why = requested(gpu, device)
    if why is None:
        if device.startswith("cuda"):
            _require_cuda(f"train.device is {device!r}")
        yield None
        return
    found = visible()
    if not found:
        where = os.environ.get("CUDA_VISIBLE_DEVICES")
        seen = "no nvidia-smi, no /proc/driver/nvidia/gpus" if where is None else f"CUDA_VISIBLE_DEVICES={where!r}"
        raise no_cuda(f"{why}, but no NVIDIA GPU was found ({seen})")
    _no_driver(why)
    with slot(recipe.get("pack", 1), found) as held_slot:
        _require_cuda(why)  # after CUDA_VISIBLE_DEVICES names the slot's GPU: torch reads it when CUDA starts
        yield held_slot


def _no_driver(why: str) -> None:
    """Fail without importing torch (seconds) where no NVIDIA driver is loaded: CUDA cannot start without one
    (no nvidia-smi, /proc/driver/nvidia, /dev/nvidiactl, nor WSL's /dev/dxg)."""
    if driver_version() is None and not any(Path(p).exists() for p in ("/dev/nvidiactl", "/dev/dxg")):
        shown = os.environ.get("CUDA_VISIBLE_DEVICES")
        named = f"; CUDA_VISIBLE_DEVICES={shown!r}" if shown and f"CUDA_VISIBLE_DEVICES={shown!r}" not in why else ""
        raise no_cuda(f"{why}{named}, but no NVIDIA driver is loaded", driver="")


def _require_cuda(why: str) -> None:
    _no_driver(why)
    from .device import require_cuda  # imports torch

    require_cuda(why)


def held() -> Slot | None:
    """The slot this process holds, if any."""
    return _held.get("slot")


def sharing() -> int | None:
    """Slots of this process's GPU held now, this one included; None when this process holds no slot (on the
    CPU, ``cuda:N``, no ``--gpu``: unknown, never 1). Each of the GPU's ``.occupied`` files (whatever train.pack
    its holder had) is probed with a shared non-blocking lock, which only a holder's exclusive lock refuses."""
    mine = held()
    if mine is None:
        return None
    pattern = _lock_file(mine.path.parent, mine.gpu, 0).name.replace(".slot0.lock", ".slot*.occupied")
    busy = 1
    for path in mine.path.parent.glob(pattern):
        if path == _occupied_file(mine.path):
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            busy += 1
        finally:
            os.close(fd)
    return busy


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- was a GPU requested, and why CUDA is not usable ------------------------------------------------------------


def requested(gpu: int | None, device: str, env: dict | None = None) -> str | None:
    """Why this training must run on a GPU (a phrase), or None: ``--gpu N`` >= 1 (the job's Snakemake ``gpu``
    resource), or a SLURM job given ``CUDA_VISIBLE_DEVICES``. ``train.device: cpu`` always trains on the CPU;
    ``cuda:N`` pins a GPU by hand (no slot: it must be usable, :func:`for_job`)."""
    env = os.environ if env is None else env
    if device == "cpu" or device.startswith("cuda:"):
        return None
    if gpu:
        return f"the job was given {gpu} GPU(s) (--gpu {gpu}: its Snakemake gpu resource)"
    if env.get("SLURM_JOB_ID") and "CUDA_VISIBLE_DEVICES" in env:
        return f"SLURM job {env['SLURM_JOB_ID']} was given CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']!r}"
    return None


def _major(version: str | None) -> int | None:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return None


def _tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def wheel_for(driver: str | None) -> str | None:
    """The newest PyTorch wheel index (``cu130``...) whose CUDA runs on ``driver``; None below CUDA 11's."""
    if not driver:
        return None
    fits = [major for major, least in MIN_DRIVER.items() if _tuple(driver) >= _tuple(least)]
    return WHEEL[max(fits)] if fits else None


def torch_build() -> tuple[str, str | None]:
    """(torch's version, the CUDA it was built for or None), read from torch/version.py without importing torch
    (seconds saved: a GPU job without CUDA fails at once); by importing it where that file cannot be read."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    try:
        text = Path(next(iter(spec.submodule_search_locations)), "version.py").read_text()
        version = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)", text, re.M).group(1)
        cuda = re.search(r"^cuda\b[^=\n]*=\s*(?:['\"]([^'\"]+)['\"]|None)", text, re.M)
        return version, cuda.group(1) if cuda else None
    except (AttributeError, OSError, StopIteration, TypeError):
        import torch

        return str(torch.__version__), torch.version.cuda


def no_cuda(
    cause: str, driver: str | None = None, torch_version: str | None = None, torch_cuda: str | None = None
) -> NoGPUError:
    """The error of a GPU job where CUDA is not usable: the cause (driver against the torch build's CUDA) and
    the fix. ``driver``, ``torch_*``: found here (:func:`driver_version`, the installed torch) unless given."""
    if torch_version is None:
        torch_version, torch_cuda = torch_build()
    driver = driver if driver is not None else driver_version()
    cpu_fix = "or set train.device: cpu in the config to train on the CPU (hours per training)"
    found = f"NVIDIA driver {driver}" if driver else "no NVIDIA driver"
    major = _major(torch_cuda)
    if torch_cuda is None:
        build = f"torch {torch_version} is a CPU-only build"
    else:
        build = f"torch {torch_version} is built for CUDA {torch_cuda}" + (
            f", which needs driver >= {MIN_DRIVER[major]}" if major in MIN_DRIVER else ""
        )
    wheel, need = wheel_for(driver), MIN_DRIVER.get(major)
    if not driver:
        fix = "run on a machine (or SLURM partition) with NVIDIA GPUs and a driver" + (f" >= {need}" if need else "")
    elif wheel is None:
        fix = f"update the NVIDIA driver (>= {MIN_DRIVER[min(MIN_DRIVER)]} for CUDA 11)"
    elif torch_cuda is None or need is None or _tuple(driver) < _tuple(need):
        fix = f"install a torch for this driver: pip install torch --index-url {WHEEL_INDEX}{wheel}"
    else:
        fix = "check that nvidia-smi works in this job and that CUDA_VISIBLE_DEVICES names one of its GPUs"
    fix += f", {cpu_fix}"
    state = build if not driver and "no NVIDIA driver is loaded" in cause else f"{found}, {build}"  # said once
    return NoGPUError(f"a GPU was requested but CUDA is not usable: {cause}; {state}; fix: {fix}")


def report(pack: int = 1) -> dict:
    """What ``resrepro gpus`` prints: the GPUs found, the driver and the slots."""
    gpus, models = visible(), gpu_models()
    return {
        "gpus": [{"name": g, "model": models.get(g)} for g in gpus],
        "driver": driver_version(),
        "pack": pack,
        "slots": len(gpus) * pack,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "locks": str(lock_dir()),  # SLURM's per-job folder included
    }


def add_command(sub) -> None:
    """``resrepro gpus [--json] [--slots] [--configfile F ...]``: the GPUs found and the slots."""
    s = sub.add_parser("gpus", help="the GPUs found and the training slots (GPUs x train.pack)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--slots", action="store_true", help="print only the number of slots")
    s.add_argument("--pack", type=int, default=None, help="trainings per GPU (default: train.pack of the config)")
    s.add_argument("--configfile", nargs="+", default=["config.yaml"], help="where train.pack is read")
    s.set_defaults(func=_cmd_gpus)


def _cmd_gpus(a) -> None:
    import json

    pack = a.pack
    if pack is None:
        from . import config

        pack = config.load(*a.configfile)["train"]["pack"] if Path(a.configfile[0]).exists() else 1
    info = report(pack)
    if a.slots:
        print(info["slots"])
    elif a.json:
        print(json.dumps(info, indent=2))
    else:
        names = ", ".join(f"{g['name']} ({g['model'] or 'model unknown'})" for g in info["gpus"]) or "none"
        print(f"GPUs: {names}; driver {info['driver'] or 'none'}")
        print(f"slots: {info['slots']} ({len(info['gpus'])} GPU(s) x train.pack {pack}); locks in {info['locks']}")
