"""The order rules are evaluated in: everything a rule refers to is decided before it."""

from __future__ import annotations

import graphlib
import heapq
from typing import Iterable

from .model import Definition, Rule
from ...model import expr


def order_rules(rules: list[Rule], definitions: dict[str, Definition], tiers: Iterable[str],
                layers: Iterable[str]) -> tuple[list[Rule], list[Rule]]:
    """(rules in evaluation order, rules stuck in a cycle of outcomes or behind one).

    Among rules that are free to go, the layer order of ruleset.yaml and then file order decide,
    so the order reads like the policy.
    """
    tiers = list(tiers)
    raisers: dict[str, set[int]] = {}
    for i, rule in enumerate(rules):
        keys = [f"{rule.raises}.{rule.name}"]
        if rule.raises == "condition":
            keys += ["condition.any"] + [f"condition_tier.{t}" for t in tiers]
        for key in keys:
            raisers.setdefault(key, set()).add(i)

    def_refs: dict[str, set[str]] = {}  # every outcome a definition reads, through other definitions too

    def outcome_refs(node: expr.Node) -> set[str]:
        out: set[str] = set()
        for ref in expr.references(node):
            if ref.kind == "outcome":
                out.add(ref.name)
            elif ref.kind == "definition":
                if ref.name not in def_refs:  # each definition walked once, and whole
                    def_refs[ref.name] = set()  # (definitions reading themselves are refused elsewhere)
                    def_refs[ref.name] = outcome_refs(definitions[ref.name].node)
                out |= def_refs[ref.name]
        return out

    deps = [set().union(*(raisers.get(o, set()) for o in outcome_refs(r.node))) for r in rules]
    sorter = graphlib.TopologicalSorter({i: d for i, d in enumerate(deps)})
    try:
        sorter.prepare()
    except graphlib.CycleError:
        return [], _stuck(rules, deps)
    layer_rank = {name: i for i, name in enumerate(layers)}
    ready: list[tuple[int, int]] = []
    order: list[int] = []
    while sorter.is_active():
        for i in sorter.get_ready():
            heapq.heappush(ready, (layer_rank.get(rules[i].layer, 0), i))
        _, i = heapq.heappop(ready)
        order.append(i)
        sorter.done(i)
    return [rules[i] for i in order], []


def _stuck(rules: list[Rule], deps: list[set[int]]) -> list[Rule]:
    """The rules that can never go: in a cycle, or after one."""
    free: set[int] = set()
    grew = True
    while grew:
        grew = False
        for i, d in enumerate(deps):
            if i not in free and d <= free:
                free.add(i)
                grew = True
    return [rule for i, rule in enumerate(rules) if i not in free]
