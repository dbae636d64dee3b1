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

from lbp_assess.consult.interview import NOT_ANSWERED, LiveAlert, Progress
from lbp_assess.engine.questionnaire import GO_BACK
from lbp_assess.cli.prompts import TerminalPrompter
from lbp_assess.engine.ruleset.load import load_rules

from helpers import RULES

QUESTIONS = load_rules(RULES).questionnaire.by_id
DOWN, UP, ENTER = "\x1b[B", "\x1b[A", "\r"


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


@pytest.mark.parametrize("keys,expected", [("y", True), ("n", False), ("u", None), ("b", GO_BACK),
                                           ("\x1b[D", GO_BACK), (UP + ENTER, False), (DOWN + ENTER, GO_BACK)])
def test_yes_no_answers_on_one_key(keys, expected):
    assert ask("pain.dermatomal", keys) is expected


def test_a_stray_enter_on_a_new_question_records_unsure_never_an_answer():
    assert ask("pain.dermatomal", ENTER) is None
    assert ask("pain.leg_side", ENTER) is None  # not "No leg symptoms", which would settle follow-ups
    assert ask("behaviour.aggravated_by", ENTER) is None  # not "none of these"


def test_yes_no_offers_the_earlier_answer_as_the_default():
    assert ask("pain.dermatomal", ENTER, default=False) is False
    assert ask("pain.dermatomal", ENTER, default=None) is None  # unsure stays unsure


def test_single_choice_by_digit_or_arrow_keys_and_previous_answer_as_default():
    assert ask("pain.leg_side", "3") == "right"
    assert ask("pain.leg_side", UP * 3 + ENTER) == "right"
    assert ask("pain.leg_side", ENTER, default="both") == "both"
    assert ask("pain.leg_side", "u") is None  # unsure / not asked


def test_a_choice_ruled_out_by_an_earlier_answer_is_not_offered():
    # Asked only when a leg has symptoms: "Back only" is not offered, so 1 is the buttock.
    assert ask("pain.leg_extent", "1") == "buttock"
    assert ask("pain.leg_extent", "4") == "foot"


def test_tick_list_by_digits_or_space_and_enter():
    assert ask("behaviour.aggravated_by", "13" + ENTER) == ["sitting", "walking"]
    assert ask("behaviour.aggravated_by", UP * 2 + " " + UP * 2 + " " + ENTER) == ["lifting", "lying"]
    assert ask("behaviour.aggravated_by", "0") == []  # none of these
    assert ask("behaviour.aggravated_by", "11" + ENTER) is None  # ticked, unticked: Enter on unsure
    assert ask("behaviour.aggravated_by", ENTER, default=[]) == []  # asked again: Enter keeps "none"
    assert ask("behaviour.aggravated_by", "b") is GO_BACK
    with pytest.raises(EOFError):  # "none" with a ticked item is refused; no further keys arrive
        ask("behaviour.aggravated_by", "10")


def test_tick_list_unsure_stands_alone_and_survives_going_back():
    assert ask("behaviour.aggravated_by", "u") is None
    with pytest.raises(EOFError):  # unsure with a ticked item is refused; no further keys arrive
        ask("behaviour.aggravated_by", "1u")
    assert ask("behaviour.aggravated_by", "1u1u") is None  # untick, then unsure is accepted
    assert ask("behaviour.aggravated_by", ENTER, default=None) is None  # asked again: Enter keeps unsure
    assert ask("behaviour.aggravated_by", ENTER, default=["walking"]) == ["walking"]


def test_tick_list_echoes_the_ticked_items():
    out = io.StringIO()

    def call(prompter):
        return prompter.ask(QUESTIONS["behaviour.aggravated_by"], NOT_ANSWERED, Progress(3, 60, "Aggravating"))

    result: dict = {}
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=_Recorder(out)):
        pipe.send_text("14" + ENTER)
        result["value"] = call(TerminalPrompter(Console(file=io.StringIO(), width=100)))
    assert result["value"] == ["sitting", "bending"]
    assert "Sitting, Bending" in out.getvalue()


def test_numbers_are_validated_and_blank_is_unsure():
    assert ask("patient.age", "44" + ENTER) == 44
    assert ask("onset.weeks_ago", "0.5" + ENTER) == 0.5
    assert ask("patient.age", ENTER) is None
    assert ask("patient.age", "<" + ENTER) is GO_BACK
    with pytest.raises(EOFError):  # 12 is refused, and no further keys arrive
        ask("patient.age", "12" + ENTER)
    with pytest.raises(EOFError):  # not a finite number
        ask("walking.tolerance_min", "inf" + ENTER)


