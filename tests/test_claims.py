"""Claims audit: every rule, given inputs it must decide each way; the transcription itself."""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from resrepro import ResreproError, claims
from resrepro.claims import Inputs

REPO = Path(__file__).resolve().parents[1]
PAPER = yaml.safe_load((REPO / "reports" / "paper.yaml").read_text())
CLAIMS = claims.load_claims(REPO / "reports" / "claims.yaml")
MARGINS = claims.load_margins(REPO / "reports" / "claims.yaml")
SHARED_PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper"  # ../shared beside the checkout, when present
PAPER_TEXT = next(iter(sorted(SHARED_PAPER.glob("*.txt"))), None) if SHARED_PAPER.is_dir() else None

# exact parameter counts, counted from the built models (He et al. 2016, Table 6: 0.27 M ... 1.7 M)
COUNTS = {
    "resnet18": {"cifar10": 11_173_962, "imagenet": 11_689_512},
    "resnet34": {"cifar10": 21_282_122, "imagenet": 21_797_672},
    "resnet50": {"cifar10": 23_520_842, "imagenet": 25_557_032},
    "resnet110": {"cifar10": 1_727_962, "imagenet": None},
    "vgg16": {"cifar10": 14_728_266, "imagenet": None},
}
FULL_SPEC = {
    "run": "paper",
    "stamp": None,
    "data": {"train_subset": None, "val_subset": None, "test_subset": None},
    "train": {"epochs": 200},
}
QUICK_SPEC = {
    "run": "quick",
    "stamp": "quick preset, not comparable with the paper",
    "data": {"train_subset": 1000, "val_subset": 500, "test_subset": 1000},
    "train": {"epochs": 1},
}


def summ(values):
    return {"mean": sum(values) / len(values), "values": list(values), "n": len(values)}


def measured(**models):
    """measured.json-like: measured(resnet18={"accuracy": [..], ...}, ...)."""
    return {m: {q: summ(v) for q, v in qs.items()} | {"devices": ["Test GPU"]} for m, qs in models.items()}


def inputs(meas=None, comparable=True, paper=PAPER, counts=COUNTS):
    x = Inputs(paper, meas or {}, counts, comparable, [] if comparable else ["a subset"], claims.text_values(CLAIMS))
    x.margins = MARGINS
    return x


def outcomes(checks):
    return {c["rule"]: c["outcome"] for c in checks}


# --------------------------------------------------------------------------------------------
# statistics


def test_student_t_against_tables():
    assert claims.t_ppf(0.975, 2) == pytest.approx(4.302653, abs=1e-5)
    assert claims.t_ppf(0.975, 4) == pytest.approx(2.776445, abs=1e-5)
    assert claims.t_ppf(0.975, 30) == pytest.approx(2.042272, abs=1e-5)
    assert claims.t_sf(2.015048, 5) == pytest.approx(0.05, abs=1e-6)
    assert claims.t_sf(0.0, 3) == pytest.approx(0.5)
    assert claims.t_sf(-1.833113, 9) == pytest.approx(0.95, abs=1e-6)


def test_welch_and_ci():
    w = claims.welch([1, 2, 3], [0, 0.5, 1])
    assert w["diff"] == pytest.approx(1.5) and w["df"] == pytest.approx(2.941176, abs=1e-5)
    assert w["t"] == pytest.approx(2.323790, abs=1e-5) and 0.05 < w["p"] < 0.06
    assert w["ci"][0] < 0 < w["ci"][1]
    assert claims.welch([5, 5, 5], [4, 4, 4])["p"] == 0.0  # exact difference
    assert claims.welch([4, 4, 4], [4, 4, 4])["p"] == 1.0
    c = claims.mean_ci([94.0, 94.2, 94.4])
    assert c["std"] == pytest.approx(0.2) and c["half_width"] == pytest.approx(4.302653 * 0.2 / math.sqrt(3), abs=1e-5)
    assert claims.mean_ci([94.0])["ci"] is None
    with pytest.raises(ResreproError, match="two seeds"):
        claims.welch([1.0], [2.0, 3.0])


# --------------------------------------------------------------------------------------------
# rules on one printed value

R18_ACC = {"model": "resnet18", "quantity": "accuracy", "value": 94.5, "decimals": 1}


def test_measured_value_is_an_equivalence_test_each_way():
    close = inputs(measured(resnet18={"accuracy": [94.3, 94.6, 94.4]}))
    far = inputs(measured(resnet18={"accuracy": [91.0, 91.3, 91.1]}))
    assert claims.rule_measured_value(R18_ACC, close)["outcome"] == "reproduced"
    r = claims.rule_measured_value(R18_ACC, far)
    assert r["outcome"] == "not reproduced" and "wholly outside" in r["reason"]
    # a wide spread cannot show equivalence, nor a difference: inconclusive (it used to widen the tolerance)
    wide = inputs(measured(resnet18={"accuracy": [92.0, 95.0, 93.5]}))
    r = claims.rule_measured_value(R18_ACC, wide)
    assert r["outcome"] == "inconclusive" and "no number of seeds" in r["reason"]
    # and says what would decide it: more seeds at the same mean and spread
    near = claims.rule_measured_value(R18_ACC, inputs(measured(resnet18={"accuracy": [94.3, 94.9]})))
    n = int(re.search(r"(\d+) seeds would show equivalence", near["reason"]).group(1))
    import numpy as np

    z = np.random.default_rng(1).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    same = list(94.6 + near["evidence"]["ours"]["std"] * z)  # the same mean and spread, n seeds
    assert claims.rule_measured_value(R18_ACC, inputs(measured(resnet18={"accuracy": same})))["outcome"] == "reproduced"
    fewer = list(94.6 + near["evidence"]["ours"]["std"] * z[: n - 1] / z[: n - 1].std(ddof=1))
    fewer = [v - np.mean(fewer) + 94.6 for v in fewer]
    assert (
        claims.rule_measured_value(R18_ACC, inputs(measured(resnet18={"accuracy": fewer})))["outcome"] != "reproduced"
    )
    # lower is better (test error) is decided the same way, both directions
    err = {"model": "resnet18", "quantity": "test_error", "value": 5.5, "decimals": 1}
    assert (
        claims.rule_measured_value(err, inputs(measured(resnet18={"test_error": [5.4, 5.6, 5.5]})))["outcome"]
        == "reproduced"
    )
    for off in ([8.0, 8.1, 8.2], [3.0, 3.1, 3.2]):
        assert (
            claims.rule_measured_value(err, inputs(measured(resnet18={"test_error": off})))["outcome"]
            == "not reproduced"
        )
    # the same close numbers on a run that is not comparable decide nothing
    nc = inputs(measured(resnet18={"accuracy": [94.3, 94.6, 94.4]}), comparable=False)
    assert claims.rule_measured_value(R18_ACC, nc)["outcome"] == "not testable"
    assert claims.rule_measured_value(R18_ACC, inputs({}))["outcome"] == "not testable"
    # one seed: no interval, so the test cannot tell, and the reason says what would
    one = claims.rule_measured_value(R18_ACC, inputs(measured(resnet18={"accuracy": [94.5]})))
    assert one["outcome"] == "inconclusive" and "two or more seeds" in one["reason"]


