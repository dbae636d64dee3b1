"""Issue 21, a fifth hostile review: Bundles whose entries are odd shapes, modifier extensions,
standard streams closed or unable to encode, outputs that would replace their own input, line
breaks a screen does not show, empty inputs, ids too long to save, and a comparison with a visit
the later one does not record following.

Each test fails on the code before the fix: a red-flag case in a nested or odd Bundle entry was
skipped without a word (exit 0 with --fail-on emergency), closed streams and a non-UTF-8 output
ended with exit 70, `note CASE -o CASE --force` put the note in place of the case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lbp_assess.inputs.fhir_response import MAX_BUNDLE_NESTING

from helpers import EXAMPLES, RULES

SADDLE = EXAMPLES / "cases" / "ces-saddle-numbness.yaml"  # EMERGENCY (cauda equina)
RADICULAR = EXAMPLES / "cases" / "radicular-l5.yaml"  # ROUTINE


def lbp(*args: str, env: dict[str, str] | None = None, close: tuple[int, ...] = (), stdout=subprocess.PIPE,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`lbp-assess ARGS` in a process of its own; `close`: standard streams (0, 1, 2) closed before it starts."""
    return subprocess.run([sys.executable, "-m", "lbp_assess", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout, env={**os.environ, **(env or {})},
                          preexec_fn=(lambda: [os.close(fd) for fd in close]) if close else None)


def one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    return run.stderr.strip().splitlines()[0]


def bundle_of(cli, case: Path) -> dict:
    run = cli("export", str(case))
    assert run.code == 0, run.err
    return json.loads(run.out)


def response_of(cli, case: Path) -> dict:
    bundle = bundle_of(cli, case)
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")


# --------------------------------------------------------------------------- Bundles: every entry read or refused


def test_a_red_flag_case_in_a_bundle_within_a_bundle_is_read(cli, tmp_path):
    """A collection of exported document Bundles is valid FHIR: the cases inside are scored, each named
    by where it stands, and --fail-on sees the emergency (before: skipped, exit 0)."""
    collection = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": bundle_of(cli, RADICULAR)}, {"resource": bundle_of(cli, SADDLE)}]}
    path = tmp_path / "collection.json"
    path.write_text(json.dumps(collection))
    run = cli("score", str(path), "-f", "jsonl", "-q", "--fail-on", "emergency")
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert [(r["id"], r["urgency"]) for r in rows] == [("radicular-l5", "routine"),
                                                        ("ces-saddle-numbness", "emergency")]
    assert rows[1]["file"].startswith(f"{path}#entry[1].entry[")
    assert run.code == 3


@pytest.mark.parametrize("entry, expected", [
    (None, "expected a Bundle entry (an object), got null"),
    ({"resource": None}, "expected a resource (an object), got null"),
    ({"resource": "QuestionnaireResponse"}, "expected a resource (an object), got 'QuestionnaireResponse'"),
    ("list", "expected a resource (an object), got a list"),
    ({"resource": {"id": "x"}}, "expected a FHIR resourceType (a name such as QuestionnaireResponse), got null"),
    ("lowercase", "unknown resourceType 'questionnaireResponse' (did you mean `QuestionnaireResponse`?)"),
    ("misspelt", "unknown resourceType 'QuestionaireResponse' (did you mean `QuestionnaireResponse`?)"),
])
def test_an_odd_bundle_entry_is_a_located_error_never_skipped(cli, tmp_path, entry, expected):
    """Beside a routine case, an entry that is not an object, a resource that is not one, or a
    resourceType that is no resource's name or a misspelt QuestionnaireResponse (which may hold a
    red flag) is an error at its line and column: the file is not scored as the routine case alone."""
    emergency = response_of(cli, SADDLE)
    if entry == "list":
        entry = {"resource": [emergency]}
    elif entry in ("lowercase", "misspelt"):
        entry = {"resource": {**emergency, "resourceType": {"lowercase": "questionnaireResponse",
                                                            "misspelt": "QuestionaireResponse"}[entry]}}
    bundle = bundle_of(cli, RADICULAR)
    bundle["entry"].append(entry)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle, indent=1))
    for command in (["score", str(path), "-f", "jsonl", "-q"], ["note", str(path)]):
        run = cli(*command)
        assert run.code == 1, (command, run.out, run.err)
        first = run.err.strip().splitlines()[0]
        assert first.startswith(f"lbp-assess: {path}:") and expected in first, first
        assert "ROUTINE" not in run.out


