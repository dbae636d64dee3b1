"""The rule expression language: parse once, check against the vocabulary, evaluate in
three-valued (Kleene) logic.

Syntax is a small, allow-listed subset of Python expressions over fact names::

    history.cancer and (neuro.weakness or neuro.numbness)
    pain.leg_extent in ["below_knee", "foot"]
    "walking" in behaviour.aggravated_by
    count(bilateral_leg, pain.dominant == "leg", patient.age > 48) >= 4
    not is_true(behaviour.mechanical)
    "acute" if onset.weeks_ago < 6 else "persistent"

Values are `True`, `False`, numbers, strings, sets, or `None` = unknown. An unknown
operand makes the result unknown unless the known parts decide it (`False and x`
is False, `True or x` is True). `count(...)` counts items known to be true; compared
with a number it is true when the known-true items alone reach it, false when even
all unknown items could not, and unknown otherwise.

Two evaluators share one checked tree:

* `explain(node, env)` walks the tree and returns the value with the facts that
  decided it (for notes, practice feedback and `explain`).
* `CodeGen` turns checked trees into Python source for one generated function
  (rules.compile_ruleset): expressions as values, and rules and checks as
  branches (`branch`, `condition`). Only our own node types are turned into
  code: names become local variables and constants are `repr`-ed, so no rule
  text is ever executed. Differential tests hold the two to the same results.
"""

from __future__ import annotations

import ast
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from ..base.errors import did_you_mean
from ..base.text import shorten

UNKNOWN = None


class ExprError(Exception):
    """A problem in an expression, at a 0-based column of the expression text (line 1-based)."""

    def __init__(self, message: str, line: int = 1, col: int = 0):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Type:
    kind: str  # bool | number | text | enum | set | int_list | count | list
    values: tuple[Any, ...] = ()
    length: int | None = None  # int_list: its number of items, when every case has the same

    def __str__(self) -> str:
        return {"enum": "a choice", "set": "a multiple choice", "count": "a count",
                "int_list": "a list of numbers", "list": "a list"}.get(self.kind, self.kind)


BOOL, NUMBER, TEXT, COUNT = Type("bool"), Type("number"), Type("text"), Type("count")


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str  # fact | definition | outcome
    type: Type


class Scope(Protocol):
    def lookup(self, name: str) -> Symbol | None: ...

    def names(self) -> Iterable[str]: ...


# --------------------------------------------------------------------------- nodes


@dataclass(eq=False)
class Node:
    col: int = field(default=0, kw_only=True)
    line: int = field(default=1, kw_only=True)
    type: Type = field(default=BOOL, kw_only=True)


@dataclass(eq=False)
class Const(Node):
    value: Any


@dataclass(eq=False)
class Ref(Node):
    name: str
    kind: str = "fact"  # set by check(): fact | definition | outcome


@dataclass(eq=False)
class And(Node):
    items: list[Node]


@dataclass(eq=False)
class Or(Node):
    items: list[Node]


@dataclass(eq=False)
class Not(Node):
    item: Node


@dataclass(eq=False)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(eq=False)
class In(Node):
    item: Node
    container: Node
    negate: bool = False


@dataclass(eq=False)
class Arith(Node):
    op: str
    left: Node
    right: Node


@dataclass(eq=False)
class Index(Node):
    item: Node
    index: int


@dataclass(eq=False)
class Test(Node):
    """is_true / is_false / known / unknown: always true or false, never unknown."""

    fn: str
    item: Node


@dataclass(eq=False)
class Count(Node):
    items: list[Node]


@dataclass(eq=False)
class IfElse(Node):
    test: Node
    then: Node
    other: Node


@dataclass(eq=False)
class ListLit(Node):
    values: tuple[Any, ...]


FUNCTIONS = {
    "is_true": "true when the value is known to be true (false when false or unknown)",
    "is_false": "true when the value is known to be false",
    "known": "true when the value was answered",
    "unknown": "true when the value was not asked or is unknown",
    "count": "how many of its arguments are known to be true; compare it with a number",
}
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CONSTANT_NAMES = {"true": True, "false": False, "True": True, "False": False}
#: Limits that keep every rule within what Python can compile and evaluate: an expression
#: nests at most MAX_DEPTH levels (each operand of a chain `a + b + c` counts one), and a
#: number in a rule is finite and at most MAX_NUMBER in size (thresholds are ages, days,
#: minutes and scores; a larger number could only overflow).
MAX_DEPTH = 24
MAX_NUMBER = 1e9


# --------------------------------------------------------------------------- parsing


