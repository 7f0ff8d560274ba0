"""What the published architectures are, counted from torchvision's implementations (built with
``weights=None``: nothing is downloaded): their depth in weight layers and the residual function of
their blocks. torch and torchvision are imported only when a rule asks, so the audit runs without them."""

from __future__ import annotations

from functools import lru_cache

from .. import catalog

SHORTCUT = "downsample"  # torchvision's name of a ResNet block's projection shortcut
# torchvision's models that resrepro's catalog does not name
NAMES = {
    "alexnet": "AlexNet",
    "resnet101": "ResNet-101",
    "resnet152": "ResNet-152",
    "vgg11": "VGG-11",
    "vgg13": "VGG-13",
    "vgg19": "VGG-19",
}


def display(name: str) -> str:
    """A torchvision model's published name: ResNet-152, AlexNet, VGG-19."""
    return NAMES.get(name) or catalog.display(name)


@lru_cache(maxsize=None)
def torchvision_model(name: str, meta: bool = False):
    """torchvision's model ``name`` with random weights (``meta``: its structure alone, no memory and no
    initialisation, for counting); None without torchvision or such a model."""
    try:
        import torch
        import torchvision
    except ImportError:
        return None
    ctor = getattr(torchvision.models, name, None)
    if ctor is None:
        return None
    with torch.random.fork_rng(), torch.device("meta" if meta else "cpu"):
        torch.manual_seed(0)  # the same random weights every time: the audit's evidence is reproducible
        return ctor(weights=None).eval()


def weight_layers(name: str) -> dict | None:
    """The depth of torchvision's ``name`` as its authors count it: the convolutional and fully connected
    layers with weights on the path from input to output. A projection shortcut (a 1x1 convolution beside
    a block's convolutions, He et al. 2016 Table 1) adds no depth: ``all`` counts it too."""
    import torch.nn as nn

    model = torchvision_model(name, meta=True)
    if model is None:
        return None
    layers = [
        n
        for n, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and getattr(m, "weight", None) is not None
    ]
    depth = [n for n in layers if SHORTCUT not in n.split(".")]
    return {"depth": len(depth), "all": len(layers), "shortcuts": len(layers) - len(depth)}


def _branch(block, x):
    """The block's residual function F: conv_i, bn_i, with a ReLU between consecutive pairs (He et al. 2016)."""
    h, i = x, 1
    while hasattr(block, f"conv{i}"):
        h = getattr(block, f"bn{i}")(getattr(block, f"conv{i}")(h))
        i += 1
        if hasattr(block, f"conv{i}"):
            h = block.relu(h)
    return h


def residual_functions(name: str) -> dict | None:
    """The residual function of torchvision's ResNet ``name``: the convolutions and batch norms of each
    block's branch (the shortcut aside) and, on its first block with an identity shortcut, whether the
    block computes ReLU(F(x) + x), i.e. whether the last ReLU comes after the addition, outside F."""
    import torch
    import torch.nn as nn

    model = torchvision_model(name)
    if model is None:
        return None
    blocks = [m for m in model.modules() if hasattr(m, "conv1") and hasattr(m, SHORTCUT)]
    if not blocks:
        return {"blocks": 0, "convs": [], "batch_norms": [], "relu_after_addition": None}

    def own(block, kind):
        return sum(isinstance(m, kind) for n, m in block.named_modules() if SHORTCUT not in n.split("."))

    identity = next(b for b in blocks if getattr(b, SHORTCUT) is None)
    x = torch.rand(2, identity.conv1.in_channels, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        f = _branch(identity, x)
        out = identity(x)
    return {
        "blocks": len(blocks),
        "convs": sorted({own(b, nn.Conv2d) for b in blocks}),
        "batch_norms": sorted({own(b, nn.BatchNorm2d) for b in blocks}),
        "relu_after_addition": bool(torch.allclose(out, torch.relu(f + x), atol=1e-5)),
        "max_abs_F": float(f.abs().max()),
    }
