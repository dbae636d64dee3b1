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


from lbp_assess.consult.interview import Interview

from helpers import EXAMPLES

from terminal_session import DOWN, ENTER, RADICULAR, RULESET, Session, as_typed, keys_for, pexpect, pytestmark  # noqa: F401



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
    from lbp_assess.inputs.cases import load_case

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

    shadow, notes = Interview.from_draft(RULESET, draft)
    assert notes == [] and shadow.current().id == question.id
    resumed = Session(["--resume", str(draft)], tmp_path, RADICULAR, shadow)
    resumed.answer_until()
    resumed.finish()
    from lbp_assess.inputs.cases import load_case

    case = load_case(tmp_path / "pty-radicular.case.yaml")
    assert case.patient.age == 41 and case.pain.leg_nrs == 7 and case.onset.mechanism == "lifting"
    assert not draft.exists()


def test_saddle_numbness_shows_the_red_flag_panel_at_once(tmp_path):
    source = (EXAMPLES / "cases" / "radicular-l5.yaml").read_text()
    partial = tmp_path / "partial.yaml"
    partial.write_text(source.replace("  saddle_numbness: false\n", ""))
    shadow = Interview.from_case(RULESET, __import__("lbp_assess", fromlist=["load_case"]).load_case(partial))
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
    session.child.expect_exact("interview paused; answers saved in")
    session.child.expect_exact("Resume with:")
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


NEGATIVE_SCREEN = dict(RADICULAR, **{"id": "pty-negative", "pain.leg_side": "none", "neuro.weakness": False,
                                     "behaviour.aggravated_by": ["sitting", "bending"], "notes.presenting": "",
                                     "notes.goals": ""})


def test_a_negative_screen_takes_at_most_1_3_keys_per_closed_question(tmp_path):
    session = Session(["--out", str(tmp_path)], tmp_path, NEGATIVE_SCREEN)
    session.answer_until()
    output = session.finish()
    closed = [keys for kind, keys in session.keys if kind in ("yes_no", "choice", "multi")]
    per_question = (sum(len(k) for k in closed) + 1) / len(closed)  # +1: the save key at the review
    print(f"closed questions: {len(closed)}; keys per closed question: {per_question:.2f}")
    assert per_question <= 1.3, per_question
    assert "Features consistent with non-specific low back pain" in output


def test_no_weakness_leaves_nothing_about_weakness_open_in_the_note(tmp_path):
    session = Session(["--out", str(tmp_path)], tmp_path, NEGATIVE_SCREEN)
    session.answer_until()
    session.finish()
    note = (tmp_path / "pty-negative.note.md").read_text()
    assert "Could not be excluded" not in note and "Weakness in both legs: unknown" not in note
    case = __import__("lbp_assess", fromlist=["load_case"]).load_case(tmp_path / "pty-negative.case.yaml")
    assert case.neuro.weakness_both_legs is False and case.neuro.foot_drop is False


def test_recording_start_back_in_the_consultation(tmp_path):
    answers = dict(RADICULAR, **{"id": "pty-startback"})
    session = Session(["--out", str(tmp_path)], tmp_path, answers)
    session.answer_until("psychosocial.start_back")
    session.child.expect_exact(session.shadow.current().text)
    session.child.send("1")  # enter the answers
    for item in range(8):
        session.child.expect_exact(f"{item + 1}. ")
        session.child.send("1" if item in (4, 5, 6) else "0")
    session.child.expect_exact("9. ")
    session.child.send("4")
    session.shadow.answer([0, 0, 0, 0, 1, 1, 1, 0, 4])
    session.answer_until()
    session.finish()
    from lbp_assess.inputs.cases import load_case

    case = load_case(tmp_path / "pty-startback.case.yaml")
    assert case.psychosocial.start_back == [0, 0, 0, 0, 1, 1, 1, 0, 4]
    assert "psychosocial_high_risk" in RULESET.assess(case).alerts


def test_a_red_flag_edited_off_and_on_at_review_shows_the_panel_again(tmp_path):
    answers = dict(RADICULAR, **{"id": "pty-ces", "cauda_equina.saddle_numbness": True,
                                 "cauda_equina.onset_days": 2, "cauda_equina.worsening": True})
    session = Session(["--out", str(tmp_path)], tmp_path, answers)
    session.answer_until("cauda_equina.sexual_dysfunction")
    session.child.expect_exact("RED FLAG: Cauda equina syndrome")  # the first panel, at the answer
    session.answer_until()
    session.edit_at_review("cauda_equina.saddle_numbness", False)
    session.child.expect_exact("Cauda equina syndrome: no longer raised (was EMERGENCY)")
    session.child.expect_exact("removed: Days since bladder")  # the follow-ups left the case, and it says so
    session.edit_at_review("cauda_equina.saddle_numbness", True)
    session.child.expect_exact("RED FLAG: Cauda equina syndrome")  # shown again
    session.answer_until()  # onset days and worsening are asked again
    session.child.expect_exact("set by Cauda equina syndrome (red flag)")  # the review shows what set it
    output = session.finish()
    assert "RED FLAG: Cauda equina syndrome - EMERGENCY" in output


