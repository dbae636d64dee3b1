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
from .ruleset.model import Assessment


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
    """The governing row of every condition and tiered alert raised: highest tier first, conditions
    before alerts at a tier, then in the order they were raised."""
    rank = a.ruleset.tier_rank
    found = [("condition", n, t) for n, t in a.conditions.items()]
    found += [("alert", n, t) for n, t in a.alerts.items() if t is not None]
    ordered = sorted(found, key=lambda f: (rank[f[2]], f[0] != "condition"))
    return [plan for kind, name, _ in ordered if (plan := governing_plan(a, kind, name)) is not None]


def governing_plans(a: Assessment) -> list[Plan]:
    """The rows that set the urgency: the governing row of each condition and alert raised at the
    final tier (conditions first)."""
    return [p for p in raised_plans(a) if p.tier == a.urgency]
