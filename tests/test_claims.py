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
    return Inputs(paper, meas or {}, counts, comparable, [] if comparable else ["a subset"], claims.text_values(CLAIMS))


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


def test_measured_value_each_way():
    close = inputs(measured(resnet18={"accuracy": [94.3, 94.6, 94.4]}))
    far = inputs(measured(resnet18={"accuracy": [92.0, 92.3, 92.1]}))
    assert claims.rule_measured_value(R18_ACC, close)["outcome"] == "reproduced"
    assert claims.rule_measured_value(R18_ACC, far)["outcome"] == "not reproduced"
    # the same close numbers on a run that is not comparable decide nothing
    nc = inputs(measured(resnet18={"accuracy": [94.3, 94.6, 94.4]}), comparable=False)
    assert claims.rule_measured_value(R18_ACC, nc)["outcome"] == "not testable"
    assert claims.rule_measured_value(R18_ACC, inputs({}))["outcome"] == "not testable"
    # one seed: the margin alone decides, and the reason says so
    one = claims.rule_measured_value(R18_ACC, inputs(measured(resnet18={"accuracy": [94.2]})))
    assert one["outcome"] == "reproduced" and "one seed" in one["reason"]
    # a wide CI widens the tolerance
    wide = inputs(measured(resnet18={"accuracy": [92.0, 95.0, 93.5]}))
    assert claims.rule_measured_value(R18_ACC, wide)["outcome"] == "reproduced"


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
    assert r["outcome"] == "inconsistent as stated"
    assert "60 s" in r["reason"] and "3,000 epochs" in r["reason"] and "minutes" in r["reason"]
    fixed = copy.deepcopy(PAPER)
    fixed["table2"]["rows"]["resnet18"]["seconds_per_epoch"] = 72.0  # 50 x 72 s = 1.0 h
    assert claims.rule_total_time_arithmetic(form, inputs(paper=fixed))["outcome"] == "consistent"


def test_error_vs_accuracy_each_way():
    form = {"model": "resnet34", "quantity": "test_error", "value": 5.2, "decimals": 1}
    r = claims.rule_error_vs_accuracy(form, inputs())
    assert r["outcome"] == "inconsistent as stated" and "4.9" in r["reason"]
    assert claims.rule_error_vs_accuracy({**form, "value": 4.9}, inputs())["outcome"] == "consistent"
    assert claims.rule_error_vs_accuracy({**form, "model": "vgg16"}, inputs())["outcome"] == "no paper data"


def test_parameter_count_each_way():
    form = {"model": "resnet18", "quantity": "params_millions", "value": 11.7, "decimals": 1}
    r = claims.rule_parameter_count(form, inputs())
    assert r["outcome"] == "inconsistent as stated" and "11,689,512" in r["reason"] and "11,173,962" in r["reason"]
    assert claims.rule_parameter_count({**form, "value": 11.2}, inputs())["outcome"] == "reproduced"
    assert claims.rule_parameter_count({**form, "value": 13.0}, inputs())["outcome"] == "not reproduced"
    assert claims.rule_parameter_count({**form, "model": "resnet1202"}, inputs())["outcome"] == "not testable"


def test_definition_and_hardware_dependent_values_each_way():
    meas = measured(resnet18={"epochs_to_convergence": [52, 49, 50], "seconds_per_epoch": [1.25, 1.2, 1.15]})
    ep = {"model": "resnet18", "quantity": "epochs_to_convergence", "value": 50, "decimals": 0}
    sp = {"model": "resnet18", "quantity": "seconds_per_epoch", "value": 1.2, "decimals": 1}
    assert claims.rule_definition_dependent(ep, inputs(meas))["outcome"] == "not testable"
    r = claims.rule_hardware_dependent(sp, inputs(meas))
    assert r["outcome"] == "not testable" and "41,667" in r["reason"]
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
    assert r["outcome"] == "not reproduced" and "noise" in r["reason"]
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
    assert claims.rules_trend(form, inputs(flat))[1]["outcome"] == "not reproduced"
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
    assert r["outcome"] == "inconsistent as stated" and "1,727,962" in r["reason"]
    assert (
        claims.rules_params_relation({**form, "model": "vgg16", "more_than": ["resnet110"]}, inputs())[0]["outcome"]
        == "reproduced"
    )
    trend = {"type": "params_trend", "order": ["resnet18", "resnet34", "resnet50", "resnet110"]}
    assert claims.rules_params_trend(trend, inputs())[0]["outcome"] == "inconsistent as stated"
    assert (
        claims.rules_params_trend({**trend, "order": ["resnet18", "resnet34", "resnet50"]}, inputs())[0]["outcome"]
        == "reproduced"
    )


