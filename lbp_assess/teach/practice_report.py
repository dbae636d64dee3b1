"""A tutor's summary of `practice --record` files: per student, the attempts, accuracy per
class and for urgency, red flags missed or under-triaged, and red-flag questions not asked
in history taking. Output as JSON or CSV (the CLI draws the table: cli.render); nothing here prints.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..base.text import csv_text, plain
from ..base.errors import InputError
from .practice import short_name
from ..engine.ruleset.model import RuleSet


NO_NAME = "(no name)"


@dataclass
class StudentSummary:
    student: str
    attempts: int = 0
    classification: list[int] = field(default_factory=lambda: [0, 0])  # right, of
    by_class: dict[str, list[int]] = field(default_factory=dict)
    urgency: list[int] = field(default_factory=lambda: [0, 0])
    red_flags_missed: int = 0  # red-flag cases not called red flag
    under_triaged: int = 0
    history_attempts: int = 0
    red_flag_questions_not_asked: int = 0
    not_asked: Counter = field(default_factory=Counter)

    def add(self, record: dict[str, Any]) -> None:
        key, correct = record["key"], record["correct"]
        self.attempts += 1
        for tally, good in ((self.classification, correct["classification"]), (self.urgency, correct["urgency"]),
                            (self.by_class.setdefault(key["classification"], [0, 0]), correct["classification"])):
            tally[0] += bool(good)
            tally[1] += 1
        self.red_flags_missed += bool(record.get("missed_red_flag"))
        self.under_triaged += bool(record.get("under_triage"))
        not_asked = record.get("red_flags_not_asked")
        if record.get("mode") == "history" and isinstance(not_asked, list):
            self.history_attempts += 1
            self.red_flag_questions_not_asked += len(not_asked)
            self.not_asked.update(map(str, not_asked))

    def to_data(self) -> dict[str, Any]:
        pair = lambda p: {"right": p[0], "of": p[1]}  # noqa: E731
        return {
            "student": self.student, "attempts": self.attempts, "classification": pair(self.classification),
            "by_class": {name: pair(p) for name, p in self.by_class.items()}, "urgency": pair(self.urgency),
            "red_flags_missed": self.red_flags_missed, "under_triaged": self.under_triaged,
            "history_attempts": self.history_attempts,
            "red_flag_questions_not_asked": self.red_flag_questions_not_asked,
            "most_often_not_asked": [name for name, _ in self.not_asked.most_common(3)],
        }


#: A file of practice records may hold a term's attempts by a class: larger than a case file.
MAX_RECORD_FILE_BYTES = 64 * 1024 * 1024
_NAME = "lower_snake_case name"


def _record_problem(data: Any) -> str | None:
    """What is wrong with one parsed line as a practice record (None when it is one). Records are
    data: every field read here must have the type practice --record writes."""
    if not isinstance(data, dict):
        return "expected a JSON object written by practice --record"
    key, correct = data.get("key"), data.get("correct")
    if not isinstance(key, dict) or not isinstance(correct, dict):
        return "expected `key` and `correct` objects (a JSON line written by practice --record)"
    if not isinstance(key.get("classification"), str) or not key["classification"]:
        return "key.classification: expected a class name"
    for name in ("classification", "urgency"):
        if type(correct.get(name)) is not bool:
            return f"correct.{name}: expected true or false, got {_shown(correct.get(name))}"
    for name in ("missed_red_flag", "under_triage"):
        if data.get(name) is not None and type(data[name]) is not bool:
            return f"{name}: expected true, false or null, got {_shown(data[name])}"
    for name in ("student", "mode"):
        if data.get(name) is not None and not isinstance(data[name], str):
            return f"{name}: expected text or null, got {_shown(data[name])}"
    not_asked = data.get("red_flags_not_asked")
    if not_asked is not None and not (isinstance(not_asked, list) and all(isinstance(q, str) for q in not_asked)):
        return "red_flags_not_asked: expected a list of question ids or null"
    return None


def _shown(value: Any) -> str:
    from ..base.text import shorten

    return plain(shorten(repr(value), 40))


def read_records(path: str) -> list[tuple[int, dict[str, Any]]]:
    """The records of one `practice --record` file, with their line numbers, read as the project
    reads every input: a regular file only (a FIFO, device or folder refused before reading), a
    size cap, strict UTF-8, each line strict JSON (a key given twice, NaN and Infinity, lone
    surrogates refused), each record checked field by field. Errors name `file:line`."""
    from ..base.yamlio import decode, load_json, read_regular_file

    data = read_regular_file(path, MAX_RECORD_FILE_BYTES)
    records = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        text = decode(raw, path, number).rstrip("\r")
        record = load_json(text, path, number)
        problem = _record_problem(record)
        if problem is not None:
            raise InputError(f"{plain(path)}:{number}: not a practice record: {problem}")
        records.append((number, record))
    return records


def summarise(paths: list[str]) -> list[StudentSummary]:
    """One summary per student (in the order first seen) over every line of every file."""
    students: dict[str, StudentSummary] = {}
    for path in paths:
        for _, data in read_records(path):
            name = str(data.get("student") or NO_NAME)
            students.setdefault(name, StudentSummary(name)).add(data)
    return list(students.values())


def fraction(pair: list[int]) -> str:
    return f"{pair[0]}/{pair[1]} {100 * pair[0] / pair[1]:.0f}%" if pair[1] else "-"


def class_name(ruleset: RuleSet, name: str) -> str:
    named = ruleset.manifest.classes.get(name)
    return short_name(named.label) if named else name




def classes_of(summaries: list[StudentSummary], ruleset: RuleSet) -> list[str]:
    seen = {c for s in summaries for c in s.by_class}
    return [c for c in ruleset.manifest.classes if c in seen] + sorted(seen - set(ruleset.manifest.classes))


def to_csv(summaries: list[StudentSummary], ruleset: RuleSet) -> str:
    classes = list(ruleset.manifest.classes) + sorted({c for s in summaries for c in s.by_class}
                                                      - set(ruleset.manifest.classes))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "attempts", "classification_right", "urgency_right",
                     *(csv_text(f"{c}_right_of") for c in classes), "red_flags_missed", "under_triaged",
                     "history_attempts", "red_flag_questions_not_asked", "most_often_not_asked"])
    for s in summaries:
        writer.writerow([csv_text(s.student), s.attempts, f"{s.classification[0]}/{s.classification[1]}",
                         f"{s.urgency[0]}/{s.urgency[1]}",
                         *(f"{p[0]}/{p[1]}" if (p := s.by_class.get(c)) else "" for c in classes),
                         s.red_flags_missed, s.under_triaged, s.history_attempts, s.red_flag_questions_not_asked,
                         csv_text(" ".join(name for name, _ in s.not_asked.most_common(3)))])
    return out.getvalue()


def to_json(summaries: list[StudentSummary]) -> str:
    return json.dumps([s.to_data() for s in summaries], indent=2, ensure_ascii=False) + "\n"
