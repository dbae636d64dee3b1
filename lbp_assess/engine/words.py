"""How values and answers read in clinical words: the one home of the wording helpers that the
note, explain, practice, follow-up comparisons and the generated docs share."""

from __future__ import annotations

from typing import Any

from .questionnaire import Question


def describe_value(value: Any) -> str:
    if value is None:
        return "unknown"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, (set, frozenset, list, tuple)):
        return ", ".join(sorted(map(str, value))) or "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def answer_words(question: Question, value: Any) -> str:
    """An answer as it reads in a clinical note: "1 week", "into the foot", "yes"."""
    if isinstance(value, frozenset):
        value = [v for v, _ in question.choices if v in value]
    if question.kind in ("choice", "multi") and value is not None:
        labels = [question.choice_label(v) for v in (value if question.kind == "multi" else [value])]
        return ", ".join(lower_first(label) for label in labels) or "none"
    shown = question.describe(value)
    unit = question.unit or ""
    if unit.endswith("s") and isinstance(value, (int, float)) and value == 1:
        shown = shown[: -1]  # "1 week", not "1 weeks"
    return shown


def lower_first(text: str) -> str:
    """Lower-case a label inside a sentence, but not an abbreviation ("L5", "IV drug use")."""
    if len(text) > 1 and (text[1].isupper() or text[1].isdigit()):
        return text
    return text[:1].lower() + text[1:]