def test_the_case_id_cannot_be_blank():
    with pytest.raises(EOFError):
        ask("id", ENTER)
    assert ask("id", "case-7" + ENTER) == "case-7"


def test_a_pasted_block_of_lines_is_one_answer():
    paste = "\x1b[200~Fell on ice.\nPain since,\nworse at night.\x1b[201~"
    assert ask("notes.presenting", paste + ENTER) == "Fell on ice.\nPain since,\nworse at night."


def test_start_back_items_or_skip():
    assert ask("psychosocial.start_back", "u") is None
    keys = "1" + "10" * 4 + "3"
    assert ask("psychosocial.start_back", keys) == [1, 0, 1, 0, 1, 0, 1, 0, 3]
    # Asked again: the recorded answers are kept on one key.
    assert ask("psychosocial.start_back", ENTER, default=[1, 0, 1, 0, 1, 0, 1, 0, 3]) == [1, 0, 1, 0, 1, 0, 1, 0, 3]


def test_a_missing_key_press_fails_instead_of_hanging():
    with pytest.raises(EOFError):
        ask("pain.dermatomal", "")


def test_ctrl_c_reaches_the_caller():
    with pytest.raises(KeyboardInterrupt):
        ask("pain.leg_side", "\x03")


def test_alert_panel_names_a_red_flag_as_a_red_flag_and_an_alert_as_an_alert():
    out = io.StringIO()
    prompter = TerminalPrompter(Console(file=out, width=100))
    prompter.alert(LiveAlert("condition", "cauda_equina", "Cauda equina syndrome", "emergency", "Emergency",
                             "same day, now", "Immediate hospital referral.", "A cauda equina feature."))
    prompter.alert(LiveAlert("alert", "significant_motor_deficit", "Significant motor deficit", "urgent",
                             "Urgent", "within 24 hours to 1 week", "Prompt spinal opinion.", "Foot drop."))
    text = out.getvalue()
    assert "RED FLAG: Cauda equina syndrome" in text and "EMERGENCY - same day, now" in text
    assert "Action: Immediate hospital referral." in text
    assert "ALERT (class unchanged): Significant motor deficit" in text
    assert "RED FLAG: Significant motor deficit" not in text


def test_a_lowered_or_cleared_tier_is_a_one_line_notice():
    out = io.StringIO()
    prompter = TerminalPrompter(Console(file=out, width=200))
    prompter.alert(LiveAlert("condition", "cauda_equina", "Cauda equina syndrome", "urgent", "Urgent",
                             "within 24 hours to 1 week", "", "", "lower", "emergency"))
    prompter.alert(LiveAlert("condition", "cauda_equina", "Cauda equina syndrome", None, "", "", "", "",
                             "cleared", "urgent"))
    lines = out.getvalue().splitlines()
    assert lines == ["  Cauda equina syndrome: now URGENT (within 24 hours to 1 week), was EMERGENCY.",
                     "  Cauda equina syndrome: no longer raised (was URGENT)."]


def test_a_notice_that_wraps_keeps_its_indent_on_every_line():
    """At 80 columns "Cauda equina syndrome: now URGENT (discuss today; ...), was EMERGENCY." went on
    at the left margin, under the question rather than under the notice."""
    out = io.StringIO()
    prompter = TerminalPrompter(Console(file=out, width=60))
    prompter.alert(LiveAlert("condition", "cauda_equina", "Cauda equina syndrome", "urgent", "Urgent",
                             "discuss today; MRI as urgent per the local pathway", "", "", "lower", "emergency"))
    lines = out.getvalue().splitlines()
    assert len(lines) > 1 and all(line.startswith("  ") and line[2] != " " for line in lines), lines
    assert " ".join(" ".join(lines).split()).endswith("was EMERGENCY.")


def test_case_text_is_never_read_as_markup():
    out = io.StringIO()
    prompter = TerminalPrompter(Console(file=out, width=100))
    prompter.notice("see [r/o CES] [/] \x1b]0;title\x07")
    assert "see [r/o CES] [/] \\x1b]0;title\\x07" in out.getvalue()