def parse(text: str | bool) -> Node:
    """Parse expression text into an unchecked tree (syntax errors carry the column)."""
    if isinstance(text, bool):
        return Const(text)
    if not isinstance(text, str) or not text.strip():
        raise ExprError("expected an expression")
    if not unicodedata.is_normalized("NFKC", text):  # Python reads `ｐain` and `pain.leg_ſide` as plain names
        col = next((i for i, c in enumerate(text) if unicodedata.normalize("NFKC", c) != c), 0)
        raise ExprError(f"write expressions in plain characters: {text[col]!r} (U+{ord(text[col]):04X}) reads as "
                        f"{unicodedata.normalize('NFKC', text[col])!r}", 1, col - (len(text) - len(text.lstrip())))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        if "integer string conversion" in str(exc.msg):  # thousands of digits
            raise ExprError(f"number out of range: numbers in rules are at most {MAX_NUMBER:,.0f} in size") from None
        raise ExprError(f"syntax error: {exc.msg}", exc.lineno or 1, max((exc.offset or 1) - 1, 0)) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExprError(f"expression is too long or nested too deeply (at most {MAX_DEPTH} levels); "
                        "split it into definitions") from None
    _check_depth(tree.body)
    return _convert(tree.body)


def _check_depth(tree: ast.AST) -> None:
    """Refuse a tree deeper than MAX_DEPTH (without recursion: it may be very deep)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(f"expression is nested too deeply: more than {MAX_DEPTH} levels (each term of a "
                            "long sum counts one); split it into definitions",
                            getattr(node, "lineno", 1), getattr(node, "col_offset", 0))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _number(value: Any, pos: dict[str, int]) -> Any:
    """A constant of a rule, refused when it is not finite or too large to be a threshold."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not -MAX_NUMBER <= value <= MAX_NUMBER:
        raise ExprError(f"number out of range: numbers in rules are at most {MAX_NUMBER:,.0f} in size", **pos)
    return value


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _convert(node: ast.AST) -> Node:
    pos = {"col": getattr(node, "col_offset", 0), "line": getattr(node, "lineno", 1)}
    if isinstance(node, ast.BoolOp):
        items = [_convert(v) for v in node.values]
        return And(items, **pos) if isinstance(node.op, ast.And) else Or(items, **pos)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return Not(_convert(node.operand), **pos)
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            value = node.operand.value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return Const(_number(-value, pos), **pos)
        raise ExprError("only `not` and a minus sign before a number are allowed here", **pos)
    if isinstance(node, ast.Compare):
        parts = []
        left = _convert(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = _convert(right_node)
            if isinstance(op, (ast.In, ast.NotIn)):
                parts.append(In(left, right, isinstance(op, ast.NotIn), **pos))
            elif type(op) in _OPS:
                parts.append(Compare(_OPS[type(op)], left, right, **pos))
            else:
                raise ExprError("use ==, !=, <, <=, >, >=, in or not in to compare", **pos)
            left = right
        return parts[0] if len(parts) == 1 else And(parts, **pos)
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise ExprError("only + - * / are allowed in arithmetic", **pos)
        return Arith(_ARITH[type(node.op)], _convert(node.left), _convert(node.right), **pos)
    if isinstance(node, ast.Constant):
        if node.value is None:
            raise ExprError("there is no null in rules: use known(x) or unknown(x)", **pos)
        if not isinstance(node.value, (bool, int, float, str)):
            raise ExprError("unsupported constant", **pos)
        return Const(_number(node.value, pos), **pos)
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = _dotted(node)
        if name is None:
            raise ExprError("expected a fact name such as pain.leg_side", **pos)
        if name in _CONSTANT_NAMES:
            return Const(_CONSTANT_NAMES[name], **pos)
        if name in ("null", "None"):
            raise ExprError("there is no null in rules: use known(x) or unknown(x)", **pos)
        return Ref(name, **pos)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        values = []
        for elt in node.elts:
            if not isinstance(elt, ast.Constant) or not isinstance(elt.value, (str, int, float)):
                raise ExprError("a list may hold only fixed values, e.g. [\"below_knee\", \"foot\"]", **pos)
            values.append(_number(elt.value, pos))
        return ListLit(tuple(values), **pos)
    if isinstance(node, ast.Subscript):
        index = node.slice
        if not (isinstance(index, ast.Constant) and isinstance(index.value, int)
                and not isinstance(index.value, bool)):
            raise ExprError("an index must be a whole number, e.g. psychosocial.start_back[8]", **pos)
        return Index(_convert(node.value), _number(index.value, pos), **pos)
    if isinstance(node, ast.IfExp):
        return IfElse(_convert(node.test), _convert(node.body), _convert(node.orelse), **pos)
    if isinstance(node, ast.Call):
        fn = node.func.id if isinstance(node.func, ast.Name) else None
        if fn not in FUNCTIONS:
            raise ExprError(f"unknown function {fn or ast.unparse(node.func)!r}{did_you_mean(fn or '', FUNCTIONS)};"
                            f" available: {', '.join(FUNCTIONS)}", **pos)
        if node.keywords:
            raise ExprError(f"{fn}() takes no keyword arguments", **pos)
        args = [_convert(a) for a in node.args]
        if fn == "count":
            if not args:
                raise ExprError("count() needs at least one item", **pos)
            return Count(args, **pos)
        if len(args) != 1:
            raise ExprError(f"{fn}() takes exactly one argument", **pos)
        return Test(fn, args[0], **pos)
    raise ExprError(f"`{ast.unparse(node)}` is not allowed in a rule expression", **pos)


# --------------------------------------------------------------------------- checking


def check(node: Node, scope: Scope) -> Type:
    """Resolve names and check types, setting `node.type`; raise ExprError on a problem."""
    node.type = _check(node, scope)
    return node.type


def _expect(node: Node, scope: Scope, *kinds: str, what: str) -> Type:
    t = check(node, scope)
    if t.kind not in kinds:
        raise ExprError(f"{what}, but this is {t}", node.line, node.col)
    return t


def _check(node: Node, scope: Scope) -> Type:
    if isinstance(node, Const):
        v = node.value
        return BOOL if isinstance(v, bool) else TEXT if isinstance(v, str) else NUMBER
    if isinstance(node, Ref):
        symbol = scope.lookup(node.name)
        if symbol is None:
            raise ExprError(f"unknown name `{node.name}`{did_you_mean(node.name, scope.names())}",
                            node.line, node.col)
        node.kind = symbol.kind
        return symbol.type
    if isinstance(node, (And, Or)):
        for item in node.items:
            _expect(item, scope, "bool", what="`and`/`or` join yes/no conditions")
        return BOOL
    if isinstance(node, Not):
        _expect(node.item, scope, "bool", what="`not` applies to a yes/no condition")
        return BOOL
    if isinstance(node, Test):
        check(node.item, scope)
        if node.fn in ("is_true", "is_false") and node.item.type.kind != "bool":
            raise ExprError(f"{node.fn}() takes a yes/no condition, but this is {node.item.type}",
                            node.line, node.col)
        return BOOL
    if isinstance(node, Count):
        for item in node.items:
            _expect(item, scope, "bool", what="count() counts yes/no conditions")
        return COUNT
    if isinstance(node, Compare):
        return _check_compare(node, scope)
    if isinstance(node, In):
        return _check_in(node, scope)
    if isinstance(node, Arith):
        for side in (node.left, node.right):
            _expect(side, scope, "number", what="arithmetic works on numbers")
        if node.op == "/" and isinstance(node.right, Const) and node.right.value == 0:
            raise ExprError("division by zero", node.line, node.col)
        return NUMBER
    if isinstance(node, Index):
        t = _expect(node.item, scope, "int_list", what="only a list of numbers can be indexed")
        if node.index < 0:
            raise ExprError("an index counts from 0", node.line, node.col)
        if t.length is None or node.index >= t.length:
            items = f"has {t.length} items (0 to {t.length - 1})" if t.length else "has no fixed number of items"
            raise ExprError(f"index {node.index} is past the end: {_name(node.item)} {items}", node.line, node.col)
        return NUMBER
    if isinstance(node, IfElse):
        _expect(node.test, scope, "bool", what="the condition of `if` must be yes/no")
        a, b = check(node.then, scope), check(node.other, scope)
        if COUNT in (a, b):
            raise ExprError("count(...) cannot be a branch of `if`; compare it with a number in each branch",
                            node.line, node.col)
        if a.kind == b.kind == "text" and isinstance(node.then, Const) and isinstance(node.other, Const):
            return Type("enum", (node.then.value, node.other.value))
        if a.kind == b.kind == "enum" or {a.kind, b.kind} == {"enum", "text"}:
            values = tuple(dict.fromkeys((*_values(node.then, a), *_values(node.other, b))))
            return Type("enum", values)
        if a.kind != b.kind:
            raise ExprError(f"both branches must have the same type ({a} vs {b})", node.line, node.col)
        return a
    if isinstance(node, ListLit):
        return Type("list", node.values)
    raise ExprError("unsupported expression", node.line, node.col)  # pragma: no cover


def _values(node: Node, t: Type) -> tuple[Any, ...]:
    return (node.value,) if isinstance(node, Const) else t.values


def _check_enum_value(t: Type, value: Any, node: Node, name: str) -> None:
    if t.kind in ("enum", "set") and t.values and value not in t.values:
        shown = shorten(repr(value), 60)  # a runaway literal, cut
        raise ExprError(f"{shown} is not a value of {name}{did_you_mean(str(value)[:200], t.values)}; "
                        f"expected one of: {', '.join(map(str, t.values))}", node.line, node.col)


def _name(node: Node) -> str:
    return node.name if isinstance(node, Ref) else "this expression"


def _check_compare(node: Compare, scope: Scope) -> Type:
    a, b = check(node.left, scope), check(node.right, scope)
    if COUNT in (a, b):
        other, other_node = (b, node.right) if a == COUNT else (a, node.left)
        if other.kind != "number" or not isinstance(other_node, Const):
            raise ExprError("compare count(...) with a fixed number, e.g. count(a, b, c) >= 2",
                            node.line, node.col)
        return BOOL
    if node.op in ("<", "<=", ">", ">="):
        for t, side in ((a, node.left), (b, node.right)):
            if t.kind != "number":
                raise ExprError(f"{node.op} compares numbers, but {_name(side)} is {t}", node.line, node.col)
        return BOOL
    for t, this, other in ((a, node.left, node.right), (b, node.right, node.left)):
        if t.kind == "enum" and isinstance(other, Const):
            _check_enum_value(t, other.value, other, _name(this))
    kinds = {a.kind, b.kind}
    if kinds <= {"enum", "text"} or len(kinds) == 1 and kinds <= {"bool", "number", "text"}:
        return BOOL
    if kinds == {"set"} or "set" in kinds:
        raise ExprError("to test a multiple choice use `\"value\" in fact`", node.line, node.col)
    raise ExprError(f"cannot compare {a} with {b}", node.line, node.col)


def _check_in(node: In, scope: Scope) -> Type:
    item, container = check(node.item, scope), check(node.container, scope)
    if container.kind == "set":
        if not isinstance(node.item, Const) or not isinstance(node.item.value, str):
            raise ExprError("write \"value\" in fact to test a multiple choice", node.line, node.col)
        _check_enum_value(container, node.item.value, node.item, _name(node.container))
        return BOOL
    if container.kind == "list":
        if item.kind == "enum":
            for value in container.values:
                _check_enum_value(item, value, node.container, _name(node.item))
        elif item.kind not in ("text", "number"):
            raise ExprError(f"`in [...]` tests a choice or a number, not {item}", node.line, node.col)
        return BOOL
    raise ExprError("`in` needs a list like [\"a\", \"b\"] or a multiple-choice fact on its right",
                    node.line, node.col)


def size(node: Node) -> int:
    """How many nodes the tree has."""
    return 1 + sum(size(child) for child in _children(node))


def references(node: Node) -> list[Ref]:
    """Every name the expression refers to, in order."""
    found: list[Ref] = []

    def walk(n: Node) -> None:
        if isinstance(n, Ref):
            found.append(n)
        for child in _children(n):
            walk(child)

    walk(node)
    return found


def _children(n: Node) -> list[Node]:
    if isinstance(n, (And, Or, Count)):
        return list(n.items)
    if isinstance(n, (Not, Test)):
        return [n.item]
    if isinstance(n, (Compare, Arith)):
        return [n.left, n.right]
    if isinstance(n, In):
        return [n.item, n.container]
    if isinstance(n, Index):
        return [n.item]
    if isinstance(n, IfElse):
        return [n.test, n.then, n.other]
    return []


# --------------------------------------------------------------------------- the explaining evaluator


@dataclass(frozen=True)
class Evaluation:
    """A value with the names that decided it (facts, definitions expanded, outcomes)."""

    value: Any
    support: frozenset[str] = frozenset()


def _union(outcomes: Iterable[Evaluation]) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for o in outcomes:
        out |= o.support
    return out


def _count_compare(op: str, lo: int, hi: int, k: float) -> bool | None:
    """Compare the interval [lo, hi] of a count with k in three-valued logic."""
    if op == ">=":
        return True if lo >= k else False if hi < k else None
    if op == ">":
        return True if lo > k else False if hi <= k else None
    if op == "<=":
        return True if hi <= k else False if lo > k else None
    if op == "<":
        return True if hi < k else False if lo >= k else None
    if op == "==":
        return True if lo == hi == k else False if k < lo or k > hi else None
    return True if k < lo or k > hi else False if lo == hi == k else None  # !=


def divide(a: float, b: float) -> float | None:
    """a / b, unknown when b is 0 (a fact can be 0 where a rule divides by it)."""
    return None if b == 0 else a / b


# The helpers that code generated by CodeGen calls, by the names it calls them: every namespace that
# runs generated code starts from these.
RUNTIME: dict[str, Callable[..., Any]] = {"_count_compare": _count_compare, "_divide": divide}


_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "==": "==", "!=": "!="}
_PYOPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
}


