"""Model registry: exact parameter counts (facts.md), FLOPs, shapes, and clear errors."""

import pytest
import torch
import yaml

from resrepro import ResreproError, config, models

# Exact parameter counts for 10 classes (../shared/reference/facts.md).
PARAMS = {
    "resnet18": 11_173_962,
    "resnet34": 21_282_122,
    "resnet50": 23_520_842,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "vgg16": 14_728_266,
}
PARAMS.update({f"plain{d}": PARAMS[f"resnet{d}"] for d in (20, 32, 44, 56, 110)})  # same layers, no shortcuts
# Forward multiply-accumulates per 32x32 image, in G (facts.md).
MACS = {"resnet18": 0.556, "resnet34": 1.159, "resnet50": 1.298, "resnet20": 0.041, "resnet56": 0.125, "resnet110": 0.253}


@pytest.mark.parametrize("name,count", sorted(PARAMS.items()))
def test_exact_parameter_count(name, count):
    assert models.count_parameters(models.create(name)) == count


@pytest.mark.parametrize("name,gmacs", sorted(MACS.items()))
def test_flops_match_published_macs(name, gmacs):
    flops = models.count_flops(models.create(name))
    assert flops / 2 / 1e9 == pytest.approx(gmacs, abs=0.0015)


def test_registry_lists_every_model_and_schema_agrees():
    assert models.available() == sorted(PARAMS)
    enum = config.schema()["properties"]["models"]["items"]["enum"]
    assert sorted(enum) == models.available()


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


def test_cifar_resnet_depth_counts_weighted_layers():
    m = models.create("resnet56")
    layers = [mod for mod in m.modules() if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 56


def test_cifar_stem_has_no_maxpool():
    m = models.create("resnet18")
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1)
    assert isinstance(m.maxpool, torch.nn.Identity)


def test_model_info_record():
    info = models.model_info("resnet20")
    assert info["params"] == PARAMS["resnet20"] and info["macs_per_image"] * 2 == info["flops_per_image"]


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
