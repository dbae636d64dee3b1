"""Practice mode through a scripted prompter: right and wrong answers, a missed red flag,
features, the scorecard, --record, and history taking."""

from __future__ import annotations

import io
import json
import random

import pytest

from lbp_assess.teach import practice as p
from lbp_assess.inputs.cases import load_case
from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, RULES

VIGNETTES = EXAMPLES / "vignettes"
QUESTIONNAIRE = load_rules(RULES).questionnaire


class Student:
    """Answers practice prompts from a script; records everything shown and every menu offered."""

    def __init__(self, classification, urgency, tick="keys", questions=(), pattern="none"):
        self.classification, self.urgency, self.tick, self.pattern = classification, urgency, tick, pattern
        self.questions = list(questions)
        self.shown: list[tuple[str, list[str]]] = []
        self.offered: list[list[tuple]] = []
        self.menus: list[tuple[str, list[tuple], object]] = []
        self.verdicts: list[tuple[str, list[str], list[str]]] = []

    def show(self, title, lines, clear=False):
        self.shown.append((title, lines))

    def show_list(self, title, lines):
        self.shown.append((title, lines))

    def choose(self, text, choices):
        self.menus.append((text, choices, None))
        answer = {"Your classification?": self.classification, "Your urgency?": self.urgency,
                  "A specific pattern?": self.pattern}[text]
        assert answer == p.PASS or answer in dict(choices), (answer, choices)
        return answer

    def verdict(self, title, lines, detail, last=False):
        self.verdicts.append((title, lines, detail))
        self.shown.append((title, lines + detail))
        return "next"

    def note(self, text):
        self.shown.append(("", [text]))

    def menu(self, text, choices, start=None, erase=False):
        self.menus.append((text, choices, start))
        assert erase  # the history menus leave nothing behind on the screen
        if text.startswith("Ask about"):
            assert choices[-1][0] == p.DONE
            return QUESTIONNAIRE.by_id[self.questions[0]].section_title if self.questions else p.DONE
        return self.questions.pop(0)

    def choose_many(self, text, choices):
        self.offered.append(choices)
        return self.tick(choices) if callable(self.tick) else []

    def text(self) -> str:
        return "\n".join(line for _, lines in self.shown for line in lines)


def one(name):
    path = VIGNETTES / name
    return [(str(path), load_case(path))]


def session(ruleset, cases, learner, **kwargs):
    card = p.Scorecard(list(ruleset.manifest.classes))
    p.run(cases, ruleset, learner, card, seed=1, **kwargs)
    return card


def test_a_right_answer_with_the_features_that_mattered(ruleset):
    cases = one("v10-radicular-l5.yaml")
    exercise = p.make_exercise(cases[0][1], cases[0][0], ruleset, random.Random(1))
    keys = {k.fact for k in exercise.keys}
    assert {"pain.leg_extent", "pain.dominant", "neuro.paraesthesia"} <= keys
    student = Student("radicular", "routine", tick=lambda choices: [f for f, _ in choices if f in keys])
    card = session(ruleset, cases, student)
    text = student.text()
    assert student.shown[0][1][0].startswith("I'm 39.")  # the narrative, not the fields
    assert "Classification: [green]right[/green] - Radicular pain (sciatica)." in text
    assert "Urgency: [green]right[/green] - Routine - physiotherapy management" in text
    assert "You picked exactly the features that mattered." in text
    assert "Konstantinou" in text  # the rules that fired, with their sources
    assert card.lines()[0] == "Classification: 1/1; urgency: 1/1; pattern: 1/1"


def test_wrong_answer_lists_missed_and_irrelevant_features(ruleset):
    student = Student("non_specific", "routine", tick=lambda choices: [choices[0][0]])
    session(ruleset, one("v17-cook-four-of-five.yaml"), student)
    text = student.text()
    assert ("Classification: [red]wrong[/red] - you said Non-specific low back pain; "
            "the rules say [bold]Lumbar spinal stenosis (neurogenic claudication)[/bold].") in text
    assert "Features that mattered and you did not tick:" in text
    offered = [label for _, label in student.offered[0]]
    assert any(label.startswith("Leg symptoms on walking: yes") for label in offered)
    assert len(offered) >= 6  # key findings mixed with other findings and distractors


