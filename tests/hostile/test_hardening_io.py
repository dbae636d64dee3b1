"""Issue 21, items 1 and 2: one reader for every input, one writer for every output.

Whatever a command reads - case files, the previous visit, practice records, rule files -
a FIFO, a device or a folder is refused before anything is read (never a hang); text is
strict UTF-8 with located errors; JSON refuses a key given twice, NaN and lone surrogates.
Whatever a command writes is refused when its last component is a symbolic link or not
a regular file, even with --force, and appears whole or not at all.

Commands that could hang run in a subprocess with a timeout, so a regression fails the
test instead of stopping the run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import EXAMPLES, RULES

FOLLOW_UP = EXAMPLES / "follow-up" / "improving-radicular"
FIRST, SECOND = FOLLOW_UP / "fu-radicular.case.yaml", FOLLOW_UP / "fu-radicular-2026-12-05.case.yaml"
RADICULAR = EXAMPLES / "cases" / "radicular-l5.yaml"


def lbp(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lbp_assess", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, cwd=cwd)


def one_line(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and run.stderr.strip().count("\n") == 0, run.stderr
    return run.stderr.strip()


# --------------------------------------------------------------------------- reading: no hang on a FIFO


def test_score_of_an_endless_stream_without_line_breaks_stops_with_an_error():
    """`score - < /dev/zero` is binary and `yes | tr -d '\\n'` never ends a line: each stops with a
    located one-line error within seconds, instead of waiting for a line end that never comes."""
    with open("/dev/zero", "rb") as zeros:
        run = subprocess.run([sys.executable, "-m", "lbp_assess", "score", "-", "-f", "jsonl"], stdin=zeros,
                             capture_output=True, text=True, timeout=60)
    assert one_line(run) == "lbp-assess: <stdin>:1: binary data (a NUL byte), not JSON Lines; stopped reading"
    endless = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: sys.stdout.buffer.write(b'x' * 65536)"],
                               stdout=subprocess.PIPE)
    try:
        run = subprocess.run([sys.executable, "-m", "lbp_assess", "score", "-", "-f", "jsonl"], stdin=endless.stdout,
                             capture_output=True, text=True, timeout=120)
    finally:
        endless.kill()
        endless.wait()
    assert "<stdin>:1: no line break in 64,000,000 bytes, not JSON Lines; stopped reading" in one_line(run)


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "visit.case.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [
    lambda f: ("compare", str(FIRST), str(f)),
    lambda f: ("compare", str(f), str(SECOND)),
    lambda f: ("compare", "--series", str(f), str(SECOND), "-f", "json"),
    lambda f: ("note", str(SECOND), "--previous", str(f)),
    lambda f: ("assess", "--follow-up", str(f), "--answers", str(SECOND), "--out", str(f.parent / "out")),
    lambda f: ("practice", "report", str(f)),
    lambda f: ("score", str(f), "-f", "jsonl"),
    lambda f: ("export", str(f)),
], ids=["compare-new", "compare-old", "series", "note-previous", "assess-follow-up", "practice-report", "score",
        "export"])
def test_a_fifo_is_refused_before_reading_never_waited_on(fifo, command):
    run = lbp(*command(fifo), timeout=30)
    if command(fifo)[0] == "score":  # a batch goes on: the FIFO is an error row
        assert run.returncode == 1 and "is a device, pipe or socket" in run.stdout
        return
    assert "visit.case.yaml: is a device, pipe or socket, expected a regular file" in one_line(run)


def test_a_series_folder_holding_a_fifo_is_not_waited_on(tmp_path):
    """Named at once, not read (a visit the series cannot read is never left out in silence)."""
    shutil.copy(FIRST, tmp_path)
    os.mkfifo(tmp_path / "late.case.yaml")
    run = lbp("compare", "--series", str(tmp_path), "-f", "json", timeout=30)
    assert run.returncode == 1 and [row["id"] for row in json.loads(run.stdout)] == ["fu-radicular"]
    assert run.stderr.strip().splitlines()[-1] == (f"lbp-assess: {tmp_path / 'late.case.yaml'}: is a device, pipe or "
                                                   "socket, expected a regular file; not in the series")


def test_a_rule_file_that_is_a_fifo_is_refused(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "red_flags.yaml").unlink()
    os.mkfifo(rules / "red_flags.yaml")
    run = lbp("rules", "check", str(rules), timeout=30)
    assert run.returncode == 1 and "red_flags.yaml" in run.stdout + run.stderr
    assert "device, pipe or socket" in run.stdout + run.stderr


def test_a_directory_and_a_device_are_refused_as_inputs(tmp_path):
    assert "is a directory" in one_line(lbp("compare", str(FIRST), str(tmp_path)))
    assert "is a device, pipe or socket" in one_line(lbp("practice", "report", os.devnull))


def test_an_oversized_previous_visit_is_refused(tmp_path):
    big = tmp_path / "big.case.yaml"
    big.write_bytes(FIRST.read_bytes() + b"#" * 1_100_000 + b"\n")
    assert "case and rule files are limited to" in one_line(lbp("compare", str(big), str(SECOND)))


# --------------------------------------------------------------------------- reading: strict text and JSON


def test_invalid_utf8_is_located_by_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"format: lbp-case/1\nid: ab\xed\xa0\x80\n")  # an encoded surrogate: not UTF-8
    assert f"{bad}:2:7: not UTF-8 text: byte 0xed" in one_line(lbp("note", str(bad)))


def test_a_lone_surrogate_escape_is_located_in_every_reader(tmp_path):
    case = tmp_path / "s.json"
    case.write_text('{"format": "lbp-case/1", "id": "x", "notes": {"pmh": "a\\udc00"}}')
    assert f"{case}:1:56: lone surrogate \\udc00" in one_line(lbp("explain", str(case)))
    paired = tmp_path / "p.json"  # a proper pair is a character, and reads
    paired.write_text('{"format": "lbp-case/1", "id": "x", "notes": {"pmh": "a \\ud83d\\ude00"}}')
    assert lbp("note", str(paired)).returncode == 0


PRACTICE = {"student": "Ada", "case": "v10-radicular-l5", "mode": "vignette",
            "answer": {"classification": "radicular", "urgency": "routine"},
            "key": {"classification": "radicular", "urgency": "routine"},
            "correct": {"classification": True, "urgency": True}, "missed_red_flag": False}


@pytest.mark.parametrize("line,expected", [
    ('{"student": "Ada", "student": "Eve", "key": {"classification": "radicular"}, '
     '"correct": {"classification": true, "urgency": true}}', ":1: duplicate key 'student'"),
    ('{"key": {"classification": "radicular"}, "correct": {"classification": NaN, "urgency": true}}',
     ":1: NaN is not a JSON number"),
    ('{"key": {"classification": "radicular"}, "correct": {"classification": 1, "urgency": true}}',
     ":1: not a practice record: correct.classification: expected true or false"),
    ('{"student": "\\ud800", "key": {"classification": "x"}, "correct": {"classification": true, "urgency": true}}',
     ":1:14: lone surrogate \\ud800"),
    ('{"student": ["Ada"], "key": {"classification": "x"}, "correct": {"classification": true, "urgency": true}}',
     ":1: not a practice record: student: expected text or null"),
])
def test_practice_records_are_read_strictly(tmp_path, line, expected):
    records = tmp_path / "attempts.jsonl"
    records.write_text(json.dumps(PRACTICE) + "\n" + line + "\n")
    for fmt in ("table", "json", "csv"):
        message = one_line(lbp("practice", "report", str(records), "-f", fmt))
        assert message.startswith(f"lbp-assess: {records}:2") and expected[2:] in message, message


def test_practice_records_are_shown_as_data_never_as_markup_or_formulas(tmp_path):
    """Markup and formulas in a record are shown as typed; a student name with a terminal escape in
    it is no name (as a case id is none): that record is refused, located, and the rest reported."""
    records = tmp_path / "attempts.jsonl"
    hostile = {**PRACTICE, "student": "[link=https://evil.example]Ada[/link]"}
    escape = {**PRACTICE, "student": "Ada \x1b]8;;x\x07"}
    formula = {**PRACTICE, "student": "=HYPERLINK(\"x\")"}
    records.write_text(json.dumps(hostile) + "\n" + json.dumps(escape) + "\n" + json.dumps(formula) + "\n")
    table = lbp("practice", "report", str(records), "-f", "table")
    assert table.returncode == 1 and "\x1b" not in table.stdout + table.stderr and "\x07" not in table.stdout
    assert "[link=https://evil.example]Ada[/link]" in table.stdout.replace("\n", "").replace(" ", "") or \
        "[link=https://evil.example]" in table.stdout
    assert "attempts.jsonl:2: not a practice record: student: a name must not contain the invisible or control " \
           "character U+001B" in table.stderr
    csv_run = lbp("practice", "report", str(records), "-f", "csv")
    assert csv_run.returncode == 1 and "\x1b" not in csv_run.stdout
    header, *rows = csv_run.stdout.splitlines()
    assert sorted(row.split(",")[0] for row in rows) == ['"\'=HYPERLINK(""x"")"', "[link=https://evil.example]Ada[/link]"]


# --------------------------------------------------------------------------- rules: huge numbers


def test_a_huge_hexadecimal_index_in_a_rule_is_an_error_not_a_crash(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    text = (rules / "red_flags.yaml").read_text()
    huge = "0x" + "f" * 5000
    old = "systemic.weight_loss and patient.age >= 60"
    assert old in text
    (rules / "red_flags.yaml").write_text(text.replace(old, f"systemic.weight_loss and "
                                                           f"psychosocial.start_back[{huge}] == 1", 1))
    for command in (("rules", "check", str(rules)), ("rules", "test", str(rules)), ("rules", "doc", str(rules))):
        run = lbp(*command)
        assert run.returncode == 1 and "number out of range" in run.stdout + run.stderr, run.stderr[-300:]
        assert "internal error" not in run.stderr


# --------------------------------------------------------------------------- writing


@pytest.fixture
def planted(tmp_path) -> tuple[Path, Path]:
    """A symbolic link planted where an output will go, pointing at a file elsewhere."""
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours")
    link = tmp_path / "out" / "result"
    link.parent.mkdir()
    link.symlink_to(elsewhere)
    return link, elsewhere


OUTPUT_COMMANDS = {
    "note": lambda o: ("note", str(RADICULAR), "-o", str(o)),
    "export": lambda o: ("export", str(RADICULAR), "-o", str(o)),
    "score": lambda o: ("score", str(RADICULAR), "-o", str(o)),
    "schema": lambda o: ("schema", "-o", str(o)),
    "rules-doc": lambda o: ("rules", "doc", "-o", str(o)),
    "questionnaire": lambda o: ("questionnaire", "-o", str(o)),
}


@pytest.mark.parametrize("name", OUTPUT_COMMANDS)
def test_no_output_is_written_through_a_planted_link_even_with_force(planted, name):
    link, elsewhere = planted
    for force in ((), ("--force",)):
        message = one_line(lbp(*OUTPUT_COMMANDS[name](link), *force))
        assert f"{link}: is a symbolic link; refusing to write through it" in message
        assert elsewhere.read_text() == "not yours" and link.is_symlink()
    assert sorted(p.name for p in link.parent.iterdir()) == ["result"]  # no temporary file left


@pytest.mark.parametrize("name", OUTPUT_COMMANDS)
def test_no_output_is_written_into_a_fifo_even_with_force(tmp_path, name):
    fifo = tmp_path / "result"
    os.mkfifo(fifo)
    message = one_line(lbp(*OUTPUT_COMMANDS[name](fifo), "--force", timeout=30))
    assert "is not a regular file" in message and stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("name", OUTPUT_COMMANDS)
def test_force_replaces_a_regular_file_and_nothing_else(tmp_path, name):
    out = tmp_path / "result"
    out.write_text("old")
    assert "already exists; use --force" in one_line(lbp(*OUTPUT_COMMANDS[name](out)))
    assert out.read_text() == "old"
    run = lbp(*OUTPUT_COMMANDS[name](out), "--force")
    assert run.returncode == 0, run.stderr
    assert out.read_text() != "old" and not out.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


def test_assess_refuses_a_link_to_a_fifo_where_the_case_goes_and_says_nothing_was_saved(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    os.mkfifo(tmp_path / "trap")
    (out / "radicular-l5.case.yaml").symlink_to(tmp_path / "trap")
    for force in ((), ("--force",)):
        run = lbp("assess", "--answers", str(RADICULAR), "--out", str(out), *force, timeout=60)
        assert run.returncode == 1, run.stderr
        assert "radicular-l5.case.yaml: is a symbolic link" in run.stderr and "saved" not in run.stderr
        assert not (out / "radicular-l5.note.md").exists()
        assert stat.S_ISFIFO(os.stat(tmp_path / "trap").st_mode)


def test_assess_writes_the_case_and_its_note_together(tmp_path):
    out = tmp_path / "notes"
    run = lbp("assess", "--answers", str(RADICULAR), "--out", str(out))
    assert run.returncode == 0, run.stderr
    # The case, its Markdown note and the plain-text note for a record that shows Markdown literally.
    assert sorted(p.name for p in out.iterdir()) == [
        "radicular-l5.case.yaml", "radicular-l5.note.md", "radicular-l5.note.txt"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())


# --------------------------------------------------------------------------- messages that say what is wrong


def test_an_output_folder_that_is_a_file_is_named_as_such(tmp_path):
    """`-o FILE/x` and `assess --out FIFO`: "is not a folder", not "File exists" or "already exists"."""
    (tmp_path / "f").write_text("x\n")
    os.mkfifo(tmp_path / "fifo")
    for command in (("score", str(EXAMPLES / "cases"), "-f", "jsonl", "-q", "-o", str(tmp_path / "f" / "x.jsonl")),
                    ("schema", "-o", str(tmp_path / "f" / "x.json")),
                    ("assess", "--out", str(tmp_path / "fifo"), "--answers", str(EXAMPLES / "cases" /
                                                                                  "radicular-l5.yaml"))):
        line = one_line(lbp(*command))
        assert line.endswith(": is not a folder (a file is in its place)"), (command, line)
    assert (tmp_path / "f").read_text() == "x\n"


def test_a_json_null_and_nan_are_named_with_their_place(tmp_path):
    line = '{"format": "lbp-case/1", "id": "a", "notes": {"presenting": "NaN"}, "patient": {"age": NaN}}'
    (tmp_path / "a.jsonl").write_text(f"null\n{line}\n")
    second = ' "patient": {"age": -Infinity}}'
    (tmp_path / "b.json").write_text('{"format": "lbp-case/1", "id": "b",\n' + second + "\n")
    run = lbp("score", str(tmp_path), "-f", "jsonl", "-q")
    errors = sorted(json.loads(row)["error"] for row in run.stdout.splitlines())
    assert errors == [f"{tmp_path / 'a.jsonl'}:1: expected a mapping of case fields, got null",
                      # the NaN that is a number, not the one in the text before it
                      f"{tmp_path / 'a.jsonl'}:2: NaN is not a JSON number (column {line.rindex('NaN') + 1})",
                      f"{tmp_path / 'b.json'}:2:{second.index('-Inf') + 1}: -Infinity is not a JSON number"], errors


def test_carried_over_question_ids_are_one_line_each(tmp_path):
    """follow_up_of.carried_over names questions: a terminal escape in one is refused like one in an id."""
    case = {"format": "lbp-case/1", "id": "b", "follow_up_of": {"id": "a", "carried_over": ["pain.back_nrs",
                                                                                             "x\x1b[31m"]}}
    (tmp_path / "c.jsonl").write_text(json.dumps(case) + "\n")
    (tmp_path / "c.json").write_text(json.dumps(case))
    run = lbp("score", str(tmp_path), "-f", "jsonl", "-q")
    rows = [json.loads(row) for row in run.stdout.splitlines()]
    assert run.returncode == 1 and len(rows) == 2
    assert all("follow_up_of.carried_over: a single-line field must not contain the control character U+001B"
               in row["error"] for row in rows), rows


def test_a_folder_with_no_case_files_is_reported_not_scored_as_nothing(tmp_path):
    """`score EMPTY` and `compare --series EMPTY`: a wrong folder says so and exits 1, instead of
    "scored 0 of 0 cases" and exit 0; the other inputs of the batch are still scored."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("not a case\n")
    run = lbp("score", str(empty), str(RADICULAR), "-f", "jsonl", "-q")
    rows = [json.loads(row) for row in run.stdout.splitlines()]
    assert run.returncode == 1 and [r["id"] for r in rows] == [None, "radicular-l5"]
    assert rows[0]["error"] == f"{empty}: no case files in this folder (.yaml, .yml, .json or .jsonl)"
    assert one_line(lbp("compare", "--series", str(empty))).endswith(f"{empty}: no case files in this folder "
                                                                     "(.yaml, .yml or .json)")


