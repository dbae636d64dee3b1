"""The shipped YAML rules and an independent hand-written version of the policy
(bench/handwritten.py, written from the written policy, not the YAML) agree on generated cases."""

from __future__ import annotations

import importlib.util

from hypothesis import given, settings

from lbp_assess.model.case import fast_convert
from lbp_assess.engine.ruleset.load import load_rules

from helpers import REPO, RULES, examples
from generated import SETTINGS, cases

_spec = importlib.util.spec_from_file_location("handwritten", REPO / "bench" / "handwritten.py")
handwritten = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(handwritten)
RULESET = load_rules(RULES)


@settings(SETTINGS, max_examples=examples(600))
@given(cases())
def test_rules_agree_with_the_hand_written_policy(data):
    row = RULESET.row_from_data(fast_convert(data), "generated")
    classification, urgency, conditions, alerts = handwritten.assess(data)
    assert (row["classification"], row["urgency"], row["condition_tiers"], set(row["alerts"])) == (
        classification, urgency, conditions, alerts), row["rules_fired"]
