"""Scoring one case into its result row: a file, a JSON Lines line, or a document on standard input.

Each case goes the fast way - yaml-rs or msgspec's JSON decoder, validation into msgspec structs
(`case.CASE_STRUCT`), the generated rule function - and only a case that fails there is read
again the precise way (inputs.cases.validate_any) for its located one-line message. A file that
cannot be read becomes an error row and scoring goes on.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec

from ..model.case import CASE_SUFFIXES, fast_convert, fast_json
from ..inputs.cases import Listed, read_cases
from ..base.errors import InputError, Location, NotACase, Problem
from ..base.text import plain_name
from ..engine.ruleset.model import RuleSet
from ..base.yamlio import MAX_FILE_BYTES, MAX_NODES, check_size, decode, load_json, load_yaml, read_text


#: Result columns, in the order of docs/case-format.md, then our additions.
COLUMNS = (
    "id", "file", "classification", "urgency", "conditions", "alerts", "unscreened",
    "warnings", "rules_fired", "rules_version", "error",
    "condition_tiers", "findings", "not_excluded", "follow_up_of", "assessed_on", "assessor", "actions",
)




def error_row(source: str, message: str) -> dict[str, Any]:
    """A row for an input that could not be scored. The message names the file as given: its
    controls and bidirectional controls are shown as escapes, as in the `file` column of every row."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(file=plain_name(source), error=plain_name(message))
    return row


Scored = tuple[dict[str, Any], "dict[str, Any] | None"]  # (row, expected labels)


def with_follow_up(row: dict[str, Any], case: Any) -> dict[str, Any]:
    """What the row adds from the record: the earlier case a follow-up visit follows (lbp-case/1
    follow_up_of), when the case was assessed and by whom (for the audit report, by date and assessor).
    A case read the fast way has them from the rules' row function (RuleSet.row_from_data)."""
    actions = row.pop("actions", None)  # the last column (COLUMNS)
    row["follow_up_of"] = case.follow_up_of.id if case.follow_up_of is not None else None
    row["assessed_on"] = case.assessed_on.isoformat() if case.assessed_on is not None else None
    row["assessor"] = case.assessor
    row["actions"] = actions
    return row


# --------------------------------------------------------------------------- scoring one case


def _precise(ruleset: RuleSet, data: Any, name: str, source: str, text: str | None, line: int | None) -> Scored:
    """The slow, exact reading of one case: raises InputError with the located message."""
    rows = _precise_rows(ruleset, data, name, source, text, line)
    if len(rows) != 1:
        raise InputError.from_problems([Problem(Location(name, line), f"holds {len(rows)} cases (a FHIR Bundle of "
                                                "QuestionnaireResponses); score it with `lbp-assess score`")])
    return rows[0]


def _precise_rows(ruleset: RuleSet, data: Any, name: str, source: str, text: str | None,
                  line: int | None) -> list[Scored]:
    """Every case in the data (a FHIR Bundle may hold several), each row named by its source."""
    scored = []
    for where, case in read_cases(data, name, text, line):
        expected = case.expected.model_dump(exclude_none=True) if case.expected else None
        scored.append((with_follow_up(ruleset.assess(case).to_row(source + where), case), expected))
    return scored


def expected_of(case: Any) -> dict[str, Any] | None:
    expected = case.expected
    if expected is None:
        return None
    return {k: v for k, v in msgspec.structs.asdict(expected).items() if v is not None}


def _within_size(path: str, text: str) -> bool:
    """Whether a case file's data is known to hold no more values than a case may (MAX_NODES)
    without walking it: JSON has been checked as read, and a YAML value takes a character at
    least unless an alias repeats one."""
    return path.endswith(".json") or (len(text) < MAX_NODES and "*" not in text)


def score_file(ruleset: RuleSet, path: str, notes: list[str] | None = None) -> list[Scored]:
    """The cases of one file (one, or one per QuestionnaireResponse of a FHIR Bundle); a file that
    cannot be read is one error row, and a FHIR resource without a case found in a folder is skipped
    with a note."""
    try:
        if not path:  # Path("") is the current folder: never scored in its place
            raise InputError.from_problems([Problem(Location("''"), "an empty path names no file (an unset shell "
                                                    "variable?); give case files, folders or JSON Lines files")])
        if not path.endswith((".yaml", ".yml", ".json")):
            suffix = os.path.splitext(path)[1]
            capitals = " (in lower case)" if suffix.lower() in CASE_SUFFIXES else ""
            raise InputError.from_problems([Problem(Location(path), f"unsupported file type; expected .yaml, .yml, "
                                                    f".json, .jsonl or .ndjson{capitals}")])
        text = read_text(path)
        data = load_json(text, path) if path.endswith(".json") else load_yaml(text, path, checked=False)
        if not _within_size(path, text):
            check_size(data, path)  # before anything walks or prints the input
        valid = fast_convert(data)
        shown = plain_name(path)  # a file name is input too: its controls never reach a row
        if valid is None:
            check_size(data, path)
            return _precise_rows(ruleset, data, path, shown, text, None)
        return [(ruleset.row_from_data(valid, shown), expected_of(valid))]
    except InputError as err:
        if isinstance(err, NotACase) and isinstance(path, Listed) and notes is not None:
            what = err.problems[0].message.split(";")[0] if err.problems else str(err)
            notes.append(f"{plain_name(path)}: skipped, {plain_name(what)} (not counted)")
            return []
        return [(error_row(path, str(err)), None)]


def score_line(ruleset: RuleSet, raw: bytes, name: str, number: int) -> Scored:
    source = f"{plain_name(name)}:{number}"
    try:
        if len(raw) <= MAX_FILE_BYTES:
            valid = fast_json(raw)
            if valid is not None:
                return ruleset.row_from_data(valid, source), expected_of(valid)
        else:
            raise InputError.from_problems([Problem(Location(name, number),
                                                    f"line is {len(raw):,} bytes; a case is limited to "
                                                    f"{MAX_FILE_BYTES:,}")])
        text = decode(raw, name, number).rstrip("\r\n")
        return _precise(ruleset, load_json(text, name, number), name, source, None, number)
    except InputError as err:
        return error_row(source, str(err)), None


def score_line_rows(ruleset: RuleSet, raw: bytes, name: str, number: int) -> list[Scored]:
    """The cases of one JSON Lines line: one, or one per QuestionnaireResponse of a FHIR Bundle."""
    source = f"{plain_name(name)}:{number}"
    if len(raw) <= MAX_FILE_BYTES and b'"resourceType"' in raw:
        try:
            text = decode(raw, name, number).rstrip("\r\n")
            return _precise_rows(ruleset, load_json(text, name, number), name, source, None, number)
        except InputError as err:
            return [(error_row(source, str(err)), None)]
    return [score_line(ruleset, raw, name, number)]


def score_stdin_document(ruleset: RuleSet, raw: bytes) -> Scored:
    name = "<stdin>"
    try:
        text = read_text(name, raw)
        data = load_yaml(text, name, checked=False)
        if not _within_size(name, text):
            check_size(data, name)
        valid = fast_convert(data)
        if valid is None:
            check_size(data, name)
            return _precise(ruleset, data, name, name, text, None)
        return ruleset.row_from_data(valid, name), expected_of(valid)
    except InputError as err:
        return error_row(name, str(err)), None
