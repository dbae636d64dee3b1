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


from lbp_assess.consult.interview import Interview
from lbp_assess.inputs.cases import load_case

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
    assert "Cauda equina syndrome - written advice card" in note
    assert not list(tmp_path.glob("lbp-draft-*.json")), "the draft is removed once the files are saved"
    from lbp_assess.inputs.cases import load_case

    result = RULESET.assess(load_case(case_path))
    assert (result.classification, result.urgency) == ("radicular", "routine")
    assert load_case(case_path).pain.leg_side == "right"
    # review S12: PSFS and ODI left blank are not recorded: nothing written, never "unsure"
    # (the second PSFS activity and the ODI are left blank here)
    function = load_case(case_path).function
    assert function.psfs_activity_one == "Sitting at work" and function.psfs_one == 4
    import yaml

    assert set(yaml.safe_load(case_path.read_text())["function"]) == {"psfs_activity_one", "psfs_one"}
    assert "PSFS activity 2" not in note and "ODI" not in note, note
    assert "Goals:" not in note or "unsure" not in note.split("Goals:")[1].split("\n")[0], note


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
    session.answer_until("cauda_equina.saddle_numbness")  # the file predates the optional questions before it
    assert session.answer_next() == "cauda_equina.saddle_numbness"
    session.child.expect_exact("RED FLAG: Suspected cauda equina syndrome")
    session.child.expect_exact("EMERGENCY")
    session.child.expect_exact("save the case and note now?")
    session.child.send("g")  # go on with the interview
    session.answer_until()
    output = session.finish()
    assert "EMERGENCY - RED FLAG: Suspected cauda equina syndrome - now" in output


def test_ctrl_c_saves_and_prints_the_resume_command(tmp_path):
    session = Session(["--out", str(tmp_path)], tmp_path, RADICULAR)
    for _ in range(3):
        session.answer_next()
    session.child.expect_exact(session.shadow.current().text)
    session.child.sendcontrol("c")
    session.child.expect_exact("interview paused; answers saved in")
    session.child.expect_exact("Resume with:")
    # as it was run (python -m), the path on a line of its own when the command is too long
    session.child.expect(r"-m lbp_assess assess --resume (\\\s+)?\S+lbp-draft-\S+\.json")
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
    child.send("3")  # nothing is preselected: digits choose (red flag, stenosis, radicular, non-specific)
    child.expect_exact("Your urgency?")
    child.send("4")  # emergency, urgent, soon, routine
    child.expect_exact("A specific pattern?")
    child.send("1")  # none
    child.expect_exact("Which features did you rely on?")
    child.send(" " + ENTER)  # tick the first offered feature
    child.expect_exact("see the scorecard")  # the verdict stays until the student moves on
    verdict = child.before
    child.send(ENTER)
    child.expect(pexpect.EOF)
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", verdict + child.before)
    child.close()
    assert "Classification: right - Radicular pain (sciatica)." in screen
    assert "Urgency: right - Routine" in screen
    assert screen.index("Scorecard") > screen.index("Case 1 of 1: v10-radicular-l5")  # the verdict, then the card
    assert "Classification: 1/1; urgency: 1/1" in screen
    assert child.exitstatus == 0
    attempt = json.loads(record.read_text())
    assert attempt["answer"]["classification"] == "radicular" and len(attempt["answer"]["features"]) == 1


NEGATIVE_SCREEN = dict(RADICULAR, **{"id": "pty-negative", "pain.leg_side": "none", "neuro.weakness": False,
                                     "behaviour.aggravated_by": ["sitting", "bending"], "notes.presenting": "",
                                     "notes.goals": ""})


