"""The interview engine through a scripted prompter: branching, back, edit at review,
irrelevant answers dropped, live alerts, unsure answers, pre-fill and resume."""

from __future__ import annotations


import json

import pytest

from lbp_assess.inputs.cases import load_case
from lbp_assess.consult.interview import NOT_ANSWERED, Interview
from lbp_assess.engine.questionnaire import GO_BACK

from helpers import EXAMPLES


from scripted import Scripted, RADICULAR, interview_of  # noqa: F401



def test_a_radicular_history_end_to_end(ruleset):
    script = Scripted(RADICULAR)
    interview, saves = interview_of(ruleset, script)
    a = interview.ruleset.assess(interview.case())
    assert (a.classification, a.urgency) == ("radicular", "routine")
    assert saves and saves == sorted(saves), "autosaved after every answer"
    assert script.reviews == 1 and script.alerts == []


def test_only_relevant_questions_are_asked(ruleset):
    no_leg = dict(RADICULAR, **{"pain.leg_side": "none"})
    script = Scripted(no_leg)
    interview_of(ruleset, script)
    for skipped in ("pain.leg_nrs", "pain.leg_extent", "pain.dermatomal", "pain.root_level",
                    "walking.relief_sitting_or_flexion", "walking.tolerance_min", "neuro.foot_drop",
                    "cauda_equina.onset_days", "onset.fracture_excluded"):
        assert skipped not in script.asked, skipped
    assert "cauda_equina.saddle_numbness" in script.asked
    walking = Scripted(dict(RADICULAR, **{"walking.leg_symptoms_on_walking": True}))
    interview_of(ruleset, walking)
    assert {"walking.relief_sitting_or_flexion", "walking.relief_standing_still"} <= set(walking.asked)


def test_unsure_is_recorded_as_unknown_and_reported_unscreened(ruleset):
    script = Scripted(dict(RADICULAR, **{"cauda_equina.saddle_numbness": None}))
    interview, _ = interview_of(ruleset, script)
    data = interview.case_data()
    assert data["cauda_equina"]["saddle_numbness"] is None  # asked, unsure: written as null
    assert "cauda_equina.saddle_numbness" in interview.ruleset.assess(interview.case()).unscreened


def test_back_returns_to_the_previous_question_with_its_answer_as_default(ruleset):
    script = Scripted(RADICULAR)
    script.queue["pain.leg_side"] = ["right", GO_BACK]  # then falls back to RADICULAR's answer
    script.queue["pain.leg_nrs"] = [GO_BACK, 6]
    interview, _ = interview_of(ruleset, script)
    first = script.asked.index("pain.leg_side")
    # back from leg pain to leg side, back again to back pain, then forward through the answers
    # (each offered again as the default) to the question where back was first pressed
    assert script.asked[first:first + 6] == [
        "pain.leg_side", "pain.leg_nrs", "pain.leg_side", "pain.back_nrs", "pain.leg_side", "pain.leg_nrs"]
    assert script.defaults["pain.leg_side"] == [NOT_ANSWERED, "right", "right"]
    assert script.defaults["pain.back_nrs"] == [NOT_ANSWERED, 4]
    assert interview.answers["pain.leg_nrs"] == 6 and interview.answers["pain.leg_side"] == "right"


def test_back_then_change_drops_answers_that_became_irrelevant(ruleset):
    interview = Interview(ruleset)
    # Answer up to dermatomal, then go back and say there are no leg symptoms.
    for qid in ("id", "assessor", "patient.age", "patient.sex", "pain.back_nrs", "pain.leg_side",
                "pain.leg_nrs", "pain.leg_extent", "pain.dominant", "pain.dermatomal", "pain.root_level"):
        assert interview.current().id == qid
        interview.answer(RADICULAR.get(qid))
    while interview.current().id != "pain.leg_side":
        assert interview.back()
    interview.answer("none")
    for gone in ("pain.leg_nrs", "pain.leg_extent", "pain.dominant", "pain.dermatomal", "pain.root_level"):
        assert gone not in interview.answers
    dropped = {e["question"] for e in interview.journal if e["event"] == "dropped"}
    assert {"pain.leg_extent", "pain.root_level"} <= dropped  # kept in the journal
    # The case carries what "no leg symptoms" settles, not the dropped answers.
    pain = interview.case_data()["pain"]
    assert (pain["leg_extent"], pain["leg_nrs"], pain["dermatomal"]) == ("none", 0, False)
    assert "root_level" not in pain  # nothing settles the root level: it stays unknown