def test_other_resources_and_entries_without_one_hold_no_case(cli, tmp_path):
    """An exported document (Composition, Observations, RiskAssessment...) and an entry that carries
    only a request are read as before: one case."""
    bundle = bundle_of(cli, SADDLE)
    bundle["entry"].append({"fullUrl": "urn:uuid:1", "request": {"method": "DELETE", "url": "Patient/1"}})
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    run = cli("score", str(path), "-f", "jsonl", "-q")
    assert run.code == 0, run.err
    assert [json.loads(line)["urgency"] for line in run.out.splitlines()] == ["emergency"]


def test_bundles_nested_past_the_limit_are_refused(cli, tmp_path):
    inner: dict = bundle_of(cli, SADDLE)
    for _ in range(MAX_BUNDLE_NESTING):
        inner = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": inner}]}
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(inner))
    run = cli("score", str(path), "-f", "jsonl", "-q")
    assert run.code == 1 and f"Bundles nested more than {MAX_BUNDLE_NESTING} deep" in run.err


@pytest.mark.parametrize("where", ["response", "item", "answer", "entry"])
def test_a_modifier_extension_is_refused_where_it_stands(cli, tmp_path, where):
    """FHIR: an element with a modifierExtension the reader does not understand must not be read at
    face value (it may negate the answer). Before: ignored, the answer scored."""
    bundle = bundle_of(cli, SADDLE)
    entry = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    response = entry["resource"]
    extension = [{"url": "http://example.org/negated", "valueBoolean": True}]
    if where == "response":
        response["modifierExtension"] = extension
    elif where == "entry":
        entry["modifierExtension"] = extension
    else:
        item = next(i for i in response["item"] if i.get("item"))["item"][0]
        (item if where == "item" else item["answer"][0])["modifierExtension"] = extension
    path = tmp_path / "modified.json"
    path.write_text(json.dumps(bundle, indent=1))
    run = cli("score", str(path), "-f", "jsonl", "-q")
    assert run.code == 1
    line = run.err.strip().splitlines()[0]
    assert line.startswith(f"lbp-assess: {path}:") and "a modifierExtension may change what this element means" in line
    text = path.read_text().splitlines()
    row = int(line.split(":")[2])
    assert '"modifierExtension"' in text[row - 1]


# --------------------------------------------------------------------------- standard streams


@pytest.mark.parametrize("args, closed, expected", [
    (["score", "-", "-f", "jsonl"], (0,), "standard input is closed"),
    (["note", str(SADDLE)], (1,), "standard output is closed"),
    (["export", str(SADDLE)], (1,), "standard output is closed"),
    (["schema"], (1,), "standard output is closed"),
    (["explain", str(SADDLE)], (1,), "standard output is closed"),
])
def test_a_closed_standard_stream_is_an_error_not_a_crash_nor_silence(args, closed, expected):
    """Started with a stream closed (`<&-`, `>&-`): a one-line error and exit 1. Before: exit 70,
    or nothing written and exit 0 (a pipeline took the empty output for a result)."""
    run = lbp(*args, close=closed, stdout=subprocess.DEVNULL if 1 in closed else subprocess.PIPE)
    assert one_line_error(run) == f"lbp-assess: {expected} (the command was started with it closed)"


def test_with_standard_error_closed_the_exit_code_still_tells(tmp_path):
    run = lbp("score", str(SADDLE), str(tmp_path / "missing.yaml"), "-f", "jsonl", close=(2,))
    assert run.returncode == 1 and json.loads(run.stdout.splitlines()[0])["urgency"] == "emergency"


