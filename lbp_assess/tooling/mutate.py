"""Rule mutation testing: would the rule tests notice a small edit of the rules?

Each mutant is the rule set with one small edit a clinical lead could make by
mistake: a number one step off, `>` for `>=`, `or` for `and`, an item dropped
from a list, a count or an `or`, `x` for `is_true(x)` and the reverse (not in
checks and classes, which act only on a condition known to be true), the other
ways of saying "false" and "false or unknown" (`is_false(x)`, `not x`,
`not is_true(x)`), a tier one step down, two classification entries swapped, a
question dropped from the red-flag screen.
Each is compiled once and the rule tests are run on it in-process; a mutant
the tests do not notice *survives*. For each survivor a case that tells it
apart from the rules is searched for - first by setting facts of the rule
tests' cases (and of the empty case) to values around the rule set's own
thresholds and lists (for a worked-out number such as age at onset, the facts
that put it on either side of its threshold), then among random cases - and
made minimal (every fact that is not needed is left unknown). It is printed as a rule test to paste
into `tests/*.yaml`. A survivor for which no such case is found is most likely
an edit that changes nothing (e.g. a count of four items compared with `>= 5`
and `> 4`); it is reported and not counted.

A case tells two rule sets apart when any part of its result row differs:
class, urgency, conditions and their tiers, alerts and their tiers, findings,
warnings, unscreened questions, the rules fired, and the rules that unknown
answers kept from being decided (`not_excluded`). Definitions read only by the
note's `flags_noted` do not reach the result row and are not mutated.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

from ..model import expr
from ..model.case import FACTS, FORMAT, facts_of, validate_case
from ..base.errors import InputError, Location
from ..engine.ruleset.model import Rule, RuleSet, Summary
from ..engine.ruleset.compile import compile_ruleset
from ..engine.ruletests import RuleTest, compare, load_tests
from ..base.yamlio import Locator, load_yaml, read_text

#: Parts of the result row, most telling first: a case is kept for the most telling difference.
_GROUPS = (("classification", "urgency", "conditions"), ("alerts", "findings", "warnings", "unscreened"),
           ("rules_fired",), ("not_excluded",))
RANDOM_CASES = 3000  # random cases tried per survivor when the neighbourhood finds nothing


# --------------------------------------------------------------------------- mutants


@dataclass
class Mutant:
    where: Location
    before: str
    after: str
    build: Callable[[], RuleSet]  # the edited rule set, not yet compiled
    label: str  # what the rules say that the edit changes (a name for the rule test that pins it)
    focus: frozenset[str] = frozenset()  # the facts the edited part reads (through definitions and outcomes)

    def __str__(self) -> str:
        return f"{self.where}: {self.before} -> {self.after}"


@dataclass
class Survivor:
    mutant: Mutant
    case: dict[str, Any] | None  # a minimal flat case that tells it apart, or None
    test: str | None  # that case as a ready-to-paste rule test (YAML)


@dataclass
class MutationReport:
    generated: int
    killed: int
    survivors: list[Survivor]
    seconds: float
    not_mutated: list[str]  # definitions only flags_noted reads
    stopped: str | None = None  # why the run stopped before every mutant was tried (a budget)

    @property
    def distinguishing(self) -> list[Survivor]:
        return [s for s in self.survivors if s.case is not None]

    @property
    def no_difference(self) -> list[Survivor]:
        return [s for s in self.survivors if s.case is None]


def expression_text(node: expr.Node, outer: int = 0) -> str:
    """Expression text for a tree (parenthesised only where needed)."""
    prec, text = _text(node)
    return f"({text})" if prec < outer else text


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v) if isinstance(v, str) else repr(v)


def _text(n: expr.Node) -> tuple[int, str]:
    if isinstance(n, expr.Const):
        return 9, _value(n.value)
    if isinstance(n, expr.Ref):
        return 9, n.name
    if isinstance(n, expr.ListLit):
        return 9, "[" + ", ".join(_value(v) for v in n.values) + "]"
    if isinstance(n, expr.Or):
        return 1, " or ".join(expression_text(i, 2) for i in n.items)
    if isinstance(n, expr.And):
        return 2, " and ".join(expression_text(i, 3) for i in n.items)
    if isinstance(n, expr.Not):
        return 3, f"not {expression_text(n.item, 3)}"
    if isinstance(n, expr.Compare):
        return 4, f"{expression_text(n.left, 5)} {n.op} {expression_text(n.right, 5)}"
    if isinstance(n, expr.In):
        return 4, f"{expression_text(n.item, 5)} {'not in' if n.negate else 'in'} {expression_text(n.container, 5)}"
    if isinstance(n, expr.Arith):
        p = 5 if n.op in "+-" else 6
        return p, f"{expression_text(n.left, p)} {n.op} {expression_text(n.right, p + 1)}"
    if isinstance(n, expr.Index):
        return 9, f"{expression_text(n.item, 9)}[{n.index}]"
    if isinstance(n, expr.Test):
        return 9, f"{n.fn}({expression_text(n.item)})"
    if isinstance(n, expr.Count):
        return 9, "count(" + ", ".join(expression_text(i) for i in n.items) + ")"
    if isinstance(n, expr.IfElse):
        return 0, f"{expression_text(n.then, 1)} if {expression_text(n.test, 1)} else {expression_text(n.other)}"
    raise TypeError(n)  # pragma: no cover


def _step(value: float) -> float:
    """One unit of the last written digit: 1 for whole numbers, 0.1 for 11.9, 0.25 -> 0.01."""
    if float(value).is_integer():
        return 1
    digits = len(repr(float(value)).split(".")[1])
    return 10.0 ** -digits


def _nudge(value: Any, delta: float) -> Any:
    out = value + delta
    return out if isinstance(out, int) else round(out, 10)


@dataclass(frozen=True)
class _Context:
    """What the edits of one tree need to know about where it is."""

    never_unknown: frozenset[str] = frozenset()  # definitions that always come out true or false
    acts_on_true: bool = False  # a check or a class: only a condition known to be true acts


def _may_be_unknown(node: expr.Node, ctx: _Context) -> bool:
    """Whether a tree can come out unknown (is_true(...) and outcomes never do)."""
    if isinstance(node, (expr.Test, expr.Const, expr.ListLit)):
        return False
    if isinstance(node, expr.Ref):
        return node.kind == "fact" or node.kind == "definition" and node.name not in ctx.never_unknown
    return any(_may_be_unknown(child, ctx) for child in expr._children(node))


def _never_unknown(rs: RuleSet) -> frozenset[str]:
    found: set[str] = set()
    while True:
        more = {name for name, d in rs.definitions.items()
                if name not in found and not _may_be_unknown(d.node, _Context(frozenset(found)))}
        if not more:
            return frozenset(found)
        found |= more


class Edit(NamedTuple):
    located: expr.Node  # where the edit is reported
    new: expr.Node  # what replaces the node
    what: str  # what the rules say that the edit changes, for a test name


def _nudged(const: expr.Const) -> list[expr.Const]:
    """The number one step down and one step up."""
    step = _step(const.value)
    return [dataclasses.replace(const, value=_nudge(const.value, delta)) for delta in (-step, step)]


def _is_number(node: expr.Node) -> bool:
    return isinstance(node, expr.Const) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)


def _edits(node: expr.Node, parent: expr.Node | None, ctx: _Context) -> Iterator[Edit]:
    """The mutations of one node (its children are mutated separately)."""
    bool_kw = {"type": expr.BOOL, "line": node.line, "col": node.col}
    if _is_number(node) and not isinstance(parent, (expr.Compare, expr.Arith)):
        for new in _nudged(node):
            yield Edit(node, new, f"{expression_text(node)} rather than {expression_text(new)}")
    elif isinstance(node, (expr.Compare, expr.Arith)):  # a number is shown with what it is compared or worked with
        for side in ("left", "right"):
            const = getattr(node, side)
            if _is_number(const):
                for new_const in _nudged(const):
                    if isinstance(node, expr.Arith) and node.op == "/" and side == "right" and new_const.value == 0:
                        continue  # rules check refuses a division by zero: not an edit a rule set can hold
                    new = dataclasses.replace(node, **{side: new_const})
                    yield Edit(const, new, f"{expression_text(node)} rather than {expression_text(new)}")
        if isinstance(node, expr.Compare) and node.op in ("<", "<=", ">", ">="):
            new = dataclasses.replace(node, op={"<": "<=", "<=": "<", ">": ">=", ">=": ">"}[node.op])
            yield Edit(node, new, f"{expression_text(node)} rather than {expression_text(new)}")
    elif isinstance(node, (expr.And, expr.Or)):
        joins = ("and", "or") if isinstance(node, expr.And) else ("or", "and")
        other = expr.Or if isinstance(node, expr.And) else expr.And
        yield Edit(node, other(list(node.items), **bool_kw), f"{joins[0]} rather than {joins[1]}")
        if isinstance(node, expr.Or):
            for i, item in enumerate(node.items):
                rest = node.items[:i] + node.items[i + 1:]
                yield Edit(item, rest[0] if len(rest) == 1 else expr.Or(rest, **bool_kw), f"accepts {expression_text(item)}")
    elif isinstance(node, expr.Count) and len(node.items) > 1:
        for i, item in enumerate(node.items):
            yield Edit(item, dataclasses.replace(node, items=node.items[:i] + node.items[i + 1:]),
                       f"counts {expression_text(item)}")
    elif isinstance(node, expr.ListLit):
        if len(node.values) > 1:
            for i, value in enumerate(node.values):
                yield Edit(node, dataclasses.replace(node, values=node.values[:i] + node.values[i + 1:]),
                           f"accepts {_value(value)}")
        for i, value in enumerate(node.values):  # a number in a list, one step off (`nrs in [7, 8]`)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            step = _step(value)
            for nudged in (_nudge(value, -step), _nudge(value, step)):
                if nudged in node.values:
                    continue
                new = dataclasses.replace(node, values=node.values[:i] + (nudged,) + node.values[i + 1:])
                yield Edit(node, new, f"{expression_text(node)} rather than {expression_text(new)}")
    elif (isinstance(node, expr.Ref) and node.type == expr.BOOL and _may_be_unknown(node, ctx)
          and isinstance(parent, (expr.And, expr.Or)) and not ctx.acts_on_true):
        new = expr.Test("is_true", node, **bool_kw)
        yield Edit(node, new, f"{expression_text(node)} rather than {expression_text(new)}")
    elif isinstance(node, expr.Test) and node.fn in ("is_true", "is_false"):
        news = [node.item] if node.fn == "is_true" else [
            expr.Not(expr.Test("is_true", node.item, **bool_kw), **bool_kw), expr.Not(node.item, **bool_kw)]
        for new in news:
            yield Edit(node, new, f"{expression_text(node)} rather than {expression_text(new)}")
    elif isinstance(node, expr.Not):
        inner = node.item
        if isinstance(inner, expr.Test) and inner.fn == "is_true" and _may_be_unknown(inner.item, ctx):
            news = [expr.Test("is_false", inner.item, **bool_kw)]  # (`not x` comes from is_true(x) -> x)
        elif not isinstance(inner, expr.Test) and _may_be_unknown(inner, ctx):
            news = [expr.Not(expr.Test("is_true", inner, **bool_kw), **bool_kw),
                    expr.Test("is_false", inner, **bool_kw)]
        else:
            news = []
        for new in news:
            yield Edit(node, new, f"{expression_text(node)} rather than {expression_text(new)}")


def _children_fields(node: expr.Node) -> list[tuple[str, int | None]]:
    if isinstance(node, (expr.And, expr.Or, expr.Count)):
        return [("items", i) for i in range(len(node.items))]
    names = {expr.Not: ("item",), expr.Test: ("item",), expr.Index: ("item",), expr.Compare: ("left", "right"),
             expr.Arith: ("left", "right"), expr.In: ("item", "container"), expr.IfElse: ("test", "then", "other")}
    return [(name, None) for name in names.get(type(node), ())]


def tree_mutations(root: expr.Node, ctx: _Context = _Context()) -> Iterator[tuple[Edit, expr.Node, expr.Node]]:
    """(the edit, the node it replaces, the whole new tree) for every edit of a tree."""

    def walk(node: expr.Node, parent: expr.Node | None, rebuild: Callable[[expr.Node], expr.Node]):
        for edit in _edits(node, parent, ctx):
            yield edit, node, rebuild(edit.new)
        for name, index in _children_fields(node):
            child = getattr(node, name) if index is None else getattr(node, name)[index]

            def again(new: expr.Node, name=name, index=index) -> expr.Node:
                if index is None:
                    return rebuild(dataclasses.replace(node, **{name: new}))
                items = list(getattr(node, name))
                items[index] = new
                return rebuild(dataclasses.replace(node, **{name: items}))

            yield from walk(child, node, again)

    yield from walk(root, None, lambda new: new)


class _Places:
    """file:line:col of a node inside a rule expression, from the location of the expression."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def lines(self, file: str) -> list[str]:
        if file not in self._lines:
            try:
                self._lines[file] = read_text(file).splitlines()
            except OSError:
                self._lines[file] = []
        return self._lines[file]

    def of(self, where: Location, node: expr.Node) -> Location:
        lines = self.lines(where.file)
        if where.line is None or where.col is None or where.line > len(lines):
            return where
        first = lines[where.line - 1]
        mark = first[where.col - 1:where.col]
        if mark in ("|", ">"):
            return self._in_block(where, node, lines, folded=mark == ">")
        if node.line > 1:
            return Location(where.file, where.line + node.line - 1, None)
        return Location(where.file, where.line, where.col + node.col + (1 if mark in ("'", '"') else 0))

    @staticmethod
    def _in_block(where: Location, node: expr.Node, lines: list[str], folded: bool) -> Location:
        body: list[tuple[int, int, str]] = []  # (line number, indent, text) of the block's lines
        indent = None
        for number in range(where.line + 1, len(lines) + 1):
            raw = lines[number - 1]
            if not raw.strip():
                continue
            lead = len(raw) - len(raw.lstrip(" "))
            if indent is None:
                indent = lead
            if lead < indent:
                break
            body.append((number, indent, raw[indent:]))
        if not body:
            return where
        if not folded:
            number, lead, _ = body[min(node.line, len(body)) - 1]
            return Location(where.file, number, lead + node.col + 1)
        offset = node.col  # the folded text joins the lines with one space each
        for number, lead, text in body:
            if offset <= len(text):
                return Location(where.file, number, lead + offset + 1)
            offset -= len(text) + 1
        return Location(where.file, body[-1][0], None)