def test_edit_at_review_changes_the_result_and_asks_new_questions(ruleset):
    script = Scripted(RADICULAR, edits=[("walking.leg_symptoms_on_walking", True)])
    script.answers.update({"walking.relief_sitting_or_flexion": True, "walking.relief_standing_still": False})
    interview, _ = interview_of(ruleset, script)
    assert script.reviews == 2
    # The edit made the walking follow-ups relevant, and they were asked after the edit.
    assert script.asked.index("walking.relief_sitting_or_flexion") > script.asked.index(
        "walking.leg_symptoms_on_walking")
    assert interview.answers["walking.relief_sitting_or_flexion"] is True


def test_a_red_flag_answer_shows_a_live_alert_at_once(ruleset):
    script = Scripted(dict(RADICULAR, **{"cauda_equina.saddle_numbness": True,
                                         "cauda_equina.onset_days": 2, "cauda_equina.worsening": False}))
    interview, _ = interview_of(ruleset, script)
    (alert,) = [a for a in script.alerts if a.name == "cauda_equina"]
    assert (alert.tier, alert.label) == ("emergency", "Cauda equina syndrome")
    assert "MRI" in alert.action
    # Shown the moment saddle numbness was answered: before the next question was asked.
    assert script.asked.index("cauda_equina.saddle_numbness") < script.asked.index("cauda_equina.sexual_dysfunction")
    assert len(script.alerts) == 1  # not repeated for later answers
    assert interview.ruleset.assess(interview.case()).classification == "red_flag"


def test_invalid_answers_are_refused_with_the_case_model_message(ruleset):
    script = Scripted(RADICULAR)
    script.queue["patient.age"] = [12, 41]
    interview_of(ruleset, script)
    assert script.invalids == ["patient.age: lbp-assess is for adults: age must be 16 or over (got 12)"]


def test_answers_file_prefills_and_asks_only_what_is_missing(ruleset, tmp_path):
    source = (EXAMPLES / "cases" / "radicular-l5.yaml").read_text()
    trimmed = source.replace("  saddle_numbness: false\n", "")
    path = tmp_path / "partial.yaml"
    path.write_text(trimmed)
    interview = Interview.from_case(ruleset, load_case(path))
    missing = [q.id for q in interview.missing() if not q.optional]
    assert missing == ["cauda_equina.saddle_numbness"]
    # the file predates the optional subjective questions (pain quality, medication, function):
    # those are asked too, in order, and nothing the file answered
    assert interview.current() is interview.missing()[0]
    assert not {q.id for q in interview.missing()} & set(interview.answers)


def test_resume_from_a_draft_keeps_every_answer(ruleset, tmp_path):
    interview = Interview(ruleset)
    for qid in ("id", "assessor", "patient.age", "patient.sex", "pain.back_nrs"):
        interview.answer(RADICULAR.get(qid))
    draft = tmp_path / "d.json"
    interview.save_draft(draft)
    assert oct(draft.stat().st_mode & 0o777) == "0o600"
    resumed, notes = Interview.from_draft(ruleset, draft)
    assert notes == []
    assert resumed.answers == interview.answers
    assert resumed.current().id == "pain.leg_side"


def test_resume_rechecks_answers_against_the_current_questionnaire(ruleset, tmp_path):
    draft = tmp_path / "d.json"
    Interview(ruleset, {"id": "x", "patient.age": 40}).save_draft(draft)
    text = draft.read_text().replace('"patient.age": 40', '"patient.age": 400, "pain.colour": "red"')
    draft.write_text(text)
    resumed, notes = Interview.from_draft(ruleset, draft)
    assert "patient.age" not in resumed.answers
    assert any(n.startswith("pain.colour: no longer in the questionnaire") for n in notes)
    assert any(n.startswith("patient.age: age must be between 16 and 110") for n in notes)


def test_case_written_by_the_interview_scores_to_the_same_result(ruleset, tmp_path, cli):
    import json

    from lbp_assess.consult.session import case_yaml

    interview, _ = interview_of(ruleset, Scripted(RADICULAR))
    path = tmp_path / "rad-1.case.yaml"
    path.write_text(case_yaml(interview))
    row = json.loads(cli("score", str(path)).out)
    expected = interview.assessment()
    assert (row["classification"], row["urgency"], row["rules_fired"], row["unscreened"]) == (
        expected.classification, expected.urgency, expected.rules_fired, expected.unscreened)


