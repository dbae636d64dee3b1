"""`rules test --mutate`: the rule tests must notice every small edit of the rules that changes a result."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from lbp_assess.tooling import mutate
from lbp_assess.engine.ruleset.load import load_rules
from lbp_assess.base.yamlio import load_yaml

from helpers import RULES

AORTA = """\
layer: red_flag
definitions:
  age_at_onset: patient.age - onset.weeks_ago / 52
rules:
  - id: red_flag.aortic_aneurysm.risk_factors
    when: patient.age >= 60 and pain.abdominal and (history.smoker or history.vascular_disease)
    condition: aortic_aneurysm
    tier: urgent
    reason: Age 60 or over with abdominal pain and a smoking or vascular history.
    source: test
    status: draft
    label: test
    time_frame: test
    timing: days
    action: test
    examination: ""
    safety_net: []
  - id: other_specific.early_onset
    when: >-
      age_at_onset < 45
      and onset.weeks_ago >= 12
    alert: inflammatory_pattern
    tier: soon
    reason: Began before 45, 12 weeks or more ago.
    source: test
    status: draft
    label: test
    time_frame: test
    timing: days
    action: test
    examination: ""
    safety_net: []
checks:
  - id: constant_and_mechanical
    when: is_false(behaviour.mechanical) and behaviour.constant
    message: constant but not mechanical
"""

TESTS = """\
tests:
  - name: Smoker at 65 with abdominal pain
    case: {patient: {age: 65}, pain: {abdominal: true}, history: {smoker: true}}
    expect: {conditions: {aortic_aneurysm: urgent}}
  - name: Onset at 30
    case: {patient: {age: 30}, onset: {weeks_ago: 20}}
    expect: {alerts: [inflammatory_pattern]}
