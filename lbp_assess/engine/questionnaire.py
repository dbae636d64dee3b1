"""The interview questionnaire (`<rules>/interview.yaml`): questions as data.

A question's id is the case-file path it fills (`pain.leg_side`, `notes.pmh`,
`id`); its kind, allowed values and limits come from the case vocabulary, so
the questionnaire cannot drift from the case format. Checks run with the rule
set: every fact asked exactly once, `ask_when` names only facts asked earlier,
and red-flag screening questions are always asked.

A follow-up skipped because its gate is known false may declare what that
settles (`if_skipped: false`: "no weakness" settles "no weakness in both legs"),
and a choice question may leave out values an earlier answer already ruled out
(`not_offered: [none]` for how far the leg symptoms reach, asked only when there
are leg symptoms). How an answer reads (`describe`) lives here too, beside the
labels, so the note, explain and practice word answers alike.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Optional, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..model import expr
from ..model.case import FACTS, FORMAT, Notes, validate_case
from ..base.errors import InputError, Location, did_you_mean
from ..model.expr import ExprError, Symbol, Type

FILE = "interview.yaml"
def quantity(value: int | float, unit: str | None) -> str:
    """A number with its unit, as a sentence says it: "1 day", "2 days", "0.5 weeks", "7/10",
    "40 %" (a unit that is a plural noun is said in the singular for exactly one)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not unit:
        return str(value)
    if unit.startswith("/"):
        return f"{value}{unit}"
    if value == 1 and unit.endswith("s") and unit[:-1].isalpha():
        unit = unit[:-1]
    return f"{value} {unit}"


#: Other units a number may be typed in, by the question's unit, with the factor to it (not clinical
#: knowledge: a week has 7 days). "2 days" answers a duration asked in weeks.
UNIT_WORDS: dict[str, dict[tuple[str, ...], float]] = {
    "weeks": {("d", "day", "days"): 1 / 7, ("w", "wk", "wks", "week", "weeks"): 1,
              ("mo", "month", "months"): 52 / 12, ("y", "yr", "yrs", "year", "years"): 52},
    "days": {("d", "day", "days"): 1, ("w", "wk", "wks", "week", "weeks"): 7},
    "minutes": {("min", "mins", "minute", "minutes"): 1, ("h", "hr", "hrs", "hour", "hours"): 60},
    "years": {("y", "yr", "yrs", "year", "years"): 1},
}
#: Case-file fields asked that are not clinical facts.
META = ("id", "assessor", *(f"notes.{name}" for name in Notes.model_fields))


class GoBack:
    """A prompter's reply that is not an answer: go back to the previous question (or menu).
    One sentinel for the interview, practice and the terminal prompter."""

    def __repr__(self) -> str:
        return "GO_BACK"


GO_BACK = GoBack()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class QuestionSpec(_Strict):
    id: str
    section: str
    label: str
    text: str
    help: Optional[str] = None
    form_help: Optional[str] = None  # help in a form (FHIR), where a number is typed in its unit only
    unit: Optional[str] = None
    choices: Optional[dict[str, str]] = None
    items: Optional[list[str]] = None
    ask_when: Optional[str] = None
    if_skipped: Optional[Any] = None
    not_offered: Optional[list[str]] = None
    optional: bool = False
    duration: bool = False  # how long ago: the note writes it the clinical way ("3/7", "2/52")


class OfferTogetherSpec(_Strict):
    label: str
    questions: list[str]


class FollowUpSpec(_Strict):
    section: str
    ask_first: list[str] = []
    reworded: dict[str, str] = {}
    offer_earlier: list[str] = []
    advance_with_time: list[str] = []
    offer_together: list[OfferTogetherSpec] = []


class NegativesSpec(_Strict):
    when: str
    facts: list[str]
    text: str
    # When not every fact is "no": each one answered "no" is still listed ("Numbness: no" beside
    # pins and needles), not only those that would change the result.
    each: bool = False


