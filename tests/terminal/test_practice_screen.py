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
    assert lines[1].startswith("│ SERIOUS: under-triaged - emergency, now (within hours) - you said routine.")
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
    term.send("1")  # the first section
    lines = term.wait_for("<- Other sections")
    menu = [line for line in lines if line.strip() and not line.startswith(("╭", "│", "╰"))]
    assert all(len(line) < 80 for line in menu)  # short labels, nothing cut at the edge
    term.send("2")  # its second question: which leg
    text = " ".join(term.wait_for("→ Left"))
    assert "Which leg has symptoms (pain, pins and needles, numbness)?" in " ".join(text.split())
    term.send("\x03")
    term.finish()


def test_again_serves_the_latest_mistakes_first(tmp_path):
    from lbp_assess.engine.ruleset.load import load_rules

    from helpers import RULES

    version = load_rules(RULES).version

    def line(case, at, right, under=False):  # a record as practice writes it: its marks follow from the answer
        said = ("red_flag" if right else "non_specific", "routine" if under else "emergency")
        return json.dumps({"at": at, "student": "Ada", "case": case, "mode": "vignette",
                           "answer": {"classification": said[0], "urgency": said[1]},
                           "key": {"classification": "red_flag", "urgency": "emergency"},
                           "correct": {"classification": right, "urgency": not under, "pattern": True},
                           "under_triage": under, "missed_red_flag": not right, "rules_version": version})

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


def test_history_taking_menus_start_on_nothing_and_digits_choose(tmp_path):
    """#24 S1: with --interview nothing is preselected (no pointer, Enter alone does nothing) and a
    digit chooses at once, in the section menu and in the question menu."""
    term = Terminal(["practice", str(VIGNETTES / "v10-radicular-l5.yaml"), "--interview"], str(tmp_path))
    lines = term.wait_for("Ask about (0 asked):")
    assert not any("»" in line for line in lines), "\n".join(lines)
    assert "0 done" in " ".join(lines)
    term.send(ENTER)  # nothing pointed at: Enter does nothing
    lines = term.wait_for("Ask about (0 asked):")
    assert not any("<- Other sections" in line for line in lines)
    term.send("1")  # the first section
    lines = term.wait_for("<- Other sections")
    assert not any("»" in line for line in lines), "\n".join(lines)
    term.send(ENTER)
    term.send("2")  # its second question: which leg
    term.wait_for("→ Left")
    term.send("0")  # done: make the call
    term.wait_for("Your classification?")
    term.send("\x03")
    term.finish()


def _verdict_for(tmp_path, vignette: str, keys: str) -> str:
    term = Terminal(["practice", str(VIGNETTES / vignette)], str(tmp_path))
    for prompt, key in zip(("Your classification?", "Your urgency?", "A specific pattern?"), keys):
        term.wait_for(prompt)
        term.send(key)
    term.wait_for("Which features did you rely on?")
    term.send(ENTER)
    lines = term.wait_for("Enter see the scorecard")
    term.send("q")
    term.finish()
    return " ".join(" ".join(line.strip("│ ") for line in lines).split())


def test_naming_the_fracture_that_set_the_urgency_as_the_pattern_is_right(tmp_path):
    """#24 B1/B2: an urgent fracture (osteoporosis, minor fall): "Possible fragility fracture" names
    the condition that set the urgency, so the pattern is right; the urgency shows the fracture
    row's own time frame (GP within 1 week), not the tier's "within 24 hours to 1 week"."""
    text = _verdict_for(tmp_path, "v26-osteoporotic-minor-fall.yaml", "125")  # red flag, urgent, fragility
    assert "Pattern: right - Possible fragility fracture - Possible vertebral fracture was raised" in text, text
    assert "Urgency: right - Urgent - GP within 1 week" in text, text
    assert "24 hours to 1 week" not in text, text


