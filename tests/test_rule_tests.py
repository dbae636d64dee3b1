"""The rule tests that live beside the rules: each one is a pytest case too."""

from __future__ import annotations

import shutil

import pytest

from lbp_assess.ruletests import load_tests, run_test

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
    assert run.out.strip().endswith(f"{len(TESTS) - 1} passed, 1 failed")


def test_rules_test_command_passes_on_shipped_rules(cli):
    run = cli("rules", "test")
    assert run.code == 0 and run.out.strip() == f"{len(TESTS)} passed, 0 failed"