def test_value_rule_rarely_calls_a_mean_off_by_twice_the_margin_reproduced():
    import numpy as np

    rng = np.random.default_rng(0)
    margin = MARGINS["quantities"]["accuracy"]["pp"]
    for sd in (0.1, 0.3, 0.6, 1.0):
        for n in (2, 3, 5, 10):
            for sign in (1, -1):
                hits = 0
                for _ in range(150):
                    vals = list(94.5 + sign * 2 * margin + rng.normal(0, sd, n))
                    x = inputs(measured(resnet18={"accuracy": vals}))
                    hits += claims.rule_measured_value(R18_ACC, x)["outcome"] == "reproduced"
                assert hits / 150 <= 0.05, (sd, n, sign, hits)
    # and the rule can say "reproduced": a true mean on the printed value with a small spread mostly is
    hits = sum(
        claims.rule_measured_value(
            R18_ACC, inputs(measured(resnet18={"accuracy": list(94.5 + rng.normal(0, 0.16, 5))}))
        )["outcome"]
        == "reproduced"
        for _ in range(200)
    )
    assert hits / 200 >= 0.8


def test_margins_are_preregistered_hashed_and_checked(tmp_path):
    assert len(MARGINS["sha256"]) == 64 and MARGINS["quantities"]["accuracy"] == {"pp": 1.0}
    doc = yaml.safe_load((REPO / "reports" / "claims.yaml").read_text())
    doc["margins"]["accuracy"] = {"pp": 2.0}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
    assert claims.load_margins(tmp_path / "c.yaml")["sha256"] != MARGINS["sha256"], "a changed margin changes the hash"
    doc["margins"]["accuracy"] = {"percent": 2.0}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ResreproError, match="margins.accuracy"):
        claims.load_margins(tmp_path / "c.yaml")
    x = inputs(measured(resnet18={"accuracy": [94.5, 94.6]}))
    x.margins = {"quantities": {}}
    with pytest.raises(ResreproError, match="pre-registered margin for 'accuracy'"):
        claims.rule_measured_value(R18_ACC, x)


def test_test_set_resolution_each_way():
    x = inputs()
    assert claims.rule_test_set_resolution(R18_ACC, x)["outcome"] == "consistent"
    bad = {**R18_ACC, "value": 94.537, "decimals": 3}
    r = claims.rule_test_set_resolution(bad, x)
    assert r["outcome"] == "inconsistent as stated" and "0.01 %" in r["reason"]


def test_recall_must_equal_accuracy_on_a_balanced_test_set():
    x = inputs()
    form = {"model": "resnet18", "quantity": "recall", "value": 94.2, "decimals": 1}
    r = claims.rule_recall_equals_accuracy(form, x)
    assert r["outcome"] == "inconsistent as stated" and "10,000" in r["reason"]
    assert claims.rule_recall_equals_accuracy({**form, "value": 94.5}, x)["outcome"] == "consistent"
    unbalanced = copy.deepcopy(PAPER)
    unbalanced["datasets"] = ["unbalanced"]
    claims.TEST_PER_CLASS["unbalanced"] = [900, 1100] + [1000] * 8
    try:
        assert claims.rule_recall_equals_accuracy(form, inputs(paper=unbalanced))["outcome"] == "consistent"
    finally:
        del claims.TEST_PER_CLASS["unbalanced"]


def test_f1_bound_each_way():
    form = {"model": "resnet18", "quantity": "f1", "value": 94.0, "decimals": 1}
    assert claims.rule_f1_bound(form, inputs())["outcome"] == "consistent"
    assert claims.rule_f1_bound({**form, "value": 96.0}, inputs())["outcome"] == "inconsistent as stated"
    # ResNet-50: 95.1 > (94.9 + 95.2)/2 = 95.05 as printed, but within rounding
    assert claims.rule_f1_bound({**form, "model": "resnet50", "value": 95.1}, inputs())["outcome"] == "consistent"


def test_total_time_arithmetic_each_way():
    form = {"model": "resnet18", "quantity": "total_hours", "value": 1.0, "decimals": 1}
    r = claims.rule_total_time_arithmetic(form, inputs())
    # possible only if training ran 60 x past convergence, or the unit is not hours: implausible, with the condition
    assert r["outcome"] == "implausible" and "60 x the epochs to convergence" in r["evidence"]["condition"]
    assert "60 s" in r["reason"] and "3,000 epochs" in r["reason"] and "minutes" in r["reason"]
    fixed = copy.deepcopy(PAPER)
    fixed["table2"]["rows"]["resnet18"]["seconds_per_epoch"] = 72.0  # 50 x 72 s = 1.0 h
    assert claims.rule_total_time_arithmetic(form, inputs(paper=fixed))["outcome"] == "consistent"


def test_error_vs_accuracy_each_way():
    form = {"model": "resnet34", "quantity": "test_error", "value": 5.2, "decimals": 1}
    r = claims.rule_error_vs_accuracy(form, inputs())
    assert r["outcome"] == "implausible" and "4.9" in r["reason"] and "different runs" in r["evidence"]["condition"]
    assert claims.rule_error_vs_accuracy({**form, "value": 4.9}, inputs())["outcome"] == "consistent"
    assert claims.rule_error_vs_accuracy({**form, "model": "vgg16"}, inputs())["outcome"] == "no paper data"


def test_parameter_count_each_way():
    form = {"model": "resnet18", "quantity": "params_millions", "value": 11.7, "decimals": 1}
    r = claims.rule_parameter_count(form, inputs())
    assert r["outcome"] == "implausible" and "11,689,512" in r["reason"] and "11,173,962" in r["reason"]
    assert "ImageNet head" in r["evidence"]["condition"]
    assert claims.rule_parameter_count({**form, "value": 11.2}, inputs())["outcome"] == "reproduced"
    assert claims.rule_parameter_count({**form, "value": 13.0}, inputs())["outcome"] == "not reproduced"
    assert claims.rule_parameter_count({**form, "model": "resnet1202"}, inputs())["outcome"] == "not testable"


