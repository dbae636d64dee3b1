"""A second outside review's findings (2026-12-06): text that reached an output raw - a file's own
name in the result rows, Unicode's invisible bidirectional marks, practice records, an output path
in a message - and an empty path taken for the current folder. Each test failed before its fix."""

from __future__ import annotations

import json
import shutil

import pytest

from lbp_assess.base.text import plain
from lbp_assess.inputs.cases import load_case

from helpers import EXAMPLES

CASE = EXAMPLES / "cases" / "ces-saddle-numbness.yaml"
HOSTILE_NAME = "\u202eevil\x1b]0;PWNED\x07\x1b[31m"
RAW = ("\x1b", "\x07", "\u202e")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_a_file_name_reaches_the_result_rows_with_its_controls_escaped(cli, tmp_path, fmt):
    shutil.copy(CASE, tmp_path / f"{HOSTILE_NAME}.yaml")
    (tmp_path / f"{HOSTILE_NAME}.jsonl").write_text(json.dumps(load_case(CASE).to_data()) + "\n")
    (tmp_path / f"{HOSTILE_NAME}-bad.yaml").write_text("format: lbp-case/1\nid: [\n")
    run = cli("score", str(tmp_path), "-f", fmt, "-q")
    assert run.code == 1, run.err  # the bad file: an error row, the batch goes on
    assert not [c for c in RAW if c in run.out], run.out
    shown = plain(HOSTILE_NAME)
    text = run.out if fmt == "csv" else run.out.replace("\\\\", "\\")  # JSON writes the backslash twice
    assert text.count(shown) >= 4  # the YAML file, the JSON Lines line, the bad file and its message


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c"])
def test_invisible_bidirectional_marks_are_refused_in_case_text_and_escaped_when_shown(cli, tmp_path, mark):
    # The left-to-right, right-to-left and Arabic letter marks are bidirectional controls too: before,
    # a note and the audit page showed them raw while the overrides were refused.
    path = tmp_path / "marked.yaml"
    path.write_text(CASE.read_text() + f'notes:\n  presenting: "abc {mark}123"\n')
    run = cli("note", str(path))
    assert run.code == 1 and f"must not contain the control character U+{ord(mark):04X}" in run.err, run.err
    (row,) = [json.loads(line) for line in cli("score", str(path), "-f", "jsonl", "-q").out.splitlines()]
    assert row["classification"] is None and f"U+{ord(mark):04X}" in row["error"]
    assert plain(f"a{mark}b") == f"a\\u{ord(mark):04x}b"


def test_practice_records_holding_control_characters_are_not_reported(cli, tmp_path):
    record = {"student": "amy", "case": "v01", "mode": "classify", "at": "2026-12-01T10:00:00",
              "key": {"classification": "\u202eevil\u009b31m", "urgency": "routine"},
              "correct": {"classification": True, "urgency": True}}
    (tmp_path / "records.jsonl").write_text(json.dumps(record) + "\n")
    run = cli("practice", "report", str(tmp_path / "records.jsonl"), "--view", "attempts", "-f", "json")
    assert "\u202e" not in run.out + run.err and "\u009b" not in run.out + run.err
    assert "records.jsonl:1: not a practice record: key.classification: must not contain the control " \
           "character U+202E (at character 1)" in run.err


def test_an_output_path_in_a_message_cannot_forge_a_line(cli, tmp_path):
    target = tmp_path / "x\nFAKE: all 0 errors"
    target.write_text("taken")
    run = cli("schema", "-o", str(target))
    assert run.code == 1 and run.err.count("\n") == 1, run.err
    assert "x\\nFAKE: all 0 errors: already exists; use --force to overwrite" in run.err


def test_an_empty_path_is_refused_not_taken_for_the_current_folder(cli, tmp_path, monkeypatch):
    shutil.copy(CASE, tmp_path / "in-the-current-folder.yaml")
    monkeypatch.chdir(tmp_path)
    run = cli("score", "", "-f", "jsonl", "-q")
    (row,) = [json.loads(line) for line in run.out.splitlines()]
    assert run.code == 1 and row["error"].startswith("'': an empty path names no file"), row
