"""What an earlier "no" settles is settled the same way on every path.

The interview does not ask a follow-up whose `ask_when` is false and records its `if_skipped`
answer; the rule set's `settled` block settles the same facts for a case file, a FHIR response or
a batch row that leaves them out. These tests hold the two lists together, so a case file saying
"no weakness" is not told to ask about weakness in both legs before the patient leaves.
"""

from __future__ import annotations

from hypothesis import given

from lbp_assess.model import expr
from lbp_assess.model.case import facts_of, validate_case

from generated import RULESET, SETTINGS, cases
from helpers import REPO
from lbp_assess.inputs.cases import load_case

QUESTIONS = [q for q in RULESET.questionnaire.questions if q.if_skipped is False and q.ask_when is not None]
SETTLED_WHEN = {fact: expr.compile_expression(node) for fact, node in RULESET.settled.items()}


def test_every_follow_up_the_interview_settles_to_no_is_settled_by_the_rules():
    assert QUESTIONS, "the interview settles some follow-ups"
    assert sorted(q.id for q in QUESTIONS if q.id not in RULESET.settled) == []


@SETTINGS
@given(cases())
def test_the_rules_settle_a_follow_up_exactly_when_the_interview_skips_it(data):
    facts = facts_of(validate_case(data, "<generated>"))
    for q in QUESTIONS:
        skipped = q.ask_when(facts) is False
        assert (SETTLED_WHEN[q.id](facts) is True) is skipped, (q.id, facts)


def test_no_weakness_in_a_case_file_leaves_no_weakness_question_open():
    case = load_case(REPO / "examples" / "vignettes" / "v42-sudden-pain-lifting-woman-65.yaml")
    assert case.neuro.weakness is False and case.neuro.weakness_both_legs is None
    a = RULESET.assess(case)
    open_facts = {f for trace in a.trace() if trace.state == "not_excluded" for f in trace.facts}
    assert not open_facts & {"neuro.weakness_both_legs", "neuro.weakness_progressing", "neuro.foot_drop"}
