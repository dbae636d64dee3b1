"""Is a finding raised whatever the answers still to come? For the live panel of an interview.

In a case file an unknown answer is unknown, and rows are written so that it never lowers a
tier (`not is_true(behaviour.mechanical)` holds while the answer is unknown). During an
interview, a question not yet reached is not unknown: it is still to be asked. A panel raised
only because a later question has not been reached yet (the aneurysm row at "abdominal pain:
yes", before onset and "does the pain vary with movement?" are asked) would send a patient to
the emergency department on an answer nobody gave.

`raised_whatever` answers: is condition or alert `name` raised, at one of `tiers`, for every
answer the pending questions could still get (answered values only; "unsure" is a choice the
clinician makes, asked like any other)? It splits on the pending facts that decided a firing
rule, one at a time, using the rules themselves as the oracle, so a red-flag answer that raises
a condition whatever follows (saddle numbness: emergency or, after more than 14 days and not
worsening, urgent) is certain at once. When the search would be too long it says yes: the
panel is shown, the safe direction.
"""

from __future__ import annotations

from typing import Any, Iterable

from .questionnaire import Question
from .reasoning import reads
from .ruleset.model import Assessment, RuleSet

#: How many evaluations one question may cost before the answer defaults to "raised" (safe).
BUDGET = 2000


def domain(rs: RuleSet, question: Question) -> list[Any]:
    """The values a pending fact is tried at: each answer of a closed question; for a number,
    each side of every constant the rules compare it with."""
    if question.kind == "yes_no":
        return [True, False]
    if question.kind == "choice":
        return [value for value, _ in question.choices]
    if question.kind == "multi":
        values = [value for value, _ in question.choices]
        return [frozenset(), frozenset(values), *(frozenset([v]) for v in values)]
    if question.kind in ("number", "scale"):
        marks = sorted(v for v in rs.thresholds.get(question.id, ()) if isinstance(v, (int, float)))
        low = question.minimum if question.minimum is not None else 0
        found = {low, *(m for t in marks for m in (t - 1, t, t + 1))}
        if question.maximum is not None:
            found.add(question.maximum)
        return sorted(v for v in found if (question.minimum is None or v >= question.minimum)
                      and (question.maximum is None or v <= question.maximum))
    return []


def raised_whatever(rs: RuleSet, facts: dict[str, Any], pending: dict[str, list[Any]], kind: str, name: str,
                    tiers: Iterable[str]) -> bool:
    """True when `kind` `name` is raised at one of `tiers` for every value the `pending` facts
    (fact -> the values it may still take) could be given."""
    wanted = set(tiers)
    budget = [BUDGET]

    def holds(known: dict[str, Any], left: dict[str, list[Any]]) -> bool:
        if budget[0] <= 0:
            return True  # too long to decide: show it (the safe direction)
        budget[0] -= 1
        a = rs.assess_facts(known)
        tier = (a.conditions if kind == "condition" else a.alerts).get(name)
        if tier not in wanted:
            return False
        deciding = _deciding(a, kind, name, tier) & left.keys()
        if not deciding:
            return True  # no answer still to come decided it
        fact = min(deciding, key=lambda f: (len(left[f]), f))
        rest = {f: v for f, v in left.items() if f != fact}
        return all(holds({**known, fact: value}, rest) for value in left[fact])

    return holds(dict(facts), {f: v for f, v in pending.items() if v})


def _deciding(a: Assessment, kind: str, name: str, tier: str) -> set[str]:
    """The facts that decided the rules raising `name` at `tier` to fire; an outcome a rule read
    (`condition.x`, `finding.y`) stands for every fact the rules raising it read."""
    rs = a.ruleset
    fired = set(a.rules_fired)
    out: set[str] = set()
    for rule in rs.rules:
        if rule.id in fired and rule.raises == kind and rule.name == name and rule.tier == tier:
            for fact in a.explain(rule.node).support:
                space, _, item = fact.partition(".")
                if space in ("condition", "alert", "finding"):
                    out |= {f for r in rs.rules if r.raises == space and (item == "any" or r.name == item)
                            for f in reads(rs, r)}
                else:
                    out.add(fact)
    return out
