"""What the record note hands over (policy v7 6): decided once, from the result and the rules' data.

One tier governs the note. Its row (the highest-tier fired rule: a condition before an alert, then
the soonest time frame, then the rule order of policy 2) opens the Summary and the Plan with its
own label, time frame and action. Every other fired row's action follows once, ordered by its
`timing` (ruleset.yaml `timings`), none dropped because another row leads; each condition or alert
appears once, at its highest tier. A row above the governing tier that unknown answers left open
becomes "Ask before the patient leaves". Advice pieces are held back by their role at the
governing tier and when the impression is provisional (ruleset.yaml `note_hold_back`). Every fact
each fired row read is listed with its value.

This module decides and words nothing clinical itself: labels, actions, time frames, examination
advice, the note's fixed wording (`note_wording`) and what is held back are the rule set's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any

from ..engine.governing import row_order, timing_rank
from ..engine.reasoning import rested_on
from ..engine.ruleset.model import Assessment, Rule, RuleSet, RuleTrace
from ..engine.words import answer_words, lower_first, outcome_label
from ..model.case import FACTS


@dataclass
class Row:
    """One fired rule as the note prints it: its own label, tier, time frame, action."""

    rule: Rule
    trace: RuleTrace
    index: int  # the rule's place in evaluation order (policy 2's table order)

    @property
    def kind(self) -> str:
        return self.rule.raises

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule.raises, self.rule.name)

    @property
    def tier(self) -> str | None:
        return self.rule.tier

    @property
    def label(self) -> str:
        return " ".join((self.rule.label or "").split())

    @property
    def time_frame(self) -> str:
        return " ".join((self.rule.time_frame or "").split())

    @property
    def action(self) -> str:
        return " ".join((self.rule.action or "").split())

    @property
    def examination(self) -> str:
        return " ".join((self.rule.examination or "").split())

    @property
    def reason(self) -> str:
        return " ".join(self.rule.reason.split())


@dataclass
class Group:
    """A condition or alert, once, at its highest tier: the label of its highest-tier row (at
    equal tiers, the first in rule order), with every fired row beneath it."""

    kind: str
    name: str
    lead: Row
    rows: list[Row]

    @property
    def tier(self) -> str | None:
        return self.lead.tier


@dataclass
class Ask:
    """A row above the governing tier that unknown answers kept open."""

    tier: str
    label: str
    questions: list[str]  # the unknown answers' labels


@dataclass
class Handover:
    urgency: str
    governing: Row | None
    groups: list[Group]  # each condition and alert with a tier or an action, once, highest tier first
    actions: list[Row]  # the Plan's actions: one row per distinct action, ordered by timing
    at_visit: list[Row]  # "at this visit" rows: examination steps, printed with the examination
    superseded: dict[tuple[str, str], str]  # (kind, name) -> what supersedes it (full note only)
    asks: list[Ask]
    provisional: str | None  # None, or the note_wording key of why
    held_back: set[str]  # advice roles left out of the Plan
    headline: str
    unasked: set[str] = field(default_factory=set)  # facts the case file does not record
    # Urgent or emergency governs (a show-at-once tier): the Plan is the handover, not management.
    acute: bool = False
    highest: bool = False  # the highest tier governs (emergency): "Also raised" names the rest


def words(ruleset: RuleSet, key: str, **values: str) -> str:
    """The rule set's own note wording (`note_wording`), its placeholders filled; "" when the rule
    set has none for this key (a rule set older than policy v7)."""
    text = ruleset.manifest.note_wording.get(key)
    if text is None:
        return ""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return " ".join(text.split())


def transport(ruleset: RuleSet, action: str, emergency: bool = False) -> str:
    """The transport line the governing action calls for (review B4): the first of
    `note_wording` transport_ambulance / transport_sepsis / no_driving whose `_when` pattern matches the
    action's own text. At emergency the patient never drives (policy v7 6.1: the Plan holds transport),
    so an action that says nothing about travel (MSCC) gets no_driving; below emergency, ""."""
    wording = ruleset.manifest.note_wording
    for key in ("transport_ambulance", "transport_sepsis", "no_driving"):
        pattern = wording.get(key + "_when")
        if pattern and key in wording and re.search(pattern, action, re.IGNORECASE):
            return words(ruleset, key)
    return words(ruleset, "no_driving") if emergency else ""


def _timing_rank(ruleset: RuleSet, row: Row) -> int:
    return timing_rank(ruleset, row.rule)


def handover(a: Assessment, answers: dict[str, Any] | None = None) -> Handover:
    """The note's clinical content for one assessment (`answers`: the case's recorded answers,
    to tell "unsure" from "not asked")."""
    rs = a.ruleset
    m = rs.manifest
    rank = rs.tier_rank
    lowest = len(rank)
    traces = a.trace()
    rows = [Row(t.rule, t, i) for i, t in enumerate(traces)
            if t.state == "fired" and t.rule.raises in ("condition", "alert") and (t.rule.tier or t.rule.action)]

    superseded: dict[tuple[str, str], str] = {}
    for name, alert in m.alerts.items():
        when = alert.superseded_when
        if name in a.alerts and when is not None and a.explain(rs.wording_when[when]).value is True:
            superseded[("alert", name)] = alert.superseded_label or ""
    live = [r for r in rows if r.key not in superseded]

    def tier_rank(row: Row) -> int:
        return rank[row.tier] if row.tier else lowest

    def order(row: Row) -> tuple[int, int, int, int]:  # the one order (engine/governing.py)
        return row_order(rs, row.rule, row.index)

    groups: dict[tuple[str, str], Group] = {}
    for row in sorted(live, key=lambda r: (tier_rank(r), r.index)):  # policy 6.3: at equal tiers, rule order
        group = groups.get(row.key)
        if group is None:
            groups[row.key] = Group(row.kind, row.rule.name, row, [row])
        else:
            group.rows.append(row)
    ordered = sorted(groups.values(), key=lambda g: order(g.lead))
    governing = next((g.lead for g in ordered if g.tier == a.urgency), None)

    actions: list[Row] = []
    at_visit: list[Row] = []
    seen: set[str] = set()
    at_visit_key = "at_visit"
    leads = {k: g.lead for k, g in groups.items()}
    for row in sorted(live, key=lambda r: (_timing_rank(rs, r), tier_rank(r), r.kind != "condition", r.index)):
        if not row.action or row.action in seen:
            continue
        if tier_rank(row) > tier_rank(leads[row.key]):
            continue  # each condition once, at its highest tier: a lower row gives its reason only
        seen.add(row.action)
        (at_visit if row.rule.timing == at_visit_key else actions).append(row)
    if governing is not None and governing.action:  # the governing action opens the Plan
        for rows_ in (actions, at_visit):
            rows_[:] = [r for r in rows_ if r is not governing and r.action != governing.action]
        actions.insert(0, governing)

    asks = _asks(a, traces, rank)
    provisional = "provisional_incomplete" if a.unscreened else "provisional_not_excluded" if asks else None
    held: set[str] = set(m.note_hold_back.get(a.urgency, ()))
    if provisional:
        held |= set(m.note_hold_back.get("provisional", ()))
    unasked = {f for f in FACTS if answers is not None and f not in answers}
    out = Handover(a.urgency, governing, ordered, actions, at_visit, superseded, asks, provisional, held,
                   "", unasked)
    out.acute = m.tiers[a.urgency].show_at_once
    out.highest = rank[a.urgency] == 0
    out.headline = headline(a, out)
    return out


def _asks(a: Assessment, traces: list[RuleTrace], rank: dict[str, int]) -> list[Ask]:
    """Rows above the governing tier left open by unknown answers (conditions, and alerts of a
    show-at-once tier), one per label, highest tier first."""
    rs = a.ruleset
    q = rs.questionnaire
    m = rs.manifest
    found: dict[tuple[str, str], Ask] = {}
    for trace in traces:
        r = trace.rule
        if trace.state != "not_excluded" or r.tier is None or rank[r.tier] >= rank[a.urgency]:
            continue
        if r.raises != "condition" and not m.tiers[r.tier].show_at_once:
            continue
        held = (a.conditions if r.raises == "condition" else a.alerts).get(r.name)
        if held is not None and rank[held] <= rank[r.tier]:
            continue
        label = " ".join((r.label or outcome_label(rs.manifest, r.raises, r.name)).split())
        ask = found.setdefault((r.tier, label), Ask(r.tier, label, []))
        for name, value in trace.facts.items():
            if value is None and name in FACTS:
                shown = q.label(name) if q is not None else name
                if shown not in ask.questions:
                    ask.questions.append(shown)
    # A lower row of a condition already asked about at a higher tier, with no question of its own
    # (the spinal metastases row under MSCC's "History of cancer"), is not asked twice.
    kinds = {(x.tier, x.label): (r.raises, r.name) for r in rs.rules for x in found.values()
             if (r.tier, " ".join((r.label or "").split())) == (x.tier, x.label)}
    asked: dict[tuple[str, str], set[str]] = {}
    for key in sorted(found, key=lambda k: rank[k[0]]):
        ask = found[key]
        kind = kinds.get(key)
        if kind is not None and set(ask.questions) <= asked.get(kind, set()):
            del found[key]
            continue
        if kind is not None:
            asked.setdefault(kind, set()).update(ask.questions)
    order = {question.id: i for i, question in enumerate(q.questions)} if q is not None else {}
    labels = {question.label: order[question.id] for question in q.questions} if q is not None else {}
    for ask in found.values():
        ask.questions.sort(key=lambda label: labels.get(label, len(labels)))
    return sorted((x for x in found.values() if x.questions), key=lambda x: rank[x.tier])


def headline(a: Assessment, h: Handover) -> str:
    """The Impression's headline (policy 6.5): the governing condition's label with the red-flag
    class; a pattern an alert names (inflammatory, vascular, pregnancy) instead of "non-specific",
    or after the radicular or stenosis class; what a governing serious-pathology alert is to
    exclude; "Provisional (...)" when the screen is incomplete or a higher tier is open."""
    rs = a.ruleset
    m = rs.manifest
    text = m.classes[a.classification].label
    if a.classification == "red_flag":
        lead = next((g.lead for g in h.groups if g.kind == "condition"), None)
        if lead is not None and lead.label:
            text = lead.label
    else:
        patterns = []
        for name in a.alerts:
            alert = m.alerts[name]
            if alert.headline is None or ("alert", name) in h.superseded:
                continue
            shown = a.wording(alert.headline)
            if not shown:
                continue
            if alert.headline_use == "to_exclude":
                if h.governing is not None and h.governing.key == ("alert", name):
                    patterns.append(("to_exclude", shown[0]))
            else:
                patterns.append(("pattern", shown[0]))
        named = [p for use, p in patterns if use == "pattern"]
        if named and a.classification == "non_specific":
            text = named[0]
            named = named[1:]
        for pattern in named:
            text = words(rs, "also_pattern", **{"class": text, "pattern": lower_first(pattern)}) or text
        for use, pattern in patterns:
            if use == "to_exclude":
                text = words(rs, "to_exclude", **{"class": text, "pattern": pattern}) or text
    if h.provisional:
        text = words(rs, h.provisional, headline=lower_first(text)) or text
    return text


def facts_read(a: Assessment, rows: list[Row]) -> list[str]:
    """Every answer the rows rested on, once, in questionnaire order (engine/reasoning.rested_on:
    every true item of an `or`, not only the first the engine stopped at; never an item that is
    false, nor an unknown that decided nothing). Facts settled by other answers, such as pregnancy
    for a man, are not answers and are left out."""
    q = a.ruleset.questionnaire
    order = {question.id: i for i, question in enumerate(q.questions)} if q is not None else {}
    names: dict[str, None] = {}
    for row in rows:
        for name in rested_on(a, row.trace):
            if name not in a.settled:
                names[name] = None
    return sorted(names, key=lambda n: order.get(n, len(order)))


def fact_shown(a: Assessment, name: str, unasked: set[str]) -> str:
    """"Collapse or fainting: yes", "Days since onset: unsure", "Fever: not asked"."""
    rs = a.ruleset
    q = rs.questionnaire
    question = q.by_id.get(name) if q is not None else None
    label = question.label if question is not None else name
    value = a.facts.get(name)
    if value is None:
        return f"{label}: {words(rs, 'not_asked' if name in unasked else 'unsure') or 'unknown'}"
    return f"{label}: {answer_words(question, value) if question is not None else value}"


def based_on(a: Assessment, h: Handover, rows: list[Row]) -> str:
    return basis(a, facts_read(a, rows), h.unasked)


def basis(a: Assessment, facts: list[str], unasked: set[str], raised: Sequence[str] = ()) -> str:
    """"Based on: <the answers given>." then "Not yet known (...): <unknowns that decided it>.": an
    answer not asked, or unsure, is never presented as something the row rested on (policy 6
    Content), yet the reader sees that it counted (an unknown CES onset makes it an emergency)."""
    known = [fact_shown(a, f, unasked) for f in facts if a.facts.get(f) is not None] + list(raised)
    unknown = [fact_shown(a, f, unasked) for f in facts if a.facts.get(f) is None]
    parts = [words(a.ruleset, "based_on", facts="; ".join(known))] if known else []
    parts += [words(a.ruleset, "not_yet_known", facts="; ".join(unknown))] if unknown else []
    return " ".join(parts)


def checklist(a: Assessment, row: Row) -> str:
    """The features a row's checklist names, as the note lists them (policy v7 2.4: which NICE
    NG234 features of spinal metastases are present): "<title> - present: a, b; not known (ask):
    c; to examine: d." Features known to be absent are left out. "" for a row without one. The
    words are the rule's own (its `checklist`)."""
    c = row.rule.checklist
    if c is None:
        return ""
    present, unknown, examine = [], [], []
    for label, node, on_examination in c.items:
        if on_examination:
            examine.append(label)
            continue
        value = a.explain(node).value if node is not None else None
        if value is True:
            present.append(label)
        elif value is None:
            unknown.append(label)
    parts = [f"{c.present}: {', '.join(present) or c.none}"]
    parts += [f"{c.unknown}: {', '.join(unknown)}"] if unknown else []
    parts += [f"{c.examine}: {', '.join(examine)}"] if examine else []
    return f"{c.title} - {'; '.join(parts)}."
