"""The audit as a rubric: a weighted tree paper -> table or section -> claim -> check, decided by code.

Shaped like the rubric trees that reproduction benchmarks grade with (PaperBench's ``sub_tasks`` with
``weight`` and ``requirements``), but every claim's verdict comes from the audit (:mod:`resrepro.claims`),
and every score is computed here from the verdicts, not by a judge. Written beside ``claims.json`` as
``rubric.json``; its schema is ``resrepro/schemas/rubric.schema.json`` (documented there and in the README).

A score answers "does the audit uphold the claim as printed?": 1 it does (``reproduced``), 0 it finds
against it (``not reproduced``, ``inconsistent as stated``, ``implausible``, ``unsupported``), ``null`` it
cannot tell (``inconclusive``, ``not testable`` for any reason). Cannot tell is never scored 0; a claim
that is ``not testable`` because the paper is ``underspecified`` is a finding against the paper, counted
apart (``findings``), not a 0.

The claims are the scored leaves. Their checks hang below them with their outcomes as evidence, unscored
(``score: null``, ``counted: false``): they combine by the audit's precedence and Holm's correction, not by
averaging, so rolling a claim up from its checks would give numbers the audit never gave. A claim whose
verdict is not robust (it rests on a reading or a choice of ours) is shown but not scored, as in the
audit's headline. Above the claims a node's score is the weighted mean of its children's non-null scores;
a group weighs as many scored claims as it holds (0 if none: the weights depend on the outcomes, unlike
PaperBench's fixed weights), so every scored claim counts once and the paper's score is the share of the
scored claims that hold. The root also gives ``n_scored`` of ``n_claims`` (coverage) and the score per
family (what decided a claim: the paper against itself, the dataset, mathematics, our measurements...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import jsonschema

from .. import ResreproError
from .common import (
    IMPLAUSIBLE,
    INCONCLUSIVE,
    INCONSISTENT,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    OUTCOMES,
    REPRODUCED,
    UNDERSPECIFIED,
    UNSUPPORTED,
    VERDICTS,
)

SCHEMA = "resrepro.rubric/1"
# The score of a verdict: 1 the audit upholds the claim as printed, 0 it finds against it, None it cannot tell.
SCORES: dict[str, int | None] = {
    REPRODUCED: 1,
    NOT_REPRODUCED: 0,
    INCONSISTENT: 0,
    IMPLAUSIBLE: 0,
    UNSUPPORTED: 0,
    INCONCLUSIVE: None,
    NOT_TESTABLE: None,
}
if set(SCORES) != set(VERDICTS):  # a new verdict needs a decision here, not a default
    raise ResreproError(f"resrepro.claims.rubric.SCORES must score every verdict: {', '.join(VERDICTS)}")

SCHEMA_PATH = Path(__file__).parents[1] / "schemas" / "rubric.schema.json"
_TABLE_NAMES = {"table1": "Table 1", "table2": "Table 2", "table3": "Table 3"}


def group_of(claim: Mapping) -> str:
    """The rubric group of a claim: its table (for a table cell) or the section of the paper it is in."""
    table = (claim.get("form") or {}).get("table")
    if table:
        return _TABLE_NAMES.get(table, str(table))
    return str(claim["location"]).split(",")[0].strip()


def _score(verdict: str) -> int | None:
    if verdict not in SCORES:
        raise ResreproError(f"the audit gave an unknown verdict {verdict!r}; known: {', '.join(SCORES)}")
    return SCORES[verdict]


def weighted_mean(children: list[dict]) -> float | None:
    """Sum of weight x score over the children with a score, over their total weight; None if none has one."""
    scored = [(c["weight"], c["score"]) for c in children if c["score"] is not None]
    total = sum(w for w, _ in scored)
    return sum(w * s for w, s in scored) / total if total else None


def _check_nodes(claim_id: str, checks: list[Mapping]) -> list[dict]:
    """A claim's checks as unscored leaves, named by their rule (numbered when a rule runs more than once)."""
    out, seen = [], {}
    for ch in checks:
        if ch["outcome"] not in OUTCOMES:
            raise ResreproError(f"claim {claim_id}: a check gave an unknown outcome {ch['outcome']!r}")
        rule = str(ch.get("rule") or ch["kind"])
        seen[rule] = seen.get(rule, 0) + 1
        out.append(
            {
                "id": f"check:{claim_id}/{rule}" + (f"#{seen[rule]}" if seen[rule] > 1 else ""),
                "kind": "check",
                "requirements": f"{ch['kind']} rule {rule}",
                "weight": 1,
                "verdict": ch["outcome"],
                "reason": ch["reason"],
                "score": None,
                "counted": False,
                "sub_tasks": [],
            }
        )
    return out


