"""`lbp-assess practice` in real terminals of 80x24 and 100x30 (NO_COLOR), read as the student
sees the screen: nothing preselected, digit keys answer, Enter alone never scores a right
answer, the verdict stays until the student moves on and fits, the detail pages, history taking
shows whole questions, and --again serves the latest mistakes first."""

from __future__ import annotations

import json
import re
import sys

import pytest

from helpers import EXAMPLES

pytest.importorskip("pexpect")
pytest.importorskip("pyte")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")

from pty_screen import ENTER, Terminal  # noqa: E402

VIGNETTES = EXAMPLES / "vignettes"
CES = str(VIGNETTES / "v21-ces-acute-saddle.yaml")


@pytest.mark.slow
def test_enter_through_every_prompt_never_scores_a_right_answer(tmp_path):
    """Every vignette in the bank, Enter pressed at every prompt: nothing is ever right, and every
    urgent or emergency case is recorded as under-triaged."""
    record = tmp_path / "enter.jsonl"
    term = Terminal(["practice", "--record", str(record), "--seed", "1"], str(tmp_path))
    assert term.press_enter_until_exit() == 0, term.text()
    attempts = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(attempts) == len(list(VIGNETTES.glob("*.yaml")))
    for attempt in attempts:
        assert attempt["answer"]["classification"] is None and attempt["answer"]["urgency"] is None
        assert not any(attempt["correct"].values()), attempt["case"]
        if attempt["key"]["urgency"] in ("emergency", "urgent"):
            assert attempt["under_triage"], attempt["case"]
    shown = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", "".join(term.transcript))  # all it wrote (Enters scroll it)
    n = len(attempts)
    assert f"Classification: 0/{n}; urgency: 0/{n}; pattern: 0/{n}" in shown
    assert "right -" not in shown and shown.count("Classification: wrong") == n  # no verdict ever said right


@pytest.mark.parametrize("rows, columns", [(24, 80), (30, 100)])
def test_the_verdict_stays_on_screen_verdict_first_and_fits(tmp_path, rows, columns):
    term = Terminal(["practice", CES], str(tmp_path), rows, columns)
    lines = term.wait_for("Your classification?")
    assert "(1-4 to choose)" in "\n".join(lines)
    pointed = [line for line in lines if line.lstrip().startswith(("»", "❯", ">"))]
    assert not pointed, pointed  # nothing preselected
    term.send(ENTER)  # Enter alone does not choose
    lines = term.wait_for("Nothing chosen: press 1-4")
    assert "Your urgency?" not in "\n".join(lines)
    term.send("4")  # non-specific
    term.wait_for("Your urgency?")
    term.send("4")  # routine: under-triage of an emergency
    term.wait_for("A specific pattern?")
    term.send("1")
    term.wait_for("Which features did you rely on?")
    term.send(ENTER)
    lines = term.wait_for("Enter see the scorecard")
    assert lines[0].startswith("╭─ Case 1 of 1: v21-ces-acute-saddle")  # the verdict at the top of the screen
    assert lines[1].startswith("│ SERIOUS: under-triaged - this needs emergency action")
    text = "\n".join(lines)
    assert "Urgency set by:" in text and "Cauda equina syndrome" in text
    assert all(len(line) <= columns for line in lines)
    assert not term._pending()  # it waits: no next case, no scorecard
    assert term.lines() == lines
    term.send("d")  # the detail, a screen at a time
    lines = term.wait_for("Page 1 of")
    assert "How the rules reasoned:" in "\n".join(lines) and "because" not in lines[0]
    term.send("q")  # back to the verdict, still there
    lines = term.wait_for("Enter see the scorecard")
    assert lines[1].startswith("│ SERIOUS: under-triaged")
    term.send(ENTER)
    lines = term.wait_for("Scorecard")
    assert "Red flags missed or under-triaged: 1" in "\n".join(lines)
    assert term.finish() == 0


def test_digit_keys_answer_and_a_right_answer_says_so(tmp_path):
    term = Terminal(["practice", CES], str(tmp_path))
    term.wait_for("Your classification?")
    term.send("1")
    term.wait_for("Your urgency?")
    term.send("1")
    term.wait_for("A specific pattern?")
    term.send("1")
    term.wait_for("Which features did you rely on?")
    term.send(ENTER)
    text = "\n".join(term.wait_for("Enter see the scorecard"))
    assert "Classification: right - Red flag" in text and "Urgency: right - Emergency" in text
    assert "Pattern: right - no specific pattern" in text and "SERIOUS" not in text
    term.send("q")
    assert term.finish() == 0


def test_history_taking_shows_whole_questions_at_80_columns(tmp_path):
    term = Terminal(["practice", str(VIGNETTES / "v10-radicular-l5.yaml"), "--interview"], str(tmp_path))
    term.wait_for("Ask about (0 asked):")
    term.send(ENTER)  # the first section
    lines = term.wait_for("<- Other sections")
    menu = [line for line in lines if line.strip() and not line.startswith(("╭", "│", "╰"))]
    assert all(len(line) < 80 for line in menu)  # short labels, nothing cut at the edge
    term.send("\x1b[B" + ENTER)  # its second question: which leg
    text = " ".join(term.wait_for("→ Left"))
    assert "Which leg has symptoms (pain, pins and needles, numbness)?" in " ".join(text.split())
    term.send("\x03")
    term.finish()


def test_again_serves_the_latest_mistakes_first(tmp_path):
    from lbp_assess.engine.ruleset.load import load_rules

    from helpers import RULES

    version = load_rules(RULES).version

    def line(case, at, right, under=False):
        return json.dumps({"at": at, "student": "Ada", "case": case, "mode": "vignette",
                           "answer": {"classification": "non_specific", "urgency": "routine"},
                           "key": {"classification": "red_flag", "urgency": "emergency"},
                           "correct": {"classification": right, "urgency": right, "pattern": True},
                           "under_triage": under, "missed_red_flag": False, "rules_version": version})

    record = tmp_path / "ada.jsonl"
    record.write_text("\n".join([
        line("v21-ces-acute-saddle", "2026-12-01T10:00:00+00:00", False, under=True),
        line("v10-radicular-l5", "2026-12-02T10:00:00+00:00", False),
        line("v01-acute-lifting", "2026-12-03T10:00:00+00:00", False),
        line("v01-acute-lifting", "2026-12-03T11:00:00+00:00", True),  # put right since
        line("v99-not-in-the-bank", "2026-12-03T12:00:00+00:00", False),
    ]) + "\n")
    term = Terminal(["practice", "--again", str(record), "--student", "Ada"], str(tmp_path))
    text = "\n".join(term.wait_for("Your classification?"))
    assert "Case 1 of 2" in text and "I'm 39." in text  # v10, the most recent mistake
    term.send("q")
    term.send("\x03")
    term.finish()
    assert "v99-not-in-the-bank is not among the vignettes given" in "".join(term.transcript)
