"""Model builders: ``create(name, num_classes=10)`` and ``available()``, in the spirit of timm.

What each name is (family, depth, widths, twin, MACs, builder) is declared once, in
:mod:`resrepro.catalog`; this module holds the torch code that builds it:

* ``torchvision_resnet`` -- torchvision's ``ResNet`` with ``BasicBlock``/``Bottleneck``, given the usual
  CIFAR stem: a 3x3 stride-1 first convolution and no max-pool (kuangliu/pytorch-cifar layout).
* ``cifar_resnet`` -- He et al. (2016), Sec. 4.2: 6n+2 layers, widths 16/32/64, option-A
  (parameter-free: subsample + zero-pad) shortcuts, built from torchvision's ``BasicBlock``; with
  ``shortcuts=False`` the plain twin: identical layers and parameters, blocks compute relu(F(x))
  instead of relu(F(x) + x).
* ``vgg`` -- torchvision's VGG feature stack with batch norm, followed by a single
  ``Linear(512, num_classes)``: on 32x32 inputs the five max-pools leave a 1x1x512 map.
* ``wide_resnet`` -- Zagoruyko & Komodakis (2016): pre-activation basic blocks, 1x1 projection
  shortcuts where the shape changes.

Exact parameter counts for 10 classes are pinned by tests/test_models.py.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet
from torchvision.models import vgg as tv_vgg

from . import ResreproError, catalog


def available() -> list[str]:
    """Names accepted by :func:`create`, in natural order (the catalog's)."""
    return catalog.available()


def describe(name: str) -> str:
    return catalog.get(name).description


def create(name: str, num_classes: int = 10) -> nn.Module:
    """Build a freshly initialised model by name, with the builder its catalog entry names."""
    spec = catalog.get(name)
    return BUILDERS[spec.builder](spec, num_classes, **spec.args)


# --- ImageNet-style ResNets with a CIFAR stem ---------------------------------------------------


def _cifar_stem_resnet(block, layers, num_classes: int) -> nn.Module:
    model = tv_resnet.ResNet(block, layers, num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


def torchvision_resnet(spec: catalog.ModelSpec, num_classes: int, layers: list[int]) -> nn.Module:
    """torchvision's ResNet with the spec's ``basic`` or ``bottleneck`` blocks and a CIFAR stem."""
    blocks = {"basic": tv_resnet.BasicBlock, "bottleneck": tv_resnet.Bottleneck}
    return _cifar_stem_resnet(blocks[spec.block], layers, num_classes)


# --- He et al. CIFAR ResNets (6n+2) ---------------------------------------------------------------


class ShortcutA(nn.Module):
    """Option-A shortcut: subsample spatially by ``stride`` and zero-pad the new channels."""

    def __init__(self, in_planes: int, out_planes: int, stride: int):
        super().__init__()
        self.stride = stride
        self.pad = out_planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.pad // 2
        return nn.functional.pad(x, (0, 0, 0, 0, half, self.pad - half))


class PlainBlock(tv_resnet.BasicBlock):
    """torchvision's BasicBlock without its shortcut: relu(bn2(conv2(relu(bn1(conv1(x))))))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(residual_branch(self, x))


def residual_branch(block: tv_resnet.BasicBlock, x: torch.Tensor) -> torch.Tensor:
    """F(x) of a BasicBlock: everything before the addition of the shortcut."""
    return block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))


def shortcut(block: tv_resnet.BasicBlock, x: torch.Tensor) -> torch.Tensor:
    """The block's shortcut path: identity, or its ``downsample`` (option A here)."""
    return x if block.downsample is None else block.downsample(x)


class CifarResNet(nn.Module):
    """He et al. (2016) CIFAR ResNet: conv3x3(16) -> 3 stages of n BasicBlocks -> GAP -> FC.

    With ``shortcuts=False`` it is the plain twin: the same layers and parameters, no shortcuts.
    """

    def __init__(self, depth: int, num_classes: int = 10, widths=(16, 32, 64), shortcuts: bool = True):
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise ResreproError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.depth, self.shortcuts = depth, shortcuts
        self.conv1 = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        stages, in_planes = [], widths[0]
        for i, planes in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                if shortcuts:
                    sc = ShortcutA(in_planes, planes, stride) if stride != 1 or in_planes != planes else None
                    blocks.append(tv_resnet.BasicBlock(in_planes, planes, stride, downsample=sc))
                else:
                    blocks.append(PlainBlock(in_planes, planes, stride))
                in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)
        # Initialisation as in the reference code (fb.resnet.torch, which He et al. point to, and torchvision):
        # He-normal convolutions (fan_out), the classifier keeps the framework default U(+-1/sqrt(fan_in)) with a
        # zero bias.
        # A He-normal classifier (as in some ports) makes the initial loss of ResNet-56 about 5.5 instead of about 2.8.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def blocks(self) -> list[nn.Module]:
        """The 3n blocks in order from input to output (for gradient-flow measurements)."""
        return [b for stage in (self.layer1, self.layer2, self.layer3) for b in stage]


def cifar_resnet(spec: catalog.ModelSpec, num_classes: int) -> nn.Module:
    """He et al.'s net of the spec's depth and widths; its plain twin when the spec has no shortcuts."""
    return CifarResNet(spec.depth, num_classes, widths=spec.widths, shortcuts=spec.residual)


# --- VGG-16 with batch norm ------------------------------------------------------------------------


class CifarVGG(nn.Module):
    def __init__(self, cfg: str = "D", num_classes: int = 10):
        super().__init__()
        self.features = tv_vgg.make_layers(tv_vgg.cfgs[cfg], batch_norm=True)
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def vgg(spec: catalog.ModelSpec, num_classes: int, cfg: str = "D") -> nn.Module:
    return CifarVGG(cfg, num_classes)


# --- Wide ResNet (Zagoruyko & Komodakis 2016; github.com/szagoruyko/wide-residual-networks) -----------


class PreActBlock(nn.Module):
    """Pre-activation basic block: BN-ReLU-conv3x3-BN-ReLU-conv3x3, plus the input or its 1x1 projection.

    Where the shape changes, the projection (a bias-free 1x1 convolution) is applied to the activated
    input, as in the authors' code.
    """

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        same = stride == 1 and in_planes == planes
        self.shortcut = None if same else nn.Conv2d(in_planes, planes, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(out)
        out = self.conv2(self.relu(self.bn2(self.conv1(out))))
        return out + skip


class WideResNet(nn.Module):
    """WRN-d-k: conv3x3(16) -> 3 stages of (d-4)/6 pre-activation blocks, widths 16k/32k/64k -> BN-ReLU-GAP-FC."""

    def __init__(self, depth: int, widen: int, num_classes: int = 10):
        super().__init__()
        if (depth - 4) % 6 != 0:
            raise ResreproError(f"Wide-ResNet depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        widths = [16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        blocks, in_planes = [], 16
        for i, planes in enumerate(widths):
            for j in range(n):
                blocks.append(PreActBlock(in_planes, planes, 2 if (i > 0 and j == 0) else 1))
                in_planes = planes
        self.body = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn(self.body(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def wide_resnet(spec: catalog.ModelSpec, num_classes: int) -> nn.Module:
    """WRN-d-k of the spec's depth; k from its first stage width (16k)."""
    return WideResNet(spec.depth, spec.widths[0] // 16, num_classes)


# The builders that catalog entries name (resrepro.catalog.ModelSpec.builder).
BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "torchvision_resnet": torchvision_resnet,
    "cifar_resnet": cifar_resnet,
    "vgg": vgg,
    "wide_resnet": wide_resnet,
}


# --- Cost counting ---------------------------------------------------------------------------------


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, image_size: int = 32) -> int:
    """Forward FLOPs for one image, counted by ``torch.utils.flop_counter`` (1 MAC = 2 FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    x = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def model_info(name: str, num_classes: int = 10) -> dict:
    """Parameters and forward cost of one model, as recorded in ``results/<run>/models.json``."""
    model = create(name, num_classes)
    flops = count_flops(model)
    return {
        "model": name,
        "description": describe(name),
        "params": count_parameters(model),
        "flops_per_image": flops,
        "macs_per_image": flops // 2,
    }
