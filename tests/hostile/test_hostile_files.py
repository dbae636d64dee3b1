"""Hostile input, output paths and terminals (issue 10): files, streams, batch scoring, the CLI.

Anything that could crash the interpreter (a stack overflow in a parser) or hang runs
in a subprocess, so a regression fails the test instead of killing the test run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lbp_assess.batch.chunks import BYTES_PER_CHUNK
from lbp_assess.batch.score import error_row
from lbp_assess.inputs import cases
from lbp_assess.batch.chunks import Chunk, stdin_chunks, score_chunk
from lbp_assess.batch.writers import format_rows
from lbp_assess.cli.score_table import render_table
from lbp_assess.base.errors import OutputExistsError
from lbp_assess.base.files import atomic_write

from helpers import EXAMPLES

RADICULAR = EXAMPLES / "cases" / "radicular-l5.yaml"
CES = EXAMPLES / "cases" / "ces-saddle-numbness.yaml"
CASE = {"format": "lbp-case/1", "id": "x"}


def lbp(*args: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "lbp_assess", *args], input=stdin, capture_output=True,
                          timeout=timeout)


def line(**fields) -> str:
    return json.dumps({**CASE, **fields})


# --------------------------------------------------------------------------- 1, 22: output paths


def test_output_to_dev_null_is_refused_and_leaves_it_a_device(cli):
    run = cli("score", str(RADICULAR), "-f", "jsonl", "-o", os.devnull, "--force")
    assert run.code == 1 and "not a regular file" in run.err
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_output_to_a_fifo_is_refused_without_waiting_for_a_reader(tmp_path):
    fifo = tmp_path / "results"
    os.mkfifo(fifo)
    with pytest.raises(OutputExistsError, match="not a regular file"):
        atomic_write(fifo, "row\n", force=True)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_to_a_directory_is_refused(tmp_path):
    with pytest.raises(OutputExistsError, match="is a directory"):
        atomic_write(tmp_path, "x", force=True)


def test_a_dangling_symlink_is_refused_even_with_force(tmp_path, cli):
    link = tmp_path / "out.jsonl"
    link.symlink_to(tmp_path / "nowhere")
    for force in ((), ("--force",)):
        run = cli("score", str(RADICULAR), "-o", str(link), *force)
        assert run.code == 1 and "is a symbolic link" in run.err
        assert link.is_symlink() and not (tmp_path / "nowhere").exists()


def test_force_keeps_the_mode_of_the_file_it_replaces(tmp_path, cli):
    out = tmp_path / "out.jsonl"
    out.write_text("old")
    out.chmod(0o640)
    assert cli("score", str(RADICULAR), "-o", str(out), "--force").code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and "radicular-l5" in out.read_text()


def test_a_private_mode_narrows_the_mode_kept(tmp_path):
    out = tmp_path / "note.md"
    out.write_text("old")
    out.chmod(0o644)
    atomic_write(out, "new", force=True, mode=0o600)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


# --------------------------------------------------------------------------- 2: duplicate keys


def test_duplicate_keys_are_refused_in_json_lines_files_and_score_record(tmp_path, cli):
    from lbp_assess import score_record

    text = '{"format": "lbp-case/1", "id": "d", "cauda_equina": {"saddle_numbness": true, "saddle_numbness": false}}'
    (tmp_path / "a.jsonl").write_text(text + "\n")
    (tmp_path / "b.json").write_text(text)
    run = cli("score", str(tmp_path), "-f", "jsonl")
    rows = [json.loads(r) for r in run.out.splitlines()]
    assert run.code == 1 and [r["urgency"] for r in rows] == [None, None]
    assert all("duplicate key 'saddle_numbness'" in r["error"] for r in rows)
    assert rows[0]["error"].startswith(f"{tmp_path}/a.jsonl:1: ")
    assert rows[1]["error"].startswith(f"{tmp_path}/b.json:1:")
    assert "duplicate key" in score_record(text)["error"]


def test_the_fast_reader_refuses_a_repeated_key_whatever_the_spacing_and_nulls():
    from lbp_assess.model.case import fast_json

    assert fast_json(b'{"format":"lbp-case/1","id":"x","neuro":{"weakness":null},"neuro":{}}') is None
    assert fast_json(b'{"format":"lbp-case/1","id":"x","neuro":{"weakness":null , "weakness" :true}}') is None
    assert fast_json(b'{"format":"lbp-case/1","id":"x:y","notes":{"pmh":"a: b"},"id":"z"}') is None
    # ...and still reads cases with nulls and colons in their text the fast way
    assert fast_json(b'{"format":"lbp-case/1","id":"x:y","neuro":{"weakness":null},"notes":{"pmh":"a:b"}}')


# --------------------------------------------------------------------------- 3, 4: CSV


def test_control_characters_in_ids_and_one_line_fields_are_refused(tmp_path, cli):
    (tmp_path / "cr.yaml").write_text('format: lbp-case/1\nid: "a\\rb"\n')
    (tmp_path / "esc.json").write_text(json.dumps({**CASE, "assessor": "x\x1b[2J"}))
    (tmp_path / "ok.json").write_text(json.dumps({**CASE, "notes": {"pmh": "line one\nline two\ttabbed"}}))
    rows = [json.loads(r) for r in cli("score", str(tmp_path), "-f", "jsonl").out.splitlines()]
    assert "control character U+000D" in rows[0]["error"] and "id" in rows[0]["error"]
    assert "control character U+001B" in rows[1]["error"]
    assert rows[2]["error"] is None  # tab and newline are fine in free text


def test_csv_quotes_a_carriage_return_so_each_row_stays_one_patient():
    # A file name's carriage return is escaped where the row is made (error_row, as every row's
    # `file`); the CSV writer still quotes one in any cell, should a row hold it.
    assert (error_row("evil\rname.yaml", "bad\r")["file"], error_row("x", "bad\r")["error"]) == \
        ("evil\\x0dname.yaml", "bad\\x0d")
    rows = [{**error_row("", "bad"), "file": "evil\rname.yaml"}, dict(error_row("next.yaml", "bad"))]
    text = format_rows(rows, "csv").decode()
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[1] for r in parsed] == ["evil\rname.yaml", "next.yaml"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t"])
def test_csv_cells_that_would_start_a_formula_are_neutralised(start):
    row = {**error_row("", ""), "file": f"{start}HYPERLINK(\"http://x\").yaml", "error": f"{start}1+1"}
    cells = next(csv.reader(io.StringIO(format_rows([row], "csv").decode())))
    assert cells[1] == f"'{start}HYPERLINK(\"http://x\").yaml" and cells[10] == f"'{start}1+1"
    made = error_row(f"{start}HYPERLINK(\"http://x\").yaml", f"{start}1+1")  # as scoring makes it
    cells = next(csv.reader(io.StringIO(format_rows([made], "csv").decode())))
    assert cells[1][0] in "'\\" and cells[10][0] in "'\\"  # an apostrophe, or the tab written \t


def test_an_id_starting_with_equals_is_scored_and_neutralised_in_csv(tmp_path, cli):
    (tmp_path / "f.json").write_text(json.dumps({**CASE, "id": "=cmd|' /C calc'!A0"}))
    rows = list(csv.DictReader(io.StringIO(cli("score", str(tmp_path), "-f", "csv").out)))
    assert rows[0]["id"] == "'=cmd|' /C calc'!A0"


# --------------------------------------------------------------------------- 5: deep nesting


@pytest.mark.parametrize("text", [
    "format: lbp-case/1\nid: x\nnotes: " + "- " * 12000 + "x\n",
    "- " * 12000 + "x\n",
    ": " * 12000 + "x\n",
    "".join(" " * i + "k:\n" for i in range(1000)),
    "".join(" " * i + "- a:\n" for i in range(1000)),
])
def test_deep_block_nesting_is_refused_before_a_parser_overflows(tmp_path, text):
    (tmp_path / "deep.yaml").write_text(text)
    shutil.copy(CES, tmp_path / "emergency.yaml")
    run = lbp("score", str(tmp_path), "-f", "jsonl", "--fail-on", "emergency", "-j", "1")
    assert run.returncode == 3, run.stderr  # the emergency still counts
    rows = [json.loads(r) for r in run.stdout.splitlines()]
    assert "nesting is deeper than" in rows[0]["error"] or "YAML syntax error" in rows[0]["error"]  # not valid YAML
    assert rows[1]["urgency"] == "emergency"
    run = lbp("score", "-", "-f", "jsonl", stdin=text.encode())
    assert run.returncode == 1 and b"Traceback" not in run.stderr


def test_deep_nesting_in_a_rule_file_is_a_located_error(tmp_path, rules_copy):
    (rules_copy / "deep.yaml").write_text("layer: red_flags\nrules:\n" + "- " * 12000 + "x\n")
    run = lbp("rules", "check", str(rules_copy))
    assert run.returncode == 1 and b"nesting is deeper than" in run.stdout


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    from helpers import RULES

    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def test_ordinary_files_are_not_taken_for_deep_ones():
    from lbp_assess.base.yamlio import too_deep

    shipped = [*EXAMPLES.rglob("*.yaml"), *(Path(__file__).parents[2] / "rules").rglob("*.yaml")]
    assert not [p for p in shipped if too_deep(p.read_text())]


# --------------------------------------------------------------------------- 6, 7, 8: values


def test_huge_integers_are_refused_with_their_location_everywhere(tmp_path, cli):
    from lbp_assess import score_record

    (tmp_path / "a.yaml").write_text("format: lbp-case/1\nid: x\npatient:\n  age: " + "9" * 5000 + "\n")
    (tmp_path / "b.json").write_text('{"format": "lbp-case/1", "id": "x", "patient": {"age": ' + "9" * 5000 + "}}")
    (tmp_path / "c.yaml").write_text("format: lbp-case/1\nid: x\npatient:\n  age: 0x" + "f" * 4000 + "\n")
    run = cli("score", str(tmp_path), "-f", "jsonl")
    rows = [json.loads(r) for r in run.out.splitlines()]
    assert run.code == 1
    assert rows[0]["error"] == f"{tmp_path}/a.yaml:4:8: number too large: more than 20 digits"
    assert rows[1]["error"].startswith(f"{tmp_path}/b.json:1:") and "number too large" in rows[1]["error"]
    assert "number too large" in rows[2]["error"]
    row = score_record('{"format": "lbp-case/1", "id": "x", "patient": {"age": ' + "9" * 5000 + "}}")
    assert "number too large" in row["error"]


def test_a_lone_surrogate_is_refused_by_score_and_note(tmp_path, cli):
    case = tmp_path / "s.json"
    case.write_text('{"format": "lbp-case/1", "id": "\\ud800"}')
    run = cli("score", str(case), "-f", "jsonl")
    assert run.code == 1 and "s.json:1:33: lone surrogate \\ud800" in json.loads(run.out)["error"]
    run = cli("note", str(case))
    assert run.code == 1 and "s.json:1:33: lone surrogate \\ud800" in run.err


def test_non_finite_numbers_are_refused(tmp_path, cli):
    (tmp_path / "a.yaml").write_text("format: lbp-case/1\nid: x\nonset:\n  weeks_ago: .inf\n")
    (tmp_path / "b.json").write_text('{"format": "lbp-case/1", "id": "x", "onset": {"weeks_ago": Infinity}}')
    (tmp_path / "c.jsonl").write_text('{"format": "lbp-case/1", "id": "x", "onset": {"weeks_ago": 1e999}}\n')
    rows = [json.loads(r) for r in cli("score", str(tmp_path), "-f", "jsonl").out.splitlines()]
    assert [bool(r["error"]) for r in rows] == [True, True, True]
    assert "finite" in rows[0]["error"] and "Infinity" in rows[1]["error"] and "finite" in rows[2]["error"]


def test_a_complex_key_with_a_tag_character_is_a_located_error(tmp_path, cli, rules_copy):
    (tmp_path / "k.yaml").write_text("format: lbp-case/1\nid: x\n? [a]\n: 1\n# !\n")
    row = json.loads(cli("score", str(tmp_path / "k.yaml"), "-f", "jsonl").out)
    assert row["error"] == f"{tmp_path}/k.yaml:3:3: a key must be plain text, not a list or mapping"
    (rules_copy / "k.yaml").write_text("layer: red_flags\n? [a]\n: 1\n# !\n")
    run = cli("rules", "check", str(rules_copy))
    assert run.code == 1 and "k.yaml:2:3: error: a key must be plain text" in run.out


def test_a_file_name_that_is_not_utf8_is_written_escaped(tmp_path, cli):
    name = os.fsdecode(b"caf\xe9.yaml")
    shutil.copy(RADICULAR, tmp_path / name)
    run = cli("score", str(tmp_path), "-f", "jsonl")
    assert run.code == 0 and "caf\\udce9.yaml" in json.loads(run.out)["file"]
    assert "caf\\udce9.yaml" in cli("score", str(tmp_path), "-f", "csv").out


# --------------------------------------------------------------------------- 9, 16: terminal


def test_the_table_shows_markup_and_escapes_as_text(tmp_path):
    rows = [{**error_row("x", ""), "error": None, "id": "[/]", "classification": "[link=http://evil]c[/link]",
             "urgency": "routine", "condition_tiers": {}, "alerts": [], "unscreened": [], "warnings": []},
            error_row("\x1b]0;title\x07.yaml", "bad [/] \x1b[2J")]
    out = io.StringIO()
    render_table(rows, out)
    text = out.getvalue()
    assert "[/]" in text and "[link=http://evil]c[/link]" in text
    assert "\x1b" not in text and "\\x1b" in text


def test_error_messages_show_terminal_escapes_escaped(tmp_path, cli):
    (tmp_path / "e.json").write_text(json.dumps({**CASE, "\x1b]52;c;cHduZWQ=\x07": 1}))
    run = cli("score", str(tmp_path / "e.json"), "-f", "jsonl")
    assert run.code == 1 and "\x1b" not in run.err and "\x07" not in run.err and "\\x1b]52" in run.err


# --------------------------------------------------------------------------- 13: devices, FIFOs


def test_a_case_file_linked_to_a_device_is_an_error_row(tmp_path):
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere")
    run = lbp("score", str(tmp_path), "-f", "jsonl", timeout=30)
    rows = [json.loads(r) for r in run.stdout.splitlines()]
    assert run.returncode == 1
    assert [r["file"].rsplit("/", 1)[-1] for r in rows] == ["gone.yaml", "zero.yaml"]
    assert "no such file" in rows[0]["error"] and "a device, pipe or socket" in rows[1]["error"]


def test_a_fifo_in_a_rules_folder_does_not_hang_rules_check(rules_copy):
    os.mkfifo(rules_copy / "waiting.yaml")
    run = lbp("rules", "check", str(rules_copy), timeout=30)
    assert run.returncode == 1 and b"waiting.yaml: error: is a device, pipe or socket" in run.stdout


# --------------------------------------------------------------------------- 14: memory bounds


def test_an_oversized_line_on_stdin_is_refused_and_the_rest_scored(cli):
    data = (line(id="a") + "\n" + '{"id": "' + "x" * 1_100_000 + '"}\n' + line(id="c") + "\n").encode()
    run = cli("score", "-", "-f", "jsonl", stdin=data)
    rows = [json.loads(r) for r in run.out.splitlines()]
    assert [r["id"] for r in rows] == ["a", None, "c"]
    assert rows[1]["error"] == "<stdin>:2: line is over 1,000,000 bytes; a case is limited to 1,000,000"


def test_an_oversized_line_in_a_json_lines_file_is_refused_and_the_rest_scored(tmp_path, cli):
    path = tmp_path / "big.jsonl"
    path.write_text(line(id="a") + "\n" + "x" * 2_500_000 + "\n" + line(id="c") + "\n" + "y" * 1_200_000)
    rows = [json.loads(r) for r in cli("score", str(path), "-f", "jsonl", "-j", "1").out.splitlines()]
    assert [r["id"] for r in rows] == ["a", None, "c", None]
    assert rows[1]["error"].startswith(f"{path}:2: line is over") and rows[3]["file"] == f"{path}:4"


def test_stdin_is_chunked_by_bytes_not_only_by_lines():
    data = b"".join(line(id=str(i), notes={"pmh": "x" * 50_000}).encode() + b"\n" for i in range(60))
    chunks = list(stdin_chunks(io.BytesIO(data)))
    assert len(chunks) > 1
    assert all(sum(len(raw) for _, raw in c.lines) < BYTES_PER_CHUNK + 60_000 for c in chunks)


def test_a_single_case_on_stdin_is_read_up_to_the_limit_only(cli):
    run = cli("score", "-", "-f", "jsonl", stdin=b"format: lbp-case/1\n" + b"# x\n" * 300_000)
    assert run.code == 1 and "over 1,000,000 bytes" in json.loads(run.out)["error"]


# --------------------------------------------------------------------------- 15: Ctrl-C and pipes


def test_a_closed_pipe_ends_score_with_exit_0(tmp_path):
    for i in range(300):
        shutil.copy(RADICULAR, tmp_path / f"c{i:03}.yaml")
    command = f"{sys.executable} -m lbp_assess score {tmp_path} -j 2 | head -1"
    run = subprocess.run(["bash", "-c", command + "; exit ${PIPESTATUS[0]}"], capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert b"Traceback" not in run.stderr and run.stdout.count(b"\n") == 1


def test_ctrl_c_during_parallel_scoring_exits_130_without_a_traceback(tmp_path):
    """Ctrl-C while workers score standard input. The input is held open, so the run cannot end
    before Ctrl-C; and the pipe holds at most a small buffer, so once the 2 MB are written the
    command has read them: it is scoring (workers started), whatever the machine's speed."""
    process = subprocess.Popen([sys.executable, "-m", "lbp_assess", "score", "-", "-j", "2", "-o",
                                str(tmp_path / "out.jsonl")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    cases = (line(neuro={"weakness": True}) + "\n").encode() * 40_000
    assert len(cases) > 2_000_000 > 2 * BYTES_PER_CHUNK
    writer = threading.Thread(target=_write_and_hold, args=(process.stdin, cases), daemon=True)
    writer.start()
    writer.join(timeout=120)
    assert not writer.is_alive() and process.poll() is None, "score did not read its input"
    os.killpg(process.pid, signal.SIGINT)  # as a terminal sends it: to every process of the group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert b"Traceback" not in err and b"interrupted" in err
    assert not (tmp_path / "out.jsonl").exists()


def _write_and_hold(stdin, data: bytes) -> None:
    """Write all of `data` (returns once the reader has taken all but a pipe's buffer of it), and
    leave the pipe open."""
    stdin.write(data)
    stdin.flush()


# --------------------------------------------------------------------------- 23: depth and size


def test_a_very_deep_folder_is_listed_without_recursion(monkeypatch):
    """1,100 nested folders, as os.scandir would list them (a real tree that deep breaks
    shutil.rmtree, and so the clean-up of every later test run on the machine)."""
    depth = 1100

    class Entry:
        def __init__(self, folder: str, name: str):
            self.name, self.path = name, f"{folder}/{name}"

        def is_dir(self, follow_symlinks: bool = True) -> bool:
            return self.name == "d"

    class Listing(list):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def scandir(folder: str) -> Listing:
        level = folder.count("/d")
        return Listing([Entry(folder, "d")] if level < depth else [Entry(folder, "deep.yaml")])

    monkeypatch.setattr(cases.os, "scandir", scandir)
    (found,) = cases.case_files("root")
    assert found == "root" + "/d" * depth + "/deep.yaml"


def test_a_huge_value_is_echoed_shortened(tmp_path, cli):
    (tmp_path / "v.json").write_text(json.dumps({**CASE, "pain": {"leg_side": "x" * 900_000}}))
    error = json.loads(cli("score", str(tmp_path / "v.json"), "-f", "jsonl").out)["error"]
    assert "is not allowed" in error and len(error) < 400


def test_score_chunk_never_raises_on_a_mixed_chunk(ruleset, tmp_path):
    (tmp_path / "a.yaml").write_text("format: lbp-case/1\nid: x\n")
    result = score_chunk(ruleset, Chunk(files=(str(tmp_path / "a.yaml"), str(tmp_path / "missing.yaml"))), "csv")
    assert result.cases == 2 and len(result.errors) == 1


def test_a_line_break_in_a_file_name_keeps_the_message_on_one_line(tmp_path, cli):
    """The file name is input too: its line break is shown as \\n, not as a second line."""
    case = tmp_path / "bad\nname.json"
    case.write_text('{"format": "lbp-case/1", "id": "x", "patient": {"age": 3}}')
    run = cli("note", str(case))
    assert run.code == 1 and run.err.count("\n") == 1, run.err
    assert "bad\\nname.json:1:" in run.err and "age must be 16 or over" in run.err
