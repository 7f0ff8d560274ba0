"""The claims of an audit in the document model: each claim with its checks (the evidence appendix),
and the highlights (the summary box of the central claims). Part of :mod:`.document`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .. import ResreproError
from ..claims import VERDICTS

# Verdicts of the claims audit (resrepro.claims.VERDICTS) and their colours in both outputs.
VERDICT_COLORS = dict(
    zip(VERDICTS, ("#1b7a3a", "#b00020", "#5b4a8a", "#a65400", "#8a6d00", "#7a4a2a", "#5a5a5a"), strict=True)
)


def req_str(m: Mapping, key: str, where: str = "report context") -> str:
    v = m.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ResreproError(f"{where} lacks a non-empty string {key!r}; the report stage must set it")
    return v


def text(v) -> str:
    return str(v or "")


def dict_list(v, what: str) -> list[Mapping]:
    from collections.abc import Sequence

    if v is None:
        return []
    if isinstance(v, str) or not isinstance(v, Sequence) or not all(isinstance(x, Mapping) for x in v):
        raise ResreproError(f"{what} must be a list of dicts; fix the report context")
    return list(v)


def check_verdict(verdict: str, what: str) -> None:
    if verdict not in VERDICT_COLORS:
        raise ResreproError(f"{what} has the verdict {verdict!r}; known: {', '.join(VERDICT_COLORS)}")


@dataclass
class Check:
    """One check behind a claim's verdict: its kind (paper, dataset, measurement...), outcome, reason."""

    kind: str
    outcome: str
    reason: str = ""

    @classmethod
    def from_mapping(cls, ch: Mapping, where: str) -> Check:
        return cls(req_str(ch, "kind", where), req_str(ch, "outcome", where), text(ch.get("reason")))


@dataclass
class Claim:
    """A claim of the audited paper, with its verdict (one of VERDICT_COLORS) and checks."""

    id: str
    verdict: str
    location: str = ""
    quote: str = ""
    paper: str = ""
    ours: str = ""
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    robust: bool = True  # every reading agrees and no choice of ours decides it
    depends_on: list[str] = field(default_factory=list)  # the choices of ours it rests on
    untestable: str = ""  # why a "not testable" claim is one
    adjusted_p: float | None = None  # Holm-adjusted p of an ordering claim
    readings: list[Check] = field(default_factory=list)  # kind = the reading's name (when there are several)

    def __post_init__(self):
        check_verdict(self.verdict, f"claim {self.id!r}")

    @property
    def css(self) -> str:
        return "v-" + self.verdict.replace(" ", "-")

    @classmethod
    def from_mapping(cls, c: Mapping, i: int) -> Claim:
        where = f"claim {i + 1}"
        verdict = req_str(c, "verdict", where)
        checks = dict_list(c.get("checks"), f"{where} 'checks'")
        readings = dict_list(c.get("readings"), f"{where} 'readings'")
        return cls(
            id=req_str(c, "id", where),
            verdict=verdict,
            checks=[Check.from_mapping(ch, f"{where} check {j + 1}") for j, ch in enumerate(checks)],
            robust=bool(c.get("robust", True)),
            depends_on=[str(d) for d in c.get("depends_on") or ()],
            untestable=text(c.get("untestable")),
            adjusted_p=(c.get("holm") or {}).get("adjusted"),
            readings=[Check(text(r.get("name")), text(r.get("verdict")), text(r.get("reason"))) for r in readings]
            if len(readings) > 1
            else [],
            **{k: text(c.get(k)) for k in ("location", "quote", "paper", "ours", "reason")},
        )


@dataclass
class Highlight:
    """A central claim in the summary box: its id (linked to its evidence), statement, verdict, reason."""

    id: str
    statement: str
    verdict: str
    reason: str = ""

    def __post_init__(self):
        check_verdict(self.verdict, f"highlighted claim {self.id!r}")

    @property
    def css(self) -> str:
        return "v-" + self.verdict.replace(" ", "-")

    @classmethod
    def from_mapping(cls, h: Mapping, i: int) -> Highlight:
        where = f"highlight {i + 1}"
        return cls(
            req_str(h, "id", where), req_str(h, "statement", where), req_str(h, "verdict", where), text(h.get("reason"))
        )
