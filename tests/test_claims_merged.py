"""The merged audit across runs: small synthetic result folders (measured.json, models.json,
provenance.json as the analysis and provenance stages write them), one audit of all of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synthetic_runs import grads, spec, write_run

from resrepro import ResreproError, catalog, cli, config, io
from resrepro.claims import run_merged_audit

REPO = Path(__file__).resolve().parents[1]
PAPER, CLAIMS = REPO / "reports" / "paper.yaml", REPO / "reports" / "claims.yaml"
TARGET = {"seeds": 3, "epochs": 200, "train_images": 45000}


def by_id(audit):
    return {c["id"]: c for c in audit["claims"]}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """`paper`: ResNet-110 and VGG-16 over 3 seeds; `degradation`: plain/residual twins at depths 20 and 56
    with a gradient study; both comparable with the paper (full data, at least 90 epochs, no stamp)."""
    root = tmp_path_factory.mktemp("results")
    r110 = {"accuracy": [95.7, 95.8, 95.9], "images_per_second": [1000.0] * 3}
    vgg = {"accuracy": [93.0, 93.1, 93.2], "images_per_second": [800.0] * 3}
    paper = write_run(root, spec("paper"), {"resnet110": r110, "vgg16": vgg})
    twins = {
        "plain20": {"accuracy": [90.0, 90.2, 90.1], "train_accuracy": [99.0, 99.1, 99.2]},
        "resnet20": {"accuracy": [91.5, 91.7, 91.6], "train_accuracy": [99.5, 99.6, 99.7]},
        "plain56": {"accuracy": [88.0, 88.2, 88.1], "train_accuracy": [95.0, 95.1, 95.2]},
        "resnet56": {"accuracy": [93.0, 93.2, 93.1], "train_accuracy": [99.8, 99.9, 99.7]},
    }
    degradation = write_run(root, spec("degradation", epochs=182), twins, gradients=grads())
    audit = run_merged_audit([paper, degradation], PAPER, CLAIMS, target=TARGET)
    return root, audit


def test_a_claim_decidable_from_either_run_is_decided(two_runs):
    _, audit = two_runs
    c = by_id(audit)
    # from `paper` alone: ResNet-110's test error against the paper's 4.2 %
    assert c["concl.r110-error"]["verdict"] == "reproduced" and c["concl.r110-error"]["runs"] == ["paper"]
    # from `degradation` alone: residual beats plain at both depths, and the deepest plain net degrades
    assert c["abs.residual-improves"]["verdict"] == "reproduced" and c["abs.residual-improves"]["runs"] == [
        "degradation"
    ]
    assert c["intro.degradation"]["verdict"] == "reproduced"
    # gradient norms come from the run with the degradation study
    grad = c["intro.vanishing-gradient"]
    assert grad["verdict"] == "reproduced" and grad["evidence_from"]["gradients"] == "degradation"
    assert audit["gradients_from"] == "degradation" and audit["comparable"]
    assert audit["verdicts"] == {v: sum(e["verdict"] == v for e in audit["claims"]) for v in audit["verdicts"]}


def test_each_models_numbers_come_from_the_comparable_run_else_the_one_with_more_seeds(tmp_path):
    quick = spec("quick", subset=1000, epochs=1, stamp="quick preset")
    runs = [
        # ResNet-110: 3 seeds in the run that is not comparable, 2 in the comparable one -> the comparable one
        write_run(tmp_path, quick, {"resnet110": {"accuracy": [50.0, 51.0, 52.0]}, "vgg16": {"accuracy": [40.0]}}),
        write_run(tmp_path, spec("paper"), {"resnet110": {"accuracy": [95.8, 95.9]}}),
        # VGG-16 in two runs, neither comparable: the one with more seeds
        write_run(tmp_path, spec("warm", subset=1000, epochs=1), {"vgg16": {"accuracy": [41.0, 42.0]}}),
    ]
    audit = run_merged_audit(runs, PAPER, CLAIMS, target=TARGET)
    assert audit["models"] == {"resnet110": {"run": "paper", "seeds": 2}, "vgg16": {"run": "warm", "seeds": 2}}
    assert [r["comparable"] for r in audit["runs"]] == [False, True, False]
    c = by_id(audit)
    assert c["concl.r110-error"]["verdict"] == "reproduced"
    assert c["concl.r110-error"]["evidence_from"]["models"] == {"resnet110": "paper"}
    # ResNet-110 against VGG-16 needs VGG-16's numbers, which only runs not comparable have: still not testable
    beats = c["t3.text-r110-beats-vgg16"]
    assert beats["verdict"] == "not testable" and "not comparable" in beats["reason"]
    assert beats["evidence_from"]["models"] == {"resnet110": "paper", "vgg16": "warm"} and beats["runs"] == [
        "paper",
        "warm",
    ]


def test_a_claim_decided_only_from_a_run_not_comparable_stays_not_testable(tmp_path):
    quick = spec("quick", subset=1000, epochs=1, stamp="quick preset")
    run = write_run(tmp_path, quick, {"resnet110": {"accuracy": [95.8, 95.8, 95.8]}})
    c = by_id(run_merged_audit([run], PAPER, CLAIMS, target=TARGET))["concl.r110-error"]
    assert c["verdict"] == "not testable" and "quick preset" in c["reason"] and c["runs"] == ["quick"]
    assert c["untestable"] == "not in this run" and c["to_decide"]["runs"][0]["model"] == "resnet110"


def test_a_degradation_study_not_comparable_with_the_paper_decides_no_gradient_claim(tmp_path):
    r110 = {"accuracy": [95.7, 95.8, 95.9], "images_per_second": [1000.0] * 3}
    paper = write_run(tmp_path, spec("paper"), {"resnet110": r110})
    twins = {m: {"accuracy": [90.0, 90.1, 90.2], "train_accuracy": [99.0, 99.1, 99.2]} for m in catalog.pair(20)}
    twins |= {m: {"accuracy": [88.0, 88.1, 88.2], "train_accuracy": [95.0, 95.1, 95.2]} for m in catalog.pair(56)}
    short = write_run(tmp_path, spec("degradation", epochs=5), twins, gradients=grads())
    c = by_id(run_merged_audit([paper, short], PAPER, CLAIMS, target=TARGET))
    for cid in ("intro.vanishing-gradient", "intro.degradation-is-vanishing", "intro.degradation"):
        assert c[cid]["verdict"] == "not testable", (cid, c[cid]["reason"])


def test_the_cost_of_deciding_is_seeds_x_epochs_x_images_over_the_measured_throughput(tmp_path):
    # ResNet-110 measured (1 seed, 1,000 images/s on a GPU); VGG-16 never: scaled by MACs from ResNet-110
    run = write_run(
        tmp_path, spec("paper", seeds=[0]), {"resnet110": {"accuracy": [95.8], "images_per_second": [1000.0]}}
    )
    c = by_id(run_merged_audit([run], PAPER, CLAIMS, target=TARGET))["t3.text-r110-beats-vgg16"]
    assert c["verdict"] == "not testable" and c["untestable"] == "not in this run"
    rows = {r["model"]: r for r in c["to_decide"]["runs"]}
    assert set(rows) == {"resnet110", "vgg16"}
    assert rows["resnet110"]["seeds"] == 2 and rows["resnet110"]["throughput"]["basis"] == "measured"
    assert rows["resnet110"]["hours"] == pytest.approx(2 * 200 * 45000 / 1000 / 3600)  # 5.0 h
    vgg_ips = 1000 * catalog.get("resnet110").macs / catalog.get("vgg16").macs
    assert rows["vgg16"]["seeds"] == 3 and rows["vgg16"]["throughput"]["from_model"] == "resnet110"
    assert rows["vgg16"]["throughput"]["images_per_second"] == pytest.approx(vgg_ips)
    assert rows["vgg16"]["hours"] == pytest.approx(3 * 200 * 45000 / vgg_ips / 3600)
    total = rows["resnet110"]["hours"] + rows["vgg16"]["hours"]
    assert c["to_decide"]["gpu_hours"] == pytest.approx(total) and f"about {total:,.1f} GPU-hours" in c["reason"]
    assert "scaled by MACs: VGG-16 from ResNet-110" in c["to_decide"]["basis"]


def test_throughput_measured_on_a_cpu_gives_no_gpu_hours(tmp_path):
    run = write_run(
        tmp_path,
        spec("paper", seeds=[0]),
        {"resnet110": {"accuracy": [95.8], "images_per_second": [50.0]}},
        device="cpu",
    )
    c = by_id(run_merged_audit([run], PAPER, CLAIMS, target=TARGET))["t3.text-r110-beats-vgg16"]
    assert c["to_decide"]["gpu_hours"] is None and c["to_decide"]["hours"] > 0 and "(a CPU)" in c["reason"]


def test_no_cost_is_given_where_no_run_of_ours_would_decide_it(two_runs):
    _, audit = two_runs
    c = by_id(audit)
    # the paper names no hardware: ResNet-18's time per epoch is underspecified, and no run of ours is costed for it
    t = c["T2.resnet18.seconds_per_epoch"]
    assert t["verdict"] == "not testable" and t["untestable"] == "underspecified" and "to_decide" not in t
    # a claim that more runs would decide gets the models it is missing: ResNet-18 x 3 seeds
    acc = c["T1.resnet18.accuracy"]["to_decide"]
    assert [(r["model"], r["seeds"], r["epochs"]) for r in acc["runs"]] == [("resnet18", 3, 200)]
    assert all("to_decide" not in e for e in audit["claims"] if e["verdict"] != "not testable")


def test_missing_results_and_clashing_runs_give_clear_errors(tmp_path, two_runs):
    root, _ = two_runs
    with pytest.raises(ResreproError, match="has not finished its analysis stage"):
        run_merged_audit([root / "paper", tmp_path / "degradation"], PAPER, CLAIMS, target=TARGET)
    with pytest.raises(ResreproError, match="distinct names"):
        run_merged_audit([root / "paper", root / "paper"], PAPER, CLAIMS, target=TARGET)
    quick = write_run(tmp_path, spec("quick", subset=1000, epochs=1), {"resnet110": {"accuracy": [50.0]}})
    with pytest.raises(ResreproError, match="no run is comparable"):
        run_merged_audit([quick], PAPER, CLAIMS)


@pytest.mark.parametrize(
    "merge, message",
    [
        (["paper", "paper"], r"'merge': \['paper', 'paper'\] has non-unique elements"),
        (["paper", "merged"], r"'merge\[1\]': 'merged' is not allowed: .*results/merged/ holds the merged audit"),
        (["no spaces"], r"'merge\[0\]': 'no spaces' is not allowed: a run name"),
        ("paper", r"'merge': expected array, got str 'paper'"),
    ],
)
def test_a_bad_merge_config_gets_a_clear_error(merge, message):
    cfg = config.load(REPO / "config.yaml")
    assert cfg["merge"] == ["paper", "degradation"]
    with pytest.raises(config.ConfigError, match=message):
        config.validate({**cfg, "merge": merge})
    with pytest.raises(config.ConfigError, match=r"'run': 'merged' is not allowed"):
        config.validate({**cfg, "run": "merged"})


def test_the_claims_command_merges_runs(two_runs, tmp_path, capsys):
    root, _ = two_runs
    out = tmp_path / "merged" / "claims.json"
    common = [
        "--paper",
        str(PAPER),
        "--claims",
        str(CLAIMS),
        "--spec",
        json.dumps({"target": TARGET}),
        "--out",
        str(out),
    ]
    assert cli.main(["claims", "--merge", str(root / "paper"), str(root / "degradation"), *common]) == 0
    audit = io.read_json(out)
    assert audit["run"] == "merged" and [r["run"] for r in audit["runs"]] == ["paper", "degradation"]
    assert by_id(audit)["concl.r110-error"]["runs"] == ["paper"] and "claims audited" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["claims", "--merge", str(root / "paper"), "--results", str(root / "paper"), *common])
    assert "not allowed with argument" in capsys.readouterr().err
