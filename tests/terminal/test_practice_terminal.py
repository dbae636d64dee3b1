"""The real `lbp-assess practice` in an 80-column pseudo-terminal with NO_COLOR=1 (pexpect):
history taking with the two-level question menu, and a --topic session where a bare Enter
does not give the right answer."""

from __future__ import annotations

import io
import json
import os
import re
import sys

import pytest

from helpers import EXAMPLES

pexpect = pytest.importorskip("pexpect")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")

UP, DOWN, ENTER = "\x1b[A", "\x1b[B", "\r"
VIGNETTES = EXAMPLES / "vignettes"


def spawn(tmp_path, *args):
    """The CLI in a 40x80 terminal; `child.logfile_read` keeps everything it wrote."""
    env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", NO_COLOR="1", COLUMNS="80", LINES="40")
    child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "practice", *args], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=20, dimensions=(40, 80))
    child.logfile_read = io.StringIO()
    return child


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b[()][A-Z0-9]|\r", "", text)


def test_history_taking_in_a_terminal(tmp_path):
    record = tmp_path / "attempts.jsonl"
    child = spawn(tmp_path, str(VIGNETTES / "v01-acute-lifting.yaml"), "--interview", "--record", str(record),
                  "--student", "Ada")
    child.expect_exact("A 34-year-old man with low back pain.")
    child.expect_exact("Ask about (0 asked):")
    child.send("1")  # a digit chooses: the first section, Area and pain
    child.expect_exact("Area and pain:")
    child.send("2")  # its second question
    child.expect_exact("→ No leg symptoms")
    child.expect_exact("Ask about (1 asked):")
    child.send("0")  # Done
    child.expect_exact("Your classification?")
    child.send(DOWN * 4 + ENTER)  # the arrows start from nothing: four down is non-specific
    child.expect_exact("Your urgency?")
    child.send("4")  # routine
    child.expect_exact("A specific pattern?")
    child.send("1")
    child.expect_exact("Which features did you rely on?")
    child.send(ENTER)
    child.expect_exact("see the scorecard")
    child.send("d")  # the detail lists the red-flag questions never asked
    child.expect_exact("Page 1 of")
    child.send("q")
    child.expect_exact("see the scorecard")
    child.send(ENTER)
    child.expect(pexpect.EOF)
    screen = plain(child.logfile_read.getvalue())
    child.close()
    assert child.exitstatus == 0, screen
    assert "SERIOUS: 11 red-flag questions never asked" in screen
    assert "Classification: right - Non-specific" in screen
    assert "Red-flag questions never asked: 11 in 1 case" in screen
    assert "Area and pain: Which leg" not in screen  # the menus leave no line behind
    line = json.loads(record.read_text())
    assert line["student"] == "Ada" and line["answer"]["questions"] == ["pain.leg_side"]
    assert len(line["red_flags_not_asked"]) == 11


def test_a_topic_session_in_a_terminal(tmp_path):
    child = spawn(tmp_path, "--topic", "red_flag", "-n", "1", "--seed", "3")
    child.expect_exact("Your classification?")
    child.send(ENTER + ENTER)  # a bare Enter chooses nothing; a second one passes
    child.expect_exact("Your urgency?")
    child.send(ENTER + ENTER)
    child.expect_exact("A specific pattern?")
    child.send(ENTER + ENTER)
    child.expect_exact("Which features did you rely on?")
    child.send(ENTER)
    child.expect_exact("see the scorecard")
    child.send("d")
    child.expect_exact("Page 1 of")
    child.send(ENTER * 6)
    child.expect_exact("see the scorecard")
    child.send(ENTER)
    child.expect(pexpect.EOF)
    screen = plain(child.logfile_read.getvalue())
    child.close()
    assert child.exitstatus == 0, screen
    assert "SERIOUS: a red-flag case not called one" in screen
    assert "Classification: wrong - you said no answer" in screen and "Urgency: wrong" in screen
    lines = screen.splitlines()
    # In the panels a heading starts "│ X", an item "│   • X"; a line starting with more spaces
    # is a wrapped item, and it must stay under the item's text.
    continued = [t for t in lines if t.startswith("│  ") and not t.startswith("│   • ")]
    assert continued and all(t.startswith("│     ") for t in continued)
    assert all(len(text) <= 80 for text in lines if text.startswith(("│", "╭", "╰")))
