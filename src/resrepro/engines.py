"""How a recipe trains once its "auto"s resolve on a kind of device: the device type, the precision and whether
the step is compiled. Declared once here; torch-free (the archive's match and the plan read it at parse time).

``train.device``: ``cpu`` trains on the CPU; ``auto``, ``cuda`` and ``cuda:N`` on a machine that trains the
config's GPU recipe resolve to CUDA. ``train.precision: auto``: bf16 autocast on CUDA, fp32 on the CPU.
``train.compile: cuda``: compiled on CUDA only.
"""

from __future__ import annotations

BF16, FP32 = "bf16-autocast", "fp32"


def bf16(device_type: str, precision: str = "auto") -> bool:
    """bf16 autocast on CUDA by default; fp32 on the CPU (no native bf16 there: many times slower)."""
    return precision == "bf16" or (precision == "auto" and device_type == "cuda")


def compiled(recipe: dict, device_type: str) -> bool:
    """``train.compile``: true, false, or "cuda" (compile on CUDA only: on the CPU it costs a minute or more
    and gains nothing)."""
    flag = recipe.get("compile", False)
    return flag is True or (flag == "cuda" and device_type == "cuda")


def device_type(recipe: dict) -> str:
    """The device type a machine that trains ``recipe`` uses: "cpu" for train.device cpu, else "cuda"."""
    return "cpu" if recipe.get("device", "auto") == "cpu" else "cuda"


def resolved(recipe: dict, device_type_: str | None = None) -> dict:
    """{"device", "precision", "compiled"} of ``recipe`` on ``device_type_`` (default :func:`device_type`), as
    train.json records them."""
    kind = device_type_ or device_type(recipe)
    return {
        "device": kind,
        "precision": BF16 if bf16(kind, recipe.get("precision", "auto")) else FP32,
        "compiled": compiled(recipe, kind),
    }


def recorded(summary: dict) -> dict:
    """The engine a train.json records (the same keys as :func:`resolved`)."""
    return {k: summary.get(k) for k in ("device", "precision", "compiled")}


def describe(engine: dict) -> str:
    """'cuda, bf16-autocast, compiled'."""
    return f"{engine['device']}, {engine['precision']}, {'compiled' if engine['compiled'] else 'eager'}"
