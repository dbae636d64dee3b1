"""The rule tests that live beside the rules: each one is a pytest case too."""

from __future__ import annotations

import shutil

import pytest

from lbp_assess.engine.ruletests import GENERATED_CASES, load_tests, run_test

from helpers import RULES

TESTS = load_tests(RULES)


def test_there_are_boundary_tests_for_every_layer():
    files = {t.where.file.rsplit("/", 1)[-1] for t in TESTS}
    assert {"red_flags.yaml", "musculoskeletal.yaml", "other_specific.yaml", "consistency.yaml"} <= files
    assert len(TESTS) >= 80


@pytest.mark.parametrize("test", TESTS, ids=[t.slug for t in TESTS])
def test_rule_test(test, ruleset):
    outcome = run_test(test, ruleset)
    assert outcome.passed, f"{test.where}: {test.name}: {outcome.failures}"


def test_rules_test_command_reports_a_wrong_expectation(tmp_path, cli):
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    path = target / "tests" / "red_flags.yaml"
    text = path.read_text()
    path.write_text(text.replace("expect: {conditions: {malignancy: emergency}, fires:",
                                 "expect: {conditions: {malignancy: urgent}, fires:", 1))
    run = cli("rules", "test", str(target))
    assert run.code == 1
    assert "FAIL Cancer history with numbness is an emergency (MSCC)" in run.out
    assert "conditions: expected {malignancy: urgent}, got {malignancy: emergency}" in run.out
    assert f"\n{len(TESTS) - 1} passed, 1 failed\n" in run.out


def test_rules_test_command_passes_on_shipped_rules(cli):
    run = cli("rules", "test")
    assert run.code == 0 and run.out.splitlines()[0] == f"{len(TESTS)} passed, 0 failed"
    # Policy v7: the over-triage bank and the true red flags are counted.
    assert run.out.splitlines()[1].startswith("over-triage: 0 of ")
    assert "benign presentations reach emergency or urgent (target 0); red flags caught: " in run.out


def test_rules_test_checks_that_a_red_flag_answer_never_lowers_the_urgency(cli):
    import re

    run = cli("rules", "test")
    found = re.search(r"red-flag answers: a yes to any of the 11 red-flag questions never lowered the urgency nor "
                      r"removed a red flag \(([\d,]+) cases: every test's, each that raises something again at the "
                      rf"edges of every number the rules compare, and {GENERATED_CASES} generated\)", run.out)
    assert found, run.out
    assert int(found[1].replace(",", "")) > 5 * len(TESTS) + GENERATED_CASES  # the sweep adds thousands


