"""`rules check`: every problem in a rule set at once, each as file:line:col: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbp_assess.base.errors import InputError
from lbp_assess.engine.ruleset.load import check_rules, load_rules

from helpers import RULES, edit


def line_of(path: Path, needle: str) -> int:
    """The first line that ends with `needle` (so `fever` does not match `fever_with_neuro`)."""
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.rstrip().endswith(needle))


def errors(directory: Path) -> list[str]:
    return [f"{p.location}: {p.message}".replace(f"{directory}/", "")
            for p in check_rules(directory) if p.severity == "error"]


def test_shipped_rules_are_clean(cli):
    assert [p for p in check_rules(RULES) if p.severity == "error"] == []
    run = cli("rules", "check", str(RULES))
    assert run.code == 0 and run.out.strip().endswith(": ok"), run.out + run.err


def test_unknown_fact_is_located_with_did_you_mean(rules_copy):
    path = rules_copy / "red_flags.yaml"
    edit(path, "when: history.cancer\n", "when: history.cancr\n")
    line = line_of(path, "when: history.cancr")
    assert errors(rules_copy) == [
        f"red_flags.yaml:{line}:11: unknown name `history.cancr` (did you mean `history.cancer`?)"]


def test_unknown_enum_value_and_syntax_error_are_all_reported(rules_copy):
    path = rules_copy / "red_flags.yaml"
    edit(path, 'onset.mechanism == "major_trauma"', 'onset.mechanism == "major_truama"')
    edit(path, "    when: systemic.fever\n", "    when: systemic.fever and (\n")
    found = errors(rules_copy)
    assert len(found) == 2
    assert any(":30: 'major_truama' is not a value of onset.mechanism (did you mean `major_trauma`?)" in p
               for p in found)
    line = line_of(path, "when: systemic.fever and (")
    assert f"red_flags.yaml:{line}:30: syntax error: '(' was never closed" in found


def test_duplicate_ids_undefined_and_unused_definitions(rules_copy):
    path = rules_copy / "red_flags.yaml"
    edit(path, "- id: red_flag.infection.after_spinal_procedure", "- id: red_flag.infection.fever")
    other = rules_copy / "other_specific.yaml"
    edit(other, "  vascular_history:\n", "  vascular_histori:\n")
    found = errors(rules_copy)
    first = line_of(path, "- id: red_flag.infection.fever")
    assert any(f"duplicate rule id `red_flag.infection.fever` (first at red_flags.yaml:{first}:9)"
               in p for p in found)
    assert any("unknown name `vascular_history` (did you mean `vascular_histori`?)" in p for p in found)
    assert f"other_specific.yaml:{line_of(other, '  vascular_histori:')}:3: definition `vascular_histori` " \
           "is never used" in found


def test_schema_problems_name_the_field_and_allowed_values(rules_copy):
    path = rules_copy / "musculoskeletal.yaml"
    edit(path, "    status: reviewed\n", "    status: reviewd\n")
    edit(path, "    reason: Walking or standing pain", "    reasn: Walking or standing pain")
    found = errors(rules_copy)
    assert f"musculoskeletal.yaml:{line_of(path, 'status: reviewd')}:13: 'reviewd' is not allowed; " \
           "expected one of: draft, reviewed, retired (did you mean `reviewed`?)" in found
    assert f"musculoskeletal.yaml:{line_of(path, 'the 5 Cook items.')}:5: unknown field `reasn` (did you mean `reason`?)" \
           in found
    assert any("rules.1.reason" in str(p.field) for p in check_rules(rules_copy) if p.field)


def test_unknown_outcome_and_tier(rules_copy):
    path = rules_copy / "other_specific.yaml"
    edit(path, "alert: persistent_pain", "alert: persistant_pain")
    edit(path, "    tier: soon\n", "    tier: son\n")
    found = errors(rules_copy)
    assert any("unknown alert `persistant_pain` (did you mean `persistent_pain`?); declare it in ruleset.yaml"
               in p for p in found)
    assert any("unknown tier 'son' (did you mean `soon`?)" in p for p in found)


def test_a_cycle_between_rules_is_refused(rules_copy):
    path = rules_copy / "musculoskeletal.yaml"
    edit(path, "when: radicular_gate and radicular_features >= 2",
         "when: radicular_gate and radicular_features >= 2 and not finding.radiculopathy_possible")
    found = errors(rules_copy)
    assert any("depends on its own outcome through other rules (a cycle)" in p for p in found)


def test_a_definition_cycle_is_refused(rules_copy):
    path = rules_copy / "derived.yaml"
    edit(path, "when: pain.leg_side == \"both\"", "when: pain.leg_side == \"both\" or both_below_knee")
    assert any("definitions refer to each other in a cycle" in p for p in errors(rules_copy))


def test_yaml_11_booleans_are_not_booleans_in_rules(rules_copy):
    edit(rules_copy / "ruleset.yaml", "    when: true\n", "    when: yes\n")
    assert any("unknown name `yes`" in p for p in errors(rules_copy))


def test_load_rules_refuses_a_broken_set_and_cli_exits_1(rules_copy, cli):
    edit(rules_copy / "red_flags.yaml", "when: history.cancer\n", "when: history.cancr\n")
    with pytest.raises(InputError):
        load_rules(rules_copy)
    run = cli("rules", "check", str(rules_copy))
    assert run.code == 1
    assert "red_flags.yaml:" in run.out and "error: unknown name `history.cancr`" in run.out
    assert "Traceback" not in run.err
    score = cli("score", "--rules", str(rules_copy), str(RULES.parent / "examples" / "cases"))
    assert score.code == 1 and "unknown name `history.cancr`" in score.err


def test_a_broken_interview_stops_the_interview_but_not_scoring(rules_copy, cli):
    # Scoring saved cases does not read interview.yaml (and starts quicker without it);
    # `rules check` and every command that interviews still refuse it.
    edit(rules_copy / "interview.yaml", "  - id: patient.age\n", "  - id: patient.agee\n")
    assert any("unknown case field `patient.agee`" in p for p in errors(rules_copy))
    with pytest.raises(InputError):
        load_rules(rules_copy)
    score = cli("score", "--rules", str(rules_copy), str(RULES.parent / "examples" / "cases"), "-q")
    assert score.code == 0 and score.out.count("\n") == len(list((RULES.parent / "examples" / "cases").glob("*.yaml")))
    assert cli("rules", "check", str(rules_copy)).code == 1


def test_missing_manifest(tmp_path, cli):
    run = cli("rules", "check", str(tmp_path))
    assert run.code == 1 and "no ruleset.yaml in this directory" in run.out


def test_rules_version_changes_with_content(rules_copy):
    before = load_rules(rules_copy).version
    edit(rules_copy / "red_flags.yaml", "reason: Weakness getting worse over days.",
         "reason: Weakness getting worse over days or hours.")
    after = load_rules(rules_copy).version
    assert before.startswith("lbp-default 1.1.0 sha256:") and after != before
