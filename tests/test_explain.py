"""`explain`: the rule tree by layer, and "what would change it" - each suggestion checked by
scoring the changed case from scratch."""

from __future__ import annotations

import json

import pytest

from lbp_assess.case import load_case, validate_case
from lbp_assess.explain import explanation

from helpers import EXAMPLES

SAMPLE = ["v10-radicular-l5.yaml", "v17-cook-four-of-five.yaml", "v18-cook-three-of-five.yaml",
          "v09-sexual-dysfunction-only.yaml", "v22-ces-over-two-weeks-stable.yaml", "v01-acute-lifting.yaml"]


@pytest.mark.parametrize("name", SAMPLE)
def test_every_suggested_change_really_changes_the_result(ruleset, name):
    case = load_case(EXAMPLES / "vignettes" / name)
    data = explanation(case, ruleset)
    assert data["what_would_change"], "a vignette near a boundary has something that would change it"
    before = (data["classification"], data["urgency"])
    for change in data["what_would_change"]:
        raw = case.model_dump(mode="json", exclude_none=True)
        section, field = change["fact"].split(".")
        raw.setdefault(section, {})[field] = change["after"]
        result = ruleset.assess(validate_case(raw, "changed"))
        assert (result.classification, result.urgency) == (change["classification"], change["urgency"]), change
        assert (result.classification, result.urgency) != before


def test_cook_three_of_five_would_be_stenosis_at_49(ruleset):
    data = explanation(load_case(EXAMPLES / "vignettes" / "v18-cook-three-of-five.yaml"), ruleset)
    ages = [c for c in data["what_would_change"] if c["fact"] == "patient.age"]
    assert any(c["after"] == 49 and c["classification"] == "stenosis" for c in ages)
    assert any(c["shown"] == "Saddle numbness: yes" and c["urgency"] == "emergency"
               for c in data["what_would_change"])
    assert data["what_would_change"][0]["urgency"] == "emergency"  # most urgent first


def test_layers_show_each_rule_state_with_facts_and_source(ruleset):
    data = explanation(load_case(EXAMPLES / "cases" / "unscreened-red-flags.yaml"), ruleset)
    rules = {r["id"]: r for layer in data["layers"] for r in layer["rules"]}
    assert [layer["layer"] for layer in data["layers"]] == ["red_flag", "other_specific", "musculoskeletal"]
    ces = rules["red_flag.cauda_equina.emergency"]
    assert ces["state"] == "not_excluded" and ces["source"].startswith("GIRFT")
    assert {f["fact"] for f in ces["facts"]} >= {"cauda_equina.saddle_numbness"}
    assert rules["red_flag.screen_incomplete"]["state"] == "fired"
    assert rules["msk.stenosis.likely"]["state"] == "not_fired"


def test_explain_command_tree_and_json(cli):
    path = str(EXAMPLES / "vignettes" / "v14-bilateral-sciatica.yaml")
    tree = cli("explain", path)
    assert tree.code == 0
    assert "Red flags (serious pathology)" in tree.out and "✔ fired" in tree.out
    assert "What would change it" in tree.out and "Decision support only" in tree.out
    assert "✘ not fired" in tree.out and "decided by:" in tree.out  # every rule, with why it did not fire
    brief = cli("explain", path, "--brief")
    assert "✘ not fired" not in brief.out and "more rule(s) did not fire" in brief.out
    data = json.loads(cli("explain", path, "--format", "json").out)
    assert data["classification"] == "radicular" and data["urgency"] == "urgent"
    assert cli("explain", str(EXAMPLES / "missing.yaml")).code == 1