def test_the_aneurysm_alert_verdict_shows_its_own_time_frame(tmp_path):
    """#24 B2: the soon aneurysm alert says "GP within 1 week" everywhere in the verdict, never the
    tier's "within 2 to 6 weeks"."""
    text = _verdict_for(tmp_path, "v46-flank-pain-smoker-at-64.yaml", "436")  # non-specific, soon, aneurysm
    assert "Urgency: right - Soon - GP within 1 week" in text and "Pattern: right - Aortic aneurysm risk" in text, text
    assert "2 to 6 weeks" not in text, text


def _verdict_and_detail(tmp_path, vignette: str, keys: str) -> tuple[str, str]:
    """The verdict screen and every page of its detail, each as one line of text."""
    term = Terminal(["practice", str(VIGNETTES / vignette)], str(tmp_path))
    for prompt, key in zip(("Your classification?", "Your urgency?", "A specific pattern?"), keys):
        term.wait_for(prompt)
        term.send(key)
    term.wait_for("Which features did you rely on?")
    term.send(ENTER)
    verdict = term.wait_for("Enter see the scorecard")
    term.send("d")
    pages = term.wait_for("Page 1 of")
    total = int(re.search(r"Page 1 of (\d+)", "\n".join(pages))[1])
    for number in range(2, total + 1):
        term.send(ENTER)
        pages += term.wait_for(f"Page {number} of")
    term.send(ENTER)
    term.wait_for("Enter see the scorecard")
    term.send("q")
    term.finish()
    flat = lambda lines: " ".join(" ".join(line.strip("│ ") for line in lines).split())  # noqa: E731
    return flat(verdict), flat(pages)


def test_no_leg_symptoms_excludes_radicular_pain_in_the_detail(tmp_path):
    """#24 S2: v47 has no leg symptoms: how far down the leg, dermatomal and the rest are never
    asked, so radicular pain is excluded by that answer, not "could not be excluded"."""
    _, detail = _verdict_and_detail(tmp_path, "v47-inflammatory-three-ng65-criteria.yaml", "432")
    assert "Not radicular pain likely; excluded by Leg symptoms: No leg symptoms." in detail, detail
    assert "could not be excluded" not in detail, detail


def test_the_verdict_counts_the_features_the_detail_shows(tmp_path):
    """#24 S3: v18 (3 of 5 Cook items, pain above the knee): the verdict's feature count and the
    detail's list come from the same rules - no "no feature decided this case" over a detail that
    shows the walking and thigh features deciding it."""
    verdict, detail = _verdict_and_detail(tmp_path, "v18-cook-three-of-five.yaml", "441")
    assert "Features: you ticked 0 of the 4 features that mattered" in verdict, verdict
    assert "no feature you could know decided this case" not in verdict.lower()
    assert "Features that mattered and you did not tick:" in detail
    for feature in ("Leg symptoms: Right", "Furthest extent: Thigh (above the knee)", "Leg symptoms on walking: yes",
                    "Relief sitting or bending: yes"):
        assert f"• {feature}" in detail, detail
    assert "You picked exactly the features that mattered" not in detail


LONG_IDS = ["v47-inflammatory-three-ng65-criteria", "v42-sudden-pain-lifting-woman-65",
            "v22-ces-over-two-weeks-stable", "v18-cook-three-of-five"]