def test_a_missed_red_flag_is_shown_as_serious_and_listed_first(ruleset):
    cases = one("v21-ces-acute-saddle.yaml") + one("v10-radicular-l5.yaml")
    student = Student("radicular", "routine")
    card = session(ruleset, cases, student)
    text = student.text()
    assert "SERIOUS: a red-flag case not called one" in text
    # the governing row's own time frame, not the tier's "same day, now"
    assert "SERIOUS: under-triaged - emergency, now (within hours) - you said routine." in text
    lines = card.lines()
    assert lines[0] == "[bold red]Red flags missed or under-triaged: 1[/bold red]"
    assert lines[1] == "  • v21-ces-acute-saddle - Emergency: Cauda equina syndrome"
    assert "  • Red flag: 0/1" in lines and "  • Radicular pain: 1/1" in lines


def test_labels_read_as_words_not_ids(ruleset):
    student = Student("red_flag", "urgent")
    session(ruleset, one("v01-acute-lifting.yaml"), student)
    classes = dict(next(choices for text, choices, _ in student.menus if text == "Your classification?"))
    assert classes["stenosis"] == "Lumbar spinal stenosis (neurogenic claudication)"
    assert all(len(f"› Your classification? {label}") <= 80 for label in classes.values())  # no wrapped answer
    urgencies = dict(next(choices for text, choices, _ in student.menus if text == "Your urgency?"))
    assert urgencies["routine"] == "Routine - physiotherapy management with safety-netting"
    assert urgencies["urgent"] == "Urgent - within 24 hours to 1 week"
    text = student.text()
    assert "Routine - routine" not in text and "non_specific" not in text and "red_flag" not in text
    assert "you said Urgent - within 24 hours to 1 week; the rules say [bold]Routine" in text


@pytest.mark.parametrize("mode", [{}, {"topic": "red_flag"}, {"history_taking": True}])
def test_nothing_is_preselected_in_any_mode(ruleset, mode):
    """Class, urgency and pattern are asked with `choose` (no pointer, digit keys) in every mode,
    never with a menu whose pointer starts on an answer."""
    cases = p.choose_cases(p.load_exercise_cases([str(VIGNETTES)], True), ruleset, 2, 3, mode.get("topic"))
    student = Student("red_flag", "emergency")
    session(ruleset, cases, student, **mode)
    asked = [text for text, _, _ in student.menus]
    assert asked.count("Your classification?") == asked.count("Your urgency?") == 2
    assert asked.count("A specific pattern?") == 2
    assert all(start is None for _, _, start in student.menus)


def test_a_pass_is_never_right(ruleset):
    """Enter twice at a prompt passes: no answer, never right, and under-triage on an urgent case."""
    for path, case in p.load_exercise_cases([str(VIGNETTES)], True):
        student = Student(p.PASS, p.PASS, pattern=p.PASS)
        card = session(ruleset, [(path, case)], student)
        fb = card.results[0]
        assert not (fb.class_ok or fb.urgency_ok or fb.pattern_ok or fb.right), path
        if ruleset.manifest.tiers[fb.exercise.assessment.urgency].show_at_once:
            assert fb.under_triage and "SERIOUS: under-triaged" in student.verdicts[0][1][0], path


def test_did_not_matter_only_when_no_fired_rule_read_it(ruleset):
    """Leg symptoms on walking in vascular claudication, pregnancy in pelvic girdle pain: the rules
    that fired rest on them, so ticking them is never "did not matter"."""
    for name, fact in (("v08-vascular-claudication.yaml", "walking.leg_symptoms_on_walking"),
                       ("v35-pregnancy-pelvic-girdle.yaml", "obstetric.pregnant")):
        student = Student("non_specific", "soon", tick=lambda choices: [f for f, _ in choices])
        card = session(ruleset, one(name), student)
        fb = card.results[0]
        assert fact in {f for f, _ in student.offered[0]}
        assert fact not in {f.fact for f in fb.irrelevant}, name
        assert fact in {k.fact for k in fb.exercise.keys}, name  # and it is one that mattered
    # a feature no fired rule read is still called out
    student = Student("non_specific", "soon", tick=lambda choices: [f for f, _ in choices])
    fb = session(ruleset, one("v35-pregnancy-pelvic-girdle.yaml"), student).results[0]
    assert "onset.mode" in {f.fact for f in fb.irrelevant}


