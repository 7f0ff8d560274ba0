"""Plain/residual twins, the paper's Jacobian identity on real blocks, and gradient-flow measurement."""

import pytest
import torch

from resrepro import gradflow, models


@pytest.mark.parametrize("depth", models.HE_DEPTHS)
def test_plain_twin_has_the_same_parameters(depth):
    plain, res = models.create(f"plain{depth}"), models.create(f"resnet{depth}")
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
