"""The audit's timing claims read only the seeds timed alone on their GPU (resrepro.timing): shared seeds or seeds of
unknown sharing are a labelled side record, never mixed in; every obstacle to a decision is named; the cost of
deciding one counts seeds timed alone; a claim ranging over the run's models waits for every model it planned."""

from __future__ import annotations

from pathlib import Path

import pytest

from resrepro import timing
from resrepro.claims import FORM_RULES, Inputs, cost, load_margins
from resrepro.claims.audit import audit
from resrepro.claims.common import INCONCLUSIVE, NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED
from resrepro.claims.merged import Run
from resrepro.paper import load_paper
from resrepro.stats import summarise

REPO = Path(__file__).resolve().parents[1]
PAPER = load_paper(REPO / "reports" / "paper.yaml")
MARGINS = load_margins(REPO / "reports" / "claims.yaml")
MODELS = ("resnet18", "resnet34", "resnet50", "vgg16")
TREND = {"type": "trend", "order": ["resnet18", "resnet34", "resnet50"], "direction": "increasing"}


def timed(i: int, shared=(), n: int = 3, devices=("Test GPU",), shared_values=None) -> dict:
    """A measured.json entry with ``n`` seeds (ids 10, 11, ...) of model ``i``; ``shared``: the seed ids timed shared;
    ``shared_values``: what a shared seed's times read instead (default: the same as alone)."""
    seeds = [10 + s for s in range(n)]
    alone = [s not in shared for s in seeds]
    base = [10.0 * (i + 1) + 0.1 * s for s in range(n)]
    spe = [v if a or shared_values is None else shared_values for v, a in zip(base, alone)]
    return {
        "seconds_per_epoch": summarise(spe),
        "total_hours": summarise([v / 10 for v in spe]),
        "images_per_second": summarise([45000 / v for v in spe]),
        "devices": list(devices),
        "seeds": seeds,
        "timed_alone": alone,
        "unshared_epochs": [3 if a else 0 for a in alone],
        "epochs_timed": [3] * n,
        "shared_seeds": [s for s, a in zip(seeds, alone) if not a],
        "unknown_seeds": [],
        "seconds_per_epoch_shared_by": 2 if shared else None,
    }


def inputs(entries: dict | None = None, paper=PAPER) -> Inputs:
    measured = {m: timed(i) for i, m in enumerate(MODELS)} | (entries or {})
    x = Inputs(paper, measured, {}, True)
    x.margins = MARGINS
    return x


def measured_check(form: dict, x: Inputs) -> dict:
    return FORM_RULES[form["type"]](form, x)[1]


@pytest.mark.parametrize("quantity", ["seconds_per_epoch", "total_hours", "images_per_second"])
def test_a_timing_claim_on_a_model_never_timed_alone_is_not_testable_for_every_time(quantity):
    direction = "decreasing" if quantity == "images_per_second" else "increasing"
    form = TREND | {"quantity": quantity, "direction": direction}
    assert measured_check(form, inputs())["outcome"] == REPRODUCED
    c = measured_check(form, inputs({"resnet34": timed(1, shared=(10, 11, 12))}))
    assert c["outcome"] == NOT_TESTABLE and c["reason"].startswith(timing.SHARED_REASON)
    assert "ResNet-34 0 of 3" in c["reason"]
    assert "no seed of ResNet-34 was timed alone" in c["evidence"]["shared_timing"]
    assert c["evidence"]["sharing_sampled"] == timing.SAMPLING


def test_a_partly_shared_model_is_decided_on_its_seeds_timed_alone_only():
    # the shared seed's time (45 s, packed) would reverse resnet34 < resnet50 if it were mixed in
    mixed = inputs({"resnet34": timed(1, shared=(12,), shared_values=45.0)})
    c = measured_check(TREND | {"quantity": "seconds_per_epoch"}, mixed)
    assert c["outcome"] == REPRODUCED
    assert [t["mean_better"] for t in c["evidence"]["tests"]][0] == pytest.approx(20.05)  # seeds 10 and 11 only
    assert "1 of 3 seeds of ResNet-34 not timed alone, left out (their values: 45)" in c["evidence"]["shared_timing"]
    # one seed alone and nine shared: not decided on the packed times, not testable
    few = inputs({"resnet34": timed(1, shared=tuple(range(11, 20)), n=10, shared_values=45.0)})
    c = measured_check(TREND | {"quantity": "seconds_per_epoch"}, few)
    assert c["outcome"] == NOT_TESTABLE and "ResNet-34 1 of 10" in c["reason"]


