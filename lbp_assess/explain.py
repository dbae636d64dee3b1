"""Why a case got its class: the rule trace by layer, and what single change would alter it.

"What would change it" is computed, never written by hand: every fact is given
each other value it could take (yes/no, each choice, adding or removing one
item of a multiple choice, and both sides of every number the rules compare
it with), the case is scored again, and the changes that alter the
classification or the urgency are listed, most urgent first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterator

from .case import FACTS, Case
from .interview import describe_answer
from .questionnaire import Questionnaire
from .rules import Assessment, RuleSet, describe_value


@dataclass(frozen=True)
class Change:
    fact: str
    label: str
    before: Any
    after: Any
    shown: str  # the change in words: "Saddle numbness: yes"
    classification: str
    urgency: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("before", "after"):
            if isinstance(data[key], frozenset):
                data[key] = sorted(data[key])
        return data


def candidates(fact: str, current: Any, ruleset: RuleSet) -> Iterator[Any]:
    """Other values a fact could take that the rules could respond to."""
    kind = FACTS[fact].kind
    if kind == "bool":
        yield from (v for v in (True, False) if v is not current)
    elif kind == "enum":
        yield from (v for v in FACTS[fact].values if v != current)
    elif kind == "set":
        present = set(current or ())
        for value in FACTS[fact].values:
            yield frozenset(present ^ {value})
    elif kind in ("int", "number"):
        seen = set()
        lo, hi = FACTS[fact].minimum, FACTS[fact].maximum
        for k in sorted(ruleset.thresholds.get(fact, ())):
            for v in (k - 1, k, k + 1):
                if v != current and v not in seen and (lo is None or v >= lo) and (hi is None or v <= hi):
                    seen.add(v)
                    yield v


def what_would_change(assessment: Assessment, questionnaire: Questionnaire | None) -> list[Change]:
    ruleset, facts = assessment.ruleset, assessment.facts
    before = (assessment.classification, assessment.urgency)
    changes = []
    for fact in FACTS:
        current = facts.get(fact)
        for value in candidates(fact, current, ruleset):
            trial = dict(facts)
            trial[fact] = value
            result = ruleset.assess_facts(trial)
            if (result.classification, result.urgency) != before:
                changes.append(Change(fact, _label(fact, questionnaire), current, value,
                                      _shown(fact, current, value, questionnaire),
                                      result.classification, result.urgency))
    rank = ruleset.tier_rank
    changes.sort(key=lambda c: (rank[c.urgency], c.classification != "red_flag", list(FACTS).index(c.fact)))
    return changes


def _label(fact: str, questionnaire: Questionnaire | None) -> str:
    return questionnaire.label(fact) if questionnaire else fact


def _shown(fact: str, before: Any, after: Any, questionnaire: Questionnaire | None) -> str:
    question = questionnaire.by_id.get(fact) if questionnaire else None
    label = _label(fact, questionnaire)
    if FACTS[fact].kind == "set":
        added = set(after) - set(before or ())
        removed = set(before or ()) - set(after)
        name = (lambda v: question.choice_label(v)) if question else str  # noqa: E731
        return f"{label}: also {name(added.pop())}" if added else f"{label}: without {name(removed.pop())}"
    value = describe_answer(question, after) if question else describe_value(after)
    return f"{label}: {value}"


def explanation(case: Case, ruleset: RuleSet) -> dict[str, Any]:
    """The whole explanation as data (the JSON output; the tree is drawn from it)."""
    from .note import labels as note_labels

    a = ruleset.assess(case)
    q = ruleset.questionnaire
    m = ruleset.manifest
    labels = note_labels(ruleset, q) if q else {}
    layers = []
    for layer, title in m.layers.items():
        rules = []
        for trace in a.trace():
            r = trace.rule
            if r.layer != layer:
                continue
            named = {"condition": m.conditions, "alert": m.alerts, "finding": m.findings}[r.raises][r.name]
            rules.append({
                "id": r.id, "state": trace.state, "raises": r.raises, "name": r.name, "label": named.label,
                "tier": r.tier, "reason": " ".join(r.reason.split()), "source": r.source, "status": r.status,
                "facts": [{"fact": n, "label": labels.get(n, n), "value": _jsonable(v), "shown": _value(n, v, q)}
                          for n, v in trace.facts.items()],
            })
        if rules:
            layers.append({"layer": layer, "title": title, "rules": rules})
    return {
        "case": case.id, "classification": a.classification, "urgency": a.urgency,
        "class_label": m.classes[a.classification].label, "result": a.to_row(),
        "layers": layers,
        "what_would_change": [c.as_json() for c in what_would_change(a, q)],
        "disclaimer": " ".join(m.disclaimer.split()),
    }


def _value(name: str, value: Any, q: Questionnaire | None) -> str:
    question = q.by_id.get(name) if q else None
    if question is None or value is None:
        return describe_value(value)
    return describe_answer(question, sorted(value) if isinstance(value, frozenset) else value)


def _jsonable(value: Any) -> Any:
    return sorted(value) if isinstance(value, (set, frozenset)) else value


STATE = {"fired": ("[green]✔ fired[/green]", 0), "not_excluded": ("[yellow]? not excluded[/yellow]", 1),
         "not_fired": ("[dim]✘ not fired[/dim]", 2)}


def render_tree(data: dict[str, Any], console: Any, brief: bool = False) -> None:
    """Draw the explanation as a rich tree; `brief` leaves out the rules that did not fire."""
    from rich.markup import escape
    from rich.tree import Tree

    tree = Tree(f"[bold]{escape(data['case'])}[/bold]: {escape(data['class_label'])} - "
                f"urgency [bold]{data['urgency']}[/bold]")
    for layer in data["layers"]:
        branch = tree.add(f"[bold]{escape(layer['title'])}[/bold]")
        quiet = 0
        for rule in sorted(layer["rules"], key=lambda r: STATE[r["state"]][1]):
            if rule["state"] == "not_fired" and brief:
                quiet += 1
                continue
            tier = f" ({rule['tier']})" if rule["tier"] else ""
            node = branch.add(f"{STATE[rule['state']][0]} {escape(rule['label'])}{tier}  [dim]{rule['id']}[/dim]")
            node.add(escape(rule["reason"]))
            facts = [f"{escape(f['label'])}: {escape(f['shown'])}" for f in rule["facts"]]
            if facts:
                what = {"not_excluded": "missing", "not_fired": "decided by"}.get(rule["state"], "because")
                node.add(f"[cyan]{what}:[/cyan] " + "; ".join(facts))
            node.add(f"[dim]source: {escape(rule['source'])}[/dim]")
        if quiet:
            branch.add(f"[dim]{quiet} more rule(s) did not fire (shown without --brief)[/dim]")
    changes = tree.add("[bold]What would change it[/bold] (one answer different)")
    if not data["what_would_change"]:
        changes.add("[dim]no single answer would change the class or the urgency[/dim]")
    for change in data["what_would_change"]:
        changes.add(f"if {escape(change['shown'])} → [bold]{change['classification']}[/bold], "
                    f"{change['urgency']}")
    console.print(tree)
    console.print(f"[dim]{escape(data['disclaimer'])}[/dim]")