def _records(tmp_path, first_student="Ada Lovelace-Byron"):
    """Attempts by two students on vignettes with long ids, some with red-flag questions not asked."""
    import random

    from lbp_assess.engine.ruleset.load import load_rules
    from lbp_assess.inputs.cases import load_case
    from lbp_assess.teach import practice as p

    from helpers import RULES

    ruleset = load_rules(RULES)
    record = tmp_path / "class.jsonl"
    with record.open("w") as out:
        for number, name in enumerate(LONG_IDS):
            case = load_case(VIGNETTES / f"{name}.yaml")
            exercise = p.make_exercise(case, name, ruleset, random.Random(1), p.stated_facts(case, name))
            asked = list(ruleset.manifest.screening)[:4] if number % 2 else None
            for student, attempt in ((first_student, p.Attempt("non_specific", "routine", [], asked, 33, "none")),
                                     ("Bo", p.Attempt("red_flag", "urgent", [], None, 12, "none"))):
                out.write(p.record_line(p.mark(exercise, attempt), "vignette", student) + "\n")
    return record


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("view", ["attempts", "cases", "students"])
def test_the_report_never_wraps_an_id_at_80_and_100_columns(tmp_path, view, columns):
    """#24 S4: in every view of `practice report`, each case id and each student name stands whole
    on one line (the other columns fold), and nothing is cut at the right edge."""
    record = _records(tmp_path)
    term = Terminal(["practice", "report", "--view", view, str(record)], str(tmp_path), rows=80, columns=columns)
    assert term.finish() == 0
    lines = term.lines()
    text = "\n".join(lines)
    ids = [] if view == "students" else LONG_IDS
    for name in [*ids, "Lovelace-Byron"]:
        assert any(name in line for line in lines), f"{name} split:\n{text}"
    if view == "attempts":
        assert "33" in text and "12" in text  # the seconds, the last column, are on screen
    if view == "students":
        assert "(cases)" in text  # the last heading is on screen
    assert all(len(line) <= columns for line in lines)


@pytest.mark.parametrize("view", ["attempts", "cases", "students"])
def test_a_student_name_too_long_for_80_columns_wraps_and_nothing_is_cut(tmp_path, view):
    """A 43-character name cannot stand whole beside the other columns at 80: every view wraps it
    (between its words) rather than cutting it, or any column, at the right edge."""
    name = "Maximilian Alexander Fitzgerald-Worthington"
    record = _records(tmp_path, first_student=name)
    term = Terminal(["practice", "report", "--view", view, str(record)], str(tmp_path), rows=120, columns=80)
    assert term.finish() == 0
    lines = term.lines()
    text = "\n".join(lines)
    assert all(len(line) <= 80 for line in lines), text
    for word in ("Maximilian", "Alexander", "Fitzgerald-Worthing"):  # the last may fold, never be cut
        assert word in text, text
    if view != "students":
        for case in LONG_IDS:
            assert any(case in line for line in lines), f"{case} split:\n{text}"
    heading = {"students": "(cases)", "cases": "wrong by", "attempts": "sec"}[view]
    assert heading in text, text  # the last column is on screen


@pytest.mark.parametrize("columns", [80, 100])
def test_explain_lists_two_answer_changes_apart_from_one_answer_changes(tmp_path, columns):
    """#24 S5: "Weakness: yes" with "Weakness in both legs: yes" is two answers: it is listed under
    its own heading, never among the changes of one answer."""
    case = str(EXAMPLES / "cases" / "radicular-l5.yaml")
    term = Terminal(["explain", case], str(tmp_path), rows=80, columns=columns)
    assert term.finish() == 0
    lines = term.lines()
    one = next(i for i, line in enumerate(lines) if line.startswith("What would change it (one answer different"))
    two = next(i for i, line in enumerate(lines) if line.startswith("Two answers different"))
    assert one < two
    single = " ".join(" ".join(lines[one:two]).split())
    paired = " ".join(" ".join(lines[two:]).split())
    assert "Weakness in both legs" not in single and "; " not in single.split(")", 1)[1], single
    assert "if Weakness: yes, with Weakness in both legs: yes → Red flag, emergency" in paired, paired
    assert "if Weakness: yes → Radicular, soon" in single  # weakness alone is one answer