def test_a_shared_model_with_one_seed_in_a_run_not_comparable_names_every_obstacle():
    one = {m: timed(i, n=1) for i, m in enumerate(MODELS)}
    one["resnet34"] = timed(1, shared=(10,), n=1)
    x = inputs(one)
    x.comparable, x.not_comparable = False, ["training subsets of 1,000 images"]
    r = measured_check(TREND | {"quantity": "seconds_per_epoch"}, x)["reason"]
    assert r.startswith(timing.SHARED_REASON) and "would decide it" not in r.split("; measured")[0]
    assert "only one seed for ResNet-18, ResNet-50" in r and "run not comparable with the paper" in r


def test_timing_claims_on_seeds_or_models_of_different_devices_are_not_testable():
    form = TREND | {"quantity": "seconds_per_epoch"}
    mixed_seeds = measured_check(form, inputs({"resnet34": timed(1, devices=("NVIDIA H200", "cpu"))}))
    assert mixed_seeds["outcome"] == NOT_TESTABLE
    assert "seeds of ResNet-34 ran on NVIDIA H200, cpu" in mixed_seeds["reason"]
    mixed_models = measured_check(form, inputs({"resnet50": timed(2, devices=("cpu",))}))
    assert mixed_models["outcome"] == NOT_TESTABLE
    assert "the compared models ran on different devices" in mixed_models["reason"]
    accuracy = {"type": "trend", "order": ["resnet18", "resnet34"], "quantity": "accuracy", "direction": "increasing"}
    x = inputs({"resnet34": timed(1, devices=("cpu",))})
    for m in ("resnet18", "resnet34"):
        x.measured[m]["accuracy"] = summarise([90.0, 90.1, 90.2] if m == "resnet18" else [91.0, 91.1, 91.2])
    assert measured_check(accuracy, x)["outcome"] == REPRODUCED, "an accuracy does not depend on the device"


@pytest.mark.parametrize("aggregate", [None, "mean"])
def test_better_forms_with_shared_models_are_not_testable_with_or_without_aggregate_mean(aggregate):
    form = {"type": "better", "better": ["resnet18", "resnet34", "resnet50"], "than": ["vgg16"]}
    form |= {"metrics": ["seconds_per_epoch"], "direction": "lower"} | ({"aggregate": aggregate} if aggregate else {})
    shared = {m: timed(i, shared=(10, 11, 12)) for i, m in enumerate(MODELS[:3])}
    c = measured_check(form, inputs(shared))
    assert c["outcome"] == NOT_TESTABLE and c["reason"].startswith(timing.SHARED_REASON)
    assert "no seed of ResNet-18, ResNet-34, ResNet-50 was timed alone" in c["evidence"]["shared_timing"]
    assert measured_check(form, inputs())["outcome"] == REPRODUCED


def test_an_aggregate_mean_pairs_seeds_by_id_and_over_the_seeds_all_members_timed_alone():
    from resrepro.claims.orderings import group_mean

    x = inputs({"resnet34": timed(1, shared=(10,))})
    x.measured["resnet50"] = timed(2) | {"seeds": [12, 11, 10]}  # the same values, seeds listed in another order
    name, g = group_mean(x, ["resnet18", "resnet34", "resnet50"], ["seconds_per_epoch"])
    entry = g.measured[name]
    assert entry["seconds_per_epoch"]["seeds"] == [11, 12] and entry["members"] == ["resnet18", "resnet34", "resnet50"]
    # seed 11: 10.1, 20.1, 30.1 (resnet50's second value is seed 11); seed 12: 10.2, 20.2, 30.0
    assert entry["seconds_per_epoch"]["values"] == pytest.approx([(10.1 + 20.1 + 30.1) / 3, (10.2 + 20.2 + 30.0) / 3])


