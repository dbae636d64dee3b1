"""interview.yaml is checked with the rules: every fact asked once, ask_when names
facts asked earlier, and red-flag screening questions can never be hidden."""

from __future__ import annotations

from pathlib import Path

from lbp_assess.model.case import FACTS
from lbp_assess.engine.ruleset.load import check_rules, load_rules

from helpers import RULES, edit


def problems(directory: Path) -> list[str]:
    return [f"{p.location}: {p.message}".replace(f"{directory}/", "")
            for p in check_rules(directory) if p.severity == "error"]


def test_every_fact_is_asked_exactly_once():
    questionnaire = load_rules(RULES).questionnaire
    ids = [q.id for q in questionnaire.questions]
    assert len(ids) == len(set(ids))
    assert set(FACTS) <= set(ids)
    assert ids[0] == "id"


def test_order_follows_the_clinical_subjective():
    sections = list(dict.fromkeys(q.section for q in load_rules(RULES).questionnaire.questions))
    assert sections == ["patient", "pain", "onset", "behaviour", "aggravating", "walking", "neuro", "special",
                        "history", "obstetric", "drugs", "progression", "social", "psychosocial"]


def test_a_fact_that_is_never_asked(rules_copy):
    edit(rules_copy / "interview.yaml", "  - id: neuro.gait_change\n", "  - id: neuro.gait_changes\n")
    found = problems(rules_copy)
    assert any("unknown case field `neuro.gait_changes` (did you mean `neuro.gait_change`?)" in p for p in found)
    assert any("fact `neuro.gait_change` is never asked" in p for p in found)


def test_a_red_flag_question_cannot_be_hidden(rules_copy):
    edit(rules_copy / "interview.yaml",
         "  - id: cauda_equina.saddle_numbness\n",
         "  - id: cauda_equina.saddle_numbness\n    ask_when: pain.leg_side != \"none\"\n")
    assert any("cauda_equina.saddle_numbness is a red-flag screening question and must always be asked" in p
               for p in problems(rules_copy))


def test_ask_when_may_only_name_facts_asked_earlier(rules_copy):
    edit(rules_copy / "interview.yaml", "    ask_when: pain.leg_side != \"none\"\n",
         "    ask_when: neuro.weakness\n")
    assert any("ask_when refers to `neuro.weakness`, which is not asked before this question" in p
               for p in problems(rules_copy))


def test_ask_when_names_are_checked(rules_copy):
    edit(rules_copy / "interview.yaml", "    ask_when: neuro.weakness\n", "    ask_when: neuro.weaknes\n")
    assert any("unknown name `neuro.weaknes` (did you mean `neuro.weakness`?)" in p for p in problems(rules_copy))


def test_choices_must_match_the_case_values(rules_copy):
    edit(rules_copy / "interview.yaml", "alternating: Alternating sides}", "alternate: Alternating sides}")
    found = problems(rules_copy)
    assert any("`alternate` is not a value of pain.leg_side (did you mean `alternating`?)" in p for p in found)
    assert any("choices for pain.leg_side lack: alternating" in p for p in found)
