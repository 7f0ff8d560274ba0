"""The rule on what trained residual blocks learn: "the identity skip connections make it easier for the network
to learn the identity function when needed". A block y = F(x) + x is the identity when F(x) = 0, so its
residual response ||F(x)|| / ||x|| (recorded per identity-shortcut block by resrepro.gradflow at
train.gradflow_epochs, on the fixed probe images; summarised per seed as the median over blocks by
resrepro.degradation) says how close it is (He et al. 2016, Fig. 7). At initialisation the response already
falls with depth (the branch is batch-normalised while the signal's norm grows along the net), so depths are
not compared: the rule asks whether training moved each residual network's blocks nearer the identity, its
response after training over its response at initialisation, seed by seed."""

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
    """Reproduced iff, for every residual network of the study, the median block response after the last recorded
    epoch is below its response at initialisation in every seed (two or more); not reproduced iff above in every
    one; inconclusive otherwise. Not testable without a study, without responses at epoch 0 and after training,
    or if a net never started converging."""
    rule = "identity_when_needed"
    paper = check(rule, "paper", NO_PAPER_DATA, "the paper measures no block responses")
    g = x.gradients
    if not g:
        return [paper, check(rule, "scope", NOT_TESTABLE, UNMEASURED["gradient_norms"])]
    if not x.comparable:
        return [
            paper,
            check(rule, "measurement", NOT_TESTABLE, f"{x.not_comparable_reason()}; the study is shown only"),
        ]
    nets = [catalog.pair(d)[1] for d in g["depths"] if catalog.pair(d)[1] in g["kinds"]]
    resp = {m: g["kinds"][m].get(RESIDUAL_RESPONSE) or {} for m in nets}
    trained = {m: max((e for e in r if int(e) > 0), key=int, default=None) for m, r in resp.items()}
    if not nets or any("0" not in resp[m] or trained[m] is None for m in nets):
        why = (
            "the degradation study records no block responses at initialisation and after training "
            "(train.gradflow_epochs must hold 0 and a later epoch; trainings from before resrepro recorded them "
            "must be rerun)"
        )
        return [paper, check(rule, "measurement", NOT_TESTABLE, why)]
    stuck = [m for m in nets if any(e >= STARTED_BELOW for e in g["kinds"][m]["final_train_error"]["values"])]
    if stuck:
        why = f"{', '.join(map(_display, stuck))} never started converging in some seed: its blocks learned nothing"
        return [paper, check(rule, "measurement", NOT_TESTABLE, why, depends_on=("recipe",))]
    change = {m: [t / i for t, i in zip(resp[m][trained[m]]["values"], resp[m]["0"]["values"])] for m in nets}
    flat = [c for v in change.values() for c in v]
    seeds = min(len(v) for v in change.values())
    if seeds < 2:
        outcome = INCONCLUSIVE
    else:
        outcome = (
            REPRODUCED if all(c < 1 for c in flat) else NOT_REPRODUCED if all(c >= 1 for c in flat) else INCONCLUSIVE
        )
    text = "; ".join(
        f"{_display(m)} after epoch {trained[m]}: " + ", ".join(f"{c:.2f}" for c in change[m]) for m in nets
    )
    said = {
        REPRODUCED: "smaller after training in every net and seed: the blocks moved towards the identity",
        NOT_REPRODUCED: "not smaller after training in any net or seed",
        INCONCLUSIVE: "smaller in some nets or seeds only" if seeds >= 2 else "one seed: every seed says nothing",
    }[outcome]
    return [
        paper,
        check(
            rule,
            "measurement",
            outcome,
            f"median block response ||F(x)|| / ||x|| after training over at initialisation, per seed: {text}; "
            f"{said} (He et al. 2016, Fig. 7)",
            change=change,
        ),
    ]
