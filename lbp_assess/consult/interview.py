"""The interview: a state machine over the questionnaire, and the loop that drives it.

`Interview` holds the answers and where we are; it never prints or prompts.
Facts come from the answers through the one conversion every path uses
(answers -> case data -> `Case` -> `facts_of`), so the interview, `score`, the
note, `explain` and practice read the same facts for the same answers.

After every answer the engine recomputes which questions are relevant. A
follow-up whose gate is known false is skipped, and the answer its gate settles
(`if_skipped` in interview.yaml) is recorded in its place. An answer that an
interactive change makes irrelevant leaves the case (it stays in the journal,
and the driver says so); answers given from outside (a case file, a draft) are
kept as given, so a contradiction shows as a warning instead of vanishing.
Every change to what is raised is returned as an event: a panel for a finding
(re)raised at a show-at-once tier, a notice when a tier goes down or clears.
`conduct()` drives an `Interview` through a `Prompter` (prompts.py in a terminal;
tests use a scripted one), calling `autosave` after every change.

Answers are three-valued like the case file: a value, or `None` when the
clinician chose "unsure / not asked". A question with no entry is not yet asked.

Suggestions are not answers: at a follow-up visit the earlier answers to the
stable history are offered as each question's default (Enter keeps one), and
count only once given. A red-flag screening question never takes a suggestion.
An interview `follow_up_of` an earlier case asks the questionnaire's
since-last-visit questions first and records where it came from in the case.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..model.case import DRAFT_FORMAT, Case, FollowUpOf, Moment, before_birth, problems_from, validate_case
from ..base.errors import InputError, Location, Problem
from ..base.files import atomic_write
from ..engine.questionnaire import Question, Questionnaire, answer_problem
from ..engine.ruleset.model import Assessment, RuleSet
from ..base.yamlio import load_json, read_text
from ..engine.questionnaire import GO_BACK
from ..engine.answers import case_data, recorded_answers, relevant, resolve
from ..engine.governing import governing_plan
from ..engine.pending import domain, raised_whatever
from ..engine.words import outcome_label

#: The answers that must fit within the patient's life, in the order before_birth takes them.
_LIFETIME = ("patient.age", "onset.weeks_ago", "cauda_equina.onset_days")

#: The largest draft read back: a draft keeps every answer and, in its journal, every change, so it
#: may outgrow the 1 MB of a case file (a long note edited several times) and must still resume.
DRAFT_MAX_BYTES = 16 * 1024 * 1024


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
    """A change to a finding at a show-at-once tier (emergency, urgent), as an answer makes it.

    `change` is "raised" (new, or raised again after it had cleared), "higher",
    "lower" (still raised, at a lower tier) or "cleared"; `was` is the tier before.
    """

    kind: str  # condition | alert
    name: str
    label: str
    tier: str | None  # None when cleared
    tier_label: str
    time_frame: str
    action: str
    reason: str
    change: str = "raised"
    was: str | None = None
    rule_label: str = ""  # the governing rule's own label ("Possible symptomatic or ruptured ...")

    @property
    def is_red_flag(self) -> bool:
        return self.kind == "condition"


@dataclass(frozen=True)
class ReviewRow:
    number: int
    question: Question
    value: Any
    shown: str
    settled: bool = False  # recorded by an earlier answer (if_skipped), not asked


@dataclass(frozen=True)
class OpenCondition:
    """A red-flag condition (or a show-at-once alert) that unknown answers keep from being excluded,
    with the questions that would settle it."""

    kind: str  # condition | alert
    name: str
    label: str
    tier: str
    tier_label: str
    questions: tuple[Question, ...]  # askable now, in interview order
    unknown: tuple[str, ...]  # every unknown fact it rests on (also those no question can ask now)


@dataclass(frozen=True)
class Offer:
    """At a follow-up: a group of answers from the last visit offered whole ("same as last time?")."""

    label: str
    earlier: tuple[tuple[Question, Any], ...]  # relevant questions not yet answered, with the earlier answer


@dataclass(frozen=True)
class Dropped:
    """An answer that left the case because an edit made its question irrelevant."""

    question: Question
    value: Any


class Prompter(Protocol):
    def ask(self, question: Question, default: Any, progress: Progress) -> Any:
        """The answer (a value, None for unsure) or GO_BACK. May raise KeyboardInterrupt."""

    def invalid(self, question: Question, message: str) -> None: ...

    def alert(self, alert: LiveAlert) -> None:
        """Show a change to what is raised: a panel when raised or higher, a line otherwise."""

    def notice(self, text: str) -> None: ...

    def review(self, interview: "Interview") -> str | list[str] | None:
        """The id of a question to edit, several to ask in turn, or None to finish."""

    # Optional (a prompter without them never offers to save early):
    # offer_save_now(interview, alert) -> bool: save now, at an emergency?
    # saved_now(paths, left) -> bool: say what was written and what was left; go on asking?


class InvalidAnswer(ValueError):
    pass


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def now_here() -> str:
    """The time now on this machine's clock, with its UTC offset: when a consultation begins
    (the case's `assessed_at`)."""
    return dt.datetime.now().astimezone().replace(microsecond=0).isoformat()


class Interview:
    """The state of one interview: answers, position, journal."""

    def __init__(self, ruleset: RuleSet, answers: dict[str, Any] | None = None,
                 journal: list[dict[str, Any]] | None = None, assessed_on: str | None = None,
                 suggestions: dict[str, Any] | None = None, follow_up_of: dict[str, Any] | None = None,
                 assessed_at: str | None = None):
        if ruleset.questionnaire is None:
            raise InputError(f"{ruleset.directory}: this rule set has no interview.yaml")
        self.ruleset = ruleset
        self.questionnaire: Questionnaire = ruleset.questionnaire
        self.follow_up_of = follow_up_of  # case data of `follow_up_of`, or None for a first visit
        self.questions = self.questionnaire.follow_up_order() if follow_up_of else self.questionnaire.questions
        self.answers: dict[str, Any] = dict(answers or {})
        self.suggestions: dict[str, Any] = {}
        self.suggest(suggestions or {})
        self.journal: list[dict[str, Any]] = list(journal or [])
        self.assessed_on = assessed_on or (assessed_at[:10] if assessed_at else dt.date.today().isoformat())
        self.assessed_at = assessed_at  # when the consultation began (ISO, with its UTC offset), if known
        self.position: int | None = None
        self.editing: int | None = None  # index of the question being edited from the review
        self.dropped: list[Dropped] = []  # answers the last change made irrelevant
        self.refused: dict[str, str] = {}  # question id -> why: answers of a resumed draft refused, to ask again
        self.shown: dict[tuple[str, str], str] = {}  # (kind, name) -> tier of what is on screen
        self._cache: tuple[str, dict[str, Any], dict[str, Any]] | None = None
        self._settle()

    def _settle(self) -> None:
        """After answers were set from outside the flow: go to the first unanswered question, and
        count what is already raised as shown."""
        self.position = self._next_missing(0)
        self.shown = {(a.kind, a.name): a.tier for a in self.live_alerts()}  # type: ignore[misc]

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

    def suggest(self, values: dict[str, Any]) -> dict[str, str]:
        """Offer defaults that are not answers (earlier answers at a follow-up); return
        {question: why refused}. Red-flag screening questions are always asked afresh."""
        refused = {}
        screening = set(self.ruleset.manifest.screening)
        for qid, value in values.items():
            question = self.questionnaire.by_id.get(qid)
            if question is None:
                refused[qid] = "no longer in the questionnaire"
            elif qid in screening:
                refused[qid] = "a red-flag screening question is asked afresh at every visit"
            else:
                try:
                    self.suggestions[qid] = self.validate(question, value)
                except InvalidAnswer as err:
                    refused[qid] = str(err)
        return refused

    def keep_suggestions(self) -> list[str]:
        """Take the suggestion of every relevant unanswered question as its answer, as Enter would
        (a follow-up without a terminal); return the questions answered so."""
        kept = []
        while True:
            facts = self.facts()
            question = next((q for q in self.questions if q.id not in self.answers and q.id in self.suggestions
                             and self.relevant(q, facts)), None)
            if question is None:
                break
            self.answers[question.id] = self.suggestions[question.id]
            self.journal.append({"at": _now(), "event": "kept", "question": question.id,
                                 "value": self.suggestions[question.id]})
            kept.append(question.id)
        self._settle()
        return kept

    # ---------------------------------------------------------------- facts

    def _resolved(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(facts, settled answers): the answers, plus what skipped follow-ups settle."""
        key = json.dumps(self.answers, sort_keys=True, default=str)
        if self._cache is None or self._cache[0] != key:
            facts, settled = resolve(self.questionnaire, self.questions, self.answers, self.assessed_on,
                                     self.follow_up_of)
            self._cache = (key, facts, settled)
        return self._cache[1], self._cache[2]

    def facts(self) -> dict[str, Any]:
        """The flat facts the rules read, from `facts_of` like every other path."""
        return self._resolved()[0]

    def settled(self) -> dict[str, Any]:
        """Answers recorded by an earlier answer: skipped follow-ups and the value they settle."""
        return self._resolved()[1]

    def relevant(self, question: Question, facts: dict[str, Any] | None = None) -> bool:
        """Asked unless its ask_when is known to be false."""
        return relevant(question, facts if facts is not None else self.facts())

    def relevant_questions(self) -> list[Question]:
        facts = self.facts()
        return [q for q in self.questions if self.relevant(q, facts)]

    def missing(self) -> list[Question]:
        return [q for q in self.relevant_questions() if q.id not in self.answers]

    def current(self) -> Question | None:
        return None if self.position is None else self.questions[self.position]

    def default(self, question: Question) -> Any:
        """The current answer (None = unsure); else the suggestion (a follow-up's earlier answer);
        else an answer an edit removed (offered again, so undoing the edit takes one key a
        question) - never for a red-flag screening question, which is asked with nothing chosen
        (a journal is the draft's text, and an edited draft could otherwise put "no" under the
        pointer); else NOT_ANSWERED."""
        if question.id in self.answers:
            return self.answers[question.id]
        if question.id in self.suggestions:
            return self.suggestions[question.id]
        if question.id in self.ruleset.manifest.screening:
            return NOT_ANSWERED
        removed = [e.get("value") for e in self.journal
                   if e.get("event") == "dropped" and e.get("question") == question.id]
        if removed and removed[-1] is not None and answer_problem(question.id, removed[-1]) is None:
            return removed[-1]
        return NOT_ANSWERED

    def progress(self) -> Progress:
        relevant = self.relevant_questions()
        current = self.current()
        number = next((i for i, q in enumerate(relevant, 1) if q is current), len(relevant))
        return Progress(number, len(relevant), current.section_title if current else "Review")

    # ---------------------------------------------------------------- changes

    def answer(self, value: Any) -> list[LiveAlert]:
        """Record an answer to the current question; return the changes to what is raised.

        Answers that this change makes irrelevant leave the case; `dropped` lists them.
        """
        question = self.current()
        if question is None:
            raise InvalidAnswer("the interview is complete; choose a question to edit")
        value = self.validate(question, value)
        before = {q.id for q in self.relevant_questions()}
        self.answers[question.id] = value
        self.journal.append({"at": _now(), "event": "answer", "question": question.id, "value": value})
        self.dropped = self._drop_irrelevant(before)
        self.position = self._after(self.position)  # type: ignore[arg-type]
        return self._changes()

    def _after(self, index: int) -> int | None:
        """Where to go after answering question `index`: the next unanswered question, or, while
        editing from the review, every question up to the one being edited."""
        if self.editing is not None and index < self.editing:
            facts = self.facts()
            following = next((i for i in range(index + 1, len(self.questions))
                              if self.relevant(self.questions[i], facts)), None)
            if following is not None and following <= self.editing:
                return following
        self.editing = None
        return self._next_missing(index + 1)

    def back(self) -> bool:
        """Go to the previous relevant question (its answer becomes the default)."""
        start = len(self.questions) if self.position is None else self.position
        facts = self.facts()
        for index in range(start - 1, -1, -1):
            if self.relevant(self.questions[index], facts):
                if self.editing is None:
                    self.editing = start if start < len(self.questions) else None
                self.position = index
                self.journal.append({"at": _now(), "event": "back", "question": self.questions[index].id})
                return True
        return False

    def edit(self, qid: str) -> None:
        """Reopen a question from the review screen."""
        index = next(i for i, q in enumerate(self.questions) if q.id == qid)
        self.position = self.editing = index
        self.journal.append({"at": _now(), "event": "edit", "question": qid})

    def validate(self, question: Question, value: Any) -> Any:
        """Check one answer with the case model itself; return it normalised."""
        if value is None:
            if question.id == "id":
                raise InvalidAnswer("the case needs an id")
            return None
        if question.kind == "multi" and isinstance(value, (set, frozenset, tuple, list)):
            value = [v for v, _ in question.choices if v in value] if all(
                v in dict(question.choices) for v in value) else list(value)
        if question.kind == "number" and isinstance(value, float) and value.is_integer() and question.integer:
            value = int(value)
        problem = answer_problem(question.id, value)
        if problem is not None:
            raise InvalidAnswer(problem)
        if question.id in _LIFETIME:  # symptoms cannot begin before birth: said at once, not at the end
            given = {qid: value if qid == question.id else self.answers.get(qid) for qid in _LIFETIME}
            found = before_birth(*(given[qid] for qid in _LIFETIME))
            if found is not None:
                path, why = found
                raise InvalidAnswer(why if ".".join(path) == question.id else f"{why} ({'.'.join(path)})")
        return value

    def _drop_irrelevant(self, before: set[str]) -> list[Dropped]:
        """Drop answers to questions that were relevant before this change and are not now."""
        dropped = []
        while True:
            facts = self.facts()
            gone = [q for q in self.questions
                    if q.id in self.answers and q.id in before and not self.relevant(q, facts)]
            if not gone:
                return dropped
            for q in gone:
                value = self.answers.pop(q.id)
                dropped.append(Dropped(q, value))
                self.journal.append({"at": _now(), "event": "dropped", "question": q.id, "value": value})

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
        """The case as data, in questionnaire order: the answers and what skipped follow-ups
        settle. Unsure answers are written as null."""
        return case_data(self.questionnaire, {**self.answers, **self.settled()}, self.assessed_on,
                         self.follow_up_of, self.assessed_at)

    def case(self) -> Case:
        return validate_case(self.case_data(), "interview")

    def assessment(self) -> Assessment:
        return self.ruleset.assess_facts(self.facts(), str(self.answers.get("id") or ""))

    def live_alerts(self) -> list[LiveAlert]:
        """Everything raised now at a show-at-once tier, whatever the questions not yet reached
        are answered: a panel never rests on a question still to be asked (the aneurysm row at
        "abdominal pain: yes" waits for onset and "does it vary with movement?"), while a
        red-flag answer that raises a condition whatever follows is shown at once."""
        tiers = self.ruleset.manifest.tiers
        at_once = [name for name, tier in tiers.items() if tier.show_at_once]
        facts = self.facts()
        pending = {q.id: domain(self.ruleset, q) for q in self.missing() if q.is_fact and q.id in facts}
        return [alert for alert in self.raised() if tiers[alert.tier].show_at_once  # type: ignore[index]
                and (not pending or raised_whatever(self.ruleset, facts, pending, alert.kind, alert.name, at_once))]

    def urgency_set_by(self) -> list[LiveAlert]:
        """The conditions and alerts that set the urgency, with their actions."""
        set_by = set(self.assessment().urgency_set_by())
        return [alert for alert in self.raised() if (alert.kind, alert.name, alert.tier) in set_by]

    def raised(self) -> list[LiveAlert]:
        """Every condition and tiered alert raised now, with its tier and the governing rule's own
        label, time frame, reason and action (never the tier's generic time frame)."""
        a = self.assessment()
        manifest = self.ruleset.manifest
        fired = {r.id: r for r in self.ruleset.rules if r.id in set(a.rules_fired)}
        out = []
        found = [("condition", n, t) for n, t in a.conditions.items()]
        found += [("alert", n, t) for n, t in a.alerts.items() if t is not None]
        for kind, name, tier in found:
            plan = governing_plan(a, kind, name)
            rule = fired.get(plan.rule) if plan else None
            tier_info = manifest.tiers[tier]
            out.append(LiveAlert(kind, name, outcome_label(self.ruleset.manifest, kind, name), tier, tier_info.label,
                                 (plan.time_frame if plan else None) or tier_info.time_frame,
                                 (plan.action if plan else None) or tier_info.action,
                                 " ".join(rule.reason.split()) if rule else "",
                                 rule_label=plan.label if plan else ""))
        return out

    def _changes(self) -> list[LiveAlert]:
        """What changed since the last answer: raised, higher, lower or cleared."""
        rank = self.ruleset.tier_rank
        tiers = self.ruleset.manifest.tiers
        a = self.assessment()
        changes = []
        now = {(alert.kind, alert.name): alert for alert in self.live_alerts()}
        for key, alert in now.items():
            seen = self.shown.get(key)
            if seen is None:
                changes.append(alert)
            elif rank[alert.tier] < rank[seen]:  # type: ignore[index]
                changes.append(_with(alert, "higher", seen))
            elif rank[alert.tier] > rank[seen]:  # type: ignore[index]
                changes.append(_with(alert, "lower", seen))
        for (kind, name), seen in self.shown.items():
            if (kind, name) in now:
                continue
            tier = (a.conditions if kind == "condition" else a.alerts).get(name)
            if tier is None:
                changes.append(LiveAlert(kind, name, outcome_label(self.ruleset.manifest, kind, name), None, "", "", "", "",
                                         "cleared", seen))
            else:  # still raised, at a tier that is not shown at once
                info = tiers[tier]
                plan = governing_plan(a, kind, name)
                changes.append(LiveAlert(kind, name, outcome_label(self.ruleset.manifest, kind, name), tier, info.label,
                                         (plan.time_frame if plan else None) or info.time_frame,
                                         (plan.action if plan else None) or info.action, "", "lower", seen,
                                         plan.label if plan else ""))
        self.shown = {key: alert.tier for key, alert in now.items()}  # type: ignore[misc]
        return changes

    def open_conditions(self) -> list[OpenCondition]:
        """Red-flag conditions (and alerts of a show-at-once tier) not excluded because answers are
        unknown, with the relevant questions that would settle them. One entry per condition or alert,
        at its highest tier not excluded; one already raised at that tier or higher is left out."""
        a = self.assessment()
        manifest = self.ruleset.manifest
        rank = self.ruleset.tier_rank
        facts = self.facts()
        found: dict[tuple[str, str], OpenCondition] = {}
        for trace in a.trace():
            rule = trace.rule
            if trace.state != "not_excluded" or rule.tier is None:
                continue
            if rule.raises != "condition" and not manifest.tiers[rule.tier].show_at_once:
                continue
            held = (a.conditions if rule.raises == "condition" else a.alerts).get(rule.name)
            if held is not None and rank[held] <= rank[rule.tier]:
                continue
            key = (rule.raises, rule.name)
            unknown = [name for name, value in trace.facts.items() if value is None]
            before = found.get(key)
            if before is not None:
                unknown = list(dict.fromkeys([*before.unknown, *unknown]))
            higher = before is None or rank[rule.tier] < rank[before.tier]
            tier = rule.tier if higher else before.tier
            # the open row's own label at that tier ("Fever with back pain"), else the condition's
            label = (rule.label or outcome_label(self.ruleset.manifest, rule.raises, rule.name)) if higher else before.label
            questions = tuple(q for q in self.questions if q.id in unknown and self.relevant(q, facts))
            found[key] = OpenCondition(rule.raises, rule.name, " ".join(label.split()), tier,
                                       manifest.tiers[tier].label, questions, tuple(unknown))
        return sorted(found.values(), key=lambda o: rank[o.tier])

    def offer(self) -> Offer | None:
        """The group (interview.yaml `follow_up.offer_together`) to offer whole before the current
        question, when this is a follow-up, the current question is in it, and it was not yet
        offered. Only suggestions are offered: never a red-flag screening answer."""
        current = self.current()
        follow_up = self.questionnaire.follow_up
        if not self.follow_up_of or follow_up is None or current is None:
            return None
        decided = {e.get("group") for e in self.journal if e.get("event") == "offer"}
        facts = self.facts()
        for label, ids in follow_up.offer_together:
            if current.id not in ids or label in decided:
                continue
            earlier = tuple((self.questionnaire.by_id[qid], self.suggestions[qid]) for qid in ids
                            if qid in self.suggestions and qid not in self.answers
                            and self.relevant(self.questionnaire.by_id[qid], facts))
            return Offer(label, earlier) if earlier else None
        return None

    def take_offer(self, offer: Offer, same: bool) -> list[LiveAlert]:
        """Keep every earlier answer of the group (same as last time), or ask each (not the same)."""
        self.journal.append({"at": _now(), "event": "offer", "group": offer.label, "same": same})
        if same:
            for question, value in offer.earlier:
                self.answers[question.id] = value
                self.journal.append({"at": _now(), "event": "kept", "question": question.id, "value": value})
            self.position = self._next_missing(self.position or 0)
        return self._changes()

    def not_asked(self) -> list[Question]:
        """Relevant questions with no answer yet (what a consultation saved early leaves)."""
        return self.missing()

    def review_rows(self) -> list[ReviewRow]:
        """Every question with an answer or asked now, in order; settled follow-ups marked."""
        facts, settled = self._resolved()
        rows: list[ReviewRow] = []
        for q in self.questions:
            if q.id in settled:
                rows.append(ReviewRow(len(rows) + 1, q, settled[q.id], q.describe(settled[q.id]), True))
            elif q.id in self.answers or self.relevant(q, facts):
                value = self.answers.get(q.id)
                rows.append(ReviewRow(len(rows) + 1, q, value, q.describe(value, q.id in self.answers)))
        return rows

    # ---------------------------------------------------------------- drafts

    def to_draft(self) -> dict[str, Any]:
        current = self.current()
        return {
            "format": DRAFT_FORMAT, "updated": _now(), "questionnaire": self.questionnaire.version,
            "rules_version": self.ruleset.version, "assessed_on": self.assessed_on,
            **({"assessed_at": self.assessed_at} if self.assessed_at else {}),
            "position": current.id if current else None, "answers": self.answers, "journal": self.journal,
            **({"suggestions": self.suggestions, "follow_up_of": self.follow_up_of} if self.follow_up_of else {}),
        }

    def save_draft(self, path: Path) -> None:
        atomic_write(path, json.dumps(self.to_draft(), indent=1, default=str) + "\n", force=True, mode=0o600)

    @classmethod
    def from_draft(cls, ruleset: RuleSet, path: Path) -> tuple["Interview", list[str]]:
        """Resume: the draft is checked, and every saved answer again against the questionnaire."""
        name = str(path)
        text = read_text(path, max_bytes=DRAFT_MAX_BYTES)
        try:
            data = load_json(text, name)
        except InputError:
            if name.lower().endswith(".json"):
                raise  # a damaged draft: where it is damaged
            raise InputError.from_problems([Problem(Location(name), f"not an lbp-assess draft ({DRAFT_FORMAT}): a "
                                                    "draft is the JSON file `assess` autosaves (lbp-draft-*.json)")]
                                           ) from None
        if not isinstance(data, dict) or data.get("format") != DRAFT_FORMAT:
            raise InputError.from_problems([Problem(Location(name), f"not an lbp-assess draft ({DRAFT_FORMAT})")])
        try:
            draft = Draft.model_validate(data)
        except ValidationError as exc:
            raise InputError.from_problems(problems_from(exc, name, text, model=Draft)) from None
        follow_up_of = draft.follow_up_of.model_dump(mode="json", exclude_none=True) if draft.follow_up_of else None
        interview = cls(ruleset, {}, draft.journal, draft.assessed_on.isoformat() if draft.assessed_on else None,
                        draft.suggestions, follow_up_of,
                        draft.assessed_at.isoformat() if draft.assessed_at else None)
        refused = interview.prefill(draft.answers)
        interview.refused = {qid: why for qid, why in refused.items() if qid in interview.questionnaire.by_id}
        notes = [f"{qid}: {why}; " + ("it will be asked again" if qid in interview.refused else "answer dropped")
                 for qid, why in refused.items()]
        return interview, notes

    @classmethod
    def from_case(cls, ruleset: RuleSet, case: Case) -> "Interview":
        """Pre-fill from a case file: every field written in the file counts as answered."""
        return cls(ruleset, recorded_answers(case, ruleset.questionnaire),
                   assessed_on=case.assessed_on.isoformat() if case.assessed_on else None,
                   assessed_at=case.assessed_at.isoformat() if case.assessed_at else None)


class Draft(BaseModel):
    """An autosaved interview (`lbp-draft/1`): checked before anything in it is used."""

    model_config = ConfigDict(extra="ignore", strict=True)

    format: str
    answers: dict[str, Any]
    journal: list[dict[str, Any]] = []
    assessed_on: Optional[dt.date] = Field(None, strict=False)
    assessed_at: Optional[Moment] = None
    position: Optional[str] = None
    suggestions: dict[str, Any] = {}
    follow_up_of: Optional[FollowUpOf] = None


def _with(alert: LiveAlert, change: str, was: str) -> LiveAlert:
    return LiveAlert(alert.kind, alert.name, alert.label, alert.tier, alert.tier_label, alert.time_frame,
                     alert.action, alert.reason, change, was, alert.rule_label)


def _saved_at_emergency(interview: Interview, prompter: Prompter, save_now: Callable[[Interview], Any] | None,
                        alert: LiveAlert) -> bool:
    """At an emergency, with questions left: offer to save now; True when the case was saved and the
    clinician stopped there (False: not offered, declined, or saved and going on)."""
    offer = getattr(prompter, "offer_save_now", None)
    if save_now is None or offer is None or interview.current() is None or not interview.answers.get("id") \
            or not offer(interview, alert):
        return False
    written = save_now(interview)
    return not prompter.saved_now(written, interview.not_asked())  # type: ignore[attr-defined]


def conduct(interview: Interview, prompter: Prompter, autosave: Callable[[Interview], None],
        accept: Callable[[Question, Any], str | None] = lambda q, v: None,
        save_now: Callable[[Interview], Any] | None = None, offer_first: bool = False) -> str:
    """Drive the interview to the end of the review screen; return "review" (finished there) or
    "saved" (saved at an emergency, and the clinician chose not to go on).

    `accept` may refuse an answer the questionnaire allows (an id whose files already exist).
    `save_now` writes the case and note with what is known (at an emergency, when the prompter
    offers it and the clinician takes it) and returns what it wrote, for the prompter to show.
    `offer_first`: the answers already raise an emergency not yet saved (a consultation resumed after
    it stopped at the offer): it is offered again before the next question.
    """
    pending: list[str] = []  # questions chosen at the review to ask in turn
    if offer_first:
        top = min(interview.ruleset.tier_rank.values())
        standing = [a for a in interview.live_alerts() if interview.ruleset.tier_rank[a.tier] == top]  # type: ignore[index]
        if standing and _saved_at_emergency(interview, prompter, save_now, standing[0]):
            return "saved"
    while True:
        question = interview.current()
        if question is None:
            while pending and (interview.answers.get(pending[0]) is not None
                               or not interview.relevant(interview.questionnaire.by_id[pending[0]])):
                pending.pop(0)  # settled by an answer given since, or no longer asked
            if pending:
                interview.edit(pending.pop(0))
                autosave(interview)
                continue
            edit = prompter.review(interview)
            if edit is None:
                return "review"
            if isinstance(edit, list):
                pending = [qid for qid in edit if qid in interview.questionnaire.by_id]
                if not pending:
                    continue
                edit = pending.pop(0)
            interview.edit(edit)
            autosave(interview)
            continue
        offer = interview.offer()
        same_as_before = getattr(prompter, "same_as_last_time", None)
        if offer is not None and same_as_before is not None:
            reply = same_as_before(offer, interview.progress())
            if reply is GO_BACK:
                interview.back()
            else:
                for change in interview.take_offer(offer, bool(reply)):
                    prompter.alert(change)
            autosave(interview)
            continue
        reply = prompter.ask(question, interview.default(question), interview.progress())
        if reply is GO_BACK:
            interview.back()
            autosave(interview)
            continue
        try:
            refused = accept(question, reply)
            if refused:
                raise InvalidAnswer(refused)
            changes = interview.answer(reply)
        except InvalidAnswer as err:
            prompter.invalid(question, str(err))
            continue
        autosave(interview)
        for change in changes:
            prompter.alert(change)
        if interview.dropped:
            prompter.notice("Answers no longer relevant after this change, removed: " + "; ".join(
                f"{d.question.label} ({d.question.describe(d.value)})" for d in interview.dropped))
        top = min(interview.ruleset.tier_rank.values())
        emergency = [c for c in changes if c.change in ("raised", "higher") and c.tier is not None
                     and interview.ruleset.tier_rank[c.tier] == top]
        if emergency and _saved_at_emergency(interview, prompter, save_now, emergency[0]):
            return "saved"
