"""Scope: claims no run of this pipeline decides (quantities it does not measure, statements about
other work, descriptions of a method the experiments may not have used)."""

from __future__ import annotations

from typing import Mapping

from .. import ResreproError
from .common import OUR_LOSS, UNMEASURED, check, form_rule
from .evidence import Inputs


@form_rule("unmeasured")
def rules_unmeasured(form: Mapping, x: Inputs) -> list[dict]:
    q = form["quantity"]
    if q not in UNMEASURED:
        raise ResreproError(
            f"no description of the unmeasured quantity {q!r}; add it to resrepro.claims.common.UNMEASURED"
        )
    return [check("unmeasured", "scope", "not testable", UNMEASURED[q])]


@form_rule("background")
def rules_background(form: Mapping, x: Inputs) -> list[dict]:
    return [
        check(
            "background",
            "scope",
            "not testable",
            f"a statement about {form['about']}, not a result of the paper's experiments; "
            "outside what a CIFAR-10 reproduction tests",
        )
    ]


@form_rule("method")
def rules_method(form: Mapping, x: Inputs) -> list[dict]:
    return [
        check(
            "method",
            "scope",
            "not testable",
            f"describes the {form['aspect']} ({form['paper']}) without saying the experiments used it; "
            f"we train with {OUR_LOSS} (listed under deviations)",
        )
    ]
