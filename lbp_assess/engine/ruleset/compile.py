"""The checked rule set compiled into one straight-line Python function (two entry points:
`evaluate(facts)` and `row_from_data(case, source)`). Only our own node types become code.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
from typing import Any, Callable, NamedTuple


from ...model import expr
from ...model.case import EMPTY_SECTIONS, FACTS, json_reading
from .model import Definition, Rule, RuleSet, Summary, PLACEHOLDER
from ..words import describe_value


# --------------------------------------------------------------------------- compilation


@functools.lru_cache(maxsize=4096)
def _isodate(day: dt.date) -> str:
    """`day.isoformat()`, remembered: a batch holds few dates, and formatting one takes longer
    than building the rest of its row's dictionary."""
    return day.isoformat()


#: Definitions of this many nodes or more (more than one comparison) are computed where first
#: read (see compile_ruleset); smaller ones cost less to compute than to check for.
ON_DEMAND_SIZE = 4
#: How deep definitions written out where read may be nested in one another (a longer
#: chain is computed into locals: generated code must stay within Python's nesting limits).
MAX_WRITTEN_NESTING = 3
#: A definition read in several places that reads definitions computed where read cannot be
#: a helper function (the function cannot fill in the caller's locals): it is written out at
#: every place it is read, if all those copies come to no more than this many nodes.
MAX_WRITTEN_COPIES = 240


def _definition_order(definitions: dict[str, Definition],
                      references: Callable[[expr.Node], list[expr.Ref]] = expr.references) -> list[str]:
    """Definition names, each after the definitions it reads (a loop: chains may be long)."""
    order: list[str] = []
    done: set[str] = set()
    for start in definitions:
        stack = [(start, False)]
        while stack:
            name, expanded = stack.pop()
            if name in done:
                continue
            if expanded:
                done.add(name)
                order.append(name)
                continue
            stack.append((name, True))
            stack.extend((r.name, False) for r in references(definitions[name].node)
                         if r.kind == "definition" and r.name not in done)
    return order


class Compiled(NamedTuple):
    """The generated functions of a rule set (RuleSet's attributes of the same names)."""

    evaluate: Any
    row_from_data: Any
    row_from_json: Any


