"""The interview: a state machine over the questionnaire, and the loop that drives it.

`Interview` holds the answers and where we are; it never prints or prompts.
After every answer it recomputes which questions are relevant: answers to
questions that become irrelevant leave the case (they stay in the journal), and
any new emergency or urgent finding is returned as a live alert. `run()` drives
an `Interview` through a `Prompter` (the terminal one is in prompts.py; tests
use a scripted one), calling `autosave` after every change.

Answers are three-valued like the case file: a value, or `None` when the
clinician chose "unsure / not asked". A question with no entry is not yet asked.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from .case import FACTS, Case, validate_case
from .errors import InputError, Location, Problem
from .files import atomic_write
from .questionnaire import Question, Questionnaire
from .rules import Assessment, RuleSet
from .yamlio import load_json, read_text

DRAFT_FORMAT = "lbp-draft/1"


class Back:
    """The reply that means: go to the previous question."""

    def __repr__(self) -> str:
        return "BACK"


BACK = Back()


class NotAnswered:
    """The default of a question not yet answered (None means "answered: unsure")."""

    def __repr__(self) -> str:
        return "NOT_ANSWERED"


NOT_ANSWERED = NotAnswered()


@dataclass(frozen=True)
class Progress:
    number: int  # 1-based position among the questions currently relevant
    total: int
    section: str


@dataclass(frozen=True)
class LiveAlert:
    """A finding at emergency or urgent tier, shown the moment an answer raises it."""

    kind: str  # condition | alert
    name: str
    label: str
    tier: str
    tier_label: str
    time_frame: str
    action: str
    reason: str


@dataclass(frozen=True)
class ReviewRow:
    number: int
    question: Question
    value: Any
    shown: str


class Prompter(Protocol):
    def ask(self, question: Question, default: Any, progress: Progress) -> Any:
        """The answer (a value, None for unsure) or BACK. May raise KeyboardInterrupt."""

    def invalid(self, question: Question, message: str) -> None: ...

    def alert(self, alert: LiveAlert) -> None: ...

    def review(self, rows: list[ReviewRow]) -> str | None:
        """The id of a question to edit, or None to finish."""


class InvalidAnswer(ValueError):
    pass


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Interview:
    """The state of one interview: answers, position, journal."""

    def __init__(self, ruleset: RuleSet, answers: dict[str, Any] | None = None,
                 journal: list[dict[str, Any]] | None = None, assessed_on: str | None = None):
        if ruleset.questionnaire is None:
            raise InputError(f"{ruleset.directory}: this rule set has no interview.yaml")
        self.ruleset = ruleset
        self.questionnaire: Questionnaire = ruleset.questionnaire
        self.questions = self.questionnaire.questions
        self.answers: dict[str, Any] = dict(answers or {})
        self.journal: list[dict[str, Any]] = list(journal or [])
        self.assessed_on = assessed_on or dt.date.today().isoformat()
        self.position: int | None = None
        self.shown: dict[str, str] = {}  # live alerts shown: name -> tier
        self._settle()

    def _settle(self) -> None:
        """After answers were set from outside the flow: drop the irrelevant ones, go to the first
        unanswered question, and count what is already raised as shown."""
        self._drop_irrelevant()
        self.position = self._next_missing(0)
        self.shown = {a.name: a.tier for a in self.live_alerts()}

    def prefill(self, answers: dict[str, Any]) -> dict[str, str]:
        """Set answers given before the interview (a draft, --id); return {question: why refused}."""
        refused = {}
        for qid, value in answers.items():
            question = self.questionnaire.by_id.get(qid)
            if question is None:
                refused[qid] = "no longer in the questionnaire"
                continue
            try:
                self.answers[qid] = self.validate(question, value)
            except InvalidAnswer as err:
                refused[qid] = str(err)
        self._settle()
        return refused

    # ---------------------------------------------------------------- state

    def facts(self) -> dict[str, Any]:
        flat = {path: None for path in FACTS}
        for qid, value in self.answers.items():
            if qid in flat:
                flat[qid] = frozenset(value) if isinstance(value, list) else value
        return flat

    def relevant(self, question: Question, facts: dict[str, Any] | None = None) -> bool:
        """Asked unless its ask_when is known to be false."""
        if question.ask_when is None:
            return True
        return question.ask_when(facts if facts is not None else self.facts()) is not False

    def relevant_questions(self) -> list[Question]:
        facts = self.facts()
        return [q for q in self.questions if self.relevant(q, facts)]

    def missing(self) -> list[Question]:
        return [q for q in self.relevant_questions() if q.id not in self.answers]

    def current(self) -> Question | None:
        return None if self.position is None else self.questions[self.position]

    def default(self, question: Question) -> Any:
        """The current answer (None = unsure), or NOT_ANSWERED."""
        return self.answers.get(question.id, NOT_ANSWERED)

    def progress(self) -> Progress:
        relevant = self.relevant_questions()
        current = self.current()
        number = next((i for i, q in enumerate(relevant, 1) if q is current), len(relevant))
        return Progress(number, len(relevant), current.section_title if current else "Review")

    # ---------------------------------------------------------------- changes

    def answer(self, value: Any) -> list[LiveAlert]:
        """Record an answer to the current question; return new emergency/urgent alerts."""
        question = self.current()
        if question is None:
            raise InvalidAnswer("the interview is complete; choose a question to edit")
        value = self.validate(question, value)
        self.answers[question.id] = value
        self.journal.append({"at": _now(), "event": "answer", "question": question.id, "value": value})
        self._drop_irrelevant()
        self.position = self._next_missing(self.position + 1)  # type: ignore[operator]
        return self._new_alerts()

    def back(self) -> bool:
        """Go to the previous relevant question (its answer becomes the default)."""
        start = len(self.questions) if self.position is None else self.position
        facts = self.facts()
        for index in range(start - 1, -1, -1):
            if self.relevant(self.questions[index], facts):
                self.position = index
                self.journal.append({"at": _now(), "event": "back", "question": self.questions[index].id})
                return True
        return False

    def edit(self, qid: str) -> None:
        """Reopen a question from the review screen."""
        index = next(i for i, q in enumerate(self.questions) if q.id == qid)
        self.position = index
        self.journal.append({"at": _now(), "event": "edit", "question": qid})

    def validate(self, question: Question, value: Any) -> Any:
        """Check one answer with the case model itself; return it normalised."""
        if value is None:
            if question.id == "id":
                raise InvalidAnswer("the case needs an id")
            return None
        if question.kind == "multi" and isinstance(value, (set, frozenset, tuple)):
            value = [v for v, _ in question.choices if v in value]
        if question.kind == "number" and isinstance(value, float) and value.is_integer() and question.integer:
            value = int(value)
        data: dict[str, Any] = {"format": "lbp-case/1", "id": "x"}
        section, _, name = question.id.partition(".")
        if name:
            data[section] = {name: value}
        else:
            data[section] = value
        try:
            validate_case(data, "answer")
        except InputError as err:
            message = err.problems[0].message if err.problems else str(err)
            raise InvalidAnswer(message) from None
        return value

    def _drop_irrelevant(self) -> None:
        while True:
            facts = self.facts()
            dropped = [q for q in self.questions if q.id in self.answers and not self.relevant(q, facts)]
            if not dropped:
                return
            for q in dropped:
                self.journal.append({"at": _now(), "event": "dropped", "question": q.id,
                                     "value": self.answers.pop(q.id)})

    def _next_missing(self, start: int) -> int | None:
        facts = self.facts()
        order = list(range(start, len(self.questions))) + list(range(0, min(start, len(self.questions))))
        for index in order:
            q = self.questions[index]
            if q.id not in self.answers and self.relevant(q, facts):
                return index
        return None

    # ---------------------------------------------------------------- results

    def case_data(self) -> dict[str, Any]:
        """The case as data, in questionnaire order; unsure answers are written as null."""
        data: dict[str, Any] = {"format": "lbp-case/1"}
        for q in self.questions:
            if q.id not in self.answers:
                continue
            value = self.answers[q.id]
            section, _, name = q.id.partition(".")
            if not name:
                data[section] = value
            elif value is not None or q.is_fact:
                data.setdefault(section, {})[name] = value
        data["assessed_on"] = self.assessed_on
        return data

    def case(self) -> Case:
        return validate_case(self.case_data(), "interview")

    def assessment(self) -> Assessment:
        return self.ruleset.assess_facts(self.facts(), str(self.answers.get("id") or ""))

    def live_alerts(self) -> list[LiveAlert]:
        a = self.assessment()
        manifest = self.ruleset.manifest
        out = []
        found = [("condition", n, t) for n, t in a.conditions.items()]
        found += [("alert", n, t) for n, t in a.alerts.items() if t is not None]
        for kind, name, tier in found:
            if not manifest.tiers[tier].show_at_once:
                continue
            rule = next((r for r in reversed(self.ruleset.rules) if r.raises == kind and r.name == name
                         and r.tier == tier and r.id in a.rules_fired), None)
            label = (manifest.conditions if kind == "condition" else manifest.alerts)[name].label
            tier_info = manifest.tiers[tier]
            out.append(LiveAlert(kind, name, label, tier, tier_info.label, tier_info.time_frame,
                                 (rule.action if rule and rule.action else tier_info.action),
                                 rule.reason.strip() if rule else ""))
        return out

    def _new_alerts(self) -> list[LiveAlert]:
        rank = self.ruleset.tier_rank
        new = []
        for alert in self.live_alerts():
            seen = self.shown.get(alert.name)
            if seen is None or rank[alert.tier] < rank[seen]:
                new.append(alert)
                self.shown[alert.name] = alert.tier
        return new

    def review_rows(self) -> list[ReviewRow]:
        rows = []
        for number, q in enumerate(self.relevant_questions(), 1):
            value = self.answers.get(q.id)
            rows.append(ReviewRow(number, q, value, describe_answer(q, value, q.id in self.answers)))
        return rows

    # ---------------------------------------------------------------- drafts

    def to_draft(self, out_dir: Path | None = None) -> dict[str, Any]:
        current = self.current()
        return {
            "format": DRAFT_FORMAT, "updated": _now(), "questionnaire": self.questionnaire.version,
            "rules_version": self.ruleset.version, "out_dir": str(out_dir) if out_dir else None,
            "assessed_on": self.assessed_on,
            "position": current.id if current else None, "answers": self.answers, "journal": self.journal,
        }

    def save_draft(self, path: Path, out_dir: Path | None = None) -> None:
        atomic_write(path, json.dumps(self.to_draft(out_dir), indent=1, default=str) + "\n", force=True, mode=0o600)

    @classmethod
    def from_draft(cls, ruleset: RuleSet, path: Path) -> tuple["Interview", dict[str, Any], list[str]]:
        """Resume: every saved answer is checked again against the current questionnaire."""
        name = str(path)
        data = load_json(read_text(path), name)
        if not isinstance(data, dict) or data.get("format") != DRAFT_FORMAT:
            raise InputError.from_problems([Problem(Location(name), f"not an lbp-assess draft ({DRAFT_FORMAT})")])
        interview = cls(ruleset, {}, data.get("journal") or [], data.get("assessed_on"))
        refused = interview.prefill(data.get("answers") or {})
        notes = [f"{qid}: {why}; " + ("answer dropped" if qid not in interview.questionnaire.by_id
                                      else "it will be asked again") for qid, why in refused.items()]
        return interview, data, notes

    @classmethod
    def from_case(cls, ruleset: RuleSet, case: Case) -> "Interview":
        """Pre-fill from a case file: every field written in the file counts as answered."""
        answers: dict[str, Any] = {}
        for field in case.model_fields_set:
            value = getattr(case, field)
            if field in ("id", "assessor"):
                answers[field] = value
            elif hasattr(value, "model_fields_set"):
                for name in value.model_fields_set:
                    answers[f"{field}.{name}"] = getattr(value, name)
        known = {q.id for q in ruleset.questionnaire.questions} if ruleset.questionnaire else set()
        return cls(ruleset, {k: v for k, v in answers.items() if k in known},
                   assessed_on=case.assessed_on.isoformat() if case.assessed_on else None)


def describe_answer(question: Question, value: Any, answered: bool = True) -> str:
    if not answered:
        return "not asked"
    if value is None:
        if question.kind == "text":
            return "-"
        return "not recorded" if question.optional else "unsure / not asked"
    if question.kind == "yes_no":
        return "yes" if value else "no"
    if question.kind == "choice":
        return question.choice_label(value)
    if question.kind == "multi":
        return ", ".join(question.choice_label(v) for v in value) or "none"
    if question.kind == "items":
        return " ".join(map(str, value))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value} {question.unit}".strip() if question.unit and question.unit != "/10" else (
        f"{value}/10" if question.unit == "/10" else str(value))


def run(interview: Interview, prompter: Prompter, autosave: Callable[[Interview], None]) -> None:
    """Drive the interview to the end of the review screen."""
    while True:
        question = interview.current()
        if question is None:
            edit = prompter.review(interview.review_rows())
            if edit is None:
                return
            interview.edit(edit)
            autosave(interview)
            continue
        reply = prompter.ask(question, interview.default(question), interview.progress())
        if reply is BACK:
            interview.back()
            autosave(interview)
            continue
        try:
            alerts = interview.answer(reply)
        except InvalidAnswer as err:
            prompter.invalid(question, str(err))
            continue
        autosave(interview)
        for alert in alerts:
            prompter.alert(alert)