def test_a_negative_screen_takes_at_most_1_2_keys_per_closed_question(tmp_path):
    session = Session(["--out", str(tmp_path)], tmp_path, NEGATIVE_SCREEN)
    session.answer_until()
    output = session.finish()
    closed = [keys for kind, keys in session.keys if kind in ("yes_no", "choice", "multi")]
    per_question = (sum(len(k) for k in closed) + 1) / len(closed)  # +1: the save key at the review
    print(f"closed questions: {len(closed)}; keys per closed question: {per_question:.2f}")
    assert per_question <= 1.2, per_question
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
    session.child.expect_exact("RED FLAG: Suspected cauda equina syndrome")  # the first panel, at the answer
    session.child.send("g")  # go on rather than save now
    session.answer_until()
    session.edit_at_review("cauda_equina.saddle_numbness", False)
    session.child.expect_exact("Cauda equina syndrome: no longer raised (was EMERGENCY)")
    session.child.expect_exact("removed: Days since bladder")  # the follow-ups left the case, and it says so
    session.edit_at_review("cauda_equina.saddle_numbness", True)
    session.child.expect_exact("RED FLAG: Suspected cauda equina syndrome")  # shown again
    session.child.expect_exact("save the case and note now?")
    session.child.send("g")
    session.answer_until()  # onset days and worsening are asked again
    session.child.expect_exact("Suspected cauda equina syndrome (red flag)")  # the review shows what set it
    output = session.finish()
    assert "EMERGENCY - RED FLAG: Suspected cauda equina syndrome - now" in output


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
    screen = Screen(["--resume", str(draft)], tmp_path, 24, 80)
    screen.wait_text("Save, or open a section to check or edit?")
    screen.settle()
    shown = screen.text()
    screen.child.send("e")  # the sections, folded behind one entry, are one key away, none cut short
    screen.wait_text("Which section?")
    screen.settle()
    assert "8) Special questions (red flags) (11)" in screen.text() and "…" not in screen.text(), screen.text()
    screen.child.send("2")
    screen.wait_text("Area and pain: which answer?")
    screen.child.sendcontrol("c")
    screen.child.expect(pexpect.EOF)
    # everything at once on the 24 lines: the panel from its top, the verdict, every condition not
    # excluded, and the menu (its sections folded behind one entry to make room)
    assert "Result so far" in shown and "Urgency:" in shown and "Action:" in shown, shown
    assert "s) Save and write the note" in shown and "e) Check or edit an answer" in shown, shown
    assert "Not screened (11)" in shown and "more answers to check" in shown
    flat = " ".join(shown.split())
    open_now = interview.open_conditions()
    assert len(open_now) >= 3
    for condition in open_now:  # each one listed, none folded into "... and N more"
        assert f"Not excluded: {condition.label} ({condition.tier_label.upper()})" in flat, shown
    assert "…" not in shown and "..." not in flat.replace("... and 2 more answers", ""), shown


# --------------------------------------------------------------------------- the screen as a person reads it

pyte = pytest.importorskip("pyte")


class Screen:
    """The consultation in a pseudo-terminal of a real size, its output drawn by a terminal
    emulator (pyte): what the clinician sees, line by line, not the byte stream."""

    def __init__(self, args: list[str], cwd: Path, rows: int, columns: int):
        env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", NO_COLOR="1", COLUMNS=str(columns),
                   LINES=str(rows))
        self.child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "assess", *args], cwd=str(cwd),
                                   env=env, encoding="utf-8", timeout=20, dimensions=(rows, columns))
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.Stream(self.screen)
        self.rows, self.columns = rows, columns

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait(self, found, what: str, timeout: float = 20) -> None:
        """Read output until `found(self)` holds for the screen as drawn."""
        import time

        end = time.monotonic() + timeout
        while not found(self):
            if time.monotonic() > end:
                raise AssertionError(f"not on screen: {what}\n" + self.text())
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.2))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                if not found(self):
                    raise AssertionError(f"ended before {what}\n" + self.text()) from None
                return

    def wait_text(self, text: str) -> None:
        """`text` on screen, read across the lines it was wrapped over."""
        self.wait(lambda s: " ".join(text.split()) in " ".join(s.text().split()), text)

    def settle(self) -> None:
        """Read what is left to draw (the screen stops changing)."""
        while True:
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.5))
            except (pexpect.TIMEOUT, pexpect.EOF):
                return


