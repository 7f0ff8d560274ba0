"""The claims the audit used to miss: Table 1's precision and F1 against what a balanced test set allows,
layer counts of published networks, and two statements of the theory section, each decided both ways."""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from resrepro import analysis, claims, evaluate, io, report
from resrepro.claims import Inputs
from resrepro.report import content
from resrepro.report.prose import Prose
from resrepro.stats import sqrt_recall_variance

REPO = Path(__file__).resolve().parents[1]
PAPER = yaml.safe_load((REPO / "reports" / "paper.yaml").read_text())
CLAIMS = claims.load_claims(REPO / "reports" / "claims.yaml")
MARGINS = claims.load_margins(REPO / "reports" / "claims.yaml")
COUNTS = {
    "resnet18": {"cifar10": 11_173_962, "imagenet": 11_689_512},
    "resnet34": {"cifar10": 21_282_122, "imagenet": 21_797_672},
    "resnet50": {"cifar10": 23_520_842, "imagenet": 25_557_032},
}


def inputs(meas=None, comparable=True, paper=PAPER, counts=COUNTS):
    x = Inputs(paper, meas or {}, counts, comparable, [] if comparable else ["a subset"], claims.text_values(CLAIMS))
    x.margins = MARGINS
    return x


def form_of(cid: str) -> dict:
    return next(c["form"] for c in CLAIMS if c["id"] == cid)


