"""The record note's history as a UK physiotherapy subjective, and the note's building blocks
(`Section`, `NoteLine`).

The headings and which answers each shows are data (`record_note` in interview.yaml): PC, HPC,
24-hour pattern, special questions, PMH, DH, SH and goals. A heading shows the answers given (a
"yes" by its label, a value as "label: value", an answer recorded as unsure as "label: unsure"),
then its free text; a heading with nothing to show is left out. Relevant negatives go under the
heading of their question (with leg symptoms, each neurological "no" is said), the red-flag screen
under special questions. Durations read the clinical way ("3/7", "2/52", "10 days").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..base.text import plain
from ..model import expr
from ..engine.questionnaire import Question, Questionnaire
from ..engine.ruleset.model import Assessment
from ..engine.words import answer_words
from ..model.case import FACTS
from .handover import words


@dataclass
class NoteLine:
    text: str  # may hold line breaks (free text); each is kept when rendered
    bullet: bool = False
    strong: bool = False
    literal: bool = False  # typed by a person (free text, a text answer): no Markdown emphasis or links
    level: int = 0  # 1: a list item nested under the bullet before it (the symptoms a CES card lists)


@dataclass
class Section:
    title: str
    lines: list[NoteLine] = field(default_factory=list)
    literal: bool = False  # answers from the case (the history): shown as typed in Markdown

    def add(self, text: str, bullet: bool = True, strong: bool = False) -> None:
        self.lines.append(NoteLine(" ".join(text.split()), bullet, strong, self.literal))

    def add_lines(self, text: str) -> None:
        """Free text: its line breaks are kept, spaces within each line tidied."""
        lines = [" ".join(line.split()) for line in plain(text, multiline=True).splitlines()]
        self.lines.append(NoteLine("\n".join(line for line in lines if line), bullet=True, literal=True))


def _screened(value: Any) -> str:
    return "NOT SCREENED" if value is None else ("YES" if value else "no")


def screen_notes(a: Assessment, ruleset: RuleSet) -> dict[str, list[str]]:
    """The rule set's lines for each red-flag screen that hold for this case (screen -> lines)."""
    m = ruleset.manifest
    found = {title: a.wording(m.screen_notes.get(title)) for title in m.screens}
    return {title: texts for title, texts in found.items() if texts}


def screen_line(title: str, facts: list[str], a: Assessment, q: Questionnaire,
                answers: dict[str, Any] | None = None) -> str:
    """"Cauda equina screen: negative (6 of 7 asked, 1 settled by an earlier answer)", with
    positives and unscreened items named. A follow-up skipped because an earlier answer settles
    it ("no weakness": no weakness in both legs) counts as settled, not as asked. Only the rule
    set's screening questions (ruleset.yaml `screening`, the `unscreened` of every output) make a
    screen INCOMPLETE; another question of the group left unknown is named as not asked, or as
    unsure when the case records it so (`answers`: the recorded answers, as the PC line shows them)."""
    screening = set(a.ruleset.manifest.screening)
    values = {f: a.facts.get(f) for f in facts}
    settled = sum(v is not None and f in q.by_id and not _asked(q.by_id[f], a) for f, v in values.items())
    known = sum(v is not None for v in values.values())
    asked = known - settled
    positive = [q.label(f) for f, v in values.items() if v is True]
    unscreened = [q.label(f) for f, v in values.items() if v is None and f in screening]
    unknown = [f for f, v in values.items() if v is None and f not in screening]
    unsure = [q.label(f) for f in unknown if answers is not None and f in answers]
    unasked = [q.label(f) for f in unknown if answers is None or f not in answers]
    if positive:
        shown = f"POSITIVE - {', '.join(positive)}"
    elif not known:
        shown = "NOT SCREENED"
    elif unscreened:  # "negative as far as asked" says nothing when nothing was asked
        shown = "INCOMPLETE - negative as far as asked" if asked else "INCOMPLETE - none of its questions asked"
    elif unknown:
        shown = "negative as far as asked" if asked else "negative by earlier answers only"
    else:
        shown = "negative"
    counted = f"{asked} of {len(facts)} asked" + (f", {settled} settled by an earlier answer" if settled else "")
    return f"{title}: {shown} ({counted})" + (f" (NOT SCREENED: {', '.join(unscreened)})" if unscreened else "") \
        + (f" (unsure: {', '.join(unsure)})" if unsure else "") \
        + (f" (not asked: {', '.join(unasked)})" if unasked else "")


def relevant_negatives(a: Assessment, answers: dict[str, Any]) -> list[str]:
    """Yes/no questions answered "no" (not the screening ones, nor follow-ups that the other
    answers make unnecessary) where "yes" would change the class, the urgency, or raise a
    condition or an alert with a tier: the negatives the impression rests on."""
    ruleset = a.ruleset
    q = ruleset.questionnaire
    screening = set(ruleset.manifest.screening)
    before = _outcome(a)
    out = []
    for fact, value in a.facts.items():
        if value is not False or fact in screening or fact not in answers or FACTS[fact].kind != "bool":
            continue
        question = q.by_id.get(fact) if q else None
        if question is not None and (not _asked(question, a) or not_for_patient(question, a)):
            continue
        if _outcome(ruleset.assess_facts({**a.facts, fact: True})) != before:
            out.append(fact)
    return out


