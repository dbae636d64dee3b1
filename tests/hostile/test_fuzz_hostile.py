"""Fuzzing (issue 10): valid case files and rule files, mutated, give a result or the project's
own located error - never another exception, an exit code 70 or a signal.

Bounded for CI: a few dozen examples each, no deadline (the machine is shared), well under
a minute in all.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
import subprocess
import sys

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbp_assess.batch.score import COLUMNS, score_line, score_stdin_document
from lbp_assess.batch.writers import format_rows
from lbp_assess.inputs.cases import parse_case
from lbp_assess.base.errors import InputError
from lbp_assess.engine.ruleset.load import check_rules, load_rules

from helpers import EXAMPLES, RULES, examples

CASES = sorted((EXAMPLES / "cases").glob("*.yaml"))
TEXTS = [p.read_text() for p in CASES]
JSON_TEXTS = [json.dumps(parse_case(t, "x").to_data()) for t in TEXTS]
FUZZ = settings(max_examples=examples(80), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

#: Pieces that have broken parsers, validators, writers or terminals before.
EVIL = ["- ", "? ", ": ", "[", "{", "]", "}", "!", "!!python/object:os.system ", "&a ", "*a", "<<: *a", "\x1b[2J",
        "\x1b]0;t\x07", "\r", "\u2028", "\u202e", "\x00", "\x85", "9" * 30, "0x" + "f" * 40, "1e999", "-.inf", ".nan",
        "9" * 5000, "0x" + "f" * 4000, "[[[[[[[[[[", "? [a]\n: 1\n", "\\ud800",
        "null", "~", '"', "'", "#", "\t", "\n", "\n  ", "    ", "=cmd|' /C calc'!A0", "[/]", "[link=http://x]",
        "|", ">-\n   ", "%YAML 1.1\n---\n", "---\n", "0b101", "+0x10", "1_000", "yes", "\\ud800", "\\u0000",
        '"id": "x", ', '"saddle_numbness": true, ', "saddle_numbness: false\n", "  weakness: true\n"]

piece = st.one_of(st.sampled_from(EVIL), st.text(max_size=8))
#: Values that have slipped past a reader or crashed a message (huge, infinite, other notations).
NUMBERS = ["9" * 5000, "-" + "9" * 4400, "0x" + "f" * 4000, "1e999", "-1e999", ".nan", "NaN", "Infinity", "-1",
           "1_000", "0b101", "+0x10", "99999999999999999999999", "1.7976931348623157e309", "[]", "{}", '"\\ud800"']
value = st.one_of(st.sampled_from(NUMBERS), piece)


@st.composite
def mutated(draw, texts: list[str]) -> str:
    """One of `texts` with a few insertions, deletions, duplicated lines or repeated pieces."""
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "value", "value", "delete", "duplicate", "repeat"]))
        values = [i + 2 for i in range(len(text)) if text.startswith(": ", i) or text.startswith('":', i)]
        if kind == "value" and values:  # a value replaced: where a validator must catch it
            start = draw(st.sampled_from(values))
            end = min(p for p in (text.find("\n", start), text.find(",", start), len(text)) if p >= 0)
            text = text[:start] + draw(value) + text[end:]
        elif kind == "insert":
            text = text[:at] + draw(piece) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif kind == "duplicate":
            lines = text.splitlines(keepends=True) or [""]
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[:i + 1] + lines[i:])
        else:
            text = text[:at] + draw(st.sampled_from(EVIL)) * draw(st.integers(2, 3000)) + text[at:]
    return text


def assert_row(row: dict, source: str) -> None:
    """A result row, or an error row whose message is our own, located at the source."""
    assert list(row) == list(COLUMNS)
    if row["error"] is not None:
        assert row["error"].startswith(source), row["error"]
        assert row["classification"] is None
    else:
        assert row["classification"] and row["urgency"]
    for fmt in ("jsonl", "csv"):
        data = format_rows([row], fmt)  # every row can be written
        data.decode("utf-8")
    (cells,) = list(csv.reader(io.StringIO(format_rows([row], "csv").decode(), newline="")))
    assert len(cells) == len(COLUMNS)


@FUZZ
@given(mutated(TEXTS))
def test_mutated_yaml_cases_give_a_row_or_a_located_error(ruleset, text):
    raw = text.encode("utf-8", "surrogatepass")
    row, _ = score_stdin_document(ruleset, raw)
    assert_row(row, "<stdin>")
    try:
        case = parse_case(raw.decode("utf-8", "replace"), "c.yaml")
    except InputError as err:
        assert str(err).startswith("c.yaml")
    else:
        ruleset.assess(case).to_row()


@FUZZ
@given(mutated(JSON_TEXTS))
def test_mutated_json_lines_give_a_row_or_a_located_error(ruleset, text):
    raw = text.replace("\n", " ").encode("utf-8", "surrogatepass")
    row, _ = score_line(ruleset, raw, "f.jsonl", 7)
    assert_row(row, "f.jsonl:7")
    orjson.dumps(row)
    try:
        case = parse_case(raw.decode("utf-8", "replace"), "c.json")
    except InputError as err:
        assert str(err).startswith("c.json")
    else:
        assert ruleset.assess(case).to_row()["classification"] == row["classification"] or row["error"]


def value_positions(text: str) -> list[tuple[int, int]]:
    """(start, end) of every value written after `key: ` (YAML) or `"key": ` (JSON)."""
    spans = []
    for i in range(len(text)):
        if text.startswith(": ", i):
            end = min(p for p in (text.find("\n", i), text.find(",", i), text.find("}", i), len(text)) if p >= 0)
            spans.append((i + 2, end))
    return spans


@pytest.mark.parametrize("index", [0, 4, 11])
def test_every_value_replaced_by_every_hostile_number(ruleset, index):
    """Exhaustive where the random search is thin: each value of a case, each hostile value."""
    for text, read in ((TEXTS[index], "yaml"), (JSON_TEXTS[index], "json")):
        for start, end in value_positions(text):
            for bad in NUMBERS:
                changed = text[:start] + bad + text[end:]
                if read == "yaml":
                    row, _ = score_stdin_document(ruleset, changed.encode())
                    assert_row(row, "<stdin>")
                else:
                    row, _ = score_line(ruleset, changed.encode(), "f.jsonl", 1)
                    assert_row(row, "f.jsonl:1")


RULE_FILES = ["musculoskeletal.yaml", "red_flags.yaml", "derived.yaml", "ruleset.yaml"]


@settings(FUZZ, max_examples=examples(30))
@given(st.sampled_from(RULE_FILES), st.data())
def test_mutated_rule_sets_are_checked_or_refused_never_crash(tmp_path_factory, name, data):
    target = tmp_path_factory.mktemp("rules")
    shutil.copytree(RULES, target, dirs_exist_ok=True)
    path = target / name
    path.write_text(data.draw(mutated([path.read_text()])))
    problems = check_rules(target)
    assert all(str(p.location).startswith(str(target)) for p in problems)
    if not any(p.severity == "error" for p in problems):
        rules = load_rules(target)
        for text in TEXTS:
            rules.assess(parse_case(text, "x")).to_row()


def test_no_mutated_input_makes_a_command_exit_70_or_die(tmp_path):
    """The whole CLI over a folder of mutated files (seeded): exit 0, 1 or 3, never 70 or a signal."""
    rng = random.Random(10)
    for i in range(60):
        text = rng.choice(TEXTS + JSON_TEXTS)
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(text))
            text = text[:at] + rng.choice(EVIL) * rng.choice([1, 1, 2, 500]) + text[at:]
        suffix = ".json" if text.lstrip().startswith("{") else ".yaml"
        (tmp_path / f"m{i:02}{suffix}").write_bytes(text.encode("utf-8", "surrogatepass"))
    lines = [rng.choice(JSON_TEXTS).replace('"id"', rng.choice(['"id"', '"id": 1, "id"', '"x"'])) for _ in range(50)]
    (tmp_path / "lines.jsonl").write_text("\n".join(lines) + "\n")
    for args in (["score", str(tmp_path), "-f", "csv", "-j", "2"], ["score", str(tmp_path), "-f", "table"]):
        run = subprocess.run([sys.executable, "-m", "lbp_assess", *args], capture_output=True, timeout=300)
        assert run.returncode in (0, 1, 3), run.stderr[-2000:]
        assert b"internal error" not in run.stderr and b"Traceback" not in run.stderr
    for path in sorted(tmp_path.glob("m0*")):
        for command in (["note", str(path)], ["explain", str(path)]):
            run = subprocess.run([sys.executable, "-m", "lbp_assess", *command], capture_output=True, timeout=120)
            assert run.returncode in (0, 1), (command, run.stderr[-2000:])


@pytest.fixture(scope="module")
def ruleset():
    return load_rules(RULES, questionnaire=False)


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutated(JSON_TEXTS).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_score_record_never_raises(raw):
    from lbp_assess import score_record

    row = score_record(raw, "batch.jsonl:3")
    assert list(row) == list(COLUMNS) and (row["error"] is None) == (row["classification"] is not None)