def test_patterns_are_answers(ruleset):
    offered = dict(p.patterns_offered(ruleset))
    assert list(offered)[0] == p.NO_PATTERN and {"inflammatory", "vascular", "pregnancy"} <= set(offered)
    wrong = session(ruleset, one("v08-vascular-claudication.yaml"), Student("non_specific", "soon"))
    right = session(ruleset, one("v08-vascular-claudication.yaml"), Student("non_specific", "soon",
                                                                           pattern="vascular"))
    assert not wrong.results[0].pattern_ok and right.results[0].pattern_ok
    lines = p.verdict_lines(right.results[0])
    assert "Pattern: [green]right[/green] - Vascular (claudication)." in lines
    assert any(line.startswith("[bold]Urgency set by:[/bold] Possible vascular claudication") for line in lines)
    plain = session(ruleset, one("v10-radicular-l5.yaml"), Student("radicular", "routine", pattern="vascular"))
    assert not plain.results[0].pattern_ok  # a pattern where there is none is wrong


def test_the_verdict_names_what_set_the_urgency_with_its_action(ruleset):
    fb = session(ruleset, one("v21-ces-acute-saddle.yaml"), Student("red_flag", "emergency")).results[0]
    verdict = " ".join(p.verdict_lines(fb))
    plan = p.urgency_plans(fb.exercise.assessment)[0]
    assert plan.name == "cauda_equina" and plan.action and plan.time_frame
    assert f"Urgency set by:[/bold] {plan.label} - {plan.time_frame}: {plan.action.rstrip('.')}" in verdict
    assert len(p.verdict_lines(fb)) <= 8  # the verdict first; the reasoning is the detail


def test_non_specific_feedback_says_why(ruleset):
    student = Student("non_specific", "routine")
    session(ruleset, one("v01-acute-lifting.yaml"), student)
    text = student.text()
    assert "How the rules reasoned:" not in text  # nothing fired: no empty heading
    why = text.split("Why non-specific:")[1]
    told, untold = why.split("Recorded as no in the case but not said in the vignette:")
    assert "Red flags screened negative (8 of 11)" in told and "Fever" in told and "History of cancer" in told
    assert "Sexual dysfunction" in untold and "Saddle numbness" in untold and "Fever" not in untold
    # excluded by the entry answer, never by the follow-up it settles ("Furthest extent: Back only")
    assert "Not radicular pain likely; excluded by Leg symptoms: No leg symptoms." in why
    assert "Furthest extent" not in why
    assert "Not stenosis likely" in why


def test_record_appends_one_json_line_per_attempt(ruleset, tmp_path):
    log = tmp_path / "attempts.jsonl"
    log.write_text('{"earlier": true}\n')
    with open(log, "a") as handle:
        session(ruleset, one("v24-cancer-history-no-neuro.yaml"), Student("red_flag", "urgent"), record=handle,
                student="Ada Lovelace")
    first, attempt = [json.loads(line) for line in log.read_text().splitlines()]
    assert first == {"earlier": True}  # appended, never overwritten
    assert attempt["case"] == "v24-cancer-history-no-neuro" and attempt["mode"] == "vignette"
    assert attempt["student"] == "Ada Lovelace" and attempt["red_flags_not_asked"] is None
    assert attempt["answer"]["classification"] == "red_flag" and attempt["correct"] == {
        "classification": True, "urgency": True, "pattern": True}
    assert attempt["answer"]["pattern"] == "none" and attempt["key"]["patterns"] == []
    assert attempt["key"]["urgency_set_by"] == ["red_flag.malignancy.cancer_history"]
    assert attempt["key"]["conditions"] == ["malignancy"] and attempt["seconds"] >= 0