def compile_ruleset(rs: RuleSet) -> Compiled:
    """Generate the rule set as three Python functions with one body.

    `evaluate(facts)` reads a flat fact dict (`{"pain.leg_side": ...}`) and returns a
    `Summary`; `row(case, source)` reads a case read the fast way (case.CASE_STRUCT)
    and returns its whole result row (the fields of docs/case-format.md, the actions, and
    what batch.score.with_follow_up adds to a row assessed the precise way: the visit
    followed, the date and the assessor); `row_json(raw, plain, source)` is `row(fast_json(raw,
    plain), source)` in one function, or None where fast_json gives None: the facts are read
    into the body's locals as the reader counts the keys (each field read once), for the
    per-case path of batch scoring. The body evaluates
    every rule in dependency order and, as each rule fires, records what it raises:
    the highest tier of each condition and alert, findings, the urgency, the rule ids.
    Definitions are computed where first needed; outcome flags are set as rules fire.
    """
    walked: dict[int, list[expr.Ref]] = {}

    def references(node: expr.Node) -> list[expr.Ref]:  # each tree walked once (they are read many times)
        found = walked.get(id(node))
        if found is None:
            found = walked[id(node)] = expr.references(node)
        return found

    locals_: dict[str, str] = {}

    def local(name: str) -> str:
        if name not in locals_:
            locals_[name] = f"v{len(locals_)}"
        return locals_[name]

    def_nullable: dict[str, bool] = {}

    def nullable(name: str) -> bool:
        if name in FACTS:
            return True
        if name in rs.definitions:
            return def_nullable[name]
        return False  # outcomes are plain True/False

    # Larger definitions are computed where first read, so a rule decided by a cheaper part
    # (`radicular_gate and radicular_features >= 2`) never computes them: written out at
    # the first place that reads them and, when read in several places, as a helper
    # function that the later places call if the first did not run. Others are computed
    # once into their local before the first statement that reads them. A definition read in
    # several places that reads others computed where read cannot be a helper: it is written
    # out at each of its places (computed at the first that runs) only if all the copies, its
    # inner definitions included, come to no more than MAX_WRITTEN_COPIES nodes - copies of
    # copies would grow exponentially with definitions built on definitions. Definitions
    # written out where read nest at most MAX_WRITTEN_NESTING deep.
    nodes = [r.node for r in rs.rules] + [d.node for d in rs.definitions.values()]
    nodes += [c.node for c in rs.checks] + [n for _, n in rs.classification]
    reads = collections.Counter(ref.name for node in nodes for ref in references(node)
                                if ref.kind == "definition")
    lazy: set[str] = set()
    nesting: dict[str, int] = {}  # how deep definitions written out where read are nested in this one
    written: dict[str, int] = {}  # the nodes one place that reads a lazy definition holds for it
    called: set[str] = set()  # lazy definitions read in several places through a helper function
    for name in _definition_order(rs.definitions, references):
        node = rs.definitions[name].node
        if expr.size(node) < ON_DEMAND_SIZE or not reads[name]:
            continue
        inner = [r.name for r in references(node) if r.name in lazy]
        if reads[name] > 1 and not inner:  # written out where first read, a helper function elsewhere
            lazy.add(name)
            called.add(name)
            nesting[name] = 1
            written[name] = expr.size(node)
            continue
        depth = 1 + max((nesting.get(n, 0) for n in inner), default=0)
        size = expr.size(node) + sum(written[n] for n in inner)
        if depth <= MAX_WRITTEN_NESTING and (reads[name] == 1 or reads[name] * size <= MAX_WRITTEN_COPIES):
            lazy.add(name)
            nesting[name] = depth
            written[name] = size
    on_demand = {name: rs.definitions[name].node for name in nesting}
    helpers: dict[str, str] = {}  # lazy definitions read in several places: name -> call source
    helper_source: list[str] = []
    gen = expr.CodeGen(local, nullable, on_demand.get, helpers.get)
    tiers = list(rs.manifest.tiers)
    rank = rs.tier_rank
    body: list[str] = ["    fired = []", "    undecided = []", "    warnings = []", "    unscreened = []",
                       "    conditions = {}", "    alerts = {}", "    findings = []", "    settled = {}",
                       f"    best = {len(tiers) - 1}", "    fire = fired.append", "    undecide = undecided.append",
                       "    actions = []", "    act = actions.append"]
    # A fired rule's entry in the row's `actions` (label, tier, time frame, action), added as it fires
    # (so in firing order), a copy each time: a row's actions are its own.
    action_entries = {r.id: e for r in rs.rules if (e := r.action_entry()) is not None}
    action_names = {rule_id: f"_A{i}" for i, rule_id in enumerate(action_entries)}
    emitted: set[str] = set()

    def emit_definition(name: str) -> None:
        if name in emitted:
            return
        for ref in references(rs.definitions[name].node):
            if ref.kind == "definition":
                emit_definition(ref.name)
        emitted.add(name)
        node = rs.definitions[name].node
        if name in on_demand and name not in called:  # computed where read; what it reads is computed before
            return
        src, null = gen.statement(node)
        def_nullable[name] = null
        if name in lazy:  # a helper function of the locals it reads, called where first read
            params = ", ".join(dict.fromkeys(local(ref.name) for ref in references(node)))
            helper_source.append(f"def _f{local(name)}({params}):\n    return {src}\n")
            helpers[name] = f"_f{local(name)}({params})"
            return
        body.append(f"    {local(name)} = {src}")

    def emit_needed(node: expr.Node) -> None:
        for ref in references(node):
            if ref.kind == "definition":
                emit_definition(ref.name)

    def emit_raised(rule: Rule) -> list[str]:
        """What a fired rule records: its id, what it raises at its tier, the urgency."""
        lines = [f"fire({rule.id!r})"]
        if rule.id in action_names:
            lines.append(f"act(dict({action_names[rule.id]}))")
        if rule.raises == "finding":
            return lines + [f"if {rule.name!r} not in findings:", f"    findings.append({rule.name!r})"]
        held = "conditions" if rule.raises == "condition" else "alerts"
        if rule.tier is None:  # recorded without a tier unless a rule gives it one
            return lines + [f"if {rule.name!r} not in {held}:", f"    {held}[{rule.name!r}] = None"]
        k = rank[rule.tier]
        if k < len(tiers) - 1:
            lines += [f"if best > {k}:", f"    best = {k}"]
        if k == 0:  # nothing outranks it
            return lines + [f"{held}[{rule.name!r}] = {rule.tier!r}"]
        return lines + [f"if (h := {held}.get({rule.name!r})) is None or _RANK[h] > {k}:",
                        f"    {held}[{rule.name!r}] = {rule.tier!r}"]

    # Only outcome flags that some expression reads are kept.
    read = {ref.name for node in nodes for ref in references(node) if ref.kind == "outcome"}
    for flag in sorted(read - {"screening_incomplete"}):
        body.append(f"    {local(flag)} = False")
    if lazy:
        body.append("    " + " = ".join(local(name) for name in sorted(lazy)) + " = ...")
    for fact, node in rs.settled.items():  # before anything reads the fact
        emit_needed(node)
        value = rs.manifest.settled[fact].value
        body.append(f"    if {local(fact)} is None and ({gen.condition(node)}):")
        body.append(f"        {local(fact)} = settled[{fact!r}] = {value!r}")
    for name in rs.manifest.screening:
        body.append(f"    if {local(name)} is None:")
        body.append(f"        unscreened.append({name!r})")
    body.append(f"    {local('screening_incomplete')} = bool(unscreened)")

    for rule in rs.rules:
        emit_needed(rule.node)
        sets = [f"{rule.raises}.{rule.name}"]
        if rule.raises == "condition":
            sets += ["condition.any", f"condition_tier.{rule.tier}"]
        raised = emit_raised(rule) + [f"{local(flag)} = True" for flag in sets if flag in read]
        body.extend("    " + line for line in gen.branch(rule.node, raised, [f"undecide({rule.id!r})"]))
    for chk in rs.checks:
        emit_needed(chk.node)
        test = gen.condition(chk.node)
        # The message with each {fact} placeholder filled in: literal text and described values.
        pieces = PLACEHOLDER.split(f"{chk.id}: {chk.message}")  # text, fact, text, fact, ...
        parts = [f"_describe({local(p)})" if i % 2 else repr(p) for i, p in enumerate(pieces) if p or i % 2]
        body.append(f"    if {test}:")
        body.append(f"        warnings.append({' + '.join(parts)})")
    for _, node in rs.classification[:-1]:  # definitions the entries read, before the if/elif chain
        emit_needed(node)
    for i, (cls, node) in enumerate(rs.classification):  # the first that holds; the last is the default
        if i == len(rs.classification) - 1:
            body.append(f"    else:\n        classification = {cls!r}" if i else f"    classification = {cls!r}")
            break
        body.append(f"    {'el' if i else ''}if {gen.condition(node)}:\n        classification = {cls!r}")

    facts_used = [(n, v) for n, v in locals_.items() if n in FACTS]
    flat = [f"    {v} = F[{n!r}]" for n, v in facts_used]
    nested: list[str] = []
    sections: dict[str, str] = {}
    empty: dict[str, Any] = {}
    for n, v in facts_used:
        section, name = n.split(".", 1)
        if section not in sections:
            sections[section] = f"_s{len(sections)}"
            empty[f"_E{sections[section]}"] = EMPTY_SECTIONS[section]
            nested.append(f"    {sections[section]} = D.{section} or _E{sections[section]}")
        nested.append(f"    {v} = {sections[section]}.{name}")
    summary = ("    return Summary(classification, _TIERS[best], conditions, alerts, findings, unscreened, "
               "warnings, fired, undecided, settled)")
    row = ("    return {'id': D.id, 'file': source, 'classification': classification, 'urgency': _TIERS[best], "
           "'conditions': list(conditions), 'alerts': list(alerts), 'unscreened': unscreened, "
           "'warnings': warnings, 'rules_fired': fired, 'rules_version': _VERSION, 'error': None, "
           "'condition_tiers': conditions, 'findings': findings, 'not_excluded': undecided, "
           "'follow_up_of': None if (_f := D.follow_up_of) is None else _f.id, "
           "'assessed_on': None if (_d := D.assessed_on) is None else _isodate(_d), 'assessor': D.assessor, "
           "'actions': actions}")
    reading, reading_names = json_reading(dict(facts_used), "D")
    helpers_src = "".join(helper_source) + "\n"
    evaluate_src = "def evaluate(F):\n" + "\n".join(flat + body) + "\n" + summary + "\n\n"
    row_src = "def row(D, source):\n" + "\n".join(nested + body) + "\n" + row + "\n\n"
    row_json_src = "def row_json(raw, plain, source):\n" + "\n".join(reading + body) + "\n" + row + "\n"
    source = helpers_src + evaluate_src + row_src + row_json_src
    namespace: dict[str, Any] = {**expr.RUNTIME, "_describe": describe_value,
                                 "_RANK": rank, "_TIERS": tuple(tiers), "_VERSION": rs.version, "_isodate": _isodate,
                                 **{action_names[i]: e for i, e in action_entries.items()},
                                 "Summary": Summary, **empty, **gen.constants}
    if set(reading_names) & set(namespace):  # pragma: no cover - a name of the reader (its proof) taken by the body
        raise RuntimeError(f"generated names clash: {sorted(set(reading_names) & set(namespace))}")
    namespace.update(reading_names)
    name = f"<rules {rs.manifest.name}>"
    # The helpers and `row_json` now; `evaluate` and `row` (the same body) when first called: a
    # batch of JSON Lines calls neither, one of YAML files only `row`, and compiling the body once
    # less is a part of every start-up. A body Python cannot compile fails here, as it would later.
    exec(compile(helpers_src + row_json_src, name, "exec"), namespace)  # noqa: S102 - generated from checked trees

    def lazily(fn_source: str, fn_name: str) -> Any:
        compiled: list[Any] = []

        def call(*args: Any) -> Any:
            if not compiled:
                exec(compile(fn_source, name, "exec"), namespace)  # noqa: S102 - generated from checked trees
                compiled.append(namespace[fn_name])
            return compiled[0](*args)
        return call

    functions = Compiled(lazily(evaluate_src, "evaluate"), lazily(row_src, "row"), namespace["row_json"])
    for fn in functions:
        fn.source = source  # type: ignore[attr-defined]
    return functions
