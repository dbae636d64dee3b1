"""#23 leftovers: a number is said with its unit as a sentence says it ("1 day", never "1 days"),
and a blank answer to an optional question is "not recorded", in its hint as in its description."""

from __future__ import annotations

import pytest

from lbp_assess.engine.questionnaire import quantity
from lbp_assess.engine.ruleset.load import load_rules

from helpers import RULES

QUESTIONS = load_rules(RULES).questionnaire


@pytest.mark.parametrize("value, unit, said", [
    (1, "days", "1 day"), (1.0, "days", "1 day"), (2, "days", "2 days"), (0.5, "weeks", "0.5 weeks"),
    (1, "weeks", "1 week"), (1, "minutes", "1 minute"), (1, "years", "1 year"), (0, "days", "0 days"),
    (7, "/10", "7/10"), (40, "%", "40 %"), (3, None, "3"), (1.5, "days", "1.5 days"),
])
def test_a_quantity_is_singular_for_exactly_one(value, unit, said):
    assert quantity(value, unit) == said


def test_every_question_with_a_unit_says_one_in_the_singular():
    for q in QUESTIONS.questions:
        if q.unit and q.unit.endswith("s") and q.kind == "number":
            assert not q.describe(1).endswith("s"), (q.id, q.describe(1))
            assert q.describe(2).endswith(q.unit), (q.id, q.describe(2))


def test_a_blank_optional_number_is_not_recorded_in_its_hint_and_its_description():
    odi = QUESTIONS.by_id["function.odi"]
    assert odi.optional and odi.describe(None) == "not recorded"
    with pytest.raises(ValueError, match=r"blank = not recorded"):
        odi.parse_number("lots")
    onset = QUESTIONS.by_id["cauda_equina.onset_days"]
    with pytest.raises(ValueError, match=r"blank = unsure"):
        onset.parse_number("lots")


@pytest.mark.parametrize("typed", ["-3", "-0.5", "- 2 days"])
def test_a_negative_number_is_said_to_be_out_of_range_not_not_a_number(typed):
    """`-3` weeks ago was answered "Enter a number": it is one, below what the question takes."""
    weeks = QUESTIONS.by_id["onset.weeks_ago"]
    with pytest.raises(ValueError, match=r"^At least 0 \(a negative number is not an answer here\)$"):
        weeks.parse_number(typed)
    with pytest.raises(ValueError, match=r"^Enter a number"):
        weeks.parse_number("-x")
