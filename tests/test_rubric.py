"""The rubric export (resrepro.claims.rubric): the audit as a weighted tree, scored by code."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from synthetic_runs import spec, write_run

from resrepro import ResreproError, cli, io
from resrepro.claims import rubric, run_audit

REPO = Path(__file__).resolve().parents[1]
PAPER, CLAIMS = REPO / "reports" / "paper.yaml", REPO / "reports" / "claims.yaml"


def _claim(cid, verdict, *, robust=True, table=None, location="Conclusion, para 1", outcomes=None):
    return {
        "id": cid,
        "statement": f"statement of {cid}",
        "quote": "quote",
        "location": location,
        "family": "measurement",
        "form": {"table": table} if table else {"type": "ordering"},
        "verdict": verdict,
        "robust": robust,
        "checks": [
            {"kind": "measurement", "rule": "r", "outcome": o, "reason": "why"} for o in (outcomes or [verdict])
        ],
    }


def _nodes(tree):
    stack = [tree["root"]]
    while stack:
        n = stack.pop()
        yield n
        stack += n["sub_tasks"]


@pytest.fixture(scope="module")
def real_audit(tmp_path_factory):
    """The audit of a comparable synthetic run: ResNet-110 and VGG-16 over three seeds."""
    root = tmp_path_factory.mktemp("results")
    r110 = {"accuracy": [95.7, 95.8, 95.9], "images_per_second": [1000.0] * 3}
    vgg = {"accuracy": [93.0, 93.1, 93.2], "images_per_second": [800.0] * 3}
    run = write_run(root, spec("paper"), {"resnet110": r110, "vgg16": vgg})
    return run_audit(run, PAPER, CLAIMS, spec("paper", models=["resnet110", "vgg16"]))


def test_the_tree_holds_every_claim_and_check_of_the_audit_once(real_audit):
    tree = rubric.build(real_audit)
    rubric.validate(tree)
    claims = [n for n in _nodes(tree) if n["kind"] == "claim"]
    assert sorted(c["id"] for c in claims) == sorted(c["id"] for c in real_audit["claims"])
    n_checks = sum(len(c["checks"]) for c in real_audit["claims"])
    assert sum(n["kind"] == "check" for n in _nodes(tree)) == n_checks
    ids = [n["id"] for n in _nodes(tree)]
    assert len(ids) == len(set(ids))
    assert tree["root"]["verdicts"] == {v: n for v, n in real_audit["verdicts"].items() if n}
    assert {g["id"] for g in tree["root"]["sub_tasks"]} >= {"Table 1", "Table 2", "Table 3", "Conclusion"}


def test_the_papers_score_is_the_share_of_scored_claims_that_hold(real_audit):
    tree = rubric.build(real_audit)
    scored = [c for c in real_audit["claims"] if c.get("robust", True) and rubric.SCORES[c["verdict"]] is not None]
    assert scored, "the synthetic run should decide some claims"
    expected = sum(rubric.SCORES[c["verdict"]] for c in scored) / len(scored)
    assert tree["root"]["score"] == pytest.approx(expected)


def test_cannot_tell_is_never_scored_zero():
    audit = {"claims": [_claim("a", "inconclusive"), _claim("b", "not testable"), _claim("c", "reproduced")]}
    tree = rubric.build(audit)
    scores = {n["id"]: n["score"] for n in _nodes(tree)}
    assert scores["a"] is None and scores["b"] is None and scores["c"] == 1
    assert scores["Conclusion"] == 1 and scores["paper"] == 1
    only_undecided = rubric.build({"claims": [_claim("a", "inconclusive")]})
    assert only_undecided["root"]["score"] is None


def test_a_verdict_that_is_not_robust_is_shown_but_not_scored():
    tree = rubric.build({"claims": [_claim("a", "not reproduced", robust=False), _claim("b", "reproduced")]})
    a = next(n for n in _nodes(tree) if n["id"] == "a")
    assert a["verdict"] == "not reproduced" and a["score"] is None and tree["root"]["score"] == 1


def test_a_claims_score_is_its_verdicts_not_the_mean_of_its_checks():
    claim = _claim("a", "not reproduced", outcomes=["reproduced", "reproduced", "not reproduced"])
    tree = rubric.build({"claims": [claim]})
    node = next(n for n in _nodes(tree) if n["id"] == "a")
    assert node["score"] == 0 and [c["score"] for c in node["sub_tasks"]] == [1, 1, 0]


def test_groups_weigh_as_many_scored_claims_as_they_hold():
    claims = [_claim(f"t{i}", "reproduced", table="table1") for i in range(3)] + [_claim("c", "not reproduced")]
    claims += [_claim("u", "not testable", location="Abstract")]
    tree = rubric.build({"claims": claims})
    groups = {g["id"]: g for g in tree["root"]["sub_tasks"]}
    assert groups["Table 1"]["weight"] == 3 and groups["Conclusion"]["weight"] == 1
    assert groups["Abstract"]["weight"] == 0 and groups["Abstract"]["n_claims"] == 1
    assert tree["root"]["score"] == pytest.approx(3 / 4)


def test_an_unknown_verdict_or_a_malformed_tree_is_refused():
    with pytest.raises(ResreproError, match="unknown outcome 'maybe'"):
        rubric.build({"claims": [_claim("a", "maybe")]})
    tree = rubric.build({"claims": [_claim("a", "reproduced")]})
    bad = copy.deepcopy(tree)
    bad["root"]["sub_tasks"][0]["sub_tasks"][0]["score"] = 2
    with pytest.raises(ResreproError, match="rubric.json at root/sub_tasks/0/sub_tasks/0/score"):
        rubric.validate(bad)


def test_every_outcome_of_the_audit_has_a_score():
    from resrepro.claims.common import OUTCOMES

    assert set(rubric.SCORES) == set(OUTCOMES)


def test_the_claims_command_writes_the_rubric_beside_the_audit(tmp_path, real_audit):
    root = tmp_path / "results"
    r110 = {"accuracy": [95.7, 95.8, 95.9], "images_per_second": [1000.0] * 3}
    run = write_run(root, spec("paper"), {"resnet110": r110})
    args = ["claims", "--results", str(run), "--paper", str(PAPER), "--claims", str(CLAIMS)]
    args += ["--spec", json.dumps(spec("paper", models=["resnet110"])), "--out", str(run / "claims.json")]
    assert cli.main([*args, "--rubric", str(run / "rubric.json")]) == 0
    tree = io.read_json(run / "rubric.json")
    rubric.validate(tree)
    assert tree["schema"] == rubric.SCHEMA and tree["run"] == "paper"
    assert tree == json.loads(json.dumps(rubric.build(io.read_json(run / "claims.json"))))