def test_definition_and_hardware_dependent_values_each_way():
    meas = measured(resnet18={"epochs_to_convergence": [50, 50, 51, 50, 50], "seconds_per_epoch": [1.2, 1.21, 1.2]})
    ep = {"model": "resnet18", "quantity": "epochs_to_convergence", "value": 50, "decimals": 0}
    sp = {"model": "resnet18", "quantity": "seconds_per_epoch", "value": 1.2, "decimals": 1}
    r = claims.rule_definition_dependent(ep, inputs(meas))
    assert r["outcome"] == "not testable" and r["untestable"] == "underspecified"
    r = claims.rule_hardware_dependent(sp, inputs(meas))
    assert r["outcome"] == "not testable" and "41,667" in r["reason"] and r["untestable"] == "underspecified"
    defined = copy.deepcopy(PAPER)
    defined["definitions"]["epochs_to_convergence"] = "within 1 point of the best validation accuracy"
    defined["hardware"] = "Test GPU"
    assert claims.rule_definition_dependent(ep, inputs(meas, paper=defined))["outcome"] == "reproduced"
    assert claims.rule_hardware_dependent(sp, inputs(meas, paper=defined))["outcome"] == "reproduced"
    slow = measured(resnet18={"seconds_per_epoch": [3.0, 3.1, 2.9]})
    assert claims.rule_hardware_dependent(sp, inputs(slow, paper=defined))["outcome"] == "not reproduced"
    defined["hardware"] = "Other GPU"
    assert claims.rule_hardware_dependent(sp, inputs(meas, paper=defined))["outcome"] == "not testable"


# --------------------------------------------------------------------------------------------
# orderings

BEATS_VGG = {
    "type": "better",
    "better": ["resnet18"],
    "than": ["vgg16"],
    "metrics": ["accuracy"],
    "direction": "higher",
}


def test_better_each_way():
    clear = measured(resnet18={"accuracy": [95.0, 95.2, 95.1]}, vgg16={"accuracy": [93.0, 93.1, 92.9]})
    noise = measured(resnet18={"accuracy": [94.0, 95.2, 94.5]}, vgg16={"accuracy": [94.3, 94.1, 94.6]})
    other = measured(resnet18={"accuracy": [92.0, 92.1, 92.2]}, vgg16={"accuracy": [94.3, 94.1, 94.6]})
    one = measured(resnet18={"accuracy": [95.0]}, vgg16={"accuracy": [93.0]})
    assert claims.rules_better(BEATS_VGG, inputs(clear))[1]["outcome"] == "reproduced"
    r = claims.rules_better(BEATS_VGG, inputs(noise))[1]
    # noise cannot tell: inconclusive, with the effect this run could detect and the seeds the claim needs
    assert r["outcome"] == "inconclusive" and "noise" in r["reason"] and "would find" in r["reason"]
    assert r["evidence"]["power"]["pairs"][0]["detectable"] > 0
    r = claims.rules_better(BEATS_VGG, inputs(other))[1]
    assert r["outcome"] == "not reproduced" and "other way" in r["reason"]
    r = claims.rules_better(BEATS_VGG, inputs(one))[1]
    assert r["outcome"] == "not testable" and "one seed" in r["reason"]
    assert claims.rules_better(BEATS_VGG, inputs(clear, comparable=False))[1]["outcome"] == "not testable"
    assert (
        claims.rules_better(BEATS_VGG, inputs(measured(resnet18={"accuracy": [95, 95.1]})))[1]["outcome"]
        == "not testable"
    )
    # the paper prints no VGG-16 numbers: its tables cannot support the claim
    assert claims.rules_better(BEATS_VGG, inputs(clear))[0]["outcome"] == "no paper data"
    # a lower-is-better metric
    lower = {**BEATS_VGG, "metrics": ["test_error"], "direction": "lower"}
    err = measured(resnet18={"test_error": [5.0, 5.1, 4.9]}, vgg16={"test_error": [7.0, 7.2, 7.1]})
    assert claims.rules_better(lower, inputs(err))[1]["outcome"] == "reproduced"


def test_better_against_the_papers_own_numbers():
    form = {
        "type": "better",
        "better": ["resnet50", "resnet110"],
        "than": ["resnet18", "resnet34"],
        "metrics": ["accuracy", "precision", "recall", "f1"],
        "direction": "higher",
    }
    assert claims.rules_better(form, inputs())[0]["outcome"] == "consistent"
    swapped = {**form, "better": form["than"], "than": form["better"]}
    assert claims.rules_better(swapped, inputs())[0]["outcome"] == "inconsistent as stated"


def test_trend_each_way():
    form = {
        "type": "trend",
        "order": ["resnet18", "resnet34", "resnet50"],
        "quantity": "accuracy",
        "direction": "increasing",
    }
    up = measured(
        resnet18={"accuracy": [94.0, 94.1, 94.2]},
        resnet34={"accuracy": [94.8, 94.9, 95.0]},
        resnet50={"accuracy": [95.5, 95.6, 95.7]},
    )
    flat = measured(
        resnet18={"accuracy": [94.0, 94.1, 94.2]},
        resnet34={"accuracy": [94.8, 94.9, 95.0]},
        resnet50={"accuracy": [94.7, 95.0, 94.9]},
    )
    paper, meas = claims.rules_trend(form, inputs(up))
    assert paper["outcome"] == "consistent" and meas["outcome"] == "reproduced"
    assert claims.rules_trend(form, inputs(flat))[1]["outcome"] == "inconclusive"
    reverse = measured(
        resnet18={"accuracy": [94.0, 94.1, 94.2]},
        resnet34={"accuracy": [94.8, 94.9, 95.0]},
        resnet50={"accuracy": [93.7, 93.8, 93.9]},
    )
    assert claims.rules_trend(form, inputs(reverse))[1]["outcome"] == "not reproduced"
    down = {**form, "direction": "decreasing"}
    assert claims.rules_trend(down, inputs(up))[0]["outcome"] == "inconsistent as stated"


def test_lowest_each_way():
    form = {"type": "lowest", "model": "resnet110", "quantity": "test_error"}
    low = measured(
        resnet110={"test_error": [4.0, 4.1, 4.2]},
        resnet18={"test_error": [5.0, 5.1, 5.2]},
        vgg16={"test_error": [6.0, 6.2, 6.1]},
    )
    high = measured(
        resnet110={"test_error": [6.5, 6.6, 6.4]},
        resnet18={"test_error": [5.0, 5.1, 5.2]},
        vgg16={"test_error": [6.0, 6.2, 6.1]},
    )
    paper, meas = claims.rules_lowest(form, inputs(low))
    assert paper["outcome"] == "consistent"  # 4.2 (text) < 5.5, 5.2, 4.4 (Table 3)
    assert meas["outcome"] == "reproduced"
    assert claims.rules_lowest(form, inputs(high))[1]["outcome"] == "not reproduced"
    assert claims.rules_lowest({**form, "model": "resnet18"}, inputs(low))[0]["outcome"] == "inconsistent as stated"


def test_no_degradation_is_a_non_inferiority_test():
    form = {"type": "no_degradation", "order": ["resnet18", "resnet34"], "quantity": "accuracy"}
    same = measured(resnet18={"accuracy": [95.0, 95.1, 95.2]}, resnet34={"accuracy": [95.0, 95.1, 95.2]})
    worse = measured(resnet18={"accuracy": [95.0, 95.1, 95.2]}, resnet34={"accuracy": [93.0, 93.1, 93.2]})
    assert claims.rules_no_degradation(form, inputs(same))[1]["outcome"] == "reproduced"
    assert claims.rules_no_degradation(form, inputs(worse))[1]["outcome"] == "not reproduced"