def explain(node: Node, env: Callable[[str, str], Evaluation]) -> Evaluation:
    """Evaluate `node`; `env(name, kind)` gives a name's value and support.

    The support of a result is the set of names that decided it: for a true
    `and`, all of its items; for a true `or`, the first true item; for an
    unknown result, the unknown parts (what is missing).
    """
    if isinstance(node, Const):
        return Evaluation(node.value)
    if isinstance(node, Ref):
        return env(node.name, node.kind)
    if isinstance(node, ListLit):
        return Evaluation(frozenset(node.values))
    if isinstance(node, (And, Or)):
        decisive = False if isinstance(node, And) else True
        results = []
        for item in node.items:
            o = explain(item, env)
            if o.value is decisive:
                return Evaluation(decisive, o.support)
            results.append(o)
        unknown = [o for o in results if o.value is None]
        if unknown:
            return Evaluation(None, _union(unknown))
        return Evaluation(not decisive, _union(results))
    if isinstance(node, Not):
        o = explain(node.item, env)
        return Evaluation(None if o.value is None else not o.value, o.support)
    if isinstance(node, Count):
        items = [explain(i, env) for i in node.items]
        lo = sum(o.value is True for o in items)
        hi = lo + sum(o.value is None for o in items)
        return Evaluation((lo, hi), _union(o for o in items if o.value is not False))
    if isinstance(node, Test):
        o = explain(node.item, env)
        value = {"is_true": o.value is True, "is_false": o.value is False,
                 "known": o.value is not None, "unknown": o.value is None}[node.fn]
        return Evaluation(value, o.support)
    if isinstance(node, Compare):
        if node.left.type == COUNT or node.right.type == COUNT:
            count_node, k, op = ((node.left, node.right, node.op) if node.left.type == COUNT
                                 else (node.right, node.left, _FLIP[node.op]))
            counted = explain(count_node, env)
            lo, hi = counted.value
            return Evaluation(_count_compare(op, lo, hi, k.value), counted.support)  # type: ignore[attr-defined]
        a, b = explain(node.left, env), explain(node.right, env)
        if a.value is None or b.value is None:
            return Evaluation(None, _union(o for o in (a, b) if o.value is None))
        return Evaluation(_PYOPS[node.op](a.value, b.value), a.support | b.support)
    if isinstance(node, In):
        a, b = explain(node.item, env), explain(node.container, env)
        if a.value is None or b.value is None:
            return Evaluation(None, _union(o for o in (a, b) if o.value is None))
        return Evaluation((a.value in b.value) != node.negate, a.support | b.support)
    if isinstance(node, Arith):
        a, b = explain(node.left, env), explain(node.right, env)
        if a.value is None or b.value is None:
            return Evaluation(None, _union(o for o in (a, b) if o.value is None))
        if node.op == "/":  # by zero: unknown, decided by the divisor
            quotient = divide(a.value, b.value)
            return Evaluation(quotient, b.support if quotient is None else a.support | b.support)
        return Evaluation(_PYOPS[node.op](a.value, b.value), a.support | b.support)
    if isinstance(node, Index):
        o = explain(node.item, env)
        return Evaluation(None if o.value is None else o.value[node.index], o.support)
    if isinstance(node, IfElse):
        t = explain(node.test, env)
        if t.value is None:
            return Evaluation(None, t.support)
        branch = explain(node.then if t.value else node.other, env)
        return Evaluation(branch.value, t.support | branch.support)
    raise TypeError(node)  # pragma: no cover


