"""The record note's history as a UK physiotherapy subjective.

The headings and which answers each shows are data (`record_note` in interview.yaml):
PC, HPC, 24-hour pattern, special questions, PMH, DH, SH and goals. A heading shows the
answers given (a "yes" by its label, a value as "label: value"), then its free text; a
heading with nothing to show is left out. Relevant negatives and the red-flag screen go
under special questions. Durations read the clinical way ("3/7", "2/52", "10 days").
"""

from __future__ import annotations

from typing import Any



def history_sections(a: Any, ruleset: Any, answers: dict[str, Any]) -> list[Any]:
    """The record note's history under its UK headings (interview.yaml `record_note`): the
    answers given, relevant negatives under the heading of their question, the red-flag screen
    and the rule set's screen notes under special questions. Headings with nothing to show are
    left out."""
    from ..engine.words import answer_words
    from .note import Section, _asked, relevant_negatives, screen_line, screen_notes

    q = ruleset.questionnaire
    m = ruleset.manifest
    record = q.record_note
    screening = set(m.screening)
    negatives = relevant_negatives(a, answers)
    together: dict[str, list[str]] = {}  # heading -> negatives written together
    for group in record.negatives_together:
        if group.when(a.facts) is True and all(a.facts.get(f) is False and f in answers for f in group.facts):
            heading = record.heading_of(group.facts[0])
            text = group.text[:1].upper() + group.text[1:]
            together.setdefault(heading, []).append(text)
            negatives = [f for f in negatives if f not in group.facts]
    out = []
    for title, ids in record.headings:
        section = Section(title)
        parts, free = [], []
        for qid in ids:
            question = q.by_id[qid]
            value = answers.get(qid)
            if qid.startswith("notes."):
                if value:
                    free.append(value)
                continue
            if qid in screening or value is None or not _asked(question, a):
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
            screen = [screen_line(t, facts, a, q) for t, facts in m.screens.items()]
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


def _screened(value: Any) -> str:
    return "NOT SCREENED" if value is None else ("YES" if value else "no")
