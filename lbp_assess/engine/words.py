"""How values, answers and the rule set's names read in clinical words: the one home of the
wording helpers that the note, the handover, explain, the plain-words reading of rules, practice,
follow-up comparisons and the generated docs share (the words themselves come from the rules)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only: scoring imports these words, never the questionnaire
    from .questionnaire import Question
    from .ruleset.schema import Manifest

#: A comparison with a number or value in words ({} is the value): "over 50", "50 or over".
COMPARISON_WORDS = {">": "over {}", ">=": "{} or over", "<": "under {}", "<=": "{} or under", "==": "is {}",
                    "!=": "is not {}"}


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
    if question.duration and isinstance(value, (int, float)):
        return clinical_duration(value, question.unit or "weeks")
    return question.describe(value)  # "1 week", not "1 weeks" (questionnaire.quantity)


def lower_first(text: str) -> str:
    """Lower-case a label inside a sentence, but not an abbreviation ("L5", "IV drug use")."""
    if len(text) > 1 and (text[1].isupper() or text[1].isdigit()):
        return text
    return text[:1].lower() + text[1:]


def clinical_duration(value: float, unit: str) -> str:
    """A duration as a clinician writes it: days as "3/7", whole weeks under 3 months as "2/52",
    other spans under 4 weeks in days ("10 days"), months as "4/12", years in words."""
    days = round(value * 7) if unit == "weeks" else round(value)
    if days < 1:
        return "under a day"
    if days < 7:
        return f"{days}/7"
    weeks = days / 7
    if days < 91:
        if days % 7 == 0:
            return f"{days // 7}/52"
        return f"{days} days" if days < 28 else f"{round(weeks)}/52"
    months = round(days / (365.25 / 12))
    if months < 24:
        return f"{months}/12"
    years = round(days / 365.25)
    return f"{years} years"



def outcome_label(manifest: Manifest, kind: str, name: str) -> str:
    """The label of what a rule raises: a condition, alert or finding (`kind`) named `name`."""
    return {"condition": manifest.conditions, "alert": manifest.alerts, "finding": manifest.findings}[kind][name].label


def class_choice_label(label: str) -> str:
    """A class label as a choice: "Features consistent with radicular pain (sciatica)" -> "Radicular pain (sciatica)"."""
    text = label.removeprefix("Features consistent with ")
    return text[:1].upper() + text[1:]


def class_short_label(label: str) -> str:
    """A class label for tables: "Features consistent with radicular pain (sciatica)" -> "Radicular pain"."""
    return class_choice_label(label).split(" (")[0].split(" - ")[0]