# --------------------------------------------------------------------------- code generation


class CodeGen:
    """Turns checked trees into Python expression source for one generated function.

    `local(name)` maps a referenced name to the local variable that holds it;
    temporaries are numbered per function.
    """

    def __init__(self, local: Callable[[str], str], nullable: Callable[[str], bool],
                 on_demand: Callable[[str], Node | None] = lambda name: None,
                 called: Callable[[str], str | None] = lambda name: None):
        self._local, self._nullable, self._tmp = local, nullable, 0
        # A name computed where first read (its local starts as `...`), given its tree.
        self._on_demand = on_demand
        # A name computed where first read by calling a helper function: the call's source.
        # A name with both is written out at the first place read, and called at the others.
        self._called = called
        self._written: set[str] = set()
        self.constants: dict[str, Any] = {}

    def statement(self, node: Node) -> tuple[str, bool]:
        """`expr` for a whole statement: temporaries live within one statement, so each
        statement reuses the same few names (a smaller frame for the generated function)."""
        self._tmp = 0
        return self.expr(node)

    def condition(self, node: Node) -> str:
        """A test for an `if` statement that holds exactly when `node` is known true."""
        self._tmp = 0
        tests = self._tests(node)
        if tests is not None:
            return tests[1]
        if isinstance(node, (And, Or)):
            parts = [self.expr(item) for item in node.items]
            joiner = " and " if isinstance(node, And) else " or "
            return joiner.join(f"{src} is True" if null else src for src, null in parts)
        src, null = self.expr(node)
        return f"{src} is True" if null else src

    def branch(self, node: Node, when_true: list[str], when_unknown: list[str]) -> list[str]:
        """Statement lines that run `when_true` if `node` is known true and `when_unknown`
        if it is unknown. A top-level `and`/`or` branches as it goes, without building its value."""
        self._tmp = 0
        inner = ["    " + line for line in when_true]
        unknown = ["    " + line for line in when_unknown]
        # Most rules are false for most cases: test first that no part is false, each part
        # read as cheaply as it can be (a comparison as `x is None or x > 50`, no temporary);
        # only a rule that passes is then told apart as true or unknown.
        items = node.items if isinstance(node, And) else [node]
        tests = [self._tests(item) for item in items]
        if all(t is not None for t in tests) or (isinstance(node, And) and any(t is not None for t in tests)):
            maybes, surelies = [], []
            for item, t in zip(items, tests):
                if t is None:  # read once, held: every item of a top-level `and` is read before the inner test
                    src, null = self.expr(item)
                    if not null:
                        maybes.append(src)
                        continue
                    first, again = self._hold(src)
                    t = (f"{first} is not False", f"{again} is True", True)
                maybes.append(t[0])
                if t[2]:
                    surelies.append(t[1])
            if not surelies:
                return [f"if {' and '.join(maybes)}:", *inner]
            return [f"if {' and '.join(maybes)}:", f"    if {' and '.join(surelies)}:", *["    " + ln for ln in inner],
                    "    else:", *["    " + ln for ln in unknown]]
        if isinstance(node, (And, Or)):
            parts = [self.expr(item) for item in node.items]
            if any(null for _, null in parts):
                held = [self._hold(src) if null else (src, src) for src, null in parts]
                some_unknown = " or ".join(f"{again} is None" for (_, again), (_, null) in zip(held, parts) if null)
                if isinstance(node, And):  # no item false: then unknown if any item is, else true
                    none_false = " and ".join(f"{first} is not False" if null else first
                                              for (first, _), (_, null) in zip(held, parts))
                    return [f"if {none_false}:", f"    if {some_unknown}:", *["    " + ln for ln in unknown],
                            "    else:", *["    " + ln for ln in inner]]
                # or: true if any item is; with none true, every item was read: unknown if any is
                any_true = " or ".join(f"{first} is True" if null else first
                                       for (first, _), (_, null) in zip(held, parts))
                return [f"if {any_true}:", *inner, f"elif {some_unknown}:", *unknown]
        src, null = self.expr(node)
        if not null:
            return [f"if {src}:", *inner]
        return [f"r = {src}", "if r is True:", *inner, "elif r is None:", *unknown]

    def _tests(self, node: Node) -> tuple[str, str, bool] | None:
        """(not false, known true, may be unknown) as two plain tests, for a tree cheap to read
        twice: yes/no names held in locals, comparison trees (`_strict`), and `and`, `or`, `not`
        and tests of those. None for anything else (counts, definitions computed where read)."""
        if isinstance(node, Const):  # a yes/no constant tests as itself; a number or text does not
            return (repr(node.value), repr(node.value), False) if isinstance(node.value, bool) else None
        if isinstance(node, Ref):
            if node.type == COUNT or self._on_demand(node.name) is not None or self._called(node.name) is not None:
                return None
            name = self._local(node.name)
            if self._nullable(node.name):
                return f"{name} is not False", f"{name} is True", True
            return name, name, False
        if isinstance(node, Test):
            inner = self._tests(node.item) if node.fn in ("is_true", "is_false") else None
            if inner is None:
                return None
            test = inner[1] if node.fn == "is_true" else f"(not ({inner[0]}))"
            return test, test, False
        if isinstance(node, Not):
            inner = self._tests(node.item)
            if inner is None:
                return None
            return f"(not ({inner[1]}))", f"(not ({inner[0]}))", inner[2]
        if isinstance(node, (And, Or)):
            parts = [self._tests(item) for item in node.items]
            if any(p is None for p in parts):
                return None
            joiner = " and " if isinstance(node, And) else " or "
            return ("(" + joiner.join(f"({p[0]})" for p in parts) + ")",  # type: ignore[index]
                    "(" + joiner.join(f"({p[1]})" for p in parts) + ")",  # type: ignore[index]
                    any(p[2] for p in parts))  # type: ignore[index]
        strict = self._strict(node)
        if strict is None:
            return None
        names, plain = strict
        if not names:
            return plain, plain, False
        known = " and ".join(f"{name} is not None" for name in names)
        return f"({_any_unknown(names)} or {plain})", f"({known} and {plain})", True

    def _temp(self) -> str:
        self._tmp += 1
        return f"_t{self._tmp}"

    def _const(self, value: Any) -> str:
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def expr(self, node: Node) -> tuple[str, bool]:
        """(source, may_be_unknown) for a node."""
        if isinstance(node, Const):
            return repr(node.value), False
        if isinstance(node, Ref):
            call = self._called(node.name)
            if call is not None and node.name in self._written:
                name = self._local(node.name)
                return f"({name} if {name} is not ... else ({name} := {call}))", self._nullable(node.name)
            tree = self._on_demand(node.name)
            if tree is not None:
                self._written.add(node.name)
                name = self._local(node.name)
                src, null = self.expr(tree)
                return f"({name} if {name} is not ... else ({name} := {src}))", null
            return self._local(node.name), self._nullable(node.name)
        if isinstance(node, ListLit):
            return self._const(frozenset(node.values)), False
        if isinstance(node, Count):
            return self._interval(node)
        if isinstance(node, (And, Or)):
            return self._junction(node)
        if isinstance(node, Not):
            src, null = self.expr(node.item)
            if not null:
                return f"(not {src})", False
            first, again = self._hold(src)
            return f"(None if {first} is None else not {again})", True
        if isinstance(node, Test):
            if isinstance(node.item, Const):  # decided here: `1 is not None` would warn at every compile
                value = node.item.value
                return repr({"is_true": value is True, "is_false": value is False, "known": value is not None,
                             "unknown": value is None}[node.fn]), False
            src, _ = self.expr(node.item)
            return {"is_true": f"({src} is True)", "is_false": f"({src} is False)",
                    "known": f"({src} is not None)", "unknown": f"({src} is None)"}[node.fn], False
        if isinstance(node, Compare) and COUNT in (node.left.type, node.right.type):
            return self._count(node)
        strict = self._strict(node)
        if strict is not None:
            names, plain = strict
            return (f"(None if {_any_unknown(names)} else {plain})", True) if names else (plain, False)
        if isinstance(node, Compare):
            return self._binary(node.op, node.left, node.right)
        if isinstance(node, Arith):
            return self._binary(node.op, node.left, node.right)
        if isinstance(node, In):
            op = "not in" if node.negate else "in"
            return self._binary(op, node.item, node.container)
        if isinstance(node, Index):
            src, null = self.expr(node.item)
            if not null:
                return f"{src}[{node.index}]", False
            first, again = self._hold(src)
            return f"(None if {first} is None else {again}[{node.index}])", True
        if isinstance(node, IfElse):
            test, tnull = self.expr(node.test)
            then, n1 = self.expr(node.then)
            other, n2 = self.expr(node.other)
            if not tnull:
                return f"({then} if {test} else {other})", n1 or n2
            first, again = self._hold(test)
            return f"(None if {first} is None else ({then} if {again} else {other}))", True
        raise TypeError(node)  # pragma: no cover

    def _strict(self, node: Node) -> tuple[list[str], str] | None:
        """For a tree of comparisons, arithmetic, `in` and indexing over names and constants
        (unknown exactly when one of its names is): (the locals of the names that may be
        unknown, the plain expression). None for any other tree."""
        names: list[str] = []

        def plain(n: Node) -> str | None:
            if isinstance(n, Const):
                return repr(n.value)
            if isinstance(n, ListLit):
                return self._const(frozenset(n.values))
            if isinstance(n, Ref):
                if n.type == COUNT or self._on_demand(n.name) is not None or self._called(n.name) is not None:
                    return None
                if self._nullable(n.name) and n.name not in names:
                    names.append(n.name)
                return self._local(n.name)
            if isinstance(n, Index):
                item = plain(n.item)
                return None if item is None else f"{item}[{n.index}]"
            if isinstance(n, (Compare, Arith, In)):
                if isinstance(n, Arith) and n.op == "/" and not isinstance(n.right, Const):
                    return None  # may divide by zero: _binary
                left, right = (n.item, n.container) if isinstance(n, In) else (n.left, n.right)
                a, b = plain(left), plain(right)
                if a is None or b is None or COUNT in (left.type, right.type):
                    return None
                op = ("not in" if n.negate else "in") if isinstance(n, In) else n.op
                return f"({a} {op} {b})"
            return None

        if not isinstance(node, (Compare, Arith, In, Index)):
            return None
        src = plain(node)
        if src is None:
            return None
        return [self._local(name) for name in names], src

    def _hold(self, src: str) -> tuple[str, str]:
        """(first use, later uses) of a value read more than once: a local name as it is,
        anything else bound to a temporary the first time."""
        if src.isidentifier():
            return src, src
        t = self._temp()
        return f"({t} := {src})", t

    def _binary(self, op: str, left: Node, right: Node) -> tuple[str, bool]:
        a, an = self.expr(left)
        b, bn = self.expr(right)
        if op == "/" and not isinstance(right, Const):  # unknown when dividing by zero
            if not an and not bn:
                return f"_divide({a}, {b})", True
            first, again = self._hold(a) if an else (a, a)
            b_first, b_again = self._hold(b) if bn else (b, b)
            checks = " or ".join(f"{x} is None" for x, null in ((first, an), (b_first, bn)) if null)
            return f"(None if {checks} else _divide({again}, {b_again}))", True
        if not an and not bn:
            return f"({a} {op} {b})", False
        checks, names = [], []
        for src, null in ((a, an), (b, bn)):
            if null:
                first, again = self._hold(src)
                checks.append(f"{first} is None")
                names.append(again)
            else:
                names.append(src)
        return f"(None if {' or '.join(checks)} else {names[0]} {op} {names[1]})", True

    def _junction(self, node: And | Or) -> tuple[str, bool]:
        """Kleene and/or, flat however many items: the items are read in order until one
        decides (false for `and`, true for `or`), each held in a temporary; if none does,
        the result is unknown when any item is, else the other value."""
        decisive = "False" if isinstance(node, And) else "True"
        other = "True" if decisive == "False" else "False"
        parts = [self.expr(item) for item in node.items]
        if not any(null for _, null in parts):
            joiner = " and " if isinstance(node, And) else " or "
            return "(" + joiner.join(src for src, _ in parts) + ")", False
        held = [self._hold(s) for s, _ in parts]
        decides = " or ".join(f"{first} is {decisive}" for first, _ in held)
        unknown = " or ".join(f"{again} is None" for (_, again), (_, n) in zip(held, parts) if n)
        return f"({decisive} if {decides} else (None if {unknown} else {other}))", True

    def _items(self, node: Count) -> tuple[str, str]:
        """A count's items as (known true, unknown): two sums, reading each item once. Each term is
        `(1 if test else 0)`: adding ints takes the interpreter's quick path, adding bools does not."""
        true, unknown = [], []
        for item in node.items:
            strict = self._strict(item)
            if strict is not None:  # known true: every name known and the comparison holds
                names, plain = strict
                if names:
                    known = " and ".join(f"{name} is not None" for name in names)
                    true.append(f"(1 if {known} and {plain} else 0)")
                    unknown.append(f"(1 if {_any_unknown(names)} else 0)")
                else:
                    true.append(f"(1 if {plain} else 0)")
                continue
            src, null = self.expr(item)
            first, again = self._hold(src) if null else (src, src)
            true.append(f"(1 if {first} is True else 0)")
            if null:
                unknown.append(f"(1 if {again} is None else 0)")
        return " + ".join(true), " + ".join(unknown) or "0"

    def _count(self, node: Compare) -> tuple[str, bool]:
        count_node, k, op = ((node.left, node.right, node.op) if node.left.type == COUNT
                             else (node.right, node.left, _FLIP[node.op]))
        k_src = repr(k.value)  # type: ignore[attr-defined]
        if op not in (">=", ">", "<=", "<"):
            src, _ = self.expr(count_node)
            return f"_count_compare({op!r}, *{src}, {k_src})", True
        # lo = items known true, hi = lo + unknown items. `>=`/`>` is true when lo reaches k
        # and false when even hi cannot; `<=`/`<` is true when even hi stays under k and
        # false when lo is already past it.
        lo = self._temp()
        if isinstance(count_node, Count):  # written out: sum the items here
            true, unknown = self._items(count_node)
            lo_first, hi = f"({lo} := {true})", f"{lo} + {unknown}"
        else:  # a count held in a name as (lo, hi)
            src, _ = self.expr(count_node)
            pair = self._temp()
            lo_first, hi = f"({lo} := ({pair} := {src})[0])", f"{pair}[1]"
        if op in (">=", ">"):
            return f"(True if {lo_first} {op} {k_src} else (False if not ({hi} {op} {k_src}) else None))", True
        # lo must be bound before hi is read
        return (f"(False if {lo_first} {_NEGATE_PAST[op]} {k_src} else "
                f"(True if {hi} {op} {k_src} else None))"), True

    def _interval(self, node: Count) -> tuple[str, bool]:
        """A count as the tuple (known true, known true + unknown)."""
        true, unknown = self._items(node)
        lo = self._temp()
        return f"(({lo} := {true}), {lo} + {unknown})", False


def _any_unknown(names: list[str]) -> str:
    return " or ".join(f"{name} is None" for name in names)


_NEGATE_PAST = {"<=": ">", "<": ">="}  # lo past k: `<= k` is false when lo > k, `< k` when lo >= k


def compile_expression(node: Node) -> Callable[[dict[str, Any]], Any]:
    """Compile one checked expression into `f(facts)` (used by tests and what-if analysis)."""
    gen = CodeGen(lambda name: f"F[{name!r}]", lambda name: True)
    src, _ = gen.expr(node)
    namespace: dict[str, Any] = {**RUNTIME, **gen.constants}
    exec(compile(f"def f(F):\n    return {src}\n", "<expression>", "exec"), namespace)  # noqa: S102
    return namespace["f"]
