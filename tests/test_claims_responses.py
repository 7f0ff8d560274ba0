"""The residual-response claim: what trained blocks learn, from the degradation study's block responses."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from test_claims import CLAIMS, COUNTS, FULL_SPEC, MARGINS, PAPER, inputs
from test_claims_gradients import SEEDS, _runs

from resrepro import claims, degradation, gradflow, models
from resrepro.claims import responses
from resrepro.stats import summarise


def test_gradflow_records_each_blocks_residual_response_against_a_direct_computation():
    torch.manual_seed(0)
    model = models.create("resnet20")
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    twin = copy.deepcopy(model)
    seen = []
    block = twin.blocks()[1]
    block.register_forward_pre_hook(lambda _m, a: seen.append(a[0].detach()))
    recorded = gradflow.block_gradient_norms(model, x, y)["residual_ratio"]
    twin.train()
    twin(x)
    direct = float(models.residual_branch(copy.deepcopy(block), seen[0]).norm() / seen[0].norm())
    assert len(recorded) == 9 and recorded[1] == pytest.approx(direct, rel=1e-5)


def test_the_study_summarises_the_median_response_per_epoch_and_seed():
    first = {"plain20": 0.5, "resnet20": 0.6, "plain56": 0.4, "resnet56": 0.6}
    acc = {"plain20": 0.95, "resnet20": 0.96, "plain56": 0.80, "resnet56": 0.97}
    runs = _runs(first, acc)
    for m, per_seed in runs.items():
        for s, r in enumerate(per_seed):
            for g in r["gradflow"]:
                g["residual_ratio"] = [0.1 * (s + 1), 0.5, 9.0]  # median 0.5 whatever the outlier
    out = degradation.collect([20, 56], SEEDS, runs)
    assert out["kinds"]["resnet56"][degradation.RESIDUAL_RESPONSE]["4"]["values"] == [0.5] * len(SEEDS)
    assert degradation.RESIDUAL_RESPONSE == responses.RESIDUAL_RESPONSE


def _study(trained, initial=(0.5, 0.5, 0.5), epochs=("0", "182"), train_error=5.0):
    """Both ResNets of a study with responses at initialisation (``initial``) and after training (``trained``)."""

    def kind(values):
        resp = {e: summarise(list(initial) if e == "0" else list(values)) for e in epochs}
        return {responses.RESIDUAL_RESPONSE: resp, "final_train_error": summarise([train_error] * len(values))}

    return {"depths": [20, 110], "seeds": [0, 1, 2], "kinds": {"resnet20": kind(trained), "resnet110": kind(trained)}}


def _rule(study):
    x = inputs()
    x.gradients = study
    return claims.FORM_RULES["identity_when_needed"]({"type": "identity_when_needed"}, x)[1]


def test_training_moves_blocks_towards_the_identity_each_way():
    assert _rule(_study([0.2, 0.25, 0.22]))["outcome"] == "reproduced"
    assert _rule(_study([0.7, 0.75, 0.72]))["outcome"] == "not reproduced"
    assert _rule(_study([0.2, 0.75, 0.22]))["outcome"] == "inconclusive"
    # one seed: "every seed" says nothing
    one = _study([0.2], initial=(0.5,))
    assert _rule(one)["outcome"] == "inconclusive"


def test_no_study_no_trained_responses_or_a_stuck_net_decide_nothing():
    x = inputs()
    assert claims.FORM_RULES["identity_when_needed"]({}, x)[1]["outcome"] == "not testable"
    at_init = _rule(_study([0.2] * 3, epochs=("0",)))
    assert at_init["outcome"] == "not testable" and "after training" in at_init["reason"]
    stuck = _rule(_study([0.2] * 3, train_error=90.0))
    assert stuck["outcome"] == "not testable" and "never started converging" in stuck["reason"]


def test_downsampling_blocks_record_no_response():
    torch.manual_seed(0)
    model = models.create("resnet20")
    r = gradflow.block_gradient_norms(model, torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))["residual_ratio"]
    shortcuts = [b.downsample is not None for b in model.blocks()]
    assert any(shortcuts) and all(math.isnan(v) == s for v, s in zip(r, shortcuts))


def test_the_claim_is_audited():
    a = claims.audit(CLAIMS, PAPER, {}, COUNTS, FULL_SPEC, margins=MARGINS)
    (e,) = [c for c in a["claims"] if c["id"] == "theory.identity-when-needed"]
    assert e["verdict"] == "not testable"


def test_the_weight_gradient_ratio_is_scale_free():
    """||dL/dW|| ||W||: rescaling a convolution before batch normalisation leaves it unchanged."""
    torch.manual_seed(0)
    model = models.create("plain20")
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    before = gradflow.block_gradient_norms(copy.deepcopy(model), x, y)
    with torch.no_grad():
        model.blocks()[0].conv1.weight.mul_(10.0)
    after = gradflow.block_gradient_norms(model, x, y)
    scale_free = [g * w for g, w in zip(after["weight_grad_norm"], after["weight_norm"])]
    assert after["weight_grad_norm"][0] == pytest.approx(before["weight_grad_norm"][0] / 10, rel=1e-3)
    assert scale_free[0] == pytest.approx(before["weight_grad_norm"][0] * before["weight_norm"][0], rel=1e-3)
    assert degradation._scale_free(after) == pytest.approx(scale_free)


def test_seeds_are_never_paired_by_position_when_their_numbers_differ():
    from test_claims_gradients import NETS

    from resrepro import ResreproError

    first, acc = {m: 0.5 for m in NETS}, {m: 0.95 for m in NETS}
    study = degradation.collect([20, 56], SEEDS, _runs(first, acc))
    for ratio in study["kinds"]["plain56"][degradation.WEIGHT_RATIO].values():
        ratio["values"] = ratio["values"][:2]  # one seed fewer for plain-56
    x = inputs()
    x.gradients = study
    r = claims.FORM_RULES["gradient_flow"]({"type": "gradient_flow", "claim": "shrinks_with_depth"}, x)[0]
    assert r["outcome"] == "not testable" and "different numbers of seeds" in r["reason"]
    runs = _runs(first, acc)
    runs["resnet20"][1]["gradflow"] = runs["resnet20"][1]["gradflow"][:1]  # seed 1 lacks an epoch
    with pytest.raises(ResreproError, match="no gradient-flow measurement at epoch"):
        degradation.collect([20, 56], SEEDS, runs)