def test_history_taking_reports_red_flag_questions_never_asked(ruleset):
    asked = ["pain.leg_side", "pain.leg_extent", "neuro.paraesthesia", "cauda_equina.saddle_numbness"]
    student = Student("radicular", "routine", questions=asked)
    record = io.StringIO()
    session(ruleset, one("v10-radicular-l5.yaml"), student, history_taking=True, record=record)
    text = student.text()
    assert "Which leg has symptoms (pain, pins and needles, numbness)? [bold]→ Left[/bold]" in text
    assert "Pins and needles in the leg or foot? [bold]→ yes[/bold]" in text
    assert "You asked 4 questions; red-flag screen: 1 of 11 asked." in text
    assert "SERIOUS: 10 red-flag questions never asked" in text
    never = text.split("Red-flag questions never asked")[1].split("How the rules reasoned")[0]
    assert "Difficulty passing urine" in never and "History of cancer" in never
    assert "Saddle numbness" not in never  # it was asked
    line = json.loads(record.getvalue())
    assert line["answer"]["questions"] == asked
    assert len(line["red_flags_not_asked"]) == 10 and "history.cancer" in line["red_flags_not_asked"]


def test_asking_nothing_never_earns_a_perfect_card(ruleset):
    student = Student("non_specific", "routine")
    record = io.StringIO()
    card = session(ruleset, one("v01-acute-lifting.yaml"), student, history_taking=True, record=record)
    text = student.text()
    assert "SERIOUS: 11 red-flag questions never asked" in text
    assert "You picked exactly the features that mattered." not in text
    assert card.lines()[0] == "[bold red]Red-flag questions never asked: 11 in 1 case[/bold red]"
    assert card.results[0].serious
    assert len(json.loads(record.getvalue())["red_flags_not_asked"]) == 11


def test_history_menus_are_short_enough_to_keep_the_answers_on_screen(ruleset):
    """A section first, then its questions: no menu near the 40 lines of a small terminal."""
    every = [q.id for q in QUESTIONNAIRE.questions if q.id not in ("id", "assessor", "patient.age", "patient.sex")]
    student = Student("radicular", "routine", questions=every)
    session(ruleset, one("v10-radicular-l5.yaml"), student, history_taking=True)
    menus = [choices for text, choices, _ in student.menus
             if text not in ("Your classification?", "Your urgency?", "A specific pattern?")]
    assert len(menus) == 2 * len(every) + 1
    assert max(len(choices) for choices in menus) <= 20  # fits 24 lines with its question; v7 (NG65) and #27 added questions
    assert sum(1 for title, _ in student.shown if title == "") == len(every)  # one line per answer


def test_features_offered_are_only_what_the_student_could_know(ruleset):
    for path, case in p.load_exercise_cases([str(VIGNETTES)], True):
        stated = p.stated_facts(case, path)
        exercise = p.make_exercise(case, path, ruleset, random.Random(0), stated)
        assert {o.fact for o in exercise.options} <= stated, path
    student = Student("radicular", "routine", questions=["pain.leg_side", "systemic.fever"])
    session(ruleset, one("v10-radicular-l5.yaml"), student, history_taking=True)
    offered = {fact for fact, _ in student.offered[0]}
    assert offered <= {"pain.leg_side", "systemic.fever", "patient.age", "patient.sex"}
    assert "Features that mattered and you never asked about:" in student.text()


def test_every_fact_the_rules_depend_on_is_stated_in_the_narrative(ruleset):
    """Each vignette lists where its narrative states each fact (checked against the text), and
    every fact that decided a rule that fired, and every red flag present, is among them."""
    for path, case in p.load_exercise_cases([str(VIGNETTES)], True):
        stated = p.stated_facts(case, path)
        assert stated is not None, f"{path}: no vignette_mentions"
        hidden = p.facts_the_rules_depend_on(ruleset.assess(case)) - stated
        assert not hidden, f"{path}: the rules depend on facts the narrative never gives: {sorted(hidden)}"


def test_a_mention_not_in_the_narrative_is_refused(tmp_path):
    text = (VIGNETTES / "v19-stenosis-with-radicular.yaml").read_text()
    bad = tmp_path / "v.yaml"
    bad.write_text(text.replace("onset.weeks_ago: For about seven months", "onset.weeks_ago: for 30 weeks"))
    with pytest.raises(p.InputError, match=r"v.yaml: vignette_mentions: onset.weeks_ago: 'for 30 weeks' is not in"):
        p.load_exercise_cases([str(bad)], True)