def _uses(rs: RuleSet) -> set[str]:
    """Definitions that rules, checks or the classification read (directly or through others)."""
    return _definitions_read(rs, *(r.node for r in rs.rules), *(c.node for c in rs.checks),
                             *(n for _, n in rs.classification))


def _reads(rs: RuleSet, nodes: list[expr.Node]) -> frozenset[str]:
    """The facts some trees read, through definitions and through the rules whose outcomes they read."""
    facts: set[str] = set()
    seen: set[str] = set()
    stack = list(nodes)
    while stack:
        for ref in expr.references(stack.pop()):
            if ref.name in seen:
                continue
            seen.add(ref.name)
            if ref.kind == "fact":
                facts.add(ref.name)
            elif ref.kind == "definition":
                stack.append(rs.definitions[ref.name].node)
            elif ref.name == "screening_incomplete":
                facts.update(rs.manifest.screening)
            else:
                stack.extend(r.node for r in rs.rules if _raises(r, ref.name))
    return frozenset(facts)


def _definitions_read(rs: RuleSet, *nodes: expr.Node) -> set[str]:
    """The definitions some trees read, directly or through other definitions."""
    seen: set[str] = set()
    stack = list(nodes)
    while stack:
        for ref in expr.references(stack.pop()):
            if ref.kind == "definition" and ref.name not in seen:
                seen.add(ref.name)
                stack.append(rs.definitions[ref.name].node)
    return seen


