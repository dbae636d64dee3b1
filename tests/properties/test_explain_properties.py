"""explain's "what would change it", over generated cases: the list is complete for single
red-flag answers, every change it names really gives its result, none is a combination the
interview could not record, and none prints "unknown" as a value."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from lbp_assess.model import expr
from lbp_assess.model.case import FACTS, validate_case
from lbp_assess.outputs.explain import explanation

from generated import RED_FLAG_FACTS, RULESET, cases, with_fact
from helpers import examples

QUESTIONS = RULESET.questionnaire.by_id
SETTINGS = settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def result(data):
    a = RULESET.assess(validate_case(data, "<generated>"))
    return a.classification, a.urgency


def yes_with_its_gate(data, facts, fact):
    """The case with a yes to `fact`, and, when its question is only asked after a yes/no question
    answered no, a yes to that question too (as a clinician would record it); None when no yes/no
    answer opens it (a question for another sex, say)."""
    question = QUESTIONS.get(fact)
    if question is None:
        return None, None
    if question.ask_when is None or question.ask_when(facts) is not False:
        return with_fact(data, fact, True), None
    for ref in expr.references(expr.parse(question.ask_when_text)):
        gate = ref.name
        if gate in FACTS and FACTS[gate].kind == "bool" and facts.get(gate) is False \
                and question.ask_when({**facts, gate: True}) is True:
            return with_fact(with_fact(data, gate, True), fact, True), with_fact(data, gate, True)
    return None, None


@SETTINGS
@given(cases())
def test_every_single_red_flag_answer_that_changes_the_result_is_listed(data):
    case = validate_case(data, "<generated>")
    facts = RULESET.assess(case).facts
    before = result(data)
    listed = {c["fact"] for c in explanation(case, RULESET)["what_would_change"] if c["after"] is True}
    for fact in RED_FLAG_FACTS:
        if facts.get(fact) is True:
            continue
        changed, gate_only = yes_with_its_gate(data, facts, fact)
        if changed is None:
            continue
        after = result(changed)
        if after != before and (gate_only is None or after != result(gate_only)):
            assert fact in listed, (fact, before, after)


@SETTINGS
@given(cases())
def test_every_change_listed_is_real_recordable_and_never_unknown(data):
    case = validate_case(data, "<generated>")
    data_out = explanation(case, RULESET)
    before = (data_out["classification"], data_out["urgency"])
    for change in data_out["what_would_change"]:
        changed = data
        for fact, value in [*change["also"].items(), (change["fact"], change["after"])]:
            changed = with_fact(changed, fact, sorted(value) if isinstance(value, (set, frozenset)) else value)
        assert result(changed) == (change["classification"], change["urgency"]) != before, change
        # the interview would ask the changed question given the other answers
        question = QUESTIONS.get(change["fact"])
        if question is not None and question.ask_when is not None:
            facts = RULESET.assess(validate_case(changed, "<changed>")).facts
            assert question.ask_when(facts) is not False, change
        assert "unknown" not in change["shown"].lower(), change
    for ask in data_out["ask_next"]:
        assert "unknown" not in ask["answer"].lower(), ask