def words_whole(screen: Screen, text: str) -> list[str]:
    """The words of `text` that do not stand whole on any line of the screen (split mid-word)."""
    shown = {word for line in screen.lines() for word in line.split()}
    return [word for word in text.split() if word not in shown]


def prompt_on_screen(shadow: Interview):
    """The prompt of the shadow's current question, with its progress mark, drawn whole."""
    question, progress = shadow.current(), shadow.progress()
    mark = f"{progress.number}/{progress.total} ›"
    words = question.text.split()

    def found(screen: Screen) -> bool:
        lines = screen.lines()
        at = [i for i, line in enumerate(lines) if line.startswith(mark)]
        if not at:
            return False
        block = " ".join(" ".join(lines[at[-1]:at[-1] + 6]).split())
        return " ".join(words[-3:]) in block and "(" in block

    return found


def drive(screen: Screen, shadow: Interview, answers: dict[str, Any], until: str | None = None) -> list[str]:
    """Answer every question the shadow says is next, reading each prompt from the screen; return the
    questions whose prompt had a word split across lines."""
    split = []
    while shadow.current() is not None and shadow.current().id != until:
        question = shadow.current()
        screen.wait(prompt_on_screen(shadow), question.text)
        if words_whole(screen, question.text):
            split.append(f"{question.id}: {words_whole(screen, question.text)}")
        value = as_typed(question, answers.get(question.id))
        screen.child.send(keys_for(question, value))
        changes = shadow.answer(value if value != "" else None)
        top = [c for c in changes if c.change in ("raised", "higher") and c.tier == "emergency"]
        if top:
            screen.wait_text("save the case and note now?")
            screen.child.send("g")
    return split


@pytest.mark.parametrize("rows, columns", [(24, 80), (30, 100)])
def test_at_80_and_100_columns_no_prompt_splits_a_word_and_the_verdict_is_on_screen(tmp_path, rows, columns):
    answers = dict(RADICULAR, **{"id": f"pty-{columns}", "pain.leg_side": "both", "pain.other_leg_extent": "thigh",
                                 "pain.groin": False, "systemic.collapse": False})
    screen = Screen(["--out", str(tmp_path)], tmp_path, rows, columns)
    split = drive(screen, Interview(RULESET), answers)
    assert split == [], split
    screen.wait_text("Save, or open a section to check or edit?")
    screen.settle()
    shown = screen.text()
    # the verdict, its urgency and action, and the whole menu, on one screen
    assert "Result so far" in shown and "Urgency:" in shown and "Action:" in shown, shown
    assert "s) Save and write the note" in shown and "Work, function and goals" in shown, shown
    pointed = next(line for line in screen.lines() if "»" in line)
    assert "Save and write the note" in pointed  # Enter saves: the menu starts on Save
    assert all(len(line) <= columns for line in screen.lines())
    screen.child.send(ENTER)
    screen.child.expect(pexpect.EOF)
    assert (tmp_path / f"pty-{columns}.case.yaml").exists()


def _at_the_saddle_offer(tmp_path: Path) -> tuple["Screen", Interview]:
    """The radicular L5 example with saddle numbness left out, pre-filled and driven to that
    question at 80 by 24; "y" answered: the screen at "EMERGENCY: save the case and note now?"."""
    from lbp_assess.inputs.cases import load_case

    source = (EXAMPLES / "cases" / "radicular-l5.yaml").read_text()
    partial = tmp_path / "partial.yaml"
    partial.write_text(source.replace("  saddle_numbness: false\n", ""))
    shadow = Interview.from_case(RULESET, load_case(partial))
    screen = Screen(["--answers", str(partial), "--out", str(tmp_path)], tmp_path, 24, 80)
    drive(screen, shadow, {}, until="cauda_equina.saddle_numbness")
    screen.wait(prompt_on_screen(shadow), "the saddle question")
    screen.child.send("y")
    shadow.answer(True)
    screen.wait_text("EMERGENCY: save the case and note now?")
    return screen, shadow


