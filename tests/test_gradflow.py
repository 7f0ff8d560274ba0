"""Plain/residual twins, the paper's Jacobian identity on real blocks, and gradient-flow measurement."""

import pytest
import torch

from resrepro import catalog, gradflow, models

# every plain/residual pair of the catalog (He et al.'s depths 20-1202), from the catalog's own twins
TWINS = catalog.twins(catalog.available())


@pytest.mark.parametrize("plain_name,residual_name", TWINS)
def test_plain_twin_has_the_same_parameters(plain_name, residual_name):
    plain, res = models.create(plain_name), models.create(residual_name)
    assert models.count_parameters(plain) == models.count_parameters(res)
    ps, rs = plain.state_dict(), res.state_dict()
    assert ps.keys() == rs.keys() and all(ps[k].shape == rs[k].shape for k in ps)


def test_twins_differ_only_in_the_shortcuts():
    torch.manual_seed(0)
    res = models.create("resnet20").eval()
    plain = models.create("plain20").eval()
    plain.load_state_dict(res.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(res(x), plain(x)), "the shortcuts must change the function"
    for rb, pb in zip(res.blocks(), plain.blocks()):
        h = torch.randn(2, rb.conv1.in_channels, 8, 8)
        assert torch.allclose(pb(h), torch.relu(models.residual_branch(rb, h)))
        assert torch.allclose(rb(h), torch.relu(models.residual_branch(rb, h) + models.shortcut(rb, h)))
    assert all(b.downsample is None for b in plain.blocks())


def test_jacobian_of_identity_block_is_branch_plus_identity():
    torch.manual_seed(0)
    net = models.create("resnet20")
    block = net.layer2[1]  # 32 channels, identity shortcut
    for m in block.modules():  # non-trivial BN statistics, so eval mode is not the identity map
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    r = gradflow.jacobian_check(block, torch.randn(32, 4, 4))
    assert r["identity_shortcut"] and r["dims"] == [512, 512]
    assert r["max_abs_dev_pre"] < 1e-10 and r["max_abs_dev_identity"] == 0.0
    assert r["max_abs_dev_out"] < 1e-10
    # the identity check can fail: a shortcut that scales by 2 has Jacobian 2I, not I
    block.downsample = Doubling()
    r = gradflow.jacobian_check(block, torch.randn(32, 4, 4))
    assert r["max_abs_dev_pre"] < 1e-10 and r["max_abs_dev_identity"] == pytest.approx(1.0)


class Doubling(torch.nn.Module):
    def forward(self, x):
        return 2 * x


def test_jacobian_of_downsampling_block_uses_the_shortcut_jacobian():
    torch.manual_seed(1)
    block = models.create("resnet20").layer2[0]  # stride 2, option-A shortcut
    r = gradflow.jacobian_check(block, torch.randn(16, 4, 4))
    assert not r["identity_shortcut"] and r["dims"] == [256, 128]
    assert r["max_abs_dev_pre"] < 1e-10 and r["max_abs_dev_out"] < 1e-10


def test_block_gradient_norms_cover_every_block():
    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8) % 10
    for name in ("plain20", "resnet20"):
        g = gradflow.block_gradient_norms(models.create(name), x, y)
        assert len(g["activation_grad_norm"]) == 9 and len(g["weight_grad_norm"]) == 9
        assert all(v > 0 for v in g["activation_grad_norm"]) and g["loss"] > 0


def test_training_records_gradient_flow_without_side_effects(tmp_path):
    import json

    import numpy as np

    from resrepro import ResreproError, config, train

    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8), np.arange(64) % 10)
    val = (rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), np.arange(20) % 10)
    base = config.validate(
        {
            "run": "g",
            "models": ["plain20"],
            "seeds": [0],
            "data": {},
            "train": {"epochs": 2, "batch_size": 32, "threads": 1, "device": "cpu"},
        }
    )["train"]
    probed = dict(base, gradflow_epochs=[0, 2], gradflow_images=16)
    a = train.train("plain20", probed, data, val, 0, tmp_path / "a", tmp_path / "a.pt", progress=False)
    b = train.train("plain20", base, data, val, 0, tmp_path / "b", tmp_path / "b.pt", progress=False)
    g = json.loads((tmp_path / "a" / "gradflow.json").read_text())
    assert [m["epoch"] for m in g["measurements"]] == [0, 2] and g["images"] == 16
    assert len(g["measurements"][0]["activation_grad_norm"]) == 9
    assert json.loads((tmp_path / "b" / "gradflow.json").read_text())["measurements"] == []
    assert a["selected_val_acc"] == b["selected_val_acc"]
    wa, wb = (torch.load(tmp_path / d / "weights.pt", weights_only=True) for d in "ab")
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "measuring gradients must not change training"
    with pytest.raises(ResreproError, match="no residual blocks"):
        train.train("vgg16", probed, data, val, 0, tmp_path / "c", tmp_path / "c.pt", progress=False)