def test_two_consultations_in_one_folder_interrupted_and_resumed_keep_their_own_answers(tmp_path):
    first = Session(["--out", str(tmp_path)], tmp_path, dict(RADICULAR, **{"id": "pty-one", "patient.age": 33}))
    second = Session(["--out", str(tmp_path)], tmp_path, dict(NEGATIVE_SCREEN, **{"id": "pty-two",
                                                                                   "patient.age": 71}))
    for _ in range(8):  # interleaved, as two clinicians in one shared folder would
        first.answer_next()
        second.answer_next()
    for session in (first, second):
        session.child.expect_exact(session.shadow.current().text)
        os.kill(session.child.pid, signal.SIGKILL)
        session.child.expect(pexpect.EOF)
    drafts = {json.loads(d.read_text())["answers"]["id"]: d for d in tmp_path.glob("lbp-draft-*.json")}
    assert set(drafts) == {"pty-one", "pty-two"}
    for case_id, age, source in (("pty-one", 33, first), ("pty-two", 71, second)):
        draft = drafts[case_id]
        assert draft.name.startswith(f"lbp-draft-{case_id}-")
        shadow, _ = Interview.from_draft(RULESET, draft)
        resumed = Session(["--resume", str(draft)], tmp_path, source.answers, shadow)
        resumed.child.expect_exact(f"Resuming {case_id}: ")
        resumed.answer_until()
        resumed.finish()
        from lbp_assess.inputs.cases import load_case

        assert load_case(tmp_path / f"{case_id}.case.yaml").patient.age == age
    assert not list(tmp_path.glob("lbp-draft-*.json"))


def test_an_id_whose_files_exist_is_refused_as_soon_as_it_is_typed(tmp_path):
    (tmp_path / "pty-radicular.case.yaml").write_text("kept")
    session = Session(["--out", str(tmp_path)], tmp_path, RADICULAR)
    session.child.expect_exact("Case id")
    session.child.send("pty-radicular" + ENTER)
    session.child.expect_exact("already exists; use --force")
    session.child.expect_exact("Case id")  # asked again, before any other question
    session.child.send("pty-radicular-2" + ENTER)
    session.shadow.answer("pty-radicular-2")
    session.answers["id"] = "pty-radicular-2"
    session.answer_until()
    session.finish()
    assert (tmp_path / "pty-radicular.case.yaml").read_text() == "kept"
    assert (tmp_path / "pty-radicular-2.case.yaml").exists()


def test_resuming_a_draft_with_nothing_left_to_ask_goes_to_the_review(tmp_path):
    from lbp_assess.inputs.cases import load_case

    interview = Interview.from_case(RULESET, load_case(EXAMPLES / "cases" / "radicular-l5.yaml"))
    interview.prefill({q.id: None for q in interview.missing()})  # the optional ones: skipped
    assert interview.missing() == []
    draft = tmp_path / "lbp-draft-radicular-l5-abcdef.json"
    interview.save_draft(draft)
    resumed = Session(["--resume", str(draft)], tmp_path, {}, interview)
    resumed.child.expect_exact("Resuming radicular-l5: ")
    resumed.child.expect_exact("Result so far")
    output = resumed.finish()
    assert "saved" in output and not draft.exists()


def test_the_review_fits_a_24_line_terminal_with_many_answers_to_check(tmp_path):
    """Unscreened red flags and several contradictions: the result and the menu still fit."""
    from lbp_assess.inputs.cases import load_case

    case = load_case(EXAMPLES / "cases" / "contradictory-answers.yaml")
    interview = Interview.from_case(RULESET, case)
    for fact in RULESET.manifest.screening:
        interview.answers[fact] = None  # asked, unsure
    for question in interview.missing():
        interview.answers[question.id] = None  # the optional ones: skipped
    assert len(interview.assessment().warnings) >= 3 and len(interview.assessment().unscreened) == 11
    draft = tmp_path / "lbp-draft-x-abcdef.json"
    interview.save_draft(draft)
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", COLUMNS="80", LINES="24", NO_COLOR="1")
    child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "assess", "--resume", str(draft)], cwd=str(tmp_path),
                          env=env, encoding="utf-8", timeout=15, dimensions=(24, 80))
    child.expect_exact("Result so far")
    child.expect_exact("Free text (")
    shown = child.before
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    lines = shown.count("\n") + 2  # the panel's top line and the last menu line
    assert lines <= 24, shown
    assert "Not screened (11)" in shown and "more answers to check" in shown
