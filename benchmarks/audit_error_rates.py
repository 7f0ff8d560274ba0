"""Error rates of the audit's value rule (TOST on a 90 % prediction interval) and ordering rule, by simulation.

Prints, for seed standard deviations and seed counts, how often the value rule says "reproduced" when the true
mean is off by the pre-registered margin (its size) or twice the margin, and when it is on the printed value (its
power); and how often an ordering claim against 8 models with equal true means is refuted ("not reproduced").

    .venv/bin/python benchmarks/audit_error_rates.py [--reps 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from resrepro import claims

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    reps = ap.parse_args().reps
    import yaml

    paper = yaml.safe_load((REPO / "reports" / "paper.yaml").read_text())
    text = claims.load_claims(REPO / "reports" / "claims.yaml")
    margins = claims.load_margins(REPO / "reports" / "claims.yaml")
    margin = margins["quantities"]["accuracy"]["pp"]
    form = {"model": "resnet18", "quantity": "accuracy", "value": 94.5, "decimals": 1}
    rng = np.random.default_rng(0)

    def inputs(meas):
        x = claims.Inputs(paper, meas, {}, True, [], claims.text_values(text))
        x.margins = margins
        return x

    def measured(**models):
        return {m: {q: {"values": v} for q, v in qs.items()} for m, qs in models.items()}

    print(f"value rule, margin {margin:g} pp, {reps} runs per cell: P(reproduced)")
    print(f"{'sd':>5} {'seeds':>5} {'off 2x margin':>14} {'off 1x margin':>14} {'on the value':>13}")
    for sd in (0.1, 0.3, 0.6, 1.0):
        for n in (3, 5, 10):
            rates = []
            for off in (2 * margin, margin, 0.0):
                hits = 0
                for _ in range(reps):
                    vals = list(94.5 + off + rng.normal(0, sd, n))
                    hits += (
                        claims.rule_measured_value(form, inputs(measured(resnet18={"accuracy": vals})))["outcome"]
                        == "reproduced"
                    )
                rates.append(hits / reps)
            print(f"{sd:>5.1f} {n:>5d} {rates[0]:>14.3f} {rates[1]:>14.3f} {rates[2]:>13.3f}")

    others = [f"m{i}" for i in range(8)]
    better = {"type": "better", "better": ["resnet18"], "than": others, "metrics": ["accuracy"], "direction": "higher"}
    refuted = sum(
        claims.rules_better(
            better,
            inputs(measured(**{m: {"accuracy": list(94 + rng.normal(0, 0.2, 3))} for m in ["resnet18"] + others})),
        )[1]["outcome"]
        == "not reproduced"
        for _ in range(reps)
    )
    print(f"ordering against 8 models, equal true means, 3 seeds: P(not reproduced) = {refuted / reps:.3f}")


if __name__ == "__main__":
    main()
