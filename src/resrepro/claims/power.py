"""What an ordering test can tell: its power and the seeds it needs, and a paired per-image test beside it.

* Power. For a pair compared by a one-sided test at ALPHA with n seeds each, the minimum detectable effect
  at POWER is (t_{1-alpha, 2n-2} + t_{POWER, 2n-2}) s sqrt(2/n), where s is the seed standard deviation
  pooled over every model of the run for that quantity (pooled only for this planning figure: the tests
  themselves use each pair's own variances, Welch). The seeds needed are the smallest n whose detectable
  effect is at most the observed advantage.
* Paired per-image test. The seed test varies training (a seed sets initialisation, data order and
  augmentation) on one fixed test set, so it leaves out the sampling of test images. For each seed both
  models share, a one-sided exact McNemar test on the same test images counts the images that A gets right
  and B wrong (b) against the reverse (c): p = P(Binomial(b + c, 1/2) >= b). Each seed's test treats the
  test images as the sample and that seed's two trained networks as fixed; seeds are never pooled (the same
  images under several seeds are not independent), and the pair's p is the largest over its seeds (every
  seed must show it). It is reported beside the seed test and decides nothing.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from .. import catalog
from ..stats import betainc, t_ppf
from .common import ALPHA

POWER = 0.80
MAX_SEEDS = 100
# Quantities that mean nothing until the paper defines them (reports/paper.yaml: definitions).
DEFINITION_DEPENDENT = {"epochs_to_convergence"}
PER_IMAGE = {"accuracy": 1, "test_error": -1}  # quantities decided per test image, and their sign


def detectable(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true difference a one-sided two-sample t-test with n seeds each finds with ``power``."""
    df = 2 * n - 2
    return (t_ppf(1 - alpha, df) + t_ppf(power, df)) * sd * math.sqrt(2 / n)


def seeds_needed(effect: float, sd: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """The fewest seeds per model that find ``effect`` with ``power``; None if no number up to MAX_SEEDS does
    (or the effect is not in the claimed direction)."""
    if effect <= 0:
        return None
    if sd == 0:
        return 2
    for n in range(2, MAX_SEEDS + 1):
        if detectable(sd, n, alpha, power) <= effect:
            return n
    return None


def pooled_sd(x, quantity: str) -> float | None:
    """The seed standard deviation pooled over every catalog model of the run with two or more seeds (a planning
    figure: the tests use each pair's own variances)."""
    num = den = 0.0
    for model in (m for m in x.measured if m in catalog.available()):
        v = x.values(model, quantity)
        if v and len(v) > 1:
            mean = sum(v) / len(v)
            num += sum((a - mean) ** 2 for a in v)
            den += len(v) - 1
    return math.sqrt(num / den) if den else None


def power_note(tests: Sequence[Mapping], x, margin: float = 0.0) -> dict:
    """Per pair: the detectable effect at this run's seeds and the seeds the observed advantage needs. With a
    non-inferiority ``margin`` the test is of advantage > -margin, so the effect to detect is advantage + margin
    and the smallest true advantage shown is the detectable effect - margin."""
    rows = []
    for t in tests:
        sd = pooled_sd(x, t["quantity"])
        n = min(len(x.values(t["better"], t["quantity"]) or []), len(x.values(t["than"], t["quantity"]) or []))
        if sd is None or n < 2:
            continue
        rows.append(
            {
                "better": t["better"],
                "than": t["than"],
                "quantity": t["quantity"],
                "pooled_sd": sd,
                "seeds": n,
                "detectable": detectable(sd, n) - margin,
                "seeds_needed": seeds_needed(t.get("advantage", 0.0) + margin, sd),
            }
        )
    if not rows:
        return {"pairs": rows, "text": "no power figure (one seed)"}
    worst = max(rows, key=lambda r: r["detectable"])
    needed = [r["seeds_needed"] for r in rows]
    most = (
        f"{max(needed)} seeds per model would find the smallest observed advantage with {POWER:.0%} power"
        if all(needed)
        else f"no number of seeds up to {MAX_SEEDS} would show every pair (an advantage is zero, reversed or tiny)"
    )
    text = (
        f"with {worst['seeds']} seeds the test finds a true advantage of {worst['detectable']:.2f} "
        f"({POWER:.0%} power, pooled seed sd {worst['pooled_sd']:.2f}); {most}"
    )
    return {"pairs": rows, "power": POWER, "text": text}


def mcnemar_one_sided(b: int, c: int) -> float:
    """P(Binomial(b + c, 1/2) >= b): the exact one-sided McNemar p for "A right more often than B"."""
    n = b + c
    if n == 0 or b == 0:
        return 1.0
    return betainc(b, n - b + 1, 0.5)


def paired_test(x, a: str, b: str, quantity: str, sign: int) -> dict:
    """The exact McNemar test of "a better than b" on the test images both models' shared seeds predicted."""
    if quantity not in PER_IMAGE or x.predictions is None:
        return {}
    pa, pb = x.predictions(a), x.predictions(b)
    seeds = sorted(set(pa) & set(pb))
    if not seeds:
        return {}
    per_seed = []
    for s in seeds:
        ca, cb = pa[s], pb[s]
        if len(ca) != len(cb):
            return {}
        b = sum(1 for u, v in zip(ca, cb) if u and not v)
        c = sum(1 for u, v in zip(ca, cb) if v and not u)
        if sign * PER_IMAGE[quantity] < 0:  # "better" means wrong on more images (e.g. a higher test error)
            b, c = c, b
        per_seed.append({"seed": s, "a_right_b_wrong": b, "a_wrong_b_right": c, "p": mcnemar_one_sided(b, c)})
    return {
        "paired": {
            "test": "exact one-sided McNemar per shared seed; p is the largest over the seeds",
            "seeds": seeds,
            "per_seed": per_seed,
            "p": max(r["p"] for r in per_seed),
        }
    }