def test_lowest_with_shared_times_is_not_testable():
    form = {"type": "lowest", "model": "resnet18", "quantity": "seconds_per_epoch"}
    c = measured_check(form, inputs({"resnet50": timed(2, shared=(10, 11, 12))}))
    assert c["outcome"] == NOT_TESTABLE and timing.SHARED_REASON in c["reason"]


def test_a_printed_time_on_the_papers_hardware_is_not_testable_when_ours_were_all_shared():
    paper = {**PAPER, "hardware": "Test GPU"}
    form = {"type": "table_cell", "model": "resnet18", "quantity": "seconds_per_epoch", "value": 10.1, "decimals": 1}
    shared = FORM_RULES["table_cell"](form, inputs({"resnet18": timed(0, shared=(10, 11, 12))}, paper))[0]
    alone = FORM_RULES["table_cell"](form, inputs(paper=paper))[0]
    assert shared["outcome"] == NOT_TESTABLE and timing.SHARED_REASON in shared["reason"]
    assert "not in this run" not in shared["reason"], "a model timed only shared is in the run"
    assert alone["outcome"] != NOT_TESTABLE and "shared_timing" not in alone["evidence"]
    other = FORM_RULES["table_cell"](form, inputs({"resnet34": timed(1, devices=("cpu",))}, paper))[0]
    assert other["outcome"] != NOT_TESTABLE, "another model's device does not matter to ResNet-18's time"


def context(measured: dict, runs=None) -> cost.Context:
    runs = runs or [Run("paper", Path("/nonexistent"), {}, measured, [], None)]
    target = {"seeds": 3, "epochs": 200, "train_images": 45000}
    return cost.Context(PAPER, [], {}, measured, runs, target, False, MARGINS)


def test_the_cost_of_a_timing_claim_whose_seeds_were_all_shared_is_a_retraining_alone():
    x = inputs({"resnet34": timed(1, shared=(10, 11, 12))})
    form = TREND | {"quantity": "seconds_per_epoch"}
    out = cost.to_decide(form, context(x.measured))
    assert out["text"].startswith("to decide it: train ResNet-34 x 3 seeds, 200 epochs")
    assert "(timed alone: train.pack: 1)" in out["text"]
    partly = cost.to_decide(form, context(inputs({"resnet34": timed(1, shared=(12,))}).measured))
    assert [(r["model"], r["seeds"]) for r in partly["runs"]] == [("resnet34", 1)], "the target's third seed, alone"


def test_the_cost_of_a_timing_claim_on_models_of_different_devices_retrains_them_on_one():
    x = inputs({"resnet50": timed(2, devices=("cpu",))})
    out = cost.to_decide(TREND | {"quantity": "seconds_per_epoch"}, context(x.measured))
    assert out["text"] != cost.NO_RUN_DECIDES and {r["model"] for r in out["runs"]} >= {"resnet50"}
    assert "(timed alone: train.pack: 1, all on one device)" in out["text"]


def test_a_total_time_claim_on_estimated_totals_says_so_in_its_evidence():
    entry = timed(1) | {"unshared_epochs": [5, 3, 3], "epochs_timed": [6, 3, 3]}
    c = measured_check(TREND | {"quantity": "total_hours"}, inputs({"resnet34": entry}))
    assert "ResNet-34's times of some seeds are estimated from their epochs alone" in c["evidence"]["shared_timing"]
    per_epoch = measured_check(TREND | {"quantity": "seconds_per_epoch"}, inputs({"resnet34": entry}))
    assert "shared_timing" not in per_epoch["evidence"], "a mean over epochs alone is measured, not estimated"


def test_the_cost_throughput_prefers_a_run_timed_alone_and_its_seeds_timed_alone():
    packed = {"resnet18": timed(0, shared=(10, 11, 12))}  # 45000 / 10 ... images/s, labelled shared
    alone = {"resnet18": timed(0) | {"images_per_second": summarise([1000.0] * 3)}}
    runs = [Run("packed", Path("/x"), {}, packed, [], None), Run("alone", Path("/y"), {}, alone, [], None)]
    tp = cost.throughput("resnet18", context(packed, runs))
    assert tp["run"] == "alone" and tp["images_per_second"] == pytest.approx(1000.0) and tp["device"] == "Test GPU"
    partly = {"resnet18": timed(0, shared=(12,)) | {"images_per_second": summarise([1000.0, 1000.0, 1900.0])}}
    tp = cost.throughput("resnet18", context(partly, [Run("p", Path("/z"), {}, partly, [], None)]))
    assert tp["images_per_second"] == pytest.approx(1000.0) and tp["device"] == "Test GPU (partly shared GPU)"