def test_case_text_is_shown_safely(ruleset):
    """Vignette text is neither rich markup nor terminal control sequences."""
    (path, case), = one("v10-radicular-l5.yaml")
    odd = case.model_copy(update={"vignette": "I'm 39. [/] [link=x]y \x1b]0;owned\x07", "vignette_mentions": None})
    student = Student("radicular", "routine")
    session(ruleset, [(path, odd)], student)
    narrative = student.shown[0][1][0]
    assert "\\[/]" in narrative and "\\[link=x]" in narrative and "\x1b" not in narrative
    assert "\\x1b]0;owned\\x07" in narrative


def test_a_follow_up_that_does_not_apply_says_so_once_its_gate_was_asked(ruleset):
    student = Student("non_specific", "routine", questions=["pain.leg_side", "pain.root_level", "systemic.fever"])
    session(ruleset, one("v01-acute-lifting.yaml"), student, history_taking=True)
    text = student.text()
    assert "Which root does the distribution suggest? [bold]→ Does not apply" in text
    assert "Fever, chills or rigors? [bold]→ no[/bold]" in text


def test_a_follow_up_asked_before_its_gate_names_the_gate_and_gives_nothing_away(ruleset):
    """"Was the only cancer a skin cancer?" before "Any history of cancer?" answered "Does not
    apply", which told the student the red-flag answer they had not asked for."""
    student = Student("non_specific", "routine", questions=["pain.root_level", "pain.leg_side", "pain.root_level"])
    session(ruleset, one("v01-acute-lifting.yaml"), student, history_taking=True)
    text = student.text()
    first = text.index("Which root does the distribution suggest?")
    reply = text[first:].split("[bold]→ ", 1)[1]
    assert reply.startswith("Ask first: Dermatomal"), reply
    # asked again once "no leg symptoms" rules its gate out: it does not apply
    assert "Which root does the distribution suggest? [bold]→ Does not apply" in text[first + 60:]


@pytest.mark.parametrize("vignette, gate_answer", [("v24-cancer-history-no-neuro.yaml", "yes"),
                                                   ("v01-acute-lifting.yaml", "no")])
def test_a_follow_up_before_its_gate_says_the_same_whatever_the_gate(ruleset, vignette, gate_answer):
    """The review found "Ask first" only where the gate was no: where it was yes the follow-up was
    answered, so asking it first still told the student the cancer history either way."""
    student = Student("red_flag", "urgent", questions=["history.cancer_skin_only", "history.cancer"])
    session(ruleset, one(vignette), student, history_taking=True)
    text = student.text()
    assert "Was the only cancer ever" in text
    reply = text[text.index("Was the only cancer ever"):].split("[bold]→ ", 1)[1]
    assert reply.startswith("Ask first: History of cancer (this question follows up on it)."), reply
    assert f"→ {gate_answer}" in text[text.index("Any history of cancer"):]


def test_topic_count_and_seed_choose_cases(ruleset):
    cases = p.load_exercise_cases([str(VIGNETTES)], need_vignette=True)
    red = p.choose_cases(cases, ruleset, 3, 5, "red_flag")
    assert len(red) == 3 and all(ruleset.assess(c).classification == "red_flag" for _, c in red)
    assert p.choose_cases(cases, ruleset, 3, 5, "red_flag") == red  # same seed, same cases


def test_practice_without_a_terminal_says_so(cli):
    run = cli("practice", "--count", "1", stdin=b"")
    assert run.code == 2 and "practice needs a terminal" in run.err


@pytest.mark.parametrize("history", [False, True])
def test_every_verdict_fits_an_80x24_screen(ruleset, history):
    """The verdict of every vignette, with every answer wrong or passed (the most it can say),
    fits 80x24 with the move-on line below it."""
    from rich.console import Console

    from lbp_assess.cli.prompts import TerminalPrompter

    console = Console(width=80, height=24, no_color=True)
    panel = TerminalPrompter(console).list_panel
    for path, case in p.load_exercise_cases([str(VIGNETTES)], True):
        exercise = p.make_exercise(case, path, ruleset, random.Random(1), p.stated_facts(case, path))
        fb = p.mark(exercise, p.Attempt(p.PASS, p.PASS, [o.fact for o in exercise.options],
                                        [] if history else None, 1.0, p.PASS))
        with console.capture() as captured:
            console.print(panel(f"Case 1 of 1: {case.id}", p.verdict_lines(fb)))
        lines = captured.get().splitlines()
        assert len(lines) <= 23 and all(len(line) <= 80 for line in lines), (path, len(lines))


