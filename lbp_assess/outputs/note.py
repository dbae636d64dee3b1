"""The summary note: built once as structured data, rendered as Markdown, plain text or JSON.

Two lengths. The default is the record note a physiotherapist pastes: the
summary (class, urgency and what set it), the history as positives and relevant
negatives with the red-flag screen in a compact block, the impression, the plan
and the safety-net. `full=True` gives the complete note: every answer under the
interview's headings, each fired rule with the facts that decided it, what was
not met, the suggested examination.

Everything clinical in the note - labels, advice, suggested examination, the
safety-net wording and when each piece applies, which weak flags to list, how
the screening questions group - comes from the rule set and the questionnaire;
this module only arranges it. The plain-text form pastes into a clinical
record: no markup and no line longer than 100 characters. Text from the case
(id, assessor, free text) is shown with control characters escaped
(base.text.plain); free text keeps its line breaks.
"""

from __future__ import annotations

from ..engine.answers import answers_of

import datetime as dt
import json
import re
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from ..model.case import FACTS, Case
from ..inputs.cases import load_case
from ..base.text import markdown_inline, markdown_line, markdown_text, plain, starts_markdown_block
from ..base.errors import InputError, Location, Problem
from ..engine.questionnaire import Questionnaire
from ..engine.ruleset.model import Assessment, RuleSet, RuleTrace
from ..engine.words import answer_words, outcome_label
from ..engine.outcomes import WORSE
from ..engine.reasoning import rested_on
from .visits import VisitChange, Comparison, Visit, compare, find_previous
from .handover import Handover, Row, based_on, basis, checklist, handover, transport, words
from .subjective import (NoteLine, Section, _asked, _screened, history_sections,  # noqa: F401
                         not_for_patient, relevant_negatives, screen_line, screen_notes)
from ..engine.ruleset.schema import Advice

WIDTH = 100


@dataclass
class Note:
    title: str
    meta: list[str]
    disclaimer: str
    sections: list[Section]
    footer: str
    result: dict[str, Any]


def note_of_file(path: Path, ruleset: RuleSet, fmt: str, full: bool = False, previous: Path | None = None,
                 width: int = WIDTH, md_width: int | None = None) -> str:
    """The note of a saved case file, rendered (what `lbp-assess note` prints). The note of a
    follow-up compares it with the previous visit: `previous`, or the file beside it with the
    SHA-256 the follow-up recorded. `md_width`: wrap Markdown to a terminal's width."""
    case = load_case(path)
    if ruleset.questionnaire is None:
        raise InputError.from_problems([Problem(Location(str(ruleset.directory)),
                                                "the rule set has no interview.yaml")])
    earlier, warnings = None, []
    if previous is not None and case.follow_up_of is None:
        raise InputError(f"{path}: --previous is for a follow-up visit, and this case has no follow_up_of")
    if case.follow_up_of is not None:
        earlier, warnings = find_previous(Path(path), case, previous)
    return render(build_note(case, ruleset.assess(case), ruleset, full=full, previous=earlier,
                             previous_warnings=warnings), fmt, width, md_width)


