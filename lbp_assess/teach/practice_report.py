"""A tutor's view of `practice --record` files, in three views, each as a table, JSON or CSV:

* students: per student, the attempts, accuracy per class and for urgency and pattern, red
  flags missed or under-triaged, red-flag questions not asked in history taking;
* attempts: one row per attempt (student, case, answer, key, red-flag questions not asked,
  seconds), in the order they were made;
* cases: one row per vignette (which vignettes a class gets wrong, and who).

Under-triage of a red flag stands out in every view: first in the students view, marked on its
attempt, counted per case (and the table rows, drawn by cli.render, are red). A line that cannot be used (not a
practice record, written under other rules, cut short) is reported with its file and line
number, and the rest of the report goes on. Nothing here prints.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..base.text import csv_text
from ..base.errors import InputError
from .practice import PATTERNS
from ..engine.ruleset.model import RuleSet
from ..engine.words import class_short_label
from .records import Record, read_records


VIEWS = ("students", "attempts", "cases")




# --------------------------------------------------------------------------- students


@dataclass
class StudentSummary:
    student: str
    attempts: int = 0
    classification: list[int] = field(default_factory=lambda: [0, 0])  # right, of
    by_class: dict[str, list[int]] = field(default_factory=dict)
    urgency: list[int] = field(default_factory=lambda: [0, 0])
    pattern: list[int] = field(default_factory=lambda: [0, 0])
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
        if isinstance(correct.get("pattern"), bool):
            self.pattern[0] += correct["pattern"]
            self.pattern[1] += 1
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
            "pattern": pair(self.pattern),
            "red_flags_missed": self.red_flags_missed, "under_triaged": self.under_triaged,
            "history_attempts": self.history_attempts,
            "red_flag_questions_not_asked": self.red_flag_questions_not_asked,
            "most_often_not_asked": [name for name, _ in self.not_asked.most_common(3)],
        }


def summarise_records(records: list[Record]) -> list[StudentSummary]:
    """One summary per student, in the order first seen."""
    students: dict[str, StudentSummary] = {}
    for record in records:
        students.setdefault(record.student, StudentSummary(record.student)).add(record.data)
    return list(students.values())


def summarise(paths: list[str], ruleset: RuleSet | None = None) -> list[StudentSummary]:
    """One summary per student; the first unusable line is an error (see `read_records` to go on)."""
    records, problems = read_records(paths, ruleset)
    if problems:
        raise InputError(problems[0])
    return summarise_records(records)


# --------------------------------------------------------------------------- attempts and cases


def _answer_text(ruleset: RuleSet, part: dict[str, Any], patterns: Any = None) -> str:
    """"Red flag, emergency" / "Non-specific, routine, vascular" - a class and urgency in words."""
    cls = part.get("classification")
    urgency = part.get("urgency")
    words = [class_heading(ruleset, cls) if isinstance(cls, str) else "no class",
             _tier_name(ruleset, urgency) if isinstance(urgency, str) else "no urgency"]
    pattern = part.get("pattern") if patterns is None else patterns
    if isinstance(pattern, str) and pattern != "none":
        words.append(_pattern_name(pattern))
    elif isinstance(pattern, list) and pattern:
        words.append(" or ".join(_pattern_name(str(p)) for p in pattern))
    return ", ".join(words)


def _pattern_name(name: str) -> str:
    return PATTERNS[name][0].split(" (")[0].lower() if name in PATTERNS else name


def _tier_name(ruleset: RuleSet, tier: str) -> str:
    named = ruleset.manifest.tiers.get(tier)
    return named.label.lower() if named else tier


def attempt_rows(records: list[Record], ruleset: RuleSet) -> list[dict[str, Any]]:
    """One row per attempt, in the order made."""
    rows = []
    for r in records:
        d = r.data
        answer = d.get("answer") if isinstance(d.get("answer"), dict) else {}
        not_asked = r.not_asked
        rows.append({
            "student": r.student, "case": r.case, "at": d.get("at"), "mode": d.get("mode"),
            "answer": _answer_text(ruleset, answer), "key": _answer_text(ruleset, d["key"], d["key"].get("patterns")),
            "classification_right": r.right("classification"), "urgency_right": r.right("urgency"),
            "pattern_right": d["correct"].get("pattern") if isinstance(d["correct"].get("pattern"), bool) else None,
            "under_triage": r.under_triage, "missed_red_flag": r.missed_red_flag,
            "red_flags_not_asked": not_asked,
            "seconds": d.get("seconds") if isinstance(d.get("seconds"), (int, float)) else None,
            "file": r.file, "line": r.line,
        })
    return rows


def case_rows(records: list[Record], ruleset: RuleSet) -> list[dict[str, Any]]:
    """One row per vignette: how often each part was right, under-triage, and who got it wrong.
    Most under-triaged first, then most often wrong."""
    cases: dict[str, dict[str, Any]] = {}
    for r in records:
        d = r.data
        row = cases.setdefault(r.case, {
            "case": r.case, "key": _answer_text(ruleset, d["key"], d["key"].get("patterns")), "attempts": 0,
            "classification_right": 0, "urgency_right": 0, "all_right": 0, "under_triaged": 0,
            "red_flags_missed": 0, "wrong_by": [], "wrong_answers": Counter()})
        row["attempts"] += 1
        row["classification_right"] += r.right("classification")
        row["urgency_right"] += r.right("urgency")
        row["all_right"] += not r.mistaken
        row["under_triaged"] += r.under_triage
        row["red_flags_missed"] += r.missed_red_flag
        if r.mistaken:
            if r.student not in row["wrong_by"]:
                row["wrong_by"].append(r.student)
            answer = d.get("answer") if isinstance(d.get("answer"), dict) else {}
            row["wrong_answers"][_answer_text(ruleset, answer)] += 1
    out = []
    for row in cases.values():
        common = row.pop("wrong_answers").most_common(1)
        row["most_common_wrong_answer"] = common[0][0] if common else None
        out.append(row)
    out.sort(key=lambda r: (-r["under_triaged"], -r["red_flags_missed"], r["all_right"] / r["attempts"], r["case"]))
    return out


# --------------------------------------------------------------------------- output


def fraction(pair: list[int]) -> str:
    return f"{pair[0]}/{pair[1]}" if pair[1] else "-"


def class_heading(ruleset: RuleSet, name: str) -> str:
    """A class in a table heading or a list: its short label, or the name a record gave."""
    named = ruleset.manifest.classes.get(name)
    return class_short_label(named.label) if named else name


def classes_of(summaries: list[StudentSummary], ruleset: RuleSet) -> list[str]:
    seen = {c for s in summaries for c in s.by_class}
    return [c for c in ruleset.manifest.classes if c in seen] + sorted(seen - set(ruleset.manifest.classes))


def to_csv(summaries: list[StudentSummary], ruleset: RuleSet) -> str:
    classes = list(ruleset.manifest.classes) + sorted({c for s in summaries for c in s.by_class}
                                                      - set(ruleset.manifest.classes))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "attempts", "classification_right", "urgency_right", "pattern_right",
                     *(csv_text(f"{c}_right_of") for c in classes), "red_flags_missed", "under_triaged",
                     "history_attempts", "red_flag_questions_not_asked", "most_often_not_asked"])
    for s in summaries:
        writer.writerow([csv_text(s.student), s.attempts, f"{s.classification[0]}/{s.classification[1]}",
                         f"{s.urgency[0]}/{s.urgency[1]}", f"{s.pattern[0]}/{s.pattern[1]}",
                         *(f"{p[0]}/{p[1]}" if (p := s.by_class.get(c)) else "" for c in classes),
                         s.red_flags_missed, s.under_triaged, s.history_attempts, s.red_flag_questions_not_asked,
                         csv_text(" ".join(name for name, _ in s.not_asked.most_common(3)))])
    return out.getvalue()


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """Attempt or case rows as CSV: lists joined with "; ", every text cell spreadsheet-safe."""
    out = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return csv_text("; ".join(map(str, value)))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or value is None:
        return "" if value is None else value
    return csv_text(value)


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def to_json(summaries: list[StudentSummary]) -> str:
    return _json([s.to_data() for s in summaries])


def rows_json(rows: list[dict[str, Any]]) -> str:
    return _json(rows)