def test_every_feature_offered_is_what_the_case_says(ruleset):
    """Review S8: each feature offered to tick, distractors included, states the case's own answer -
    for every vignette, with what the vignette states known, with every fact known, and with a
    history taken at random (--interview). A distractor is a "no" that no fired rule read."""
    from lbp_assess.engine.reasoning import read_by_fired_rules

    rng = random.Random(7)
    for path, case in p.load_exercise_cases([str(VIGNETTES)], True):
        a = ruleset.assess(case)
        asked = set(rng.sample(sorted(a.facts), len(a.facts) // 2))
        for known in (p.stated_facts(case, path), None, asked):
            exercise = p.make_exercise(case, path, ruleset, random.Random(1), known)
            keys = {k.fact for k in exercise.keys}
            for option in exercise.options:
                assert option.value == a.facts.get(option.fact), (path, option.text)
                assert known is None or option.fact in known, (path, option.text)
                if option.fact not in keys and option.value is False:
                    assert option.fact not in read_by_fired_rules(a), (path, option.text)


def test_two_rows_setting_the_urgency_are_listed_one_each_and_the_key_gives_the_soonest_frame(ruleset):
    """v25 raises cauda equina and MSCC at emergency: the key read "Emergency - now (within hours);
    now; MRI within 24 hours" and "Urgency set by" ran both actions together with semicolons of
    their own. The key gives the governing row's time frame; each row has its own line."""
    fb = session(ruleset, one("v25-cancer-with-leg-weakness.yaml"), Student("red_flag", "emergency")).results[0]
    lines = p.verdict_lines(fb)
    assert "Urgency: [green]right[/green] - Emergency - now (within hours)." in lines, lines
    at = lines.index("[bold]Urgency set by:[/bold]")
    rows = [line for line in lines[at + 1:] if line.startswith("  • ")]
    assert len(rows) == 2 and rows[0].startswith("  • Suspected cauda equina syndrome - now (within hours): ")
    assert rows[1].startswith("  • Possible metastatic spinal cord compression")
    assert any("features that mattered" in line for line in lines) and "feature(s)" not in " ".join(lines)


@pytest.mark.parametrize("records", ["missing", "not records", "a folder"])
def test_practise_again_from_a_bad_record_file_is_a_failure_not_nothing_to_do(cli, tmp_path, records):
    """`practice --again FILE` with a file that gives no usable record says why and exits 1: "Nothing
    to practise again" (exit 0) is kept for records with no mistake left."""
    path = tmp_path / "attempts.jsonl"
    if records == "not records":
        path.write_text('{"x": 1}\n')
    elif records == "a folder":
        path.mkdir()
    run = cli("practice", "--again", str(path))
    assert run.code in (1, 2) and "Nothing to practise again" not in run.out, (run.code, run.out, run.err)
    if records != "a folder":  # a folder is refused by the option parser (exit 2)
        assert run.code == 1 and f"{path}: nothing to practise again from it (1 problem above)" in run.err


def test_a_vignette_that_states_no_feature_skips_the_checklist(ruleset, tmp_path):
    """A vignette giving no fact the rules read offers nothing to tick: the step is left out and the
    case is marked (before: an empty checklist, and the terminal prompt ended with exit 70)."""
    path = tmp_path / "empty.yaml"
    path.write_text("format: lbp-case/1\nid: empty\nvignette: nothing known\n")
    student = Student("non_specific", "routine", tick=lambda choices: pytest.fail("nothing to tick"))
    card = session(ruleset, [(str(path), load_case(path))], student)
    assert student.offered == [] and len(student.verdicts) == 1
    assert card.lines()[0].startswith("Classification: ")
