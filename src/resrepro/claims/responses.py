"""The rule on what trained residual blocks learn: "the identity skip connections make it easier for the network
to learn the identity function when needed". A block y = F(x) + x is the identity when F(x) = 0, so its
residual response ||F(x)|| / ||x|| (recorded per block by resrepro.gradflow at train.gradflow_epochs, on the fixed
probe images; summarised per seed as the median over blocks by resrepro.degradation) says how close it is. He
et al. (2016, Fig. 7) find the responses of deeper ResNets smaller: with more layers, single blocks modify the
signal less. The rule compares the deepest and the shallowest residual networks of the degradation study at the
last recorded epoch of training."""

from __future__ import annotations

from typing import Mapping

from .. import catalog
from ..stats import STARTED_BELOW
from .common import (
    INCONCLUSIVE,
    NO_PAPER_DATA,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    REPRODUCED,
    UNMEASURED,
    _display,
    check,
    form_rule,
)
from .evidence import Inputs

RESIDUAL_RESPONSE = "median_block_residual_ratio"  # = resrepro.degradation.RESIDUAL_RESPONSE (a test checks it)


@form_rule("identity_when_needed")
def rules_identity_when_needed(form: Mapping, x: Inputs) -> list[dict]:
    """Reproduced iff the deepest ResNet's median block response is below the shallowest's in every seed (its
    blocks stay nearer the identity); not reproduced iff above in every seed; inconclusive if the seeds differ.
    Not testable without a study, without responses after training, or if a net never started converging."""
    rule = "identity_when_needed"
    paper = check(rule, "paper", NO_PAPER_DATA, "the paper measures no block responses")
    g = x.gradients
    if not g:
        return [paper, check(rule, "scope", NOT_TESTABLE, UNMEASURED["gradient_norms"])]
    depths = g["depths"]
    shallow, deep = (catalog.pair(d)[1] for d in (depths[0], depths[-1]))
    resp = {m: (g["kinds"].get(m) or {}).get(RESIDUAL_RESPONSE) or {} for m in (shallow, deep)}
    trained = sorted((e for e in set(resp[shallow]) & set(resp[deep]) if int(e) > 0), key=int)
    if len(depths) < 2 or not trained:
        why = (
            "the degradation study needs residual networks of two depths with block responses recorded after "
            "training (train.gradflow_epochs beyond 0; trainings from before resrepro recorded them must be rerun)"
        )
        return [paper, check(rule, "measurement", NOT_TESTABLE, why)]
    errors = {m: g["kinds"][m]["final_train_error"]["values"] for m in (shallow, deep)}
    stuck = [m for m, v in errors.items() if any(e >= STARTED_BELOW for e in v)]
    if stuck:
        why = f"{', '.join(map(_display, stuck))} never started converging in some seed: its blocks learned nothing"
        return [paper, check(rule, "measurement", NOT_TESTABLE, why, depends_on=("recipe",))]
    last = trained[-1]
    a, b = resp[deep][last]["values"], resp[shallow][last]["values"]
    below = [d < s for d, s in zip(a, b)]
    outcome = REPRODUCED if all(below) else NOT_REPRODUCED if not any(below) else INCONCLUSIVE
    pairs = ", ".join(f"{d:.3f} vs {s:.3f}" for d, s in zip(a, b))
    said = {
        REPRODUCED: "smaller in every seed: the deeper net's blocks stay nearer the identity",
        NOT_REPRODUCED: "larger in every seed",
        INCONCLUSIVE: "smaller in some seeds only",
    }[outcome]
    return [
        paper,
        check(
            rule,
            "measurement",
            outcome,
            f"median block response ||F(x)|| / ||x|| after epoch {last}, {_display(deep)} against {_display(shallow)}, "
            f"per seed: {pairs}; {said} (He et al. 2016, Fig. 7)",
            epoch=int(last),
            deep=a,
            shallow=b,
        ),
    ]
