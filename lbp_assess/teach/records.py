"""Reading `practice --record` files: every usable record of every file, and one located message
per line that is not usable (the tutor's report and `practice --again` read them alike)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from ..base.text import plain
from ..base.errors import InputError
from ..engine.ruleset.model import RuleSet
from ..model.case import NOT_IN_LINE, identifier_problem

NO_NAME = "(no name)"


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
    for name in ("student", "case"):  # names people compare by eye: one spelling each
        if data.get(name) and (problem := identifier_problem(data[name])) is not None:
            return f"{name}: {problem.replace('an id', 'a name')}"
    if key.get("urgency") is not None and not isinstance(key["urgency"], str):
        return f"key.urgency: expected a tier name, got {_shown(key['urgency'])}"
    not_asked = data.get("red_flags_not_asked")
    if not_asked is not None and not (isinstance(not_asked, list) and all(isinstance(q, str) for q in not_asked)):
        return "red_flags_not_asked: expected a list of question ids or null"
    if data.get("seconds") is not None and (type(data["seconds"]) not in (int, float) or data["seconds"] < 0):
        return f"seconds: expected a number of seconds, got {_shown(data['seconds'])}"
    return _text_problem(data)


def triage_marks(said_class: Any, said_tier: Any, key_class: str, key_tier: Any,
                 ruleset: RuleSet | None = None) -> dict[str, bool]:
    """How an answer is marked against the rules' key - one definition for practice marking an
    attempt and for the report checking a record: the class and urgency right when they are the
    key's, a red flag missed when the key is a red flag and the answer is not, and - with the rules,
    which say which tiers are shown at once - under-triage below such a tier (no answer is below
    every tier)."""
    marks = {"classification": said_class == key_class, "urgency": said_tier == key_tier,
             "missed_red_flag": key_class == "red_flag" and said_class != "red_flag"}
    if ruleset is not None and key_tier in ruleset.manifest.tiers:
        rank = ruleset.tier_rank
        marks["under_triage"] = ruleset.manifest.tiers[key_tier].show_at_once \
            and rank.get(said_tier, len(rank)) > rank[key_tier]
    return marks


def _marking_problem(data: dict[str, Any], ruleset: RuleSet | None) -> str | None:
    """Marks that do not follow from the record's own answer and key (`triage_marks`): a record
    edited by hand, an under-triage hidden from the tutor by `correct: true`."""
    answer, key, correct = data.get("answer"), data["key"], data["correct"]
    if not isinstance(answer, dict):
        return "answer: expected the student's answer (an object written by practice --record)"
    said = {name: answer.get(name) for name in ("classification", "urgency")}
    for name, value in said.items():
        if value is not None and not isinstance(value, str):
            return f"answer.{name}: expected a name or null, got {_shown(value)}"
    expected = triage_marks(said["classification"], said["urgency"], key["classification"], key.get("urgency"),
                            ruleset)
    recorded = {"classification": correct["classification"], "urgency": correct["urgency"],
                "missed_red_flag": data.get("missed_red_flag"), "under_triage": data.get("under_triage")}
    for name, should in expected.items():
        given = recorded[name]
        if given is not should and (given is not None or should):  # null stands for false only
            field = f"correct.{name}" if name in ("classification", "urgency") else name
            return (f"{field} is {json.dumps(given)}, but the answer ({_shown(said['classification'])}, "
                    f"{_shown(said['urgency'])}) and the key ({_shown(key['classification'])}, "
                    f"{_shown(key.get('urgency'))}) make it {json.dumps(should)}: the record was changed "
                    "after it was written")
    return _not_asked_problem(answer.get("questions"), data.get("red_flags_not_asked"), ruleset)


def _not_asked_problem(asked: Any, not_asked: Any, ruleset: RuleSet | None) -> str | None:
    """The red-flag questions a history-taking attempt did not ask follow from the questions it
    asked (`answer.questions`): every screening question of the rules not among them (in any
    order); a narrative attempt asked none and lists none (null)."""
    if asked is None:
        should: list[str] | None = None
    elif not (isinstance(asked, list) and all(isinstance(q, str) for q in asked)):
        return "answer.questions: expected the question ids asked, or null"
    elif ruleset is None:
        return None
    else:
        should = [q for q in ruleset.manifest.screening if q not in asked]
    if should is None:
        same = not_asked is None
    else:  # not_asked is null or a list of texts (_record_problem)
        same = not_asked is not None and sorted(not_asked) == sorted(should)
    if not same:
        return (f"red_flags_not_asked is {_shown(not_asked)}, but the questions asked (answer.questions) make it "
                f"{_shown(should)}: the record was changed after it was written")
    return None


def _key_difference(given: dict[str, Any], should: dict[str, Any]) -> tuple[str, Any, Any] | None:
    """The first part of a record's key that is not `should` (one vignette's key): (name, given, should)."""
    for name, value in should.items():
        mine = given.get(name)
        if name == "patterns":
            if mine is None:  # a record that names none: its pattern mark is its own (class and urgency decide)
                continue
            same = isinstance(mine, list) and all(isinstance(p, str) for p in mine) and sorted(mine) == sorted(value)
        else:
            same = mine == value
        if not same:
            return name, mine, value
    return None


def _key_problem(data: dict[str, Any], keys: dict[str, list[dict[str, Any]]], ruleset: RuleSet | None) -> str | None:
    """A key that is not what the rules make the record's vignette (any vignette of that id): an
    answer key edited to match the answer (so the marks follow and an under-triage is hidden), or a
    case not among the vignettes, whose key nothing can check."""
    case = data.get("case")
    if case not in keys:
        return (f"case {_shown(case)} is not one of the vignettes its key is checked against (add the vignettes "
                "practised with --vignettes PATH)")
    differences = [_key_difference(data["key"], key) for key in keys[case]]
    if None in differences:
        return None
    name, given, should = differences[0]  # type: ignore[misc]
    written = data.get("rules_version")
    if ruleset is not None and isinstance(written, str) and written != ruleset.version:
        why = f"it was written under rules of other content ({plain(written)})"
    else:
        why = "the record, or the vignette, was changed after it was written"
    return f"key.{name} is {_shown(given)}, but these rules make vignette {_shown(case)} {_shown(should)}: {why}"


def _text_problem(data: Any) -> str | None:
    """A text anywhere in a record (a key or a value) holding what no one-line text of a case may: a
    control character, line separator, bidirectional control or lone surrogate. Every text a
    record holds is one line, and the report shows it in tables, CSV and JSON."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, node = stack.pop()
        texts = [(path, node)] if isinstance(node, str) else []
        if isinstance(node, dict):
            texts += [(f"{path}{key}", key) for key in node if isinstance(key, str)]
            stack += [(f"{path}{key}.", value) for key, value in node.items()]
        elif isinstance(node, list):
            stack += [(f"{path}{index}.", value) for index, value in enumerate(node)]
        for where, text in texts:
            if (found := NOT_IN_LINE.search(text)) is not None:
                return (f"{where.rstrip('.') or 'record'}: must not contain the control character "
                        f"U+{ord(found.group()):04X} (at character {found.start() + 1})")
    return None