def test_the_cost_of_a_claim_says_when_its_throughput_was_timed_on_a_shared_gpu():
    def device(shared):
        e = timed(0, shared=shared)
        return cost.throughput("resnet18", context({}, [Run("paper", Path("/x"), {}, {"resnet18": e}, [], None)]))

    assert device(())["device"] == "Test GPU"
    assert device((10, 11, 12))["device"] == "Test GPU (shared GPU)"
    assert device((12,))["device"] == "Test GPU (partly shared GPU)"


def errors(err: float) -> dict:
    return {"test_error": summarise([err, err + 0.1, err + 0.2]), "devices": ["G"]}


def accuracies(acc: float) -> dict:
    return {"accuracy": summarise([acc, acc + 0.1, acc + 0.2]), "devices": ["G"]}


def planned(measured: dict, models) -> Inputs:
    x = Inputs(PAPER, measured, {}, True)
    x.margins, x.planned = MARGINS, list(models)
    return x


def test_lowest_on_a_partial_archive_is_not_testable_naming_the_missing_model():
    full = {"resnet110": errors(5.0), "resnet18": errors(6.0), "resnet34": errors(4.0)}
    full |= {"resnet50": errors(7.0), "vgg16": errors(8.0)}
    form = {"type": "lowest", "model": "resnet110", "quantity": "test_error"}
    assert measured_check(form, planned(full, full))["outcome"] == NOT_REPRODUCED
    part = {m: v for m, v in full.items() if m != "resnet34"}  # resnet34 not archived: it alone beats ResNet-110
    c = measured_check(form, planned(part, full))
    assert c["outcome"] == NOT_TESTABLE and "ResNet-34 not measured" in c["reason"]
    assert c["untestable"] == "not in this run"


def test_deepest_pair_and_depth_claims_on_a_partial_archive_are_not_testable():
    full = {"plain20": accuracies(91), "resnet20": accuracies(92), "plain56": accuracies(88)}
    full |= {"resnet56": accuracies(93), "plain110": accuracies(94), "resnet110": accuracies(93.5)}
    part = {m: v for m, v in full.items() if m != "plain110"}
    deepest = {"type": "residual_vs_plain", "quantity": "accuracy", "direction": "higher", "depths": "deepest"}
    assert measured_check(deepest, planned(full, full))["outcome"] == NOT_REPRODUCED
    c = measured_check(deepest, planned(part, full))
    assert c["outcome"] == NOT_TESTABLE and "plain-110 not measured" in c["reason"]
    assert measured_check(deepest, planned(part, part))["outcome"] == REPRODUCED, "what the run planned, it has"
    gap = {"type": "residual_gap_grows", "quantity": "accuracy"}
    assert "plain-110 not measured" in measured_check(gap, planned(part, full))["reason"]
    degradation = {"type": "degradation", "quantity": "accuracy"}
    assert "plain-110 not measured" in measured_check(degradation, planned(part, full))["reason"]


def test_the_audit_reads_the_planned_models_from_the_spec():
    measured = {"resnet110": errors(5.0), "resnet18": errors(6.0), "resnet50": errors(7.0), "vgg16": errors(8.0)}
    claim = {"id": "c", "location": "l", "quote": "q", "statement": "s"}
    claim["form"] = {"type": "lowest", "model": "resnet110", "quantity": "test_error"}
    spec = {"run": "r", "train": {"epochs": 200}, "planned": [[m, 0] for m in [*measured, "resnet34"]]}
    entry = next(e for e in audit([claim], PAPER, measured, {}, spec, None, MARGINS)["claims"] if e["id"] == "c")
    assert entry["verdict"] == NOT_TESTABLE and INCONCLUSIVE != entry["verdict"]
    assert "ResNet-34 not measured" in str(entry)
