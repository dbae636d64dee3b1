"""What a scoring run found: counts by class and urgency, agreement with each case's `expected:`
labels, and the cases that reached `--fail-on`.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field


from ..engine.ruleset.model import RuleSet
from ..base.text import counted
from .chunks import Brief, ChunkResult


# --------------------------------------------------------------------------- summary and agreement


@dataclass
class RunCounts:
    total: int = 0
    errors: int = 0
    by_class: collections.Counter[str] = field(default_factory=collections.Counter)
    by_urgency: collections.Counter[str] = field(default_factory=collections.Counter)
    started: float = field(default_factory=time.perf_counter)

    def add(self, result: ChunkResult) -> None:
        self.total += result.cases
        self.errors += len(result.errors)
        for (classification, urgency), n in result.counts.items():
            self.by_class[classification] += n
            self.by_urgency[urgency] += n

    def render(self, ruleset: RuleSet) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.total / elapsed if elapsed > 0 else 0.0
        classes = ", ".join(f"{c} {self.by_class[c]}" for c in ruleset.manifest.classes if self.by_class[c])
        tiers = ", ".join(f"{t} {self.by_urgency[t]}" for t in ruleset.manifest.tiers if self.by_urgency[t])
        return (f"scored {self.total - self.errors:,} of {counted(self.total, 'case')}, "
                f"{counted(self.errors, 'error')}, "
                f"in {elapsed:.2f} s ({rate:,.0f} cases/s)\n"
                f"  class: {classes or '-'}\n  urgency: {tiers or '-'}")


@dataclass
class Agreement:
    """How results compare with the cases' `expected:` labels (score --expect)."""

    classes: list[str]
    compared: int = 0
    without_labels: int = 0
    class_agree: int = 0
    urgency_agree: int = 0
    conditions_agree: int = 0
    confusion: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    fired: collections.Counter[str] = field(default_factory=collections.Counter)
    fired_in_disagreement: collections.Counter[str] = field(default_factory=collections.Counter)
    disagreements: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def add(self, brief: Brief) -> None:
        expected = brief.expected
        if brief.error:
            return
        if not expected:
            self.without_labels += 1
            return
        self.compared += 1
        differences = []
        want_class, want_urgency = expected.get("classification"), expected.get("urgency")
        want_conditions = expected.get("conditions")
        if want_class is not None:
            self.confusion[(want_class, brief.classification)] += 1  # type: ignore[arg-type]
            if want_class == brief.classification:
                self.class_agree += 1
            else:
                differences.append(f"classification: expected {want_class}, got {brief.classification}")
        else:
            self.class_agree += 1
        if want_urgency is None or want_urgency == brief.urgency:
            self.urgency_agree += 1
        else:
            differences.append(f"urgency: expected {want_urgency}, got {brief.urgency}")
        if want_conditions is None or sorted(want_conditions) == sorted(brief.conditions):
            self.conditions_agree += 1
        else:
            differences.append(f"conditions: expected {', '.join(sorted(want_conditions)) or 'none'}, "
                               f"got {', '.join(sorted(brief.conditions)) or 'none'}")
        self.fired.update(brief.rules_fired)
        if differences:
            self.fired_in_disagreement.update(brief.rules_fired)
            self.disagreements.append((brief.file, str(brief.id), differences))

    def render(self) -> str:
        n = self.compared
        if n == 0:
            return f"--expect: no case had `expected:` labels ({self.without_labels} without)"

        def pct(k: int) -> str:
            return f"{k}/{n} ({100 * k / n:.1f}%)"

        out = [f"agreement with expected labels on {counted(n, 'case')}"
               + (f" ({self.without_labels} without labels)" if self.without_labels else ""),
               f"  classification {pct(self.class_agree)}", f"  urgency        {pct(self.urgency_agree)}",
               f"  conditions     {pct(self.conditions_agree)}", "", "confusion matrix (rows expected, "
               "columns scored):"]
        width = max(len(c) for c in self.classes) + 2
        out.append(" " * width + "".join(c.rjust(width) for c in self.classes))
        for want in self.classes:
            out.append(want.ljust(width) + "".join(str(self.confusion[(want, got)]).rjust(width)
                                                   for got in self.classes))
        out += ["", "rules: fired on / in disagreeing cases"]
        for rule_id, count in sorted(self.fired.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  {rule_id}: {count} / {self.fired_in_disagreement[rule_id]}")
        if self.disagreements:
            out += ["", f"{counted(len(self.disagreements), 'disagreement')}:"]
            for source, case_id, differences in self.disagreements:
                out.append(f"  {source} ({case_id}): " + "; ".join(differences))
        return "\n".join(out)


@dataclass
class BatchResult:
    """What a batch run found: the summary, agreement (--expect), serious cases (--fail-on)."""

    ruleset: RuleSet
    expect: bool = False
    fail_on: str | None = None  # a tier name, or "red_flag"
    summary: RunCounts = field(default_factory=RunCounts)
    serious: list[str] = field(default_factory=list)
    agreement: Agreement = field(init=False)

    def __post_init__(self) -> None:
        self.agreement = Agreement(list(self.ruleset.manifest.classes))

    @property
    def detail(self) -> bool:
        """Whether every case must be seen (otherwise workers send counts and errors only)."""
        return self.expect or self.fail_on is not None

    def on_case(self, brief: Brief) -> None:
        if brief.error:
            return
        if self.expect:
            self.agreement.add(brief)
        if self.fail_on is not None and self.reaches(brief):
            self.serious.append(brief.file)

    def reaches(self, brief: Brief) -> bool:
        if self.fail_on == "red_flag":
            return brief.classification == "red_flag"
        rank = self.ruleset.tier_rank
        return rank[brief.urgency] <= rank[self.fail_on]  # type: ignore[index]

    def exit_code(self) -> int:
        """3 when --fail-on was reached (it outranks everything), 1 for errors or disagreements."""
        from ..base.errors import ExitCode

        if self.serious:
            return ExitCode.SERIOUS_FINDING
        if self.summary.errors or (self.expect and self.agreement.disagreements):
            return ExitCode.FAILED
        return ExitCode.OK
