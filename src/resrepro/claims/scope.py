"""Scope: claims no run of this pipeline decides (quantities it does not measure, statements about
other work, descriptions of a method the experiments may not have used)."""

from __future__ import annotations

from typing import Mapping

from .. import ResreproError
from .common import NOT_IN_RUN, NOT_TESTABLE, OUR_LOSS, OUT_OF_SCOPE, UNDERSPECIFIED, UNMEASURED, check, form_rule
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
