"""The row that governs each raised condition and tiered alert, and so the label, time frame and
action to show for it.

The tier orders the rows and sets the urgency; what a screen or a note says to do, and by when,
is the governing rule's own `label`, `time_frame` and `action` from the rules YAML, never the
tier's generic wording ("GP within 1 week" for a `soon` alert, not "within 2 to 6 weeks").
The governing row of a condition or alert is the first rule, in evaluation order, that fired
raising it at the tier it was raised at (its highest).

Shared by the consultation, practice and explain (and free for the note) so that every screen
names the same action and time frame. Nothing here touches a terminal.
"""

from __future__ import annotations

from .reasoning import Plan, plan_of
from .ruleset.model import Assessment, Rule, RuleSet


def timing_rank(rs: RuleSet, rule: Rule) -> int:
    """Where a rule's `timing` falls in ruleset.yaml `timings` (soonest first); after them all
    when it has none."""
    timings = list(rs.manifest.timings)
    return timings.index(rule.timing) if rule.timing in timings else len(timings)


def row_order(rs: RuleSet, rule: Rule, index: int) -> tuple[int, int, int, int]:
    """THE order of fired rows (policy v7 6.1, 6.3), used by every screen and by the note: tier
    (highest first; none last), a condition before an alert, the soonest `timing`, then the rule
    order (`index`: the rule's place in evaluation order). The first row in this order at the
    final tier is the governing row."""
    rank = rs.tier_rank
    return (rank[rule.tier] if rule.tier else len(rank), rule.raises != "condition",
            timing_rank(rs, rule), index)


def governing_plan(a: Assessment, kind: str, name: str) -> Plan | None:
    """The governing row of condition or alert `name` (kind "condition" or "alert"), as a Plan;
    None when it was not raised with a tier."""
    tier = (a.conditions if kind == "condition" else a.alerts).get(name)
    if tier is None:
        return None
    fired = set(a.rules_fired)
    rule = next((r for r in a.ruleset.rules
                 if r.id in fired and r.raises == kind and r.name == name and r.tier == tier), None)
    return plan_of(a.ruleset, rule) if rule is not None else None


def raised_plans(a: Assessment) -> list[Plan]:
    """The governing row of every condition and tiered alert raised, in `row_order`: highest tier
    first, conditions before alerts at a tier, the soonest timing, then rule order."""
    rs = a.ruleset
    index = {r.id: i for i, r in enumerate(rs.rules)}
    found = [("condition", n) for n in a.conditions]
    found += [("alert", n) for n, t in a.alerts.items() if t is not None]
    plans = [plan for kind, name in found if (plan := governing_plan(a, kind, name)) is not None]
    rules = {r.id: r for r in rs.rules}
    return sorted(plans, key=lambda p: row_order(rs, rules[p.rule], index[p.rule]))


def governing_plans(a: Assessment) -> list[Plan]:
    """The rows that set the urgency: the governing row of each condition and alert raised at the
    final tier (conditions first)."""
    return [p for p in raised_plans(a) if p.tier == a.urgency]
