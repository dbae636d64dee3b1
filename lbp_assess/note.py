"""The summary note: built once as structured data, rendered as Markdown, plain text or JSON.

Everything clinical in the note - labels, advice, suggested examination, the
safety-net wording, which weak flags to list - comes from the rule set and the
questionnaire; this module only arranges it. The plain-text form pastes into a
clinical record: no markup and no line longer than 100 characters.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

from . import __version__
from .case import Case
from .interview import describe_answer
from .questionnaire import Questionnaire
from .rules import Assessment, RuleSet, describe_value

WIDTH = 100


@dataclass
class Line:
    text: str
    bullet: bool = False
    strong: bool = False


@dataclass
class Section:
    title: str
    lines: list[Line] = field(default_factory=list)

    def add(self, text: str, bullet: bool = True, strong: bool = False) -> None:
        self.lines.append(Line(" ".join(text.split()), bullet, strong))


@dataclass
class Note:
    title: str
    meta: list[str]
    disclaimer: str
    sections: list[Section]
    footer: str
    result: dict[str, Any]


def build_note(case: Case, assessment: Assessment, ruleset: RuleSet, today: dt.date | None = None) -> Note:
    q = ruleset.questionnaire
    if q is None:  # pragma: no cover - the shipped rules always have one
        raise ValueError("the rule set has no interview.yaml")
    m = ruleset.manifest
    a = assessment
    answers = _answers(case)
    tier = m.tiers[a.urgency]

    summary = Section("Summary")
    summary.add(f"Impression: {m.classes[a.classification].label}.", strong=True)
    frame = f" ({tier.time_frame})" if tier.time_frame.lower() != tier.label.lower() else ""
    summary.add(f"Urgency: {tier.label.upper()}{frame}. {tier.action}", strong=True)
    if a.conditions:
        for name, ctier in a.conditions.items():
            t = m.tiers[ctier]
            summary.add(f"RED FLAG: {m.conditions[name].label} - {t.label.upper()} ({t.time_frame}). "
                        f"{_action(a, 'condition', name, ctier)}", strong=True)
    else:
        summary.add("Red flags raised: none.")
    if a.unscreened:
        summary.add("NOT SCREENED (cannot be excluded): " + "; ".join(q.label(f) for f in a.unscreened) + ".",
                    strong=True)
    for warning in a.warnings:
        summary.add(f"Answers to check: {warning.split(': ', 1)[-1]}.")

    subjective = [_subjective(q, answers, sec, title, set(m.screening))
                  for sec, title in _sections(q) if sec != "notes"]
    subjective = [s for s in subjective if s.lines]
    notes = Section("Notes")
    for question in q.questions:
        if question.section == "notes" and answers.get(question.id):
            notes.add(f"{question.label}: {answers[question.id]}")

    impression = _impression(a, ruleset, q, labels(ruleset, q))
    exam = Section("Suggested objective examination")
    for text in _texts(a, ruleset, "examination"):
        exam.add(text)
    management = Section("Management and safety-netting")
    for text in _texts(a, ruleset, "advice"):
        management.add(text)
    management.add(f"Safety-net: {m.safety_net}")

    fired = Section("Rules fired")
    for trace in a.trace():
        if trace.state == "fired":
            r = trace.rule
            fired.add(f"{r.id}: {r.reason} [{r.source}]")

    today = today or dt.date.today()
    meta = [f"Case: {case.id}"]
    if case.assessed_on:
        meta.append(f"Assessed on: {case.assessed_on.isoformat()}")
    if case.assessor:
        meta.append(f"Assessor: {case.assessor}")
    footer = (f"Generated {today.isoformat()} by lbp-assess {__version__} with rules {a.rules_version}. "
              f"{' '.join(m.disclaimer.split())}")
    sections = [summary, *([notes] if notes.lines else []), *subjective, impression, exam, management, fired]
    return Note("Low back pain assessment - subjective summary", meta,
                " ".join(m.disclaimer.split()),
                sections, footer, a.to_row())


def _answers(case: Case) -> dict[str, Any]:
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


def _sections(q: Questionnaire) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for question in q.questions:
        seen.setdefault(question.section, question.section_title)
    return list(seen.items())


def _subjective(q: Questionnaire, answers: dict[str, Any], section: str, title: str,
                screening: set[str]) -> Section:
    out = Section(title)
    parts = []
    for question in q.questions:
        if question.section != section or question.id in ("id", "assessor"):
            continue
        asked = question.id in answers
        value = answers.get(question.id)
        if question.id in screening:
            shown = "NOT SCREENED" if value is None else ("POSITIVE" if value else "negative")
            parts.append((question, shown))
        elif asked:
            parts.append((question, describe_answer(question, value)))
    if section == "special" or any(qn.id in screening for qn, _ in parts):
        for question, shown in parts:
            out.add(f"{question.label}: {shown}")
    elif parts:
        out.add("; ".join(f"{question.label}: {shown}" for question, shown in parts) + ".", bullet=False)
    return out


def _action(a: Assessment, kind: str, name: str, tier: str) -> str:
    rules = [t.rule for t in a.trace() if t.state == "fired" and t.rule.raises == kind and t.rule.name == name
             and t.rule.tier == tier]
    actions = [r.action for r in rules if r.action]
    return " ".join(dict.fromkeys(a.strip() for a in actions)) or a.ruleset.manifest.tiers[tier].action


def labels(ruleset: RuleSet, q: Questionnaire) -> dict[str, str]:
    """Plain labels for every fact and outcome name a trace can mention."""
    m = ruleset.manifest
    labels = {question.id: question.label for question in q.questions}
    for kind, named in (("condition", m.conditions), ("alert", m.alerts), ("finding", m.findings)):
        labels.update({f"{kind}.{name}": f"{item.label} ({kind})" for name, item in named.items()})
    labels["condition.any"] = "Any red-flag condition"
    labels["screening_incomplete"] = "Red-flag questions unanswered"
    return labels


def _fact_list(trace_facts: dict[str, Any], labels: dict[str, str]) -> str:
    return "; ".join(f"{labels.get(n, n)} = {describe_value(v)}" for n, v in trace_facts.items())


def _impression(a: Assessment, ruleset: RuleSet, q: Questionnaire, labels: dict[str, str]) -> Section:
    m = ruleset.manifest
    out = Section("Clinical impression")
    tier = m.tiers[a.urgency]
    frame = f" ({tier.time_frame})" if tier.time_frame.lower() != tier.label.lower() else ""
    out.add(f"{m.classes[a.classification].label}; urgency {tier.label.lower()}{frame}.", bullet=False)
    traces = a.trace()
    for trace in traces:
        r = trace.rule
        if trace.state != "fired":
            continue
        if r.raises == "condition":
            label = m.conditions[r.name].label
        elif r.raises == "alert":
            label = m.alerts[r.name].label
        else:
            label = m.findings[r.name].label
        tier = f" - {m.tiers[r.tier].label.lower()} ({m.tiers[r.tier].time_frame})" if r.tier else ""
        action = f" Action: {r.action.strip()}" if r.action else ""
        facts = _fact_list(trace.facts, labels)
        out.add(f"{label}{tier}: {r.reason.strip()}{action} Features: {facts or 'see rule'}. "
                f"Source: {r.source}.")
    for name in ruleset.class_findings:
        if name not in a.findings:
            rule = next((t for t in traces if t.rule.raises == "finding" and t.rule.name == name), None)
            if rule is not None and rule.state == "not_fired":
                out.add(f"Not met - {m.findings[name].label}: {rule.rule.reason.strip()}")
    for trace in traces:
        # Unknown answers that keep a red flag (or an alert of a show-at-once tier) open.
        r = trace.rule
        serious = r.raises == "condition" or (r.tier is not None and m.tiers[r.tier].show_at_once)
        if trace.state == "not_excluded" and serious:
            missing = [labels.get(n, n) for n, v in trace.facts.items() if v is None]
            name = trace.rule.name
            label = (m.conditions if trace.rule.raises == "condition" else m.alerts
                     if trace.rule.raises == "alert" else m.findings)[name].label
            out.add(f"Could not be excluded - {label} ({trace.rule.id}): unknown "
                    f"{', '.join(missing) or 'answers'}.")
    flags = [ruleset.definitions[f].means or f for f in m.flags_noted if a.value(f) is True]
    if flags:
        out.add("Flags noted (weak on their own, no action alone): " + "; ".join(flags) + ".")
    return out


def _texts(a: Assessment, ruleset: RuleSet, attr: str) -> list[str]:
    m = ruleset.manifest
    items = [m.classes[a.classification]]
    items += [m.conditions[c] for c in a.conditions]
    items += [m.alerts[x] for x in a.alerts]
    items += [m.findings[f] for f in a.findings]
    return list(dict.fromkeys(" ".join(getattr(i, attr).split()) for i in items if getattr(i, attr)))


# --------------------------------------------------------------------------- renderers


def render(note: Note, fmt: str) -> str:
    if fmt == "md":
        return render_markdown(note)
    if fmt == "text":
        return render_text(note)
    if fmt == "json":
        return json.dumps(asdict(note), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(fmt)


def render_markdown(note: Note) -> str:
    out = [f"# {note.title}", "", " · ".join(note.meta), "", f"> **{note.disclaimer}**", ""]
    for section in note.sections:
        out += [f"## {section.title}", ""]
        for line in section.lines:
            text = f"**{line.text}**" if line.strong else line.text
            out.append(f"- {text}" if line.bullet else text)
        out.append("")
    out += ["---", "", f"_{note.footer}_", ""]
    return "\n".join(out)


def _wrap(text: str, bullet: bool) -> list[str]:
    if bullet:
        return textwrap.wrap(text, WIDTH, initial_indent="- ", subsequent_indent="  ",
                             break_long_words=True, break_on_hyphens=False)
    return textwrap.wrap(text, WIDTH, break_long_words=True, break_on_hyphens=False)


def render_text(note: Note) -> str:
    out = [note.title.upper(), *(_wrap(" | ".join(note.meta), False)), ""]
    out += _wrap(note.disclaimer, False) + [""]
    for section in note.sections:
        out.append(section.title.upper())
        for line in section.lines:
            out += _wrap(line.text, line.bullet)
        out.append("")
    out += _wrap(note.footer, False)
    return "\n".join(out) + "\n"