def _raises(rule: Rule, outcome: str) -> bool:
    space, _, item = outcome.partition(".")
    if space == "condition_tier":
        return rule.raises == "condition" and rule.tier == item
    if outcome == "condition.any":
        return rule.raises == "condition"
    return (rule.raises, rule.name) == (space, item)


def mutants(rs: RuleSet) -> tuple[list[Mutant], list[str]]:
    """Every mutant of a rule set, and the definitions left alone (read only by flags_noted)."""
    places = _Places()
    found: list[Mutant] = []
    ctx = _Context(_never_unknown(rs))
    on_true = dataclasses.replace(ctx, acts_on_true=True)

    def add(where: Location, target: str, edit: Edit, before: expr.Node, build: Callable[[], RuleSet],
            focus: frozenset[str]) -> None:
        found.append(Mutant(places.of(where, edit.located), expression_text(before), expression_text(edit.new), build,
                            f"{target}: {edit.what}", focus))

    for i, rule in enumerate(rs.rules):
        focus = _reads(rs, [rule.node])
        for edit, old, tree in tree_mutations(rule.node, ctx):
            add(rule.when_where, rule.id, edit, old,
                lambda i=i, tree=tree: _with_rule(rs, i, dataclasses.replace(rs.rules[i], node=tree)), focus)
        lower = _tier_below(rs, rule.tier)
        if lower is not None:
            found.append(Mutant(_tier_place(rule), f"{rule.id}: tier: {rule.tier}", f"tier: {lower}",
                                lambda i=i, lower=lower: _with_rule(
                                    rs, i, dataclasses.replace(rs.rules[i], tier=lower)),
                                f"{rule.id}: {rule.tier} rather than {lower}", focus))
    used = _uses(rs)
    readers = [r.node for r in rs.rules] + [c.node for c in rs.checks] + [n for _, n in rs.classification]
    for name, definition in rs.definitions.items():
        if name not in used:
            continue
        # the facts of the definition and of every rule that reads it (what shows the edit)
        focus = _reads(rs, [definition.node, *(n for n in readers if name in _definitions_read(rs, n))])
        for edit, old, tree in tree_mutations(definition.node, ctx):
            add(definition.where, name, edit, old, lambda name=name, tree=tree: dataclasses.replace(
                rs, definitions={**rs.definitions, name: dataclasses.replace(rs.definitions[name], node=tree)}),
                focus)
    for i, check in enumerate(rs.checks):
        focus = _reads(rs, [check.node])
        for edit, old, tree in tree_mutations(check.node, on_true):
            add(check.when_where, check.id, edit, old, lambda i=i, tree=tree: dataclasses.replace(
                rs, checks=[*rs.checks[:i], dataclasses.replace(rs.checks[i], node=tree), *rs.checks[i + 1:]]),
                focus)
    found.extend(_classification_mutants(rs, places))
    found.extend(_screening_mutants(rs))
    return found, [name for name in rs.definitions if name not in used]


