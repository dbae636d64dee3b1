"""The real `lbp-assess assess` in a pseudo-terminal (pexpect): a whole consultation to the
saved note, a SIGKILL mid-interview and resume, and the live red-flag panel.

A shadow `Interview` given the same answers says which question must be on the
screen next, so the test also checks that the terminal follows the engine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from lbp_assess.interview import Interview
from lbp_assess.rules import load_rules

from helpers import EXAMPLES, RULES

pexpect = pytest.importorskip("pexpect")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")

RULESET = load_rules(RULES)
DOWN, ENTER = "\x1b[B", "\r"

RADICULAR: dict[str, Any] = {
    "id": "pty-radicular", "assessor": "", "patient.age": 41, "patient.sex": "male", "pain.back_nrs": 4,
    "pain.leg_side": "right", "pain.leg_nrs": 7, "pain.leg_extent": "foot", "pain.dominant": "leg",
    "pain.dermatomal": True, "pain.root_level": "L5", "pain.thoracic": False, "pain.abdominal": False,
    "onset.weeks_ago": 3, "onset.mode": "sudden", "onset.mechanism": "lifting", "onset.previous_episodes": True,
    "behaviour.mechanical": True, "behaviour.constant": False, "behaviour.morning_stiffness_min": 10,
    "behaviour.night_pain": "positional", "behaviour.eased_by_rest": True, "behaviour.eased_by_exercise": False,
    "behaviour.aggravated_by": ["sitting", "bending"], "behaviour.eased_by": ["lying"],
    "behaviour.worse_cough_sneeze": True, "walking.leg_symptoms_on_walking": False,
    "neuro.paraesthesia": True, "neuro.numbness": False, "neuro.weakness": False, "neuro.gait_change": False,
    "progression.course": "improving", "psychosocial.start_back": None,
    "notes.presenting": "Right leg pain to the foot after lifting", "notes.pmh": "", "notes.dh": "",
    "notes.sh": "", "notes.goals": "Back to work",
}
for fact in ("urinary_retention", "bladder_sensation_reduced", "urinary_incontinence", "bowel_incontinence",
             "saddle_numbness", "sexual_dysfunction"):
    RADICULAR[f"cauda_equina.{fact}"] = False
for fact in ("weight_loss", "fever", "night_sweats", "unwell"):
    RADICULAR[f"systemic.{fact}"] = False
for fact in ("cancer", "osteoporosis", "long_term_steroids", "immunosuppressed", "iv_drug_use",
             "recent_infection", "recent_spinal_procedure", "inflammatory_disease", "diabetes", "smoker",
             "vascular_disease"):
    RADICULAR[f"history.{fact}"] = False


def keys_for(question, value: Any) -> str:
    """The key presses that give `value` at `question` (the pointer starts on the first choice)."""
    if question.kind == "yes_no":
        return {True: "y", False: "n", None: "u"}[value] + ENTER
    if question.kind == "choice":
        values = [v for v, _ in question.choices]
        return DOWN * (len(values) if value is None else values.index(value)) + ENTER
    if question.kind == "multi":
        return "".join((" " if v in value else "") + DOWN for v, _ in question.choices) + ENTER
    if question.kind == "items":
        assert value is None
        return DOWN + ENTER  # skip (not recorded)
    return ("" if value is None else str(value)) + ENTER


class Session:
    def __init__(self, args: list[str], cwd: Path, answers: dict[str, Any], shadow: Interview | None = None):
        env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", COLUMNS="250", LINES="50")
        self.child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "assess", *args], cwd=str(cwd),
                                   env=env, encoding="utf-8", timeout=15, dimensions=(50, 250))
        self.answers = answers
        self.shadow = shadow or Interview(RULESET)

    def answer_next(self) -> str:
        question = self.shadow.current()
        assert question is not None
        self.child.expect_exact(question.text)
        value = self.answers.get(question.id)
        stored = value if value not in ("",) else None
        self.child.send(keys_for(question, value))
        self.shadow.answer(stored)
        return question.id

    def answer_until(self, qid: str | None = None) -> None:
        while self.shadow.current() is not None:
            if qid is not None and self.shadow.current().id == qid:
                return
            self.answer_next()

    def finish(self) -> str:
        self.child.expect_exact("Save, or edit an answer?")
        self.child.send(ENTER)
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.exitstatus == 0, self.child.before
        return self.child.before


def test_a_consultation_from_first_question_to_saved_note(tmp_path):
    session = Session(["--out", str(tmp_path)], tmp_path, RADICULAR)
    # Go back once on the way, as a clinician fixing an answer would.
    for _ in range(6):
        session.answer_next()  # up to and including leg side
    session.child.expect_exact(session.shadow.current().text)  # leg pain
    session.child.send("<" + ENTER)
    session.shadow.back()
    session.child.expect_exact("Which leg has symptoms")
    session.child.send(ENTER)  # the previous answer (right) is the default
    session.shadow.answer("right")
    session.answer_until()
    output = session.finish()
    assert "LOW BACK PAIN ASSESSMENT" in output
    case_path, note_path = tmp_path / "pty-radicular.case.yaml", tmp_path / "pty-radicular.note.md"
    assert oct(case_path.stat().st_mode & 0o777) == "0o600" and oct(note_path.stat().st_mode & 0o777) == "0o600"
    note = note_path.read_text()
    assert "Features consistent with radicular pain (sciatica)" in note
    assert "Give written cauda equina safety-net advice" in note
    assert not list(tmp_path.glob("lbp-draft-*.json")), "the draft is removed once the files are saved"
    from lbp_assess.case import load_case

    result = RULESET.assess(load_case(case_path))
    assert (result.classification, result.urgency) == ("radicular", "routine")
    assert load_case(case_path).pain.leg_side == "right"


def test_sigkill_mid_interview_then_resume_keeps_every_answer(tmp_path):
    session = Session(["--out", str(tmp_path)], tmp_path, RADICULAR)
    answered = [session.answer_next() for _ in range(12)]
    question = session.shadow.current()
    session.child.expect_exact(question.text)
    session.child.send("half-typed")  # the answer being typed is all that may be lost
    os.kill(session.child.pid, signal.SIGKILL)
    session.child.expect(pexpect.EOF)
    (draft,) = tmp_path.glob("lbp-draft-*.json")
    saved = json.loads(draft.read_text())["answers"]
    assert list(saved) == answered
    assert saved["pain.leg_side"] == "right" and saved["patient.age"] == 41

    shadow, _, notes = Interview.from_draft(RULESET, draft)
    assert notes == [] and shadow.current().id == question.id
    resumed = Session(["--resume", str(draft)], tmp_path, RADICULAR, shadow)
    resumed.answer_until()
    resumed.finish()
    from lbp_assess.case import load_case

    case = load_case(tmp_path / "pty-radicular.case.yaml")
    assert case.patient.age == 41 and case.pain.leg_nrs == 7 and case.onset.mechanism == "lifting"
    assert not draft.exists()


def test_saddle_numbness_shows_the_red_flag_panel_at_once(tmp_path):
    source = (EXAMPLES / "cases" / "radicular-l5.yaml").read_text()
    partial = tmp_path / "partial.yaml"
    partial.write_text(source.replace("  saddle_numbness: false\n", ""))
    shadow = Interview.from_case(RULESET, __import__("lbp_assess.case", fromlist=["load_case"]).load_case(partial))
    answers = {"cauda_equina.saddle_numbness": True, "cauda_equina.onset_days": 1,
               "cauda_equina.worsening": True}
    session = Session(["--answers", str(partial), "--out", str(tmp_path)], tmp_path, answers, shadow)
    assert session.answer_next() == "cauda_equina.saddle_numbness"
    session.child.expect_exact("RED FLAG: Cauda equina syndrome")
    session.child.expect_exact("EMERGENCY")
    session.answer_until()
    output = session.finish()
    assert "RED FLAG: Cauda equina syndrome - EMERGENCY" in output


def test_ctrl_c_saves_and_prints_the_resume_command(tmp_path):
    session = Session(["--out", str(tmp_path)], tmp_path, RADICULAR)
    for _ in range(3):
        session.answer_next()
    session.child.expect_exact(session.shadow.current().text)
    session.child.sendcontrol("c")
    session.child.expect_exact("interview paused; answers saved. Resume with:")
    session.child.expect(r"lbp-assess assess --resume \S+lbp-draft-\S+\.json")
    session.child.expect(pexpect.EOF)
    session.child.close()
    assert session.child.exitstatus == 130
    (draft,) = tmp_path.glob("lbp-draft-*.json")
    assert json.loads(draft.read_text())["answers"]["patient.age"] == 41


def test_practice_in_a_terminal(tmp_path):
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", COLUMNS="250", LINES="50")
    record = tmp_path / "attempts.jsonl"
    child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "practice",
                                           str(EXAMPLES / "vignettes" / "v10-radicular-l5.yaml"),
                                           "--record", str(record)],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=15, dimensions=(50, 250))
    child.expect_exact("I'm 39.")  # the narrative
    child.expect_exact("Your classification?")
    child.send(DOWN * 2 + ENTER)  # red_flag, stenosis, radicular
    child.expect_exact("Your urgency?")
    child.send(DOWN * 3 + ENTER)  # emergency, urgent, soon, routine
    child.expect_exact("Which features did you rely on?")
    child.send(" " + ENTER)  # tick the first offered feature
    child.expect(pexpect.EOF)
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", child.before)
    child.close()
    assert "Classification: right - Radicular pain (sciatica)." in screen
    assert "Urgency: right - Routine" in screen
    assert screen.index("Scorecard") > screen.index("Feedback")
    assert "Classification: 1/1; urgency: 1/1" in screen
    assert child.exitstatus == 0
    attempt = json.loads(record.read_text())
    assert attempt["answer"]["classification"] == "radicular" and len(attempt["answer"]["features"]) == 1
