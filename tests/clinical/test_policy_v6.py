"""Clinical policy v6 (issue #16): what changed, and that nothing else did.

* On a case without the v6 facts (groin pain, collapse, the obstetric section) the v6 rules
  give exactly the v5 result - class, urgency, conditions with tiers, alerts, and the rules
  that fired - checked against the v5 rules kept as a fixture (tests/fixtures/rules-v5) for
  every example, every vignette and generated cases.
* The interview asks the new questions in their sections and skips the obstetric ones for a
  male patient, settling "no"; a local age limit in interview.yaml skips them too.
* The note: flags noted per the v6 table, the pregnancy text, the bladder line in the cauda
  equina screen and the obstetric safety-net; explain and score show the new facts.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import given

from lbp_assess.model.case import FACTS, fast_convert, validate_case
from lbp_assess.inputs.cases import load_case
from lbp_assess.base.errors import InputError
from lbp_assess.outputs.explain import explanation
from lbp_assess.outputs.note import build_note, render
from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, REPO, RULES
from scripted import RADICULAR, Scripted, interview_of
from generated import SETTINGS, cases

V5 = load_rules(REPO / "tests" / "fixtures" / "rules-v5", questionnaire=False)
V6 = load_rules(RULES)  # the shipped rules (policy v7 and later keep the v6 note, interview and facts)
V6_RULES = load_rules(REPO / "tests" / "fixtures" / "rules-v6", questionnaire=False)  # the v6 rule logic
V6_FACTS = {"pain.groin", "systemic.collapse", *(f for f in FACTS if f.startswith("obstetric."))}
FILES = sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted((EXAMPLES / "vignettes").glob("*.yaml"))
VIGNETTES = EXAMPLES / "vignettes"


def without_v6_facts(data: dict) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    out.pop("obstetric", None)
    for fact in V6_FACTS:
        section, name = fact.split(".")
        if isinstance(out.get(section), dict):
            out[section].pop(name, None)
    return out


def result(ruleset, data: dict) -> tuple:
    a = ruleset.assess(validate_case(data, "<test>"))
    return a.classification, a.urgency, list(a.conditions.items()), list(a.alerts.items()), a.rules_fired


# --------------------------------------------------------------------------- v5 unchanged


def test_the_fixture_is_the_v5_rule_set():
    assert V5.version.startswith("lbp-default 1.0.0 ") and V6_RULES.version.startswith("lbp-default 1.1.0 ")
    assert "weak_flag_previous_episodes" in V5.manifest.flags_noted
    assert not any("groin" in r.id or "pregnan" in r.id or "collapse" in r.id for r in V5.rules)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_example_and_vignette_without_v6_facts_scores_as_under_v5(path):
    data = without_v6_facts(load_case(path).model_dump(mode="json", exclude_unset=True))
    assert result(V6_RULES, data) == result(V5, data)


@pytest.mark.slow
@SETTINGS
@given(cases())
def test_generated_cases_without_v6_facts_score_as_under_v5(data):
    data = without_v6_facts(data)
    assert result(V6_RULES, data) == result(V5, data)


def test_the_v6_facts_do_change_results():
    """The comparison above would notice a difference: with a v6 fact the results differ."""
    data = {"format": "lbp-case/1", "id": "x", "patient": {"age": 68}, "systemic": {"collapse": True},
            "behaviour": {"mechanical": False}}
    assert result(V6, data)[2] == [("aortic_aneurysm", "emergency")]
    assert result(V5, data)[2] == []


def test_an_old_file_with_groin_pain_recorded_as_abdominal_keeps_firing():
    data = {"format": "lbp-case/1", "id": "old", "patient": {"age": 66}, "pain": {"abdominal": True},
            "onset": {"mode": "gradual"}, "behaviour": {"mechanical": True}, "history": {"smoker": True}}
    assert result(V6_RULES, data)[:3] == result(V5, data)[:3] == ("red_flag", "urgent", [("aortic_aneurysm", "urgent")])
    # Policy v7: mechanical pain in a smoker without vascular disease is the `soon` alert instead.
    assert result(V6, data)[:3] == ("non_specific", "soon", [])
    assert ("aortic_aneurysm_risk", "soon") in result(V6, data)[3]


# --------------------------------------------------------------------------- the interview


def _section_of(qid: str) -> str:
    return V6.questionnaire.by_id[qid].section


def test_the_new_questions_sit_in_their_sections():
    ids = [q.id for q in V6.questionnaire.questions]
    assert ids.index("pain.groin") == ids.index("pain.abdominal") + 1 and _section_of("pain.groin") == "pain"
    assert _section_of("systemic.collapse") == "special"
    assert ids.index("systemic.collapse") == ids.index("systemic.unwell") + 1
    obstetric = [q for q in ids if q.startswith("obstetric.")]
    assert obstetric == ["obstetric.pregnant", "obstetric.gestation_weeks", "obstetric.postpartum",
                         "obstetric.postpartum_weeks"]
    assert {_section_of(q) for q in obstetric} == {"obstetric"}
    assert ids.index(obstetric[0]) > max(i for i, q in enumerate(ids) if q.startswith("history."))


def test_question_wording_follows_v6():
    q = V6.questionnaire.by_id
    assert "groin" not in q["pain.abdominal"].text and "flank" in q["pain.abdominal"].text
    assert "first episode" in (q["onset.previous_episodes"].help or "")
    procedure = q["history.recent_spinal_procedure"].text
    assert "epidural" in procedure and "caesarean" in procedure and "6 weeks" in procedure


def test_a_male_patient_is_not_asked_the_obstetric_questions_and_they_are_settled_no(ruleset):
    script = Scripted(RADICULAR)  # sex male
    interview, _ = interview_of(ruleset, script)
    assert not [q for q in script.asked if q.startswith("obstetric.")]
    assert {"pain.groin", "systemic.collapse"} <= set(script.asked)
    # Policy v7: the rules settle them (ruleset.yaml `settled`), once, on every path; not written.
    assert "obstetric" not in interview.case_data()
    facts = interview.assessment().facts
    assert facts["obstetric.pregnant"] is False and facts["obstetric.postpartum"] is False


@pytest.mark.parametrize("sex", ["female", "other", "not_stated", None])
def test_everyone_else_is_asked(ruleset, sex):
    answers = dict(RADICULAR, **{"patient.sex": sex, "obstetric.pregnant": True, "obstetric.gestation_weeks": 30,
                                 "obstetric.postpartum": True, "obstetric.postpartum_weeks": 40})
    script = Scripted(answers)
    interview, _ = interview_of(ruleset, script)
    assert [q for q in script.asked if q.startswith("obstetric.")] == [
        "obstetric.pregnant", "obstetric.gestation_weeks", "obstetric.postpartum", "obstetric.postpartum_weeks"]
    assert "pregnancy_related" in interview.assessment().alerts


def test_weeks_are_asked_only_after_a_yes(ruleset):
    script = Scripted(dict(RADICULAR, **{"patient.sex": "female", "obstetric.pregnant": False,
                                         "obstetric.postpartum": False}))
    interview, _ = interview_of(ruleset, script)
    assert {"obstetric.pregnant", "obstetric.postpartum"} <= set(script.asked)
    assert not {"obstetric.gestation_weeks", "obstetric.postpartum_weeks"} & set(script.asked)


def test_above_the_rules_settled_age_an_unanswered_pregnancy_is_settled_no(tmp_path):
    """Policy v7: the age limit is the rules' `obstetric_settled_age` (55), applied by the engine
    on every path; a service changes it in one place (rules/derived.yaml)."""
    def settled_at(ruleset, age):
        case = validate_case({"format": "lbp-case/1", "id": "x", "patient": {"sex": "female", "age": age},
                              "systemic": {"fever": True}}, "<test>")
        a = ruleset.assess(case)
        return a.facts["obstetric.pregnant"], "red_flag.infection.fever_pregnancy_postpartum" in a.not_excluded

    assert settled_at(V6, 56) == (False, False) and settled_at(V6, 55) == (None, True)
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    path = rules / "derived.yaml"
    text = path.read_text()
    assert text.count('    when: "55"\n') == 1
    path.write_text(text.replace('    when: "55"\n', '    when: "50"\n'))
    local = load_rules(rules)
    assert settled_at(local, 51) == (False, False) and settled_at(local, 50) == (None, True)


# --------------------------------------------------------------------------- the note


def note_of(data: dict, full: bool = False) -> str:
    case = validate_case({"format": "lbp-case/1", "id": "n", **data}, "<test>")
    return render(build_note(case, V6.assess(case), V6, full=full), "text")


PREGNANT = {"patient": {"age": 31, "sex": "female"}, "pain": {"leg_side": "left", "leg_extent": "thigh"},
            "obstetric": {"pregnant": True, "gestation_weeks": 26}}


def test_the_note_records_the_stage_of_pregnancy_or_after_birth():
    assert "Pregnant, 26 weeks." in note_of(PREGNANT)
    assert "Pregnant (weeks of pregnancy not recorded)." in note_of({"obstetric": {"pregnant": True}})
    assert "6 weeks after birth." in note_of({"obstetric": {"postpartum": True, "postpartum_weeks": 6}})
    unknown = note_of({"obstetric": {"postpartum": True}})
    assert "Gave birth in the last 12 months (weeks since the birth not recorded)." in unknown


def test_the_pregnancy_note_text():
    text = " ".join(note_of(PREGNANT).split())
    assert "may fit pregnancy-related pelvic girdle pain" in text
    assert "posterior pelvic pain provocation test (P4), the active straight leg raise and symphysis" in text
    assert "MRI (without gadolinium) or ultrasound preferred; ionising imaging is not withheld" in text
    assert "contractions or period-like pain" in text and "Contact your maternity unit immediately" in text
    assert "Bladder changes are common in pregnancy" in text and "a positive answer still counts" in text


def test_pelvic_girdle_pain_is_suggested_only_when_the_features_fit():
    below_knee = {**PREGNANT, "pain": {"leg_side": "left", "leg_extent": "foot", "groin": False}}
    assert "may fit pregnancy-related pelvic girdle pain" not in note_of(below_knee)
    groin = {**PREGNANT, "pain": {"leg_side": "left", "leg_extent": "foot", "groin": True}}
    assert "may fit pregnancy-related pelvic girdle pain" in note_of(groin)


def test_no_pregnancy_text_without_a_pregnancy_or_birth():
    text = note_of({"patient": {"age": 31, "sex": "female"}, "obstetric": {"pregnant": False, "postpartum": False}})
    for words in ("Pregnant", "pelvic girdle", "maternity unit", "Bladder changes"):
        assert words not in text


def test_the_bladder_line_sits_with_the_cauda_equina_questions_in_the_full_note():
    text = note_of(PREGNANT, full=True)
    special = text.split("SPECIAL QUESTIONS (RED FLAGS)")[1].split("\n\n")[0]
    assert "Bladder changes are common in pregnancy" in " ".join(special.split())


def flags_line(data: dict) -> str:
    found = [line for line in " ".join(note_of(data).split()).split("- ") if line.startswith("Flags noted")]
    return found[0] if found else ""


def test_previous_episodes_and_positional_night_pain_are_no_longer_flags():
    assert flags_line({"patient": {"age": 40}, "onset": {"previous_episodes": True},
                       "behaviour": {"night_pain": "positional"}}) == ""


def test_the_v6_flags_are_noted_with_their_wording():
    line = flags_line({"patient": {"age": 62}, "onset": {"weeks_ago": 3, "previous_episodes": False,
                                                         "mechanism": "minor_trauma", "mode": "gradual"},
                       "behaviour": {"constant": True}, "history": {"immunosuppressed": True},
                       "systemic": {"fever": False}})
    for words in ("Age over 50", "First-ever episode of back pain, starting after 50", "Minor trauma over 50",
                  "Pain constant, at the same intensity", "Infection risk factor without a fever recorded"):
        assert words in line, words


def test_a_flag_whose_condition_was_raised_is_not_listed_again():
    line = flags_line({"patient": {"age": 65}, "systemic": {"weight_loss": True}})
    assert "Age over 50" in line and "weight loss" not in line.lower()


# --------------------------------------------------------------------------- explain, score, practice


def test_explain_shows_the_new_facts():
    data = explanation(load_case(VIGNETTES / "v36-collapse-at-68.yaml"), V6)
    fired = [r for layer in data["layers"] for r in layer["rules"] if r["state"] == "fired"]
    assert [r["id"] for r in fired] == ["red_flag.aortic_aneurysm.collapse"]
    assert {"fact": "systemic.collapse", "label": "Collapse or fainting", "value": True, "shown": "yes"} in fired[0][
        "facts"]


def test_score_exports_carry_the_new_results(cli):
    run = cli("score", str(VIGNETTES / "v35-pregnancy-pelvic-girdle.yaml"), "-f", "json")
    row = json.loads(run.out)[0]
    assert row["alerts"] == ["pregnancy_related"] and row["rules_fired"][0] == "other_specific.pregnancy_related"
    run = cli("score", str(VIGNETTES / "v36-collapse-at-68.yaml"), "-f", "csv")
    assert "red_flag.aortic_aneurysm.collapse" in run.out and "aortic_aneurysm" in run.out


def test_a_contradiction_is_named_in_the_note():
    text = " ".join(note_of({"patient": {"sex": "male"}, "obstetric": {"pregnant": True}}).split())
    assert "sex is recorded as male, but pregnant: yes" in text


# --------------------------------------------------------------------------- the fast reader


@pytest.mark.parametrize("section", [
    {"obstetric": {"gestation_weeks": 46}}, {"obstetric": {"postpartum_weeks": 53}},
    {"obstetric": {"postpartum_weeks": -1}}, {"obstetric": {"pregnant": "yes"}}, {"pain": {"groin": 1}},
    {"systemic": {"collapse": "no"}}, {"obstetric": {"trimester": 2}},
], ids=lambda s: json.dumps(s))
def test_batch_reading_refuses_what_the_case_model_refuses(section):
    data = {"format": "lbp-case/1", "id": "x", **section}
    assert fast_convert(data) is None
    with pytest.raises(InputError):
        validate_case(data, "<test>")


def test_batch_reading_accepts_the_v6_facts_and_scores_them_alike():
    data = {"format": "lbp-case/1", "id": "x", "patient": {"age": 30, "sex": "female"},
            "systemic": {"fever": True, "collapse": False}, "pain": {"groin": True},
            "obstetric": {"pregnant": False, "postpartum": True, "postpartum_weeks": 6.5}}
    row = V6.row_from_data(fast_convert(data), "x")
    from lbp_assess.batch.score import with_follow_up

    case = validate_case(data, "<test>")
    assessed = with_follow_up(V6.assess(case).to_row("x"), case)
    assert row == assessed and row["condition_tiers"] == {"infection": "urgent"}


# --------------------------------------------------------------------------- rule-set checks for the new keys


def _copy(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    return rules


def test_a_misspelt_answer_in_note_wording_is_reported(tmp_path, cli):
    rules = _copy(tmp_path)
    path = rules / "ruleset.yaml"
    path.write_text(path.read_text().replace('text: "Pregnant, {obstetric.gestation_weeks} weeks."',
                                             'text: "Pregnant, {obstetric.gestation_week} weeks."'))
    run = cli("rules", "check", str(rules))
    assert run.code == 1
    assert ("unknown fact `{obstetric.gestation_week}` in note wording "
            "(did you mean `obstetric.gestation_weeks`?)") in run.out


def test_a_screen_note_must_name_a_screen(tmp_path, cli):
    rules = _copy(tmp_path)
    path = rules / "ruleset.yaml"
    path.write_text(path.read_text().replace("screen_notes:\n  Cauda equina screen:",
                                             "screen_notes:\n  Cauda equina scren:"))
    run = cli("rules", "check", str(rules))
    assert run.code == 1 and "`Cauda equina scren` is not a screen (did you mean `Cauda equina screen`?)" in run.out


def test_a_rule_test_naming_a_flag_that_is_not_noted_fails(tmp_path, cli):
    rules = _copy(tmp_path)
    path = rules / "tests" / "v6_flags_noted.yaml"
    path.write_text(path.read_text().replace("expect: {flags_noted: [weak_flag_thoracic_pain]}",
                                             "expect: {flags_noted: [weak_flag_thoracic]}"))
    run = cli("rules", "test", str(rules))
    assert run.code == 1 and "flags_noted: 'weak_flag_thoracic' is not in flags_noted" in run.out


def test_a_rule_test_catches_a_flag_that_is_wrongly_noted(tmp_path, cli):
    rules = _copy(tmp_path)
    path = rules / "red_flags.yaml"
    path.write_text(path.read_text().replace("when: is_false(onset.previous_episodes) and age_at_onset > 50",
                                             "when: is_false(onset.previous_episodes) and age_at_onset >= 50"))
    run = cli("rules", "test", str(rules))
    assert run.code == 1
    assert "FAIL v6 flag: a first-ever episode starting at 50 is not noted" in run.out
    assert "not_flags_noted: weak_flag_first_episode_over_50 did appear" in run.out


def test_practice_offers_collapse_as_a_feature_that_mattered():
    from lbp_assess.teach import practice

    path = VIGNETTES / "v36-collapse-at-68.yaml"
    case = load_case(path)
    exercise = practice.make_exercise(case, str(path), V6, random.Random(1), practice.stated_facts(case, str(path)))
    assert "systemic.collapse" in {k.fact for k in exercise.keys}
    assert "Collapse or fainting: yes" in {o.text for o in exercise.options}
