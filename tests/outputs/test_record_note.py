"""The record note as a UK physiotherapy subjective: PC, HPC, 24-hour pattern, special questions,
PMH, DH, SH and goals (each only with content), clinical durations, screen counts that say what
was asked and what an earlier answer settled, neurological negatives with leg symptoms, and the
plain-text note saved beside the Markdown one."""

from __future__ import annotations

import shutil

import pytest

from lbp_assess.consult import session as consultation
from lbp_assess.inputs.cases import load_case, validate_any as validate_case
from lbp_assess.outputs.note import build_note, render
from lbp_assess.engine.ruleset.load import check_rules, load_rules
from lbp_assess.engine.words import clinical_duration

from helpers import EXAMPLES, RULES

RULESET = load_rules(RULES)
HEADINGS = ["PC", "HPC", "24-hour pattern", "Special questions", "PMH", "DH", "SH", "Goals"]


def note_of(data: dict) -> str:
    case = validate_case({"format": "lbp-case/1", "id": "uk", **data}, "uk")
    return render(build_note(case, RULESET.assess(case), RULESET), "md")


def headings(text: str) -> list[str]:
    return [line[3:] for line in text.splitlines() if line.startswith("## ")]


@pytest.mark.parametrize("value, unit, shown", [
    (3 / 7, "weeks", "3/7"), (2, "weeks", "2/52"), (10 / 7, "weeks", "10 days"), (1.43, "weeks", "10 days"),
    (12, "weeks", "12/52"), (26, "weeks", "6/12"), (156, "weeks", "3 years"), (2, "days", "2/7"),
    (10, "days", "10 days"), (0, "days", "under a day"),
])
def test_durations_are_written_the_clinical_way(value, unit, shown):
    assert clinical_duration(value, unit) == shown


def test_a_duration_typed_as_10_days_reads_10_days_never_1_43_weeks():
    text = note_of({"onset": {"weeks_ago": 1.43}, "pain": {"back_nrs": 5}})
    assert "Duration: 10 days" in text and "1.43" not in text


def test_the_history_follows_the_uk_headings_each_only_with_content():
    full = load_case(EXAMPLES / "cases" / "radicular-l5.yaml").model_dump(mode="json", exclude_unset=True)
    full.pop("format"), full.pop("id")
    full.update(medication={"analgesia": ["paracetamol"], "analgesia_effect": "partial", "anticoagulant": False},
                social={"work": "off_sick"}, function={"psfs_activity_one": "Sitting at work", "psfs_one": 3},
                notes={**full.get("notes", {}), "goals": "Back to work", "pmh": "Asthma"})
    text = note_of(full)
    shown = headings(text)
    assert [h for h in shown if h in HEADINGS] == HEADINGS
    dh = text.split("## DH\n")[1].split("\n## ")[0]
    assert "Analgesia: paracetamol; Effect of analgesia: a little" in dh
    goals = text.split("## Goals\n")[1].split("\n## ")[0]
    assert "PSFS activity 1: Sitting at work; PSFS score 1: 3/10" in goals and "Back to work" in goals
    sparse = headings(note_of({"pain": {"back_nrs": 3}}))
    assert "DH" not in sparse and "SH" not in sparse and "Goals" not in sparse and "PC" in sparse


def test_leg_symptoms_with_no_pins_and_needles_numbness_or_weakness_say_so():
    text = note_of({"pain": {"leg_side": "left", "leg_extent": "thigh", "leg_nrs": 5},
                    "neuro": {"paraesthesia": False, "numbness": False, "weakness": False}})
    pc = text.split("## PC\n")[1].split("\n## ")[0]
    assert "Relevant negatives: No pins and needles, numbness or weakness" in pc
    assert "Weakness: no" not in text
    back_only = note_of({"pain": {"leg_side": "none"}, "neuro": {"weakness": False}})
    assert "No pins and needles" not in back_only


def test_the_screen_count_says_what_was_asked_and_what_an_earlier_answer_settled():
    text = render(build_note(load_case(EXAMPLES / "cases" / "radicular-l5.yaml"),
                             RULESET.assess(load_case(EXAMPLES / "cases" / "radicular-l5.yaml")), RULESET), "md")
    assert "Cauda equina screen: negative (6 of 7 asked, 1 settled by an earlier answer)" in text
    assert "7/7 asked" not in text


def test_the_plain_text_note_is_saved_beside_the_markdown_one(tmp_path):
    session = consultation.start(RULESET, tmp_path, answers=EXAMPLES / "cases" / "radicular-l5.yaml")
    case_path, note_path, _ = consultation.finish(session, force=False)
    text = note_path.with_suffix(".txt")
    assert text.exists() and oct(text.stat().st_mode & 0o777) == "0o600"
    body = text.read_text()
    assert "**" not in body and "\n## " not in body
    assert all(len(line) <= 80 for line in body.splitlines())
    assert "HPC" in body and "Duration: 3/52" in body


def test_rules_check_refuses_a_question_under_no_heading(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    path = copy / "interview.yaml"
    path.write_text(path.read_text().replace("    SH: [social, history.smoker, notes.sh]\n",
                                             "    SH: [history.smoker, notes.sh]\n"))
    problems = [str(p) for p in check_rules(copy)]
    assert any("`social.work` is under no heading" in p for p in problems), problems