def build_note(case: Case, assessment: Assessment, ruleset: RuleSet, today: dt.date | None = None,
               full: bool = False, previous: Visit | None = None, previous_warnings: list[str] | None = None) -> Note:
    """The note; a follow-up's (case.follow_up_of) opens with what changed since `previous`, the
    earlier visit (a followup.Visit), or says that it was not found."""
    q = ruleset.questionnaire
    if q is None:  # pragma: no cover - the shipped rules always have one
        raise ValueError("the rule set has no interview.yaml")
    m = ruleset.manifest
    a = assessment
    answers = _answers(case)
    notes = Section("Notes", literal=True)
    for question in q.questions:
        if question.id.startswith("notes.") and answers.get(question.id):
            notes.add_lines(f"{question.label}: {answers[question.id]}")

    if full:
        history = [_subjective(a, q, answers, sec, title, set(m.screening))
                   for sec, title in _sections(q) if sec != "notes"]
        for screen, texts in screen_notes(a, ruleset).items():  # under the screen's questions
            section = q.by_id[m.screens[screen][0]].section_title
            for part in history:
                if part.title == section:
                    for text in texts:
                        part.add(text)
        history = [s for s in history if s.lines]
    elif q.record_note is not None:  # the UK subjective headings, free text under its heading
        history = history_sections(a, ruleset, answers)
        notes = Section("Notes")
    else:
        history = [_history(a, ruleset, q, answers)]
    h = handover(a, answers)
    plan = _plan(a, ruleset, h, full)
    safety_net = Section("Safety-net")
    for _, title, lines in a.safety_net_blocks():
        safety_net.add(title, bullet=False, strong=True)
        for text in lines:
            safety_net.add(text)

    _nest(safety_net, a)
    today = today or dt.date.today()
    meta = [f"Case: {plain(case.id)}"]
    if case.assessed_at:
        at = case.assessed_at
        meta.append(f"Assessed at: {at:%Y-%m-%d %H:%M} (UTC{at.isoformat()[-6:]})")
    elif case.assessed_on:
        meta.append(f"Assessed on: {case.assessed_on.isoformat()}")
    if case.assessor:
        meta.append(f"Assessor: {plain(case.assessor)}")
    disclaimer = " ".join(m.disclaimer.split())
    footer = f"Generated {today.isoformat()} by lbp-assess {__version__} with rules {a.rules_version}.\n{disclaimer}"
    sections = [_summary(a, ruleset, q, h), *([notes] if notes.lines else []), *history,
                _impression(a, ruleset, q, h, full), *plan, safety_net]
    if case.follow_up_of is not None:
        sections.insert(0, _follow_up_section(case, a, ruleset, previous, previous_warnings or []))
    title = "Low back pain assessment - " + ("subjective summary" if full else "record note")
    return Note(title, meta, disclaimer if full else "", [s for s in sections if s.lines], footer, a.to_row())


# --------------------------------------------------------------------------- summary


def _follow_up_section(case: Case, a: Assessment, ruleset: RuleSet, previous: Visit | None, warnings: list[str]) -> Section:
    comparison = compare(previous, Visit(case, ""), ruleset, a) if previous is not None else None
    return since_last_visit(comparison, case, ruleset, warnings)


def _summary(a: Assessment, ruleset: RuleSet, q: Questionnaire, h: Handover) -> Section:
    """The governing row first (its tier, label, time frame and action; policy v7 6.1), what to ask
    before the patient leaves, the impression, then every other condition and alert once at its
    highest tier, the unscreened red-flag questions and the answers to check."""
    m = ruleset.manifest
    out = Section("Summary")
    tier = m.tiers[a.urgency]
    g = h.governing
    if g is not None:
        kind = "RED FLAG" if g.kind == "condition" else "ALERT"
        out.add(f"{tier.label.upper()} - {kind}: {row_label(ruleset, g)} - {g.time_frame or tier.time_frame}. "
                f"{g.action or tier.action}", strong=True)
    else:
        out.add(f"{tier.label.upper()}: {tier.action}", strong=True)
    for ask in h.asks:
        out.add(words(ruleset, "ask_before_leaving", questions="; ".join(ask.questions),
                      tier=m.tiers[ask.tier].label.upper(), label=ask.label), strong=True)
    out.add(f"Impression: {h.headline}.", strong=True)
    for group in h.groups:
        if group.lead is g or group.tier is None:
            continue
        name = "RED FLAG" if group.kind == "condition" else "ALERT"
        frame = group.lead.time_frame or m.tiers[group.tier].time_frame
        out.add(f"{name}: {row_label(ruleset, group.lead)} - {m.tiers[group.tier].label.upper()} ({frame}).",
                strong=True)
    if a.unscreened:
        out.add("Red-flag screen INCOMPLETE - NOT SCREENED (cannot be excluded): "
                + "; ".join(q.label(f) for f in a.unscreened) + ".", strong=True)
    if not a.conditions:
        out.add("Red-flag conditions raised: none" + (" among the questions asked." if a.unscreened else "."))
    for warning in a.warnings:
        out.add(f"Answers to check: {warning.split(': ', 1)[-1]}.")
    return out