def _with_rule(rs: RuleSet, index: int, rule: Rule) -> RuleSet:
    return dataclasses.replace(rs, rules=[*rs.rules[:index], rule, *rs.rules[index + 1:]])


def _tier_below(rs: RuleSet, tier: str | None) -> str | None:
    tiers = list(rs.manifest.tiers)
    if tier is None or tiers.index(tier) == len(tiers) - 1:
        return None
    return tiers[tiers.index(tier) + 1]


def _manifest_file(rs: RuleSet) -> tuple[str, Locator]:
    from ..engine.ruleset.schema import MANIFEST

    name = str(rs.directory / MANIFEST)
    try:
        return name, Locator(read_text(name))
    except OSError:
        return name, Locator("")


def _tier_place(rule: Rule) -> Location:
    try:
        text = read_text(rule.where.file)
        entries = load_yaml(text, rule.where.file, kind="rule").get("rules", [])
    except (OSError, InputError, AttributeError):
        return rule.where
    index = next((i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("id") == rule.id), None)
    if index is None:
        return rule.where
    return Location(rule.where.file, *Locator(text).find(("rules", index, "tier")))


def _classification_mutants(rs: RuleSet, places: _Places) -> Iterator[Mutant]:
    name, locator = _manifest_file(rs)
    entries = rs.classification
    focus = _reads(rs, [node for _, node in entries])
    for i, (cls, node) in enumerate(entries[:-1]):
        where = Location(name, *locator.find(("classification", i, "when")))
        for edit, old, tree in tree_mutations(node, _Context(_never_unknown(rs), acts_on_true=True)):
            edited = [*entries[:i], (cls, tree), *entries[i + 1:]]
            yield Mutant(places.of(where, edit.located), expression_text(old), expression_text(edit.new),
                         lambda edited=edited: dataclasses.replace(rs, classification=edited),
                         f"classification {cls}: {edit.what}", focus)
    for i in range(len(entries) - 2):  # the last entry is the default and stays last
        (a, _), (b, _) = entries[i], entries[i + 1]
        swapped = [*entries[:i], entries[i + 1], entries[i], *entries[i + 2:]]
        yield Mutant(Location(name, *locator.find(("classification", i, "class"))),
                     f"classification order {a}, {b}", f"{b}, {a}",
                     lambda swapped=swapped: dataclasses.replace(rs, classification=swapped),
                     f"classification: {a} before {b}", focus)