class RecordNoteSpec(_Strict):
    headings: dict[str, list[str]]
    negatives_together: list[NegativesSpec] = []


class QuestionnaireSpec(_Strict):
    title: str
    version: str
    date: Optional[dt.date] = Field(None, strict=False)  # when this version was published (FHIR Questionnaire.date)
    sections: dict[str, str]
    questions: list[QuestionSpec]
    follow_up: Optional[FollowUpSpec] = None
    record_note: Optional[RecordNoteSpec] = None


@dataclass(eq=False)
class Question:
    id: str
    section: str
    section_title: str
    label: str
    text: str
    help: str | None
    unit: str | None
    kind: str  # yes_no | choice | multi | number | scale | text | items
    choices: tuple[tuple[str, str], ...]  # (value, label)
    items: tuple[str, ...]
    minimum: float | None
    maximum: float | None
    integer: bool
    optional: bool
    ask_when: Callable[[dict[str, Any]], Any] | None
    ask_when_text: str | None
    if_skipped: Any = None  # the answer settled when ask_when is known false (None: stays unknown)
    not_offered: tuple[str, ...] = ()  # values valid in a case file but not offered at the prompt
    form_help: str | None = None  # the help a form shows (FHIR), when it differs from the prompt's
    duration: bool = False  # a span of time (weeks or days): the note writes "3/7", "2/52", "10 days"

    def choice_label(self, value: Any) -> str:
        return dict(self.choices).get(value, str(value))

    @property
    def offered(self) -> tuple[tuple[str, str], ...]:
        """The choices shown at the prompt."""
        return tuple((v, label) for v, label in self.choices if v not in self.not_offered)

    def parse_number(self, text: str) -> int | float:
        """A typed number, in the question's unit or another one ("2 days" for a duration in weeks).

        Raises ValueError with what to type instead."""
        match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([a-z]*)", text.strip().lower())
        if match is None and re.fullmatch(r"-\s*[0-9]*\.?[0-9]+\s*[a-z]*", text.strip().lower()):
            least = f"{self.minimum:g}" if self.minimum is not None else "0"
            raise ValueError(f"At least {least} (a negative number is not an answer here)")
        if match is None:
            blank = "not recorded" if self.blank_not_recorded else "unsure"  # as describe() shows a blank answer
            raise ValueError(f"Enter a number (blank = {blank}, < = back)")
        value, word = float(match[1]), match[2]
        if word:
            factors = UNIT_WORDS.get(self.unit or "", {})
            factor = next((f for words, f in factors.items() if word in words), None)
            if factor is None:
                other = ", ".join(words[0] for words in factors) or "no other unit"
                raise ValueError(f"Enter a number of {self.unit or 'units'} (or with one of: {other})")
            value = round(value * factor, 2)
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"At least {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"At most {self.maximum:g}")
        if self.integer and not value.is_integer():
            raise ValueError("Enter a whole number")
        return int(value) if self.integer or value.is_integer() else value

    def describe(self, value: Any, answered: bool = True) -> str:
        """How an answer reads in the review, the note, explain and practice."""
        if not answered:
            return "not asked"
        if value is None:
            if self.kind == "text":
                return "-"
            # a blank optional typed answer is not written; any other None was answered unsure
            return "not recorded" if self.blank_not_recorded else "unsure / not asked"
        if self.kind == "yes_no":
            return "yes" if value else "no"
        if self.kind == "choice":
            return self.choice_label(value)
        if self.kind == "multi":
            return ", ".join(self.choice_label(v) for v in value) or "none"
        if self.kind == "items":
            return " ".join(map(str, value))
        return quantity(value, self.unit)

    @property
    def is_fact(self) -> bool:
        return self.id in FACTS

    @property
    def blank_not_recorded(self) -> bool:
        """An optional typed answer (a PSFS activity or score, the ODI): left blank, it is not
        recorded (nothing written), never "unsure"."""
        return self.optional and self.kind in ("text", "number", "scale")