def test_plain_network_claims_are_tested_when_plain_runs_exist():
    form = {"type": "residual_vs_plain", "quantity": "accuracy", "direction": "higher"}
    assert (
        claims.rules_residual_vs_plain(form, inputs(measured(resnet20={"accuracy": [92, 92.1]})))[1]["outcome"]
        == "not testable"
    )
    res = measured(resnet20={"accuracy": [92.0, 92.1, 92.2]}, plain20={"accuracy": [90.0, 90.1, 90.2]})
    assert claims.rules_residual_vs_plain(form, inputs(res))[1]["outcome"] == "reproduced"
    rev = measured(resnet20={"accuracy": [90.0, 90.1, 90.2]}, plain20={"accuracy": [92.0, 92.1, 92.2]})
    assert claims.rules_residual_vs_plain(form, inputs(rev))[1]["outcome"] == "not reproduced"
    gap = {"type": "residual_vs_plain", "quantity": "generalization_gap", "direction": "lower"}
    g = measured(
        resnet20={"accuracy": [92.0, 92.1, 92.2], "train_accuracy": [99.0, 99.1, 99.2]},
        plain20={"accuracy": [88.0, 88.1, 88.2], "train_accuracy": [99.0, 99.1, 99.2]},
    )
    assert claims.rules_residual_vs_plain(gap, inputs(g))[1]["outcome"] == "reproduced"

    deg = {"type": "degradation", "family": "plain", "quantity": "train_accuracy"}
    assert claims.rules_degradation(deg, inputs(res))[1]["outcome"] == "not testable"
    plains = measured(plain20={"train_accuracy": [95.0, 95.1, 95.2]}, plain56={"train_accuracy": [90.0, 90.2, 90.1]})
    assert claims.rules_degradation(deg, inputs(plains))[1]["outcome"] == "reproduced"
    better = measured(plain20={"train_accuracy": [90.0, 90.2, 90.1]}, plain56={"train_accuracy": [95.0, 95.1, 95.2]})
    assert claims.rules_degradation(deg, inputs(better))[1]["outcome"] == "not reproduced"


# --------------------------------------------------------------------------------------------
# parameter counts, coverage, scope


def test_parameter_relations_each_way():
    form = {"type": "params_relation", "model": "resnet110", "more_than": ["vgg16"]}
    r = claims.rules_params_relation(form, inputs())[0]
    # it fails only with our ResNet-110 (He et al.'s): the check names that choice and is never "inconsistent"
    assert r["outcome"] == "not reproduced" and "1,727,962" in r["reason"] and r["depends_on"] == ["resnet110"]
    assert (
        claims.rules_params_relation({**form, "model": "vgg16", "more_than": ["resnet110"]}, inputs())[0]["outcome"]
        == "reproduced"
    )
    trend = {"type": "params_trend", "order": ["resnet18", "resnet34", "resnet50", "resnet110"]}
    r = claims.rules_params_trend(trend, inputs())[0]
    assert r["outcome"] == "not reproduced" and r["depends_on"] == ["resnet110"]
    assert (
        claims.rules_params_trend({**trend, "order": ["resnet18", "resnet34", "resnet50"]}, inputs())[0]["outcome"]
        == "reproduced"
    )


def test_table_coverage_and_datasets_each_way():
    assert (
        claims.rules_table_covers({"table": "table1", "models": ["resnet110", "vgg16"]}, inputs())[0]["outcome"]
        == "unsupported"
    )
    assert (
        claims.rules_table_covers({"table": "table1", "models": ["resnet110"]}, inputs())[0]["outcome"] == "consistent"
    )
    assert claims.rules_datasets_reported({"at_least": 2}, inputs())[0]["outcome"] == "unsupported"
    assert claims.rules_datasets_reported({"at_least": 1}, inputs())[0]["outcome"] == "consistent"


# --------------------------------------------------------------------------------------------
# mathematics


def test_residual_notation_each_way():
    paper = {"desired": {"F": 1}, "residual": {"F": 1, "x": -1}, "block_output": {"F": 1, "x": 1}}
    r = claims.rules_residual_notation(paper, inputs())[0]
    assert r["outcome"] == "inconsistent as stated" and "twice" in r["reason"]
    fixed = {**paper, "block_output": {"R": 1, "x": 1}}
    assert claims.rules_residual_notation(fixed, inputs())[0]["outcome"] == "reproduced"


def test_gradient_identity_each_way():
    right = {"block": {"F": 1, "x": 1}, "derivative": {"dF": 1, "one": 1}}
    assert claims.rules_gradient_identity(right, inputs())[0]["outcome"] == "reproduced"
    wrong = {"block": {"F": 1, "x": 1}, "derivative": {"dF": 1, "one": 0}}
    assert claims.rules_gradient_identity(wrong, inputs())[0]["outcome"] == "not reproduced"


def test_gradient_guarantee_each_way():
    both = claims.rules_gradient_guarantee({"blocks": ["relu_linear", "he_basic"]}, inputs())[0]
    assert both["outcome"] == "inconsistent as stated" and "w = -1" in both["reason"]
    assert (
        claims.rules_gradient_guarantee({"blocks": ["relu_linear_nonnegative"]}, inputs())[0]["outcome"] == "reproduced"
    )
    # a counterexample in one reading of the residual function only decides nothing
    mixed = claims.rules_gradient_guarantee({"blocks": ["relu_linear", "relu_linear_nonnegative"]}, inputs())[0]
    assert mixed["outcome"] == "inconclusive"
    with pytest.raises(ResreproError, match="unknown block family"):
        claims.rules_gradient_guarantee({"blocks": ["sigmoid"]}, inputs())


def test_a_check_that_rests_on_our_choice_cannot_be_inconsistent_as_stated():
    with pytest.raises(ResreproError, match="cannot be 'inconsistent as stated'"):
        claims.check("r", "model", "inconsistent as stated", "why", depends_on=("resnet110",))
    with pytest.raises(ResreproError, match="unknown choices"):
        claims.check("r", "model", "not reproduced", "why", depends_on=("my_whim",))
    with pytest.raises(ResreproError, match="not a reason"):
        claims.check("r", "scope", "not testable", "why", untestable="lazy")
    assert claims.check("r", "scope", "not testable", "why")["untestable"] == "not in this run"


def test_stacked_blocks_each_way():
    assert claims.rules_stacked_blocks({"skip": "outer"}, inputs())[0]["outcome"] == "inconsistent as stated"
    assert claims.rules_stacked_blocks({"skip": "per_block"}, inputs())[0]["outcome"] == "reproduced"


def test_scope_rules_say_why():
    assert "gradient norms" in claims.rules_unmeasured({"quantity": "gradient_norms"}, inputs())[0]["reason"]
    background = claims.rules_background({"about": "AlexNet"}, inputs())[0]
    assert background["outcome"] == "not testable" and background["untestable"] == "out of scope"
    assert "cross-entropy" in claims.rules_method({"aspect": "loss", "paper": "squared error"}, inputs())[0]["reason"]
    with pytest.raises(ResreproError, match="UNMEASURED"):
        claims.rules_unmeasured({"quantity": "nothing"}, inputs())