def test_output_a_command_writes_to_a_file_needs_no_standard_output(tmp_path):
    run = lbp("note", str(SADDLE), "-o", str(tmp_path / "note.md"), close=(1,), stdout=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert "EMERGENCY" in (tmp_path / "note.md").read_text()


@pytest.fixture
def accented(tmp_path) -> Path:
    path = tmp_path / "accented.yaml"
    text = SADDLE.read_text().replace("id: ces-saddle-numbness", "id: café-日本")
    path.write_text(text.replace("assessor: Example", 'assessor: "Zoë"'), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["note"], ["explain"], ["score", "-f", "table"]])
@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_an_output_encoding_that_cannot_write_the_text_is_named(accented, command, encoding):
    """PYTHONIOENCODING (or a C locale without UTF-8 mode) that cannot write a character of the
    output: what to do, exit 1 (before: UnicodeEncodeError, exit 70) - unless the text is written
    whole as UTF-8 (click does so for an ASCII stream)."""
    run = subprocess.run([sys.executable, "-m", "lbp_assess", command[0], str(accented), *command[1:]],
                         capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
                         env={**os.environ, "PYTHONIOENCODING": encoding})
    if run.returncode == 0:
        assert "café-日本" in run.stdout.decode("utf-8")
        return
    line = one_line_error(subprocess.CompletedProcess(run.args, run.returncode, "", run.stderr.decode("utf-8", "replace")))
    assert f"its encoding is {encoding}" in line and "set PYTHONIOENCODING=utf-8, or write to a file with --output" \
        in line
    assert encoding == "latin-1" or command != ["note"]  # the cases that did end with exit 70


def test_json_lines_are_utf8_whatever_the_output_encoding(accented):
    run = lbp("score", str(accented), "-f", "jsonl", env={"PYTHONIOENCODING": "ascii"})
    assert run.returncode == 0 and json.loads(run.stdout)["id"] == "café-日本"


