"""Rule tests that live beside the rules (`<rules>/tests/*.yaml`).

Each test is a partial case (every fact not given is unknown) and the
expectations to check; only the listed expectations are checked::

    tests:
      - name: CES over 14 days and stable is urgent
        case:
          cauda_equina: {saddle_numbness: true, onset_days: 15, worsening: false}
        expect:
          conditions: {cauda_equina: urgent}     # exactly these conditions, at these tiers
          urgency: urgent
          fires: [red_flag.cauda_equina.established_stable]
          not_fires: [red_flag.cauda_equina.emergency]

`classification`, `urgency` and `conditions` are compared exactly; `fires`,
`alerts`, `findings`, `warnings` (check ids), `unscreened` and `flags_noted`
(the weak flags the note lists, by definition name) must all be present;
`not_fires`, `not_alerts`, `not_findings`, `not_warnings`, `not_flags_noted` must
all be absent. `alert_tiers` gives the tier of each listed alert. A rule is in one of
three states for a case: fired, ruled out (known not to fire), or not excluded
(unknown answers kept it from being decided): `not_excluded` lists rules that
must be reported as not excluded, `ruled_out` rules that must be known not to fire.

`lbp-assess rules test --mutate` checks that the tests notice small edits of
the rules (see mutate.py) and prints a test like these for each edit they miss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..model.case import FORMAT, Classification, Urgency, problems_from, validate_case
from ..base.errors import InputError, Location, Problem
from .ruleset.model import Assessment, RuleSet
from ..base.yamlio import Locator, load_yaml, read_text


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    classification: Optional[Classification] = None
    urgency: Optional[Urgency] = None
    conditions: Optional[dict[str, Urgency]] = None
    fires: list[str] = []
    not_fires: list[str] = []
    alerts: list[str] = []
    not_alerts: list[str] = []
    findings: list[str] = []
    not_findings: list[str] = []
    alert_tiers: dict[str, Urgency] = {}
    warnings: list[str] = []
    not_warnings: list[str] = []
    unscreened: list[str] = []
    not_excluded: list[str] = []
    ruled_out: list[str] = []
    flags_noted: list[str] = []
    not_flags_noted: list[str] = []


class RuleTestSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1)
    case: dict[str, Any]
    expect: Expect


class RuleTestFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    description: Optional[str] = None
    # A measuring bank (policy v7): `benign` presentations (one soft feature changed) should not
    # reach urgent or emergency; `red_flag` presentations must. `rules test` reports both counts.
    bank: Optional[Literal["benign", "red_flag"]] = None
    tests: list[RuleTestSpec]


@dataclass
class RuleTest:
    name: str
    where: Location
    case: dict[str, Any]
    expect: Expect
    bank: str | None = None

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")[:80] or "test"


@dataclass
class RuleTestResult:
    test: RuleTest
    failures: list[str]
    urgency: str | None = None  # None when the test case was not valid

    @property
    def passed(self) -> bool:
        return not self.failures


def load_tests(directory: Path) -> list[RuleTest]:
    """Every rule test under `<directory>/tests/`; InputError lists all problems in the files."""
    tests: list[RuleTest] = []
    problems: list[Problem] = []
    for path in sorted((directory / "tests").glob("*.yaml")):
        name = str(path)
        try:
            text = read_text(path)
            spec = RuleTestFile.model_validate(load_yaml(text, name, kind="rule test"))
        except InputError as err:
            problems.extend(err.problems)
            continue
        except ValidationError as exc:
            problems.extend(problems_from(exc, name, text, model=RuleTestFile))
            continue
        locator = Locator(text)
        for index, test in enumerate(spec.tests):
            tests.append(RuleTest(test.name, Location(name, *locator.find(("tests", index, "name"))),
                                  test.case, test.expect, spec.bank))
    if problems:
        raise InputError.from_problems(problems)
    return tests


def run_test(test: RuleTest, ruleset: RuleSet) -> RuleTestResult:
    data = {"format": FORMAT, "id": test.slug, **test.case}
    try:
        case = validate_case(data, str(test.where))
    except InputError as err:
        return RuleTestResult(test, [f"the test case is not a valid case: {err}"])
    a = ruleset.assess(case)
    return RuleTestResult(test, compare(a, test.expect, ruleset), a.urgency)


@dataclass
class Banks:
    """The over-triage measure: benign presentations that reach the top tiers, red flags caught."""

    benign: int
    benign_over_triaged: list[RuleTest]
    red_flags: int
    red_flags_missed: list[RuleTest]

    def lines(self, top: tuple[str, ...]) -> list[str]:
        if not self.benign and not self.red_flags:
            return []
        tiers = " or ".join(top)
        out = [f"over-triage: {len(self.benign_over_triaged)} of {self.benign} benign presentations reach "
               f"{tiers} (target 0); red flags caught: {self.red_flags - len(self.red_flags_missed)} "
               f"of {self.red_flags}"]
        out += [f"    over-triaged: {t.name} ({t.where})" for t in self.benign_over_triaged]
        out += [f"    red flag missed: {t.name} ({t.where})" for t in self.red_flags_missed]
        return out


def banks(outcomes: list[RuleTestResult], top: tuple[str, ...]) -> Banks:
    """Count the benign bank's cases that reach a tier in `top`, and the red-flag bank's that do not."""
    benign = [o for o in outcomes if o.test.bank == "benign"]
    red = [o for o in outcomes if o.test.bank == "red_flag"]
    return Banks(len(benign), [o.test for o in benign if o.urgency in top],
                 len(red), [o.test for o in red if o.urgency not in top])


def compare(a: Assessment, expect: Expect, ruleset: RuleSet) -> list[str]:
    """What differs between an assessment and the listed expectations."""
    failures = []
    if expect.classification is not None and a.classification != expect.classification:
        failures.append(f"classification: expected {expect.classification}, got {a.classification}")
    if expect.urgency is not None and a.urgency != expect.urgency:
        failures.append(f"urgency: expected {expect.urgency}, got {a.urgency}")
    if expect.conditions is not None and a.conditions != expect.conditions:
        failures.append(f"conditions: expected {_tiers(expect.conditions)}, got {_tiers(a.conditions)}")
    for alert, tier in expect.alert_tiers.items():
        if a.alerts.get(alert, "absent") != tier:
            failures.append(f"alert_tiers: expected {alert} at {tier}, got {a.alerts.get(alert, 'no such alert')}")
    known_ids = {r.id for r in ruleset.rules}
    warnings = [w.split(":", 1)[0] for w in a.warnings]
    decided = set(a.rules_fired) | set(a.not_excluded)
    ruled_out = [r for r in known_ids if r not in decided] if expect.ruled_out else []
    flags = ruleset.manifest.flags_noted
    noted = [f for f in flags if a.value(f) is True]
    for label, wanted, actual, present in (
        ("fires", expect.fires, a.rules_fired, True), ("not_fires", expect.not_fires, a.rules_fired, False),
        ("alerts", expect.alerts, list(a.alerts), True), ("not_alerts", expect.not_alerts, list(a.alerts), False),
        ("findings", expect.findings, a.findings, True),
        ("not_findings", expect.not_findings, a.findings, False),
        ("warnings", expect.warnings, warnings, True), ("not_warnings", expect.not_warnings, warnings, False),
        ("unscreened", expect.unscreened, a.unscreened, True),
        ("not_excluded", expect.not_excluded, a.not_excluded, True), ("ruled_out", expect.ruled_out, ruled_out, True),
        ("flags_noted", expect.flags_noted, noted, True),
        ("not_flags_noted", expect.not_flags_noted, noted, False),
    ):
        for item in wanted:
            if label in _RULE_LISTS and item not in known_ids:
                failures.append(f"{label}: no rule has the id {item!r}")
            elif label in ("flags_noted", "not_flags_noted") and item not in flags:
                failures.append(f"{label}: {item!r} is not in flags_noted")
            elif (item in actual) != present:
                failures.append(f"{label}: {item} {_MISSED[label] if present else _FOUND[label]}")
    return failures


_RULE_LISTS = ("fires", "not_fires", "not_excluded", "ruled_out")
_MISSED = {"fires": "did not fire", "not_excluded": "was not reported as not excluded",
           "ruled_out": "was not ruled out (it fired or was not excluded)"}
_MISSED.update({k: "did not appear" for k in ("alerts", "findings", "warnings", "unscreened", "flags_noted")})
_FOUND = {"not_fires": "did fire",
          **{f"not_{k}": "did appear" for k in ("alerts", "findings", "warnings", "flags_noted")}}


def _tiers(conditions: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in conditions.items()) + "}" if conditions else "none"


def run_tests(directory: Path, ruleset: RuleSet) -> list[RuleTestResult]:
    return [run_test(test, ruleset) for test in load_tests(directory)]


# --------------------------------------------------------------------------- the red-flag safety property


#: Random valid cases the red-flag property is checked on, beside every rule test's case.
GENERATED_CASES = 400


@dataclass
class Lowered:
    """A case that a red-flag answer makes less urgent (or that loses a red flag by it): the
    safety property `red_flag_answers_never_lower` found broken."""

    where: str  # the rule test's name and place, or "generated case N"
    fact: str
    urgency_before: str
    urgency_after: str
    conditions_lost: list[str]

    def line(self) -> str:
        lost = f", and {', '.join(self.conditions_lost)} is no longer raised" if self.conditions_lost else ""
        return (f"UNSAFE: {self.fact} = yes lowers the urgency of {self.where} from {self.urgency_before} to "
                f"{self.urgency_after}{lost}" if self.urgency_after != self.urgency_before else
                f"UNSAFE: {self.fact} = yes removes a red flag from {self.where}: {', '.join(self.conditions_lost)} "
                f"is no longer raised")


def red_flag_answers_never_lower(ruleset: RuleSet, tests: list[RuleTest], generated: int = GENERATED_CASES,
                                 seed: int = 0) -> tuple[int, int, list[Lowered]]:
    """Check that answering yes to any red-flag screening question (the rule set's `screening`)
    never lowers a case's urgency nor removes a condition it raised - a red flag is never missed
    because another one was found. Checked on every rule test's case; on each of those that raises
    something, again with every number the rules compare set to each of its edges in turn (`_edges`:
    each value a rule compares it with, one either side, and halfway between two close ones - an
    edit keyed to one age, `patient.age == 37`, or to a narrow band of weeks); and on `generated`
    random valid cases (a fixed seed: the same cases every run), numbers drawn from the same edges
    or anywhere in range. Returns (the cases checked that came from the tests, the generated cases
    checked, what breaks the property)."""
    import random

    rank = ruleset.tier_rank
    found: list[Lowered] = []
    checked = {True: 0, False: 0}  # by whether the case was generated
    for where, facts in _property_cases(ruleset, tests, generated, random.Random(seed)):
        checked[where.startswith("generated")] += 1
        before = ruleset.assess_facts(facts)
        for fact in ruleset.manifest.screening:
            if facts.get(fact) is True:
                continue
            after = ruleset.assess_facts({**facts, fact: True})
            lost = [c for c in before.conditions if c not in after.conditions]
            if rank[after.urgency] > rank[before.urgency] or lost:
                found.append(Lowered(where, fact, before.urgency, after.urgency, lost))
    return checked[False], checked[True], found


def _property_cases(ruleset: RuleSet, tests: list[RuleTest], generated: int, rng: Any):
    """(where, flat facts) of every valid rule-test case and, for each that raises something, its
    threshold sweep; then of the generated cases."""
    from ..model.case import FACTS, facts_of

    thresholds = ruleset.thresholds
    edges = {path: found for path, around in thresholds.items()
             if path in FACTS and (found := _edges(FACTS[path], around))}
    lowest = max(ruleset.tier_rank.values())
    for test in tests:
        try:
            case = validate_case({"format": FORMAT, "id": test.slug, **test.case}, str(test.where))
        except InputError:
            continue  # reported by the test itself
        where, facts = f"the test {test.name!r} ({test.where})", facts_of(case)
        yield where, facts
        raised = ruleset.assess_facts(facts)
        if not raised.conditions and ruleset.tier_rank[raised.urgency] == lowest:
            continue  # nothing a yes could lower or remove
        for path, values in edges.items():
            for value in values:
                if facts.get(path) != value:
                    yield f"{where} with {path} = {value:g}", {**facts, path: value}
    made = 0
    for _ in range(20 * generated):  # values that cannot go together are drawn again, a bounded number of times
        if made == generated:
            break
        known, yes = rng.choice((20, 60, 95)), rng.choice((3, 15, 50))
        data: dict[str, Any] = {"format": FORMAT, "id": f"generated-{made + 1}"}
        for path, kind in FACTS.items():
            if rng.randrange(100) < known and (value := _value(kind, yes, thresholds.get(path, ()), rng)) is not None:
                section, name = path.split(".")
                data.setdefault(section, {})[name] = value
        try:
            case = validate_case(data, "<generated>")
        except InputError:
            continue  # values that cannot go together (an onset before birth): drawn again
        made += 1
        yield f"generated case {made}", facts_of(case)


def _value(kind: Any, yes: int, around: Any, rng: Any) -> Any:
    """A value of a fact's type: yes/no with `yes` percent yes; numbers either side of the rules'
    thresholds or anywhere in range; a choice, or a few choices; None for text and lists of scores."""
    if kind.kind == "bool":
        return rng.randrange(100) < yes
    if kind.kind in ("enum", "set"):
        return rng.choice(kind.values) if kind.kind == "enum" else \
            rng.sample(kind.values, min(len(kind.values), rng.randrange(3)))
    if kind.kind in ("int", "number"):
        lo = kind.minimum if kind.minimum is not None else 0
        edges = _edges(kind, around)
        hi = kind.maximum if kind.maximum is not None else max([100, *edges])
        value = rng.choice(edges) if edges and rng.randrange(2) else rng.uniform(lo, hi)
        return int(value) if kind.kind == "int" else value
    return None


def _edges(kind: Any, around: Any) -> list[int | float]:
    """The values of a number where a rule comparing it may change its mind: each constant it is
    compared with, one either side, and halfway between two neighbouring constants (a band such as
    `> 30 and < 31` holds only there); within the fact's range, whole numbers for a whole-number fact."""
    if kind.kind not in ("int", "number"):
        return []
    constants = sorted({k for k in around if isinstance(k, (int, float)) and not isinstance(k, bool)})
    found = {e for k in constants for e in (k - 1, k, k + 1)}
    found |= {(a + b) / 2 for a, b in zip(constants, constants[1:])}
    lo = kind.minimum if kind.minimum is not None else 0
    hi = kind.maximum if kind.maximum is not None else max([100, *found])
    if kind.kind == "int":
        found = {int(e) for e in found}  # a halfway value taken down to a whole number
    return sorted(e for e in found if lo <= e <= hi)