def _screening_mutants(rs: RuleSet) -> Iterator[Mutant]:
    name, locator = _manifest_file(rs)
    screening = rs.manifest.screening
    for i, fact in enumerate(screening):
        kept = [*screening[:i], *screening[i + 1:]]
        yield Mutant(Location(name, *locator.find(("screening", i))), f"screening: {fact}", "(dropped)",
                     lambda kept=kept: dataclasses.replace(
                         rs, manifest=rs.manifest.model_copy(update={"screening": kept})),
                     f"screening asks {fact}", frozenset([fact]))


# --------------------------------------------------------------------------- running


def _compiled(rs: RuleSet) -> RuleSet:
    rs.evaluate, rs.row_from_data, rs.row_from_json = compile_ruleset(rs)
    return rs


def _test_facts(tests: list[RuleTest]) -> list[tuple[RuleTest, dict[str, Any]]]:
    """Each valid rule test with its case as flat facts (an invalid one fails the plain run)."""
    out = []
    for test in tests:
        try:
            case = validate_case({"format": FORMAT, "id": test.slug, **test.case}, str(test.where))
        except InputError:
            continue
        out.append((test, facts_of(case)))
    return out


def killed(mutant_rs: RuleSet, tests: list[tuple[RuleTest, dict[str, Any]]]) -> bool:
    return any(compare(mutant_rs.assess_facts(facts, test.slug), test.expect, mutant_rs)
               for test, facts in tests)


#: The budget of `rules test --mutate`: the shipped rules take about 20 s and 150 MB; a rule set
#: that would take far longer (or far more memory) stops with a report of what was not run.
MAX_SECONDS = 600.0
MAX_MEMORY_MB = 2048