def row_label(ruleset: RuleSet, row: Row) -> str:
    """A row's own label (policy v7 2.4), or its condition's or alert's for a rule set without one."""
    return row.label or outcome_label(ruleset.manifest, row.kind, row.rule.name)


def _frame(tier: Any) -> str:
    return f" ({tier.time_frame})" if tier.time_frame.lower() != tier.label.lower() else ""


# --------------------------------------------------------------------------- history


_answers = answers_of  # the one walk of a case's answers (engine/answers.py)


def _sections(q: Questionnaire) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for question in q.questions:
        seen.setdefault(question.section, question.section_title)
    return list(seen.items())


def _subjective(a: Assessment, q: Questionnaire, answers: dict[str, Any], section: str, title: str,
                screening: set[str]) -> Section:
    """One section of the full note: every answer, yes/no questions worded alike; never one this
    patient is not asked (a man's pregnancy, review S11), unless it is a recorded "yes"."""
    out = Section(title)
    parts = []
    for question in q.questions:
        if question.section != section or question.id in ("id", "assessor") or question.id.startswith("notes."):
            continue
        if question.id not in screening and not_for_patient(question, a):
            continue
        value = answers.get(question.id)
        if question.id in screening:
            parts.append((question, _screened(value)))
        elif question.id in answers:
            parts.append((question, answer_words(question, value)))
    if any(qn.id in screening for qn, _ in parts):
        for question, shown in parts:
            out.add(f"{question.label}: {shown}")
    elif parts:
        out.add("; ".join(f"{question.label}: {shown}" for question, shown in parts) + ".", bullet=False)
    return out


def _history(a: Assessment, ruleset: RuleSet, q: Questionnaire, answers: dict[str, Any]) -> Section:
    """The record note's history: what was present, the negatives that mattered, the screen."""
    m = ruleset.manifest
    screening = set(m.screening)
    out = Section("History")
    parts = []
    for question in q.questions:
        if (question.section == "special" or question.id in screening or not question.is_fact
                or question.kind == "items" or answers.get(question.id) is None or not _asked(question, a)
                or not_for_patient(question, a)):
            continue
        value = answers[question.id]
        if question.kind != "yes_no":
            parts.append(f"{question.label}: {answer_words(question, value)}")
        elif value:
            parts.append(question.label)
    if parts:
        out.add("; ".join(parts) + ".", bullet=False)
    negatives = [f"{q.label(f)}: no" for f in relevant_negatives(a, answers)]
    if negatives:
        out.add(f"Relevant negatives: {'; '.join(negatives)}.", bullet=False)
    grouped = {f for facts in m.screens.values() for f in facts}
    screen = [screen_line(title, facts, a, q, answers) for title, facts in m.screens.items()]
    screen += [f"{q.label(f)}: {_screened(a.facts.get(f))}" for f in m.screening if f not in grouped]
    out.add("Red-flag screen: " + "; ".join(screen) + ".", bullet=False)
    for texts in screen_notes(a, ruleset).values():
        for text in texts:
            out.add(text, bullet=False)
    return out


# --------------------------------------------------------------------------- impression


def labels(ruleset: RuleSet, q: Questionnaire) -> dict[str, str]:
    """Plain labels for every fact and outcome name a trace can mention."""
    m = ruleset.manifest
    labels = {question.id: question.label for question in q.questions}
    for kind, named in (("condition", m.conditions), ("alert", m.alerts), ("finding", m.findings)):
        labels.update({f"{kind}.{name}": f"{item.label} ({kind})" for name, item in named.items()})
    labels["condition.any"] = "Any red-flag condition"
    labels["screening_incomplete"] = "Red-flag questions unanswered"
    return labels


