"""The library entry point: `assess(case)` with the default (or a given) rule set."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .case import Case
from .rules import Assessment, RuleSet, load_rules


@lru_cache(maxsize=8)
def _cached_rules(directory: str | None) -> RuleSet:
    return load_rules(directory)


def assess(case: Case, rules: RuleSet | Path | str | None = None) -> Assessment:
    """Evaluate one case. Pure: the same case and rules always give the same result.

    `rules` is a loaded RuleSet, a rules directory, or None for the shipped defaults;
    directories are loaded once per process and reused.
    """
    ruleset = rules if isinstance(rules, RuleSet) else _cached_rules(None if rules is None else str(rules))
    return ruleset.assess(case)