@pytest.mark.parametrize("what", ["draft", "json lines", "dangling link", "fifo", "capitals"])
def test_no_visit_of_a_series_folder_is_left_out_in_silence(tmp_path, what):
    """`compare --series FOLDER` of one patient's visits where one visit is not a case file it can
    read - an unfinished consultation's draft saying yes to saddle numbness, the visit kept as JSON
    Lines, a visit moved away (a dangling link), a FIFO - is named on standard error after the
    series of the others, and the exit status is 1: never the other visits alone and exit 0. `score`
    of the same folder reports a capitalised suffix (`.YAML`) as an error row instead of leaving
    the case out of the count; the series reads it."""
    folder = tmp_path / "visits"
    folder.mkdir()
    shutil.copy(FIRST, folder / FIRST.name)
    second = folder / SECOND.name
    if what == "draft":
        draft = folder / "lbp-draft-fu-radicular-2026-12-05.json"
        draft.write_text(json.dumps({"format": "lbp-draft/1", "answers": {"cauda_equina.saddle_numbness": True}}))
        said = f"{draft}:1:12: format: a consultation's draft (lbp-draft/1), not a case"
    elif what == "json lines":
        from lbp_assess.base.yamlio import load_yaml

        lines = folder / "fu-radicular-2026-12-05.case.jsonl"
        lines.write_text(json.dumps(load_yaml(SECOND.read_text(), str(SECOND)), default=str) + "\n")
        said = f"{lines}: JSON Lines (a case per line) is not a visit"
    elif what == "dangling link":
        second.symlink_to(tmp_path / "moved.case.yaml")
        said = f"{second}: no such file"
    elif what == "fifo":
        os.mkfifo(second)
        said = f"{second}: "
    else:
        shutil.copy(SECOND, folder / "fu-radicular-2026-12-05.case.YAML")
        run = lbp("compare", "--series", str(folder), "-f", "csv")
        assert run.returncode == 0 and run.stdout.count("fu-radicular") >= 2, run.stdout + run.stderr
        run = lbp("score", str(folder), "-f", "jsonl", "-q")
        rows = [json.loads(row) for row in run.stdout.splitlines()]
        assert run.returncode == 1 and len(rows) == 2, run.stdout + run.stderr
        assert rows[0]["error"].endswith("unsupported file type; expected .yaml, .yml, .json, .jsonl or .ndjson "
                                         "(in lower case)"), rows[0]
        return
    run = lbp("compare", "--series", str(folder), "-f", "csv", timeout=30)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert [row["id"] for row in csv.DictReader(io.StringIO(run.stdout))] == ["fu-radicular"]  # the rest is shown
    named = [line for line in run.stderr.splitlines() if line.startswith(f"lbp-assess: {said}")]
    assert len(named) == 1 and named[0].endswith("; not in the series"), run.stderr


