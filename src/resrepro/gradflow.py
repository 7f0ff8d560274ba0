"""Gradient flow: what reaches each block of a deep network, and the paper's Jacobian identity.

The paper argues (Sec. "Gradient Flow in Residual Networks") that for y = F(x) + x,
dy/dx = dF/dx + I, so the gradient cannot vanish through the identity term. Here that is
checked numerically on real blocks with autograd (:func:`jacobian_check`), and measured in whole
networks (:func:`block_gradient_norms`): the norm of dL/d(output of block i) for every block, on fixed
batches, for a plain network and its residual twin.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .models import residual_branch, shortcut


def block_gradient_norms(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Per block (input to output order): the gradient norm of the loss w.r.t. the block's output, and w.r.t.
    the block's first convolution weights, and the size of its residual function against its input,
    ||F(x)|| / ||x||; one batch, train-mode BN, no update."""
    outputs: list[torch.Tensor] = []
    inputs: list[float] = []  # ||x|| of each block's input
    branches: list[float] = []  # ||F(x)|| of each block's residual function (bn2's output, before the addition)

    def keep(_module, _inputs, out):
        out.retain_grad()
        outputs.append(out)

    hooks = [b.register_forward_hook(keep) for b in model.blocks()]
    hooks += [
        b.register_forward_pre_hook(lambda _m, a: inputs.append(float(a[0].detach().norm()))) for b in model.blocks()
    ]
    hooks += [
        b.bn2.register_forward_hook(lambda _m, _a, o: branches.append(float(o.detach().norm()))) for b in model.blocks()
    ]
    was_training = model.training
    try:
        model.train()
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    out = {
        "loss": float(loss.detach()),
        "activation_grad_norm": [float(o.grad.norm()) for o in outputs],
        "weight_grad_norm": [float(b.conv1.weight.grad.norm()) for b in model.blocks()],
        # ||W|| of the same weights: a convolution followed by batch normalisation is scale-invariant, so its
        # gradient shrinks as 1/||W|| while W grows in training; ||dL/dW|| ||W|| is the size that does not
        "weight_norm": [float(b.conv1.weight.detach().norm()) for b in model.blocks()],
        # ||F(x)|| / ||x|| per block (He et al. 2016, Fig. 7: a block near the identity has a small response)
        # (NaN for a block whose shortcut is not the identity: its F(x) and x differ in shape)
        "residual_ratio": [
            f / x if x > 0 and getattr(b, "downsample", None) is None else float("nan")
            for f, x, b in zip(branches, inputs, model.blocks())
        ],
    }
    model.zero_grad(set_to_none=True)
    return out


def jacobian_check(block: torch.nn.Module, x: torch.Tensor) -> dict:
    """Compare the Jacobian of a residual block with that of its residual branch plus the shortcut's.

    ``x`` is one input (C, H, W). In eval mode (per-sample BN) with autograd:
    * ``pre``: J[F(x) + S(x)] against J[F] + J[S] (J[S] = I for an identity shortcut);
    * ``out``: J[relu(F(x) + S(x))] against diag(relu') (J[F] + J[S]) -- the block as built.
    Returns the largest absolute deviations and the spectra's extremes.
    """
    from torch.autograd.functional import jacobian

    block = block.eval()
    x = x.detach().double()
    block = block.double()
    n = x.numel()

    def flat(f):
        return lambda v: f(v.view(1, *x.shape)).reshape(-1)

    j_branch = jacobian(flat(lambda v: residual_branch(block, v)), x.reshape(-1), vectorize=True)
    j_short = jacobian(flat(lambda v: shortcut(block, v)), x.reshape(-1), vectorize=True)
    j_pre = jacobian(flat(lambda v: residual_branch(block, v) + shortcut(block, v)), x.reshape(-1), vectorize=True)
    j_out = jacobian(flat(block), x.reshape(-1), vectorize=True)
    pre = (residual_branch(block, x[None]) + shortcut(block, x[None])).reshape(-1)
    relu_grad = (pre > 0).double()
    identity = j_short.shape[0] == j_short.shape[1]  # same input and output shape
    sv_branch = torch.linalg.svdvals(j_branch)
    sv_pre = torch.linalg.svdvals(j_pre)
    block.float()
    return {
        "identity_shortcut": identity,
        "dims": [n, j_pre.shape[0]],
        "max_abs_dev_pre": float((j_pre - (j_branch + j_short)).abs().max()),
        "max_abs_dev_identity": float((j_short - torch.eye(n, dtype=j_short.dtype)).abs().max()) if identity else None,
        "max_abs_dev_out": float((j_out - relu_grad[:, None] * (j_branch + j_short)).abs().max()),
        "branch_singular_values": [float(sv_branch.min()), float(sv_branch.max())],
        "block_singular_values": [float(sv_pre.min()), float(sv_pre.max())],
    }