def _asked(question: Question, a: Assessment) -> bool:
    """False for a follow-up that the other answers make unnecessary (its ask_when is false)."""
    return question.ask_when is None or question.ask_when(a.facts) is not False


def not_for_patient(question: Question, a: Assessment) -> bool:
    """A question that does not apply to this patient, whose answer no note form shows (review
    S11): its `ask_when` is false, or the rules settle its answer (ruleset.yaml `settled`), on who
    the patient is alone (`patient.*`: a man's pregnancy, anyone's above the service's age for
    pregnancy questions), however the file records it - unless the answer is "yes", which still
    counts and is shown, as does any other value recorded (weeks pregnant), beside the engine's
    "answers to check". Its follow-ups (weeks pregnant) go with it. A follow-up that an earlier
    answer makes unnecessary is not this: the full note still shows every answer given."""
    value = a.facts.get(question.id)
    if value is not None and value is not False:
        return False
    rs = a.ruleset
    q = rs.questionnaire
    tests = []
    if question.ask_when_text:
        tests.append((_parsed(question.ask_when_text), False))
    if question.id in rs.settled:
        tests.append((rs.settled[question.id], True))
    for node, holds in tests:
        names = {ref.name for ref in expr.references(node)}
        if names and all(n.startswith("patient.") or n in rs.definitions and _on_patient(rs, n)
                         or q is not None and n in q.by_id and n != question.id and not_for_patient(q.by_id[n], a)
                         for n in names) and a.explain(node).value is holds:
            return True
    return False


def _on_patient(rs: Any, name: str, seen: frozenset[str] = frozenset()) -> bool:
    """A definition that reads only who the patient is (obstetric_settled_age: a constant)."""
    if name in seen:
        return False
    names = {ref.name for ref in expr.references(rs.definitions[name].node)}
    return all(n.startswith("patient.") or n in rs.definitions and _on_patient(rs, n, seen | {name})
               for n in names)


@lru_cache(maxsize=None)
def _parsed(text: str) -> expr.Node:
    return expr.parse(text)


def _outcome(a: Assessment) -> tuple[Any, ...]:
    return (a.classification, a.urgency, frozenset(a.conditions.items()),
            frozenset((n, t) for n, t in a.alerts.items() if t))

def history_sections(a: Any, ruleset: Any, answers: dict[str, Any]) -> list[Any]:
    """The record note's history under its UK headings (interview.yaml `record_note`): the
    answers given, relevant negatives under the heading of their question, the red-flag screen
    and the rule set's screen notes under special questions. Headings with nothing to show are
    left out."""

    q = ruleset.questionnaire
    m = ruleset.manifest
    record = q.record_note
    screening = set(m.screening)
    negatives = relevant_negatives(a, answers)
    together: dict[str, list[str]] = {}  # heading -> negatives written together
    for group in record.negatives_together:
        if group.when(a.facts) is not True:
            continue
        if all(a.facts.get(f) is False and f in answers for f in group.facts):
            heading = record.heading_of(group.facts[0])
            text = group.text[:1].upper() + group.text[1:]
            together.setdefault(heading, []).append(text)
            negatives = [f for f in negatives if f not in group.facts]
        elif group.each:  # "pins and needles" with "no numbness": each "no" is still said
            negatives += [f for f in group.facts if a.facts.get(f) is False and answers.get(f) is False
                          and f not in negatives and _asked(q.by_id[f], a)]
    out = []
    for title, ids in record.headings:
        section = Section(title, literal=True)  # answers and free text, shown as typed
        parts, free = [], []
        for qid in ids:
            question = q.by_id[qid]
            value = answers.get(qid)
            if qid.startswith("notes."):
                if value:
                    free.append(value)
                continue
            if qid in screening or not _asked(question, a) or not_for_patient(question, a) or (value is None and (
                    qid not in answers or not question.is_fact and question.optional)):
                continue
            if value is None:  # asked, and the answer was unsure: said, never left out
                parts.append(f"{question.label}: {words(ruleset, 'unsure') or 'unsure'}")
                continue
            if question.kind == "yes_no":
                if value:
                    parts.append(question.label)
            elif question.kind == "multi" and not value:
                parts.append(f"{question.label}: none")
            else:
                parts.append(f"{question.label}: {answer_words(question, value)}")
        if parts:
            section.add("; ".join(parts) + ".", bullet=False)
        mine = together.get(title, []) + [f"{q.label(f)}: no" for f in negatives if record.heading_of(f) == title]
        if mine:
            section.add(f"Relevant negatives: {'; '.join(mine)}.", bullet=False)
        if title == record.heading_of(next(iter(m.screening), "")):
            grouped = {f for facts in m.screens.values() for f in facts}
            screen = [screen_line(t, facts, a, q, answers) for t, facts in m.screens.items()]
            screen += [f"{q.label(f)}: {_screened(a.facts.get(f))}" for f in m.screening if f not in grouped]
            section.add("Red-flag screen: " + "; ".join(screen) + ".", bullet=False)
            for texts in screen_notes(a, ruleset).values():
                for text in texts:
                    section.add(text, bullet=False)
        for text in free:
            section.add_lines(text)
        if section.lines:
            out.append(section)
    return out