def test_combine_precedence():
    c = claims.check
    assert (
        claims.combine([c("a", "measurement", "reproduced", "r"), c("b", "paper", "inconsistent as stated", "i")])[0]
        == "inconsistent as stated"
    )
    assert (
        claims.combine([c("a", "measurement", "reproduced", "r"), c("b", "measurement", "not reproduced", "n")])[0]
        == "not reproduced"
    )
    assert claims.combine([c("a", "paper", "consistent", "ok"), c("b", "measurement", "reproduced", "r")]) == (
        "reproduced",
        "r",
    )
    assert claims.combine([c("a", "paper", "consistent", "ok"), c("b", "measurement", "not testable", "why")]) == (
        "not testable",
        "why",
    )
    with pytest.raises(ResreproError):
        c("a", "paper", "maybe", "?")


def test_comparability():
    assert claims.comparability(FULL_SPEC, PAPER) == (True, [])
    ok, why = claims.comparability(QUICK_SPEC, PAPER)
    assert not ok and len(why) == 3 and "1 epoch" in why[1]


# --------------------------------------------------------------------------------------------
# the transcription and the whole audit


def test_transcription_is_well_formed():
    ids = [c["id"] for c in CLAIMS] + [c["id"] for c in claims.table_cell_claims(PAPER)]
    assert len(ids) == len(set(ids)) >= 68
    cells = claims.table_cell_claims(PAPER)
    assert len(cells) == 4 * 4 + 3 * 3 + 3 * 2
    t2 = next(c for c in cells if c["id"] == "T2.resnet18.total_hours")
    assert t2["paper"] == "1.0" and "50 | 1.2 | 1.0" in t2["quote"]
    assert claims.text_values(CLAIMS) == {"resnet110": {"test_error": (4.2, 1, "the text")}}


@pytest.mark.skipif(PAPER_TEXT is None, reason="the paper's text (shared/paper) is not on this machine")
def test_every_quote_is_verbatim_from_the_paper():
    def norm(s):
        return re.sub(r"\s+", " ", s).strip()

    text = norm(PAPER_TEXT.read_text(encoding="utf-8").replace("**", ""))  # the extraction's bold markers
    for c in CLAIMS:
        for part in c["quote"].split("[...]"):
            assert norm(part) in text, f"{c['id']}: {part[:60]!r} is not in the paper"


def test_load_claims_rejects_bad_files(tmp_path):
    good = yaml.safe_load((REPO / "reports" / "claims.yaml").read_text())
    dup = copy.deepcopy(good)
    dup["claims"].append(dup["claims"][0])
    (tmp_path / "dup.yaml").write_text(yaml.safe_dump(dup))
    with pytest.raises(ResreproError, match="two claims"):
        claims.load_claims(tmp_path / "dup.yaml")
    unknown = copy.deepcopy(good)
    unknown["claims"][0]["form"]["type"] = "vibes"
    (tmp_path / "unknown.yaml").write_text(yaml.safe_dump(unknown))
    with pytest.raises(ResreproError, match="vibes"):
        claims.load_claims(tmp_path / "unknown.yaml")


def _full_measurement(n_seeds=3):
    """Synthetic measurements in the paper's ballpark, for all five models."""
    base = {"resnet18": 94.6, "resnet34": 95.1, "resnet50": 95.5, "resnet110": 93.5, "vgg16": 93.8}
    out = {}
    for m, acc in base.items():
        a = [acc + 0.1 * k for k in range(n_seeds)]
        out[m] = {
            "accuracy": a,
            "precision": a,
            "recall": a,
            "f1": a,
            "test_error": [100 - v for v in a],
            "epochs_to_convergence": [150 + k for k in range(n_seeds)],
            "seconds_per_epoch": [10.0 + k for k in range(n_seeds)],
            "total_hours": [0.5 + k for k in range(n_seeds)],
            "train_accuracy": [99.9] * n_seeds,
        }
    return measured(**out)


def test_audit_gives_every_claim_a_verdict():
    a = claims.audit(CLAIMS, PAPER, _full_measurement(), COUNTS, FULL_SPEC, margins=MARGINS)
    assert a["comparable"] and len(a["claims"]) >= 67
    v = {c["id"]: c["verdict"] for c in a["claims"]}
    assert {k: n for k, n in a["verdicts"].items() if n} == Counter(v.values()), "the summary counts verdicts"
    # the paper's impossibilities, implausibilities and unsupported rows hold whatever we measure
    found = {
        "inconsistent as stated": ("T1.resnet18.recall", "theory.residual-notation", "theory.stacked-blocks"),
        "implausible": ("T2.resnet18.total_hours", "T2.resnet50.total_hours", "T3.resnet18.params_millions"),
        "unsupported": ("t1.text-rows", "intro.datasets"),
    }
    for verdict, ids in found.items():
        for cid in ids:
            assert v[cid] == verdict, cid
    # what rests on our ResNet-110 says so and is never "inconsistent as stated", nor robust
    entries = {c["id"]: c for c in a["claims"]}
    for cid in ("concl.r110-more-params", "concl.params-grow-with-depth", "t3.text-r110-params"):
        assert v[cid] == "not reproduced" and entries[cid]["depends_on"] == ["resnet110"], cid
        assert not entries[cid]["robust"]
    for c in a["claims"]:
        assert not (c["verdict"] == "inconsistent as stated" and (c["depends_on"] or not c["robust"])), c["id"]
    # the headline counts only robust verdicts, by family
    robust = sum(n for fam in a["headline"]["robust"].values() for n in fam.values())
    assert robust + a["headline"]["not_robust"] == len(a["claims"])
    assert a["preregistered"]["sha256"] == MARGINS["sha256"]
    # measured against comparable synthetic runs
    assert v["T1.resnet18.accuracy"] == "reproduced"  # 94.7 +- 0.1 vs 94.5
    assert v["T1.resnet110.accuracy"] == "not reproduced"  # 93.6 vs 95.8
    assert v["T3.resnet18.test_error"] == "reproduced"
    assert v["concl.r110-lowest"] == "not reproduced"
    assert v["theory.gradient-identity"] == "reproduced"
    assert v["abs.residual-improves"] == "not testable"
    for cid in ("abs.residual-gap-grows", "intro.degradation-is-vanishing", "intro.vanishing-gradient"):
        assert v[cid] == "not testable", cid  # no plain networks, no degradation study
    for c in a["claims"]:
        assert c["quote"] and c["location"] and c["reason"] and c["checks"]


def test_quick_run_audit_is_not_comparable_but_complete():
    a = claims.audit(CLAIMS, PAPER, _full_measurement(n_seeds=1), COUNTS, QUICK_SPEC, margins=MARGINS)
    assert not a["comparable"] and len(a["not_comparable_because"]) == 3
    v = {c["id"]: c["verdict"] for c in a["claims"]}
    assert "reproduced" not in {v[c["id"]] for c in a["claims"] if c["id"].startswith("T1.")}
    assert v["T1.resnet18.accuracy"] == "not testable" and v["T1.resnet18.recall"] == "inconsistent as stated"
    assert "one seed" in next(c for c in a["claims"] if c["id"] == "concl.deeper-is-better")["reason"]


