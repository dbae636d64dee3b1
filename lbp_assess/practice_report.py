"""A tutor's view of `practice --record` files, in three views, each as a table, JSON or CSV:

* students: per student, the attempts, accuracy per class and for urgency and pattern, red
  flags missed or under-triaged, red-flag questions not asked in history taking;
* attempts: one row per attempt (student, case, answer, key, red-flag questions not asked,
  seconds), in the order they were made;
* cases: one row per vignette (which vignettes a class gets wrong, and who).

Under-triage of a red flag stands out in every view: first in the students view, marked on its
attempt, counted per case (and the table rows are red). A line that cannot be used (not a
practice record, written under other rules, cut short) is reported with its file and line
number, and the rest of the report goes on. Nothing here prints.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from .display import csv_text, markup, plain
from .errors import InputError
from .practice import PATTERNS, short_name
from .rules import RuleSet

NO_NAME = "(no name)"
VIEWS = ("students", "attempts", "cases")


# --------------------------------------------------------------------------- reading


@dataclass
class Record:
    """One attempt from a --record file, with where it came from."""

    file: str
    line: int
    data: dict[str, Any]

    @property
    def student(self) -> str:
        return str(self.data.get("student") or NO_NAME)

    @property
    def case(self) -> str:
        return str(self.data.get("case") or "?")

    @property
    def under_triage(self) -> bool:
        return bool(self.data.get("under_triage"))

    @property
    def missed_red_flag(self) -> bool:
        return bool(self.data.get("missed_red_flag"))

    @property
    def not_asked(self) -> list[str] | None:
        value = self.data.get("red_flags_not_asked")
        return [str(v) for v in value] if self.data.get("mode") == "history" and isinstance(value, list) else None

    def right(self, what: str) -> bool:
        return bool(self.data["correct"].get(what))

    @property
    def mistaken(self) -> bool:
        """Anything wrong: class, urgency or pattern, a missed red flag or under-triage."""
        correct = self.data["correct"]
        return not (correct["classification"] and correct["urgency"] and correct.get("pattern", True)) \
            or self.under_triage or self.missed_red_flag


#: A file of practice records may hold a term's attempts by a class: larger than a case file.
MAX_RECORD_FILE_BYTES = 64 * 1024 * 1024


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
    if correct.get("pattern") is not None and type(correct["pattern"]) is not bool:
        return f"correct.pattern: expected true, false or null, got {_shown(correct['pattern'])}"
    for name in ("missed_red_flag", "under_triage"):
        if data.get(name) is not None and type(data[name]) is not bool:
            return f"{name}: expected true, false or null, got {_shown(data[name])}"
    for name in ("student", "mode", "case", "at", "rules_version"):
        if data.get(name) is not None and not isinstance(data[name], str):
            return f"{name}: expected text or null, got {_shown(data[name])}"
    if key.get("urgency") is not None and not isinstance(key["urgency"], str):
        return f"key.urgency: expected a tier name, got {_shown(key['urgency'])}"
    not_asked = data.get("red_flags_not_asked")
    if not_asked is not None and not (isinstance(not_asked, list) and all(isinstance(q, str) for q in not_asked)):
        return "red_flags_not_asked: expected a list of question ids or null"
    if data.get("seconds") is not None and (type(data["seconds"]) not in (int, float) or data["seconds"] < 0):
        return f"seconds: expected a number of seconds, got {_shown(data['seconds'])}"
    return None


def _shown(value: Any) -> str:
    from .display import shorten

    return plain(shorten(repr(value), 40))


def _other_rules(recorded: Any, ruleset: RuleSet) -> bool:
    """Written under other rules: a recorded name and version that differ from these (the content
    hash may differ; a record that does not say is kept)."""
    return isinstance(recorded, str) and recorded.split()[:2] != ruleset.version.split()[:2]


def read_records(paths: Iterable[str], ruleset: RuleSet | None = None) -> tuple[list[Record], list[str]]:
    """Every usable record of every file, and one located message per line that is not usable;
    never stops at a bad line or file. Read as the project reads every input: a regular file only
    (a FIFO, device or folder refused before reading), a size cap, strict UTF-8, each line strict
    JSON (a key given twice, NaN and Infinity, lone surrogates refused), each record checked field
    by field; a line the file ends in the middle of is "truncated"."""
    from .yamlio import decode, load_json, read_regular_file

    records: list[Record] = []
    problems: list[str] = []
    for path in paths:
        try:
            data = read_regular_file(path, MAX_RECORD_FILE_BYTES)
        except InputError as err:
            problems.append(str(err))
            continue
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            where = f"{plain(path)}:{number}"
            try:
                record = load_json(decode(raw, path, number).rstrip("\r"), path, number)
            except InputError as err:
                if number == len(lines) and raw.strip()[:1] == b"{" and b"JSON syntax error" in str(err).encode():
                    problems.append(f"{where}: truncated record (the file ends part-way through the line)")
                else:
                    problems.append(str(err))
                continue
            problem = _record_problem(record)
            if problem is not None:
                problems.append(f"{where}: not a practice record: {problem}")
                continue
            if ruleset is not None and _other_rules(record.get("rules_version"), ruleset):
                problems.append(f"{where}: written under other rules ({plain(record['rules_version'])}), not "
                                f"{plain(' '.join(ruleset.version.split()[:2]))}: left out (report it with --rules "
                                "of that version)")
                continue
            records.append(Record(str(path), number, record))
    return records, problems


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
    words = [_class_name(ruleset, cls) if isinstance(cls, str) else "no class",
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


def _fraction(pair: list[int]) -> str:
    return f"{pair[0]}/{pair[1]}" if pair[1] else "-"


def _class_name(ruleset: RuleSet, name: str) -> str:
    named = ruleset.manifest.classes.get(name)
    return short_name(named.label) if named else name


def table(summaries: list[StudentSummary], ruleset: RuleSet) -> Any:
    """Two tables that fit 80 columns: the totals per student, then accuracy per class."""
    from rich import box
    from rich.console import Group
    from rich.table import Table

    totals = Table(title="Practice by student", header_style="bold", box=box.SIMPLE_HEAD)
    totals.add_column("student", overflow="fold")
    totals.caption = "class, urgency, pattern: right of attempted; ! = a red flag missed or under-triaged"
    for column in ("cases", "class", "urgency", "pattern", "red flag missed", "UNDER-\nTRIAGED",
                   "red-flag Qs not asked (cases)"):
        totals.add_column(column, justify="right", overflow="fold")
    for s in summaries:
        unasked = f"{s.red_flag_questions_not_asked} ({s.history_attempts})" if s.history_attempts else "-"
        serious = bool(s.under_triaged or s.red_flags_missed)
        totals.add_row(markup(s.student), str(s.attempts), _fraction(s.classification), _fraction(s.urgency),
                       _fraction(s.pattern), _flag(s.red_flags_missed), _flag(s.under_triaged), unasked,
                       style="bold red" if serious else None)
    classes = _classes(summaries, ruleset)
    by_class = Table(title="Classification right, by the case's class", header_style="bold", box=box.SIMPLE_HEAD)
    by_class.add_column("student", overflow="fold")
    for name in classes:
        by_class.add_column(markup(_class_name(ruleset, name)), justify="right", max_width=14)
    for s in summaries:
        by_class.add_row(markup(s.student), *(f"{p[0]}/{p[1]}" if (p := s.by_class.get(c)) else "-" for c in classes))
    return Group(totals, by_class)


def _flag(count: int) -> str:
    return f"{count} !" if count else "0"


def attempts_table(rows: list[dict[str, Any]], ruleset: RuleSet | None = None) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(title="Practice attempts (! = under-triaged or a red flag missed)", header_style="bold",
              box=box.SIMPLE_HEAD)
    for column, justify, least in (("", "left", 1), ("student", "left", 5), ("case", "left", 10),
                                   ("answer", "left", 13), ("key", "left", 9),
                                   ("red-flag Qs not asked", "left", 12), ("s", "right", 3)):
        t.add_column(column, justify=justify, overflow="fold", min_width=least)  # type: ignore[arg-type]
    q = ruleset.questionnaire if ruleset is not None else None
    for row in rows:
        serious = row["under_triage"] or row["missed_red_flag"]
        not_asked = row["red_flags_not_asked"]
        right = row["classification_right"] and row["urgency_right"] and row["pattern_right"] is not False \
            and not not_asked
        mark = "!" if serious else "✔" if right else "✘"
        names = [q.label(n) if q and n in q.by_id else n for n in not_asked or ()]
        asked = "-" if not_asked is None else "none" if not names else \
            f"{len(names)}: " + markup(", ".join(names[:2])) + (", …" if len(names) > 2 else "")
        answer = markup(row["answer"]) + ("\nUNDER-TRIAGED" if row["under_triage"] else "")
        t.add_row(mark, markup(row["student"]), markup(row["case"]), answer, markup(row["key"]), asked,
                  "-" if row["seconds"] is None else f"{row['seconds']:.0f}", style="bold red" if serious else None)
    return t


def cases_table(rows: list[dict[str, Any]]) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(title="Practice by case (most under-triaged, then most often wrong, first)", header_style="bold",
              box=box.SIMPLE_HEAD)
    for column in ("case", "key", "all right", "UNDER-TRIAGED", "wrong by"):
        t.add_column(column, overflow="fold", justify="right" if column in ("all right", "UNDER-TRIAGED") else "left")
    for row in rows:
        t.add_row(markup(row["case"]), markup(row["key"]), f"{row['all_right']}/{row['attempts']}",
                  _flag(row["under_triaged"]), markup(", ".join(row["wrong_by"])) or "-",
                  style="bold red" if row["under_triaged"] or row["red_flags_missed"] else None)
    return t


def _classes(summaries: list[StudentSummary], ruleset: RuleSet) -> list[str]:
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
