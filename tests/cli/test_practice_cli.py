"""`practice --record` safety and `practice report` for tutors, through the real entry point."""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest

from helpers import EXAMPLES, RULES
from lbp_assess.engine.ruleset.load import load_rules

VERSION = load_rules(RULES).version
SCREENING = load_rules(RULES).manifest.screening

V10 = str(EXAMPLES / "vignettes" / "v10-radicular-l5.yaml")


def attempt(student, case, key_class, said_class, key_urgency="routine", mode="vignette", not_asked=None, **extra):
    """A record as practice writes it: the student said `said_class`, routine; its marks follow."""
    return json.dumps({
        "student": student, "case": case, "mode": mode,
        "answer": {"classification": said_class, "urgency": "routine", "features": [],
                   "questions": None if not_asked is None else [q for q in SCREENING if q not in not_asked]},
        "key": {"classification": key_class, "urgency": key_urgency, "conditions": []},
        "correct": {"classification": key_class == said_class, "urgency": key_urgency == "routine"},
        "missed_red_flag": key_class == "red_flag" and said_class != "red_flag",
        "under_triage": key_urgency in ("emergency", "urgent"),
        "red_flags_not_asked": not_asked, "rules_version": VERSION, "seconds": 12.5, **extra})


def records(tmp_path):
    one = tmp_path / "ada.jsonl"
    one.write_text("\n".join([
        attempt("Ada", "v10-radicular-l5", "radicular", "radicular"),
        attempt("Ada", "v21-ces-acute-saddle", "red_flag", "radicular", key_urgency="emergency"),
        attempt("Ada", "v01-acute-lifting", "non_specific", "non_specific", mode="history",
                not_asked=["history.cancer", "systemic.fever"]),
    ]) + "\n")
    two = tmp_path / "ben.jsonl"
    two.write_text(attempt("Ben", "v17-cook-four-of-five", "stenosis", "non_specific") + "\n\n" + attempt(None, "v01-acute-lifting", "non_specific",
                                                                                     "non_specific") + "\n")
    return [str(one), str(two)]


def test_report_json_summarises_each_student(cli, tmp_path):
    run = cli("practice", "report", *records(tmp_path), "--format", "json")
    assert run.code == 0, run.err
    ada, ben, nameless = json.loads(run.out)
    assert ada["student"] == "Ada" and ada["attempts"] == 3
    assert ada["classification"] == {"right": 2, "of": 3} and ada["urgency"] == {"right": 2, "of": 3}
    assert ada["by_class"]["red_flag"] == {"right": 0, "of": 1} and ada["red_flags_missed"] == 1
    assert ada["history_attempts"] == 1 and ada["red_flag_questions_not_asked"] == 2
    assert ben["by_class"] == {"stenosis": {"right": 0, "of": 1}} and ben["red_flag_questions_not_asked"] == 0
    assert nameless["student"] == "(no name)"