def _features(a: Assessment, trace: RuleTrace, q: Questionnaire, ruleset: RuleSet, unasked: set[str]) -> str:
    """The answers a fired rule rested on (every true item of an `or`, engine/reasoning.rested_on),
    in questionnaire order and clinical wording, then what other rules raised, when it counted;
    unknowns that decided it apart (handover.basis)."""
    order = {question.id: i for i, question in enumerate(q.questions)}
    rested = rested_on(a, trace)
    facts = sorted((n for n in rested if n in order and n not in a.settled), key=order.__getitem__)
    raised = []
    for name, value in trace.facts.items():  # what other rules raised, when it counted
        kind, _, item = name.partition(".")
        if value is True and kind in ("condition", "alert", "finding") and item != "any":
            raised.append(outcome_label(ruleset.manifest, kind, item))
    return basis(a, facts, unasked, raised)


def _impression(a: Assessment, ruleset: RuleSet, q: Questionnaire, h: Handover, full: bool) -> Section:
    """Each condition and alert once, at its highest tier, with the reasons of all its fired rows
    and every answer they read; then the findings and other alerts, what could not be excluded
    (below the governing tier: a higher one is asked in the Summary), and the weak flags."""
    m = ruleset.manifest
    out = Section("Clinical impression" if full else "Impression")
    if full:
        out.add(f"{h.headline}.", bullet=False, strong=True)
    fired = [t for t in a.trace() if t.state == "fired"]
    grouped = {row.rule.id: group for group in h.groups for row in group.rows}
    first = {group.lead.rule.id: i for i, group in enumerate(h.groups) if group.tier is not None}
    fired.sort(key=lambda t: first.get(t.rule.id, len(first)))  # the tiered rows first, highest tier first
    done: set[str] = set()
    for trace in fired:
        r = trace.rule
        if r.id in done:
            continue
        ref = f"{r.id}; source: {r.source}" if full else r.source
        key = (r.raises, r.name)
        if key in h.superseded:
            if full:
                label = outcome_label(ruleset.manifest, r.raises, r.name)
                out.add(f"{label} {words(ruleset, 'superseded', label=h.superseded[key])}: "
                        f"{r.reason.strip()} [{ref}]")
            continue
        group = grouped.get(r.id)
        if group is not None:
            if group.tier is None and not group.lead.label and not full:
                done.update(row.rule.id for row in group.rows)  # a Plan item only (the CES card)
                continue
            lead = group.lead
            tier = m.tiers[group.tier] if group.tier else None
            head = row_label(ruleset, lead) + (
                f" - {tier.label.lower()}, {lead.time_frame or tier.time_frame}" if tier else "")
            parts = []
            for row in group.rows:
                parts.append(f"{row.reason} [{f'{row.rule.id}; source: {row.rule.source}' if full else row.rule.source}]")
                done.add(row.rule.id)
            basis = based_on(a, h, group.rows)
            listed = [text for row in group.rows if (text := checklist(a, row))]
            out.add(f"{head}: " + " ".join(parts + ([basis] if basis else []) + listed))
            continue
        done.add(r.id)
        item = {"condition": m.conditions, "alert": m.alerts, "finding": m.findings}[r.raises][r.name]
        extra = " ".join(text for text in a.wording(_pieces(item.advice, "impression")))
        text = f"{outcome_label(ruleset.manifest, r.raises, r.name)}: {r.reason.strip()}" + (f" {extra}" if extra else "")
        if full:
            features = _features(a, trace, q, ruleset, h.unasked)
            text += f" {features}" if features else ""
        out.add(f"{text} [{ref}]")
    if full:
        for name in ruleset.class_findings:
            if name not in a.findings:
                rule = next((t for t in a.trace() if t.rule.raises == "finding" and t.rule.name == name), None)
                if rule is not None and rule.state == "not_fired":
                    out.add(f"Not met - {m.findings[name].label}: {rule.rule.reason.strip()}")
    asked = {ask.label for ask in h.asks}
    for label, missing in not_excluded(a, ruleset, q).items():
        if label not in asked:
            out.add(f"Could not be excluded - {label}: unknown {', '.join(missing) or 'answers'}.")
    flags = [ruleset.definitions[f].means or f for f in m.flags_noted if a.value(f) is True]
    if flags:
        out.add("Flags noted (weak on their own, no action alone): " + "; ".join(flags) + ".")
    return out


def _pieces(wording: Any, role: str | None, keep: bool = True) -> Any:
    """The pieces of some note wording with (keep) or without (not keep) this role."""
    if wording is None or isinstance(wording, str):
        return wording if (role is None) == keep else None
    return [p for p in wording if (p.role == role) == keep]