def test_parameter_counts_from_models_json_and_torchvision():
    counts = claims.parameter_counts(
        ["resnet18", "resnet110"], [{"model": "resnet110", "params": 1_727_962, "flops_per_image": 2}]
    )
    assert counts["resnet18"] == {"cifar10": 11_173_962, "imagenet": 11_689_512, "flops_per_image": None}
    assert counts["resnet110"]["cifar10"] == 1_727_962 and counts["resnet110"]["imagenet"] is None


def test_every_form_type_has_exactly_one_rule_registered_next_to_its_code():
    expected = {
        "value",
        "table_cell",
        "better",
        "trend",
        "lowest",
        "no_degradation",
        "residual_vs_plain",
        "degradation",
        "params_relation",
        "params_trend",
        "table_covers",
        "datasets_reported",
        "unmeasured",
        "gradient_flow",
        "degradation_is_vanishing",
        "residual_gap_grows",
        "background",
        "method",
        "residual_notation",
        "gradient_identity",
        "gradient_guarantee",
        "stacked_blocks",
        "identity_when_needed",
        "layer_count",
        "near_identity",
        "residual_function",
    }
    assert set(claims.FORM_RULES) == expected
    used = {c["form"]["type"] for c in claims.load_claims(REPO / "reports" / "claims.yaml")}
    assert used <= set(claims.FORM_RULES)
    with pytest.raises(ResreproError, match="two rules claim the form type 'better'"):
        claims.form_rule("better")(lambda form, x: [])


@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_a_clear_reversal_is_called_the_other_way_in_both_directions(direction):
    """Lower-is-better quantities (time, error) too: 3.20 s against 1.40 s per epoch is a reversal, not noise."""
    q = "accuracy" if direction == "higher" else "seconds_per_epoch"
    better, worse = (
        ([95.0, 95.1, 95.2], [92.0, 92.1, 92.2]) if direction == "higher" else ([1.40, 1.41, 1.39], [3.20, 3.21, 3.19])
    )
    form = {**BEATS_VGG, "metrics": [q], "direction": direction}
    reversal = claims.rules_better(form, inputs(measured(resnet18={q: worse}, vgg16={q: better})))[1]
    assert reversal["outcome"] == "not reproduced" and "1 significantly the other way" in reversal["reason"]
    assert "noise" not in reversal["reason"]
    spread = [b + d for b, d in zip(better, (0.3, -0.3, 0.1))]  # the same means within seed-to-seed noise
    noise = claims.rules_better(form, inputs(measured(resnet18={q: better}, vgg16={q: spread})))
    assert "within seed-to-seed noise" in noise[1]["reason"] and "other way" not in noise[1]["reason"]
    holds = claims.rules_better(form, inputs(measured(resnet18={q: better}, vgg16={q: worse})))[1]
    assert holds["outcome"] == "reproduced"
    (test,) = reversal["evidence"]["tests"]
    assert test["advantage"] < 0 and test["advantage_ci95"][1] < 0, "the advantage is oriented by the direction"


def test_a_non_inferiority_failure_says_whether_the_drop_exceeds_the_margin():
    form = {"type": "no_degradation", "order": ["resnet18", "resnet34"], "quantity": "accuracy"}
    base = [93.0, 93.1, 92.9]
    far = claims.rules_no_degradation(
        form, inputs(measured(resnet18={"accuracy": base}, resnet34={"accuracy": [b - 1.6 for b in base]}))
    )[1]
    assert "1 significantly the other way" in far["reason"]  # worse by more than the 1 pp margin
    near = claims.rules_no_degradation(
        form, inputs(measured(resnet18={"accuracy": base}, resnet34={"accuracy": [b - 1.0 for b in base]}))
    )[1]
    assert near["outcome"] == "inconclusive" and "inconclusive against the 1 pp margin" in near["reason"]
    assert "noise" not in near["reason"]


def test_an_exact_tie_without_spread_is_called_a_tie_and_the_reversal_uses_the_claims_alpha():
    form = {**BEATS_VGG, "metrics": ["seconds_per_epoch"], "direction": "lower"}
    tie = claims.rules_better(
        form,
        inputs(measured(resnet18={"seconds_per_epoch": [5, 5, 5]}, vgg16={"seconds_per_epoch": [5, 5, 5]})),
    )
    assert "1 tied (no seed-to-seed spread)" in tie[1]["reason"] and tie[1]["outcome"] == "not reproduced"
    # reverse one-sided p between 0.025 and 0.05: a reversal at alpha = 0.05, not noise
    q = "seconds_per_epoch"
    slow, fast = [1.78, 2.0, 2.22], [1.55, 1.5, 1.6]  # reverse p = 0.032, the 95 % interval still straddles 0
    (t,) = claims.rules_better({**form, "metrics": [q]}, inputs(measured(resnet18={q: slow}, vgg16={q: fast})))[1][
        "evidence"
    ]["tests"]
    assert 0.0 < t["p_reverse"] < 0.05 and t["reversed"]


@pytest.mark.parametrize("value", [93.15, 92.37, 91.09, 100.0])
def test_identical_seeds_are_an_exact_tie_whatever_floating_point_leaves_of_the_variance(value):
    """[93.15] * 3 has a variance of about 1e-14 in floating point: the tie is decided on the values."""
    form = {**BEATS_VGG, "metrics": ["accuracy"], "direction": "higher"}
    tie = claims.rules_better(
        form, inputs(measured(resnet18={"accuracy": [value] * 3}, vgg16={"accuracy": [value] * 3}))
    )
    (t,) = tie[1]["evidence"]["tests"]
    assert t["tied"] and not t["reversed"] and t["p"] == 1.0
    assert "1 tied (no seed-to-seed spread)" in tie[1]["reason"]


def test_no_spread_and_worse_by_exactly_the_margin_is_the_other_way_not_a_tie():
    """'Deeper not worse by 1 pp or more' (the pre-registered margin): 1 pp worse without spread fails, and says so."""
    form = {"type": "no_degradation", "order": ["resnet18", "resnet34"], "quantity": "accuracy"}
    for shallow in (93.5, 93.65, 93.7):  # 93.7 - 1.0 is not exact in floating point
        meas = measured(resnet18={"accuracy": [shallow] * 3}, resnet34={"accuracy": [round(shallow - 1.0, 2)] * 3})
        r = claims.rules_no_degradation(form, inputs(meas))[1]
        assert r["outcome"] == "not reproduced" and "1 significantly the other way" in r["reason"], shallow
        assert "tied" not in r["reason"]


# --------------------------------------------------------------------------------------------
# power, multiplicity, paired tests and readings