def test_explain_into_a_reader_that_went_away_exits_0_like_every_command():
    """`explain CASE | head -c1` under `set -o pipefail`: rich's own handler exited 1, and click ends
    any write to a closed pipe with exit 1."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        for args in (["explain", str(SADDLE)], ["note", str(SADDLE)], ["score", str(SADDLE), "-f", "table"],
                     ["export", str(SADDLE)], ["schema"]):
            run = lbp(*args, stdout=write)
            assert run.returncode == 0, (args, run.returncode, run.stderr)
            assert "Traceback" not in run.stderr
    finally:
        os.close(write)


def test_an_error_without_a_file_name_is_said_once(tmp_path):
    """A full disk under standard output: "lbp-assess: No space left on device" (was "lbp-assess:
    lbp-assess: ...")."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        run = lbp("score", str(SADDLE), "-f", "jsonl", stdout=full)
    assert one_line_error(run) == "lbp-assess: No space left on device"


# --------------------------------------------------------------------------- --force never replaces an input


@pytest.mark.parametrize("command", [
    ["note", "{case}", "-o", "{case}"],
    ["export", "{case}", "-o", "{case}"],
    ["score", "{case}", "-f", "jsonl", "-o", "{case}"],
    ["score", "{folder}", "-f", "jsonl", "-o", "{case}"],
    ["note", "{link}", "-o", "{case}"],
    ["rules", "doc", "{rules}", "-o", "{rules}/ruleset.yaml"],
    ["questionnaire", "--rules", "{rules}", "-o", "{rules}/interview.yaml"],
])
def test_force_never_replaces_a_file_the_command_reads(cli, tmp_path, command):
    """`note case.yaml -o case.yaml --force` put the note in place of the case; a case or rule file
    inside an input folder, or reached through a link given as input, is refused the same way."""
    folder = tmp_path / "cases"
    folder.mkdir()
    case = folder / "case.yaml"
    case.write_bytes(SADDLE.read_bytes())
    (folder / "link.yaml").symlink_to(case)
    rules = tmp_path / "rules"
    rules.mkdir()
    for source in RULES.glob("*.yaml"):
        (rules / source.name).write_bytes(source.read_bytes())
    before = {path: path.read_bytes() for path in [case, *rules.iterdir()]}
    names = {"case": str(case), "folder": str(folder), "link": str(folder / "link.yaml"), "rules": str(rules)}
    run = cli(*[part.format(**names) for part in command], "--force")
    assert run.code == 1, run.err
    assert ("is an input of this command" in run.err or "is inside the input folder" in run.err), run.err
    assert "--force" in run.err
    assert {path: path.read_bytes() for path in before} == before


def test_force_still_replaces_an_earlier_output_beside_the_input(cli, tmp_path):
    case = tmp_path / "case.yaml"
    case.write_bytes(SADDLE.read_bytes())
    note = tmp_path / "case.note.md"
    note.write_text("old")
    assert cli("note", str(case), "-o", str(note), "--force").code == 0
    assert "EMERGENCY" in note.read_text()


# --------------------------------------------------------------------------- text a screen shows otherwise


@pytest.mark.parametrize("char, what", [("\x85", "a C1 control character (U+0085)"),
                                        ("\u2028", "a line or paragraph separator (U+2028)"),
                                        ("\x9b", "a C1 control character (U+009B)")])
def test_a_hidden_line_break_in_yaml_is_refused_at_its_place(cli, tmp_path, char, what):
    """`id: x<NEL>cauda_equina: {saddle_numbness: true}` shows as one line but PyYAML (YAML 1.1) read
    a second key: it scored EMERGENCY from a key nobody could see. Refused, at its line and column,
    in a case and in a rule file."""
    case = tmp_path / "nel.yaml"
    case.write_text(f"format: lbp-case/1\nid: x{char}cauda_equina: {{saddle_numbness: true}}\n", encoding="utf-8")
    run = cli("score", str(case), "-f", "jsonl", "-q")
    assert run.code == 1 and json.loads(run.out)["error"].startswith(f"{case}:2:6: {what}")
    rules = tmp_path / "rules"
    rules.mkdir()
    for source in RULES.glob("*.yaml"):
        (rules / source.name).write_bytes(source.read_bytes())
    manifest = rules / "ruleset.yaml"
    manifest.write_text(manifest.read_text().replace("\n", f"\n# note{char}\n", 1), encoding="utf-8")
    run = cli("rules", "check", str(rules))
    assert run.code == 1 and f"ruleset.yaml:2:7: error: {what}" in run.out


# --------------------------------------------------------------------------- empty input is reported


@pytest.mark.parametrize("content", [b"", b"\n \n\t\n"])
def test_an_empty_json_lines_file_is_reported_not_scored_as_nothing(cli, tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    run = cli("score", str(path), "-f", "jsonl", "--fail-on", "emergency")
    assert run.code == 1
    assert json.loads(run.out)["error"] == f"{path}: no case in this file (it is empty or blank)"


def test_empty_standard_input_is_reported():
    run = subprocess.run([sys.executable, "-m", "lbp_assess", "score", "-", "-f", "jsonl"], input=b"\n",
                         capture_output=True, timeout=60)
    assert run.returncode == 1
    assert json.loads(run.stdout)["error"] == "<stdin>: no case on standard input (it was empty or blank)"


# --------------------------------------------------------------------------- an id too long to be a file name


def test_an_id_too_long_for_a_file_name_is_refused_before_the_interview(tmp_path):
    """80 CJK characters are a valid id, but percent-encoded they make a 700-byte file name: refused
    at once with what to do (before: the interview ended with "File name too long")."""
    run = lbp("assess", "--answers", str(SADDLE), "--id", "日" * 80, "--out", str(tmp_path / "out"))
    assert one_line_error(run).startswith("lbp-assess: id: makes a file name of 742 bytes")
    assert "choose a shorter id" in run.stderr
    assert not list((tmp_path / "out").glob("*.yaml"))


# --------------------------------------------------------------------------- comparing visits


def test_a_visit_compared_with_one_it_does_not_follow_is_not_called_its_follow_up(cli, tmp_path):
    earlier, later = tmp_path / "a1.yaml", tmp_path / "b3.yaml"
    earlier.write_text("format: lbp-case/1\nid: a1\nassessed_on: 2026-01-01\npatient: {age: 40}\n")
    later.write_text("format: lbp-case/1\nid: b3\nassessed_on: 2026-02-01\npatient: {age: 40}\n"
                     "follow_up_of: {id: zz, assessed_on: '2026-01-01'}\n")
    run = cli("compare", str(earlier), str(later))
    assert run.code == 0, run.err
    assert "Follow-up of a1" not in run.out
    assert "- Compared with a1 (2026-01-01, 31 days ago)." in run.out
    assert "**b3 is recorded as a follow-up of zz, not of a1.**" in run.out


@pytest.mark.parametrize("command", [["score", str(SADDLE)], ["audit", str(SADDLE)], ["note", str(SADDLE)],
                                     ["export", str(SADDLE)], ["schema"], ["rules", "doc"], ["questionnaire"]])
def test_an_output_path_ending_in_a_slash_is_a_folder_not_a_file_named_without_it(cli, tmp_path, command):
    """`-o out/` wrote a file called `out` (the path type drops the slash): a usage error now."""
    run = cli(*command, "-o", f"{tmp_path}/out/")
    assert run.code == 2 and f"--output: '{tmp_path}/out/' names a folder (it ends in a slash)" in run.err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["score", str(SADDLE)], ["audit", str(SADDLE)], ["note", str(SADDLE)],
                                     ["export", str(SADDLE)], ["schema"], ["rules", "doc"], ["questionnaire"]])
