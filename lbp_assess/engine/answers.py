"""One way from answers to facts.

A consultation's answers are keyed by question id (the case-file path: `pain.leg_side`, or
`id`). Every path reads them the same way: the interview, a FHIR QuestionnaireResponse, a
case file, the note, a follow-up's comparison and the FHIR export:

* `answers_of(case)`: the answers a case file records (only fields written in it count as asked);
* `resolve(...)`: the facts the rules read, and the answers that skipped follow-ups settle
  (their `if_skipped`), found by running the questionnaire's gates to a fixed point;
* `case_data(...)`: answers back into case data, in questionnaire order.

The facts themselves always come from `facts_of` on a validated `Case`, like every other path.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..model.case import FORMAT, Case, facts_of, validate_case
from .questionnaire import Question, Questionnaire

#: The id a case gets while the interview has not asked for one (so that it validates).
PLACEHOLDER_ID = "(not yet given)"


def answers_of(case: Case) -> dict[str, Any]:
    """Answers by question id; only fields written in the case count as asked."""
    out: dict[str, Any] = {}
    for name in case.model_fields_set:
        value = getattr(case, name)
        if hasattr(value, "model_fields_set"):
            for sub in value.model_fields_set:
                out[f"{name}.{sub}"] = getattr(value, sub)
        else:
            out[name] = value
    return out


def recorded_answers(case: Case, questionnaire: Questionnaire | None) -> dict[str, Any]:
    """The case's answers to the questionnaire's questions (what an interview pre-filled from the
    case file starts from, and what a FHIR export writes)."""
    known = {q.id for q in questionnaire.questions} if questionnaire is not None else set()
    return {qid: value for qid, value in answers_of(case).items() if qid in known}


def relevant(question: Question, facts: dict[str, Any]) -> bool:
    """Asked unless its ask_when is known to be false."""
    return question.ask_when is None or question.ask_when(facts) is not False


def asked(case: Case, questionnaire: Questionnaire | None, facts: dict[str, Any]) -> dict[str, Any]:
    """The answers of the case's sections, except those of questions the other answers make
    irrelevant (a follow-up whose ask_when is false) that record nothing more than skipping the
    question does: unknown, or what its if_skipped settles. A recorded answer that says more
    (symptoms worsening, while no symptom is now recorded as present) is the file's, and kept."""
    by_id = questionnaire.by_id if questionnaire is not None else {}
    return {qid: value for qid, value in answers_of(case).items()
            if "." in qid and (qid not in by_id or relevant(by_id[qid], facts)
                               or (value is not None and value != by_id[qid].if_skipped))}


def case_data(questionnaire: Questionnaire, recorded: dict[str, Any], assessed_on: str | None,
              follow_up_of: dict[str, Any] | None = None, assessed_at: str | None = None) -> dict[str, Any]:
    """The case as data, in questionnaire order. Unsure answers are written as null. `assessed_at`
    (when the assessment began, with its UTC offset) is written only when known."""
    data: dict[str, Any] = {"format": FORMAT}
    for q in questionnaire.questions:
        if q.id not in recorded:
            continue
        value = recorded[q.id]
        section, _, name = q.id.partition(".")
        if not name:
            data[section] = value
        elif value is not None or (q.is_fact and not q.blank_not_recorded):
            data.setdefault(section, {})[name] = value
    data["assessed_on"] = assessed_on
    if assessed_at:
        data["assessed_at"] = assessed_at
    if follow_up_of:
        data["follow_up_of"] = follow_up_of
    return data


def resolve(questionnaire: Questionnaire, questions: Sequence[Question], answers: dict[str, Any],
            assessed_on: str | None, follow_up_of: dict[str, Any] | None = None
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(facts, settled answers): the answers, plus what skipped follow-ups settle."""
    settled: dict[str, Any] = {}
    for _ in range(len(questions) + 1):  # gates name earlier questions: this settles quickly
        data = case_data(questionnaire, {**answers, **settled}, assessed_on, follow_up_of)
        if not data.get("id"):
            data["id"] = PLACEHOLDER_ID
        facts = facts_of(validate_case(data, "interview"))
        now = {q.id: q.if_skipped for q in questions
               if q.if_skipped is not None and q.id not in answers and not relevant(q, facts)}
        if now == settled:
            break
        settled = now
    return facts, settled