def test_table_coverage_and_datasets_each_way():
    assert (
        claims.rules_table_covers({"table": "table1", "models": ["resnet110", "vgg16"]}, inputs())[0]["outcome"]
        == "inconsistent as stated"
    )
    assert (
        claims.rules_table_covers({"table": "table1", "models": ["resnet110"]}, inputs())[0]["outcome"] == "consistent"
    )
    assert claims.rules_datasets_reported({"at_least": 2}, inputs())[0]["outcome"] == "inconsistent as stated"
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
    r = claims.rules_gradient_guarantee({"block": "relu_linear"}, inputs())[0]
    assert r["outcome"] == "inconsistent as stated" and "w = -1" in r["reason"]
    assert claims.rules_gradient_guarantee({"block": "relu_linear_nonnegative"}, inputs())[0]["outcome"] == "reproduced"


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
    assert len(ids) == len(set(ids)) == 71
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
    a = claims.audit(CLAIMS, PAPER, _full_measurement(), COUNTS, FULL_SPEC)
    assert a["comparable"] and len(a["claims"]) == 71
    v = {c["id"]: c["verdict"] for c in a["claims"]}
    assert {k: n for k, n in a["verdicts"].items() if n} == Counter(v.values()), "the summary counts verdicts"
    # the paper's self-contradictions hold whatever we measure
    for cid in (
        "T1.resnet18.recall",
        "T2.resnet18.total_hours",
        "T2.resnet34.total_hours",
        "T2.resnet50.total_hours",
        "T3.resnet18.params_millions",
        "T3.resnet34.test_error",
        "t1.text-rows",
        "theory.residual-notation",
        "theory.stacked-blocks",
        "concl.r110-more-params",
        "concl.params-grow-with-depth",
        "intro.datasets",
    ):
        assert v[cid] == "inconsistent as stated", cid
    # measured against comparable synthetic runs
    assert v["T1.resnet18.accuracy"] == "reproduced"  # 94.7 +- 0.1 vs 94.5
    assert v["T1.resnet110.accuracy"] == "not reproduced"  # 93.6 vs 95.8
    assert v["T3.resnet18.test_error"] == "reproduced"
    assert v["concl.r110-lowest"] == "not reproduced"
    assert v["theory.gradient-identity"] == "reproduced"
    assert v["abs.residual-improves"] == "not testable"
    for c in a["claims"]:
        assert c["quote"] and c["location"] and c["reason"] and c["checks"]


def test_quick_run_audit_is_not_comparable_but_complete():
    a = claims.audit(CLAIMS, PAPER, _full_measurement(n_seeds=1), COUNTS, QUICK_SPEC)
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


def _grads(plain20, plain56, res56):
    def k(values):
        return {"grad_ratio_first_to_last_block": {"0": {"mean": sum(values) / len(values), "values": values}}}

    return {
        "depths": [20, 56],
        "kinds": {"plain20": k(plain20), "plain56": k(plain56), "resnet20": k([0.9]), "resnet56": k(res56)},
    }


def test_gradient_flow_rules_decide_both_ways():
    x = inputs()
    assert claims.rules_gradient_flow({"claim": "shrinks_with_depth"}, x)[0]["outcome"] == "not testable"
    x.gradients = _grads([0.5, 0.6], [0.01, 0.02], [0.8, 0.9])
    assert claims.rules_gradient_flow({"claim": "shrinks_with_depth"}, x)[0]["outcome"] == "reproduced"
    assert claims.rules_gradient_flow({"claim": "shortcut_mitigates"}, x)[0]["outcome"] == "reproduced"
    x.gradients = _grads([0.5, 0.6], [0.4, 0.5], [0.5, 0.6])
    assert claims.rules_gradient_flow({"claim": "shrinks_with_depth"}, x)[0]["outcome"] == "not reproduced"
    assert claims.rules_gradient_flow({"claim": "shortcut_mitigates"}, x)[0]["outcome"] == "not reproduced"
    x.gradients = _grads([0.5, 0.6], [0.01, 0.5], [0.8, 0.9])  # one seed breaks the factor
    assert claims.rules_gradient_flow({"claim": "shrinks_with_depth"}, x)[0]["outcome"] == "not reproduced"


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
        "background",
        "method",
        "residual_notation",
        "gradient_identity",
        "gradient_guarantee",
        "stacked_blocks",
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
        form, inputs(measured(resnet18={"accuracy": base}, resnet34={"accuracy": [b - 0.8 for b in base]}))
    )[1]
    assert "1 significantly the other way" in far["reason"]  # worse by more than the 0.5 pp margin
    near = claims.rules_no_degradation(
        form, inputs(measured(resnet18={"accuracy": base}, resnet34={"accuracy": [b - 0.5 for b in base]}))
    )[1]
    assert near["outcome"] == "not reproduced" and "inconclusive against the 0.5 pp margin" in near["reason"]
    assert "noise" not in near["reason"]


def test_an_exact_tie_without_spread_is_called_a_tie_and_the_reversal_uses_the_claims_alpha():
    form = {**BEATS_VGG, "metrics": ["epochs_to_convergence"], "direction": "lower"}
    tie = claims.rules_better(
        form,
        inputs(measured(resnet18={"epochs_to_convergence": [5, 5, 5]}, vgg16={"epochs_to_convergence": [5, 5, 5]})),
    )
    assert "1 tied (no seed-to-seed spread)" in tie[1]["reason"]
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
    """'Deeper not worse by 0.5 pp or more': 0.5 pp worse without spread fails, and says so."""
    form = {"type": "no_degradation", "order": ["resnet18", "resnet34"], "quantity": "accuracy"}
    for shallow in (93.5, 93.65):  # 93.65 - 0.5 is not exact in floating point
        meas = measured(resnet18={"accuracy": [shallow] * 3}, resnet34={"accuracy": [round(shallow - 0.5, 2)] * 3})
        r = claims.rules_no_degradation(form, inputs(meas))[1]
        assert r["outcome"] == "not reproduced" and "1 significantly the other way" in r["reason"], shallow
        assert "tied" not in r["reason"]
