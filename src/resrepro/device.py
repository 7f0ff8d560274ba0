"""The training device: choose it, size CPU threads, bf16 autocast, synchronise, name it for the records.

Training and evaluation share these; a GPU-box issue (CUDA present or not, which GPU) is decided here.
"""

from __future__ import annotations

import os

import torch

from . import engines, gpus


def select_device(spec: str = "auto") -> torch.device:
    """``auto``: CUDA if present, otherwise the CPU; or an explicit ``cpu``/``cuda``/``cuda:N``."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise gpus.no_cuda(f"train.device is {spec!r}, but torch.cuda.is_available() is False")
    device = torch.device(spec)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN time its algorithms once per shape
    return device


def compiles(recipe: dict, device: torch.device) -> bool:
    """``train.compile`` on ``device`` (:func:`resrepro.engines.compiled`)."""
    return engines.compiled(recipe, device.type)


def set_cpu_threads(requested: int) -> int:
    """Use ``train.threads`` CPU threads, but never more than the cores this process may run on:
    oversubscribed oneDNN convolutions run far slower than at one thread per core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    threads = max(1, min(requested, cores))
    torch.set_num_threads(threads)
    return threads


def use_bf16(device: torch.device, precision: str = "auto") -> bool:
    """bf16 autocast on ``device`` (:func:`resrepro.engines.bf16`)."""
    return engines.bf16(device.type, precision)


def autocast(device: torch.device, precision: str = "auto"):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(device, precision))


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work (timings); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mib(device: torch.device) -> float | None:
    """The most GPU memory PyTorch allocated on ``device`` in this process (MiB); None on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from .provenance import cpu_name

    return cpu_name()


def require_cuda(why: str) -> None:
    """Fail at once (:class:`resrepro.errors.NoGPUError`, exit code 5) when a GPU was requested (``why``) and
    CUDA is not usable, naming the driver against this torch build's CUDA and the fix; before any data loads."""
    if not torch.cuda.is_available():
        shown = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise gpus.no_cuda(f"{why}; CUDA_VISIBLE_DEVICES={shown!r}, but torch.cuda.is_available() is False")


def environment(device: torch.device) -> dict:
    """train.json's ``environment``: the software and GPU this training ran on (None where not applicable)."""
    on_gpu = device.type == "cuda"
    slot = gpus.held()
    return {
        "torch": str(torch.__version__),
        "cuda": torch.version.cuda,  # the build's CUDA (None: a CPU-only build)
        "cudnn": torch.backends.cudnn.version() if on_gpu else None,
        "driver": gpus.driver_version() if on_gpu else None,
        "gpu_model": torch.cuda.get_device_name(device) if on_gpu else None,
        "gpu_index": slot.gpu if slot else (str(device.index or 0) if on_gpu else None),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES") if on_gpu else None,
    }