def test_power_figures_match_the_formula_and_the_seeds_needed_find_the_effect():
    from resrepro.claims import power

    d3 = power.detectable(1.0, 3)
    assert d3 == pytest.approx((claims.t_ppf(0.95, 4) + claims.t_ppf(0.8, 4)) * math.sqrt(2 / 3), rel=1e-6)
    assert power.detectable(1.0, 10) < d3, "more seeds detect smaller effects"
    n = power.seeds_needed(1.0, 0.6)
    assert power.detectable(0.6, n) <= 1.0 < power.detectable(0.6, n - 1)
    assert power.seeds_needed(-0.2, 0.6) is None and power.seeds_needed(1e-6, 1.0) is None


def test_holm_adjusts_step_down_and_monotone():
    assert claims.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert claims.holm([0.5]) == [0.5] and claims.holm([]) == []


def test_an_ordering_reproduced_alone_can_be_inconclusive_after_holm():
    # a clear claim and two claims at p ~ 0.03 each: Holm multiplies the smaller of those by 2, lifting both
    clear = {"resnet18": [95.0, 95.1, 95.2], "vgg16": [93.0, 93.1, 92.9]}
    marginal = {"resnet34": [94.3, 94.9, 94.8], "resnet50": [94.0, 94.2, 94.1]}
    meas = measured(**{m: {"accuracy": v} for m, v in (clear | marginal).items()})
    b = {**BEATS_VGG, "better": ["resnet34"], "than": ["resnet50"]}
    forms = [("a", BEATS_VGG), ("b", b), ("c", b)]
    cs = [{"id": i, "form": dict(f), "location": "x", "quote": "q", "statement": "s"} for i, f in forms]
    paper = {**PAPER, **{t: {**PAPER[t], "rows": {}} for t in ("table1", "table2", "table3")}}
    a = claims.audit(cs, paper, meas, COUNTS, FULL_SPEC, margins=MARGINS)
    e = {c["id"]: c for c in a["claims"]}
    p_b = e["b"]["holm"]["p"]
    assert 0.025 < p_b < 0.05, p_b
    assert e["a"]["verdict"] == "reproduced" and e["b"]["verdict"] == e["c"]["verdict"] == "inconclusive"
    assert e["b"]["holm"]["adjusted"] == pytest.approx(2 * p_b) and "Holm" in e["b"]["reason"]
    assert a["multiplicity"]["family_size"] == 3


def test_mcnemar_is_exact_and_the_paired_test_counts_discordant_images():
    from resrepro.claims import power

    assert power.mcnemar_one_sided(5, 0) == pytest.approx(0.5**5)
    assert power.mcnemar_one_sided(0, 5) == 1.0
    assert power.mcnemar_one_sided(10, 10) == pytest.approx(sum(math.comb(20, k) for k in range(10, 21)) / 2**20)
    x = inputs(measured(resnet18={"accuracy": [95.0, 95.1]}, vgg16={"accuracy": [93.0, 93.1]}))
    preds = {"resnet18": {0: [1, 1, 1, 0], 1: [1, 1, 0, 1]}, "vgg16": {0: [1, 0, 0, 0], 1: [0, 1, 0, 1]}}
    x.predictions = lambda m: {s: [bool(v) for v in c] for s, c in preds[m].items()}
    r = claims.rules_better(BEATS_VGG, x)[1]
    (t,) = r["evidence"]["tests"]
    per_seed = t["paired"]["per_seed"]
    assert [(r["a_right_b_wrong"], r["a_wrong_b_right"]) for r in per_seed] == [(2, 0), (1, 0)]
    assert t["paired"]["p"] == pytest.approx(0.5), "the largest p over the seeds (0.25 and 0.5)"
    lower = {**BEATS_VGG, "metrics": ["test_error"], "direction": "lower"}
    x.measured = measured(resnet18={"test_error": [5.0, 4.9]}, vgg16={"test_error": [7.0, 6.9]})
    (t,) = claims.rules_better(lower, x)[1]["evidence"]["tests"]
    assert t["paired"]["per_seed"][0]["a_right_b_wrong"] == 2, "a lower error means right on more images"
    # the same images under more seeds are not new evidence: copying a seed does not shrink p
    many = {m: {s: c[0] for s in range(20)} for m, c in preds.items()}
    x.predictions = lambda m: {s: [bool(v) for v in c] for s, c in many[m].items()}
    x.measured = measured(resnet18={"accuracy": [95.0, 95.1]}, vgg16={"accuracy": [93.0, 93.1]})
    (t,) = claims.rules_better(BEATS_VGG, x)[1]["evidence"]["tests"]
    assert t["paired"]["p"] == pytest.approx(0.25)


def test_a_hedged_claim_compares_the_group_mean_and_the_strict_reading_every_pair():
    form = {**BEATS_VGG, "better": ["resnet18", "resnet34"], "aggregate": "mean"}
    # ResNet-34 is no better than VGG-16, ResNet-18 far better: on average the ResNets are better
    meas = measured(
        resnet18={"accuracy": [96.0, 96.1, 96.2]},
        resnet34={"accuracy": [93.0, 93.2, 92.9]},
        vgg16={"accuracy": [93.0, 93.1, 92.9]},
    )
    assert claims.rules_better(form, inputs(meas))[1]["outcome"] == "reproduced"
    strict = {k: v for k, v in form.items() if k != "aggregate"}
    assert claims.rules_better(strict, inputs(meas))[1]["outcome"] != "reproduced"
    x = inputs(meas)
    claims.rules_better(form, x)
    assert set(x.measured) == {"resnet18", "resnet34", "vgg16"}, "the group mean never leaks into other rules"
    with pytest.raises(ResreproError, match="unknown aggregate"):
        claims.rules_better({**form, "aggregate": "median"}, inputs(meas))


def test_particularly_deeper_compares_the_deepest_twins_and_every_depth_is_a_reading():
    meas = measured(
        resnet20={"accuracy": [91.0, 91.1, 91.2]},
        plain20={"accuracy": [91.0, 91.2, 91.1]},
        resnet56={"accuracy": [93.0, 93.1, 93.2]},
        plain56={"accuracy": [89.0, 89.1, 89.2]},
    )
    form = {"type": "residual_vs_plain", "quantity": "accuracy", "direction": "higher", "depths": "deepest"}
    r = claims.rules_residual_vs_plain(form, inputs(meas))[1]
    assert r["outcome"] == "reproduced" and len(r["evidence"]["tests"]) == 1
    assert claims.rules_residual_vs_plain({**form, "depths": "all"}, inputs(meas))[1]["outcome"] == "inconclusive"


def test_readings_that_disagree_make_a_verdict_not_robust_and_impossible_only_under_all():
    c = {
        "id": "x",
        "location": "x",
        "quote": "q",
        "statement": "s",
        "form": {"type": "gradient_guarantee", "blocks": ["relu_linear", "he_basic"]},
        "reading": "a guarantee",
        "readings": [
            {"name": "a tendency", "form": {"type": "gradient_guarantee", "blocks": ["relu_linear_nonnegative"]}}
        ],
    }
    a = claims.audit([c], PAPER, {}, COUNTS, FULL_SPEC, margins=MARGINS)
    e = a["claims"][-1]
    assert [r["verdict"] for r in e["readings"]] == ["inconsistent as stated", "reproduced"]
    assert e["verdict"] == "reproduced" and e["reading"] == "a tendency" and not e["robust"]
    agree = {**c, "readings": [{"name": "same", "form": c["form"]}]}
    e = claims.audit([agree], PAPER, {}, COUNTS, FULL_SPEC, margins=MARGINS)["claims"][-1]
    assert e["verdict"] == "inconsistent as stated" and e["robust"]


