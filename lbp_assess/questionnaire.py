"""The interview questionnaire (`<rules>/interview.yaml`): questions as data.

A question's id is the case-file path it fills (`pain.leg_side`, `notes.pmh`,
`id`); its kind, allowed values and limits come from the case vocabulary, so
the questionnaire cannot drift from the case format. Checks run with the rule
set: every fact asked exactly once, `ask_when` names only facts asked earlier,
and red-flag screening questions are always asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Protocol

from pydantic import BaseModel, ConfigDict

from . import expr
from .case import FACTS
from .errors import Location, did_you_mean
from .expr import ExprError, Symbol, Type

FILE = "interview.yaml"
#: Case-file fields asked that are not clinical facts.
META = ("id", "assessor", "notes.presenting", "notes.pmh", "notes.dh", "notes.sh", "notes.goals")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class QuestionSpec(_Strict):
    id: str
    section: str
    label: str
    text: str
    help: Optional[str] = None
    unit: Optional[str] = None
    choices: Optional[dict[str, str]] = None
    items: Optional[list[str]] = None
    ask_when: Optional[str] = None
    optional: bool = False


class QuestionnaireSpec(_Strict):
    title: str
    version: str
    sections: dict[str, str]
    questions: list[QuestionSpec]


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

    def choice_label(self, value: Any) -> str:
        return dict(self.choices).get(value, str(value))

    @property
    def is_fact(self) -> bool:
        return self.id in FACTS


@dataclass(eq=False)
class Questionnaire:
    title: str
    version: str
    questions: list[Question]

    def __post_init__(self) -> None:
        self.by_id = {q.id: q for q in self.questions}

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
        questions.append(Question(
            q.id, q.section, spec.sections.get(q.section, q.section), q.label, q.text, q.help, q.unit, kind,
            choices, tuple(q.items or ()), minimum, maximum, fact_kind == "int", q.optional, ask_when, q.ask_when,
        ))
    for fact in FACTS:
        if fact not in seen:
            loader.problem(Location(name, 1, 1), f"fact `{fact}` is never asked; add a question for it")
            ok = False
    if "id" not in seen:
        loader.problem(Location(name, 1, 1), "the case `id` is never asked; add a question for it")
        ok = False
    return Questionnaire(spec.title, spec.version, questions) if ok else None
