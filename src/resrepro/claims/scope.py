"""Scope: claims no run of this pipeline decides (quantities it does not measure, statements about
other work, descriptions of a method the experiments may not have used), and the countable facts about
other work (layer counts of published networks), counted from torchvision's implementations."""

from __future__ import annotations

from typing import Mapping

from .. import ResreproError
from .architecture import display, weight_layers
from .common import (
    NOT_IN_RUN,
    NOT_REPRODUCED,
    NOT_TESTABLE,
    OUR_LOSS,
    OUT_OF_SCOPE,
    REPRODUCED,
    UNDERSPECIFIED,
    UNMEASURED,
    check,
    form_rule,
)
from .evidence import Inputs


@form_rule("unmeasured")
def rules_unmeasured(form: Mapping, x: Inputs) -> list[dict]:
    q = form["quantity"]
    if q not in UNMEASURED:
        raise ResreproError(
            f"no description of the unmeasured quantity {q!r}; add it to resrepro.claims.common.UNMEASURED"
        )
    return [check("unmeasured", "scope", NOT_TESTABLE, UNMEASURED[q], untestable=NOT_IN_RUN)]


@form_rule("background")
def rules_background(form: Mapping, x: Inputs) -> list[dict]:
    return [
        check(
            "background",
            "scope",
            NOT_TESTABLE,
            f"a statement about {form['about']}, not a result of the paper's experiments; "
            "outside what a CIFAR-10 reproduction tests",
            untestable=OUT_OF_SCOPE,
        )
    ]


@form_rule("layer_count")
def rules_layer_count(form: Mapping, x: Inputs) -> list[dict]:
    """The layers a published network has, counted from torchvision's implementation of it: weight layers
    (convolutions and fully connected layers) on the path from input to output, as their authors count."""
    counted = {m: weight_layers(m) for m in form["layers"]}
    absent = [m for m, c in counted.items() if c is None]
    if absent:
        return [check("layer_count", "model", NOT_TESTABLE, f"torchvision has no {', '.join(absent)} here")]
    text = "; ".join(
        f"{display(m)} {c['depth']}"
        + (f" (its {c['shortcuts']} projection shortcuts lie beside blocks and add no depth)" if c["shortcuts"] else "")
        for m, c in counted.items()
    )
    wrong = {m: n for m, n in form["layers"].items() if counted[m]["depth"] != int(n)}
    how = (
        "weight layers (convolutions and fully connected layers from input to output) of torchvision's "
        "implementations, built with weights=None"
    )
    ev = {"claimed": dict(form["layers"]), "counted": counted}
    if wrong:
        claimed = "; ".join(f"{display(m)} {n}" for m, n in wrong.items())
        return [check("layer_count", "model", NOT_REPRODUCED, f"claimed {claimed}, but the {how} count {text}", **ev)]
    return [check("layer_count", "model", REPRODUCED, f"{how}: {text}", **ev)]


@form_rule("method")
def rules_method(form: Mapping, x: Inputs) -> list[dict]:
    return [
        check(
            "method",
            "scope",
            NOT_TESTABLE,
            f"describes the {form['aspect']} ({form['paper']}) without saying the experiments used it; "
            f"we train with {OUR_LOSS} (listed under deviations)",
            untestable=UNDERSPECIFIED,
        )
    ]
