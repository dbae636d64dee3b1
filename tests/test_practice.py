"""Practice mode through a scripted prompter: right and wrong answers, a missed red flag,
features, the scorecard, --record, and history taking."""

from __future__ import annotations

import io
import json

from lbp_assess import practice as p
from lbp_assess.case import load_case

from helpers import EXAMPLES

VIGNETTES = EXAMPLES / "vignettes"


class Student:
    """Answers practice prompts from a script; records everything shown."""

    def __init__(self, classification, urgency, tick="keys", questions=()):
        self.classification, self.urgency, self.tick = classification, urgency, tick
        self.questions = list(questions)
        self.shown: list[tuple[str, list[str]]] = []
        self.offered: list[list[tuple]] = []

    def show(self, title, lines):
        self.shown.append((title, lines))

    def choose(self, text, choices, search=False):
        if text == "Your classification?":
            return self.classification
        if text == "Your urgency?":
            return self.urgency
        assert text == "Ask:" and choices[0][0] == p.DONE
        return self.questions.pop(0) if self.questions else p.DONE

    def choose_many(self, text, choices):
        self.offered.append(choices)
        return self.tick(choices) if callable(self.tick) else []

    def text(self) -> str:
        return "\n".join(line for _, lines in self.shown for line in lines)


def one(name):
    path = VIGNETTES / name
    return [(str(path), load_case(path))]


def session(ruleset, cases, student, **kwargs):
    card = p.Scorecard(list(ruleset.manifest.classes))
    p.run(cases, ruleset, student, card, seed=1, **kwargs)
    return card


def test_a_right_answer_with_the_features_that_mattered(ruleset):
    cases = one("v10-radicular-l5.yaml")
    exercise = p.make_exercise(cases[0][1], cases[0][0], ruleset, __import__("random").Random(1))
    keys = {k.fact for k in exercise.keys}
    assert {"pain.leg_extent", "pain.dominant", "neuro.paraesthesia"} <= keys
    student = Student("radicular", "routine", tick=lambda choices: [f for f, _ in choices if f in keys])
    card = session(ruleset, cases, student)
    text = student.text()
    assert student.shown[0][1][0].startswith("I'm 39.")  # the narrative, not the fields
    assert "Classification: [green]right[/green]" in text and "Urgency: [green]right[/green]" in text
    assert "You picked exactly the features that mattered." in text
    assert "Konstantinou" in text  # the rules that fired, with their sources
    assert card.lines()[0] == "Classification: 1/1; urgency: 1/1"


def test_wrong_answer_lists_missed_and_irrelevant_features(ruleset):
    student = Student("non_specific", "routine", tick=lambda choices: [choices[0][0]])
    session(ruleset, one("v17-cook-four-of-five.yaml"), student)
    text = student.text()
    assert "Classification: [red]wrong[/red] - you said non_specific, the rules say [bold]stenosis[/bold]" in text
    assert "Features that mattered and you did not tick:" in text
    offered = [label for _, label in student.offered[0]]
    assert any(label.startswith("Leg symptoms on walking: yes") for label in offered)
    assert len(offered) >= 6  # key findings mixed with other findings and distractors


def test_a_missed_red_flag_is_shown_as_serious_and_listed_first(ruleset):
    cases = one("v21-ces-acute-saddle.yaml") + one("v10-radicular-l5.yaml")
    student = Student("radicular", "routine")
    card = session(ruleset, cases, student)
    text = student.text()
    assert "SERIOUS: this is a red-flag case and it was not called one." in text
    assert "SERIOUS: under-triaged - this needs emergency action" in text
    lines = card.lines()
    assert lines[0] == "[bold red]Red flags missed or under-triaged: 1[/bold red]"
    assert lines[1].startswith("  • v21-ces-acute-saddle (emergency: cauda_equina)")
    assert "  red_flag: 0/1" in lines and "  radicular: 1/1" in lines


def test_record_appends_one_json_line_per_attempt(ruleset, tmp_path):
    log = tmp_path / "attempts.jsonl"
    log.write_text('{"earlier": true}\n')
    with open(log, "a") as handle:
        session(ruleset, one("v24-cancer-history-no-neuro.yaml"), Student("red_flag", "urgent"), record=handle)
    first, attempt = [json.loads(line) for line in log.read_text().splitlines()]
    assert first == {"earlier": True}  # appended, never overwritten
    assert attempt["case"] == "v24-cancer-history-no-neuro" and attempt["mode"] == "vignette"
    assert attempt["answer"]["classification"] == "red_flag" and attempt["correct"] == {
        "classification": True, "urgency": True}
    assert attempt["key"]["conditions"] == ["malignancy"] and attempt["seconds"] >= 0


def test_history_taking_reports_red_flag_questions_never_asked(ruleset):
    asked = ["pain.leg_side", "pain.leg_extent", "neuro.paraesthesia", "cauda_equina.saddle_numbness"]
    student = Student("radicular", "routine", questions=asked)
    record = io.StringIO()
    session(ruleset, one("v10-radicular-l5.yaml"), student, history_taking=True, record=record)
    replies = dict((title, lines) for title, lines in student.shown)
    assert replies["Which leg has symptoms (pain, pins and needles, numbness)?"] == ["Left"]
    assert replies["Pins and needles in the leg or foot?"] == ["yes"]
    text = student.text()
    assert "You asked 4 question(s)." in text
    assert "Red-flag questions never asked" in text
    assert "Difficulty passing urine" in text and "History of cancer" in text
    assert "Saddle numbness" not in text.split("never asked")[1]  # it was asked
    assert json.loads(record.getvalue())["answer"]["questions"] == asked


def test_topic_count_and_seed_choose_cases(ruleset):
    cases = p.load_exercise_cases([str(VIGNETTES)], need_vignette=True)
    red = p.choose_cases(cases, ruleset, 3, 5, "red_flag")
    assert len(red) == 3 and all(ruleset.assess(c).classification == "red_flag" for _, c in red)
    assert p.choose_cases(cases, ruleset, 3, 5, "red_flag") == red  # same seed, same cases


def test_practice_without_a_terminal_says_so(cli):
    run = cli("practice", "--count", "1", stdin=b"")
    assert run.code == 2 and "practice needs a terminal" in run.err