class _Recorder(DummyOutput):
    """Keeps what prompt_toolkit writes, so a test can read the answered prompt line."""

    def __init__(self, sink):
        self.sink = sink

    def write(self, data: str) -> None:
        self.sink.write(data)

    def write_raw(self, data: str) -> None:
        self.sink.write(data)


def test_start_back_items_go_back_one_item():
    keys = "1" + "1" + "b" + "0" + "1" * 7 + "2"  # item 1 agree, back, item 1 disagree, the rest
    assert ask("psychosocial.start_back", keys) == [0, 1, 1, 1, 1, 1, 1, 1, 2]


def test_lt_on_an_unchanged_earlier_answer_goes_back():
    assert ask("patient.age", "<", default=44) is GO_BACK
    assert ask("notes.pmh", "<", default="Asthma") is GO_BACK
    assert ask("patient.age", "\x08\x08" + "45" + ENTER, default=44) == 45


@pytest.mark.parametrize("qid,typed,expected", [
    ("onset.weeks_ago", "3", 3), ("onset.weeks_ago", "0.5", 0.5), ("onset.weeks_ago", "14 days", 2),
    ("onset.weeks_ago", "3d", 0.43), ("onset.weeks_ago", "6 months", 26), ("onset.weeks_ago", "2y", 104),
    ("cauda_equina.onset_days", "2 weeks", 14), ("walking.tolerance_min", "1 hour", 60),
])
def test_numbers_may_be_typed_in_another_unit(qid, typed, expected):
    assert ask(qid, typed + ENTER) == expected


@pytest.mark.parametrize("qid,typed", [("onset.weeks_ago", "2 fortnights"), ("onset.weeks_ago", "-1"),
                                       ("onset.weeks_ago", "1e9"), ("patient.age", "40 days")])
def test_a_number_in_an_unknown_unit_is_refused(qid, typed):
    with pytest.raises(EOFError):  # refused, and no further keys arrive
        ask(qid, typed + ENTER)


def test_a_tick_list_keeps_earlier_values_it_does_not_offer():
    # "rest" and "movement" are asked as their own questions, not offered in the list.
    assert ask("behaviour.eased_by", ENTER, default=["lying", "movement"]) == ["lying", "movement"]
    assert ask("behaviour.eased_by", "1" + ENTER, default=["lying", "rest"]) == ["sitting", "lying", "rest"]


def _screen(qid: str, keys: str, default=NOT_ANSWERED):
    """(the answer, everything prompt_toolkit drew) for one prompt."""
    out = io.StringIO()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=_Recorder(out)):
        pipe.send_text(keys)
        pipe.close()
        value = TerminalPrompter(Console(file=io.StringIO(), width=100)).ask(
            QUESTIONS[qid], default, Progress(3, 60, "Area and pain"))
    return value, " ".join(out.getvalue().split())  # wrapped lines read as one


ALL = load_rules(RULES).questionnaire


@pytest.mark.parametrize("question", [q for q in ALL.questions if q.kind in ("text", "number", "scale")],
                         ids=lambda q: q.id)
def test_every_typed_hint_says_what_blank_really_does(question):
    """Review: "blank unsure" on an optional answer that a blank leaves unrecorded, "(blank if not
    used)" in the question. The hint says what Enter on a blank does, as the review shows it."""
    from lbp_assess.cli.prompts import text_hint
    from lbp_assess.engine.answers import case_data

    hint = text_hint(question)
    assert "blank" not in question.text.lower(), question.text  # the hint says it, once
    written = case_data(ALL, {question.id: None}, None)
    section, _, name = question.id.partition(".")
    recorded = name in written.get(section, {}) if name else written.get(section) is not None
    if hint.startswith("required"):
        assert question.kind == "text" and not question.optional
        with pytest.raises(EOFError):  # a blank is refused, and no further keys arrive
            ask(question.id, ENTER)
        return
    assert ask(question.id, ENTER) is None
    if hint.startswith("blank = not recorded"):
        assert not recorded and question.describe(None) in ("not recorded", "-")
    else:
        assert hint.startswith("blank = unsure") and question.is_fact
        assert recorded and written[section][name] is None and question.describe(None) == "unsure / not asked"


@pytest.mark.parametrize("qid", load_rules(RULES).manifest.screening)
def test_enter_on_a_red_flag_question_is_unsure_and_the_hint_says_so(qid):
    """A red-flag question left blank (Enter) is recorded unsure - never silently "no" - and the
    prompt says so; asked again, Enter keeps the earlier answer and the hint does not claim unsure."""
    value, drawn = _screen(qid, ENTER)
    assert value is None and "u or Enter unsure" in drawn
    value, drawn = _screen(qid, ENTER, default=False)
    assert value is False and "u or Enter unsure" not in drawn and "u unsure" in drawn


