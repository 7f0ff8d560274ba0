"""The model catalog: every architecture's facts, declared once, without importing torch.

One :class:`ModelSpec` per registry name: display name, family, depth, stage widths, block type, its
residual or plain twin, forward multiply-accumulates (MACs) per 32x32 image, and the builder in
:mod:`resrepro.models` that makes it. Everything else derives from this list: the config schema's
allowed models (:func:`resrepro.config.schema`), Snakemake's SLURM time limits
(``workflow/rules/common.smk``), display names in tables, figures and the report, the degradation
study's twins and the tests. Nothing parses a depth or a family out of a name.

The Snakefile imports this module, so it must stay free of torch (``snakemake -n`` stays fast). The
MACs are counted by ``torch.utils.flop_counter`` (tests/test_models.py checks every one).

To add an architecture: one :func:`register` call below, and, for a new kind of network, a builder
in :mod:`resrepro.models` (README, "Extending").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import ResreproError

FAMILIES = {
    "resnet": "ImageNet-style ResNet (torchvision) with a CIFAR stem",
    "cifar-resnet": "He et al. (2016) CIFAR ResNet, 6n+2 layers",
    "plain": "He et al. (2016) plain network: a CIFAR ResNet without shortcuts",
    "vgg": "VGG (Simonyan & Zisserman 2015) with batch norm",
    "wide-resnet": "Wide ResNet (Zagoruyko & Komodakis 2016), pre-activation blocks",
}


@dataclass(frozen=True)
class ModelSpec:
    """One architecture of the catalog (parameters are counted from the built model, never stored)."""

    name: str  # registry name: what configs, paths and rules use
    display: str  # how tables, figures and the report name it
    family: str  # a key of FAMILIES
    depth: int  # nominal depth: weighted layers of the published design (VGG-16 keeps 16 with one classifier layer)
    widths: tuple[int, ...]  # channels of each stage
    block: str  # basic | bottleneck | plain | preact-basic | vgg
    residual: bool  # has shortcut connections
    twin: str | None  # the same layers with (residual=False) or without (residual=True) shortcuts
    macs: int  # forward multiply-accumulates per 32x32 image
    builder: str  # name of a builder in resrepro.models.BUILDERS
    args: dict[str, Any] = field(default_factory=dict)  # what the builder needs beyond the fields above
    description: str = ""

    @property
    def gflops(self) -> float:
        """Forward GFLOPs per image (1 MAC = 2 FLOPs)."""
        return 2 * self.macs / 1e9


_CATALOG: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the catalog; a second registration of a name is refused."""
    if spec.name in _CATALOG:
        raise ResreproError(f"model {spec.name!r} is registered twice; give the new architecture its own name")
    if spec.family not in FAMILIES:
        raise ResreproError(f"model {spec.name!r}: unknown family {spec.family!r}; known: {', '.join(FAMILIES)}")
    _CATALOG[spec.name] = spec
    return spec


def natural_key(s: str) -> list:
    """Sort key that orders digits by value: plain20 before plain110."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", s)]


def available() -> list[str]:
    """Every registry name, in natural order."""
    return sorted(_CATALOG, key=natural_key)


def get(name: str) -> ModelSpec:
    if name not in _CATALOG:
        raise ResreproError(f"unknown model {name!r}; available models: {', '.join(available())}")
    return _CATALOG[name]


def specs() -> list[ModelSpec]:
    return [_CATALOG[n] for n in available()]


def display(name: str) -> str:
    """The display name of a registry model; other strings are returned unchanged."""
    spec = _CATALOG.get(name)
    return spec.display if spec else name


def twins(models: list[str]) -> list[tuple[str, str]]:
    """(plain, residual) pairs of twins that are both in ``models``, by depth."""
    pairs = [(m, get(m).twin) for m in models if m in _CATALOG and not get(m).residual and get(m).twin in models]
    return sorted(pairs, key=lambda p: get(p[0]).depth)


def pair(depth: int) -> tuple[str, str]:
    """The registry names of the plain network and its residual twin at ``depth``."""
    for plain, residual in twins(available()):
        if get(plain).depth == depth:
            return plain, residual
    raise ResreproError(f"the catalog has no plain/residual twins of depth {depth}")


# --- ImageNet-style ResNets with a CIFAR stem (He et al. 2016a; torchvision; kuangliu/pytorch-cifar) ---
_TORCHVISION = "torchvision ResNet, CIFAR stem (3x3 stride-1 conv, no max-pool)"
for _depth, _block, _layers, _macs in (
    (18, "basic", [2, 2, 2, 2], 555_422_720),
    (34, "basic", [3, 4, 6, 3], 1_159_402_496),
    (50, "bottleneck", [3, 4, 6, 3], 1_297_829_888),
):
    register(
        ModelSpec(
            name=f"resnet{_depth}",
            display=f"ResNet-{_depth}",
            family="resnet",
            depth=_depth,
            widths=(64, 128, 256, 512),
            block=_block,
            residual=True,
            twin=None,
            macs=_macs,
            builder="torchvision_resnet",
            args={"layers": _layers},
            description=f"{_TORCHVISION}: {_block} blocks {_layers}",
        )
    )

# --- He et al. (2016), Sec. 4.2: CIFAR ResNets of 6n+2 layers and their plain twins ---------------------
_HE_MACS = {
    20: 40_551_040,
    32: 68_862_592,
    44: 97_174_144,
    56: 125_485_696,
    110: 252_887_680,
    1202: 2_829_238_912,
}
for _depth, _macs in _HE_MACS.items():
    _n = (_depth - 2) // 6
    for _residual in (True, False):
        _name, _other = (f"resnet{_depth}", f"plain{_depth}") if _residual else (f"plain{_depth}", f"resnet{_depth}")
        register(
            ModelSpec(
                name=_name,
                display=f"ResNet-{_depth}" if _residual else f"plain-{_depth}",
                family="cifar-resnet" if _residual else "plain",
                depth=_depth,
                widths=(16, 32, 64),
                block="basic" if _residual else "plain",
                residual=_residual,
                twin=_other,
                macs=_macs,
                builder="cifar_resnet",
                description=(
                    f"He et al. CIFAR ResNet-{_depth}: 3 stages x {_n} basic blocks, widths 16/32/64, "
                    "option-A shortcuts"
                    if _residual
                    else f"He et al. plain-{_depth}: ResNet-{_depth} without shortcuts (same layers and parameters)"
                ),
            )
        )

# --- VGG-16 with batch norm (Simonyan & Zisserman 2015, config D) -------------------------------------
register(
    ModelSpec(
        name="vgg16",
        display="VGG-16",
        family="vgg",
        depth=16,
        widths=(64, 128, 256, 512, 512),
        block="vgg",
        residual=False,
        twin=None,
        macs=313_201_664,
        builder="vgg",
        args={"cfg": "D"},
        description="torchvision VGG-16 (config D) with batch norm, 5 max-pools, one Linear(512, classes)",
    )
)

# --- Wide ResNet (Zagoruyko & Komodakis 2016): WRN-28-10 ----------------------------------------------
register(
    ModelSpec(
        name="wrn28_10",
        display="WRN-28-10",
        family="wide-resnet",
        depth=28,
        widths=(160, 320, 640),
        block="preact-basic",
        residual=True,
        twin=None,
        macs=5_243_328_768,
        builder="wide_resnet",
        description="WRN-28-10: pre-activation basic blocks, widths 16/160/320/640, 1x1 projection shortcuts",
    )
)
