"""Change against the minimal clinically important difference (rules/outcomes.yaml): what
`compare` and the follow-up note say about pain, the PSFS and the ODI between two visits."""

from __future__ import annotations

import json
import shutil

import pytest

from lbp_assess.model.case import validate_case
from lbp_assess.base.errors import InputError
from lbp_assess.outputs.visits import Visit, compare
from lbp_assess.outputs.note import render_comparison
from lbp_assess.engine.outcomes import IMPROVED, NO_CHANGE, WORSE
from lbp_assess.engine.ruleset.load import load_rules

from helpers import RULES

RULESET = load_rules(RULES)
MEASURES = {m.name: m for m in RULESET.outcome_measures}


def visit(day: str, **sections) -> Visit:
    case = validate_case({"format": "lbp-case/1", "id": f"v-{day}", "assessed_on": day, **sections}, day)
    return Visit(case, f"{day}.yaml")


def verdicts(then: dict, now: dict) -> dict[str, str]:
    c = compare(visit("2026-11-01", **then), visit("2026-11-15", **now), RULESET)
    return {o.measure: o.verdict for o in c.outcomes}


@pytest.mark.parametrize("then, now, expected", [
    (7, 5, IMPROVED),    # 2 points
    (7, 6, NO_CHANGE),   # 1 point, 14%
    (3, 2, IMPROVED),    # 1 point, but 33%
    (2, 4, WORSE),       # 2 points worse
    (5, 6, NO_CHANGE),   # 1 point worse, 20%
    (0, 1, NO_CHANGE),   # from 0 no percentage: 1 point
    (6, 6, NO_CHANGE),
])
def test_pain_nrs_against_2_points_or_30_percent(then, now, expected):
    assert verdicts({"pain": {"back_nrs": then}}, {"pain": {"back_nrs": now}}) == {"back_pain": expected}


def test_the_psfs_is_judged_on_the_mean_of_the_activities_and_the_odi_on_10_points_or_30_percent():
    then = {"function": {"psfs_activity_one": "Sitting", "psfs_one": 3, "psfs_activity_two": "Lifting", "psfs_two": 4,
                         "odi": 40}}
    now = {"function": {"psfs_activity_one": "Sitting", "psfs_one": 6, "psfs_activity_two": "Lifting", "psfs_two": 5,
                        "odi": 32}}
    assert verdicts(then, now) == {"psfs": IMPROVED, "odi": NO_CHANGE}  # mean 3.5 -> 5.5; ODI 8 points, 20%
    now["function"].update(odi=28)
    assert verdicts(then, now)["odi"] == IMPROVED  # 12 points
    now["function"].update(psfs_one=4, odi=35)
    assert verdicts(then, now) == {"psfs": NO_CHANGE, "odi": NO_CHANGE}  # mean +1; ODI 5 points, 12.5%
    now["function"].update(psfs_one=1, psfs_two=2, odi=52)
    assert verdicts(then, now) == {"psfs": WORSE, "odi": WORSE}


def test_a_measure_missing_at_either_visit_is_not_judged():
    assert verdicts({"pain": {"back_nrs": 6}}, {"pain": {"leg_nrs": 2}}) == {}


def test_the_thresholds_are_the_rules_data_not_code(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    path = copy / "outcomes.yaml"
    path.write_text(path.read_text().replace("    points: 2\n    percent: 30\n", "    points: 4\n", 1))
    ruleset = load_rules(copy)
    c = compare(visit("2026-11-01", pain={"back_nrs": 7}), visit("2026-11-15", pain={"back_nrs": 4}), ruleset)
    assert [o.verdict for o in c.outcomes] == [NO_CHANGE]  # 3 points: under a 4-point MCID
    assert "Ostelo" in c.outcomes[0].source


def test_rules_check_refuses_a_measure_of_a_fact_that_is_not_a_number(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    path = copy / "outcomes.yaml"
    path.write_text(path.read_text().replace("facts: [function.odi]", "facts: [function.psfs_activity_one]"))
    with pytest.raises(InputError) as err:
        load_rules(copy)
    assert "outcomes.yaml" in str(err.value) and "function.psfs_activity_one` is text, not a number" in str(err.value)


def test_compare_and_the_follow_up_note_say_it_in_words():
    then = visit("2026-11-01", pain={"back_nrs": 7, "leg_nrs": 8}, function={"psfs_activity_one": "Sitting", "psfs_one": 2})
    now = visit("2026-11-15", pain={"back_nrs": 6, "leg_nrs": 3}, function={"psfs_activity_one": "Sitting", "psfs_one": 5})
    c = compare(then, now, RULESET)
    text = render_comparison(c, RULESET, "text")
    assert "Leg pain (NRS): 8 -> 3 (-5): improved beyond the MCID (MCID 2 points or 30%)" in text
    assert "Back pain (NRS): 7 -> 6 (-1): no important change" in text
    assert "PSFS (mean of the activities): 2 -> 5 (+3): improved beyond the MCID" in text
    data = json.loads(render_comparison(c, RULESET, "json"))
    assert {o["measure"]: o["verdict"] for o in data["outcomes"]} == {
        "back_pain": NO_CHANGE, "leg_pain": IMPROVED, "psfs": IMPROVED}
