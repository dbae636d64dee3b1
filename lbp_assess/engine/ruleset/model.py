"""A loaded rule set and its result: `Rule`, `Definition`, `Check`, `RuleSet` (checked and compiled;
`assess(case)` is pure and cheap), `Summary` (what the compiled function returns), and the
`Assessment` of one case with its rule trace (`RuleTrace`) and note wording.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ...model import expr
from ...model.case import FACTS, Case, facts_of
from ...base.errors import Location
from ...model.expr import Evaluation
from .schema import Advice, Manifest, Wording
from ..words import describe_value

if TYPE_CHECKING:  # the questionnaire module is imported only by what loads or asks it
    from ..questionnaire import Questionnaire


# --------------------------------------------------------------------------- the loaded model


@dataclass(frozen=True)
class RuleChecklist:
    """A rule's checklist (schema.Checklist) with each item's `when` parsed (None: no fact says)."""

    title: str
    present: str
    unknown: str
    examine: str
    none: str
    items: tuple[tuple[str, expr.Node | None, bool], ...]  # (label, when, found on examination)


@dataclass(eq=False)
class Rule:
    id: str
    layer: str
    raises: str  # condition | alert | finding
    name: str  # the condition/alert/finding raised
    tier: str | None
    reason: str
    source: str
    status: str
    action: str | None
    node: expr.Node
    text: str
    where: Location  # of the id
    when_where: Location  # of the expression
    reviewed: dt.date | None = None  # date of the last clinical review
    label: str | None = None
    time_frame: str | None = None
    timing: str | None = None
    examination: str | None = None
    safety_net: tuple[str, ...] = ()
    checklist: RuleChecklist | None = None

    def action_data(self) -> dict[str, Any]:
        """The rule's own label, time frame, action, examination and safety-net blocks (policy
        v7), as machine outputs carry them."""
        return {"rule": self.id, "raises": f"{self.raises}.{self.name}", "tier": self.tier,
                "label": self.label, "time_frame": self.time_frame, "timing": self.timing,
                "action": _oneline(self.action), "examination": _oneline(self.examination),
                "safety_net": list(self.safety_net)}


    def action_entry(self) -> dict[str, Any] | None:
        """What a result row's `actions` holds for this rule when it fires: its label, tier, time
        frame and action (policy v7 2.4); None for a rule with neither a tier nor an action."""
        if self.raises == "finding" or (self.tier is None and not self.action):
            return None
        return {"rule": self.id, "label": _oneline(self.label), "tier": self.tier,
                "time_frame": _oneline(self.time_frame), "action": _oneline(self.action)}


def _oneline(text: str | None) -> str | None:
    return " ".join(text.split()) if text is not None else None


@dataclass(eq=False)
class Definition:
    name: str
    node: expr.Node
    text: str
    means: str | None
    where: Location  # of the expression
    key_where: Location  # of the name


@dataclass(eq=False)
class Check:
    id: str
    node: expr.Node
    message: str
    where: Location
    when_where: Location


@dataclass(eq=False)
class RuleSet:
    """A checked, compiled rule set. `assess(case)` is pure and cheap to call."""

    manifest: Manifest
    directory: Path
    definitions: dict[str, Definition]
    rules: list[Rule]  # in evaluation order
    checks: list[Check]
    classification: list[tuple[str, expr.Node]]
    content_hash: str
    questionnaire: Questionnaire | None = None
    wording_when: dict[str, expr.Node] = field(default_factory=dict)  # note wording conditions, by text
    settled: dict[str, expr.Node] = field(default_factory=dict)  # fact -> when its unknown is settled
    outcome_measures: list[Any] = field(default_factory=list)  # outcomes.Measure: MCIDs for follow-ups
    # The generated functions (compile_ruleset): `evaluate(flat facts) -> Summary`, and
    # `row_from_data(case struct, source) -> result row` for batch scoring, and
    # `row_from_json(JSON line, plain, source) -> result row | None`: the row of
    # `model.case.fast_json(line, plain)` read and scored in one (None where it gives None).
    evaluate: Any = field(repr=False, default=None)
    row_from_data: Any = field(repr=False, default=None)
    row_from_json: Any = field(repr=False, default=None)

    @property
    def name(self) -> str:
        return self.manifest.name

    @cached_property
    def version(self) -> str:
        """Name, version and content hash, as every result reports it."""
        return f"{self.manifest.name} {self.manifest.version} sha256:{self.content_hash}"

    @cached_property
    def action_entries(self) -> dict[str, dict[str, Any]]:
        """Rule id -> what a result row's `actions` holds when it fires (Rule.action_entry)."""
        return {r.id: entry for r in self.rules if (entry := r.action_entry()) is not None}

    @cached_property
    def tier_rank(self) -> dict[str, int]:
        """0 = highest tier."""
        return {name: i for i, name in enumerate(self.manifest.tiers)}

    @cached_property
    def class_findings(self) -> list[str]:
        """The findings the classification order reads (stenosis_likely, radicular_likely, ...)."""
        names = [ref.name.partition(".")[2] for _, node in self.classification for ref in expr.references(node)
                 if ref.name.startswith("finding.")]
        return list(dict.fromkeys(names))

    @cached_property
    def thresholds(self) -> dict[str, set[Any]]:
        """Every constant each fact is compared with in the rules (age: {48, 50, 60, 70}, ...)."""
        found: dict[str, set[Any]] = {}

        def walk(node: expr.Node) -> None:
            if isinstance(node, expr.Compare):
                for a, b in ((node.left, node.right), (node.right, node.left)):
                    if isinstance(a, expr.Ref) and a.name in FACTS and isinstance(b, expr.Const):
                        found.setdefault(a.name, set()).add(b.value)
            for child in expr._children(node):
                walk(child)

        for node in [r.node for r in self.rules] + [d.node for d in self.definitions.values()]:
            walk(node)
        return found

    def assess(self, case: Case) -> "Assessment":
        a = self.assess_facts(facts_of(case), case.id)
        if case.reading_warnings:  # e.g. a FHIR form saved in progress: said wherever the result is shown
            a.warnings = [*a.warnings, *case.reading_warnings]
        return a

    def assess_facts(self, facts: dict[str, Any], case_id: str = "") -> "Assessment":
        summary = self.evaluate(facts)
        if summary.settled:  # one place: every path (files, interview, FHIR, batch) reads these values
            facts = {**facts, **summary.settled}
        return Assessment(case_id, *summary[:-2], rules_version=self.version, ruleset=self, facts=facts,
                          not_excluded=summary.not_excluded, settled=sorted(summary.settled))