def test_a_json_lines_file_of_several_cases_given_where_one_case_is_read_says_so(tmp_path, cli):
    """`note`, `explain`, `export` and `assess --answers` read one case: JSON Lines of two cases was
    read as YAML ("YAML syntax error ... line 2"), a message about the wrong thing. Now it says what
    the file holds; a file of one line is read as the JSON it is, and an empty one is refused."""
    from lbp_assess.base.yamlio import load_yaml

    case = load_yaml(RADICULAR.read_text(), str(RADICULAR))
    line = json.dumps(case, default=str)
    two, one, empty = tmp_path / "two.ndjson", tmp_path / "one.jsonl", tmp_path / "empty.jsonl"
    two.write_text(line + "\n\n" + line + "\n")
    one.write_text("\n" + line + "\r\n")
    empty.write_text("\n")
    for command in (["note"], ["explain"], ["export"], ["assess", "--out", str(tmp_path / "out"), "--answers"]):
        run = cli(*command, str(two), stdin=b"")
        assert run.code == 1 and run.err == (f"lbp-assess: {two}: 2 lines of JSON Lines (a case on each); this "
                                             "command reads one case: give a file of one, or score them all with "
                                             "`lbp-assess score`\n"), (command, run.err)
        assert "no line of JSON" in cli(*command, str(empty), stdin=b"").err
    assert "radicular-l5" in cli("note", str(one), "--format", "text").out
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n\n" + line[:-1] + "\n")
    assert cli("explain", str(broken)).err.startswith(f"lbp-assess: {broken}:3: JSON syntax error")
