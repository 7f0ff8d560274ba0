"""Rules on the paper's theory section, checked numerically: its residual notation, the gradient of a
block, the guarantee it draws from it, its formula for stacked blocks, what a block outputs when F is
close to a mapping, and its description of the residual function against the ResNets it names.
References: He et al. (2016), "Deep Residual Learning for Image Recognition", Eq. (1) (y = F(x) + x),
Sec. 3.2 and Table 1 (the blocks); He et al. (2016b), "Identity Mappings in Deep Residual Networks",
Eq. (4)-(5) (stacked blocks and their gradient)."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .. import ResreproError
from ..fmt import count, printed
from .architecture import residual_functions
from .common import (
    INCONCLUSIVE,
    INCONSISTENT,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    _display,
    _names,
    check,
    form_rule,
)
from .evidence import Inputs


def _linear(expr: Mapping[str, float], residual: Mapping[str, float]) -> dict[str, float]:
    """Expand a linear form over {F, R, x} into {F, x}, with R = residual."""
    out = {"F": 0.0, "x": 0.0}
    for sym, c in expr.items():
        if sym == "R":
            for s2, c2 in residual.items():
                out[s2] += c * c2
        elif sym in out:
            out[sym] += c
        else:
            raise ResreproError(f"unknown symbol {sym!r} in a residual_notation form; use F, R and x")
    return out


def _show(d: Mapping[str, float]) -> str:
    """A linear form as text: ``F - 1x`` is shown as ``F - x``."""
    terms = (f"{'+' if c > 0 else '-'} {abs(c):g}{s}" for s, c in d.items() if c)
    return " ".join(t.replace(" 1F", " F").replace(" 1x", " x") for t in terms).lstrip("+ ")


@form_rule("residual_notation")
def rules_residual_notation(form: Mapping, x: Inputs) -> list[dict]:
    """With R = residual, a block that learns R outputs R(x) + x; it must equal the desired mapping."""
    residual = _linear(form["residual"], {})
    desired = _linear(form["desired"], residual)
    block = _linear(form["block_output"], residual)
    learned_plus_x = {k: residual[k] + (1.0 if k == "x" else 0.0) for k in residual}
    ev = {"desired": desired, "residual": residual, "block_output": block}
    if block == desired and learned_plus_x == desired:
        return [
            check(
                "residual_notation", "mathematics", "reproduced", "the block outputs the desired mapping R(x) + x", **ev
            )
        ]
    return [
        check(
            "residual_notation",
            "mathematics",
            INCONSISTENT,
            f"with F the desired mapping and R(x) = {_show(residual)}, a block that learns R must output "
            f"R(x) + x = {_show(learned_plus_x)}; the paper's y = {_show(block)} adds the input twice (it is "
            "He et al.'s y = F(x) + x only if F names the residual, which contradicts R = F - x)",
            **ev,
        )
    ]


@form_rule("gradient_identity")
def rules_gradient_identity(form: Mapping, x: Inputs) -> list[dict]:
    """dy/dx of y = a F(x) + b x against the claimed c dF/dx + d, by central differences on a smooth F."""
    a, b = form["block"].get("F", 0.0), form["block"].get("x", 0.0)
    c, d = form["derivative"].get("dF", 0.0), form["derivative"].get("one", 0.0)
    rng = np.random.default_rng(0)
    w1, w2, bias = rng.normal(size=3)

    def F(t):
        return w2 * np.tanh(w1 * t + bias)

    def dF(t):
        return w2 * w1 / np.cosh(w1 * t + bias) ** 2

    pts, h = rng.normal(size=50) * 2, 1e-5
    numeric = (a * F(pts + h) + b * (pts + h) - a * F(pts - h) - b * (pts - h)) / (2 * h)
    claimed = c * dF(pts) + d
    err = float(np.max(np.abs(numeric - claimed)))
    ev = {"max_abs_error": err, "points": len(pts)}
    if err < 1e-6:
        return [
            check(
                "gradient_identity",
                "mathematics",
                "reproduced",
                f"the derivative agrees with central finite differences at {len(pts)} points (max error {err:.1e})",
                **ev,
            )
        ]
    return [
        check(
            "gradient_identity",
            "mathematics",
            "not reproduced",
            f"the stated derivative differs from finite differences by up to {err:.3g}",
            **ev,
        )
    ]


# Residual functions a reading of the paper admits, as scalar maps of (input, weights) with their derivative in x.
# "relu_linear": the paper's Sec. 2 block, "a convolutional layer followed by a ReLU": F(x) = ReLU(w x).
# "he_basic": He et al.'s basic block before the addition, BN folded into the weights: F(x) = v ReLU(w x).
# "relu_linear_nonnegative": ReLU(w x) with w >= 0 (a family where the guarantee does hold; for the tests).
_GRID = np.linspace(-2, 2, 401)
BLOCK_FAMILIES = {
    "relu_linear": lambda w, v, x: w * (w * x > 0),
    "he_basic": lambda w, v, x: v * w * (w * x > 0),
    "relu_linear_nonnegative": lambda w, v, x: np.abs(w) * (np.abs(w) * x > 0),
}


def _vanishing(family: str) -> dict:
    """The block weights and input in ``family`` that bring dy/dx = 1 + dF/dx closest to zero."""
    if family not in BLOCK_FAMILIES:
        raise ResreproError(f"unknown block family {family!r}; known: {', '.join(BLOCK_FAMILIES)}")
    W, V, X = np.meshgrid(_GRID, _GRID, np.array([-1.0, 1.0]), indexing="ij")
    factor = np.abs(1 + BLOCK_FAMILIES[family](W, V, X))
    i = np.unravel_index(np.argmin(factor), factor.shape)
    return {"family": family, "min_abs_factor": float(factor[i]), "w": float(W[i]), "v": float(V[i]), "x": float(X[i])}


@form_rule("gradient_guarantee")
def rules_gradient_guarantee(form: Mapping, x: Inputs) -> list[dict]:
    """Search every block family a reading admits (``blocks``) for weights whose block gradient vanishes:
    a guarantee ("ensuring that it does not vanish") fails if one exists; it fails under every reading if one
    exists in every family."""
    found = [_vanishing(f) for f in form["blocks"]]
    zero = [f for f in found if f["min_abs_factor"] < 1e-9]
    ev = {"families": found}
    depth = 50
    if zero and len(zero) == len(found):
        eg = "; ".join(f"{f['family']}: w = {f['w']:g}, v = {f['v']:g}, x = {f['x']:g}" for f in zero)
        return [
            check(
                "gradient_guarantee",
                "mathematics",
                INCONSISTENT,
                f"in every block family a reading admits ({', '.join(form['blocks'])}) some weights give "
                f"dy/dx = 1 + dF/dx = 0 ({eg}): the identity term prevents vanishing only while dF/dx stays away "
                f"from -1 (through {depth} blocks with dF/dx = -0.5 the gradient shrinks by 0.5^{depth} = "
                f"{0.5**depth:.1e}); it is not ensured",
                **ev,
            )
        ]
    if zero:
        return [
            check(
                "gradient_guarantee",
                "mathematics",
                INCONCLUSIVE,
                f"the guarantee fails for {', '.join(f['family'] for f in zero)} but holds for the others: it depends "
                "on which residual function is meant",
                **ev,
            )
        ]
    least = min(f["min_abs_factor"] for f in found)
    return [check("gradient_guarantee", "mathematics", REPRODUCED, f"|dy/dx| >= {least:g} in every block family", **ev)]


@form_rule("stacked_blocks")
def rules_stacked_blocks(form: Mapping, x: Inputs) -> list[dict]:
    """The formula for N blocks against N stacked blocks x_k = x_{k-1} + F_k(x_{k-1}) (scalar linear F_k)."""
    rng = np.random.default_rng(0)
    mismatch = []
    for n in range(1, 5):
        a = rng.uniform(-0.9, 0.9, n)
        stacked = float(np.prod(1 + a))
        if form["skip"] == "outer":
            formula = float(np.prod(a)) + 1.0
        elif form["skip"] == "per_block":
            formula = float(np.prod(1 + a))
        else:
            raise ResreproError(f"unknown skip layout {form['skip']!r}; use outer or per_block")
        if abs(stacked - formula) > 1e-12:
            mismatch.append({"n": n, "stacked": stacked, "formula": formula})
    if mismatch:
        m = mismatch[0]
        return [
            check(
                "stacked_blocks",
                "mathematics",
                INCONSISTENT,
                "stacking the paper's block y = F(x) + x N times gives x_N = x_(N-1) + F_N(x_(N-1)), not one "
                f"skip around the composition: for N = {m['n']} linear blocks F_k(x) = a_k x that is "
                f"prod(1 + a_k) x = {m['stacked']:.4f} x, the formula gives (prod a_k + 1) x = "
                f"{m['formula']:.4f} x",
                mismatch=mismatch,
            )
        ]
    return [
        check(
            "stacked_blocks", "mathematics", "reproduced", "the formula equals N stacked residual blocks for N = 1..4"
        )
    ]


def _linear_text(d: Mapping[str, float]) -> str:
    return _show(d) or "0"


@form_rule("near_identity")
def rules_near_identity(form: Mapping, x: Inputs) -> list[dict]:
    """What a block outputs when F is close to a given mapping: y = a F(x) + b x with F(x) = c x + eps g(x)
    (g smooth, eps -> 0) tends to (a c + b) x; the claim holds iff that is the claimed output d x."""
    out, near, claimed = (_linear(form[k], {}) for k in ("output", "near", "claimed"))
    if near["F"] or claimed["F"]:
        raise ResreproError("near_identity: 'near' and 'claimed' are multiples of x; F is what is near 'near'")
    rng = np.random.default_rng(0)
    w, bias = rng.normal(size=2)
    pts = rng.normal(size=50) * 2
    devs = {}
    for eps in (1e-2, 1e-4, 1e-6):
        f = near["x"] * pts + eps * np.tanh(w * pts + bias)
        y = out["F"] * f + out["x"] * pts
        devs[eps] = float(np.max(np.abs(y - claimed["x"] * pts)) / np.max(np.abs(pts)))
    limit = {"F": 0.0, "x": out["F"] * near["x"] + out["x"]}
    ev = {"relative_deviation": devs, "limit": limit}
    y, f_near, target = _linear_text(out), _linear_text(near), _linear_text(claimed)
    if devs[1e-6] < 1e-5:
        return [
            check(
                "near_identity",
                "mathematics",
                "reproduced",
                f"with {form.get('name', 'y')} = {y}, F(x) = {f_near} + eps g(x) gives {target} + O(eps) "
                f"(relative deviation {devs[1e-6]:.1e} at eps = 1e-6)",
                **ev,
            )
        ]
    fix = ""
    if out["F"]:
        fix = f"; it is F(x) close to {_linear_text({'x': (claimed['x'] - out['x']) / out['F']})} that gives {target}"
    return [
        check(
            "near_identity",
            "mathematics",
            "inconsistent as stated",
            f"with {form.get('name', 'y')} = {y} (the block as the paper writes it), F(x) = {f_near} + eps g(x) gives "
            f"{_linear_text(limit)} + O(eps), not {target}, whatever F stands for (the deviation stays "
            f"{devs[1e-6]:.3g} x |x| as eps -> 0)"
            f"{fix} (He et al. 2016: the residual pushed to zero makes the block the identity)",
            **ev,
        )
    ]


@form_rule("residual_function")
def rules_residual_function(form: Mapping, x: Inputs) -> list[dict]:
    """The paper's description of a block's residual function F (``convs`` convolutions, ``relu_inside``:
    F ends in a ReLU) against the ResNets it names, counted from torchvision's implementations. These
    networks are fixed by their names (He et al. 2016, Table 1), and the paper's Table 3 prints their exact
    parameter counts. A description none of them fits is not reproduced (a description against the networks,
    not an impossibility of arithmetic or mathematics: "typically" leaves room for other networks)."""
    models = list(form["models"])
    found = {m: residual_functions(m) for m in models}
    absent = [m for m, r in found.items() if not r or not r["blocks"]]
    if absent:
        return [check("residual_function", "model", NOT_TESTABLE, f"no torchvision ResNet for {_names(absent)}")]
    fits = [
        m
        for m, r in found.items()
        if r["convs"] == [int(form["convs"])] and r["relu_after_addition"] != bool(form["relu_inside"])
    ]
    theirs = "; ".join(
        f"{_display(m)} {r['blocks']} blocks of {'/'.join(map(str, r['convs']))}" for m, r in found.items()
    )
    every_bn = all(r["batch_norms"] == r["convs"] for r in found.values())
    structure = (
        f"convolutions per residual function: {theirs}"
        + (", every one followed by batch normalisation" if every_bn else "")
        + ", with a ReLU between consecutive ones"
        + (
            "; each block computes ReLU(F(x) + x) (checked numerically on an identity block), so the last ReLU "
            "follows the addition, outside F"
            if all(r["relu_after_addition"] for r in found.values())
            else ""
        )
    )
    ev = {"claimed_convs": form["convs"], "found": found}
    if len(fits) == len(models):
        return [check("residual_function", "model", REPRODUCED, f"as described: {structure}", **ev)]
    if fits:
        return [check("residual_function", "model", NOT_REPRODUCED, f"fits {_names(fits)} only: {structure}", **ev)]
    return [
        check(
            "residual_function",
            "model",
            NOT_REPRODUCED,
            f"none of the networks the paper names has a residual function of {count(form['convs'], 'convolution')}"
            + (" followed by a ReLU" if form["relu_inside"] else "")
            + f": {structure}{_printed_counts(models, x)}. These networks are fixed by their names (He et al. "
            "2016, Table 1); read loosely (F contains a convolution and a ReLU) the description fits them, read as "
            "written (one convolution, then a ReLU) it fits none; He et al. (Sec. 3.2) set a one-layer F aside: "
            "y = W1 x + x is then similar to a linear layer, and they observed no advantage",
            **ev,
        )
    ]


def _printed_counts(models: list[str], x: Inputs) -> str:
    """The paper's own parameter counts of ``models`` when they are those of torchvision's networks."""
    pairs = [(m, x.paper_value(m, "params_millions"), (x.counts.get(m) or {}).get("imagenet")) for m in models]
    same = [(m, p, c) for m, p, c in pairs if p and c and abs(c / 1e6 - p[0]) <= 0.5 * 10.0 ** -p[1]]
    if not same or len(same) != len(models):
        return ""
    return (
        "; the paper's own Table 3 prints their exact parameter counts ("
        + ", ".join(f"{_display(m)} {printed(p[0], p[1])} M = {c:,}" for m, p, c in same)
        + ")"
    )
