"""Engine behaviour that mutation testing of the rules showed no test pinned."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from lbp_assess.model import expr
from lbp_assess.base.errors import InputError
from lbp_assess.model.expr import Evaluation, Symbol
from lbp_assess.engine.ruleset.load import check_rules, load_rules

from helpers import RULES, make_case

T, F, U = True, False, None


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def _errors(directory: Path) -> list[str]:
    return [f"{p.location}: {p.message}".replace(f"{directory}/", "")
            for p in check_rules(directory) if p.severity == "error"]


def test_a_condition_rule_without_a_tier_fails_rules_check(rules_copy, cli):
    path = rules_copy / "red_flags.yaml"
    _edit(path, "    when: history.known_aaa\n    condition: aortic_aneurysm\n    tier: urgent\n",
          "    when: history.known_aaa\n    condition: aortic_aneurysm\n")
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if text.endswith("id: red_flag.aortic_aneurysm.known_aaa"))
    assert f"red_flags.yaml:{line}:9: rule `red_flag.aortic_aneurysm.known_aaa` raises a condition and needs a " \
           "`tier`" in _errors(rules_copy)
    run = cli("rules", "check", str(rules_copy))
    assert run.code == 1 and "needs a `tier`" in run.out


@pytest.mark.parametrize("last", ["finding.radicular_possible", "false"])
def test_a_last_classification_entry_that_is_not_true_is_refused(rules_copy, last):
    path = rules_copy / "ruleset.yaml"
    _edit(path, "  - class: non_specific\n    when: true\n", f"  - class: non_specific\n    when: {last}\n")
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text == f"    when: {last}")
    assert f"ruleset.yaml:{line}:11: the last classification entry must be `when: true`, so every case gets " \
           "a class" in _errors(rules_copy)
    with pytest.raises(InputError):
        load_rules(rules_copy)


class _Scope:
    types = {"a": expr.BOOL, "b": expr.BOOL, "c": expr.BOOL}

    def lookup(self, name):
        return Symbol(name, "fact", self.types[name]) if name in self.types else None

    def names(self):
        return list(self.types)


OPS = {">=": int.__ge__, ">": int.__gt__, "<=": int.__le__, "<": int.__lt__, "==": int.__eq__, "!=": int.__ne__}


@pytest.mark.parametrize("op", list(OPS))
def test_a_comparison_written_constant_first_means_what_it_says(op):
    # `k OP count(a, b, c)`: true if it holds however the unknowns are answered, false if it
    # holds for none, unknown otherwise - in both evaluators.
    node = expr.parse(f"2 {op} count(a, b, c)")
    expr.check(node, _Scope())
    compiled = expr.compile_expression(node)
    for values in itertools.product((T, F, U), repeat=3):
        unknown = [i for i, v in enumerate(values) if v is None]
        outcomes = set()
        for fill in itertools.product((T, F), repeat=len(unknown)):
            filled = list(values)
            for i, v in zip(unknown, fill):
                filled[i] = v
            outcomes.add(OPS[op](2, sum(filled)))
        expected = outcomes.pop() if len(outcomes) == 1 else None
        env = dict(zip("abc", values))
        explained = expr.explain(node, lambda name, kind: Evaluation(env[name], frozenset([name]))).value
        assert explained is expected and compiled(env) is expected, (op, values, explained, compiled(env))


def test_assessment_value_of_a_condition_tier_is_what_the_classification_reads(ruleset):
    # cancer with numbness: malignancy raised at emergency (with neurology) and at urgent (history)
    both = ruleset.assess(make_case(history={"cancer": True}, neuro={"numbness": True}))
    assert both.conditions == {"malignancy": "emergency"}
    assert [both.value(f"condition_tier.{t}") for t in ("emergency", "urgent", "soon", "routine")] == [
        True, True, False, False]
    urgent = ruleset.assess(make_case(history={"cancer": True}, neuro={"numbness": False, "paraesthesia": False,
                                                                        "weakness": False, "gait_change": False}))
    assert urgent.conditions == {"malignancy": "urgent"}
    assert (urgent.value("condition_tier.emergency"), urgent.value("condition_tier.urgent")) == (False, True)
    none = ruleset.assess(make_case(neuro={"foot_drop": True}))  # an urgent alert is not a condition
    assert none.urgency == "urgent" and none.value("condition_tier.urgent") is False
    assert none.classification == "non_specific"
