"""The report's wording as text (templates/report_text.yaml): rendering rules, errors, the degradation section."""

from __future__ import annotations

import json

import pytest

from resrepro import ResreproError, degradation, report
from resrepro.report import content
from resrepro.report.prose import Prose

COMMON = {"stamp": None, "comparable": False, "study": True}


def test_empty_paragraphs_are_left_out_and_values_are_shaped(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text(
        'a:\n  - "{% if flag %}only with the flag{% endif %}"\n  - "{{ n|thousands }} / {{ x|decimals(1) }}"\n',
        encoding="utf-8",
    )
    assert Prose(p).render("a", flag=False, n=45000, x=0.25) == ["45,000 / 0.2"]
    assert Prose(p).render("a", flag=True, n=1, x=1.0) == ["only with the flag", "1 / 1.0"]


def test_a_misspelt_value_names_the_entry_and_the_values_it_can_use(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("s:\n  t: '{{ n_claim }} claims'\n", encoding="utf-8")
    with pytest.raises(ResreproError, match=r"entry 's\.t' uses an undefined value .*it can use: n_claims"):
        Prose(p).render("s.t", n_claims=3)
    with pytest.raises(ResreproError, match="has no entry 's.u'"):
        Prose(p).render("s.u")


def _study(tmp_path, train_errors: dict, seeds=(0,)) -> dict:
    kinds = {}
    for m, err in train_errors.items():
        std = None if len(seeds) == 1 else 0.5
        kinds[m] = {
            "final_train_error": {"mean": err, "std": std},
            "test_error": {"mean": err + 5, "std": std},
            "grad_ratio_first_to_last_block": {"0": {"mean": 0.001234 if m.startswith("plain") else 0.5}},
            "weight_grad_ratio_first_to_last_block": {"0": {"mean": 6.25 if m.startswith("plain") else 1.5}},
        }
    s = {"depths": [20, 56], "seeds": list(seeds), "kinds": kinds}
    s["evidence"] = degradation.evidence(s)
    s["he_table6"] = {"citation": "He et al. 2016", "test_error": {20: 8.75, 56: 6.97}}
    s["jacobian"] = {"checks": [{"model": "resnet20", "max_abs_dev_identity": 1e-7, "max_abs_dev_out": 2e-6}]}
    (tmp_path / "degradation").mkdir()
    (tmp_path / "degradation" / "summary.json").write_text(json.dumps(s), encoding="utf-8")
    (tmp_path / "degradation" / "table6.csv").write_text("Depth,Ours\n20,1\n56,2\n", encoding="utf-8")
    text = Prose(report.TEMPLATE_DIR / report.TEXT_FILE)
    section, tables, figures = content._degradation(tmp_path, text, COMMON)
    assert [t["id"] for t in tables] == ["table6"] and tables[0]["notes"][0].startswith("He et al. 2016: ")
    assert [f["id"] for f in figures] == section["figures"] == ["figure6", "gradflow"]
    return section


def test_degradation_section_names_the_twins_and_says_which_nets_never_started(tmp_path):
    errors = {"plain20": 10.0, "resnet20": 9.0, "plain56": 85.0, "resnet56": 8.0}
    section = _study(tmp_path, errors, seeds=(0, 1))
    intro, train, grad, jacobian = section["paragraphs"]
    assert "depths 20, 56, seeds 0, 1," in intro
    assert train.startswith("Final training error: plain-20 10.00 % ± 0.50, ResNet-20 9.00 % ± 0.50; plain-56 85.00 %")
    assert "Plain networks degrade: yes; residual networks degrade: no;" in train
    assert "Did not start converging (" in train and "): plain-56; their training error" in train
    assert "input): plain-20 0.00123; ResNet-20 0.5; plain-56 0.00123; ResNet-56 0.5. The gradient claims" in grad
    weights = "at initialisation plain-20 6.25; ResNet-20 1.5; plain-56 6.25; ResNet-56 1.5; at every recorded epoch"
    assert grad.endswith(weights + ", under Claims.")
    assert "(largest deviation 1.0e-07)" in jacobian and "(largest deviation 2.0e-06)" in jacobian


def test_degradation_section_with_one_seed_and_every_net_started(tmp_path):
    section = _study(tmp_path, {"plain20": 10.0, "resnet20": 9.0, "plain56": 30.0, "resnet56": 8.0})
    train = section["paragraphs"][1]
    assert "plain-20 10.00 %, ResNet-20 9.00 %;" in train and "Did not start" not in train
    assert train.endswith("beyond the noise: yes, test error: yes.")
