"""What a result rests on, for teaching: every feature that made a rule fire, what each fired
rule asks the clinician to do and by when, and which rows set the urgency.

Shared by explain and practice so that both name the same features and the same action.
Nothing here touches a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import expr
from ..model.case import FACTS
from .ruleset.model import Assessment, Rule, RuleSet, RuleTrace


# --------------------------------------------------------------------------- features


def features(a: Assessment, node: expr.Node, want: Any = True,
             memo: dict[tuple[str, Any], set[str]] | None = None) -> set[str]:
    """The facts whose answers made `node` come out `want` for this case: every true item of an
    `or`, every item of an `and`, the counted items of a count - not just the first sufficient one.
    Definitions (derived facts) are followed down to the answers they read, each once (`memo`:
    definitions built on definitions read twice would otherwise double the work at each level)."""
    rs = a.ruleset
    memo = {} if memo is None else memo
    if isinstance(node, expr.Ref):
        if node.name in rs.definitions:
            if (node.name, want) not in memo:
                memo[node.name, want] = features(a, rs.definitions[node.name].node, want, memo)
            return memo[node.name, want]
        return {node.name}
    if want is None:
        return set(a.explain(node).support)
    if isinstance(node, (expr.And, expr.Or)):
        decisive = isinstance(node, expr.Or)  # the value one item alone decides
        if want is decisive:  # a true `or`, a false `and`: every item that decided it
            items = [item for item in node.items if a.explain(item).value is want]
        else:  # a true `and`, a false `or`: every item
            items = list(node.items)
        return set().union(*(features(a, item, want, memo) for item in items))
    if isinstance(node, expr.Not):
        return features(a, node.item, None if want is None else not want, memo)
    if isinstance(node, expr.Test) and node.fn in ("is_true", "is_false"):
        value = a.explain(node.item).value
        return features(a, node.item, value, memo) if value is not None else a.explain(node).support
    if isinstance(node, expr.Count):
        return set().union(*(features(a, item, True, memo) for item in node.items if a.explain(item).value is True))
    if isinstance(node, expr.Compare) and (isinstance(node.left, expr.Count) or _count_ref(node.left, rs)):
        counted = node.left if isinstance(node.left, expr.Count) else rs.definitions[node.left.name].node
        return features(a, counted, True, memo)
    return set(a.explain(node).support)


def _count_ref(node: expr.Node, rs: RuleSet) -> bool:
    return isinstance(node, expr.Ref) and node.name in rs.definitions and \
        isinstance(rs.definitions[node.name].node, expr.Count)


def rule_features(a: Assessment, rule: Rule) -> dict[str, Any]:
    """Every answer that made a fired rule fire, in the case format's order, with its value."""
    found = features(a, rule.node, True)
    for fact in list(found):  # "stands still for relief" rests on "leg symptoms on walking"
        found |= {g for g in gates(a.ruleset, fact)
                  if g.split(".")[0] == fact.split(".")[0] and a.facts.get(g) not in (None, False, "none")}
    return {f: a.facts.get(f) for f in FACTS if f in found and a.facts.get(f) is not None}


def rested_on(a: Assessment, trace: RuleTrace) -> dict[str, Any]:
    """Every answer a fired rule rested on, with its value, in the case format's order: the reason
    a note prints. The engine's trace stops an `or` (or `any`) at its first true item, which is
    enough to decide the value but not to say why; here every true item of an `or` is named, every
    item of an `and`, the counted items of a count (the result is the trace's, unchanged). An
    answer the rule could have used but that is false (another item of an `or`) is not named; an
    unknown answer only where the trace says its being unknown decided the rule ("of unknown
    onset")."""
    found = features(a, trace.rule.node, True) | {n for n, v in trace.facts.items() if v is not None}
    return {f: a.facts.get(f) for f in FACTS
            if f in found and (a.facts.get(f) is not None or f in trace.facts)}


_READS: dict[int, tuple[expr.Node, frozenset[str]]] = {}