class Summary(NamedTuple):
    """What the generated rule function returns for one case."""

    classification: str
    urgency: str
    conditions: dict[str, str]  # name -> highest tier, in the order rules first raised them
    alerts: dict[str, str | None]
    findings: list[str]
    unscreened: list[str]
    warnings: list[str]
    rules_fired: list[str]  # ids, in evaluation order
    not_excluded: list[str]  # ids of rules that unknown facts left undecided
    settled: dict[str, Any]  # unknown facts the other answers settled (ruleset.yaml `settled`)


PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")





@dataclass
class RuleTrace:
    """How one rule came out for one case, with the facts that decided it."""

    rule: Rule
    state: str  # fired | not_fired | not_excluded
    facts: dict[str, Any]  # name -> value (for not_excluded: the unknown facts)


@dataclass(eq=False)
class Assessment:
    """The result of evaluating one case."""

    case_id: str
    classification: str
    urgency: str
    conditions: dict[str, str]  # name -> tier, in evaluation order
    alerts: dict[str, str | None]
    findings: list[str]
    unscreened: list[str]
    warnings: list[str]
    rules_fired: list[str]
    rules_version: str
    ruleset: RuleSet = field(repr=False)
    facts: dict[str, Any] = field(repr=False)
    not_excluded: list[str] = field(repr=False)  # ids of rules that unknown facts kept from being decided
    settled: list[str] = field(default_factory=list, repr=False)  # unknown facts the answers settled
    _trace: list["RuleTrace"] | None = field(default=None, init=False, repr=False)

    def to_row(self, file: str = "") -> dict[str, Any]:
        """The machine-readable result (field names as in docs/case-format.md)."""
        return {
            "id": self.case_id, "file": file, "classification": self.classification,
            "urgency": self.urgency, "conditions": list(self.conditions), "alerts": list(self.alerts),
            "unscreened": self.unscreened, "warnings": self.warnings, "rules_fired": self.rules_fired,
            "rules_version": self.rules_version, "error": None,
            "condition_tiers": dict(self.conditions), "findings": self.findings,
            "not_excluded": self.not_excluded, "actions": self.actions(),
        }

    def actions(self) -> list[dict[str, Any]]:
        """Each fired rule's label, tier, time frame and action, in evaluation order (the `actions`
        of a result row)."""
        entries = self.ruleset.action_entries
        return [dict(entries[i]) for i in self.rules_fired if i in entries]

    def urgency_set_by(self) -> list[tuple[str, str, str]]:
        """What set the urgency: (kind, name, tier) of each condition and alert raised at its tier."""
        found = [("condition", n, t) for n, t in self.conditions.items() if t == self.urgency]
        return found + [("alert", n, t) for n, t in self.alerts.items() if t == self.urgency]

    def value(self, name: str) -> Any:
        """The value of any fact, definition or outcome name for this case."""
        return self._explain_name(name, {}).value

    def explain(self, node: expr.Node) -> Evaluation:
        """Any checked expression evaluated for this case, with the facts that decided it."""
        memo: dict[str, Evaluation] = {}
        return expr.explain(node, lambda n, k: self._explain_name(n, memo, k))

    def wording(self, wording: Wording | None) -> list[str]:
        """The pieces of note wording whose `when:` is known to hold, each on one line, with each
        `{fact}` placeholder filled in with the case's answer."""
        if wording is None:
            return []
        items = [Advice(text=wording)] if isinstance(wording, str) else wording
        fill = lambda m: describe_value(  # noqa: E731
            self.facts[m.group(1)] if m.group(1) in self.facts else self.value(m.group(1)))
        return [PLACEHOLDER.sub(fill, " ".join(item.text.split())) for item in items
                if item.when is True or (item.when is not False
                                         and self.explain(self.ruleset.wording_when[str(item.when)]).value is True)]

    def fired_rules(self) -> list[Rule]:
        """The rules that fired, in evaluation order."""
        fired = set(self.rules_fired)
        return [r for r in self.ruleset.rules if r.id in fired]

    def safety_net_blocks(self) -> list[tuple[str, str, list[str]]]:
        """(name, title, lines) of every safety-net block this case needs (policy v7 7): each block
        a fired rule names, and each whose `given_when` holds; ordered by the highest tier of a
        rule naming it, then the order of ruleset.yaml. A line is shown when its `when:` holds and
        none of its `about` is known to hold (never tell the patient to act on what they already
        have), and not when a block in its `covered_by` is given (the stronger block says it); it
        takes its `stronger` wording for the highest tier reached by the note's urgency or by what
        a yes to one of its `about` facts would newly raise (SafetyNetLine)."""
        blocks = self.ruleset.manifest.safety_net_blocks
        rank = self.ruleset.tier_rank
        lowest = len(rank)
        named: dict[str, int] = {}
        for rule in self.fired_rules():
            for block in rule.safety_net:
                named[block] = min(named.get(block, lowest), rank[rule.tier] if rule.tier else lowest)
        for block, spec in blocks.items():
            if block not in named and self._holds(spec.given_when):
                named[block] = lowest + 1
        order = {name: i for i, name in enumerate(blocks)}
        given = set(named)
        raised: dict[str, int] = {}  # fact -> the highest tier rank a yes to it would newly raise
        out = []
        for block in sorted(named, key=lambda b: (named[b], order[b])):
            text = blocks[block].text
            if isinstance(text, str):
                lines = self.wording(text)
            else:
                lines = [self._net_line(line, given, raised) for line in text
                         if not given & set(line.covered_by) and not any(self._holds(x) for x in line.about)]
                lines = [line for line in self.wording(lines) if line]
            if lines:
                out.append((block, blocks[block].title, lines))
        return out

    def _holds(self, when: str | bool) -> bool:
        """A note-wording condition is known to hold for this case."""
        return when is True or (when is not False
                                and self.explain(self.ruleset.wording_when[str(when)]).value is True)

    def _net_line(self, line: Any, given: set[str], raised: dict[str, int]) -> Any:
        """A safety-net line in the wording its tier calls for: its `stronger` text for the highest
        tier at or below the one reached by the note's urgency, or by a yes to one of its `about`
        yes/no facts (the case re-assessed with that answer), else its own text."""
        if not line.stronger:
            return line
        rank = self.ruleset.tier_rank
        reached = rank[self.urgency]
        for about in line.about:
            if reached == 0:
                break
            if about in FACTS and FACTS[about].kind == "bool" and self.facts.get(about) is not True:
                if about not in raised:
                    raised[about] = self._raised_by_yes(about)
                reached = min(reached, raised[about])
        at_or_below = [t for t in line.stronger if rank[t] >= reached]
        if not at_or_below:
            return line
        tier = min(at_or_below, key=rank.__getitem__)
        return line.model_copy(update={"text": line.stronger[tier]})

    def _raised_by_yes(self, fact: str) -> int:
        """The highest tier rank (0 = highest) of a rule that a yes to `fact` would newly fire."""
        rank = self.ruleset.tier_rank
        then = self.ruleset.assess_facts({**self.facts, fact: True})
        before = set(self.rules_fired)
        tiers = [rank[r.tier] for r in then.fired_rules() if r.id not in before and r.tier]
        return min(tiers, default=len(rank))

    def trace(self) -> list[RuleTrace]:
        """Every rule in evaluation order: fired, not fired, or not excluded, with its facts."""
        if self._trace is None:
            self._trace = self._make_trace()
        return self._trace

    def _make_trace(self) -> list[RuleTrace]:
        memo: dict[str, Evaluation] = {}
        out = []
        fired, undecided = set(self.rules_fired), set(self.not_excluded)
        for rule in self.ruleset.rules:
            outcome = expr.explain(rule.node, lambda n, k: self._explain_name(n, memo, k))
            state = "fired" if rule.id in fired else "not_excluded" if rule.id in undecided else "not_fired"
            out.append(RuleTrace(rule, state, {n: self._plain(n, memo) for n in sorted(outcome.support)}))
        return out

    def explained(self, node: expr.Node) -> Evaluation:
        """An expression evaluated on this case by the explaining evaluator: its value and the
        facts that decided it (the oracle that the compiled rules are checked against)."""
        memo: dict[str, Evaluation] = {}
        return expr.explain(node, lambda n, k: self._explain_name(n, memo, k))

    def _plain(self, name: str, memo: dict[str, Evaluation]) -> Any:
        return self._explain_name(name, memo).value

    def _explain_name(self, name: str, memo: dict[str, Evaluation], kind: str | None = None) -> Evaluation:
        if name in memo:
            return memo[name]
        rs = self.ruleset
        if name in rs.definitions:
            # Support of a definition is expanded into the facts that decided it.
            outcome = expr.explain(rs.definitions[name].node, lambda n, k: self._explain_name(n, memo, k))
        elif name in self.facts:
            outcome = Evaluation(self.facts[name], frozenset([name]))
        else:
            outcome = Evaluation(self._outcome_value(name), frozenset([name]))
        memo[name] = outcome
        return outcome

    def _outcome_value(self, name: str) -> Any:
        space, _, item = name.partition(".")
        if name == "screening_incomplete":
            return bool(self.unscreened)
        if space == "condition":
            return bool(self.conditions) if item == "any" else item in self.conditions
        if space == "condition_tier":  # as the compiled rules read it: a rule raised a condition at this tier
            fired = set(self.rules_fired)
            return any(r.raises == "condition" and r.tier == item and r.id in fired for r in self.ruleset.rules)
        if space == "alert":
            return item in self.alerts
        if space == "finding":
            return item in self.findings
        raise KeyError(name)
