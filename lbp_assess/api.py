"""The library entry points: `assess(case)`, and `score_record(line)` for distributed engines."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from .model.case import Case
from .engine.ruleset.model import Assessment, RuleSet
from .engine.ruleset.load import load_rules


@lru_cache(maxsize=8)
def _cached_rules(directory: str | None) -> RuleSet:
    return load_rules(directory)


def _rules(rules: RuleSet | Path | str | None) -> RuleSet:
    return rules if isinstance(rules, RuleSet) else _cached_rules(None if rules is None else str(rules))


def assess(case: Case, rules: RuleSet | Path | str | None = None) -> Assessment:
    """Evaluate one case. Pure: the same case and rules always give the same result.

    `rules` is a loaded RuleSet, a rules directory, or None for the shipped defaults;
    directories are loaded once per process and reused.
    """
    return _rules(rules).assess(case)


def score_record(line: str | bytes, source: str = "", rules: str | None = None) -> dict[str, Any]:
    """Score one JSON case (a JSON Lines line) into its result row, as `lbp-assess score` writes it.

    A line that is not a valid case gives a row with `error` set, never an
    exception. Pure and picklable by reference, so a distributed engine can map
    it over partitions; each worker process loads the rules once.
    """
    from .batch.score import score_line

    raw = line.encode() if isinstance(line, str) else line
    name, _, number = source.rpartition(":")
    if not number.isdigit():
        name, number = source or "<record>", "0"
    row, _ = score_line(_rules(rules), raw, name, int(number))
    if not source:
        row["file"] = ""
    return row