def test_save_now_from_the_emergency_panel_at_80_by_24(tmp_path):
    screen, shadow = _at_the_saddle_offer(tmp_path)
    shown = screen.text()
    assert "RED FLAG: Suspected cauda equina syndrome" in shown and "Action:" in shown, shown  # the panel stays in view
    screen.child.send("s")
    screen.wait_text("Go on with the interview?")
    assert "questions not asked are recorded as unknown" in " ".join(screen.text().split())
    screen.child.send("s")  # stop here: the files are saved
    screen.wait_text("To go on with this consultation:")
    screen.child.expect(pexpect.EOF)
    screen.stream.feed(screen.child.before or "")  # drawn too: the resume command may come after the heading
    screen.child.close()
    assert screen.child.exitstatus == 0
    case = load_case(tmp_path / "radicular-l5.case.yaml")
    assert case.cauda_equina.saddle_numbness is True and case.cauda_equina.onset_days is None
    note = (tmp_path / "radicular-l5.note.md").read_text()
    assert "## Saved early at an emergency" in note
    assert "Days since bladder, bowel or saddle symptoms began" in note  # named as not asked
    assert "EMERGENCY - RED FLAG: Suspected cauda equina syndrome - now" in note
    # review S13: the way back is kept and printed: the draft, and the exact command that resumes it
    (draft,) = tmp_path.glob("lbp-draft-radicular-l5-*.json")
    # too long for 80 columns, the command is broken between its arguments (a shell line
    # continuation; a path longer than a line is wrapped by the terminal alone)
    lines = [line.rstrip() for line in screen.lines()]
    (at,) = [i for i, line in enumerate(lines) if line.endswith("assess --resume \\")]
    assert "".join(lines[at + 1:]).strip().startswith(str(draft.resolve())), screen.text()
    again = Screen(["--resume", str(draft)], tmp_path, 24, 80)
    again.wait_text("Resuming radicular-l5")
    drive(again, shadow, {"cauda_equina.onset_days": 2, "cauda_equina.worsening": True})
    again.wait_text("Save, or open a section to check or edit?")
    again.child.send("s")
    again.child.expect(pexpect.EOF)
    again.child.close()
    assert again.child.exitstatus == 0, again.text()
    assert load_case(tmp_path / "radicular-l5.case.yaml").cauda_equina.onset_days == 2
    assert not draft.exists(), "saved at the end: the files hold every answer"


def test_save_now_then_go_on_rewrites_the_files_at_the_end(tmp_path):
    screen, shadow = _at_the_saddle_offer(tmp_path)
    screen.child.send("s")
    screen.wait_text("Go on with the interview?")
    assert "Saved early" in (tmp_path / "radicular-l5.note.md").read_text()
    screen.child.send("g")
    drive(screen, shadow, {"cauda_equina.onset_days": 2, "cauda_equina.worsening": True})
    screen.wait_text("Save, or open a section to check or edit?")
    screen.child.send("s")
    screen.child.expect(pexpect.EOF)
    screen.child.close()
    assert screen.child.exitstatus == 0
    assert load_case(tmp_path / "radicular-l5.case.yaml").cauda_equina.onset_days == 2
    assert "Saved early" not in (tmp_path / "radicular-l5.note.md").read_text()


def _aneurysm_risk_draft(tmp_path: Path) -> tuple[Path, Interview]:
    """A 74-year-old smoker with mechanical abdominal pain (the `soon` aneurysm alert), onset mode,
    cancer history, fever and osteoporosis unsure: four conditions not excluded, one at emergency."""
    from lbp_assess.inputs.cases import load_case

    interview = Interview.from_case(RULESET, load_case(EXAMPLES / "cases" / "aortic-aneurysm.yaml"))
    interview.answers.update({"behaviour.mechanical": True, "behaviour.constant": False, "onset.mode": None,
                              "history.vascular_disease": False, "history.cancer": None, "systemic.fever": None,
                              "history.osteoporosis": None})
    for question in interview.missing():
        interview.answers[question.id] = None
    draft = tmp_path / "lbp-draft-aortic-aneurysm-abcdef.json"
    interview.save_draft(draft)
    return draft, interview