@pytest.mark.parametrize("qid", ["cauda_equina.saddle_numbness", "systemic.fever", "history.cancer"])
def test_red_flag_questions_are_always_asked(ruleset, qid):
    sparse = Scripted({"id": "x", "pain.leg_side": "none", "neuro.weakness": False})
    interview_of(ruleset, sparse)
    assert qid in sparse.asked


# --------------------------------------------------------------------------- settled follow-ups


def test_no_weakness_settles_its_follow_ups_as_no(ruleset):
    """A follow-up skipped because its gate is "no" is a known no, so nothing is left open."""
    script = Scripted(dict(RADICULAR, **{"neuro.weakness": False}))
    interview, _ = interview_of(ruleset, script)
    for follow_up in ("neuro.weakness_both_legs", "neuro.weakness_progressing", "neuro.foot_drop"):
        assert follow_up not in script.asked
        assert interview.case_data()["neuro"][follow_up.split(".")[1]] is False
    a = interview.assessment()
    assert not [t for t in a.trace() if t.state == "not_excluded" and "neuro.weakness_both_legs" in t.facts]
    assert a.facts["neuro.weakness_both_legs"] is False


def test_an_unknown_gate_still_asks_the_follow_up(ruleset):
    script = Scripted(dict(RADICULAR, **{"neuro.weakness": None}))
    interview, _ = interview_of(ruleset, script)
    assert {"neuro.weakness_both_legs", "neuro.foot_drop"} <= set(script.asked)
    assert interview.settled() == {} or "neuro.foot_drop" not in interview.settled()


def test_no_leg_symptoms_settles_the_leg_questions_and_skips_them(ruleset):
    script = Scripted(dict(RADICULAR, **{"pain.leg_side": "none"}))
    interview, _ = interview_of(ruleset, script)
    for skipped in ("pain.leg_nrs", "pain.leg_extent", "pain.dominant", "pain.dermatomal",
                    "neuro.paraesthesia", "neuro.numbness"):
        assert skipped not in script.asked, skipped
    data = interview.case_data()
    assert data["pain"]["leg_nrs"] == 0 and data["pain"]["leg_extent"] == "none"
    assert data["neuro"]["paraesthesia"] is False and data["neuro"]["numbness"] is False
    assert "neuro.weakness" in script.asked  # weakness is still asked: it is not a "leg symptom" answer
    assert interview.assessment().warnings == []


def test_cough_and_sneeze_is_asked_once(ruleset):
    """Its own yes/no question; the tick list does not offer it again."""
    question = ruleset.questionnaire.by_id["behaviour.aggravated_by"]
    assert "cough_sneeze" in dict(question.choices) and "cough_sneeze" not in dict(question.offered)
    script = Scripted(RADICULAR)
    interview_of(ruleset, script)
    assert "behaviour.worse_cough_sneeze" in script.asked


def test_a_case_file_with_follow_ups_left_out_gets_the_settled_answers(ruleset, tmp_path):
    path = tmp_path / "c.yaml"
    source = (EXAMPLES / "cases" / "radicular-l5.yaml").read_text()
    assert "  weakness_both_legs: false\n" in source
    path.write_text(source.replace("  weakness_both_legs: false\n", ""))
    case = load_case(path)
    assert case.neuro.weakness is False and "weakness_both_legs" not in case.neuro.model_fields_set
    interview = Interview.from_case(ruleset, case)
    assert interview.case().neuro.weakness_both_legs is False


def test_answers_given_in_a_case_file_are_kept_even_where_a_gate_says_skip(ruleset):
    """A positive answer always counts: a contradiction shows as a warning, it is not dropped."""
    from helpers import make_case

    case = make_case(neuro={"weakness": False, "foot_drop": True})
    interview = Interview.from_case(ruleset, case)
    assert interview.answers["neuro.foot_drop"] is True
    a = interview.assessment()
    assert "significant_motor_deficit" in a.alerts and a.warnings
    assert a.urgency == ruleset.assess(case).urgency


# --------------------------------------------------------------------------- changes shown at once


def _answer_until(interview, answers, stop):
    while interview.current() is not None and interview.current().id != stop:
        q = interview.current()
        interview.answer(answers.get(q.id, "scripted" if q.id == "id" else None))