@dataclass(frozen=True)
class FollowUp:
    """How a follow-up visit is asked (interview.yaml `follow_up`)."""

    section: str  # the heading of the questions asked first
    ask_first: tuple[str, ...]
    reworded: dict[str, str]
    offer_earlier: tuple[str, ...]  # stable history: the earlier answer is the default
    advance_with_time: tuple[str, ...]  # durations (weeks or days) that grow between visits
    # groups offered whole ("same as last time?"): (label, questions), each question in offer_earlier
    offer_together: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class NegativesTogether:
    """Negatives written together ("no pins and needles, numbness or weakness") when `when` holds."""

    when: Callable[[dict[str, Any]], Any]
    facts: tuple[str, ...]
    text: str
    each: bool = False  # otherwise, each fact answered "no" is listed on its own


@dataclass(frozen=True)
class RecordNote:
    """The record note's history headings (interview.yaml `record_note`): heading -> question ids."""

    headings: tuple[tuple[str, tuple[str, ...]], ...]
    negatives_together: tuple[NegativesTogether, ...] = ()

    def heading_of(self, qid: str) -> str | None:
        return next((title for title, ids in self.headings if qid in ids), None)


@dataclass(eq=False)
class Questionnaire:
    title: str
    version: str
    questions: list[Question]
    follow_up: FollowUp | None = None
    date: dt.date | None = None
    record_note: RecordNote | None = None

    def __post_init__(self) -> None:
        self.by_id = {q.id: q for q in self.questions}

    def follow_up_order(self) -> list[Question]:
        """The questions of a follow-up visit: what has changed first, under its own heading
        and wording, then the rest in their usual order."""
        if self.follow_up is None:
            return list(self.questions)
        f = self.follow_up
        first = [replace(self.by_id[qid], section_title=f.section, text=f.reworded.get(qid, self.by_id[qid].text))
                 for qid in f.ask_first]
        return first + [q for q in self.questions if q.id not in f.ask_first]

    def label(self, fact: str) -> str:
        q = self.by_id.get(fact)
        return q.label if q else fact


class Loader(Protocol):  # the rule loader's helpers (rules._Loader)
    texts: dict[str, str]

    def read(self, path: Any, model: type[BaseModel]) -> Any: ...

    def at(self, name: str, path: tuple[Any, ...], key: bool = False) -> Location: ...

    def problem(self, where: Location, message: str, severity: str = "error") -> None: ...

    def expr_problem(self, err: ExprError, text: Any, where: Location) -> None: ...


class _FactScope:
    """ask_when may name facts asked before the question."""

    def __init__(self, asked: set[str]):
        self.asked = asked

    def lookup(self, name: str) -> Symbol | None:
        if name not in FACTS:
            return None
        fact = FACTS[name]
        kind = "number" if fact.kind in ("int", "number") else fact.kind
        return Symbol(name, "fact", Type(kind, fact.values))

    def names(self) -> Iterable[str]:
        return list(FACTS)


def _kind(fact_kind: str, minimum: float | None, maximum: float | None) -> str:
    if fact_kind == "bool":
        return "yes_no"
    if fact_kind == "enum":
        return "choice"
    if fact_kind == "set":
        return "multi"
    if fact_kind == "int_list":
        return "items"
    if fact_kind == "int" and minimum == 0 and maximum == 10:
        return "scale"
    if fact_kind in ("int", "number"):
        return "number"
    return "text"


def answer_problem(qid: str, value: Any) -> str | None:
    """Why `value` is not a valid answer to question `qid` (checked by the case model itself), or None."""
    if value is None:
        return None
    data: dict[str, Any] = {"format": FORMAT, "id": "x"}
    section, _, name = qid.partition(".")
    data[section] = {name: value} if name else value
    try:
        validate_case(data, "answer")
    except InputError as err:
        return err.problems[0].message if err.problems else str(err)
    return None