@pytest.mark.parametrize("rows, columns", [(24, 80), (30, 100)])
def test_the_review_lists_every_condition_not_excluded_whole_with_the_rules_own_time_frame(tmp_path, rows, columns):
    """#27 review: each condition not excluded is on screen with the questions that settle it (none
    hidden behind "... and 1 more"); every line is wrapped, none cut short with "…"; the urgency
    shows the governing rule's own time frame ("GP within 1 week"), never the tier's range."""
    draft, interview = _aneurysm_risk_draft(tmp_path)
    open_now = interview.open_conditions()
    assert [c.name for c in open_now][0] == "aortic_aneurysm" and len(open_now) >= 3
    screen = Screen(["--resume", str(draft)], tmp_path, rows, columns)
    screen.wait_text("Save, or open a section to check or edit?")
    screen.settle()
    shown = screen.text()
    flat = " ".join(line.strip("│ ") for line in screen.lines())  # the panel's text, read across its lines
    flat = " ".join(flat.split())
    screen.child.sendcontrol("c")
    screen.child.expect(pexpect.EOF)
    # review: an EMERGENCY not excluded above a SOON result: the verdict says it is provisional, as the note does
    assessment = interview.assessment()
    key = "provisional_incomplete" if assessment.unscreened else "provisional_not_excluded"
    provisional = RULESET.manifest.note_wording[key].format(headline="SOON - GP within 1 week")
    assert provisional.startswith("Provisional (")
    assert f"Urgency: {provisional}" in flat, shown
    assert "2 to 6 weeks" not in flat, shown
    assert "Set by: Aortic aneurysm to exclude: mechanical abdominal or flank pain at 60 or over in a smoker" in flat
    action = " ".join(RULESET.rules[[r.id for r in RULESET.rules].index("red_flag.aortic_aneurysm_risk")]
                      .action.split())
    assert f"Action: {action}" in flat, shown  # the whole action, wrapped over lines
    for condition in open_now:
        asked = ", ".join(q.label for q in condition.questions)
        assert f"Not excluded: {condition.label} ({condition.tier_label.upper()}) - ask: {asked}" in flat, shown
    assert "more not excluded" not in flat and "…" not in shown, shown
    # review S10: the fever row open for a man is the rule's own "Fever with back pain", never the
    # condition's "(spinal, or maternal sepsis)"
    assert "Not excluded: Fever with back pain (URGENT) - ask: Fever" in flat and "maternal" not in flat, shown
    assert all(len(line) <= columns for line in screen.lines())
    assert "Urgency:" in shown and "s) Save and write the note" in shown  # verdict and menu on one screen


def test_the_emergency_panel_shows_the_rules_own_time_frame(tmp_path):
    """#27 B2: the live panel shows the governing rule's time frame and label, never the tier's
    generic "same day, now"."""
    screen, shadow = _at_the_saddle_offer(tmp_path)
    flat = " ".join(screen.text().split())
    screen.child.sendcontrol("c")
    screen.wait_text("Resume with:")
    stopped = " ".join(screen.text().split())
    screen.child.expect(pexpect.EOF)
    assert "RED FLAG: Suspected cauda equina syndrome" in flat and "EMERGENCY - now (within hours)" in flat, flat
    assert "same day, now" not in flat
    # what is raised, said as the panel said it (not the condition's other name)
    assert "raised so far: Suspected cauda equina syndrome - EMERGENCY" in stopped, stopped


