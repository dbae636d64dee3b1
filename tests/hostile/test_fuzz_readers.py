"""Issue 21: a property-based fuzz test over every reader. Whatever the input - a case file, a
previous visit, a series, a draft, a practice record file, a FHIR response, a rule set - mutated,
truncated, with hostile values, duplicate keys, NaN, lone surrogates, control characters, markup,
or a FIFO in its place: the reader gives a value or the project's own error (LbpError), the CLI
exits 0, 1, 2 or 3 (never 70, never a traceback), nothing hangs, and nothing is written anywhere
but the output asked for.

In-process properties run on many examples; the command line runs on a bounded sample in
subprocesses with a timeout, so a hang fails the test instead of stopping the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbp_assess.base.errors import LbpError
from lbp_assess.consult.interview import Interview
from lbp_assess.engine.ruleset.load import load_rules
from lbp_assess.inputs.cases import load_case
from lbp_assess.outputs import visits as followup
from lbp_assess.teach.records import read_records

from helpers import EXAMPLES, RULES, examples

RULESET = load_rules(RULES)
FOLLOW_UP = EXAMPLES / "follow-up" / "improving-radicular"
SEEDS = {
    "case.yaml": (FOLLOW_UP / "fu-radicular.case.yaml").read_text(),
    "later.case.yaml": (FOLLOW_UP / "fu-radicular-2026-12-05.case.yaml").read_text(),
    "case.json": json.dumps(load_case(EXAMPLES / "cases" / "ces-saddle-numbness.yaml").to_data()),
    "response.json": (EXAMPLES / "fhir" / "radicular-l5.response.json").read_text(),
    "attempts.jsonl": "\n".join(json.dumps(r) for r in [
        {"student": "Ada", "case": "v10", "mode": "history", "key": {"classification": "radicular"},
         "correct": {"classification": True, "urgency": False}, "red_flags_not_asked": ["history.cancer"]},
        {"student": "Ben", "case": "v21", "key": {"classification": "red_flag"},
         "correct": {"classification": False, "urgency": True}, "missed_red_flag": True}]) + "\n",
    "draft.json": json.dumps({"format": "lbp-draft/1", "answers": {"id": "d1", "patient.age": 40}}),
}
EVIL = ["\\ud800", "\\udfff", "\ud800", "NaN", "Infinity", "-Infinity", "1e999", ".nan", ".inf", "9" * 4400,
        "0x" + "f" * 4000, "\x1b]8;;http://x\x07", "\x1b[2J", "\u202e", "\u2028", "\x00", "\r", "[link=http://x]y[/]",
        "[/]", "<script>x</script>", "&#x202E;", "=cmd|' /C calc'!A0", "\uff44\uff45\uff4d\uff4f", '"', "'", "{", "}",
        "[", "]", ",", ":", "- ", "? ", "!!python/object:os.system ", "&a ", "*a", "---\n", "%YAML 1.1\n", "\t",
        "\n", "null", "true", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", '"id": "x", ', '"student": "Eve", ',
        '"follow_up_of": {"id": "fu-radicular"}, ', "follow_up_of: {id: fu-radicular-2026-12-05}\n",
        "assessed_on: 1999-01-01\n", "age: 12\n", "sex: female\n", '"linkId": "x", ', "\xff"]
piece = st.one_of(st.sampled_from(EVIL), st.text(max_size=6))


@st.composite
def hostile(draw) -> tuple[str, bytes]:
    """(file name, content): one of the seed inputs with a few insertions, deletions, duplicated
    lines or a truncation; sometimes not UTF-8 at all."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    text = SEEDS[name]
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "insert", "delete", "duplicate", "truncate"]))
        if kind == "insert":
            text = text[:at] + draw(piece) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 12)):]
        elif kind == "duplicate":
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            text = "\n".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
        else:
            text = text[:at]
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        data = data.replace(b"a", b"\xe9", 1)
    return name, data


