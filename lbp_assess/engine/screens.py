"""How a red-flag screen (ruleset.yaml `screens`: the cauda equina questions, ...) was covered
for one case: how many of its questions were asked, how many an earlier answer settled (a
follow-up skipped because "no weakness" settles "weakness in both legs: no"), which were
positive and which are unknown.

One count for every output, so that explain, practice and the note never disagree
("Cauda equina screen negative (6 of 7 asked, 1 settled by an earlier answer)").
"""

from __future__ import annotations

from dataclasses import dataclass

from .ruleset.model import Assessment


@dataclass(frozen=True)
class ScreenCount:
    title: str
    total: int
    asked: int  # answered (yes, no) at a question that was asked
    settled: int  # answered by an earlier answer: a follow-up not asked (its ask_when is false)
    positive: tuple[str, ...]  # facts answered yes
    unknown: tuple[str, ...]  # facts not answered, or unsure

    @property
    def negative(self) -> bool:
        """Every item known, and none positive."""
        return not self.positive and not self.unknown

    def counted(self) -> str:
        """"6 of 7 asked, 1 settled by an earlier answer"."""
        return f"{self.asked} of {self.total} asked" + (
            f", {self.settled} settled by an earlier answer" if self.settled else "")


def screen_count(a: Assessment, title: str, facts: list[str]) -> ScreenCount:
    """The count of screen `title` (its `facts`) for this case."""
    q = a.ruleset.questionnaire
    values = {f: a.facts.get(f) for f in facts}

    def asked(fact: str) -> bool:
        question = q.by_id.get(fact) if q else None
        return question is None or question.ask_when is None or question.ask_when(a.facts) is not False

    settled = sum(v is not None and not asked(f) for f, v in values.items())
    known = sum(v is not None for v in values.values())
    return ScreenCount(title, len(facts), known - settled, settled,
                       tuple(f for f, v in values.items() if v is True),
                       tuple(f for f, v in values.items() if v is None))


def screen_counts(a: Assessment) -> list[ScreenCount]:
    """Every screen of the rule set, in ruleset.yaml order."""
    return [screen_count(a, title, list(facts)) for title, facts in a.ruleset.manifest.screens.items()]
