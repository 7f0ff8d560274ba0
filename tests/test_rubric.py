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
# written out, not read from the module: what each verdict scores
EXPECTED = {
    "reproduced": 1,
    "not reproduced": 0,
    "inconsistent as stated": 0,
    "implausible": 0,
    "unsupported": 0,
    "inconclusive": None,
    "not testable": None,
}
PAPER, CLAIMS = REPO / "reports" / "paper.yaml", REPO / "reports" / "claims.yaml"


def _claim(cid, verdict, *, robust=True, table=None, location="Conclusion, para 1", outcomes=None, untestable=None):
    return {
        "untestable": untestable,
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
    assert sorted(c["id"] for c in claims) == sorted(f"claim:{c['id']}" for c in real_audit["claims"])
    n_checks = sum(len(c["checks"]) for c in real_audit["claims"])
    assert sum(n["kind"] == "check" for n in _nodes(tree)) == n_checks
    ids = [n["id"] for n in _nodes(tree)]
    assert len(ids) == len(set(ids))
    assert tree["root"]["verdicts"] == {v: n for v, n in real_audit["verdicts"].items() if n}
    groups = {g["id"] for g in tree["root"]["sub_tasks"]}
    assert groups >= {"group:Table 1", "group:Table 2", "group:Table 3", "group:Conclusion"}
    assert tree["root"]["n_claims"] == len(real_audit["claims"]) and 0 < tree["root"]["n_scored"] < len(ids)


def test_the_papers_score_is_the_share_of_scored_claims_that_hold(real_audit):
    tree = rubric.build(real_audit)
    scored = [c for c in real_audit["claims"] if c["robust"] and EXPECTED[c["verdict"]] is not None]
    assert {EXPECTED[c["verdict"]] for c in scored} == {0, 1}, "the synthetic run should uphold some and refute some"
    expected = sum(EXPECTED[c["verdict"]] for c in scored) / len(scored)
    assert tree["root"]["score"] == pytest.approx(expected) and tree["root"]["n_scored"] == len(scored)
    for family, f in tree["root"]["by_family"].items():
        mine = [c for c in scored if c["family"] == family]
        assert f["n_scored"] == len(mine)
        assert f["score"] == (pytest.approx(sum(EXPECTED[c["verdict"]] for c in mine) / len(mine)) if mine else None)


def test_cannot_tell_is_never_scored_zero():
    audit = {"claims": [_claim("a", "inconclusive"), _claim("b", "not testable"), _claim("c", "reproduced")]}
    tree = rubric.build(audit)
    scores = {n["id"]: n["score"] for n in _nodes(tree)}
    assert scores["claim:a"] is None and scores["claim:b"] is None and scores["claim:c"] == 1
    assert scores["group:Conclusion"] == 1 and scores["paper"] == 1
    only_undecided = rubric.build({"claims": [_claim("a", "inconclusive")]})
    assert only_undecided["root"]["score"] is None


def test_a_verdict_that_is_not_robust_is_shown_but_not_scored():
    tree = rubric.build({"claims": [_claim("a", "not reproduced", robust=False), _claim("b", "reproduced")]})
    a = next(n for n in _nodes(tree) if n["id"] == "claim:a")
    assert a["verdict"] == "not reproduced" and a["score"] is None and tree["root"]["score"] == 1


def test_a_claims_score_is_its_verdicts_and_its_checks_are_unscored_evidence():
    claim = _claim("a", "not reproduced", outcomes=["reproduced", "consistent", "not reproduced"])
    tree = rubric.build({"claims": [claim]})
    node = next(n for n in _nodes(tree) if n["id"] == "claim:a")
    assert node["score"] == 0
    assert [(c["verdict"], c["score"], c["counted"]) for c in node["sub_tasks"]] == [
        ("reproduced", None, False),
        ("consistent", None, False),
        ("not reproduced", None, False),
    ]
    assert [c["id"] for c in node["sub_tasks"]] == ["check:a/r", "check:a/r#2", "check:a/r#3"]


def test_every_verdict_scores_as_written_and_underspecified_is_a_finding_not_a_zero():
    claims = [_claim(f"c{i}", v) for i, v in enumerate(EXPECTED)]
    claims.append(_claim("u", "not testable", untestable="underspecified"))
    tree = rubric.build({"claims": claims})
    got = {n["verdict"]: n["score"] for n in _nodes(tree) if n["kind"] == "claim" and n["id"] != "claim:u"}
    assert got == EXPECTED and rubric.SCORES == EXPECTED
    u = next(n for n in _nodes(tree) if n["id"] == "claim:u")
    assert u["score"] is None and tree["root"]["findings"] == {"underspecified": 1}


def test_a_claim_without_robust_is_refused_not_taken_as_robust():
    claim = _claim("a", "reproduced")
    del claim["robust"]
    with pytest.raises(ResreproError, match="claim a in claims.json has no 'robust'"):
        rubric.build({"claims": [claim]})


def test_groups_weigh_as_many_scored_claims_as_they_hold():
    claims = [_claim(f"t{i}", "reproduced", table="table1") for i in range(3)] + [_claim("c", "not reproduced")]
    claims += [_claim("u", "not testable", location="Abstract")]
    tree = rubric.build({"claims": claims})
    groups = {g["id"]: g for g in tree["root"]["sub_tasks"]}
    assert groups["group:Table 1"]["weight"] == 3 and groups["group:Conclusion"]["weight"] == 1
    assert groups["group:Abstract"]["weight"] == 0 and groups["group:Abstract"]["n_claims"] == 1
    assert tree["root"]["score"] == pytest.approx(3 / 4)


def test_an_unknown_verdict_is_refused():
    with pytest.raises(ResreproError, match="unknown verdict 'maybe'"):
        rubric.build({"claims": [_claim("a", "maybe", outcomes=["reproduced"])]})
    with pytest.raises(ResreproError, match="unknown outcome 'maybe'"):
        rubric.build({"claims": [_claim("a", "reproduced", outcomes=["maybe"])]})


def _set(path, value):
    def edit(tree):
        node = tree
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value

    return edit


CLAIM = ("root", "sub_tasks", 0, "sub_tasks", 0)
TAMPERED = {
    "claim score 0.5": (_set((*CLAIM, "score"), 0.5), "score"),
    "check scored": (_set((*CLAIM, "sub_tasks", 0, "score"), 1), "score"),
    "score against the verdict": (_set((*CLAIM, "verdict"), "not reproduced"), "has score 1"),
    "unknown verdict": (_set((*CLAIM, "verdict"), "maybe"), "verdict"),
    "claim weight 7": (_set((*CLAIM, "weight"), 7), "weight"),
    "wrong paper score": (_set(("root", "score"), 0.99), "paper has score 0.99"),
    "group weight 0": (_set(("root", "sub_tasks", 0, "weight"), 0), "weight or n_claims"),
    "extra key": (_set((*CLAIM, "extra"), 1), "extra"),
    "root renamed": (_set(("root", "id"), "x"), "id"),
    "no scores": (_set(("scores",), {}), "scores"),
    "non-robust scored": (_set((*CLAIM, "robust"), False), "has score 1"),
}


@pytest.mark.parametrize("name", TAMPERED)
def test_a_tree_whose_scores_do_not_follow_from_its_verdicts_is_refused(name):
    tree = rubric.build({"claims": [_claim("a", "reproduced"), _claim("b", "reproduced", table="table1")]})
    rubric.validate(tree)
    edit, message = TAMPERED[name]
    bad = copy.deepcopy(tree)
    edit(bad)
    with pytest.raises(ResreproError, match=message):
        rubric.validate(bad)


def test_duplicate_ids_are_refused():
    tree = rubric.build({"claims": [_claim("a", "reproduced")]})
    bad = copy.deepcopy(tree)
    group = bad["root"]["sub_tasks"][0]
    group["sub_tasks"].append(copy.deepcopy(group["sub_tasks"][0]))
    group["weight"], group["n_claims"] = 2, 2
    with pytest.raises(ResreproError, match="claim:a.* not unique"):
        rubric.validate(bad)


def test_the_schemas_verdicts_are_the_audits():
    from resrepro.claims.common import OUTCOMES, VERDICTS

    schema = json.loads(rubric.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$defs"]["claim"]["properties"]["verdict"]["enum"] == list(VERDICTS)
    assert schema["$defs"]["check"]["properties"]["verdict"]["enum"] == list(OUTCOMES)
    assert schema["properties"]["scores"]["required"] == list(VERDICTS)


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