def macro(cm: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """Accuracy, macro precision (0 for a class never predicted) and macro F1 of a confusion matrix, and recalls."""
    tp, predicted, actual = np.diag(cm).astype(float), cm.sum(0).astype(float), cm.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = tp / actual
    f1 = 2 * tp / (predicted + actual)
    return float(tp.sum() / cm.sum()), float(precision.mean()), float(f1.mean()), recall


def random_balanced(rng, classes: int, n: int) -> np.ndarray:
    """A confusion matrix with n images per class: rows drawn from uneven class probabilities."""
    rows = []
    for c in range(classes):
        p = rng.dirichlet(np.full(classes, rng.choice([0.2, 1.0, 5.0])))
        p[c] += rng.uniform(0, 20)  # mostly right, by a class-dependent amount
        rows.append(rng.multinomial(n, p / p.sum()))
    return np.array(rows)


# --------------------------------------------------------------------------------------------
# the bound: macro precision, macro F1 >= (mean_c sqrt r_c)^2 on a balanced test set


def test_macro_precision_and_f1_never_fall_below_the_squared_mean_root_recall():
    rng = np.random.default_rng(0)
    without_square_root_violated = 0
    for _ in range(3000):
        classes, n = int(rng.integers(2, 11)), int(rng.integers(1, 60))
        cm = random_balanced(rng, classes, n)
        acc, precision, f1, recall = macro(cm)
        spread = sqrt_recall_variance(cm)
        assert recall.mean() == pytest.approx(acc), "macro recall is accuracy on a balanced test set"
        assert precision >= np.mean(np.sqrt(recall)) ** 2 - 1e-12
        assert f1 >= np.mean(np.sqrt(recall)) ** 2 - 1e-12
        assert acc - precision <= spread + 1e-12 and acc - f1 <= spread + 1e-12
        assert precision >= claims.macro_floor(acc, classes) - 1e-12 and f1 >= claims.macro_floor(acc, classes) - 1e-12
        without_square_root_violated += acc - precision > np.var(recall) + 1e-12
    assert without_square_root_violated > 0, "a wrong bound, Var_c(r_c) without the square root, fails"


def test_the_production_metrics_obey_the_bound():
    rng = np.random.default_rng(1)
    for _ in range(200):
        y = np.repeat(np.arange(10), 100)
        wrong = rng.random(1000) < rng.uniform(0, 0.6, 10)[y]
        pred = np.where(wrong, rng.choice(10, 1000, p=rng.dirichlet(np.ones(10) * 0.3)), y)
        m = evaluate.metrics(y, pred)
        spread = sqrt_recall_variance(m["confusion_matrix"])
        assert m["accuracy"] - m["precision_macro"] <= spread + 1e-12
        assert m["accuracy"] - m["f1_macro"] <= spread + 1e-12


def test_the_bound_is_tight():
    # precision: P_c proportional to sqrt TP_c (4 classes of 300 images)
    cm = np.array([[300, 0, 0, 0], [50, 75, 50, 125], [0, 0, 300, 0], [50, 125, 50, 75]])
    acc, precision, _, recall = macro(cm)
    assert cm.sum(1).tolist() == [300] * 4 and cm.sum(0).tolist() == [400, 200, 400, 200]
    assert precision == pytest.approx(0.5625, abs=1e-15) == np.mean(np.sqrt(recall)) ** 2
    assert acc - precision == pytest.approx(sqrt_recall_variance(cm), abs=1e-15)
    # F1: P_c + n proportional to sqrt TP_c
    cm = np.array([[300, 0, 0, 0], [100, 75, 100, 25], [0, 0, 300, 0], [100, 25, 100, 75]])
    acc, _, f1, _ = macro(cm)
    assert f1 == pytest.approx(0.5625, abs=1e-15) and acc - f1 == pytest.approx(sqrt_recall_variance(cm), abs=1e-15)


def test_the_floor_is_the_least_over_every_confusion_matrix_of_a_small_test_set():
    """Every confusion matrix of 3 classes x 4 images: the floor holds, and is reached where it can be."""
    classes, n = 3, 4
    rows = [r for r in itertools.product(range(n + 1), repeat=classes) if sum(r) == n]
    least: dict[int, float] = {}
    for cm in itertools.product(rows, repeat=classes):
        cm = np.array(cm)
        hits = int(np.trace(cm))
        least[hits] = min(least.get(hits, 1.0), macro(cm)[1])
    for hits, p in least.items():
        assert p >= claims.macro_floor(hits / (classes * n), classes) - 1e-12
    # all correct but one class entirely wrong: accuracy 2/3, floor (2/3)^2, reached
    assert least[8] == pytest.approx(claims.macro_floor(8 / 12, 3)) == pytest.approx((2 / 3) ** 2)
    assert least[8] < 8 / 12, "precision can fall below accuracy: the floor is not the accuracy"


def test_the_largest_spread_at_an_accuracy_comes_from_recalls_at_0_1_and_one_between():
    rng = np.random.default_rng(2)
    for _ in range(2000):
        classes = int(rng.integers(2, 11))
        r = rng.beta(rng.uniform(0.1, 5), rng.uniform(0.1, 5), classes)
        a = r.mean()
        assert np.mean(np.sqrt(r)) ** 2 >= claims.macro_floor(a, classes) - 1e-12
    k, t = 9, 0.575  # the extreme profile at accuracy 95.75 %
    r = np.array([1.0] * k + [t])
    assert np.mean(np.sqrt(r)) ** 2 == pytest.approx(claims.macro_floor(r.mean(), 10))
    assert claims.macro_floor(0.9575, 10) > claims.macro_floor(0.9555, 10) > claims.macro_floor(0.9, 10)
    assert 0.9 - claims.macro_floor(0.9, 10) == pytest.approx(0.9 * 0.1)  # k = 9, t = 0: A (1 - A)


# --------------------------------------------------------------------------------------------
# the rules on Table 1's precision and F1


def cell(model: str, quantity: str, paper=PAPER) -> dict:
    return {"model": model, "quantity": quantity, "value": paper["table1"]["rows"][model][quantity], "decimals": 1}


def test_macro_floor_each_way():
    x = inputs()
    r110 = claims.rule_macro_floor(cell("resnet110", "precision"), x)
    # below the floor at the printed accuracy, but not at the printed recall (95.35): possible for one evaluation
    assert r110["outcome"] == "consistent" and r110["kind"] == "dataset" and "printed recall" in r110["reason"]
    assert r110["evidence"]["floor"] == pytest.approx(100 * claims.macro_floor(0.9575, 10))
    assert r110["evidence"]["floor_at_printed_recall"] == pytest.approx(100 * claims.macro_floor(0.9535, 10))
    assert "95.75 %" in r110["reason"] and "9 classes at recall 1" in r110["reason"]
    for m, q in (("resnet18", "precision"), ("resnet34", "precision"), ("resnet110", "f1"), ("resnet18", "f1")):
        assert claims.rule_macro_floor(cell(m, q), x)["outcome"] == "consistent", (m, q)
    paper = copy.deepcopy(PAPER)
    paper["table1"]["rows"]["resnet110"]["recall"] = 95.8  # = the accuracy: now the floor binds
    r = claims.rule_macro_floor(cell("resnet110", "precision", paper), inputs(paper=paper))
    # impossible for one evaluation; an average of runs of different accuracy could still print so: implausible
    assert r["outcome"] == "implausible" and "average" in r["evidence"]["condition"]
    paper["table1"]["rows"]["resnet110"]["precision"] = 95.3  # above the floor of 95.22
    assert (
        claims.rule_macro_floor(cell("resnet110", "precision", paper), inputs(paper=paper))["outcome"] == "consistent"
    )
    paper["table1"]["rows"]["resnet18"]["f1"] = 93.3  # below 93.45 at accuracy 94.45 and 93.0 at recall 94.15...
    paper["table1"]["rows"]["resnet18"]["recall"] = 94.5
    assert claims.rule_macro_floor(cell("resnet18", "f1", paper), inputs(paper=paper))["outcome"] == "implausible"


def spread(model: str, values: list[float], acc=95.0) -> dict:
    def s(v):
        return {"mean": sum(v) / len(v), "values": list(v), "n": len(v)}

    return {model: {"recall_spread": s(values), "accuracy": s([acc] * len(values)), "devices": ["Test GPU"]}}


def test_recall_spread_each_way():
    form = cell("resnet18", "precision")  # 0.7 pp below accuracy: needs a spread >= 0.60 pp
    typical = claims.rule_recall_spread(form, inputs(spread("resnet18", [0.02, 0.03, 0.025])))
    assert typical["outcome"] == "implausible" and typical["depends_on"] == ["recipe"]
    assert "0.60 pp" in typical["reason"] and "20 x the largest" in typical["reason"]
    wide = claims.rule_recall_spread(form, inputs(spread("resnet18", [0.2, 0.35])))
    assert wide["outcome"] == "consistent"
    assert claims.rule_recall_spread(form, inputs(spread("resnet18", [0.0])))["outcome"] == "implausible"
    assert claims.rule_recall_spread(form, inputs())["outcome"] == "not testable"
    quick = claims.rule_recall_spread(form, inputs(spread("resnet18", [0.02]), comparable=False))
    assert quick["outcome"] == "not testable" and "not comparable" in quick["reason"]
    r110 = claims.rule_recall_spread(cell("resnet110", "f1"), inputs(spread("resnet110", [0.02])))
    assert r110["outcome"] == "implausible" and r110["depends_on"] == ["recipe", "resnet110"]


def test_table1_precision_and_f1_cells_get_both_checks():
    assert (
        claims.rule_macro_floor in claims.CELL_RULES["precision"]
        and claims.rule_recall_spread in (claims.CELL_RULES["f1"])
    )
    rules = [c["rule"] for c in claims.rules_value(cell("resnet110", "precision") | {"type": "table_cell"}, inputs())]
    assert rules[1:] == ["macro_floor", "recall_spread"]


def test_the_analysis_stores_each_seeds_recall_spread(tmp_path):
    y = np.repeat(np.arange(10), 10)
    pred = y.copy()
    pred[:5] = 1  # class 0: recall 0.5
    m = evaluate.metrics(y, pred)
    io.write_json(tmp_path / "models.json", [{"model": "resnet18", "params": 1, "flops_per_image": 1}])
    io.write_json(tmp_path / "eval" / "resnet18" / "seed0" / "metrics.json", m)
    io.write_json(
        tmp_path / "train" / "resnet18" / "seed0" / "train.json", {"images_per_second": 1.0, "device_name": "X"}
    )
    pd.DataFrame({"val_acc": [0.5], "epoch_seconds": [1.0]}).to_csv(
        tmp_path / "train" / "resnet18" / "seed0" / "history.csv", index=False
    )
    measured = analysis.collect(tmp_path, ["resnet18"], [0], 0.01)
    roots = np.sqrt([0.5] + [1.0] * 9)
    assert measured["resnet18"]["recall_spread"]["values"] == [pytest.approx(100 * np.var(roots))]
    assert 100 * np.var(roots) == pytest.approx(100 * (0.95 - roots.mean() ** 2))


# --------------------------------------------------------------------------------------------
# layer counts and the residual function, counted from torchvision


def test_layer_counts_each_way():
    pytest.importorskip("torchvision")
    for cid in ("intro.resnet152", "related.layer-counts"):
        (c,) = claims.rules_layer_count(form_of(cid), inputs())
        assert c["outcome"] == "reproduced", c["reason"]
    (c,) = claims.rules_layer_count({"layers": {"resnet152": 156}}, inputs())
    assert c["outcome"] == "not reproduced" and c["evidence"]["counted"]["resnet152"]["all"] == 156
    assert "4 projection shortcuts" in c["reason"]
    (c,) = claims.rules_layer_count({"layers": {"alexnet": 7, "vgg16": 16}}, inputs())
    assert c["outcome"] == "not reproduced" and "AlexNet 7" in c["reason"]
    assert claims.rules_layer_count({"layers": {"lenet5": 5}}, inputs())[0]["outcome"] == "not testable"


def test_the_degradation_half_of_the_resnet152_sentence_is_out_of_scope():
    (c,) = claims.rules_background(form_of("intro.resnet152-no-degradation"), inputs())
    assert c["outcome"] == "not testable" and c["untestable"] == "out of scope" and "ImageNet" in c["reason"]


def test_residual_function_each_way():
    pytest.importorskip("torchvision")
    (c,) = claims.rules_residual_function(form_of("theory.residual-function"), inputs())
    # a description against the networks named, not an impossibility: not reproduced, and the reason says none fits
    assert c["outcome"] == "not reproduced" and "none of the networks" in c["reason"], c["reason"]
    assert "ReLU(F(x) + x)" in c["reason"] and "ResNet-50 25.6 M = 25,557,032" in c["reason"]
    assert c["evidence"]["found"]["resnet50"]["convs"] == [3]
    basic = {"convs": 2, "relu_inside": False, "models": ["resnet18", "resnet34"]}
    assert claims.rules_residual_function(basic, inputs())[0]["outcome"] == "reproduced"
    assert claims.rules_residual_function(basic | {"relu_inside": True}, inputs())[0]["outcome"] == ("not reproduced")
    mixed = basic | {"models": ["resnet18", "resnet50"]}
    assert claims.rules_residual_function(mixed, inputs())[0]["outcome"] == "not reproduced"
    assert claims.rules_residual_function(basic | {"models": ["vgg16"]}, inputs())[0]["outcome"] == "not testable"


# --------------------------------------------------------------------------------------------
# F close to the identity


def test_near_identity_each_way():
    (block,) = claims.rules_near_identity(form_of("theory.near-identity-block"), inputs())
    assert block["outcome"] == "inconsistent as stated" and "gives 2x" in block["reason"]
    assert "F(x) close to 0 that gives x" in block["reason"]
    assert block["evidence"]["relative_deviation"][1e-6] == pytest.approx(1.0, abs=1e-5)
    zero = form_of("theory.near-identity-block") | {"near": {}}
    assert claims.rules_near_identity(zero, inputs())[0]["outcome"] == "reproduced"
    (residual,) = claims.rules_near_identity(form_of("theory.near-identity-residual"), inputs())
    assert residual["outcome"] == "reproduced"
    assert claims.rules_near_identity(form_of("theory.near-identity-residual") | {"claimed": {"x": 1}}, inputs())[0][
        "outcome"
    ] == ("inconsistent as stated")


# --------------------------------------------------------------------------------------------
# the audit and the report


def test_the_new_claims_get_their_verdicts_in_the_audit():
    pytest.importorskip("torchvision")
    spec = {"run": "paper", "stamp": None, "data": {}, "train": {"epochs": 200}}
    a = claims.audit(CLAIMS, PAPER, {}, COUNTS, spec, margins=MARGINS)
    v = {c["id"]: c["verdict"] for c in a["claims"]}
    assert v["T1.resnet110.precision"] == v["T1.resnet50.precision"] == "not testable"  # no measurement here
    # impossible only where F names the residual; where F is the desired mapping (Sec. 1) the sentence holds
    block = next(c for c in a["claims"] if c["id"] == "theory.near-identity-block")
    assert block["verdict"] == "reproduced" and not block["robust"]
    assert [r["verdict"] for r in block["readings"]] == ["inconsistent as stated", "reproduced"]
    assert v["theory.residual-function"] == "not reproduced"
    assert v["intro.resnet152"] == v["related.layer-counts"] == v["theory.near-identity-residual"] == "reproduced"
    assert v["intro.resnet152-no-degradation"] == "not testable"


def test_the_report_states_the_proof_and_each_cells_floor():
    text = Prose(report.TEMPLATE_DIR / report.TEXT_FILE)
    audit = {
        "claims": [
            {
                "id": "T1.resnet110.precision",
                "form": {"quantity": "precision", "decimals": 1},
                "checks": [claims.rule_macro_floor(cell("resnet110", "precision"), inputs())],
            }
        ]
    }
    floors = content._floors(audit)
    assert floors[0]["floor"] == pytest.approx(100 * claims.macro_floor(0.9575, 10))
    section = content._section(text, "bounds", {"stamp": None, "comparable": True, "study": False, "floors": floors})
    body = " ".join(section["paragraphs"])
    assert "Cauchy-Schwarz" in body and "Var_c(sqrt r_c)" in body and "k = floor(C A)" in body
    assert f"floor {floors[0]['floor']:.3f} %" in body and "inconsistent as stated" in body
    assert math.isclose(floors[0]["largest_spread"], 95.75 - floors[0]["floor"])