def test_a_dash_as_output_is_a_usage_error_not_a_file_called_dash(cli, tmp_path, monkeypatch, command):
    """`-o -` wrote a file called `-` (hard to remove, and not what a shell user means by it)."""
    monkeypatch.chdir(tmp_path)
    run = cli(*command, "-o", "-")
    assert run.code == 2 and "--output: '-' names no file; leave out --output to write to standard output" in run.err
    assert not list(tmp_path.iterdir())
    named = cli(*command, "-o", "./-")  # a file called - is still possible, by its path
    assert named.code in (0, 1) and (tmp_path / "-").is_file(), named


def test_a_text_over_the_limit_is_refused_alike_by_the_fast_and_the_exact_reader(cli, tmp_path):
    """MAX_TEXT_CHARS holds in the JSON Lines fast path (a long text on one line is printable, so
    the quick test must count it too) as in the case model; the limit itself is accepted."""
    from lbp_assess.model.case import MAX_TEXT_CHARS

    lines = tmp_path / "cases.jsonl"
    cases = [{"format": "lbp-case/1", "id": f"c{n}", "notes": {"pmh": "x" * (MAX_TEXT_CHARS + n)}} for n in (0, 1)]
    lines.write_text("".join(json.dumps(case) + "\n" for case in cases))
    yaml_case = tmp_path / "long.yaml"
    yaml_case.write_text(f"format: lbp-case/1\nid: y\nnotes: {{pmh: {'x' * (MAX_TEXT_CHARS + 1)}}}\n")
    run = cli("score", str(lines), str(yaml_case), "-f", "jsonl", "-q")
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert [r["error"] is None for r in rows] == [True, False, False]
    assert all(f"text is {MAX_TEXT_CHARS + 1:,} characters long" in r["error"] for r in rows[1:])


@pytest.mark.parametrize("command, expected", [
    (["audit", str(SADDLE), "-o", ""], "--output: is empty; give the file to write"),
    (["note", str(SADDLE), "-o", ""], "--output: is empty; give the file to write"),
    (["score", str(EXAMPLES / "cases"), "-j", "99999999999999999999"], "--jobs: must be 256 or less"),
    (["audit", str(EXAMPLES / "cases"), "-o", "report.html", "-j", "99999999999999999999"],
     "--jobs: must be 256 or less"),
])
def test_an_empty_output_or_a_huge_job_count_is_a_usage_error(cli, tmp_path, monkeypatch, command, expected):
    """From a fuzzing run: `audit -o ''` ended with exit 70 (the empty path read as the current
    folder), and --jobs past a C int with OverflowError, exit 70."""
    monkeypatch.chdir(tmp_path)
    run = cli(*command)
    assert run.code == 2 and run.err.startswith(f"lbp-assess: {expected}"), run.err
    assert list(tmp_path.iterdir()) == []
