"""The audit as a rubric: a weighted tree paper -> table or section -> claim -> check, decided by code.

Shaped like the rubric trees that reproduction benchmarks grade with (PaperBench's ``sub_tasks`` with
``weight`` and ``requirements``), but every leaf is a check of the audit (:mod:`resrepro.claims`), with its
outcome, and every node's score is computed from its children here, not by a judge. Written beside
``claims.json`` as ``rubric.json``; its schema is ``resrepro/schemas/rubric.schema.json`` (documented there
and in the README).

Scores answer "does the paper's claim hold?": 1 when the audit upholds it, 0 when it finds against it,
``null`` when it cannot tell. Cannot tell is never scored 0. A claim's checks combine by the audit's
precedence (:data:`resrepro.claims.audit.PRECEDENCE`), not by averaging, so a claim's score is that of its
verdict (``aggregation: "verdict"``); a claim whose verdict is not robust (it rests on a reading or a choice
of ours) is not scored, as in the audit's headline. Above the claims, a node's score is the weighted mean of
its children's scores that are not null (``aggregation: "weighted_mean"``); a group weighs as many scored
claims as it holds (0 if none), so every scored claim counts once and the paper's score is the share of the
scored claims that hold. ``verdicts`` counts every claim below a node, scored or not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import jsonschema

from .. import ResreproError
from .common import (
    CONSISTENT,
    IMPLAUSIBLE,
    INCONCLUSIVE,
    INCONSISTENT,
    NO_PAPER_DATA,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    OUTCOMES,
    REPRODUCED,
    UNSUPPORTED,
)

SCHEMA = "resrepro.rubric/1"
# The score of a verdict or check outcome: 1 the claim holds, 0 it does not, None the audit cannot tell.
SCORES: dict[str, int | None] = {
    REPRODUCED: 1,
    CONSISTENT: 1,
    NOT_REPRODUCED: 0,
    INCONSISTENT: 0,
    IMPLAUSIBLE: 0,
    UNSUPPORTED: 0,
    INCONCLUSIVE: None,
    NOT_TESTABLE: None,
    NO_PAPER_DATA: None,
}
assert set(SCORES) == set(OUTCOMES), "every outcome of resrepro.claims.common needs a rubric score"

SCHEMA_PATH = Path(__file__).parents[1] / "schemas" / "rubric.schema.json"
PAPER = "Arslan, Zhang & Hossein (2025), Deep residual learning on CIFAR-10"
_TABLE_NAMES = {"table1": "Table 1", "table2": "Table 2", "table3": "Table 3"}


def group_of(claim: Mapping) -> str:
    """The rubric group of a claim: its table (for a table cell) or the section of the paper it is in."""
    table = (claim.get("form") or {}).get("table")
    if table:
        return _TABLE_NAMES.get(table, str(table))
    return str(claim["location"]).split(",")[0].strip()


def _score(outcome: str) -> int | None:
    if outcome not in SCORES:
        raise ResreproError(f"the audit gave an unknown outcome {outcome!r}; known: {', '.join(SCORES)}")
    return SCORES[outcome]


def weighted_mean(children: list[dict]) -> float | None:
    """Sum of weight x score over the children with a score, over their total weight; None if none has one."""
    scored = [(c["weight"], c["score"]) for c in children if c["score"] is not None]
    total = sum(w for w, _ in scored)
    return sum(w * s for w, s in scored) / total if total else None


def _check_node(claim_id: str, i: int, ch: Mapping) -> dict:
    return {
        "id": f"{claim_id}/check{i + 1}",
        "kind": "check",
        "requirements": f"[{ch['kind']}] {ch.get('rule') or ch['kind']}: {ch['reason']}",
        "weight": 1,
        "verdict": ch["outcome"],
        "score": _score(ch["outcome"]),
        "sub_tasks": [],
    }


def _claim_node(c: Mapping) -> dict:
    robust = bool(c.get("robust", True))
    return {
        "id": c["id"],
        "kind": "claim",
        "requirements": c["statement"],
        "quote": c.get("quote", ""),
        "location": c["location"],
        "family": c.get("family"),
        "weight": 1,
        "verdict": c["verdict"],
        "robust": robust,
        "score": _score(c["verdict"]) if robust else None,
        "aggregation": "verdict",
        "sub_tasks": [_check_node(c["id"], i, ch) for i, ch in enumerate(c["checks"])],
    }


def _counts(claims: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in claims:
        out[c["verdict"]] = out.get(c["verdict"], 0) + 1
    return out


def build(audit: Mapping) -> dict:
    """The rubric tree of an audit (claims.json's content)."""
    groups: dict[str, list[dict]] = {}
    for c in audit["claims"]:
        groups.setdefault(group_of(c), []).append(_claim_node(c))
    nodes = [
        {
            "id": name,
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
    root = {
        "id": "paper",
        "kind": "paper",
        "requirements": f"Every claim of {PAPER} holds",
        "weight": 1,
        "score": weighted_mean(nodes),
        "aggregation": "weighted_mean",
        "verdicts": _counts([c for g in nodes for c in g["sub_tasks"]]),
        "sub_tasks": nodes,
    }
    return {
        "schema": SCHEMA,
        "run": audit.get("run"),
        "comparable": audit.get("comparable"),
        "scores": {k: v for k, v in SCORES.items()},
        "root": root,
    }


def validate(rubric: Mapping) -> None:
    """Refuse a rubric that does not follow its schema (rubric.schema.json), naming where."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(rubric))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise ResreproError(f"rubric.json at {where}: {error.message}; fix resrepro.claims.rubric.build")
