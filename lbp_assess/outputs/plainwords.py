"""Rule expressions in plain words, for people who do not read the rule language.

    ces_feature and cauda_equina.onset_days > 14 and is_false(cauda_equina.worsening)

reads as "any cauda equina feature (...), and days since bladder, bowel or saddle
symptoms began over 14 days, and those symptoms worsening (known no)". Facts read
as their interview labels, yes/no definitions as their `means:` text, and what
other rules raised as the labels of the rule set. Three-valued logic stays
visible: "(known no)" is `is_false`, "(no or unknown)" is `not is_true`.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import expr
from ..engine.ruleset.model import RuleSet
from ..engine.words import COMPARISON_WORDS, describe_value, lower_first

_TESTS = {"is_true": "{} (known yes)", "is_false": "{} (known no)", "known": "{} answered",
          "unknown": "{} not answered"}
_AT_LEAST = {">=": "at least", ">": "more than", "<": "fewer than", "<=": "at most", "==": "exactly",
             "!=": "other than"}
_NOT_TESTS = {"is_true": "{} (no or unknown)", "is_false": "{} (yes or unknown)", "known": "{} not answered",
              "unknown": "{} answered"}


def _compound(text: str) -> bool:
    """Whether words join several items at their top level (outside brackets)."""
    top = re.sub(r"\([^()]*\)", "", text)
    return "," in top or " or " in top or " and " in top


class PlainWords:
    """Renders checked expression trees of one rule set as English."""

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self.questions = ruleset.questionnaire.by_id if ruleset.questionnaire else {}

    # ------------------------------------------------------------------ names

    def fact(self, name: str) -> str:
        question = self.questions.get(name)
        return lower_first(question.label) if question else name

    def definition(self, name: str) -> str:
        definition = self.ruleset.definitions[name]
        if definition.node.type.kind == "bool" and definition.means:
            return lower_first(definition.means.strip().rstrip("."))
        if isinstance(definition.node, expr.Count):
            return f"number of {name.replace('_', ' ')}"
        return name.replace("_", " ")

    def outcome(self, name: str, raised: bool = True) -> str:
        m = self.ruleset.manifest
        kind, _, item = name.partition(".")
        verb = "raised" if raised else "not raised"
        if name == "condition.any":
            return "a red-flag condition raised" if raised else "no red-flag condition raised"
        if name == "screening_incomplete":
            return "a red-flag screening question not asked" if raised else "every red-flag screening question asked"
        if kind == "condition_tier":
            return f"a condition {verb} at {item} tier"
        table = {"condition": m.conditions, "alert": m.alerts, "finding": m.findings}[kind]
        label = lower_first(table[item].label) if item in table else item.replace("_", " ")
        return f"{kind} \u201c{label}\u201d {verb}"

    def name(self, ref: expr.Ref) -> str:
        if ref.kind == "definition" or ref.name in self.ruleset.definitions:
            return self.definition(ref.name)
        if ref.kind == "outcome":
            return self.outcome(ref.name)
        return self.fact(ref.name)

    # ------------------------------------------------------------------ values

    def value(self, subject: expr.Node, value: Any) -> str:
        """A constant as the answer it stands for: a choice's label, a number with its unit."""
        if isinstance(subject, expr.Ref) and subject.name in self.questions:
            question = self.questions[subject.name]
            if question.choices:
                return lower_first(question.choice_label(value))
            if isinstance(value, (int, float)) and not isinstance(value, bool) and question.unit:
                unit = question.unit
                shown = describe_value(value)
                if unit.lower() in question.label.lower():
                    return shown
                return f"{shown}{unit}" if unit.startswith("/") else f"{shown} {unit}"
        if isinstance(value, str):
            return f"\u201c{value}\u201d"
        return describe_value(value)

    # ------------------------------------------------------------------ expressions

    def words(self, node: expr.Node) -> str:
        method = getattr(self, f"_{type(node).__name__.lower()}")
        return method(node)

    def _part(self, node: expr.Node, parent: type) -> str:
        text = self.words(node)
        if isinstance(node, (expr.And, expr.Or)) and not isinstance(node, parent):
            return f"({text})"
        if isinstance(node, expr.Ref) and node.kind == "definition" and parent is not expr.Test and _compound(text):
            # a definition's `means` that is itself a list
            return f"({text})"
        return text

    def _const(self, node: expr.Const) -> str:
        if node.value is True:
            return "always"
        if node.value is False:
            return "never"
        return self.value(node, node.value)

    def _ref(self, node: expr.Ref) -> str:
        return self.name(node)

    def _and(self, node: expr.And) -> str:
        parts = [self._part(item, expr.And) for item in node.items]
        return ", and ".join(parts) if len(parts) > 2 or any("," in p for p in parts) else " and ".join(parts)

    def _or(self, node: expr.Or) -> str:
        parts = [self._part(item, expr.Or) for item in node.items]
        return ", or ".join(parts) if len(parts) > 2 or any("," in p for p in parts) else " or ".join(parts)

    def _not(self, node: expr.Not) -> str:
        item = node.item
        if isinstance(item, expr.Test):
            return _NOT_TESTS[item.fn].format(self._part(item.item, expr.Test))
        if isinstance(item, expr.Ref) and item.kind == "outcome":
            return self.outcome(item.name, raised=False)
        text = self.words(item)
        if isinstance(item, (expr.And, expr.Or)):
            return f"not ({text})"
        return f"not: {text}"

    def _test(self, node: expr.Test) -> str:
        return _TESTS[node.fn].format(self._part(node.item, expr.Test))

    def _compare(self, node: expr.Compare) -> str:
        left, right, op = node.left, node.right, node.op
        if isinstance(left, expr.Const) and not isinstance(right, expr.Const):
            left, right = right, left
            op = {">": "<", ">=": "<=", "<": ">", "<=": ">="}.get(op, op)
        if isinstance(left, expr.Count) and isinstance(right, expr.Const):
            return self._count_compared(left, op, right.value)
        if isinstance(left, expr.Ref) and isinstance(right, expr.Const) and self._is_count(left.name):
            return f"{_AT_LEAST[op]} {describe_value(right.value)} {left.name.replace('_', ' ')}"
        subject = self.words(left)
        shown = self.value(left, right.value) if isinstance(right, expr.Const) else self.words(right)
        if op in ("==", "!=") and isinstance(left, expr.Ref) and left.type.kind == "enum":
            return f"{subject}: {shown}" if op == "==" else f"{subject}: anything but {shown}"
        return f"{subject} {COMPARISON_WORDS[op].format(shown)}"

    def _is_count(self, name: str) -> bool:
        definition = self.ruleset.definitions.get(name)
        return definition is not None and isinstance(definition.node, expr.Count)

    def _count_compared(self, node: expr.Count, op: str, value: Any) -> str:
        items = "; ".join(self.words(item) for item in node.items)
        return f"{_AT_LEAST[op]} {describe_value(value)} of: {items} (known yes)"

    def _count(self, node: expr.Count) -> str:
        return "how many are known yes of: " + "; ".join(self.words(item) for item in node.items)

    def _in(self, node: expr.In) -> str:
        if isinstance(node.container, expr.ListLit):
            values = [self.value(node.item, v) for v in node.container.values]
            joined = values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]
            subject = self.words(node.item)
            return f"{subject}: anything but {joined}" if node.negate else f"{subject}: {joined}"
        subject = self.words(node.container)
        item = self.value(node.container, node.item.value) if isinstance(node.item, expr.Const) else self.words(node.item)
        return f"{subject} {'does not include' if node.negate else 'includes'} {item}"

    def _listlit(self, node: expr.ListLit) -> str:
        return ", ".join(describe_value(v) for v in node.values)

    def _arith(self, node: expr.Arith) -> str:
        op = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}[node.op]
        return f"{self._part(node.left, expr.Arith)} {op} {self._part(node.right, expr.Arith)}"

    def _index(self, node: expr.Index) -> str:
        return f"{self.words(node.item)} item {node.index + 1}"

    def _ifelse(self, node: expr.IfElse) -> str:
        return f"{self.words(node.then)} if {self.words(node.test)}, otherwise {self.words(node.other)}"