def test_the_aneurysm_panel_waits_for_the_answers_that_decide_it_at_80_by_24(tmp_path):
    """#27 S6: "abdominal pain: yes" at 74 (question 8) shows no panel while onset and "does the
    pain vary with movement?" are still to be asked; "no" to movement raises it, with the rule's
    own label and time frame."""
    answers = dict(RADICULAR, **{"id": "pty-aaa", "patient.age": 74, "pain.leg_side": "none", "pain.abdominal": True,
                                 "pain.groin": False, "history.smoker": True, "onset.mode": "gradual",
                                 "behaviour.mechanical": False})
    shadow = Interview(RULESET)
    screen = Screen(["--out", str(tmp_path)], tmp_path, 24, 80)
    drive(screen, shadow, answers, until="pain.groin")
    screen.wait(prompt_on_screen(shadow), "the groin question")
    assert shadow.progress().number == 9  # abdominal pain was question 8
    assert "RED FLAG" not in screen.text() and "save the case and note now" not in screen.text()
    drive(screen, shadow, answers, until="behaviour.mechanical")
    screen.wait(prompt_on_screen(shadow), "the movement question")
    assert "RED FLAG" not in screen.text()
    screen.child.send("n")
    screen.wait_text("EMERGENCY: save the case and note now?")
    flat = " ".join(line.strip("│ ") for line in screen.lines())
    flat = " ".join(flat.split())
    screen.child.sendcontrol("c")
    screen.child.expect(pexpect.EOF)
    assert "RED FLAG: Possible symptomatic or ruptured abdominal aortic aneurysm" in flat, flat
    assert "EMERGENCY - now" in flat and "same day, now" not in flat, flat


def _saved_now_then_paused(tmp_path: Path) -> tuple[Path, Interview]:
    """Save now at the saddle-numbness emergency, go on, then Ctrl-C: the draft is left to resume."""
    screen, shadow = _at_the_saddle_offer(tmp_path)
    screen.child.send("s")
    screen.wait_text("Go on with the interview?")
    screen.child.send("g")
    screen.wait(prompt_on_screen(shadow), "the question after saddle numbness")
    screen.child.sendcontrol("c")
    screen.wait_text("Resume with:")
    screen.child.expect(pexpect.EOF)
    (draft,) = tmp_path.glob("lbp-draft-radicular-l5-*.json")
    return draft, shadow


def test_resuming_a_consultation_saved_at_an_emergency_needs_no_force(tmp_path):
    """#27 S3: the files written by "save now" are this consultation's own: resuming its draft
    and saving again rewrites them, without --force."""
    from lbp_assess.inputs.cases import load_case

    draft, shadow = _saved_now_then_paused(tmp_path)
    assert "Saved early" in (tmp_path / "radicular-l5.note.md").read_text()
    screen = Screen(["--resume", str(draft)], tmp_path, 24, 80)
    screen.wait_text("Resuming radicular-l5")
    assert "already exists" not in screen.text()
    drive(screen, shadow, {"cauda_equina.onset_days": 2, "cauda_equina.worsening": True})
    screen.wait_text("Save, or open a section to check or edit?")
    screen.child.send("s")
    screen.child.expect(pexpect.EOF)
    screen.child.close()
    assert screen.child.exitstatus == 0, screen.text()
    assert load_case(tmp_path / "radicular-l5.case.yaml").cauda_equina.onset_days == 2
    assert "Saved early" not in (tmp_path / "radicular-l5.note.md").read_text()
    assert not draft.exists()


def test_an_escape_sequence_typed_at_a_prompt_is_dropped_not_a_traceback(tmp_path):
    """Escape then `[2m` reads as a terminal's mouse report: prompt_toolkit's handler failed on it
    (a traceback, then "Press ENTER to continue", which took the next keys typed). The sequence is
    dropped; what is typed around it is the answer."""
    shadow = Interview(RULESET)
    screen = Screen(["--out", str(tmp_path)], tmp_path, 24, 80)
    screen.wait(prompt_on_screen(shadow), "the case id question")
    screen.child.send("ab\x1b[2mcd")
    screen.wait_text("abcd")
    screen.child.send("\r")
    shadow.answer("abcd")
    screen.wait(prompt_on_screen(shadow), "the question after the id")
    shown = screen.text()
    screen.child.sendcontrol("c")
    screen.child.expect(pexpect.EOF)
    assert "Traceback" not in shown and "Unhandled exception" not in shown and "Press ENTER" not in shown, shown
    (draft,) = tmp_path.glob("lbp-draft-abcd-*.json")