@pytest.mark.parametrize("vignette", ["v26-osteoporotic-minor-fall.yaml", "v47-inflammatory-three-ng65-criteria.yaml"])
def test_the_features_to_tick_never_state_what_the_case_contradicts(tmp_path, vignette):
    """Review S8: the "Which features did you rely on?" list shows each feature as the case states
    it: v26 (bladder fine, no fever) never offers "Difficulty passing urine: yes" or "Fever: yes",
    v47 (no cancer, no family history) never "History of cancer: yes"."""
    from lbp_assess.engine.ruleset.load import load_rules
    from lbp_assess.inputs.cases import load_case
    from lbp_assess.teach.practice import finding

    from helpers import RULES

    ruleset = load_rules(RULES)
    path = VIGNETTES / vignette
    facts = ruleset.assess(load_case(path)).facts
    term = Terminal(["practice", str(path)], str(tmp_path), 40, 100)
    for prompt, key in zip(("Your classification?", "Your urgency?", "A specific pattern?"), "111"):
        term.wait_for(prompt)
        term.send(key)
    lines = term.wait_for("Which features did you rely on?")
    shown = {line.strip(" ○●◯◉»❯>").strip() for line in lines}
    term.send("\x03")
    term.finish()
    truths = {finding(fact, value, ruleset).text for fact, value in facts.items()}
    for label in ("Difficulty passing urine", "Fever", "History of cancer", "Family history of spondyloarthritis"):
        for text in (f"{label}: yes", f"{label}: no"):
            if text in shown:
                assert text in truths, (text, "\n".join(lines))
    offered = [line for line in shown if ": " in line and not line.startswith(("Which", "›"))]
    assert len(offered) >= 6, "\n".join(lines)
    assert all(line in truths for line in offered), [line for line in offered if line not in truths]


def test_the_report_titles_and_legend_read_whole_at_80_columns(tmp_path):
    """The per-class table's title wrapped to "by the case's / class", and a ✘ beside a right
    answer (red-flag questions not asked) had no legend; the seconds column was headed "s"."""
    record = _records(tmp_path)
    term = Terminal(["practice", "report", str(record)], str(tmp_path), rows=80, columns=80)
    assert term.finish() == 0
    assert any(line.strip() == "Classification right, by the case's class" for line in term.lines()), term.lines()
    term = Terminal(["practice", "report", "--view", "attempts", str(record)], str(tmp_path), rows=80, columns=80)
    assert term.finish() == 0
    lines = [line.strip() for line in term.lines()]
    assert "✔ right · ✘ wrong, or red-flag questions not asked · sec: seconds" in lines, lines
    assert any(line.endswith("sec") for line in lines)


def test_a_vignette_id_with_markup_is_shown_as_written_in_the_verdict(tmp_path):
    """The verdict panel's title names the case: a vignette id holding rich markup (a live link, a
    blink) is shown as written, never drawn as a hyperlink or a style, in the verdict and its detail."""
    hostile = "v21[link=http://evil.example/]CLICK[/link][blink]B[/blink]"
    vignette = tmp_path / "v.yaml"
    vignette.write_text(open(CES, encoding="utf-8").read().replace("id: v21-ces-acute-saddle", f'id: "{hostile}"'))
    term = Terminal(["practice", str(vignette)], str(tmp_path), 24, 100)
    for prompt, key in (("Your classification?", "4"), ("Your urgency?", "4"), ("A specific pattern?", "1")):
        term.wait_for(prompt)
        term.send(key)
    term.wait_for("Which features did you rely on?")
    term.send(ENTER)
    lines = term.wait_for("Enter see the scorecard")
    assert lines[0].startswith(f"╭─ Case 1 of 1: {hostile}"), lines[0]
    raw = "".join(term.transcript)
    assert "\x1b]8;" not in raw and "\x1b[5" not in raw  # no hyperlink, no blink reached the terminal
    term.send("d")
    assert any(f"Case 1 of 1: {hostile}: detail" in line for line in term.wait_for("Page 1 of"))
    term.send("q")
    term.wait_for("Enter see the scorecard")
    term.send(ENTER)
    term.wait_for("Scorecard")
    assert term.finish() == 0
