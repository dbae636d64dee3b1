"""The questionary prompter with real key presses through a prompt_toolkit pipe.

The pipe is closed after the keys, so a missing key press ends in EOFError
instead of a hung test; each prompt also runs under a 10-second watchdog.
"""

from __future__ import annotations

import io
import threading

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from lbp_assess.interview import BACK, NOT_ANSWERED, LiveAlert, Progress
from lbp_assess.prompts import TerminalPrompter
from lbp_assess.rules import load_rules

from helpers import RULES

QUESTIONS = load_rules(RULES).questionnaire.by_id
DOWN, ENTER = "\x1b[B", "\r"


def press(keys: str, call):
    result: dict = {}

    def target():
        try:
            with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
                pipe.send_text(keys)
                pipe.close()
                result["value"] = call(TerminalPrompter(Console(file=io.StringIO(), width=100)))
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the prompt hung"
    if "error" in result:
        raise result["error"]
    return result["value"]


def ask(qid: str, keys: str, default=NOT_ANSWERED):
    return press(keys, lambda p: p.ask(QUESTIONS[qid], default, Progress(3, 60, "Area and pain")))


@pytest.mark.parametrize("keys,expected", [("y" + ENTER, True), ("n" + ENTER, False), ("u" + ENTER, None),
                                           ("b" + ENTER, BACK), (ENTER, True)])
def test_yes_no_unsure_back(keys, expected):
    assert ask("pain.dermatomal", keys) is expected


def test_single_choice_by_arrow_keys_and_previous_answer_as_default():
    assert ask("pain.leg_side", DOWN * 2 + ENTER) == "right"
    assert ask("pain.leg_side", ENTER, default="both") == "both"
    assert ask("pain.leg_side", DOWN * 5 + ENTER) is None  # unsure / not asked


def test_multiple_choice():
    assert ask("behaviour.aggravated_by", " " + DOWN * 2 + " " + ENTER) == ["sitting", "walking"]
    assert ask("behaviour.aggravated_by", ENTER) == []  # none of these
    assert ask("behaviour.aggravated_by", DOWN * 9 + " " + ENTER) is BACK


def test_numbers_are_validated_and_blank_is_unsure():
    assert ask("patient.age", "44" + ENTER) == 44
    assert ask("onset.weeks_ago", "0.5" + ENTER) == 0.5
    assert ask("patient.age", ENTER) is None
    assert ask("patient.age", "<" + ENTER) is BACK
    with pytest.raises(EOFError):  # 12 is refused, and no further keys arrive
        ask("patient.age", "12" + ENTER)


def test_the_case_id_cannot_be_blank():
    with pytest.raises(EOFError):
        ask("id", ENTER)
    assert ask("id", "case-7" + ENTER) == "case-7"


def test_start_back_items_or_skip():
    assert ask("psychosocial.start_back", DOWN + ENTER) is None
    keys = ENTER + (ENTER + DOWN + ENTER) * 4 + DOWN * 3 + ENTER
    assert ask("psychosocial.start_back", keys) == [1, 0, 1, 0, 1, 0, 1, 0, 3]


def test_a_missing_key_press_fails_instead_of_hanging():
    with pytest.raises(EOFError):
        ask("pain.dermatomal", "y")


def test_ctrl_c_reaches_the_caller():
    with pytest.raises(KeyboardInterrupt):
        ask("pain.leg_side", "\x03")


def test_review_finish_or_pick_a_question_to_edit():
    from lbp_assess.interview import ReviewRow

    rows = [ReviewRow(1, QUESTIONS["patient.age"], 44, "44 years"),
            ReviewRow(2, QUESTIONS["pain.leg_side"], "right", "Right")]
    assert press(ENTER, lambda p: p.review(rows)) is None
    assert press(DOWN + ENTER + DOWN + ENTER, lambda p: p.review(rows)) == "pain.leg_side"


def test_alert_panel_shows_tier_time_frame_and_action():
    out = io.StringIO()
    prompter = TerminalPrompter(Console(file=out, width=100))
    prompter.alert(LiveAlert("condition", "cauda_equina", "Cauda equina syndrome", "emergency", "Emergency",
                             "same day, now", "Immediate hospital referral.", "A cauda equina feature."))
    text = out.getvalue()
    assert "RED FLAG: Cauda equina syndrome" in text and "EMERGENCY - same day, now" in text
    assert "Action: Immediate hospital referral." in text