def test_an_optional_closed_question_left_blank_reads_unsure_in_the_prompt_and_the_review():
    """Work status, pain quality, anticoagulant: Enter records unsure (null, and the note says
    "unsure"), so the prompt and the review say unsure too - never "not recorded"."""
    from lbp_assess.engine.answers import case_data

    for qid in ("social.work", "pain.quality", "medication.anticoagulant"):
        value, drawn = _screen(qid, ENTER)
        assert value is None and "Unsure / not asked" in drawn and "u or Enter unsure" in drawn \
            or "u unsure" in drawn, (qid, drawn)
        assert QUESTIONS[qid].describe(None) == "unsure / not asked"
        section, name = qid.split(".")
        assert case_data(ALL, {qid: None}, None)[section] == {name: None}  # written as unsure


def test_a_key_hint_or_a_short_answer_moves_to_the_next_line_whole():
    from lbp_assess.cli.prompts import wrap_fragments

    def shown(*fragments):
        return "".join(t for _, t in wrap_fragments(list(fragments), 80)).split("\n")

    lines = shown(("class:qmark", "77/81 ›"), ("class:question", " PSFS: how able now, 0 (unable) to 10 (as before) (/10) "),
                  ("class:instruction", "(blank = not recorded, < = back) "), ("class:answer", "6"))
    assert lines == ["77/81 › PSFS: how able now, 0 (unable) to 10 (as before) (/10)",
                     "  (blank = not recorded, < = back) 6"]
    lines = shown(("class:qmark", "  STarT Back ›"),
                  ("class:question", " 7. Feels the pain is terrible and will never improve "),
                  ("class:answer", "Disagree (0)"))
    assert lines[-1].strip() == "Disagree (0)" and all(len(line) < 80 for line in lines)


def test_a_long_resume_command_breaks_between_arguments_with_a_line_continuation():
    import shlex

    from lbp_assess.cli.app import command_lines

    path = "/work/scratch/chair/rad/some folder/lbp-draft-rad-1-3ee7ac.json"
    line = f"  /work/venvs/chair/bin/python -m lbp_assess assess --resume {shlex.quote(path)}"
    shown = command_lines(line, 79).split("\n")
    assert shown == ["  /work/venvs/chair/bin/python -m lbp_assess assess --resume \\",
                     f"      {shlex.quote(path)}"]
    assert shlex.split(" ".join(part.rstrip("\\") for part in shown))[-1] == path  # pasted, it runs
    assert command_lines("  lbp-assess assess --resume x.json", 79) == "  lbp-assess assess --resume x.json"


def test_counts_of_questions_are_singular_or_plural():
    from lbp_assess.consult.session import questions

    assert questions(1) == "1 question" and questions(39) == "39 questions"


def test_every_page_of_a_long_detail_is_a_whole_panel_that_says_what_its_list_is():
    """Page 2 of the practice detail began with "│   • Better within 48 h ..." under no title:
    each page is a panel with its title, and a list cut by a page repeats its heading."""
    console = Console(file=io.StringIO(), width=80, height=24)
    prompter = TerminalPrompter(console)
    lines = ["[bold]How the rules reasoned:[/bold]", *[f"  • rule {n} " + "word " * 20 for n in range(4)],
             "[bold]Features that mattered and you did not tick:[/bold]", *[f"  • feature {n}" for n in range(12)]]
    chunks = prompter.page_chunks(lines, 22)
    assert len(chunks) == 2 and chunks[1][0] == "[bold]Features that mattered and you did not tick (continued):[/bold]"
    assert sum(1 for chunk in chunks for line in chunk if line.startswith("  • feature")) == 12
    assert all(not chunk[-1].startswith("[bold]") for chunk in chunks)  # no heading left at a page's foot
    whole = prompter.page_chunks(lines[:5] + lines[5:7], 8)  # the heading moves to the page of its list
    assert any(chunk[0] == lines[5] for chunk in whole), whole
    for chunk in chunks:
        with console.capture() as captured:
            console.print(prompter.list_panel("Case 1: detail", chunk))
        rendered = captured.get().splitlines()
        assert len(rendered) <= 22 and rendered[0].startswith("╭─ Case 1: detail")