def test_a_pasted_control_character_is_refused_at_the_prompt_keeping_the_text_to_correct(tmp_path):
    """A pasted answer holding an escape sequence was refused after Enter and thrown away whole
    (typed again from nothing). It is refused at the prompt now, the text kept in it to correct."""
    shadow = Interview(RULESET)
    screen = Screen(["--out", str(tmp_path)], tmp_path, 24, 80)
    screen.wait(prompt_on_screen(shadow), "the case id question")
    screen.child.send("paste-1\r")
    shadow.answer("paste-1")
    screen.wait(prompt_on_screen(shadow), "the assessor question")
    screen.child.send("\x1b[200~Dr \x1b[31mRed\x1b[201~")
    screen.child.send("\r")
    screen.wait_text("must not contain the control character U+001B")
    assert "Dr ^[[31mRed" in screen.text(), screen.text()  # still in the prompt, shown, to correct
    screen.child.send("\x15Dr Red\r")  # Ctrl-U clears the line; the corrected answer
    shadow.answer("Dr Red")
    screen.wait(prompt_on_screen(shadow), "the question after the assessor")
    screen.child.sendcontrol("c")
    screen.child.expect(pexpect.EOF)
    (draft,) = tmp_path.glob("lbp-draft-paste-1-*.json")
    assert json.loads(draft.read_text())["answers"]["assessor"] == "Dr Red"


def test_an_emergency_left_at_its_offer_is_offered_again_on_resuming(tmp_path):
    """Ctrl-C at "EMERGENCY: save the case and note now?", then --resume: the panel came back but
    the offer did not, so the note could be saved only after every question left. Now the offer
    comes back first, and saving there writes the case and note."""
    screen, shadow = _at_the_saddle_offer(tmp_path)
    screen.child.sendcontrol("c")
    screen.wait_text("Resume with:")
    screen.child.expect(pexpect.EOF)
    (draft,) = tmp_path.glob("lbp-draft-radicular-l5-*.json")
    assert not (tmp_path / "radicular-l5.note.md").exists()
    screen = Screen(["--resume", str(draft)], tmp_path, 24, 80)
    screen.wait_text("EMERGENCY: save the case and note now?")
    screen.child.send("s")
    screen.wait_text("Go on with the interview?")
    screen.child.send("s")
    screen.child.expect(pexpect.EOF)
    screen.child.close()
    assert screen.child.exitstatus == 0, screen.text()
    assert "Saved early" in (tmp_path / "radicular-l5.note.md").read_text()
    assert load_case(tmp_path / "radicular-l5.case.yaml").cauda_equina.saddle_numbness is True


def test_resuming_over_files_changed_since_the_early_save_still_needs_force(tmp_path):
    """Another case now under the same name (the file changed since the save): refused, as ever."""
    draft, _ = _saved_now_then_paused(tmp_path)
    case = tmp_path / "radicular-l5.case.yaml"
    case.write_text(case.read_text() + "# another consultation\n")
    child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "assess", "--resume", str(draft)], cwd=str(tmp_path),
                          env=dict(os.environ, TERM="xterm", NO_COLOR="1"), encoding="utf-8", timeout=20,
                          dimensions=(24, 200))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus != 0
    assert "radicular-l5.case.yaml: already exists; use --force to overwrite" in child.before