def peak_memory_mb() -> float:
    """The peak resident memory of this process so far, in MB (Linux and macOS count differently)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run(directory: Path, rs: RuleSet, *, random_cases: int = RANDOM_CASES, seed: int = 15,
        max_seconds: float = MAX_SECONDS, max_memory_mb: float = MAX_MEMORY_MB) -> MutationReport:
    """Generate every mutant of `rs`, run the rule tests of `directory` on each, search the survivors;
    stop (and say so in the report) once `max_seconds` or `max_memory_mb` is spent."""
    start = time.perf_counter()
    tests = _test_facts(load_tests(directory))
    all_mutants, not_mutated = mutants(rs)
    search = _Search(rs, [facts for _, facts in tests], random_cases, seed)
    survivors = []
    stopped = None
    done = 0
    for mutant in all_mutants:
        if time.perf_counter() - start > max_seconds:
            stopped = f"the time budget of {max_seconds:g} s was spent"
        elif peak_memory_mb() > max_memory_mb:
            stopped = f"the memory budget of {max_memory_mb:g} MB was reached"
        if stopped:
            break
        done += 1
        edited = _compiled(mutant.build())
        if killed(edited, tests):
            continue
        case = search.distinguish(edited, mutant.focus)
        survivors.append(Survivor(mutant, case, None if case is None else as_rule_test(mutant, rs, edited, case)))
    return MutationReport(len(all_mutants), done - len(survivors), survivors, time.perf_counter() - start, not_mutated,
                  None if stopped is None else f"stopped after {done} of {len(all_mutants)} mutants: {stopped} "
                                               "(--max-seconds, --max-memory); the rest were not run")


# --------------------------------------------------------------------------- telling two rule sets apart


def _difference(a: Summary, b: Summary) -> int | None:
    """How telling the difference between two results is (0 = class, urgency or conditions), or None."""
    if a == b:
        return None
    for rank, fields in enumerate(_GROUPS):
        if any(getattr(a, f) != getattr(b, f) for f in fields):
            return rank
    return len(_GROUPS)  # pragma: no cover - every field is in a group


class _Search:
    """Looks for a case that two rule sets score differently, and makes it minimal.

    In turn, until a difference in class, urgency or conditions is found: each fact the edit
    reads set to each value worth trying or to unknown, in the empty case and in each rule test's case that
    knows one of those facts, and the facts solved for a worked-out number (age at onset) set
    together; any other fact the rules read, in the empty case; two of the edit's facts at once
    in the empty case; random cases.
    """

    def __init__(self, rs: RuleSet, bases: list[dict[str, Any]], random_cases: int, seed: int):
        self.rs = rs
        self.empty = {name: None for name in FACTS}
        self.tests = bases
        self.random_cases = random_cases
        self.seed = seed
        self.lists = [v for b in bases for k, v in b.items() if v is not None and FACTS[k].kind == "int_list"]
        self._values: dict[tuple[str, frozenset[Any]], list[Any]] = {}

    def distinguish(self, mutant: RuleSet, focus_facts: frozenset[str] = frozenset()) -> dict[str, Any] | None:
        values, joint = self._candidates(mutant)
        facts = sorted(values)
        focus = [f for f in facts if f in focus_facts] or facts
        bases = [self.empty] + [b for b in self.tests if any(b[f] is not None for f in focus)]
        best: tuple[int, dict[str, Any]] | None = None

        def found(cases: Iterator[dict[str, Any]]) -> bool:
            """Try cases; true once the most telling kind of difference is found."""
            nonlocal best
            for case in cases:
                rank = _difference(self.rs.evaluate(case), mutant.evaluate(case))
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, case)
                    if rank == 0:
                        return True
            return False

        singles = [{f: v} for f in focus for v in [*values[f], None]] + [j for j in joint if set(j) & set(focus)]
        others = [{f: v} for f in facts if f not in focus for v in values[f]]
        if (found({**base, **c} for c in singles for base in bases)
                or found({**self.empty, **c} for c in others)):
            return self._minimal(mutant, best[1], 0)
        if best is None or best[0] > 0:
            pairs = [(f, v) for f in focus for v in values[f]]
            rng = random.Random(self.seed)
            if not found({**self.empty, f1: v1, f2: v2} for i, (f1, v1) in enumerate(pairs)
                         for f2, v2 in pairs[i + 1:] if f1 != f2):
                found(self._random_case(rng, values, joint, focus) for _ in range(self.random_cases))
        return None if best is None else self._minimal(mutant, best[1], best[0])

    def _random_case(self, rng: random.Random, values: dict[str, list[Any]], joint: list[dict[str, Any]],
                     facts: list[str]) -> dict[str, Any]:
        case = dict(self.empty)
        for fact in facts:
            if rng.random() < 0.6:
                case[fact] = rng.choice(values[fact])
        if joint and rng.random() < 0.5:
            case.update(rng.choice(joint))
        return case

    def _minimal(self, mutant: RuleSet, case: dict[str, Any], rank: int) -> dict[str, Any]:
        """Leave every fact unknown that the difference (as telling as before) does not need."""
        case = dict(case)
        changed = True
        while changed:
            changed = False
            for fact in [f for f, v in case.items() if v is not None]:
                trial = {**case, fact: None}
                found = _difference(self.rs.evaluate(trial), mutant.evaluate(trial))
                if found is not None and found <= rank:
                    case, changed = trial, True
        return case

    def _candidates(self, mutant: RuleSet) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
        """Values worth trying for each fact the rules read - both sides of every threshold of
        either rule set, every choice, the STarT Back answers of the tests changed a little - and
        the facts solved for each worked-out number compared with a constant."""
        read = _facts_read(self.rs) | _facts_read(mutant)
        thresholds = _thresholds(self.rs)
        for fact, found in _thresholds(mutant).items():
            thresholds.setdefault(fact, set()).update(found)
        values = {}
        for fact in sorted(read):
            key = (fact, frozenset(thresholds.get(fact, ())))
            if key not in self._values:
                self._values[key] = _values_for(FACTS[fact], key[1], self.lists)
            if self._values[key]:
                values[fact] = self._values[key]
        return values, _solved(self.rs, mutant, values)


def _nodes(rs: RuleSet) -> list[expr.Node]:
    return ([r.node for r in rs.rules] + [d.node for d in rs.definitions.values()] + [c.node for c in rs.checks]
            + [n for _, n in rs.classification])


def _thresholds(rs: RuleSet) -> dict[str, set[Any]]:
    """Every number each fact is compared with, in rules, definitions and checks."""
    found: dict[str, set[Any]] = {}

    def walk(node: expr.Node) -> None:
        if isinstance(node, expr.Compare):
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, expr.Ref) and a.kind == "fact" and isinstance(b, expr.Const):
                    found.setdefault(a.name, set()).add(b.value)
        for child in expr._children(node):
            walk(child)

    for node in _nodes(rs):
        walk(node)
    return found


def _facts_read(rs: RuleSet) -> set[str]:
    out: set[str] = set(rs.manifest.screening)
    for node in _nodes(rs):
        out.update(ref.name for ref in expr.references(node) if ref.kind == "fact")
    return out


def _values_for(fact: Any, thresholds: set[Any], lists: list[list[int]]) -> list[Any]:
    if fact.kind == "bool":
        return [True, False]
    if fact.kind == "enum":
        return list(fact.values)
    if fact.kind == "set":
        return [frozenset()] + [frozenset([v]) for v in fact.values]
    if fact.kind in ("int", "number"):
        found: set[float] = set()
        for k in (t for t in thresholds if isinstance(t, (int, float)) and not isinstance(t, bool)):
            step = _step(k)
            found |= {k - 1, k, k + 1, _nudge(k, -step), _nudge(k, step)}
        lo = fact.minimum if fact.minimum is not None else -math.inf
        hi = fact.maximum if fact.maximum is not None else math.inf
        if fact.kind == "int":
            found = {float(math.floor(v)) for v in found} | {float(math.ceil(v)) for v in found}
            return sorted(int(v) for v in found if lo <= v <= hi) or [int(max(lo, 0))]
        return sorted(v for v in found if lo <= v <= hi) or [max(lo, 0)]
    if fact.kind == "int_list":
        return _lists_near(fact.path, lists)
    return []


def _lists_near(path: str, lists: list[list[int]]) -> list[tuple[int, ...]]:
    """The lists the tests use, each with one or two items one step up or down (kept when valid)."""
    section, name = path.split(".", 1)
    out: dict[tuple[int, ...], None] = {}
    steps = [(i, d) for i in range(max(map(len, lists), default=0)) for d in (-1, 1)]
    for values in lists:
        out[tuple(values)] = None
        for a, (i, di) in enumerate(steps):
            for j, dj in [(None, 0)] + steps[a + 2 - a % 2:]:
                changed = list(values)
                if i >= len(changed) or (j is not None and j >= len(changed)):
                    continue
                changed[i] += di
                if j is not None:
                    changed[j] += dj
                out[tuple(changed)] = None
    valid = []
    for values in out:
        try:
            validate_case({"format": FORMAT, "id": "x", section: {name: list(values)}}, "<mutate>")
        except InputError:
            continue
        valid.append(list(values))
    return valid


def _solved(rs: RuleSet, mutant: RuleSet, values: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """For a number worked out from facts (age_at_onset = age - weeks_ago / 52) and compared with a
    constant: facts that put it just under, at and just over the constant, in either rule set."""
    found: dict[tuple, dict[str, Any]] = {}
    for ruleset in (rs, mutant):
        for node, k in _derived_comparisons(ruleset):
            leaves = sorted({ref.name for ref in expr.references(node)})
            if not all(FACTS[n].kind in ("int", "number") for n in leaves):
                continue
            for solve in leaves:
                others = [n for n in leaves if n != solve]
                for combo in _combos([values.get(n, []) for n in others]):
                    env = dict(zip(others, combo))
                    for target in (k - 1, k - 0.01, k, k + 0.01, k + 1):
                        v = _solve(node, ruleset, env, solve, target)
                        if v is not None:
                            case = {**env, solve: v}
                            found[tuple(sorted(case.items()))] = case
    return list(found.values())


def _combos(lists: list[list[Any]], limit: int = 40) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = [()]
    for options in lists:
        out = [(*c, v) for c in out for v in options][:limit]
    return out


def _derived_comparisons(rs: RuleSet) -> list[tuple[expr.Node, float]]:
    """(the number worked out, with definitions written in; the constant) of every comparison of a
    worked-out number with a constant."""
    out = []

    def inline(node: expr.Node) -> expr.Node | None:
        if isinstance(node, expr.Ref) and node.kind == "definition":
            return inline(rs.definitions[node.name].node)
        if isinstance(node, expr.Arith):
            left, right = inline(node.left), inline(node.right)
            return None if left is None or right is None else dataclasses.replace(node, left=left, right=right)
        if isinstance(node, (expr.Const, expr.Ref)) and node.type.kind == "number":
            return node
        return None

    def walk(node: expr.Node) -> None:
        if isinstance(node, expr.Compare):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if (isinstance(other, expr.Const) and isinstance(other.value, (int, float))
                        and not (isinstance(side, expr.Ref) and side.kind == "fact")):
                    worked = inline(side)
                    if worked is not None:
                        out.append((worked, other.value))
        for child in expr._children(node):
            walk(child)

    for node in [r.node for r in rs.rules] + [d.node for d in rs.definitions.values()]:
        walk(node)
    return out


def _solve(node: expr.Node, rs: RuleSet, env: dict[str, Any], name: str, target: float) -> Any:
    """The value of fact `name` that makes the (linear) number `node` equal `target`, if valid."""

    def at(x: float) -> float | None:
        facts = {**env, name: x}
        try:
            return expr.explain(node, lambda n, _kind: expr.Evaluation(facts.get(n))).value
        except (TypeError, ZeroDivisionError):
            return None

    y0, y1, y2 = at(0), at(1), at(2)
    if None in (y0, y1, y2) or y1 == y0 or not math.isclose(y2 - y1, y1 - y0):
        return None
    x = (target - y0) / (y1 - y0)
    fact = FACTS[name]
    lo = fact.minimum if fact.minimum is not None else -math.inf
    hi = fact.maximum if fact.maximum is not None else math.inf
    if fact.kind == "int":
        if not float(x).is_integer():
            return None
        x = int(x)
    else:
        x = round(x, 6)
    return x if lo <= x <= hi else None


# --------------------------------------------------------------------------- the rule test


def nested_case(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path, value in case.items():
        if value is None:
            continue
        section, name = path.split(".", 1)
        if isinstance(value, (frozenset, set)):
            value = sorted(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        out.setdefault(section, {})[name] = value
    return out


def expectation(original: Summary, edited: Summary) -> dict[str, Any]:
    """What the rules give and the mutant does not, in the most telling part of the result that differs."""
    rank = _difference(original, edited)
    expect: dict[str, Any] = {}
    if rank == 0:
        for name in ("classification", "urgency", "conditions"):
            if getattr(original, name) != getattr(edited, name):
                expect[name] = getattr(original, name)
    elif rank == 1:
        ids = lambda ws: {w.split(":", 1)[0] for w in ws}  # noqa: E731
        for label, a, b in (("alerts", set(original.alerts), set(edited.alerts)),
                            ("findings", set(original.findings), set(edited.findings)),
                            ("warnings", ids(original.warnings), ids(edited.warnings)),
                            ("unscreened", set(original.unscreened), set(edited.unscreened))):
            if a - b:
                expect[label] = sorted(a - b)
            if b - a and label != "unscreened":
                expect[f"not_{label}"] = sorted(b - a)
        if not expect and original.alerts != edited.alerts:  # same alerts, another tier
            expect["alert_tiers"] = {k: v for k, v in original.alerts.items() if edited.alerts.get(k) != v}
    elif rank == 2:
        a, b = set(original.rules_fired), set(edited.rules_fired)
        expect.update({k: sorted(v) for k, v in (("fires", a - b), ("not_fires", b - a)) if v})
    elif rank == 3:
        a, b = set(original.not_excluded), set(edited.not_excluded)
        fired = set(original.rules_fired)
        expect.update({k: sorted(v) for k, v in (("not_excluded", a - b), ("ruled_out", b - a - fired),
                                                  ("fires", (b - a) & fired)) if v})
    return expect


def as_rule_test(mutant: Mutant, rs: RuleSet, edited: RuleSet, case: dict[str, Any]) -> str:
    """A rule test (YAML, as in tests/*.yaml) that the rules pass and the mutant fails."""
    expect = expectation(rs.evaluate(case), edited.evaluate(case))
    name = mutant.label
    return (f"  - name: {json.dumps(name)}\n"
            f"    case: {yaml_flow(nested_case(case))}\n"
            f"    expect: {yaml_flow(expect)}\n")


_PLAIN = __import__("re").compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def yaml_flow(value: Any) -> str:
    """YAML flow style that reads back to the same data (YAML 1.2 core schema)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if _PLAIN.match(value) and value.lower() not in _RESERVED else json.dumps(value)
    return repr(value)


# --------------------------------------------------------------------------- the report


def report_lines(report: MutationReport) -> list[str]:
    """The report: each survivor with the rule test that would catch it, then the counts."""
    lines: list[str] = []
    for survivor in report.distinguishing:
        lines += [f"{survivor.mutant}", "  survives the rule tests; this rule test (for tests/*.yaml) tells it apart:",
                  *(survivor.test or "").splitlines()]
    for survivor in report.no_difference:
        lines.append(f"{survivor.mutant}: no case found that differs (not counted)")
    if report.not_mutated:
        lines.append(f"not mutated (only the note's flags_noted reads them): {', '.join(report.not_mutated)}")
    lines.append(f"{report.generated} mutants: {report.killed} killed by the rule tests, "
                 f"{len(report.no_difference)} with no case found that differs, "
                 f"{len(report.distinguishing)} surviving ({report.seconds:.1f} s)")
    if report.stopped:
        lines.append(f"INCOMPLETE: {report.stopped}")
    return lines