def load(loader: Loader, path: Any, screening: list[str]) -> Questionnaire | None:
    """Load and check interview.yaml, reporting problems through the rule loader."""
    read = loader.read(path, QuestionnaireSpec)
    if read is None:
        return None
    spec, name = read
    questions: list[Question] = []
    seen: dict[str, Location] = {}
    ok = True
    for index, q in enumerate(spec.questions):
        where = loader.at(name, ("questions", index, "id"))
        if q.id in seen:
            loader.problem(where, f"question `{q.id}` is asked twice (first at {seen[q.id]})")
            ok = False
            continue
        seen[q.id] = where
        if q.id not in FACTS and q.id not in META:
            loader.problem(where, f"unknown case field `{q.id}`{did_you_mean(q.id, [*FACTS, *META])}")
            ok = False
            continue
        if q.section not in spec.sections:
            loader.problem(loader.at(name, ("questions", index, "section")),
                           f"unknown section `{q.section}`{did_you_mean(q.section, spec.sections)}; "
                           f"expected one of: {', '.join(spec.sections)}")
            ok = False
        fact = FACTS.get(q.id)
        fact_kind = fact.kind if fact else "text"
        minimum = fact.minimum if fact else None
        maximum = fact.maximum if fact else None
        kind = _kind(fact_kind, minimum, maximum)
        choices: tuple[tuple[str, str], ...] = ()
        if fact_kind in ("enum", "set"):
            given = q.choices or {}
            missing = [v for v in fact.values if v not in given]  # type: ignore[union-attr]
            extra = [v for v in given if v not in fact.values]  # type: ignore[union-attr]
            for value in extra:
                loader.problem(loader.at(name, ("questions", index, "choices", value), key=True),
                               f"`{value}` is not a value of {q.id}{did_you_mean(value, fact.values)}")  # type: ignore
            if missing:
                loader.problem(loader.at(name, ("questions", index, "choices")),
                               f"choices for {q.id} lack: {', '.join(missing)}")
            ok = ok and not missing and not extra
            choices = tuple((v, given.get(v, v)) for v in fact.values)  # type: ignore[union-attr]
        elif q.choices is not None:
            loader.problem(loader.at(name, ("questions", index, "choices"), key=True),
                           f"{q.id} is {fact_kind if fact else 'free text'}; only choice questions have choices")
            ok = False
        if (q.items is not None) != (fact_kind == "int_list"):
            loader.problem(where, f"`items` belongs to list questions such as psychosocial.start_back, not {q.id}")
            ok = False
        ask_when = None
        if q.ask_when is not None:
            when_where = loader.at(name, ("questions", index, "ask_when"))
            if q.id in screening:
                loader.problem(when_where, f"{q.id} is a red-flag screening question and must always be asked; "
                                           "remove its ask_when")
                ok = False
            try:
                node = expr.parse(q.ask_when)
                if expr.check(node, _FactScope(set())).kind != "bool":
                    raise ExprError("ask_when must be a yes/no condition")
                later = [r.name for r in expr.references(node) if r.name not in seen or r.name == q.id]
                if later:
                    raise ExprError(f"ask_when refers to `{later[0]}`, which is not asked before this question")
                ask_when = expr.compile_expression(node)
            except ExprError as err:
                loader.expr_problem(err, q.ask_when, when_where)
                ok = False
        if q.duration and q.unit not in ("weeks", "days"):
            loader.problem(loader.at(name, ("questions", index, "duration")),
                           f"{q.id}: a duration is measured in weeks or days, not {q.unit or 'no unit'}")
            ok = False
        ok = _check_settled(loader, name, index, q, fact_kind, choices) and ok
        questions.append(Question(
            q.id, q.section, spec.sections.get(q.section, q.section), q.label, q.text, q.help, q.unit, kind,
            choices, tuple(q.items or ()), minimum, maximum, fact_kind == "int", q.optional, ask_when, q.ask_when,
            q.if_skipped, tuple(q.not_offered or ()), q.form_help, q.duration,
        ))
    for fact in FACTS:
        if fact not in seen:
            loader.problem(Location(name, 1, 1), f"fact `{fact}` is never asked; add a question for it")
            ok = False
    if "id" not in seen:
        loader.problem(Location(name, 1, 1), "the case `id` is never asked; add a question for it")
        ok = False
    follow_up = _follow_up(loader, name, spec, {q.id: q for q in questions}, screening) if spec.follow_up else None
    ok = ok and (spec.follow_up is None or follow_up is not None)
    record = _record_note(loader, name, spec, questions) if spec.record_note else None
    ok = ok and (spec.record_note is None or record is not None)
    return Questionnaire(spec.title, spec.version, questions, follow_up, spec.date, record) if ok else None