@pytest.mark.parametrize("rows, columns", [(24, 80), (30, 100)])
def test_typed_free_text_and_the_saved_line_are_wrapped_at_word_boundaries(tmp_path, rows, columns):
    """#27 S2: the echoed answer to a free-text question, and the status lines on standard error,
    break between words at 80 and 100 columns, never inside one."""
    presenting = ("Right leg pain to the foot after lifting a heavy box at work on Monday, worse sitting and "
                  "driving, easier walking about; pins and needles in the big toe since Tuesday evening")
    answers = dict(RADICULAR, **{"id": f"pty-text-{columns}", "notes.presenting": presenting})
    shadow = Interview(RULESET)
    screen = Screen(["--out", str(tmp_path)], tmp_path, rows, columns)
    drive(screen, shadow, answers, until="social.work")
    screen.wait(prompt_on_screen(shadow), "the question after the presenting complaint")
    assert words_whole(screen, presenting) == [], screen.text()
    drive(screen, shadow, answers)
    screen.wait_text("Save, or open a section to check or edit?")
    screen.child.send("s")
    screen.wait_text("(plain text, to paste)")
    screen.settle()
    # the file paths are one word each (split only if longer than a line); the words around them whole
    assert words_whole(screen, "lbp-assess: saved and (plain text, to paste)") == [], screen.text()
    for suffix in ("case.yaml", "note.md", "note.txt"):
        path = str((tmp_path / f"pty-text-{columns}.{suffix}").resolve())
        if len(path) + 3 < columns:
            assert any(path in line for line in screen.lines()), screen.text()
    assert all(len(line) <= columns for line in screen.lines())


def test_the_review_verdict_is_provisional_as_the_note_is(tmp_path):
    """The review's verdict says "Provisional (a higher tier not yet excluded)" when the screen is
    complete but an EMERGENCY is not excluded (the note's own words, from the rule set), and is
    plain once everything above it is settled."""
    from rich.console import Console

    from lbp_assess.cli.prompts import TerminalPrompter
    from lbp_assess.inputs.cases import load_case

    def verdict(interview: Interview) -> str:
        console = Console(width=80, no_color=True)
        with console.capture() as captured:
            console.print(TerminalPrompter(console).result_panel(interview, interview.open_conditions()))
        return " ".join(" ".join(line.strip("│ ") for line in captured.get().splitlines()).split())

    _, interview = _aneurysm_risk_draft(tmp_path)
    interview.answers.update({"history.cancer": False, "systemic.fever": False})  # the screen complete
    assert not interview.assessment().unscreened and interview.open_conditions()[0].tier == "emergency"
    wording = RULESET.manifest.note_wording["provisional_not_excluded"]
    assert f"Urgency: {wording.format(headline='SOON - GP within 1 week')}" in verdict(interview)
    settled = Interview.from_case(RULESET, load_case(EXAMPLES / "cases" / "radicular-l5.yaml"))
    shown = verdict(settled)
    assert "Urgency: ROUTINE" in shown and "Provisional" not in shown, shown


def test_a_bidirectional_control_pasted_into_an_answer_is_never_drawn_as_typed(tmp_path):
    """While an answer is edited the terminal draws what is typed: a pasted RIGHT-TO-LEFT OVERRIDE
    would reorder the rest of the line on screen. It is drawn as U+FFFD until Enter refuses it
    (with its reason), and the answer typed again goes on as usual."""
    session = Session(["--out", str(tmp_path)], tmp_path, RADICULAR)
    session.child.expect_exact("Case id")
    session.child.send("pty\u202eradicular")
    session.child.expect_exact("pty\ufffdradicular")
    session.child.send(ENTER)
    session.child.expect_exact("U+202E")  # refused, and why
    assert "\u202e" not in session.child.before + session.child.after
    session.child.send("\x7f" * len("pty\u202eradicular") + "pty-radicular" + ENTER)
    session.shadow.answer("pty-radicular")
    session.answers["id"] = "pty-radicular"
    session.answer_until()
    session.finish()
    assert (tmp_path / "pty-radicular.case.yaml").exists()