"""


def _without(text: str, top: set[str], nested: set[str]) -> str:
    """YAML text without the top-level keys `top` and the item keys (4-space indent) `nested`."""
    out, dropping = [], None
    for line in text.splitlines():
        indent = len(line) - len(line.lstrip(" "))
        key = line.strip().split(":", 1)[0]
        if dropping is not None and (not line.strip() or indent > dropping):
            continue
        dropping = None
        if (indent == 0 and key in top) or (indent == 4 and key in nested):
            dropping = indent
            continue
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture
def small_rules(tmp_path) -> Path:
    """A rule set of two rules and a check, with two rule tests that leave most edits unnoticed."""
    target = tmp_path / "rules"
    target.mkdir()
    # The note's wording (advice, headlines, safety-net blocks, settled facts) reads definitions this
    # small set lacks: the manifest keeps only what scoring needs.
    manifest = _without((RULES / "ruleset.yaml").read_text(),
                        top={"flags_noted", "observations", "settled", "safety_net_blocks", "screen_notes"},
                        nested={"advice", "headline", "superseded_when", "superseded_label", "impression"})
    (target / "ruleset.yaml").write_text(manifest)
    (target / "aorta.yaml").write_text(AORTA)
    (target / "tests").mkdir()
    (target / "tests" / "aorta.yaml").write_text(TESTS)
    return target


@pytest.mark.slow
def test_the_shipped_rule_tests_notice_every_edit_that_changes_a_result(ruleset):
    start = time.perf_counter()
    report = mutate.run(RULES, ruleset)
    assert report.distinguishing == [], "\n".join(mutate.report_lines(report))
    assert report.generated > 300 and report.killed == report.generated - len(report.no_difference)
    # The edits no case can tell apart are the known equivalent ones (e.g. the acute/subacute split,
    # which no rule reads; policy v7's aneurysm "reason line" row, which the emergency row always
    # accompanies, so its tier cannot show), a few at most.
    assert len(report.no_difference) <= 12, [str(s.mutant) for s in report.no_difference]
    print(f"{report.generated} mutants, {report.killed} killed, {len(report.no_difference)} no difference, "
          f"{time.perf_counter() - start:.1f} s")


def test_a_surviving_edit_is_reported_where_it_is_with_a_test_that_catches_it(small_rules, cli):
    run = cli("rules", "test", "--mutate", str(small_rules))
    assert run.code == 1
    path = small_rules / "aorta.yaml"
    lines = path.read_text().splitlines()
    row = next(i for i, line in enumerate(lines, 1) if "patient.age >= 60" in line)
    col = lines[row - 1].index("60") + 1
    assert f"{path}:{row}:{col}: patient.age >= 60 and pain.abdominal" not in run.out  # the edit, not the rule
    assert f"{path}:{row}:{col}: patient.age >= 60 -> patient.age >= 61\n" in run.out
    first = run.out.index(f"{row}:{col}: patient.age >= 60 -> patient.age >= 61")
    suggestion = run.out[first:].split("\n", 2)[2]
    assert suggestion.startswith('  - name: "red_flag.aortic_aneurysm.risk_factors: patient.age >= 60 rather than '
                                 'patient.age >= 61"\n    case: {patient: {age: 60}, pain: {abdominal: true}, '
                                 "history: {smoker: true}}\n    expect: {classification: red_flag, urgency: urgent, "
                                 "conditions: {aortic_aneurysm: urgent}}\n")
    assert re.fullmatch(r"40 mutants: 3 killed by the rule tests, 4 with no case found that differs, "
                        r"33 surviving \(\d+\.\d s\)", run.out.strip().splitlines()[-1])


def test_an_edit_in_a_folded_expression_is_located_on_its_own_line(small_rules):
    found, _ = mutate.mutants(load_rules(small_rules))
    lines = (small_rules / "aorta.yaml").read_text().splitlines()
    row = next(i for i, line in enumerate(lines, 1) if line.strip() == "and onset.weeks_ago >= 12")
    col = lines[row - 1].index("12") + 1
    assert any(str(m) == f"{small_rules / 'aorta.yaml'}:{row}:{col}: onset.weeks_ago >= 12 -> onset.weeks_ago >= 13"
               for m in found), [str(m) for m in found if "weeks_ago >= 1" in str(m)]


def test_pasting_the_suggested_tests_kills_every_survivor(small_rules):
    report = mutate.run(small_rules, load_rules(small_rules))
    survivors = [str(s.mutant) for s in report.distinguishing]
    assert any("onset.weeks_ago / 52 -> onset.weeks_ago / 53" in s for s in survivors)  # a derived value
    assert any("history.smoker or history.vascular_disease -> history.smoker" in s for s in survivors)
    assert any("screening: systemic.fever -> (dropped)" in s for s in survivors)
    # unknown must keep a rule open: `is_true(x)` for `x` is an edit (not in a check, which acts only on true)
    assert any("history.vascular_disease -> is_true(history.vascular_disease)" in s for s in survivors)
    assert not any("is_true(behaviour.constant)" in str(m) for m in mutate.mutants(load_rules(small_rules))[0])
    assert any("condition_tier.emergency or condition_tier.urgent -> condition_tier.emergency" in s
               for s in survivors)
    # Edits no case can show: a check warns only when its condition is known true; these rules
    # raise no emergency and no stenosis or radicular finding.
    assert sorted(str(s.mutant).split(": ", 1)[1] for s in report.no_difference) == [
        "classification order red_flag, stenosis -> stenosis, red_flag",
        "classification order stenosis, radicular -> radicular, stenosis",
        "condition_tier.emergency or condition_tier.urgent -> condition_tier.urgent",
        "is_false(behaviour.mechanical) -> not behaviour.mechanical"]
    path = small_rules / "tests" / "aorta.yaml"
    path.write_text(path.read_text() + "".join(s.test for s in report.distinguishing))
    assert len(load_yaml(path.read_text(), str(path))["tests"]) == 2 + len(report.distinguishing)
    again = mutate.run(small_rules, load_rules(small_rules))
    assert again.distinguishing == [], "\n".join(mutate.report_lines(again))
    assert len(again.no_difference) == 4 and again.killed == again.generated - 4


def test_rules_test_without_mutate_does_not_mutate(small_rules, cli):
    run = cli("rules", "test", str(small_rules))
    assert run.code == 0 and run.out.splitlines()[0] == "2 passed, 0 failed"
    assert run.out.splitlines()[1].startswith("red-flag answers: ") and "mutation" not in run.out.lower()


def test_mutate_on_failing_rule_tests_reports_the_failures_only(small_rules, cli):
    path = small_rules / "tests" / "aorta.yaml"
    path.write_text(path.read_text().replace("aortic_aneurysm: urgent", "aortic_aneurysm: emergency"))
    run = cli("rules", "test", "--mutate", str(small_rules))
    assert run.code == 1 and "FAIL Smoker at 65" in run.out and "mutants" not in run.out


@pytest.mark.parametrize("text,edits", [
    ("patient.age > 50", ["patient.age > 49", "patient.age > 51", "patient.age >= 50"]),
    ("onset.weeks_ago < 11.9", ["onset.weeks_ago < 11.8", "onset.weeks_ago < 12.0", "onset.weeks_ago <= 11.9"]),
    ("history.cancer and history.smoker", ["history.cancer or history.smoker", "is_true(history.cancer) and "
                                           "history.smoker", "history.cancer and is_true(history.smoker)"]),
    ("history.cancer or history.smoker or history.diabetes",
     ["history.cancer and history.smoker and history.diabetes", "history.smoker or history.diabetes",
      "history.cancer or history.diabetes", "history.cancer or history.smoker",
      "is_true(history.cancer) or history.smoker or history.diabetes",
      "history.cancer or is_true(history.smoker) or history.diabetes",
      "history.cancer or history.smoker or is_true(history.diabetes)"]),
    ("history.cancer and is_true(condition.any)", ["history.cancer or is_true(condition.any)",
                                                   "is_true(history.cancer) and is_true(condition.any)",
                                                   "history.cancer and condition.any"]),
    ('pain.leg_extent in ["below_knee", "foot"]',
     ['pain.leg_extent in ["foot"]', 'pain.leg_extent in ["below_knee"]']),
    ("pain.back_nrs in [7, 8]", ["pain.back_nrs in [8]", "pain.back_nrs in [7]", "pain.back_nrs in [6, 8]",
                                 "pain.back_nrs in [7, 9]"]),  # a number in a list, one step off
    ("pain.back_nrs in [7]", ["pain.back_nrs in [6]", "pain.back_nrs in [8]"]),
    ("count(history.cancer, history.smoker) >= 2",
     ["count(history.smoker) >= 2", "count(history.cancer) >= 2", "count(history.cancer, history.smoker) >= 1",
      "count(history.cancer, history.smoker) >= 3", "count(history.cancer, history.smoker) > 2"]),
    ("is_true(history.cancer)", ["history.cancer"]),
    ("is_false(history.cancer)", ["not is_true(history.cancer)", "not history.cancer"]),
    ("not is_true(history.cancer)", ["is_false(history.cancer)", "not history.cancer"]),
    ("not history.cancer", ["not is_true(history.cancer)", "is_false(history.cancer)"]),
    ("not condition.any", []),  # an outcome is never unknown: nothing to say about unknown
    ("onset.weeks_ago / 1 > 2", ["onset.weeks_ago / 2 > 2", "onset.weeks_ago / 1 > 1", "onset.weeks_ago / 1 > 3",
                                 "onset.weeks_ago / 1 >= 2"]),  # never a division by zero
])
def test_the_edits_of_an_expression(text, edits):
    from lbp_assess.model import expr
    from lbp_assess.engine.ruleset.load import scope_of

    node = expr.parse(text)
    expr.check(node, scope_of(load_rules(RULES), definitions=False))
    assert sorted(mutate.expression_text(tree) for _, _, tree in mutate.tree_mutations(node)) == sorted(edits)


def test_the_rule_test_printed_reads_back_as_the_same_case():
    case = {"pain.leg_extent": "below_knee", "behaviour.aggravated_by": frozenset(["walking", "sitting"]),
            "onset.weeks_ago": 52.5, "patient.age": 60, "pain.root_level": "L3", "history.cancer": False,
            "psychosocial.start_back": (1, 0, 0, 0, 1, 1, 0, 0, 3), "notes.presenting": "yes: a \"quote\""}
    text = "case: " + mutate.yaml_flow(mutate.nested_case(case))
    assert load_yaml(text, "<t>")["case"] == {
        "pain": {"leg_extent": "below_knee", "root_level": "L3"}, "behaviour": {"aggravated_by": ["sitting", "walking"]},
        "onset": {"weeks_ago": 52.5}, "patient": {"age": 60}, "history": {"cancer": False},
        "psychosocial": {"start_back": [1, 0, 0, 0, 1, 1, 0, 0, 3]}, "notes": {"presenting": "yes: a \"quote\""}}


def test_mutate_stops_at_its_budget_and_says_the_run_is_incomplete(small_rules, cli, monkeypatch):
    monkeypatch.setattr(mutate, "peak_memory_mb", lambda: 5000.0)
    run = cli("rules", "test", str(small_rules), "--mutate", "--max-memory", "4096")
    assert run.code == 1
    assert "INCOMPLETE: stopped after 0 of" in run.out and "the memory budget of 4096 MB was reached" in run.out


def test_mutate_stops_at_its_time_budget(small_rules):
    report = mutate.run(small_rules, load_rules(small_rules), max_seconds=0)
    assert report.stopped and "the time budget of 0 s was spent" in report.stopped
    assert report.killed == 0 and report.survivors == [] and report.generated > 0