def _claim_node(c: Mapping) -> dict:
    if "robust" not in c:
        raise ResreproError(f"claim {c['id']} in claims.json has no 'robust'; re-run the claims stage")
    node = {
        "id": f"claim:{c['id']}",
        "kind": "claim",
        "requirements": c["statement"],
        "quote": c.get("quote", ""),
        "location": c["location"],
        "family": c.get("family"),
        "weight": 1,
        "verdict": c["verdict"],
        "untestable": c.get("untestable"),
        "robust": bool(c["robust"]),
        "readings": [{"name": r["name"], "verdict": r["verdict"]} for r in c.get("readings") or []],
        "score": _score(c["verdict"]) if c["robust"] else None,
        "aggregation": "verdict",
        "sub_tasks": _check_nodes(c["id"], c["checks"]),
    }
    if "runs" in c:  # the merged audit: the runs its evidence came from
        node["runs"] = list(c["runs"])
    return node


def _counts(claims: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in claims:
        out[c["verdict"]] = out.get(c["verdict"], 0) + 1
    return out


def _summary(claims: list[dict]) -> dict:
    """Score, scored claims and claims of a set of claim nodes (every scored claim weighing 1)."""
    scored = [c["score"] for c in claims if c["score"] is not None]
    return {"score": sum(scored) / len(scored) if scored else None, "n_scored": len(scored), "n_claims": len(claims)}


def build(audit: Mapping) -> dict:
    """The rubric tree of an audit (claims.json's content)."""
    groups: dict[str, list[dict]] = {}
    for c in audit["claims"]:
        groups.setdefault(group_of(c), []).append(_claim_node(c))
    nodes = [
        {
            "id": f"group:{name}",
            "kind": "group",
            "requirements": f"The claims of the paper's {name}",
            "weight": sum(c["score"] is not None for c in claims),
            "n_claims": len(claims),
            "score": weighted_mean(claims),
            "aggregation": "weighted_mean",
            "verdicts": _counts(claims),
            "sub_tasks": claims,
        }
        for name, claims in groups.items()
    ]
    claims = [c for g in nodes for c in g["sub_tasks"]]
    families = sorted({str(c["family"]) for c in claims})
    root = {
        "id": "paper",
        "kind": "paper",
        "requirements": "Every claim of the paper holds as printed",
        "weight": 1,
        "score": weighted_mean(nodes),
        "aggregation": "weighted_mean",
        "comparable": audit.get("comparable"),
        **{k: v for k, v in _summary(claims).items() if k != "score"},
        "by_family": {f: _summary([c for c in claims if str(c["family"]) == f]) for f in families},
        "findings": {UNDERSPECIFIED: sum(c["untestable"] == UNDERSPECIFIED for c in claims)},
        "verdicts": _counts(claims),
        "sub_tasks": nodes,
    }
    tree = {"schema": SCHEMA, "run": audit.get("run"), "scores": dict(SCORES), "root": root}
    _check_consistent(tree)
    return tree


def _nodes(node: Mapping):
    yield node
    for child in node["sub_tasks"]:
        yield from _nodes(child)


def _check_consistent(tree: Mapping) -> None:
    """What a schema cannot say: unique ids, and every score, weight and count as the verdicts give them."""
    nodes = list(_nodes(tree["root"]))
    ids = [n["id"] for n in nodes]
    if len(ids) != len(set(ids)):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ResreproError(f"rubric.json: node ids {', '.join(dup)} are not unique; fix resrepro.claims.rubric")
    for n in nodes:
        if n["kind"] == "claim":
            want = _score(n["verdict"]) if n["robust"] else None
        elif n["kind"] == "check":
            want = None
        else:
            want = weighted_mean(n["sub_tasks"])
            if n["kind"] == "group" and (
                n["weight"] != sum(c["score"] is not None for c in n["sub_tasks"])
                or n["n_claims"] != len(n["sub_tasks"])
            ):
                raise ResreproError(f"rubric.json: {n['id']}'s weight or n_claims does not match its claims")
        if n["score"] != want and not (want is not None and n["score"] is not None and abs(n["score"] - want) < 1e-12):
            raise ResreproError(f"rubric.json: {n['id']} has score {n['score']!r}, its verdicts give {want!r}")


def validate(rubric: Mapping) -> None:
    """Refuse a rubric that does not follow its schema (rubric.schema.json), or whose scores, weights or ids
    do not follow from its verdicts, naming where."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(rubric))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise ResreproError(f"rubric.json at {where}: {error.message}; fix resrepro.claims.rubric.build")
    _check_consistent(rubric)