def reads(rs: RuleSet, rule: Rule) -> frozenset[str]:
    """Every answer a rule reads (through definitions)."""
    cached = _READS.get(id(rule.node))
    if cached is not None and cached[0] is rule.node:
        return cached[1]
    out: set[str] = set()
    seen: set[str] = set()

    def walk(n: expr.Node) -> None:
        for ref in expr.references(n):
            if ref.name in rs.definitions and ref.name not in seen:
                seen.add(ref.name)
                walk(rs.definitions[ref.name].node)
            elif ref.name in FACTS:
                out.add(ref.name)

    walk(rule.node)
    _READS[id(rule.node)] = (rule.node, frozenset(out))
    return frozenset(out)


def gates(rs: RuleSet, fact: str) -> set[str]:
    """The answers a follow-up question is asked on (its `ask_when`): "stands still for relief"
    is only asked when walking brings on leg symptoms, so a rule reading it rests on both."""
    q = rs.questionnaire.by_id.get(fact) if rs.questionnaire else None
    if q is None or not q.ask_when_text:
        return set()
    return {r.name for r in expr.references(expr.parse(q.ask_when_text)) if r.name in FACTS}


def settled_by_entry(a: Assessment, fact: str) -> dict[str, Any]:
    """For an answer an earlier answer settles ("no leg symptoms on walking" settles "relief
    standing still: no"; registered male settles "not pregnant"): the entry answers that settle
    it ({fact: value}), whether the rules settled it (ruleset.yaml `settled`) or the case records
    the answer the interview writes when it skips the question (interview.yaml `if_skipped`).
    {} when the answer was given, or its question would still be asked."""
    rs = a.ruleset
    value = a.facts.get(fact)
    if value is None:
        return {}
    if fact in a.settled and fact in rs.settled:
        found = features(a, rs.settled[fact], True)
    else:
        q = rs.questionnaire.by_id.get(fact) if rs.questionnaire else None
        if q is None or q.ask_when is None or q.if_skipped is None or q.ask_when(a.facts) is not False:
            return {}
        skipped = frozenset(q.if_skipped) if isinstance(q.if_skipped, list) else q.if_skipped
        if value != skipped:
            return {}
        found = features(a, expr.parse(q.ask_when_text), False)
    return {f: a.facts[f] for f in FACTS if f in found and f != fact and a.facts.get(f) is not None}


def excluded_by_entry(a: Assessment, trace: RuleTrace) -> dict[str, Any]:
    """The entry answers that exclude a rule ({fact: value}); see `entry_exclusion`."""
    return entry_exclusion(a, trace)[0]


def entry_exclusion(a: Assessment, trace: RuleTrace) -> tuple[dict[str, Any], list[str]]:
    """(the entry answers that exclude a rule {fact: value}, the follow-ups they settle), when
    only follow-ups an earlier answer makes unnecessary decide it or leave it open ("no leg
    symptoms on walking": eased by standing still is never asked, so vascular claudication is
    excluded by that answer, not by the follow-up's recorded "no"). ({}, []) when the rule fired,
    or an answer given or still to ask decides it.

    * not fired: every answer that decided it was settled by an entry answer (`settled_by_entry`);
    * not excluded: the unknown questions are skipped ones; giving them the answer the interview
      records when it skips them (interview.yaml `if_skipped`) and scoring again excludes it."""
    rs = a.ruleset
    q = rs.questionnaire
    if trace.state == "not_fired":
        deciding = [f for f in trace.facts if f in FACTS]
        entry: dict[str, Any] = {}
        for fact in deciding:
            found = settled_by_entry(a, fact)
            if not found:
                return {}, []
            entry.update(found)
        return {f: entry[f] for f in FACTS if f in entry}, [f for f in FACTS if f in deciding]
    if trace.state != "not_excluded" or q is None:
        return {}, []
    unknown = [f for f, v in trace.facts.items() if f in FACTS and v is None]
    skipped = {}
    for fact in unknown:
        question = q.by_id.get(fact)
        if question is None or question.ask_when is None or question.ask_when(a.facts) is not False \
                or question.if_skipped is None:
            continue  # a question that could still be asked
        skipped[fact] = frozenset(question.if_skipped) if isinstance(question.if_skipped, list) else question.if_skipped
    if not skipped:
        return {}, []
    after = rs.assess_facts({**a.facts, **skipped})
    if trace.rule.id in after.rules_fired or trace.rule.id in after.not_excluded:
        return {}, []
    entry_facts = {g for fact in skipped for g in gates(rs, fact)}
    return ({f: a.facts[f] for f in FACTS if f in entry_facts and a.facts.get(f) is not None},
            [f for f in FACTS if f in skipped])