def _record_note(loader: Loader, name: str, spec: QuestionnaireSpec, questions: list[Question]) -> RecordNote | None:
    """Check `record_note`: every question but the id, the assessor and list items under exactly one
    heading (a question named outright wins over its section), and the negatives written together."""
    r = spec.record_note
    assert r is not None
    problems = 0
    by_id = {q.id: q for q in questions}
    sections = {q.id.partition(".")[0] for q in questions}
    named: dict[str, str] = {}
    for title, entries in r.headings.items():
        for index, entry in enumerate(entries):
            if entry not in by_id and entry not in sections:
                loader.problem(loader.at(name, ("record_note", "headings", title, index)),
                               f"`{entry}` is neither a question nor a case section"
                               f"{did_you_mean(entry, [*by_id, *sections])}")
                problems += 1
            elif entry in named:
                loader.problem(loader.at(name, ("record_note", "headings", title, index)),
                               f"`{entry}` is already under {named[entry]}")
                problems += 1
            else:
                named[entry] = title
    headings: dict[str, list[str]] = {title: [] for title in r.headings}
    for q in questions:
        if q.id in ("id", "assessor") or q.kind == "items":
            continue
        title = named.get(q.id) or named.get(q.id.partition(".")[0])
        if title is None:
            loader.problem(loader.at(name, ("record_note", "headings")), f"`{q.id}` is under no heading")
            problems += 1
            continue
        headings[title].append(q.id)
    together = []
    for index, group in enumerate(r.negatives_together):
        where = loader.at(name, ("record_note", "negatives_together", index))
        unknown = [f for f in group.facts if f not in by_id or by_id[f].kind != "yes_no"]
        if unknown:
            loader.problem(where, f"negatives_together: `{unknown[0]}` is not a yes/no question")
            problems += 1
            continue
        try:
            node = expr.parse(group.when)
            if expr.check(node, _FactScope(set())).kind != "bool":
                raise ExprError("`when` must be a yes/no condition")
            together.append(NegativesTogether(expr.compile_expression(node), tuple(group.facts), group.text,
                                              group.each))
        except ExprError as err:
            loader.expr_problem(err, group.when, loader.at(name, ("record_note", "negatives_together", index, "when")))
            problems += 1
    if problems:
        return None
    return RecordNote(tuple((t, tuple(ids)) for t, ids in headings.items()), tuple(together))