def ces_emergency_rule_edited(tmp_path, extra: str):
    """A copy of the shipped rules whose cauda equina emergency rule gains `extra` (a clinical lead's
    edit) at the end of its condition: the copy's folder."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    path = target / "red_flags.yaml"
    text = path.read_text()
    old = "      ces_feature and not (is_true(cauda_equina.onset_days > 14) and is_false(cauda_equina.worsening))\n"
    assert text.count(old) == 1
    path.write_text(text.replace(old, f"{old[:-1]} {extra}\n"))
    return target


def test_an_edit_where_a_second_red_flag_lowers_the_urgency_fails_rules_test(tmp_path, cli):
    """A clinical lead's edit: the cauda equina emergency rule gains `and not is_true(systemic.fever)`.
    Every rule test still passes (none has CES with fever), but a fever now turns an emergency into
    an urgent case and drops cauda equina: `rules test` names the cases and exits 1."""
    target = ces_emergency_rule_edited(tmp_path, "and not is_true(systemic.fever)")
    run = cli("rules", "test", str(target))
    assert run.code == 1
    assert run.out.splitlines()[0] == f"{len(TESTS)} passed, 0 failed"  # the tests alone did not notice
    unsafe = [line for line in run.out.splitlines() if line.startswith("UNSAFE: ")]
    assert len(unsafe) == 20 and all(line.startswith("UNSAFE: systemic.fever = yes ") for line in unsafe)
    assert any("from emergency to urgent, and cauda_equina is no longer raised" in line for line in unsafe)
    assert "unsafe (the first 20 above) - a yes to a red-flag question must never lower" in run.out


@pytest.mark.parametrize("keyed, shown", [
    ("is_true(patient.age == 37)", "with patient.age = 37 from emergency to routine"),
    ("is_true(onset.weeks_ago > 30) and is_true(onset.weeks_ago < 31)", "with onset.weeks_ago = 30.5 from emergency"),
])
def test_an_unsafe_edit_keyed_to_one_value_of_a_number_fails_rules_test(tmp_path, cli, keyed, shown):
    """A review's edit: the cauda equina emergency gains `and not (weight loss and <one age>)` (or a
    band of weeks between two close values). The random cases rarely drew exactly that age, never
    30.5 weeks: `rules test` passed it, 833 cases safe. Each test case that raises something is
    now checked again at every edge of every number the rules compare."""
    target = ces_emergency_rule_edited(tmp_path, f"and not (is_true(systemic.weight_loss) and {keyed})")
    assert cli("rules", "check", str(target)).code == 0
    run = cli("rules", "test", str(target))
    assert run.code == 1 and run.out.splitlines()[0] == f"{len(TESTS)} passed, 0 failed"
    unsafe = [line for line in run.out.splitlines() if line.startswith("UNSAFE: systemic.weight_loss = yes ")]
    assert unsafe and any(shown in line for line in unsafe), run.out


def test_the_over_triage_count_names_a_benign_case_that_reaches_urgent(tmp_path, cli):
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    path = target / "red_flags.yaml"
    text = path.read_text()
    # An edit that over-triages: diabetes with "unwell" alone made urgent again (as in v6).
    old = "    when: systemic.unwell and history.diabetes and bad_pain\n"
    assert old in text
    path.write_text(text.replace(old, "    when: systemic.unwell and history.diabetes and (bad_pain or true)\n"))
    run = cli("rules", "test", str(target))
    assert run.code == 1
    assert "over-triage: 1 of " in run.out
    assert "over-triaged: generally unwell with diabetes, pain improving and not constant" in run.out


def _outcome(ruleset, case, **expect):
    from lbp_assess.base.errors import Location
    from lbp_assess.engine.ruletests import Expect, RuleTest

    return run_test(RuleTest("t", Location("<t>"), case, Expect(**expect)), ruleset).failures


def test_not_warnings_fails_when_the_warning_appears(ruleset):
    contradictory = {"behaviour": {"constant": True, "mechanical": True}}
    assert _outcome(ruleset, contradictory, not_warnings=["constant_and_mechanical"]) == [
        "not_warnings: constant_and_mechanical did appear"]
    assert _outcome(ruleset, {"behaviour": {"constant": True, "mechanical": False}},
                    not_warnings=["constant_and_mechanical"]) == []


def test_alert_tiers_checks_the_tier_of_each_listed_alert(ruleset):
    foot_drop = {"neuro": {"weakness": True, "foot_drop": True}}
    assert _outcome(ruleset, foot_drop, alert_tiers={"significant_motor_deficit": "urgent"}) == []
    assert _outcome(ruleset, foot_drop, alert_tiers={"significant_motor_deficit": "soon"}) == [
        "alert_tiers: expected significant_motor_deficit at soon, got urgent"]
    assert _outcome(ruleset, {}, alert_tiers={"significant_motor_deficit": "urgent"}) == [
        "alert_tiers: expected significant_motor_deficit at urgent, got no such alert"]


def test_a_rule_is_fired_ruled_out_or_not_excluded(ruleset):
    rule = "red_flag.malignancy.cancer_history"
    assert _outcome(ruleset, {}, not_excluded=[rule]) == []
    assert _outcome(ruleset, {}, ruled_out=[rule]) == [
        f"ruled_out: {rule} was not ruled out (it fired or was not excluded)"]
    assert _outcome(ruleset, {"history": {"cancer": False}}, ruled_out=[rule]) == []
    assert _outcome(ruleset, {"history": {"cancer": False}}, not_excluded=[rule]) == [
        f"not_excluded: {rule} was not reported as not excluded"]
    assert _outcome(ruleset, {"history": {"cancer": True}}, ruled_out=[rule]) == [
        f"ruled_out: {rule} was not ruled out (it fired or was not excluded)"]
    assert _outcome(ruleset, {}, ruled_out=["red_flag.no_such_rule"]) == [
        "ruled_out: no rule has the id 'red_flag.no_such_rule'"]


@pytest.mark.parametrize("tests_dir", ["missing", "empty", "a file"])
def test_a_rule_set_without_rule_tests_has_not_passed_them(tmp_path, cli, tests_dir):
    """`rules test` on a copy without its tests (no folder, an empty one, a file in its place) is a
    failure naming what was expected, never "0 passed, 0 failed" and exit 0."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in RULES.glob("*.yaml"):
        shutil.copy(path, rules)
    if tests_dir == "empty":
        (rules / "tests").mkdir()
    elif tests_dir == "a file":
        (rules / "tests").write_text("not a folder\n")
    run = cli("rules", "test", str(rules))
    assert run.code == 1 and "0 passed" not in run.out, (run.out, run.err)
    assert f"{rules}: no rule tests found (expected {rules / 'tests'}/*.yaml" in run.err