def _shown(value: Any) -> str:
    from ..base.text import shorten

    return plain(shorten(repr(value), 40))


def _other_rules(recorded: Any, ruleset: RuleSet) -> bool:
    """Written under other rules: a recorded name and version that differ from these (the content
    hash may differ; a record that does not say is kept)."""
    return isinstance(recorded, str) and recorded.split()[:2] != ruleset.version.split()[:2]


def read_records(paths: Iterable[str], ruleset: RuleSet | None = None,
                 keys: dict[str, list[dict[str, Any]]] | None = None) -> tuple[list[Record], list[str]]:
    """Every usable record of every file, and one located message per line that is not usable;
    never stops at a bad line or file. Read as the project reads every input: a regular file only
    (a FIFO, device or folder refused before reading), a size cap, strict UTF-8, each line strict
    JSON (a key given twice, NaN and Infinity, lone surrogates refused), each record checked field
    by field; a line the file ends in the middle of is "truncated". With `keys`
    (`practice.vignette_keys`), each record's key must be what the rules make its vignette."""
    from ..base.yamlio import decode, load_json, read_regular_file

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
            if problem is None and ruleset is not None and _other_rules(record.get("rules_version"), ruleset):
                problems.append(f"{where}: written under other rules ({plain(record['rules_version'])}), not "
                                f"{plain(' '.join(ruleset.version.split()[:2]))}: left out (report it with --rules "
                                "of that version)")
                continue
            problem = problem or _marking_problem(record, ruleset)  # marks as these rules make them
            if problem is not None:
                problems.append(f"{where}: not a practice record: {problem}")
                continue
            if keys is not None and (problem := _key_problem(record, keys, ruleset)) is not None:
                problems.append(f"{where}: {problem}; left out")
                continue
            records.append(Record(str(path), number, record))
    return records, problems
