"""The rule expression language: three-valued truth tables, checking, and what is refused."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbp_assess.model import expr
from lbp_assess.model.expr import ExprError, Evaluation, Symbol, Type

from generated import SETTINGS
from helpers import examples

T, F, U = True, False, None


class Scope:
    """A tiny vocabulary: yes/no facts a, b, c; number n; choice side; multiple choice agg."""

    types = {
        "a": expr.BOOL, "b": expr.BOOL, "c": expr.BOOL, "n": expr.NUMBER,
        "pain.side": Type("enum", ("left", "right", "both")),
        "agg": Type("set", ("sitting", "walking")),
        "items": Type("int_list", length=9),
        "tally": expr.COUNT,  # a count held in a name (as a definition holds one): (known true, + unknown)
    }

    def lookup(self, name):
        return Symbol(name, "fact", self.types[name]) if name in self.types else None

    def names(self):
        return list(self.types)


def both(text: str, **facts):
    """Evaluate with the explaining evaluator and the compiled code; they must agree."""
    node = expr.parse(text)
    expr.check(node, Scope())
    env = {name: facts.get(name.replace("pain.", "pain_"), facts.get(name)) for name in Scope.types}
    explained = expr.explain(node, lambda name, kind: Evaluation(env[name], frozenset([name]))).value
    compiled = expr.compile_expression(node)(env)
    assert explained == compiled, (text, facts, explained, compiled)
    return compiled


AND = {(T, T): T, (T, F): F, (T, U): U, (F, T): F, (F, F): F, (F, U): F, (U, T): U, (U, F): F, (U, U): U}
OR = {(T, T): T, (T, F): T, (T, U): T, (F, T): T, (F, F): F, (F, U): U, (U, T): T, (U, F): U, (U, U): U}


@pytest.mark.parametrize("a,b", list(AND))
def test_and_is_kleene(a, b):
    assert both("a and b", a=a, b=b) is AND[(a, b)]


@pytest.mark.parametrize("a,b", list(OR))
def test_or_is_kleene(a, b):
    assert both("a or b", a=a, b=b) is OR[(a, b)]


@pytest.mark.parametrize("a,expected", [(T, F), (F, T), (U, U)])
def test_not_keeps_unknown(a, expected):
    assert both("not a", a=a) is expected


@pytest.mark.parametrize("fn,table", [
    ("is_true", {T: T, F: F, U: F}), ("is_false", {T: F, F: T, U: F}),
    ("known", {T: T, F: T, U: F}), ("unknown", {T: F, F: F, U: T}),
])
def test_tests_are_never_unknown(fn, table):
    for value, expected in table.items():
        assert both(f"{fn}(a)", a=value) is expected


def test_not_is_true_means_false_or_unknown():
    assert [both("not is_true(a)", a=v) for v in (T, F, U)] == [F, T, T]


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_a_count_held_in_a_name_compares_like_a_count_written_out(op):
    # The generated code tests a held (lo, hi) pair inline; it must match count(...) written out.
    for values in itertools.product((T, F, U), repeat=3):
        lo, unknown = values.count(T), values.count(U)
        a, b, c = values
        for k in range(4):
            for text in (f"tally {op} {k}", f"{k} {op} tally"):
                written = text.replace("tally", "count(a, b, c)")
                assert both(text, tally=(lo, lo + unknown)) is both(written, a=a, b=b, c=c), (text, values)


@pytest.mark.parametrize("values,at_least_2", [
    ((T, T, F), T), ((T, F, F), F), ((T, U, F), U), ((U, U, F), U), ((T, T, U), T), ((F, F, U), F),
])
def test_count_counts_known_true_and_is_unknown_only_when_unknowns_could_decide(values, at_least_2):
    a, b, c = values
    assert both("count(a, b, c) >= 2", a=a, b=b, c=c) is at_least_2


def test_count_comparisons_every_operator_against_brute_force():
    # Brute force: the comparison is T if it holds for every way of filling the
    # unknowns, F if for none, U otherwise - the Kleene definition.
    ops = {">=": int.__ge__, ">": int.__gt__, "<=": int.__le__, "<": int.__lt__, "==": int.__eq__, "!=": int.__ne__}
    for values in itertools.product((T, F, U), repeat=3):
        unknown = [i for i, v in enumerate(values) if v is None]
        for op, fn in ops.items():
            for k in range(4):
                outcomes = set()
                for fill in itertools.product((T, F), repeat=len(unknown)):
                    filled = list(values)
                    for i, v in zip(unknown, fill):
                        filled[i] = v
                    outcomes.add(fn(sum(filled), k))
                expected = outcomes.pop() if len(outcomes) == 1 else None
                got = both(f"count(a, b, c) {op} {k}", a=values[0], b=values[1], c=values[2])
                assert got is expected, (values, op, k)


def test_comparisons_with_unknown_are_unknown():
    assert both("n > 3", n=None) is U
    assert both("n > 3", n=4) is T
    assert both("n > 3", n=3) is F
    assert both('pain.side == "left"', pain_side=None) is U
    assert both('pain.side in ["left", "both"]', pain_side="both") is T
    assert both('"sitting" in agg', agg=None) is U
    assert both('"sitting" in agg', agg=frozenset()) is F
    assert both('"sitting" in agg', agg=frozenset({"sitting"})) is T


def test_arithmetic_index_and_conditional_propagate_unknown():
    assert both("n - 52 / 52 < 10", n=10.5) is T
    assert both("n - 52 / 52 < 10", n=None) is U
    assert both("items[8] >= 3", items=[0] * 8 + [3]) is T
    assert both("items[8] >= 3", items=None) is U
    assert both('("x" if a else "y") == "x"', a=True) is T
    assert both('("x" if a else "y") == "x"', a=None) is U


def test_false_decides_and_even_when_the_rest_is_unknown():
    # The core safety property of three-valued logic: a known answer decides
    # where it can, an unknown one never counts as present.
    assert both("a and b and c", a=None, b=False, c=None) is F
    assert both("a or b or c", a=None, b=True, c=None) is T


def test_support_names_the_facts_that_decided():
    node = expr.parse("a or (b and c)")
    expr.check(node, Scope())
    env = {"a": False, "b": True, "c": True}
    out = expr.explain(node, lambda n, k: Evaluation(env[n], frozenset([n])))
    assert out.value is True and out.support == {"b", "c"}
    env = {"a": None, "b": False, "c": True}
    out = expr.explain(node, lambda n, k: Evaluation(env[n], frozenset([n])))
    assert out.value is None and out.support == {"a"}  # what is missing


@pytest.mark.parametrize("text,message", [
    ('__import__("os").system("x")', "unknown function"),
    ("a.__class__", "unknown name `a.__class__`"),
    ("lambda: a", "is not allowed"),
    ("[x for x in agg]", "is not allowed"),
    ("items[0:2]", "an index must be a whole number"),
    ("n ** 2", "only + - * /"),
    ('f"{a}"', "is not allowed"),
    ('"x".upper()', "unknown function"),
    ("a is b", "use ==, !=, <, <=, >, >=, in or not in"),
    ("a == null", "there is no null"),
    ("count()", "at least one item"),
    ("is_true(a, b)", "exactly one argument"),
    ("-a", "only `not` and a minus sign"),
])
def test_disallowed_syntax_is_refused_with_a_message(text, message):
    with pytest.raises(ExprError) as info:
        expr.check(expr.parse(text), Scope())
    assert message in info.value.message


def test_syntax_error_reports_the_column():
    with pytest.raises(ExprError) as info:
        expr.parse("a and (b or")
    assert "syntax error" in info.value.message and info.value.col >= 6


@pytest.mark.parametrize("text,message", [
    ("aa and b", "unknown name `aa` (did you mean `a`?)"),
    ('pain.side == "rigth"', "'rigth' is not a value of pain.side (did you mean `right`?)"),
    ('pain.side in ["left", "bot"]', "'bot' is not a value of pain.side (did you mean `both`?)"),
    ('"sittin" in agg', "'sittin' is not a value of agg (did you mean `sitting`?)"),
    ("n and a", "`and`/`or` join yes/no conditions"),
    ('pain.side > 3', "> compares numbers"),
    ("count(a, b) >= n", "compare count(...) with a fixed number"),
    ("agg == 1", "multiple choice"),
    ("n / 0 > 1", "division by zero"),
])
def test_checking_catches_names_types_and_enum_values(text, message):
    with pytest.raises(ExprError) as info:
        expr.check(expr.parse(text), Scope())
    assert message in info.value.message


@pytest.mark.parametrize("text", [
    "a and b", "a or b", "a and b and c", "a or b or c", "a and is_true(b)", "is_false(a) or b",
    "a and (b or c)", "(a and b) or c", "not a", "a", "count(a, b, c) >= 2 and c", "n > 3 or a",
    "is_true(a) and is_true(b)", "is_true(a) or known(b)",
])
def test_generated_statements_branch_as_the_value_says(text):
    # Rules and checks are generated as branches, not values (CodeGen.branch / condition):
    # for every combination of facts, the branch taken matches the explained value.
    node = expr.parse(text)
    expr.check(node, Scope())
    names = ["a", "b", "c", "n"]
    gen = expr.CodeGen(lambda name: f"f_{name}", lambda name: True)
    lines = gen.branch(node, ["out = True"], ["out = None"])
    test = expr.CodeGen(lambda name: f"f_{name}", lambda name: True).condition(node)
    source = (f"def outcome({', '.join('f_' + n for n in names)}):\n    out = False\n"
              + "".join(f"    {line}\n" for line in lines) + "    return out\n"
              f"def holds({', '.join('f_' + n for n in names)}):\n    return bool({test})\n")
    namespace = {**expr.RUNTIME, **gen.constants}
    exec(compile(source, "<test>", "exec"), namespace)
    for a, b, c, n in itertools.product((T, F, U), (T, F, U), (T, F, U), (1, 5, None)):
        env = {"a": a, "b": b, "c": c, "n": n}
        value = expr.explain(node, lambda name, kind: Evaluation(env[name], frozenset([name]))).value
        assert namespace["outcome"](a, b, c, n) is value, (text, env)
        assert namespace["holds"](a, b, c, n) is (value is True), (text, env)


@pytest.mark.parametrize("text", [
    "n + 1 > 3", "n * 2 - n / 4 >= 2", "items[0] + items[1] >= 1", "items[8] >= 3 and n > 1",
    "count(n > 3, items[0] == 1, a) >= 2", "count(n > 3, items[0] == 1, a) < 2", "pain.side in [\"left\", \"both\"]",
])
def test_comparison_and_arithmetic_trees_are_unknown_exactly_when_a_name_is(text):
    # Such trees are generated as one test of their names, then plain Python (CodeGen._strict).
    for n, items, a, side in itertools.product((None, 0, 2, 5), (None, [0] * 9, [1] * 8 + [4]), (T, F, U),
                                               (None, "left", "right")):
        both(text, n=n, items=items, a=a, pain_side=side)


def test_a_definition_computed_on_demand_is_computed_once_and_only_when_read():
    # `d` stands for "a or b", computed where first read (CodeGen on_demand); `c and d` must
    # leave it uncomputed when c is false, and a second read must reuse the first.
    tree = expr.parse("a or b")
    expr.check(tree, Scope())
    gen = expr.CodeGen(lambda name: f"f_{name}", lambda name: True, {"d": tree}.get)
    d = expr.Ref("d", type=expr.BOOL)
    first = gen.branch(expr.And([expr.Ref("c"), d]), ["out = True"], ["out = None"])
    second, _ = gen.statement(expr.Not(d))
    source = ("def run(f_a, f_b, f_c):\n    out = False\n    f_d = ...\n"
              + "".join(f"    {line}\n" for line in first) + f"    again = {second}\n    return out, f_d, again\n")
    namespace: dict = {}
    exec(compile(source, "<test>", "exec"), namespace)
    for a, b, c in itertools.product((T, F, U), repeat=3):
        d_value = OR[(a, b)]
        out, held, again = namespace["run"](a, b, c)
        assert out is AND[(c, d_value)], (a, b, c)
        assert held is d_value  # computed by the second read at the latest
        assert again is (None if d_value is None else not d_value)
    # Not read at all when c is false: the first statement alone leaves it as `...`.
    only_first = source.replace(f"    again = {second}\n", "    again = None\n")
    exec(compile(only_first, "<test>", "exec"), namespace)
    assert namespace["run"](T, T, F)[1] is ...


# Random rule conditions over the tiny vocabulary, with two definitions computed where read
# (`d`, a junction, and `e`, a count comparison): generated branches, known-true tests and
# values must all say what the explaining evaluator says, for every answer including unknown.
_ATOMS = ["a", "b", "c", "d", "e", "is_true(a)", "is_false(b)", "is_true(d)", "known(n)", "unknown(c)",
          "n > 3", "n + 1 >= 5", "items[0] == 1", 'pain.side in ["left", "both"]', 'pain.side != "right"',
          '"sitting" in agg', "count(a, n > 3, d) >= 2", "count(b, c) < 1", "tally >= 1"]
_CONDITIONS = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.builds(lambda x: f"not ({x})", inner),
        st.builds(lambda xs: " and ".join(f"({x})" for x in xs), st.lists(inner, min_size=2, max_size=4)),
        st.builds(lambda xs: " or ".join(f"({x})" for x in xs), st.lists(inner, min_size=2, max_size=4)),
    ),
    max_leaves=8,
)


class _WithDefinitions(Scope):
    types = dict(Scope.types, d=expr.BOOL, e=expr.BOOL)


_DEFINED = {name: expr.parse(text) for name, text in {"d": "a or (b and n > 3)", "e": "count(a, b, c) >= 2"}.items()}
for _tree in _DEFINED.values():
    expr.check(_tree, Scope())
_ANSWERS = {"a": (T, F, U), "b": (T, F, U), "c": (T, F, U), "n": (None, 1, 3, 5),
            "items": (None, [1] + [0] * 8, [0] * 9), "pain.side": (None, "left", "right"),
            "agg": (None, frozenset(), frozenset({"sitting"})), "tally": ((0, 0), (0, 2), (1, 1))}
_ENVIRONMENTS = [dict(zip(_ANSWERS, combo)) for combo in itertools.islice(itertools.product(*_ANSWERS.values()), 0, None, 7)]


@settings(SETTINGS, max_examples=examples(300))
@given(_CONDITIONS)
def test_random_conditions_branch_test_and_evaluate_as_the_explaining_evaluator_says(text):
    node = expr.parse(text)
    expr.check(node, _WithDefinitions())
    names = sorted(Scope.types)
    local = {n: "f_" + n.replace(".", "_") for n in [*names, "d", "e"]}
    gen = expr.CodeGen(local.__getitem__, lambda name: name != "tally", _DEFINED.get)
    lines = gen.branch(node, ["out = True"], ["out = None"])
    test = gen.condition(node)
    value, _ = gen.statement(node)
    source = (f"def run({', '.join(local[n] for n in names)}):\n    f_d = f_e = ...\n    out = False\n"
              + "".join(f"    {line}\n" for line in lines)
              + f"    holds = bool({test})\n    value = {value}\n    return out, holds, value\n")
    namespace = {**expr.RUNTIME, **gen.constants}
    exec(compile(source, "<test>", "exec"), namespace)
    for env in _ENVIRONMENTS:
        def lookup(name, kind, env=env):
            if name in _DEFINED:
                return expr.explain(_DEFINED[name], lookup)
            return Evaluation(env[name], frozenset([name]))
        expected = expr.explain(node, lookup).value
        out, holds, got = namespace["run"](*(env[n] for n in names))
        assert out is expected and holds is (expected is True) and got is expected, (text, env, out, got)