def ask_first(a: Assessment, unknown: list[str]) -> dict[str, list[str]]:
    """The questions to ask for unknown answers, in order: {question: [its follow-ups left
    unknown]}. A follow-up whose entry question is itself unknown is asked only after it ("eased
    by standing still" follows a yes to "leg symptoms on walking"), so the entry question is named
    in its place, with the follow-up after it; never a follow-up the interview could not ask yet."""
    rs = a.ruleset
    q = rs.questionnaire
    out: dict[str, list[str]] = {}

    def entry_of(fact: str, seen: frozenset[str]) -> list[str]:
        question = q.by_id.get(fact) if q is not None else None
        if question is None or question.ask_when is None or question.ask_when(a.facts) is True:
            return [fact]
        open_gates = [g for g in FACTS if g in gates(rs, fact) and a.facts.get(g) is None and g not in seen]
        if not open_gates:
            return [fact]
        return [e for g in open_gates for e in entry_of(g, seen | {fact})]

    for fact in unknown:
        entries = entry_of(fact, frozenset())
        for entry in entries:
            follow = out.setdefault(entry, [])
            if entry != fact and fact not in follow:
                follow.append(fact)
    return out


def read_by_fired_rules(a: Assessment) -> set[str]:
    """The answers some fired rule read, with the questions they follow up: a feature the student
    relied on "did not matter" only when it is not among these."""
    out: set[str] = set()
    for trace in a.trace():
        if trace.state == "fired":
            out |= reads(a.ruleset, trace.rule)
    for fact in list(out):
        if a.facts.get(fact) is not None:
            out |= gates(a.ruleset, fact)
    return out


# --------------------------------------------------------------------------- what to do, by when


@dataclass(frozen=True)
class Plan:
    """What a fired rule asks the clinician to do: its label, time frame and action."""

    rule: str  # rule id
    raises: str  # condition | alert | finding
    name: str
    tier: str | None
    label: str
    time_frame: str | None
    action: str | None

    def line(self) -> str:
        """"Suspected cauda equina syndrome - now (within hours): Emergency department ..." """
        frame = f" - {self.time_frame}" if self.time_frame else ""
        action = f": {self.action.rstrip('.')}" if self.action else ""
        return f"{self.label}{frame}{action}"


def plan_of(rs: RuleSet, rule: Rule) -> Plan:
    """The rule's own label, time frame and action where the rules give them; the tier's otherwise."""
    m = rs.manifest
    named = {"condition": m.conditions, "alert": m.alerts, "finding": m.findings}[rule.raises][rule.name]
    tier = m.tiers.get(rule.tier) if rule.tier else None
    label = getattr(rule, "label", None) or named.label
    time_frame = getattr(rule, "time_frame", None) or (tier.time_frame if tier else None)
    action = rule.action or (tier.action if tier else None)
    return Plan(rule.id, rule.raises, rule.name, rule.tier, " ".join(label.split()),
                " ".join(time_frame.split()) if time_frame else None, " ".join(action.split()) if action else None)


def urgency_plans(a: Assessment) -> list[Plan]:
    """The fired rows that set the urgency: each condition or alert raised at the final tier,
    by the rules that raised it at that tier (in evaluation order, one per condition or alert)."""
    if not any(tier == a.urgency for tier in (*a.conditions.values(), *a.alerts.values())):
        return []
    out: dict[tuple[str, str], Plan] = {}
    for trace in a.trace():
        r = trace.rule
        if trace.state != "fired" or r.tier != a.urgency or r.raises not in ("condition", "alert"):
            continue
        out.setdefault((r.raises, r.name), plan_of(a.ruleset, r))
    return list(out.values())
