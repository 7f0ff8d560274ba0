"""The training device: choose it, size CPU threads, bf16 autocast, synchronise, name it for the records.

Training and evaluation share these; a GPU-box issue (CUDA present or not, which GPU) is decided here.
"""

from __future__ import annotations

import os

import torch

from . import ResreproError


def select_device(spec: str = "auto") -> torch.device:
    """``auto``: CUDA if present, otherwise the CPU; or an explicit ``cpu``/``cuda``/``cuda:N``."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ResreproError(
            f"device {spec!r} requested but CUDA is not available here; set train.device to auto or cpu"
        )
    device = torch.device(spec)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN time its algorithms once per shape
    return device


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
    """bf16 autocast on CUDA by default; fp32 on the CPU (no native bf16 there: many times slower)."""
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


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