def not_excluded(a: Assessment, ruleset: RuleSet, q: Questionnaire) -> dict[str, list[str]]:
    """Red flags (and alerts of a show-at-once tier) that unknown answers keep open:
    label -> the unknown answers, one entry per condition or alert. A rule whose condition or
    alert is already raised at its tier or higher is left out: its answers could change nothing."""
    m = ruleset.manifest
    rank = ruleset.tier_rank
    out: dict[str, list[str]] = {}
    for trace in a.trace():
        r = trace.rule
        serious = r.raises == "condition" or (r.tier is not None and m.tiers[r.tier].show_at_once)
        if trace.state != "not_excluded" or not serious:
            continue
        held = (a.conditions if r.raises == "condition" else a.alerts).get(r.name)
        if held is not None and r.tier is not None and rank[held] <= rank[r.tier]:
            continue
        missing = out.setdefault(" ".join((r.label or outcome_label(ruleset.manifest, r.raises, r.name)).split()), [])
        for name, value in trace.facts.items():
            if value is None and q.label(name) not in missing:
                missing.append(q.label(name) if name in FACTS else name)
    return out


# --------------------------------------------------------------------------- plan


def _plan(a: Assessment, ruleset: RuleSet, h: Handover, full: bool) -> list[Section]:
    """The Plan (policy v7 6): the governing action and time frame first (at urgent, its
    examination advice follows); every other fired row's action once, soonest first; at
    emergency, transport and "Also raised"; at urgent or emergency, "until you are seen" in place
    of the class's management; examination advice, the "at this visit" steps and "O/E: not yet
    examined"; then the advice pieces not held back. The full note splits it into the suggested
    examination and the management."""
    m = ruleset.manifest
    manage, exam = Section("Management" if full else "Plan"), Section("Suggested objective examination")
    g = h.governing
    tier = m.tiers[a.urgency]
    for row in h.actions:
        if row is g:
            manage.add(f"{tier.label.upper()} - {g.time_frame or tier.time_frame}: {g.action}", strong=True)
            if h.acute and not h.highest and g.examination:
                manage.add(words(ruleset, "examination", text=g.examination) or g.examination)
        elif row.time_frame:
            manage.add(f"{row_label(ruleset, row)} - {row.time_frame}: {row.action}")
        else:
            manage.add(row.action)
    moving = transport(ruleset, g.action, h.highest) if g is not None and g.action else ""
    if moving:
        manage.add(moving)
    if h.highest:
        others = [f"{row_label(ruleset, grp.lead)} ({'; '.join(r.reason.rstrip('.') for r in grp.rows)})"
                  for grp in h.groups if grp.lead is not g and (grp.tier is not None or grp.lead.label)]
        shown = {grp.lead.key for grp in h.groups} | set(h.superseded)
        for trace in a.trace():  # every other alert raised, with no tier or action (pregnancy)
            r = trace.rule
            if trace.state == "fired" and r.raises in ("condition", "alert") and (r.raises, r.name) not in shown:
                shown.add((r.raises, r.name))
                others.append(f"{outcome_label(ruleset.manifest, r.raises, r.name)} ({' '.join(r.reason.split()).rstrip('.')})")
        if others and words(ruleset, "also_raised"):
            manage.add(words(ruleset, "also_raised", raised="; ".join(others)))
    if h.acute and not h.highest and words(ruleset, "until_seen"):  # policy 6.1: urgent only
        manage.add(words(ruleset, "until_seen"))
    # Each examination once (review S5): the governing row's, then the other rows' that differ
    # (a lower row of the same condition often repeats it). At emergency only the governing row's
    # handover examination: never a full examination beside "do not delay the referral".
    shown_after_action = h.acute and not h.highest and g is not None and bool(g.examination)
    examinations = [g.examination] if g is not None and g.examination else []
    if not h.highest:
        examinations += [row.examination for grp in h.groups for row in grp.rows if row is not g and row.examination]
    target = exam if full else manage
    for text in list(dict.fromkeys(examinations))[1 if shown_after_action else 0:]:
        target.add(words(ruleset, "examination", text=text) or text)
    for row in h.at_visit:
        target.add(f"{row_label(ruleset, row)} - {row.time_frame}: {row.action}" if row.time_frame else row.action)
    if full and not h.highest:
        # A governing condition's own examination (policy 2.4) replaces the red-flag class's and
        # the conditions' generic one at urgent ("only what a safe handover needs" beside "full
        # neurological examination" is a contradiction); alerts' and findings' add to it.
        generic = h.acute and g is not None and g.kind == "condition" and bool(g.examination)
        items = _named(a, ruleset, h)[1 + len(a.conditions):] if generic else _named(a, ruleset, h)
        for text in dict.fromkeys(" ".join(i.examination.split()) for i in items if i.examination):
            if text not in examinations:
                exam.add(text)
    if words(ruleset, "not_examined"):
        target.add(words(ruleset, "not_examined"))
    for text in _advice(a, ruleset, h):
        manage.add(text)
    return [exam, manage] if full else [manage]