FUZZ = settings(max_examples=examples(150), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(hostile())
def test_every_reader_gives_a_value_or_its_own_error(tmp_path_factory, sample):
    name, data = sample
    folder = tmp_path_factory.mktemp("in")
    path = folder / name
    path.write_bytes(data)
    readers = [lambda: load_case(path), lambda: followup.read_visit(path),
               lambda: read_records([str(path)]), lambda: Interview.from_draft(RULESET, path)]
    if name.endswith(".case.yaml"):
        later = folder / "later-given.case.yaml"
        later.write_text(SEEDS["later.case.yaml"])
        readers.append(lambda: followup.find_previous(later, load_case(later), path))
        readers.append(lambda: followup.series([followup.read_visit(path), followup.read_visit(later)], RULESET))
    for read in readers:
        try:
            read()
        except LbpError as err:
            assert str(err).strip() and "\n" not in str(err).split(": ", 1)[0], err
        # anything else (a KeyError, UnicodeEncodeError, RecursionError ...) fails the test


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


COMMANDS = [
    lambda f, o: ("note", str(f), "-o", str(o / "note.md")),
    lambda f, o: ("note", str(FOLLOW_UP / "fu-radicular-2026-12-05.case.yaml"), "--previous", str(f)),
    lambda f, o: ("compare", str(FOLLOW_UP / "fu-radicular.case.yaml"), str(f), "-f", "json"),
    lambda f, o: ("compare", "--series", str(f), str(FOLLOW_UP / "fu-radicular-2026-12-05.case.yaml"), "-f", "csv"),
    lambda f, o: ("assess", "--follow-up", str(f), "--answers", str(FOLLOW_UP / "fu-radicular-2026-12-05.case.yaml"),
                  "--out", str(o)),
    lambda f, o: ("assess", "--answers", str(f), "--out", str(o)),
    lambda f, o: ("assess", "--resume", str(f), "--out", str(o)),
    lambda f, o: ("practice", "report", str(f), "-f", "csv"),
    lambda f, o: ("practice", "report", str(f), "-f", "table"),
    lambda f, o: ("export", str(f), "-o", str(o / "bundle.json")),
    lambda f, o: ("score", str(f), "-o", str(o / "rows.csv"), "-f", "csv"),
    lambda f, o: ("explain", str(f), "-f", "json"),
]


@settings(max_examples=examples(24), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(hostile(), st.sampled_from(range(len(COMMANDS))), st.booleans())
def test_no_input_makes_a_command_exit_70_hang_or_write_elsewhere(tmp_path_factory, sample, command, fifo):
    name, data = sample
    root = tmp_path_factory.mktemp("run")
    inputs, out = root / "in", root / "out"
    inputs.mkdir()
    path = inputs / name
    if fifo:  # a FIFO where the input should be: refused, never waited on
        os.mkfifo(path)
    else:
        path.write_bytes(data)
    before = tree(inputs)
    args = COMMANDS[command](path, out)
    run = subprocess.run([sys.executable, "-m", "lbp_assess", *args], capture_output=True, timeout=60,
                         stdin=subprocess.DEVNULL, cwd=root)
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode in (0, 1, 2, 3), (args, run.returncode, err)
    assert "Traceback" not in err and "internal error" not in err, (args, err)
    assert tree(inputs) == before, args  # nothing written beside the inputs
    written = tree(out) if out.exists() else set()
    assert tree(root) <= {"in", "out", *(f"in/{p}" for p in before), *(f"out/{p}" for p in written)}, args
    if out.exists():
        assert all(not p.name.endswith(".tmp") for p in out.iterdir()), args  # nothing half-written


@pytest.mark.parametrize("name", ["attempts.jsonl", "case.yaml", "response.json"])
def test_a_huge_input_is_refused_by_size_before_it_is_parsed(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(SEEDS[name].encode() + b" " * 70_000_000)
    command = ("practice", "report", str(path)) if name.endswith(".jsonl") else ("note", str(path))
    run = subprocess.run([sys.executable, "-m", "lbp_assess", *command], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode == 1 and "limited to" in run.stderr, run.stderr


@st.composite
def duplicated(draw) -> bytes:
    """A valid JSON case with one key given twice (at the top or in a section, the second value
    null or not), written with or without blanks, texts holding colons and quotes."""
    data = json.loads(SEEDS["case.json"])
    data["notes"] = {"presenting": draw(st.sampled_from(["10:30 pain", ':"x', '":', "a\":b", "", ": null"]))}
    section = draw(st.sampled_from([None, "patient", "pain", "cauda_equina", "notes"]))
    holder = data if section is None else data[section]
    key = draw(st.sampled_from(sorted(holder)))
    second = draw(st.sampled_from([None, holder[key]]))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : "), (",\t", "\t:\t")]))
    text = json.dumps(data, separators=separators)
    inner = json.dumps({key: second}, separators=separators)[1:-1]
    if section is None:
        text = text[:-1] + separators[0] + inner + "}"
    else:
        start = text.index(f'"{section}"')
        brace = text.index("{", start)
        text = text[:brace + 1] + inner + separators[0] + text[brace + 1:]
    return text.encode()


@settings(max_examples=examples(300), deadline=None, derandomize=True)
@given(duplicated())
def test_the_fast_reader_never_accepts_a_key_given_twice(raw):
    from lbp_assess.model.case import fast_json

    assert fast_json(raw) is None, raw
