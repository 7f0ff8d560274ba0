"""The degradation study's claims (resrepro.claims.gradients): each rule decided both ways on synthetic studies."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_claims import CLAIMS, COUNTS, FULL_SPEC, MARGINS, PAPER, inputs, measured

from resrepro import claims, degradation
from resrepro.claims import gradients
from resrepro.stats import summarise

SEEDS = [0, 1, 2]
NETS = ("plain20", "resnet20", "plain56", "resnet56")


def study(weight: dict, errors: dict | None = None, activation: dict | None = None, seeds=SEEDS) -> dict:
    """A degradation summary: ``weight``/``activation`` {model: {epoch: per-seed ratios}} (a model left out
    gets a ratio of 1 at epochs 0 and 10); ``errors`` {model: per-seed final training error (%)}."""
    errors = errors or {}
    kinds = {}
    for m in NETS:
        w = weight.get(m, {0: [1.0] * len(seeds), 10: [1.0] * len(seeds)})
        a = (activation or {}).get(m, w)
        err = errors.get(m, [10.0 + 0.1 * k for k in range(len(seeds))])
        kinds[m] = {
            "weight_grad_ratio_first_to_last_block": {str(e): summarise(v) for e, v in w.items()},
            "grad_ratio_first_to_last_block": {str(e): summarise(v) for e, v in a.items()},
            "final_train_error": summarise(err),
            "test_error": summarise([e + 5 for e in err]),
        }
    s = {"depths": [20, 56], "seeds": list(seeds), "kinds": kinds}
    s["evidence"] = degradation.evidence(s)
    return s


def with_study(s: dict, comparable: bool = True):
    x = inputs(comparable=comparable)
    x.gradients = s
    return x


VANISHING = {"plain20": {0: [0.5, 0.6, 0.55], 10: [0.4, 0.5, 0.45]}, "plain56": {0: [0.01, 0.02, 0.01], 10: [0.01] * 3}}
HEALTHY = {"plain20": {0: [0.5, 0.6, 0.55], 10: [0.4, 0.5, 0.45]}, "plain56": {0: [0.45, 0.5, 0.6], 10: [0.5] * 3}}
SHRINKS = {"type": "gradient_flow", "claim": "shrinks_with_depth"}
MITIGATES = {"type": "gradient_flow", "claim": "shortcut_mitigates"}


def test_the_audit_reads_the_weight_ratios_under_the_key_the_study_writes():
    assert gradients.WEIGHT_RATIO == degradation.WEIGHT_RATIO


def test_weight_gradients_shrinking_with_depth_is_decided_both_ways_at_every_epoch_and_seed():
    assert claims.rules_gradient_flow(SHRINKS, inputs())[0]["outcome"] == "not testable"
    shrinks = claims.rules_gradient_flow(SHRINKS, with_study(study(VANISHING)))[0]
    assert shrinks["outcome"] == "reproduced" and "depends_on" not in shrinks
    assert "at initialisation: " in shrinks["reason"] and "after epoch 10: " in shrinks["reason"]
    assert [row["epoch"] for row in shrinks["evidence"]["epochs"]] == [0, 10]
    assert shrinks["evidence"]["epochs"][0]["plain56"] == [0.01, 0.02, 0.01]
    healthy = claims.rules_gradient_flow(SHRINKS, with_study(study(HEALTHY)))[0]
    assert healthy["outcome"] == "not reproduced" and "fails in seeds 0, 1, 2" in healthy["reason"]


def test_weight_gradients_that_vanish_at_initialisation_only_are_inconclusive_and_say_where():
    mixed = {"plain20": {0: [0.5] * 3, 10: [0.5] * 3}, "plain56": {0: [0.01] * 3, 10: [0.5] * 3}}
    r = claims.rules_gradient_flow(SHRINKS, with_study(study(mixed)))[0]
    assert r["outcome"] == "inconclusive"
    assert "at initialisation: r plain-56 0.01, plain-20 0.5, factor 50, 50, 50 (holds in seeds 0, 1, 2)" in r["reason"]
    assert "after epoch 10: r plain-56 0.5, plain-20 0.5, factor 1, 1, 1 (fails in seeds 0, 1, 2)" in r["reason"]
    one_seed = {"plain20": {0: [0.5] * 3}, "plain56": {0: [0.01, 0.01, 0.4]}}
    r = claims.rules_gradient_flow(SHRINKS, with_study(study(one_seed)))[0]
    assert r["outcome"] == "inconclusive" and "holds in seeds 0, 1; fails in seed 2" in r["reason"]
    assert "depends_on" not in r, "a measured verdict names no per-claim choice (the recipe is a threat to all)"


def test_gradient_flow_uses_weight_gradients_not_the_gradient_reaching_a_block():
    activation = {"plain20": {0: [0.5] * 3, 10: [0.5] * 3}, "plain56": {0: [0.001] * 3, 10: [0.001] * 3}}
    r = claims.rules_gradient_flow(SHRINKS, with_study(study(HEALTHY, activation=activation)))[0]
    assert r["outcome"] == "not reproduced"


def test_the_shortcut_mitigating_vanishing_weight_gradients_is_decided_both_ways():
    helped = VANISHING | {"resnet56": {0: [0.5] * 3, 10: [0.4] * 3}}
    assert claims.rules_gradient_flow(MITIGATES, with_study(study(helped)))[0]["outcome"] == "reproduced"
    same = VANISHING | {"resnet56": {0: [0.01] * 3, 10: [0.015] * 3}}
    assert claims.rules_gradient_flow(MITIGATES, with_study(study(same)))[0]["outcome"] == "not reproduced"


def test_a_study_without_weight_ratios_or_common_epochs_is_not_testable_and_says_why():
    s = study(VANISHING)
    del s["kinds"]["plain56"]["weight_grad_ratio_first_to_last_block"]
    r = claims.rules_gradient_flow(SHRINKS, with_study(s))[0]
    assert r["outcome"] == "not testable" and "re-run the degradation stage" in r["reason"]
    apart = {"plain20": {0: [0.5] * 3}, "plain56": {10: [0.01] * 3}}
    r = claims.rules_gradient_flow(SHRINKS, with_study(study(apart)))[0]
    assert r["outcome"] == "not testable" and "no gradient-flow epoch" in r["reason"]


def test_a_dead_first_block_counts_as_vanishing_and_an_undefined_ratio_decides_nothing():
    dead = {"plain20": {0: [0.5] * 3}, "plain56": {0: [0.0] * 3}}
    assert claims.rules_gradient_flow(SHRINKS, with_study(study(dead)))[0]["outcome"] == "reproduced"
    undefined = {"plain20": {0: [0.5] * 3}, "plain56": {0: [0.01, 0.01, math.nan]}}
    r = claims.rules_gradient_flow(SHRINKS, with_study(study(undefined)))[0]
    assert r["outcome"] == "inconclusive" and "undefined in seed 2" in r["reason"]


# --------------------------------------------------------------------------------------------
# degradation: "lower training accuracy or stagnation in performance"

DEGRADATION = {"type": "degradation", "family": "plain", "quantity": "train_accuracy", "stagnation": "accuracy"}


def test_degradation_is_lower_training_accuracy_or_stagnant_test_accuracy():
    lower = measured(
        plain20={"train_accuracy": [95.0, 95.1, 95.2], "accuracy": [90.0, 90.1, 90.2]},
        plain56={"train_accuracy": [90.0, 90.2, 90.1], "accuracy": [93.0, 93.1, 93.2]},
    )
    r = claims.rules_degradation(DEGRADATION, inputs(lower))[1]
    assert r["outcome"] == "reproduced" and r["evidence"]["lower"]["outcome"] == "reproduced"
    stagnant = measured(
        plain20={"train_accuracy": [95.0, 95.1, 95.2], "accuracy": [90.0, 90.1, 90.2]},
        plain56={"train_accuracy": [95.3, 94.8, 95.1], "accuracy": [90.0, 90.2, 90.1]},
    )
    r = claims.rules_degradation(DEGRADATION, inputs(stagnant))[1]
    assert r["outcome"] == "reproduced" and r["evidence"]["lower"]["outcome"] == "inconclusive"
    assert r["evidence"]["stagnation"]["outcome"] == "reproduced" and "stagnation (reproduced)" in r["reason"]
    without = {k: v for k, v in DEGRADATION.items() if k != "stagnation"}
    assert claims.rules_degradation(without, inputs(stagnant))[1]["outcome"] == "inconclusive"
    # a deeper net significantly better in training contradicts the claim; stagnation in test accuracy cannot rescue it
    trains_better = measured(
        plain20={"train_accuracy": [95.0, 95.1, 95.2], "accuracy": [90.0, 90.1, 90.2]},
        plain56={"train_accuracy": [96.0, 96.2, 96.1], "accuracy": [90.0, 90.2, 90.1]},
    )
    r = claims.rules_degradation(DEGRADATION, inputs(trains_better))[1]
    assert r["outcome"] == "not reproduced" and r["evidence"]["stagnation"]["outcome"] == "reproduced"
    better = measured(
        plain20={"train_accuracy": [95.0, 95.1, 95.2], "accuracy": [90.0, 90.1, 90.2]},
        plain56={"train_accuracy": [97.0, 97.2, 97.1], "accuracy": [93.0, 93.2, 93.1]},
    )
    r = claims.rules_degradation(DEGRADATION, inputs(better))[1]
    assert r["outcome"] == "not reproduced" and len(r["evidence"]["tests"]) == 2


def test_a_plain_net_that_never_started_converging_is_no_evidence_of_degradation():
    failed = measured(
        plain20={"train_accuracy": [95.0, 95.1, 95.2], "accuracy": [90.0, 90.1, 90.2]},
        plain56={"train_accuracy": [10.0, 10.3, 60.0], "accuracy": [10.0, 10.0, 50.0]},
    )
    r = claims.rules_degradation(DEGRADATION, inputs(failed))[1]
    assert r["outcome"] == "not testable" and r["depends_on"] == ["recipe"]
    assert "never started converging" in r["reason"] and "plain-56 in 2 of 3 seeds" in r["reason"]
    no_train = measured(plain20={"accuracy": [90.0, 90.1, 90.2]}, plain56={"accuracy": [80.0, 80.1, 80.2]})
    r = claims.rules_degradation(DEGRADATION, inputs(no_train))[1]
    assert r["outcome"] == "not testable" and "whether it started converging is unknown" in r["reason"]


# --------------------------------------------------------------------------------------------
# the paper's conflation: degradation "often referred to as the vanishing gradient problem"

CONFLATION = {"type": "degradation_is_vanishing"}
DEGRADED = {"plain56": [30.0, 30.5, 31.0]}  # final training error (%) against plain-20's ~10 %


def test_degradation_without_vanishing_weight_gradients_does_not_reproduce_the_conflation():
    r = claims.rules_degradation_is_vanishing(CONFLATION, with_study(study(HEALTHY, DEGRADED)))[1]
    assert r["outcome"] == "not reproduced" and "degradation without vanishing" in r["reason"]
    assert r["evidence"]["degraded"] and "depends_on" not in r
    r = claims.rules_degradation_is_vanishing(CONFLATION, with_study(study(VANISHING, DEGRADED)))[1]
    assert r["outcome"] == "reproduced" and "degradation together with vanishing" in r["reason"]


def test_the_conflation_without_degradation_or_with_a_net_that_never_trained_is_undecided():
    r = claims.rules_degradation_is_vanishing(CONFLATION, with_study(study(VANISHING)))[1]
    assert r["outcome"] == "inconclusive" and "no degradation to attribute" in r["reason"]
    failed = study(HEALTHY, {"plain56": [89.0, 90.0, 90.0]})
    assert failed["evidence"]["degradation"]["plain"]["56"]["degraded"], "the study counts it as degraded"
    r = claims.rules_degradation_is_vanishing(CONFLATION, with_study(failed))[1]
    assert r["outcome"] == "not testable" and "never started converging" in r["reason"]
    r = claims.rules_degradation_is_vanishing(CONFLATION, with_study(study(HEALTHY, DEGRADED), comparable=False))[1]
    assert r["outcome"] == "not testable" and "not comparable" in r["reason"]
    assert claims.rules_degradation_is_vanishing(CONFLATION, inputs())[1]["outcome"] == "not testable"


# --------------------------------------------------------------------------------------------
# "particularly in deeper networks": the residual gap grows with depth

GAP = {"type": "residual_gap_grows", "quantity": "accuracy"}


def twins(plain20, resnet20, plain56, resnet56, train=(95.0, 95.1, 95.2)):
    acc = {"plain20": plain20, "resnet20": resnet20, "plain56": plain56, "resnet56": resnet56}
    return measured(**{m: {"accuracy": a, "train_accuracy": list(train)} for m, a in acc.items()})


def test_the_residual_gap_growing_with_depth_is_decided_both_ways():
    grows = twins([90.0, 90.2, 90.1], [91.0, 91.1, 91.2], [85.0, 85.3, 85.1], [92.0, 92.1, 92.3])
    r = claims.rules_residual_gap_grows(GAP, inputs(grows))[1]
    assert r["outcome"] == "reproduced" and r["evidence"]["gaps"]["56"] == pytest.approx([7.0, 6.8, 7.2])
    shrinks = twins([85.0, 85.3, 85.1], [92.0, 92.1, 92.3], [90.0, 90.2, 90.1], [91.0, 91.1, 91.2])
    assert claims.rules_residual_gap_grows(GAP, inputs(shrinks))[1]["outcome"] == "not reproduced"
    equal = twins([90.0] * 3, [91.0] * 3, [89.0] * 3, [90.0] * 3)
    r = claims.rules_residual_gap_grows(GAP, inputs(equal))[1]
    assert r["outcome"] == "not reproduced" and "exactly equal" in r["reason"]
    noisy = twins([90.0, 92.0, 88.0], [91.0, 91.1, 91.2], [89.0, 91.5, 87.0], [90.5, 90.0, 91.0])
    assert claims.rules_residual_gap_grows(GAP, inputs(noisy))[1]["outcome"] == "inconclusive"
    assert claims.rules_residual_gap_grows(GAP, inputs(grows, comparable=False))[1]["outcome"] == "not testable"


def test_the_residual_gap_needs_two_twin_depths_seeds_and_nets_that_trained():
    one_depth = measured(plain20={"accuracy": [90.0, 90.1]}, resnet20={"accuracy": [91.0, 91.1]})
    r = claims.rules_residual_gap_grows(GAP, inputs(one_depth))[1]
    assert r["outcome"] == "not testable" and "fewer than two depths" in r["reason"]
    one_seed = twins([90.0], [91.0], [85.0], [92.0], train=[95.0])
    r = claims.rules_residual_gap_grows(GAP, inputs(one_seed))[1]
    assert r["outcome"] == "not testable" and "one seed" in r["reason"]
    failed = twins([90.0, 90.2, 90.1], [91.0, 91.1, 91.2], [10.0] * 3, [92.0, 92.1, 92.3])
    failed["plain56"]["train_accuracy"] = {"mean": 10.0, "values": [10.0] * 3, "n": 3}
    r = claims.rules_residual_gap_grows(GAP, inputs(failed))[1]
    assert r["outcome"] == "not testable" and "never started converging" in r["reason"]


# --------------------------------------------------------------------------------------------
# from the study's result files to the audit


def _runs(weight_first: dict, train_acc: dict, seeds=SEEDS) -> dict:
    """read_runs-like: per twin and seed, a history, a test accuracy and gradient flow at epochs 0 and 4."""
    runs = {}
    for m in NETS:
        n_blocks = 3 * (int(m[-2:]) - 2) // 6
        runs[m] = [
            {
                "history": pd.DataFrame({"epoch": [1, 2], "train_acc": [0.3, train_acc[m] + 0.001 * s]}),
                "test_accuracy": train_acc[m] - 0.05 + 0.001 * s,
                "gradflow": [
                    {
                        "epoch": e,
                        "activation_grad_norm": [1.0] * n_blocks,
                        "weight_grad_norm": [weight_first[m] * (1 + 0.01 * s)] + [1.0] * (n_blocks - 1),
                    }
                    for e in (0, 4)
                ],
            }
            for s in seeds
        ]
    return runs


def test_the_study_summarises_weight_ratios_per_epoch_and_seed_and_the_audit_decides_from_them():
    first = {"plain20": 0.5, "resnet20": 0.6, "plain56": 0.4, "resnet56": 0.6}  # no vanishing
    acc = {"plain20": 0.95, "resnet20": 0.96, "plain56": 0.80, "resnet56": 0.97}  # plain-56 degraded
    s = degradation.collect([20, 56], SEEDS, _runs(first, acc))
    w = s["kinds"]["plain56"][degradation.WEIGHT_RATIO]
    assert set(w) == {"0", "4"} and w["4"]["values"] == pytest.approx([0.4, 0.404, 0.408])
    assert s["kinds"]["plain56"][degradation.ACTIVATION_RATIO]["0"]["values"] == [1.0, 1.0, 1.0]
    meas = measured(
        **{
            m: {
                "accuracy": [100 * r["test_accuracy"] for r in per_seed],
                "train_accuracy": [100 * r["history"]["train_acc"].iloc[-1] for r in per_seed],
            }
            for m, per_seed in _runs(first, acc).items()
        }
    )
    a = claims.audit(CLAIMS, PAPER, meas, COUNTS, FULL_SPEC, gradients=s, margins=MARGINS)
    checks = {c["id"]: c["checks"][-1]["outcome"] for c in a["claims"]}
    assert checks["intro.vanishing-gradient"] == "not reproduced"
    assert checks["intro.degradation-is-vanishing"] == "not reproduced"
    assert checks["intro.degradation"] == "reproduced"
    assert checks["abs.residual-gap-grows"] == "reproduced"
    assert checks["concl.mitigate-vanishing"] == "not reproduced"  # 0.6 / 0.4 is below the factor of 2


def test_a_last_block_without_any_gradient_gives_an_undefined_ratio():
    runs = _runs(dict.fromkeys(NETS, 0.5), dict.fromkeys(NETS, 0.9), seeds=[0])
    runs["plain56"][0]["gradflow"][0]["weight_grad_norm"][-1] = 0.0
    s = degradation.collect([20, 56], [0], runs)
    assert math.isnan(s["kinds"]["plain56"][degradation.WEIGHT_RATIO]["0"]["values"][0])