def _texts(a: Assessment, ruleset: RuleSet, attr: str) -> list[str]:
    return list(dict.fromkeys(" ".join(getattr(i, attr).split()) for i in _named(a, ruleset) if getattr(i, attr)))


def _advice(a: Assessment, ruleset: RuleSet, h: Handover) -> list[str]:
    """The advice pieces of the class, conditions, alerts and findings raised, less those held back
    by role (policy v7 6) and those the Impression shows (the STarT Back score)."""
    out: list[str] = []
    # At emergency the Plan is the handover only (policy 6.1): the class's handover line, none of
    # the conditions', alerts' or findings' advice (imaging, stray pattern fragments).
    named = _named(a, ruleset, h)[:1] if h.highest else _named(a, ruleset, h)
    for item in named:
        wording = item.advice
        if wording is None:
            continue
        pieces = [Advice(text=wording)] if isinstance(wording, str) else wording
        keep = [p for p in pieces if p.role != "impression" and p.role not in h.held_back]
        out += a.wording(keep)
    return list(dict.fromkeys(out))


def _named(a: Assessment, ruleset: RuleSet, h: Handover | None = None) -> list[Any]:
    m = ruleset.manifest
    superseded = h.superseded if h is not None else {}
    items = [m.classes[a.classification]]
    items += [m.conditions[c] for c in a.conditions]
    items += [m.alerts[x] for x in a.alerts if ("alert", x) not in superseded]
    items += [m.findings[f] for f in a.findings]
    return items


# --------------------------------------------------------------------------- the note's section