def test_report_csv_has_a_column_per_class(cli, tmp_path):
    run = cli("practice", "report", *records(tmp_path), "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(run.out)))
    assert [r["student"] for r in rows] == ["Ada", "Ben", "(no name)"]
    assert rows[0]["red_flag_right_of"] == "0/1" and rows[0]["radicular_right_of"] == "1/1"
    assert rows[0]["red_flag_questions_not_asked"] == "2" and rows[1]["stenosis_right_of"] == "0/1"


def test_report_table_names_classes_in_words(cli, tmp_path):
    run = cli("practice", "report", *records(tmp_path), "-f", "table")
    assert run.code == 0 and "Ada" in run.out and "Red flag" in run.out and "red_flag" not in run.out
    assert "Radicular pain" in run.out and "non_specific" not in run.out


def test_bad_records_are_named_and_the_report_goes_on(cli, tmp_path):
    """Not a record, another rules version, a line cut short, an unreadable file: each one located
    message on standard error, every good record still reported, exit 1."""
    bad = tmp_path / "bad.jsonl"
    other = json.loads(attempt("Ada", "v11-radicular-s1-weakness", "radicular", "radicular"))
    other["rules_version"] = "lbp-default 0.9.0 sha256:abc"
    bad.write_text("\n".join([
        attempt("Ada", "v10-radicular-l5", "radicular", "radicular"),
        '{"earlier": true}',
        json.dumps(other),
        "not json at all",
        attempt("Ben", "v21-ces-acute-saddle", "red_flag", "non_specific", key_urgency="emergency"),
        attempt("Cy", "v01-acute-lifting", "non_specific", "non_specific")[:60],  # the file ends part-way through
    ]))
    for view in ("students", "attempts", "cases"):
        run = cli("practice", "report", str(bad), str(tmp_path / "nope.jsonl"), "--view", view, "-f", "json")
        assert run.code == 1, run.err
        errors = run.err.strip().splitlines()
        assert len(errors) == 5 and all(e.startswith("lbp-assess: ") for e in errors)
        assert f"{bad}:2: not a practice record" in errors[0]
        assert f"{bad}:3: written under other rules (lbp-default 0.9.0 sha256:abc)" in errors[1]
        assert f"{bad}:4: JSON syntax error" in errors[2]
        assert f"{bad}:6: truncated record" in errors[3]
        assert "nope.jsonl: no such file" in errors[4]
        data = json.loads(run.out)
        assert len(data) == 2  # Ada's v10 and Ben's v21: two students, two attempts, two cases


def test_attempts_view_lists_each_attempt_with_under_triage_marked(cli, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join([
        attempt("Ada", "v21-ces-acute-saddle", "red_flag", "radicular", key_urgency="emergency"),
        attempt("Ada", "v01-acute-lifting", "non_specific", "non_specific", mode="history",
                not_asked=["history.cancer", "systemic.fever"]),
    ]) + "\n")
    data = json.loads(cli("practice", "report", str(path), "--view", "attempts", "-f", "json").out)
    first, second = data
    assert first["student"] == "Ada" and first["case"] == "v21-ces-acute-saddle" and first["under_triage"] is True
    assert first["answer"] == "Radicular pain, routine" and first["key"] == "Red flag, emergency"
    assert second["red_flags_not_asked"] == ["history.cancer", "systemic.fever"] and second["seconds"] == 12.5
    rows = list(csv.DictReader(io.StringIO(cli("practice", "report", str(path), "--view", "attempts",
                                               "-f", "csv").out)))
    assert rows[0]["under_triage"] == "yes" and rows[1]["red_flags_not_asked"] == "history.cancer; systemic.fever"
    table = cli("practice", "report", str(path), "--view", "attempts", "-f", "table").out
    words = " ".join(table.split())
    assert "UNDER-TRIAGED" in table and "! " in table and "2:" in words
    assert all(question in words for question in ("History", "of", "cancer,", "Fever"))


def test_cases_view_shows_which_vignettes_are_got_wrong(cli, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join([
        attempt("Ada", "v17-cook-four-of-five", "stenosis", "non_specific"),
        attempt("Ben", "v17-cook-four-of-five", "stenosis", "stenosis"),
        attempt("Ben", "v21-ces-acute-saddle", "red_flag", "radicular", key_urgency="emergency"),
        attempt("Cy", "v10-radicular-l5", "radicular", "radicular"),
    ]) + "\n")
    data = json.loads(cli("practice", "report", str(path), "--view", "cases", "-f", "json").out)
    assert [row["case"] for row in data] == ["v21-ces-acute-saddle", "v17-cook-four-of-five", "v10-radicular-l5"]  # under-triage first, then most often wrong
    v21, v17, v10 = data
    assert v21["under_triaged"] == 1 and v21["wrong_by"] == ["Ben"]
    assert v17["attempts"] == 2 and v17["all_right"] == 1 and v17["wrong_by"] == ["Ada"]
    assert v17["most_common_wrong_answer"] == "Non-specific low back pain, routine" and v10["wrong_by"] == []
    rows = list(csv.DictReader(io.StringIO(cli("practice", "report", str(path), "--view", "cases", "-f", "csv").out)))
    assert rows[0]["case"] == "v21-ces-acute-saddle" and rows[0]["under_triaged"] == "1"
    table = cli("practice", "report", str(path), "--view", "cases", "-f", "table").out
    assert "UNDER-TRIAGED" in table and "1 !" in table


def test_under_triage_stands_out_in_the_students_view(cli, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(attempt("Ben", "v21-ces-acute-saddle", "red_flag", "radicular", key_urgency="emergency") + "\n")
    table = cli("practice", "report", str(path), "-f", "table").out
    assert "UNDER-" in table and "TRIAGED" in table and "1 !" in table
    assert json.loads(cli("practice", "report", str(path), "-f", "json").out)[0]["under_triaged"] == 1


def test_markup_in_a_record_is_shown_as_typed(cli, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(attempt("[link=http://x]Ada[/link]", "v10-radicular-l5", "radicular", "radicular") + "\n")
    for view in ("students", "attempts"):
        out = cli("practice", "report", str(path), "--view", view, "-f", "table").out
        assert "[link=http://x]Ada[/link]" in out, view
    out = cli("practice", "report", str(path), "--view", "cases", "-f", "table").out
    assert "Ada" not in out  # the case was answered right: no one to name


def test_record_is_created_private_whatever_the_umask(cli, tmp_path):
    log = tmp_path / "attempts.jsonl"
    old = os.umask(0o000)
    try:
        run = cli("practice", V10, "--record", str(log), "--student", "Ada", stdin=b"")
    finally:
        os.umask(old)
    assert run.code == 2 and "needs a terminal" in run.err  # the file is opened first, then the terminal asked for
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_record_never_follows_a_symbolic_link(cli, tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep\n")
    link = tmp_path / "attempts.jsonl"
    link.symlink_to(target)
    run = cli("practice", V10, "--record", str(link), stdin=b"")
    assert run.code == 1 and "is a symbolic link" in run.err and run.err.strip().count("\n") == 0
    assert target.read_text() == "keep\n"
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(tmp_path / "not-there.txt")
    assert cli("practice", V10, "--record", str(dangling), stdin=b"").code == 1
    assert not (tmp_path / "not-there.txt").exists()


def test_a_bad_record_path_is_one_line_exit_1(cli, tmp_path):
    for path in (tmp_path / "no-such-dir" / "a.jsonl", tmp_path):
        run = cli("practice", V10, "--record", str(path), stdin=b"")
        assert run.code == 1, run.err
        assert run.err.startswith("lbp-assess: --record") and run.err.strip().count("\n") == 0
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    run = cli("practice", V10, "--record", str(fifo), stdin=b"")
    assert run.code == 1 and "pipe" in run.err


def test_practice_stays_one_command_with_report_beside_it(cli):
    bare = cli("practice", stdin=b"")
    assert bare.code == 2 and "practice needs a terminal" in bare.err  # a session, not a group's usage
    helped = cli("practice", "--help")
    assert helped.code == 0 and "--student" in helped.out and "practice report FILE" in helped.out
    assert "--format" in cli("practice", "report", "--help").out


def test_report_csv_shows_a_formula_like_name_as_text(cli, tmp_path):
    path = tmp_path / "evil.jsonl"
    path.write_text(attempt("=HYPERLINK(\"http://x\")", "v10-radicular-l5", "radicular", "radicular") + "\n")
    rows = list(csv.DictReader(io.StringIO(cli("practice", "report", str(path), "-f", "csv").out)))
    assert rows[0]["student"] == "'=HYPERLINK(\"http://x\")"


@pytest.mark.parametrize("change, field", [
    ({"correct": {"classification": True, "urgency": True}}, "correct.classification is true"),
    ({"correct": {"classification": False, "urgency": True}}, "correct.urgency is true"),
    ({"missed_red_flag": False}, "missed_red_flag is false"),
    ({"under_triage": False}, "under_triage is false"),
    ({"under_triage": None}, "under_triage is null"),
    ({"missed_red_flag": None}, "missed_red_flag is null"),
])
def test_a_record_whose_marks_do_not_follow_from_its_answer_is_refused(cli, tmp_path, change, field):
    """A tutor reads the marks: a record edited to say a missed emergency was right (and not
    under-triaged) is refused, located, and not counted; before, it was reported as right."""
    record = json.loads(attempt("Ben", "v21-ces-acute-saddle", "red_flag", "radicular", key_urgency="emergency"))
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({**record, **change}) + "\n" + attempt("Ada", "v10-radicular-l5", "radicular", "radicular") + "\n")
    run = cli("practice", "report", str(path), "--view", "attempts", "-f", "json")
    assert run.code == 1
    assert f"a.jsonl:1: not a practice record: {field}, but the answer ('radicular', 'routine') and the key " \
           "('red_flag', 'emergency') make it" in run.err
    assert [row["student"] for row in json.loads(run.out)] == ["Ada"]


@pytest.mark.parametrize("view", ["students", "attempts", "cases"])
@pytest.mark.parametrize("columns", ["1", "3"])
def test_a_terminal_a_few_columns_wide_gets_the_report_not_an_internal_error(cli, tmp_path, monkeypatch, view,
                                                                            columns):
    """A terminal (or COLUMNS) narrower than any table: drawn MIN_WIDTH wide for the terminal to wrap,
    exit 0 - rich alone fails there ("Sum of ratios must be > 0"), which was exit 70."""
    from lbp_assess.cli.screen import MIN_WIDTH

    monkeypatch.setenv("COLUMNS", columns)
    run = cli("practice", "report", *records(tmp_path), "-f", "table", "--view", view)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert len(lines) > 5 and max(map(len, lines)) == MIN_WIDTH


def test_a_record_whose_key_was_edited_to_match_the_answer_is_refused(cli, tmp_path):
    """A student who under-triaged the cauda equina vignette and then edited the record's key to
    their own answer (so that every mark follows from answer and key): the report checks the key
    against what the rules make the vignette, names the line, leaves it out and exits 1. A record
    of a case that is not among the vignettes cannot be checked, and is left out the same way;
    `--vignettes` adds the tutor's own to the shipped ones, and a vignette of theirs that shares an
    id with a shipped one makes either key right, never an honest record "changed"."""
    honest = attempt("Ben", "v21-ces-acute-saddle", "red_flag", "non_specific", key_urgency="emergency")
    edited = attempt("Ben", "v21-ces-acute-saddle", "non_specific", "non_specific")
    unknown = attempt("Cy", "v99-not-a-vignette", "radicular", "radicular")
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join([honest, edited, unknown]) + "\n")
    run = cli("practice", "report", str(path), "--view", "attempts", "-f", "json")
    assert run.code == 1
    assert [(row["student"], row["under_triage"]) for row in json.loads(run.out)] == [("Ben", True)]
    errors = run.err.strip().splitlines()
    assert errors == [
        f"lbp-assess: {path}:2: key.classification is 'non_specific', but these rules make vignette "
        "'v21-ces-acute-saddle' 'red_flag': the record, or the vignette, was changed after it was written; left out",
        f"lbp-assess: {path}:3: case 'v99-not-a-vignette' is not one of the vignettes its key is checked against "
        "(add the vignettes practised with --vignettes PATH); left out"]
    # The tutor's own vignettes: a copy of v10 under the unknown id makes that record checkable (and right),
    # and the shipped ones are still read.
    mine = tmp_path / "mine"
    mine.mkdir()
    text = (EXAMPLES / "vignettes" / "v10-radicular-l5.yaml").read_text()
    (mine / "v99.yaml").write_text(text.replace("id: v10-radicular-l5", "id: v99-not-a-vignette"))
    run = cli("practice", "report", str(path), "--vignettes", str(mine), "--view", "attempts", "-f", "json")
    assert [row["student"] for row in json.loads(run.out)] == ["Ben", "Cy"] and run.code == 1
    assert run.err.count("left out") == 1 and f"{path}:2: key.classification" in run.err
    # Their v21 is a radicular case: a record of it (radicular) and of the shipped v21 (red flag) both stand.
    (mine / "v21.yaml").write_text(text.replace("id: v10-radicular-l5", "id: v21-ces-acute-saddle"))
    theirs = attempt("Di", "v21-ces-acute-saddle", "radicular", "radicular")
    path.write_text("\n".join([honest, theirs]) + "\n")
    run = cli("practice", "report", str(path), "--vignettes", str(mine), "--view", "attempts", "-f", "json")
    assert run.code == 0 and [row["student"] for row in json.loads(run.out)] == ["Ben", "Di"], run.err


@pytest.mark.parametrize("patterns", [[1, "vascular"], "vascular", ["vascular"], [None]])
def test_a_record_whose_key_patterns_are_not_its_vignettes_is_refused(cli, tmp_path, patterns):
    """The key's patterns are checked too, whatever they hold (a number, a text instead of a list):
    named and left out, never an internal error. v10 raises no pattern."""
    record = json.loads(attempt("Ada", "v10-radicular-l5", "radicular", "radicular"))
    record["key"]["patterns"] = patterns
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(record) + "\n" + attempt("Ben", "v10-radicular-l5", "radicular", "radicular") + "\n")
    run = cli("practice", "report", str(path), "--view", "attempts", "-f", "json")
    assert run.code == 1 and [row["student"] for row in json.loads(run.out)] == ["Ben"]
    assert f"{path}:1: key.patterns is " in run.err and "but these rules make vignette 'v10-radicular-l5' []" in run.err


def test_a_record_whose_red_flag_questions_not_asked_were_emptied_is_refused(cli, tmp_path):
    """History taking: the red-flag questions not asked follow from the questions asked. A record
    edited to list none (hiding from the tutor that the student never screened for cauda equina)
    is named and left out; the honest record counts them."""
    asked = ["pain.leg_side", "history.cancer"]
    honest = json.loads(attempt("Ada", "v01-acute-lifting", "non_specific", "non_specific", mode="history",
                                not_asked=[q for q in SCREENING if q not in asked]))
    assert honest["answer"]["questions"] == ["history.cancer"]  # the screening questions it asked
    emptied = {**honest, "red_flags_not_asked": []}
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(honest) + "\n" + json.dumps(emptied) + "\n")
    run = cli("practice", "report", str(path), "-f", "json")
    assert run.code == 1
    assert json.loads(run.out)[0]["red_flag_questions_not_asked"] == len(SCREENING) - 1
    assert f"{path}:2: not a practice record: red_flags_not_asked is [], but the questions asked " \
           "(answer.questions) make it " in run.err


def test_a_record_of_other_rules_is_said_to_be_of_other_rules_not_changed(cli, tmp_path):
    """Marks are checked as these rules make them, so a record written under another rules version
    (whose screening questions may differ) is left out as of other rules, never called edited."""
    record = json.loads(attempt("Ada", "v01-acute-lifting", "non_specific", "non_specific", mode="history",
                                not_asked=list(SCREENING[1:])))
    record["rules_version"] = "lbp-default 1.0.0 sha256:94d5dcddcbc6"
    record["red_flags_not_asked"] = record["red_flags_not_asked"][1:]  # that version asked one question fewer
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(record) + "\n")
    run = cli("practice", "report", str(path), "-f", "json")
    assert run.code == 1 and run.err.strip() == (
        f"lbp-assess: {path}:1: written under other rules (lbp-default 1.0.0 sha256:94d5dcddcbc6), not "
        "lbp-default 2.0.0: left out (report it with --rules of that version)"), run.err