def _follow_up(loader: Loader, name: str, spec: QuestionnaireSpec, questions: dict[str, Question],
               screening: list[str]) -> FollowUp | None:
    """Check `follow_up`: known questions; what is asked first is gated only by what is asked before
    it there; no red-flag screening answer offered from the last visit; durations in weeks or days."""
    f = spec.follow_up
    assert f is not None
    problems = 0

    def refuse(key: tuple[Any, ...], message: str) -> None:
        nonlocal problems
        problems += 1
        loader.problem(loader.at(name, ("follow_up", *key)), message)

    for key in ("ask_first", "offer_earlier", "advance_with_time"):
        for index, qid in enumerate(getattr(f, key)):
            if qid not in questions:
                refuse((key, index), f"unknown question `{qid}`{did_you_mean(qid, questions)}")
    for qid in f.reworded:
        if qid not in f.ask_first:
            refuse(("reworded", qid), f"`{qid}` is not in ask_first; only questions asked first are reworded")
    for index, qid in enumerate(f.ask_first):
        question = questions.get(qid)
        if question is not None and question.ask_when is not None:
            before = set(f.ask_first[:index])
            later = [r.name for r in expr.references(expr.parse(question.ask_when_text or ""))
                     if r.name not in before]
            if later:
                refuse(("ask_first", index), f"`{qid}` is asked when `{later[0]}` allows, which is not asked "
                                             "before it in ask_first")
    for index, qid in enumerate(f.offer_earlier):
        if qid in screening or qid == "id":
            refuse(("offer_earlier", index), f"`{qid}` is asked afresh at every visit"
                   + (" (a red-flag screening question)" if qid in screening else ""))
    for index, qid in enumerate(f.advance_with_time):
        question = questions.get(qid)
        if question is not None and (qid not in f.offer_earlier or question.unit not in ("weeks", "days")):
            refuse(("advance_with_time", index), f"`{qid}` must be in offer_earlier and measured in weeks or days")
    grouped: set[str] = set()
    for index, group in enumerate(f.offer_together):
        for number, qid in enumerate(group.questions):
            if qid not in questions:
                refuse(("offer_together", index, "questions", number), f"unknown question `{qid}`"
                                                                      f"{did_you_mean(qid, questions)}")
            elif qid not in f.offer_earlier:
                refuse(("offer_together", index, "questions", number),
                       f"`{qid}` must be in offer_earlier to be offered from the last visit")
            elif qid in grouped:
                refuse(("offer_together", index, "questions", number), f"`{qid}` is in two groups")
            grouped.add(qid)
    if problems:
        return None
    return FollowUp(f.section, tuple(f.ask_first), dict(f.reworded), tuple(f.offer_earlier),
                    tuple(f.advance_with_time),
                    tuple((g.label, tuple(g.questions)) for g in f.offer_together))


def _check_settled(loader: Loader, name: str, index: int, q: QuestionSpec, fact_kind: str,
                   choices: tuple[tuple[str, str], ...]) -> bool:
    """`if_skipped` only beside an `ask_when`, with a valid value; `not_offered` only real choices."""
    ok = True
    if q.if_skipped is not None:
        where = loader.at(name, ("questions", index, "if_skipped"))
        if q.ask_when is None:
            loader.problem(where, f"{q.id}: if_skipped needs an ask_when (it is the answer settled when "
                                  "ask_when is known to be false)")
            ok = False
        elif q.id not in FACTS:
            loader.problem(where, f"{q.id}: if_skipped is only for clinical facts")
            ok = False
        elif (why := answer_problem(q.id, q.if_skipped)) is not None:
            loader.problem(where, f"{q.id}: if_skipped {q.if_skipped!r} is not a valid answer: {why}")
            ok = False
    if q.not_offered:
        where = loader.at(name, ("questions", index, "not_offered"))
        values = [v for v, _ in choices]
        unknown = [v for v in q.not_offered if v not in values]
        if fact_kind not in ("enum", "set") or unknown:
            loader.problem(where, f"{q.id}: not_offered must list some of its choices"
                                  + (f"; not a choice: {', '.join(map(str, unknown))}" if unknown else ""))
            ok = False
        elif len(q.not_offered) >= len(values):
            loader.problem(where, f"{q.id}: not_offered leaves nothing to choose")
            ok = False
    return ok


def ask_when_node(question: Question) -> expr.Node | None:
    """A question's `ask_when` as a checked expression tree (for documenting it), or None."""
    if question.ask_when_text is None:
        return None
    node = expr.parse(question.ask_when_text)
    expr.check(node, _FactScope(set()))
    return node