def since_last_visit(comparison: Comparison | None, case: Case, ruleset: RuleSet, warnings: Sequence[str] = ()) -> Section:
    """The "Since last visit" section that opens the note of a follow-up."""
    out = Section("Since last visit", literal=True)  # ids and file names from the inputs: shown as typed
    record = case.follow_up_of
    if comparison is None:
        assert record is not None
        when = f" ({record.assessed_on.isoformat()})" if record.assessed_on else ""
        out.add(f"Follow-up of {plain(record.id)}{when}. The previous case file was not found beside this one: "
                "compare with `lbp-assess note FILE --previous PREVIOUS`.")
        if record.rules_version and record.rules_version != ruleset.version:
            out.add(f"Rules version differs: last visit assessed with rules {plain(record.rules_version)}; this "
                    f"note uses rules {ruleset.version}.", strong=True)
        return out
    c = comparison
    then = c.then.case
    when = f" ({then.assessed_on.isoformat()}{f', {c.days} days ago' if c.days is not None else ''})" \
        if then.assessed_on else ""
    # Compared with a visit other than the one it records following (an earlier visit may lie between):
    # not called its follow-up; the warning below says which visit it follows.
    out.add(f"{'Follow-up of' if record is None or record.id == then.id else 'Compared with'} {plain(then.id)}{when}.")
    for text in c.new_red_flags:
        out.add(f"NEW RED FLAG since last visit: {text}.", strong=True)
    if c.new_positive:
        out.add(f"NEW positive red-flag answer since last visit: {'; '.join(c.new_positive)}.", strong=True)
    if c.unscreened_now:
        out.add(f"NOT SCREENED at this visit (screened last time): {'; '.join(c.unscreened_now)}.", strong=True)
    for text in c.not_excluded_red_flags:
        out.add(f"NOT EXCLUDED since last visit: {text}; ask them before relying on a lower urgency.", strong=True)
    for text in c.resolved_red_flags:
        out.add(f"Resolved since last visit: {text}.")
    for text in c.lower_red_flags:
        out.add(f"Lower since last visit: {text}.")
    for change in (c.classification, c.urgency):
        lower_unscreened = change is c.urgency and change.change == "lower" and c.not_excluded_red_flags
        out.add(_line(change, "lower, on the answers given" if lower_unscreened else None),
                strong=bool(change.change))
    moved = [x for x in c.since_last_visit + c.start_back if x.change]
    for change in moved:
        out.add(_line(change))
    for outcome in c.outcomes:
        out.add(f"Outcome - {outcome.words()}.", strong=outcome.verdict == WORSE)
    same = [x for x in c.since_last_visit + c.start_back if not x.change]
    if same:
        out.add("Unchanged: " + "; ".join(f"{x.label}: {x.now}" for x in same) + ".")
    if c.alerts_new:
        out.add(f"Alerts new since last visit: {'; '.join(c.alerts_new)}.")
    if c.alerts_cleared:
        out.add(f"Alerts cleared: {'; '.join(c.alerts_cleared)}.")
    if c.changed:
        out.add("Other answers changed: " + "; ".join(f"{x.label}: {x.then} -> {x.now}" for x in c.changed) + ".")
    if c.unchanged:
        out.add("No change since last visit: every answer and the result are the same.")
    for warning in [*warnings, *c.warnings]:
        out.add(warning, strong=True)
    return out


def _line(change: VisitChange, direction: str | None = None) -> str:
    if not change.change:
        return f"{change.label}: {change.now} (unchanged)."
    extra = f" ({direction or change.change})" if change.change != "changed" else ""
    return f"{change.label}: {change.then} -> {change.now}{extra}."


def comparison_note(comparison: Comparison, ruleset: RuleSet) -> Note:
    """The comparison of two visits alone, as a note (`lbp-assess compare OLD NEW`)."""
    c = comparison
    meta = [f"Earlier: {plain(c.then.case.id)}", f"Later: {plain(c.now.case.id)}", f"Rules: {c.rules_version}"]
    disclaimer = " ".join(ruleset.manifest.disclaimer.split())
    return Note("Low back pain - comparison of two visits", meta, "", [since_last_visit(c, c.now.case, ruleset)],
                disclaimer, c.to_data())


