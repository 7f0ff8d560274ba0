"""Model catalog and builders: exact parameter counts, MACs, shapes, and clear errors."""

import subprocess
import sys

import pytest
import torch

from resrepro import ResreproError, catalog, config, models

# Exact parameter counts for 10 classes: He et al. (2016), Table 6 (0.27 M ... 19.4 M), Zagoruyko & Komodakis
# (2016), Table 1 (36.5 M), kuangliu/pytorch-cifar (ResNet-18/34/50, VGG-16), counted to the parameter.
PARAMS = {
    "resnet18": 11_173_962,
    "resnet34": 21_282_122,
    "resnet50": 23_520_842,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
    "vgg16": 14_728_266,
    "wrn28_10": 36_479_194,
}
# plain twins: the same layers as their residual twin, no shortcuts, so the same count
PARAMS.update({catalog.get(r).twin: PARAMS[r] for r in list(PARAMS) if catalog.get(r).family == "cifar-resnet"})
# Forward multiply-accumulates per 32x32 image, in G, as published with the counts above.
MACS = {
    "resnet18": 0.556,
    "resnet34": 1.159,
    "resnet50": 1.298,
    "resnet20": 0.041,
    "resnet56": 0.125,
    "resnet110": 0.253,
    "resnet1202": 2.83,
    "wrn28_10": 5.24,
}


@pytest.mark.parametrize("name,count", sorted(PARAMS.items()))
def test_exact_parameter_count(name, count):
    assert models.count_parameters(models.create(name)) == count


@pytest.mark.parametrize("name,gmacs", sorted(MACS.items()))
def test_flops_match_published_macs(name, gmacs):
    flops = models.count_flops(models.create(name))
    assert flops / 2 / 1e9 == pytest.approx(gmacs, abs=0.0015, rel=1e-3)  # published to 3 significant digits


@pytest.mark.parametrize("name", catalog.available())
def test_catalog_macs_are_the_counted_ones(name):
    """Every catalog entry's MACs equal torch.utils.flop_counter's count of the built model."""
    assert models.count_flops(models.create(name)) == 2 * catalog.get(name).macs


def test_registry_lists_every_model_in_natural_order_and_schema_agrees():
    assert set(models.available()) == set(PARAMS)
    assert models.available() == sorted(PARAMS, key=lambda n: catalog.natural_key(n))
    assert models.available().index("plain20") < models.available().index("plain110")
    assert config.schema()["$defs"]["model"]["enum"] == models.available()
    overrides = config.schema()["properties"]["overrides"]["propertyNames"]
    assert overrides == {"$ref": "#/$defs/model"}


def test_a_second_registration_of_a_name_is_refused():
    with pytest.raises(ResreproError, match="registered twice"):
        catalog.register(catalog.get("resnet20"))


def test_the_catalog_imports_without_torch():
    code = "import sys, resrepro.catalog; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_twins_are_declared_both_ways_with_the_same_layers():
    for spec in catalog.specs():
        if spec.twin:
            twin = catalog.get(spec.twin)
            assert twin.twin == spec.name and twin.residual != spec.residual
            assert (twin.depth, twin.widths, twin.macs) == (spec.depth, spec.widths, spec.macs)
    assert catalog.twins(["resnet56", "plain56", "plain20", "resnet110"]) == [("plain56", "resnet56")]


def test_display_names_come_from_the_catalog():
    assert [catalog.display(m) for m in ("resnet110", "plain56", "vgg16", "wrn28_10")] == [
        "ResNet-110",
        "plain-56",
        "VGG-16",
        "WRN-28-10",
    ]


def test_unknown_model_names_the_alternatives():
    with pytest.raises(ResreproError, match="available models: .*resnet18"):
        models.create("resnet19")


@pytest.mark.parametrize("name", ["resnet20", "resnet18", "vgg16"])
def test_forward_shape_and_classes(name):
    m = models.create(name, num_classes=7).eval()
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 7)


def test_option_a_shortcut_is_parameter_free_and_zero_pads():
    sc = models.ShortcutA(16, 32, 2)
    x = torch.randn(1, 16, 8, 8)
    y = sc(x)
    assert y.shape == (1, 32, 4, 4) and not list(sc.parameters())
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2]) and y[:, :8].abs().sum() == 0