def test_a_red_flag_edited_off_and_on_is_shown_again_and_tier_changes_are_reported(ruleset):
    interview = Interview(ruleset)
    _answer_until(interview, RADICULAR, "cauda_equina.saddle_numbness")
    (raised,) = interview.answer(True)
    assert (raised.name, raised.tier, raised.change) == ("cauda_equina", "emergency", "raised")
    interview.answer(False)  # sexual dysfunction
    assert interview.current().id == "cauda_equina.onset_days"
    interview.answer(20)
    (lowered,) = interview.answer(False)  # not worsening, over 14 days: urgent
    assert (lowered.change, lowered.tier, lowered.was) == ("lower", "urgent", "emergency")
    interview.edit("cauda_equina.saddle_numbness")
    (cleared,) = interview.answer(False)
    assert (cleared.change, cleared.was) == ("cleared", "urgent")
    assert [d.question.id for d in interview.dropped] == ["cauda_equina.onset_days", "cauda_equina.worsening"]
    interview.edit("cauda_equina.saddle_numbness")
    (again,) = interview.answer(True)  # raised again: the panel is shown again
    assert (again.name, again.change) == ("cauda_equina", "raised")


def test_back_inside_an_edit_goes_back_and_then_forward_to_the_edit(ruleset):
    script = Scripted(RADICULAR, edits=[("pain.leg_nrs", 5)])
    script.queue["pain.leg_nrs"] = [7, GO_BACK, 5]
    interview, _ = interview_of(ruleset, script)
    tail = script.asked[-3:]
    assert tail == ["pain.leg_nrs", "pain.leg_side", "pain.leg_nrs"]  # the edit was not dropped
    assert interview.answers["pain.leg_nrs"] == 5 and script.reviews == 2


def test_the_review_sees_the_current_result(ruleset):
    script = Scripted(dict(RADICULAR, **{"neuro.weakness": True, "neuro.foot_drop": True,
                                         "neuro.weakness_both_legs": False, "neuro.weakness_progressing": False}))
    interview_of(ruleset, script)
    (result,) = script.results
    assert result.urgency_set_by() == [("alert", "significant_motor_deficit", "urgent")]
    assert result.classification == "radicular"


# --------------------------------------------------------------------------- the questionnaire as data


@pytest.mark.parametrize("before,after,expected", [
    ("    ask_when: neuro.weakness\n    if_skipped: false\n", "    ask_when: neuro.weakness\n    if_skipped: maybe\n",
     "if_skipped 'maybe' is not a valid answer"),
    ("    if_skipped: 0\n", "    if_skipped: 11\n", "if_skipped 11 is not a valid answer"),
    ('    text: "Weakness in the leg or foot?"\n', '    text: "Weakness in the leg or foot?"\n    if_skipped: false\n',
     "if_skipped needs an ask_when"),
    ("    not_offered: [none]   # asked only when a leg has symptoms\n", "    not_offered: [nowhere]\n",
     "not a choice: nowhere"),
])
def test_rules_check_refuses_a_bad_settled_answer(rules_copy, before, after, expected):
    from lbp_assess.engine.ruleset.load import check_rules
    from helpers import edit

    edit(rules_copy / "interview.yaml", before, after)
    problems = [str(p) for p in check_rules(rules_copy) if p.severity == "error"]
    assert any(expected in p and "interview.yaml:" in p for p in problems), problems


def _changes_by_question(ruleset, answers: dict) -> list[tuple[str, str, str, str]]:
    """(question, condition or alert, tier, change) for every live change, as each answer is given."""
    interview = Interview(ruleset)
    out = []
    while interview.current() is not None:
        question = interview.current()
        value = answers.get(question.id)
        if question.kind == "multi" and isinstance(value, list):
            value = [v for v in value if v in dict(question.choices)] or None
        out += [(question.id, c.name, c.tier, c.change) for c in interview.answer(value)]
    return out


AAA_RISK = dict(RADICULAR, **{"patient.age": 74, "pain.abdominal": True, "history.smoker": True})


@pytest.mark.parametrize("answers, at", [
    ({"onset.mode": "gradual", "behaviour.mechanical": False}, "behaviour.mechanical"),
    ({"onset.mode": "sudden", "behaviour.mechanical": True}, "onset.mode"),
    ({"onset.mode": None, "behaviour.mechanical": None}, "behaviour.mechanical"),  # unsure: the safe direction
])
def test_the_aneurysm_panel_waits_for_onset_and_movement_and_comes_when_they_are_answered(ruleset, answers, at):
    """#27 S6: at "abdominal pain: yes" (question 8 with no leg symptoms) the aneurysm rows fire only
    because onset and "does it vary with movement?" are not yet asked; the panel waits for the
    answer that decides it (policy 2: mode sudden, or mechanical not true)."""
    changes = _changes_by_question(ruleset, dict(AAA_RISK, **answers))
    raised = [c for c in changes if c[1] == "aortic_aneurysm"]
    assert raised[0] == (at, "aortic_aneurysm", "emergency", "raised"), changes
    assert not [c for c in changes if c[0] == "pain.abdominal"], changes


