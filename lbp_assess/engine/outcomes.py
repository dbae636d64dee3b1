"""Outcome measures and their minimal clinically important differences (`<rules>/outcomes.yaml`).

A follow-up is judged by change that matters to patients, not by any change: the
smallest change patients notice as important (the MCID) is clinical knowledge, so it
lives in the rules directory with its source, never in code. `compare` and the
follow-up note read each measure at both visits and say "improved beyond the MCID",
"no important change" or "worse" (worse by at least the MCID).

A measure reads one fact (the back pain NRS) or the mean of several (the PSFS: the
mean score of the activities scored at that visit). A change reaches the MCID when
it is at least `points` in size, or (where the measure gives `percent`) at least that
percentage of the earlier score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..model.case import FACTS
from ..base.errors import did_you_mean

FILE = "outcomes.yaml"
IMPROVED, NO_CHANGE, WORSE = "improved beyond the MCID", "no important change", "worse"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class MeasureSpec(_Strict):
    label: str = Field(min_length=1)
    facts: list[str] = Field(min_length=1)
    better: Literal["lower", "higher"]
    points: float = Field(gt=0)
    percent: Optional[float] = Field(None, gt=0, le=100)
    unit: str = ""
    source: str = Field(min_length=1)


class OutcomesSpec(_Strict):
    measures: dict[str, MeasureSpec]


@dataclass(frozen=True)
class Measure:
    name: str
    label: str
    facts: tuple[str, ...]
    better: str  # lower | higher
    points: float
    percent: float | None
    unit: str
    source: str

    def score(self, facts: dict[str, Any]) -> float | None:
        """The measure at one visit: the fact, or the mean of those known; None when none is."""
        known = [facts[f] for f in self.facts if isinstance(facts.get(f), (int, float))]
        return round(sum(known) / len(known), 2) if known else None

    @property
    def mcid(self) -> str:
        points = f"{self.points:g} point{'s' if self.points != 1 else ''}"
        return points + (f" or {self.percent:g}%" if self.percent else "")


@dataclass(frozen=True)
class OutcomeChange:
    """One measure at both visits, its change, and the verdict against its MCID."""

    measure: str
    label: str
    then: float
    now: float
    change: float
    verdict: str  # IMPROVED | NO_CHANGE | WORSE
    mcid: str
    source: str

    def words(self) -> str:
        return (f"{self.label}: {_n(self.then)} -> {_n(self.now)} ({self.change:+g}): {self.verdict} "
                f"(MCID {self.mcid})")


def _n(value: float) -> str:
    return f"{value:g}"


def judge(measure: Measure, then: float, now: float) -> str:
    """The verdict on a change from `then` to `now`."""
    gain = (then - now) if measure.better == "lower" else (now - then)
    size = abs(now - then)
    important = size >= measure.points - 1e-9 or (
        measure.percent is not None and then != 0 and size / abs(then) * 100 >= measure.percent - 1e-9)
    if not important or gain == 0:
        return NO_CHANGE
    return IMPROVED if gain > 0 else WORSE


def changes(measures: list[Measure], then: dict[str, Any], now: dict[str, Any]) -> list[OutcomeChange]:
    """Every measure scored at both visits (flat facts), with its verdict."""
    out = []
    for m in measures:
        before, after = m.score(then), m.score(now)
        if before is None or after is None:
            continue
        out.append(OutcomeChange(m.name, m.label, before, after, round(after - before, 2), judge(m, before, after),
                                 m.mcid, m.source))
    return out


def load(loader: Any, path: Any) -> list[Measure] | None:
    """Load and check outcomes.yaml through the rule loader: each measure reads numeric facts."""
    read = loader.read(path, OutcomesSpec)
    if read is None:
        return None
    spec, name = read
    measures, ok = [], True
    for key, m in spec.measures.items():
        for index, fact in enumerate(m.facts):
            kind = FACTS[fact].kind if fact in FACTS else None
            if kind not in ("int", "number"):
                why = (f"`{fact}` is {kind}, not a number" if kind else
                       f"unknown fact `{fact}`{did_you_mean(fact, FACTS)}")
                loader.problem(loader.at(name, ("measures", key, "facts", index)), f"{key}: {why}")
                ok = False
        measures.append(Measure(key, m.label, tuple(m.facts), m.better, m.points, m.percent, m.unit,
                                " ".join(m.source.split())))
    return measures if ok else None