# --------------------------------------------------------------------------------------------
# what the hostile review found


def test_a_tie_within_the_papers_rounding_is_not_a_contradiction():
    tied = copy.deepcopy(PAPER)
    tied["table1"]["rows"]["resnet34"]["accuracy"] = 94.5  # = ResNet-18's printed 94.5
    trend = {"type": "trend", "order": ["resnet18", "resnet34"], "quantity": "accuracy", "direction": "increasing"}
    assert claims.rules_trend(trend, inputs(paper=tied))[0]["outcome"] == "consistent"
    tied["table1"]["rows"]["resnet34"]["accuracy"] = 94.3  # 94.35 < 94.45: no values that print so can increase
    assert claims.rules_trend(trend, inputs(paper=tied))[0]["outcome"] == "inconsistent as stated"
    # "no degradation": a printed drop inside the pre-registered margin agrees; beyond margin + rounding it does not
    nd = {"type": "no_degradation", "order": ["resnet18", "resnet34"], "quantity": "accuracy"}
    tied["table1"]["rows"]["resnet34"]["accuracy"] = 93.8
    assert claims.rules_no_degradation(nd, inputs(paper=tied))[0]["outcome"] == "consistent"
    tied["table1"]["rows"]["resnet34"]["accuracy"] = 93.3
    assert claims.rules_no_degradation(nd, inputs(paper=tied))[0]["outcome"] == "inconsistent as stated"


def test_drops_inside_the_margin_cannot_add_up_along_a_chain():
    order = ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]
    meas = measured(**{m: {"accuracy": [93.0 - 0.9 * i + d for d in (0.0, 0.02, -0.02)]} for i, m in enumerate(order)})
    r = claims.rules_no_degradation({"type": "no_degradation", "order": order, "quantity": "accuracy"}, inputs(meas))[1]
    assert r["outcome"] == "not reproduced" and len(r["evidence"]["tests"]) == 10


def test_reversals_among_many_pairs_keep_their_error_rate():
    import numpy as np

    rng = np.random.default_rng(3)
    others = [f"m{i}" for i in range(8)]
    form = {"type": "better", "better": ["resnet18"], "than": others, "metrics": ["accuracy"], "direction": "higher"}
    false = 0
    for _ in range(100):
        meas = measured(**{m: {"accuracy": list(94 + rng.normal(0, 0.2, 3))} for m in ["resnet18"] + others})
        false += claims.rules_better(form, inputs(meas))[1]["outcome"] == "not reproduced"
    assert false <= 8, f"{false} of 100 claims refuted with equal true means"


def test_holm_lowering_a_verdict_updates_its_robustness():
    marginal = {"resnet34": [94.3, 94.9, 94.8], "resnet50": [94.0, 94.2, 94.1]}
    meas = measured(**{m: {"accuracy": v} for m, v in marginal.items()})
    b = {**BEATS_VGG, "better": ["resnet34"], "than": ["resnet50"]}
    cs = [
        {
            "id": i,
            "form": dict(b),
            "location": "x",
            "quote": "q",
            "statement": "s",
            "readings": [{"name": "r", "form": b}],
        }
        for i in "abc"
    ]
    paper = {**PAPER, **{t: {**PAPER[t], "rows": {}} for t in ("table1", "table2", "table3")}}
    e = claims.audit(cs, paper, meas, COUNTS, FULL_SPEC, margins=MARGINS)["claims"][-1]
    assert e["verdict"] == "inconclusive" and not e["robust"]
    assert [r["verdict"] for r in e["readings"]] == ["inconclusive", "reproduced"]


def test_non_finite_measurements_and_p_values_are_refused():
    x = inputs(measured(resnet18={"accuracy": [94.5, float("nan")]}))
    with pytest.raises(ResreproError, match="not a finite number"):
        claims.rule_measured_value(R18_ACC, x)
    with pytest.raises(ResreproError, match="finite p-values"):
        claims.holm([float("nan"), 0.01])


def test_identical_seeds_leave_a_value_inconclusive():
    r = claims.rule_measured_value(R18_ACC, inputs(measured(resnet18={"accuracy": [94.5, 94.5, 94.5]})))
    assert r["outcome"] == "inconclusive" and "agree exactly" in r["reason"]


def test_the_value_rule_at_exactly_the_margin_says_reproduced_at_most_5_percent():
    import numpy as np

    rng = np.random.default_rng(5)
    margin = MARGINS["quantities"]["accuracy"]["pp"]
    for sd in (0.1, 0.5, 1.0):
        for n in (3, 10):
            hits = sum(
                claims.rule_measured_value(
                    R18_ACC, inputs(measured(resnet18={"accuracy": list(94.5 + margin + rng.normal(0, sd, n))}))
                )["outcome"]
                == "reproduced"
                for _ in range(150)
            )
            assert hits / 150 <= 0.05, (sd, n, hits)


def test_underspecified_is_the_reason_shown_when_a_claim_has_several():
    def rule(form, x):
        return [
            claims.check("a", "measurement", "not testable", "later", untestable="not in this run"),
            claims.check("b", "measurement", "not testable", "paper", untestable="underspecified"),
        ]

    claims.FORM_RULES["_two_reasons"] = rule
    try:
        c = {"id": "x", "location": "x", "quote": "q", "statement": "s", "form": {"type": "_two_reasons"}}
        e = claims.audit([c], PAPER, {}, COUNTS, FULL_SPEC, margins=MARGINS)["claims"][-1]
    finally:
        del claims.FORM_RULES["_two_reasons"]
    assert e["untestable"] == "underspecified"


def test_a_parameter_claim_that_holds_only_with_our_resnet110_names_it_too():
    form = {"type": "params_relation", "model": "vgg16", "more_than": ["resnet110"]}
    r = claims.rules_params_relation(form, inputs())[0]
    assert r["outcome"] == "reproduced" and r["depends_on"] == ["resnet110"]


def test_lowest_compares_only_the_papers_models():
    meas = measured(
        resnet110={"test_error": [5.0, 5.1, 5.2]},
        resnet18={"test_error": [6.0, 6.1, 6.2]},
        resnet1202={"test_error": [3.0, 3.1, 3.2]},  # trained in some other study: not among the paper's models
    )
    r = claims.rules_lowest({"type": "lowest", "model": "resnet110", "quantity": "test_error"}, inputs(meas))[1]
    assert r["outcome"] == "reproduced" and {t["than"] for t in r["evidence"]["tests"]} == {"resnet18"}