def test_no_aneurysm_panel_when_onset_and_movement_exclude_it(ruleset):
    changes = _changes_by_question(ruleset, dict(AAA_RISK, **{"onset.mode": "gradual", "behaviour.mechanical": True}))
    assert not [c for c in changes if c[1] == "aortic_aneurysm"], changes  # never raised, never retracted


@pytest.mark.parametrize("fact", ["cauda_equina.saddle_numbness", "cauda_equina.urinary_retention"])
def test_a_red_flag_answer_is_shown_at_once_though_its_follow_ups_are_not_yet_asked(ruleset, fact):
    """Saddle numbness raises cauda equina whatever onset and course turn out to be (emergency, or
    urgent after 14 days not worsening): the panel comes at the answer, not after the follow-ups."""
    changes = _changes_by_question(ruleset, dict(RADICULAR, **{fact: True, "cauda_equina.onset_days": 20,
                                                                "cauda_equina.worsening": False}))
    assert changes[0] == (fact, "cauda_equina", "emergency", "raised"), changes
    assert ("cauda_equina.worsening", "cauda_equina", "urgent", "lower") in changes


def test_an_edited_draft_cannot_put_an_answer_under_the_pointer_of_a_red_flag_question(ruleset, tmp_path):
    """A journal's "dropped" entries offer an answer an edit removed again - but not on a red-flag
    screening question: a hand-edited draft put "no" to urinary retention under the pointer, and one
    Enter recorded it. Other questions keep the convenience."""
    interview = Interview(ruleset)
    draft = tmp_path / "draft.json"
    interview.save_draft(draft)
    data = json.loads(draft.read_text())
    data["journal"] += [{"at": "2026-12-06T10:00:00+00:00", "event": "dropped", "question": qid, "value": value}
                        for qid, value in (("cauda_equina.urinary_retention", False),
                                           ("cauda_equina.bowel_incontinence", True), ("pain.leg_side", "left"))]
    draft.write_text(json.dumps(data))
    resumed, _ = Interview.from_draft(ruleset, draft)
    by_id = resumed.questionnaire.by_id
    assert {"cauda_equina.urinary_retention", "cauda_equina.bowel_incontinence"} <= set(ruleset.manifest.screening)
    assert resumed.default(by_id["cauda_equina.urinary_retention"]) is NOT_ANSWERED
    assert resumed.default(by_id["cauda_equina.bowel_incontinence"]) is NOT_ANSWERED
    assert resumed.default(by_id["pain.leg_side"]) == "left"


def test_a_pasted_document_is_refused_where_it_is_typed(ruleset):
    """A note keeps at most MAX_TEXT_CHARS characters: 520 KB pasted into PMH was accepted, and the
    draft that kept it twice grew past what --resume reads, losing every answer."""
    from lbp_assess.consult.interview import InvalidAnswer
    from lbp_assess.model.case import MAX_TEXT_CHARS

    interview = Interview(ruleset)
    question = interview.questionnaire.by_id["notes.pmh"]
    assert interview.validate(question, "x" * MAX_TEXT_CHARS) == "x" * MAX_TEXT_CHARS
    with pytest.raises(InvalidAnswer, match=f"text is {MAX_TEXT_CHARS + 1:,} characters long; a field keeps at most"):
        interview.validate(question, "x" * (MAX_TEXT_CHARS + 1))


def test_a_draft_larger_than_a_case_file_still_resumes(ruleset, tmp_path):
    """A draft keeps every change in its journal, so it may outgrow the 1 MB of a case file."""
    interview = Interview(ruleset)
    draft = tmp_path / "draft.json"
    interview.save_draft(draft)
    data = json.loads(draft.read_text())
    data["answers"]["id"] = "long-notes"
    data["journal"] += [{"at": "2026-12-06T10:00:00+00:00", "event": "answer", "question": "notes.pmh",
                         "value": f"edit {n} " + "x" * 19_000} for n in range(60)]
    draft.write_text(json.dumps(data))
    assert draft.stat().st_size > 1_000_000
    resumed, notes = Interview.from_draft(ruleset, draft)
    assert resumed.answers["id"] == "long-notes" and notes == []
