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

from ..base.text import plain, spreadsheet
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


def _is_record(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("key"), dict) and isinstance(data.get("correct"), dict)
            and isinstance(data["key"].get("classification"), str)
            and all(k in data["correct"] for k in ("classification", "urgency")))


def summarise(paths: list[str]) -> list[StudentSummary]:
    """One summary per student (in the order first seen) over every line of every file."""
    students: dict[str, StudentSummary] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = list(handle)
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"{plain(path)}: cannot read: {getattr(err, 'strerror', None) or err}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                data = None
            if not _is_record(data):
                raise InputError(f"{plain(path)}:{number}: not a practice record "
                                 "(expected a JSON line written by practice --record)")
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
                     *(f"{c}_right_of" for c in classes), "red_flags_missed", "under_triaged",
                     "history_attempts", "red_flag_questions_not_asked", "most_often_not_asked"])
    for s in summaries:
        writer.writerow([spreadsheet(s.student), s.attempts, f"{s.classification[0]}/{s.classification[1]}",
                         f"{s.urgency[0]}/{s.urgency[1]}",
                         *(f"{p[0]}/{p[1]}" if (p := s.by_class.get(c)) else "" for c in classes),
                         s.red_flags_missed, s.under_triaged, s.history_attempts, s.red_flag_questions_not_asked,
                         " ".join(name for name, _ in s.not_asked.most_common(3))])
    return out.getvalue()


def to_json(summaries: list[StudentSummary]) -> str:
    return json.dumps([s.to_data() for s in summaries], indent=2, ensure_ascii=False) + "\n"
