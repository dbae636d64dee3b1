"""Safety properties of the default rules, over generated valid cases.

* Setting any single red-flag or neurological fact to true never lowers the
  urgency and never removes a condition (a red flag is never missed).
* Setting any unknown yes/no fact to false never raises the urgency and never
  adds a condition (unknown is not "no", and "no" never adds alarm by itself).
* Scoring never crashes, results stay in the vocabulary, and the compiled
  evaluator agrees with the explaining one on every rule.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from lbp_assess.model import expr


from generated import with_fact, RULESET, RANK, RED_FLAG_FACTS, BOOL_FACTS, SETTINGS, THRESHOLDS, cases, fact_values, assess  # noqa: F401


@SETTINGS
@given(cases())
def test_adding_a_red_flag_answer_never_lowers_urgency(data):
    before = assess(data)
    for fact in RED_FLAG_FACTS:  # every single red-flag fact, not a sample
        after = assess(with_fact(data, fact, True))
        assert RANK[after.urgency] <= RANK[before.urgency], (fact, before.urgency, after.urgency)
        assert set(before.conditions) <= set(after.conditions), (fact, before.conditions, after.conditions)


@SETTINGS
@given(cases())
def test_unknown_to_no_never_raises_urgency_or_adds_a_condition(data):
    before = assess(data)
    for fact in BOOL_FACTS:
        section, name = fact.split(".")
        if data.get(section, {}).get(name) is not None:
            continue
        after = assess(with_fact(data, fact, False))
        assert RANK[after.urgency] >= RANK[before.urgency], (fact, before.urgency, after.urgency)
        assert set(after.conditions) <= set(before.conditions), (fact, before.conditions, after.conditions)


@SETTINGS
@given(cases())
def test_scoring_never_crashes_and_stays_in_the_vocabulary(data):
    a = assess(data)
    row = a.to_row("generated.yaml")
    assert row["classification"] in RULESET.manifest.classes
    assert row["urgency"] in RULESET.manifest.tiers
    assert set(row["conditions"]) <= set(RULESET.manifest.conditions)
    assert set(row["alerts"]) <= set(RULESET.manifest.alerts)
    json.dumps(row)  # machine-readable
    # Unknown is not "no": every unanswered screening question is reported.
    for fact in RULESET.manifest.screening:
        section, name = fact.split(".")
        assert (data.get(section, {}).get(name) is None) == (fact in a.unscreened)
    # A red_flag class always comes with an emergency or urgent condition.
    if a.classification == "red_flag":
        assert {"emergency", "urgent"} & set(a.conditions.values())


@SETTINGS
@given(cases())
def test_compiled_rules_agree_with_the_explaining_evaluator(data):
    a = assess(data)
    for rule, trace in zip(RULESET.rules, a.trace()):
        value = {"fired": True, "not_fired": False, "not_excluded": None}[trace.state]
        assert a.explained(rule.node).value is value, rule.id


def summary_from_trace(a):
    """What the fired rules raise, read plainly from the rule definitions (an oracle for the
    summarising that compile_ruleset generates): highest tier per condition and alert, findings,
    urgency = the highest tier raised, rule ids in evaluation order."""
    conditions, alerts, findings, fired, undecided = {}, {}, [], [], []
    urgency = list(RULESET.manifest.tiers)[-1]
    for t in a.trace():
        rule = t.rule
        if t.state == "not_excluded":
            undecided.append(rule.id)
        if t.state != "fired":
            continue
        fired.append(rule.id)
        if rule.raises == "finding":
            findings += [rule.name] if rule.name not in findings else []
            continue
        held = conditions if rule.raises == "condition" else alerts
        if rule.tier is not None and RANK[rule.tier] < RANK[urgency]:
            urgency = rule.tier
        current = held.get(rule.name, "absent")
        if current == "absent" or (rule.tier is not None and (current is None or RANK[rule.tier] < RANK[current])):
            held[rule.name] = rule.tier
    return conditions, alerts, findings, urgency, fired, undecided


@SETTINGS
@given(cases())
def test_generated_summary_agrees_with_the_rules_read_plainly(data):
    a = assess(data)
    conditions, alerts, findings, urgency, fired, undecided = summary_from_trace(a)
    assert list(a.conditions.items()) == list(conditions.items())  # order too: it is the output order
    assert list(a.alerts.items()) == list(alerts.items())
    assert (a.findings, a.urgency, a.rules_fired, a.not_excluded) == (findings, urgency, fired, undecided)


# --------------------------------------------------------------------------- policy v6 facts

V6_RED_FLAG_FACTS = {"pain.groin", "systemic.collapse", "obstetric.pregnant", "obstetric.postpartum"}


def test_the_v6_red_flag_facts_are_in_the_safety_properties():
    assert V6_RED_FLAG_FACTS <= set(RED_FLAG_FACTS)


@st.composite
def v6_cases(draw):
    """Generated cases near the v6 thresholds: age 59/60/68, weeks since the birth 6/7/unknown,
    fever, mechanical pain, onset and the v6 facts each unknown, yes or no, so the new rows are
    often one answer away from firing."""
    data = draw(cases())
    data.setdefault("patient", {})["age"] = draw(st.sampled_from([40, 59, 60, 68]))
    obstetric = data.setdefault("obstetric", {})
    weeks = draw(st.sampled_from([None, 6, 7, 6.5]))
    obstetric.pop("postpartum_weeks", None)
    if weeks is not None:
        obstetric["postpartum_weeks"] = weeks
    for path in ("systemic.fever", "behaviour.mechanical", "onset.mode", *sorted(V6_RED_FLAG_FACTS),
                 "pain.abdominal"):
        section, name = path.split(".")
        value = draw(st.sampled_from([None, True, False] if name != "mode" else [None, "sudden", "gradual"]))
        data.setdefault(section, {}).pop(name, None)
        if value is not None:
            data[section][name] = value
    return data


@SETTINGS
@given(v6_cases())
def test_v6_facts_never_lower_urgency_when_added_or_raise_it_when_set_to_no(data):
    before = assess(data)
    for fact in sorted(V6_RED_FLAG_FACTS | {"pain.abdominal", "history.smoker", "history.vascular_disease"}):
        section, name = fact.split(".")
        added = assess(with_fact(data, fact, True))
        assert RANK[added.urgency] <= RANK[before.urgency], (fact, before.urgency, added.urgency)
        assert set(before.conditions) <= set(added.conditions), (fact, before.conditions, added.conditions)
        if data.get(section, {}).get(name) is None:
            cleared = assess(with_fact(data, fact, False))
            assert RANK[cleared.urgency] >= RANK[before.urgency], (fact, before.urgency, cleared.urgency)
            assert set(cleared.conditions) <= set(before.conditions), (fact, before.conditions, cleared.conditions)