def render_comparison(comparison: Comparison, ruleset: RuleSet, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(comparison.to_data(), indent=2, ensure_ascii=False) + "\n"
    return render(comparison_note(comparison, ruleset), fmt)


# --------------------------------------------------------------------------- renderers


def _nest(section: Section, a: Assessment) -> None:
    """Nest the safety-net pieces the rules mark as list items (`item: true`) under the bullet
    before them that ends with a colon ("... if you get any of these:"), when that bullet is shown."""
    items: set[str] = set()
    for block in a.ruleset.manifest.safety_net_blocks.values():
        pieces = [] if block.text is None or isinstance(block.text, str) else block.text
        items.update(a.wording([Advice(text=p.text) for p in pieces if p.item]))
    under = False
    for line in section.lines:
        if line.bullet and line.text in items:
            line.level = 1 if under else 0
        else:
            under = line.bullet and line.text.endswith(":")


def render(note: Note, fmt: str, width: int = WIDTH, md_width: int | None = None) -> str:
    """The note as `md` (wrapped to `md_width` when given: a terminal), `text` (lines of at most
    `width` characters) or `json`."""
    if fmt == "md":
        return render_markdown(note, md_width)
    if fmt == "text":
        return render_text(note, width)
    if fmt == "json":
        return json.dumps(asdict(note), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(fmt)


def render_markdown(note: Note, width: int | None = None) -> str:
    """The note as Markdown. Every piece of text is shown as typed: raw HTML, character references
    and images are escaped (base.text.markdown_text), free text cannot start a block, and in text
    from the case (the history, free text, the id and assessor) emphasis, code and link characters
    are escaped too. Each paragraph and block title stands apart (a blank line before it, so it
    never runs into a list or paragraph above it); a safety-net list item is nested under its
    "... any of these:" bullet. With `width` (a terminal), paragraphs and bullets are wrapped to it,
    bullets with a hanging indent, never so that a line would start a new block."""
    md = markdown_text
    fit = (lambda lines: _wrap_markdown(lines, width)) if width else (lambda lines: lines)
    out = [f"# {md(note.title)}", "", *fit([" · ".join(markdown_inline(md(m)) for m in note.meta)]), ""]
    if note.disclaimer:
        out += [*fit([f"> **{md(note.disclaimer)}**"]), ""]
    for section in note.sections:
        out += [f"## {md(section.title)}", ""]
        previous: bool | None = None  # was the line before a bullet?
        for line in section.lines:
            shown = markdown_inline(md(line.text)) if line.literal else md(line.text)
            first, *rest = shown.split("\n")
            first = markdown_line(first)  # "# 3 days" typed in the history is no heading, its first line too
            text = f"**{first}**" if line.strong else first
            if previous is not None and not (line.bullet and previous):
                out.append("")
            previous = line.bullet
            indent = "  " * line.level
            # Continuation lines of free text stay inside their bullet: indented, and (like the
            # first) a line that would start a heading, quote, list or code block is escaped.
            if line.bullet:
                out += fit([f"{indent}- {text}", *(f"{indent}  {markdown_line(part)}" for part in rest)])
            else:
                out += fit([text, *(markdown_line(part) for part in rest)])
        out.append("")
    footer = [f"_{md(part)}_" for part in note.footer.split("\n")]
    out += ["---", "", "  \n".join("\n".join(fit([part])) for part in footer), ""]
    return "\n".join(out)


def _wrap_markdown(lines: list[str], width: int) -> list[str]:
    """Markdown lines wrapped to `width`: each line keeps its own indent, list marker or quote
    marker, and its continuation lines take a hanging indent (a quote's its "> "). A line that
    wrapping would make start a block (a list marker, heading, quote, fence or setext underline)
    is joined back to the line before it: a little long, never a different document."""
    out: list[str] = []
    for line in lines:
        lead = re.match(r"^(\s*)(- |> )?", line)
        indent, marker = lead[1], lead[2] or ""
        hang = indent + ("  " if marker == "- " else marker)
        wrapped = textwrap.wrap(line[len(indent) + len(marker):], max(width, len(hang) + 20),
                                initial_indent=indent + marker, subsequent_indent=hang,
                                break_long_words=False, break_on_hyphens=False) or [line]
        kept = wrapped[:1]
        for part in wrapped[1:]:
            if starts_markdown_block(part[len(hang):]) or part[len(hang):].startswith(("<", "|")):
                kept[-1] += " " + part[len(hang):]
            else:
                kept.append(part)
        out += kept
    return out


def _wrap(text: str, bullet: bool, width: int = WIDTH, level: int = 0) -> list[str]:
    out: list[str] = []
    indent = "  " * level
    for i, part in enumerate(text.split("\n")):
        first = indent + ("- " if bullet and i == 0 else "  " if bullet else "")
        out += textwrap.wrap(part, width, initial_indent=first, subsequent_indent=indent + ("  " if bullet else ""),
                             break_long_words=True, break_on_hyphens=False) or [first.rstrip()]
    return out


def render_text(note: Note, width: int = WIDTH) -> str:
    out = [note.title.upper(), *(_wrap(" | ".join(note.meta), False, width)), ""]
    if note.disclaimer:
        out += _wrap(note.disclaimer, False, width) + [""]
    for section in note.sections:
        out.append(section.title.upper())
        for line in section.lines:
            out += _wrap(line.text, line.bullet, width, line.level)
        out.append("")
    out += _wrap(note.footer, False, width)
    return "\n".join(out) + "\n"