@pytest.mark.parametrize("name", ["resnet20", "plain56", "resnet110"])
def test_catalog_depth_counts_weighted_layers(name):
    m = models.create(name)
    layers = [mod for mod in m.modules() if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == catalog.get(name).depth


def test_wide_resnet_has_projection_shortcuts_only_where_the_shape_changes():
    m = models.create("wrn28_10")
    projections = [b.shortcut for b in m.body if b.shortcut is not None]
    assert len(m.body) == 12 and len(projections) == 3
    assert all(p.kernel_size == (1, 1) and p.bias is None for p in projections)
    assert m(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_cifar_stem_has_no_maxpool():
    m = models.create("resnet18")
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1)
    assert isinstance(m.maxpool, torch.nn.Identity)


def test_model_info_record():
    info = models.model_info("resnet20")
    assert info["params"] == PARAMS["resnet20"] and info["macs_per_image"] == catalog.get("resnet20").macs


@pytest.mark.parametrize("name", ["resnet56", "plain56"])
def test_he_networks_start_near_chance_loss(name):
    """Reference init (fb.resnet.torch / torchvision): He-normal convs, default classifier with zero bias.

    The initial loss on random images stays near ln(10) = 2.30; a He-normal classifier made ResNet-56 start at ~5.5.
    """
    torch.manual_seed(0)
    m = models.create(name).train()
    fan_in = m.fc.in_features
    assert m.fc.weight.abs().max() <= fan_in**-0.5 and not m.fc.bias.any()
    conv = m.layer2[0].conv1.weight
    assert conv.std().item() == pytest.approx((2 / (conv.shape[0] * 9)) ** 0.5, rel=0.05)  # He-normal, fan_out
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(m(torch.randn(64, 3, 32, 32)), torch.randint(0, 10, (64,)))
    assert loss.item() < 3.3


def test_catalog_command_lists_every_model_without_torch():
    code = (
        "import sys; from resrepro import cli; cli.main(['catalog']); "
        "assert 'torch' not in sys.modules, 'the catalog command imported torch'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    names = [line.split()[0] for line in out.stdout.splitlines()[1:]]
    assert names == catalog.available()


def _stage_widths(model: torch.nn.Module, family: str) -> tuple[int, ...]:
    """The channels of each stage of a built model, read off its layers."""
    if family in ("resnet", "cifar-resnet", "plain"):
        stages = [getattr(model, f"layer{i}") for i in range(1, 5) if hasattr(model, f"layer{i}")]
        return tuple(stage[0].conv1.out_channels for stage in stages)
    if family == "wide-resnet":
        n = len(model.body) // 3
        return tuple(model.body[i * n].conv1.out_channels for i in range(3))
    widths, last = [], None  # vgg: the last convolution before each max-pool
    for layer in model.features:
        last = layer.out_channels if isinstance(layer, torch.nn.Conv2d) else last
        if isinstance(layer, torch.nn.MaxPool2d):
            widths.append(last)
    return tuple(widths)


@pytest.mark.parametrize("name", catalog.available())
def test_catalog_widths_and_block_are_what_the_builder_builds(name):
    spec = catalog.get(name)
    model = models.create(name)
    assert _stage_widths(model, spec.family) == spec.widths
    blocks = {type(m).__name__ for m in model.modules()}
    expected = {"basic": "BasicBlock", "bottleneck": "Bottleneck", "plain": "PlainBlock", "preact-basic": "PreActBlock"}
    if spec.block == "vgg":
        assert "MaxPool2d" in blocks and not spec.residual and not any(b.endswith("Block") for b in blocks)
    else:
        assert expected[spec.block] in blocks


def test_an_architecture_added_through_the_catalog_alone_is_usable_everywhere():
    """The extension point, used: one register() call (here He et al.'s 6n+2 net with n = 4, in a fresh process)
    and the schema accepts the name, the builder builds it, and display name and twins follow."""
    code = """
from resrepro import catalog, config, models
spec = catalog.get("resnet20")
for residual, name, twin in ((True, "resnet26", "plain26"), (False, "plain26", "resnet26")):
    catalog.register(catalog.ModelSpec(
        name=name, display=name.replace("resnet", "ResNet-").replace("plain", "plain-"),
        family="cifar-resnet" if residual else "plain", depth=26, widths=spec.widths,
        block="basic" if residual else "plain", residual=residual, twin=twin, macs=0, builder="cifar_resnet"))
cfg = config.validate({"run": "x", "models": ["resnet26", "plain26"], "seeds": [0], "data": {}, "train": {}})
m = models.create("resnet26")
layers = sum(isinstance(x, (models.nn.Conv2d, models.nn.Linear)) for x in m.modules())
print(cfg["models"], layers, models.count_parameters(m), catalog.display("plain26"), catalog.twins(cfg["models"]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("[")[1].startswith("'resnet26', 'plain26']")
    assert " 26 " in out.stdout and "plain-26" in out.stdout and "('plain26', 'resnet26')" in out.stdout
