"""Loading and checking a rule set directory: `load_rules`, `check_rules`, `default_rules_dir`.

A rule set is a directory of YAML files:

* `ruleset.yaml` - name, version, urgency tiers (highest first), the classes,
  conditions, alerts and findings rules may raise (with codes), the
  classification order, and the red-flag screening facts.
* any other `*.yaml` (except `interview.yaml`) - a `layer`, named `definitions`,
  `rules` and consistency `checks`.

Every rule names what it raises and cites its source. Rules may refer to facts
(case fields), definitions, and to what other rules raised (`condition.x`,
`alert.x`, `finding.x`, `condition.any`, `condition_tier.<tier>`); the loader
orders evaluation by those dependencies (order.py) and refuses cycles, then compiles
the checked set (compile.py). Every problem is collected with its file, line and column.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from ...model import expr
from ...model.case import NOT_IN_LINE, NOT_IN_TEXT, FACTS, problems_from
from ...base.errors import InputError, Location, Problem, did_you_mean
from ...model.expr import ExprError, Symbol, Type
from ...base.resources import shipped
from ...base.text import BIDI_CONTROLS, counted
from ...base.yamlio import Locator, load_yaml, read_regular_file, read_text
from .compile import compile_ruleset
from .model import Check, Definition, Rule, RuleChecklist, RuleSet, PLACEHOLDER
from .order import order_rules
from .schema import (ACTION_FIELDS, NOTE_WORDING, NOTE_WORDING_OPTIONAL, Advice, CheckSpec, DefinitionSpec, MANIFEST, Manifest, NOT_RULE_FILES, RuleFile,
                     RuleSpec, Wording, SNAKE)


# --------------------------------------------------------------------------- loading


def default_rules_dir() -> Path:
    """The shipped rules: inside the installed package, or `rules/` in a source checkout."""
    return shipped("rules")


def load_rules(directory: Path | str | None = None, *, questionnaire: bool = True) -> RuleSet:
    """Load, check and compile a rule set; raise InputError listing every problem.

    `questionnaire=False` leaves out the questionnaire (interview.yaml): scoring saved
    cases does not use it, and starts quicker without it.
    """
    ruleset, problems = _load(Path(directory) if directory is not None else default_rules_dir(), questionnaire)
    errors = [p for p in problems if p.severity == "error"]
    if errors or ruleset is None:
        raise InputError(f"{counted(len(errors), 'problem')} in rules; first: {errors[0]}", errors)
    return ruleset


def check_rules(directory: Path | str | None = None) -> list[Problem]:
    """Every problem in a rule set, sorted by file and line (empty when it is clean)."""
    return _load(Path(directory) if directory is not None else default_rules_dir())[1]


def scope_of(ruleset: RuleSet, *, definitions: bool = True) -> "_Scope":
    """The names a loaded rule set lets an expression use (its facts, outcomes and, unless
    `definitions` is false, its definitions), for checking an expression written against it:
    `expr.check(expr.parse(text), scope_of(ruleset))`."""
    return _Scope(ruleset.manifest, ruleset.definitions if definitions else {}, _Loader(ruleset.directory))


class _Loader:
    def __init__(self, directory: Path):
        self.directory = directory
        self.problems: list[Problem] = []
        self.texts: dict[str, str] = {}
        self.locators: dict[str, Locator] = {}
        self.loose_names: set[str] = set()
        self.loose_raised: set[tuple[str, str]] = set()

    def problem(self, where: Location, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(where, message, severity=severity))

    def read(self, path: Path, model: type[BaseModel]) -> tuple[Any, str] | None:
        name = str(path)
        try:
            text = read_text(path)
            data = load_yaml(text, name, kind="rule")
        except InputError as err:
            self.problems.extend(err.problems)
            return None
        self.texts[name] = text
        if data is None:
            data = {}
        self.check_text(data, name)
        try:
            return model.model_validate(data), name
        except ValidationError as exc:
            self.problems.extend(problems_from(exc, name, text, model=model))
            return None

    def check_text(self, data: Any, name: str) -> None:
        """Rule-set text is shown to clinicians (terminal, notes, HTML, CSV): the same checks as
        case text. No control character, line or paragraph separator, bidirectional control or
        lone surrogate anywhere; names, labels, versions and tier wording on one line (tab and
        line breaks allowed in prose: reasons, advice, descriptions)."""
        stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
        while stack:
            path, node = stack.pop()
            if isinstance(node, dict):
                for key, value in node.items():
                    if isinstance(key, str) and not key.isprintable() and (found := NOT_IN_LINE.search(key)):
                        self.problem(self.at(name, path + (key,), key=True), _control(found, "a key"))
                    stack.append((path + (key,), value))
            elif isinstance(node, list):
                stack.extend((path + (i,), value) for i, value in enumerate(node))
            elif isinstance(node, str):
                field = next((p for p in reversed(path) if isinstance(p, str)), "")
                one_line = field in _ONE_LINE or (len(path) >= 2 and path[-2] in _NAMED_MAPS)
                # printable text holds none of what either pattern finds (controls, separators, bidi
                # controls and surrogates are not printable): one quick test for most texts
                found = None if node.isprintable() else (NOT_IN_LINE if one_line else NOT_IN_TEXT).search(node)
                what = f"`{field}` (one line)" if one_line else f"`{field}`" if field else "text"
                if found is not None:
                    self.problem(self.at(name, path), _control(found, what))
                elif len(node) > (longest := MAX_ONE_LINE if one_line else MAX_PROSE) \
                        and not _expression(field, path):
                    self.problem(self.at(name, path), f"{what} is {len(node):,} characters long; at most {longest:,} "
                                                      "(it is printed in every note and row that shows it)")

    def item(self, model: type[BaseModel], data: dict[str, Any], name: str, path: tuple[Any, ...]) -> Any:
        """Validate one rule or check; problems are located under `path`."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for problem in problems_from(exc, name, self.texts.get(name), model=model):
                field = problem.field or ""
                sub = tuple(int(p) if p.isdigit() else p for p in field.split(".") if p) if field else ()
                where = self.at(name, path + sub, key="unknown field" in problem.message)
                self.problems.append(Problem(where, problem.message, ".".join(map(str, path + sub))))
            self.loose_refs(data)
            return None

    def loose_refs(self, data: dict[str, Any]) -> None:
        """Remember what an invalid rule referred to, so its definitions and outcomes
        are not reported as unused because of it."""
        when = data.get("when")
        if isinstance(when, str):
            try:
                self.loose_names.update(ref.name for ref in expr.references(expr.parse(when)))
            except ExprError:
                pass
        for kind in ("condition", "alert", "finding"):
            if isinstance(data.get(kind), str):
                self.loose_raised.add((kind, data[kind]))

    def at(self, name: str, path: tuple[Any, ...], key: bool = False) -> Location:
        if name not in self.locators:
            self.locators[name] = Locator(self.texts.get(name, ""))
        return self.locators[name].place(name, path, key=key)

    def parse(self, text: str | bool, where: Location) -> expr.Node | None:
        try:
            return expr.parse(text)
        except ExprError as err:
            self.expr_problem(err, text, where)
            return None

    def expr_problem(self, err: ExprError, text: Any, where: Location) -> None:
        line, col = where.line, where.col
        if line is not None and col is not None:
            raw = self.texts.get(where.file, "").splitlines()
            source_line = raw[line - 1] if line - 1 < len(raw) else ""
            quoted = source_line[col - 1:col] in ("'", '"')
            block = source_line[col - 1:col] in ("|", ">")
            if block and isinstance(text, str):
                line, col = _in_block(raw, line, text, err)
            elif err.line > 1:
                line, col = line + err.line - 1, None
            else:
                col = col + err.col + (1 if quoted else 0)
        self.problem(Location(where.file, line, col), err.message)


#: The longest rule-set text: a name, label or version (one line), and prose (a reason, an action,
#: advice; not an expression). Generous (the shipped rules' longest are 131 and 376); a limit keeps a
#: runaway value out of every row and note, and out of the messages that quote it.
MAX_ONE_LINE = 200
MAX_PROSE = 4_000

#: The longest chain of definitions built on one another (`d2: d1 and ...`, `d1: d0 or ...`).
#: Checking and compiling follow a chain by recursion: a stated limit, checked first, keeps the
#: answer from depending on Python's stack (the shipped rules' longest chain is 4).
MAX_DEFINITION_CHAIN = 50


def _chain_lengths(definitions: dict[str, Definition]) -> dict[str, int]:
    """How many definitions each one stands on, itself included (1: it reads no definition).
    Iterative, for chains of any length; a cycle is left to the scope check, which names it."""
    reads = {name: {r.name for r in expr.references(d.node) if r.name in definitions}
             for name, d in definitions.items()}
    length: dict[str, int] = {}
    for start in definitions:
        stack, on_path = [(start, False)], set()
        while stack:
            name, expanded = stack.pop()
            if expanded:
                on_path.discard(name)
                length[name] = 1 + max((length.get(r, 0) for r in reads[name]), default=0)
            elif name not in length and name not in on_path:
                on_path.add(name)
                stack.append((name, True))
                stack.extend((r, False) for r in reads[name] if r not in length and r not in on_path)
    return length


def _expression(field: str, path: tuple[Any, ...]) -> bool:
    """An expression or pattern (`when`, `about`, a definition): limited by what it may hold (terms,
    depth, numbers), not by length - a long `any(...)` of facts is fine."""
    return field == "about" or field.endswith("when") or (len(path) >= 2 and path[-2] == "definitions")


#: Rule-set fields shown as one line: names, labels, versions, tier wording, codes.
_ONE_LINE = frozenset({"label", "short", "name", "version", "title", "time_frame", "system", "code", "display",
                       "id", "class", "layer", "tier", "condition", "alert", "finding", "status", "section",
                       "unit", "reviewed", "verified"})
#: Mappings whose values are names (layers: name -> title).
_NAMED_MAPS = frozenset({"layers"})


_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def _control(found: re.Match[str], what: str) -> str:
    char = found.group()
    shown = f"U+{ord(char):04X}"
    kind = "a lone surrogate" if "\ud800" <= char <= "\udfff" else \
        "a bidirectional control" if _BIDI.fullmatch(char) else \
        "a line break" if char in "\n\r\u2028\u2029\x0b\x0c\x85" else "a control character"
    return f"{what} must not contain {kind} ({shown}, at character {found.start() + 1}); it would reach the " \
           "clinician's screen"


def _in_block(raw: list[str], line: int, text: str, err: ExprError) -> tuple[int, int | None]:
    """The source line and column of an error inside a block scalar (`when: >-` or `|`).

    The value is the block's lines without their indentation, joined by spaces (folded)
    or newlines (literal): each source line is found in the value in turn, and the error's
    offset in the value is mapped back to the line holding it."""
    stripped = text.strip()
    lines = stripped.split("\n")
    offset = len(text) - len(text.lstrip()) + sum(len(s) + 1 for s in lines[:err.line - 1]) + err.col
    at = 0
    for number in range(line, len(raw)):  # the block's lines follow the indicator's line
        content = raw[number].strip()
        if not content:
            continue
        found = text.find(content, at)
        if found < 0:
            break
        if found <= offset < found + len(content) + 1:
            return number + 1, len(raw[number]) - len(raw[number].lstrip()) + offset - found + 1
        at = found + len(content)
    return line + err.line, None


def _load(directory: Path, questionnaire: bool = True) -> tuple[RuleSet | None, list[Problem]]:
    try:
        return _load_checked(directory, questionnaire)
    except RecursionError:  # definitions on definitions, thousands deep
        return None, [Problem(Location(str(directory)), "definitions refer to definitions too deeply to check; "
                                                        "shorten the chains of definitions built on one another")]


def _load_checked(directory: Path, questionnaire: bool = True) -> tuple[RuleSet | None, list[Problem]]:
    loader = _Loader(directory)
    manifest_path = directory / MANIFEST
    if not directory.is_dir():
        return None, [Problem(Location(str(directory)), "is not a rules directory")]
    if not manifest_path.is_file():
        return None, [Problem(Location(str(directory)), f"no {MANIFEST} in this directory; is it a rule set?")]
    read = loader.read(manifest_path, Manifest)
    rule_files = sorted(p for p in directory.glob("*.yaml") if p.name not in NOT_RULE_FILES)
    files = [(p, loader.read(p, RuleFile)) for p in rule_files]
    if read is None:
        return None, sorted(loader.problems, key=_order)
    manifest, manifest_name = read
    _check_manifest(loader, manifest, manifest_name)

    definitions: dict[str, Definition] = {}
    rules: list[Rule] = []
    checks: list[Check] = []
    layer_names = list(manifest.layers)
    seen_ids: dict[str, Location] = {}
    checklist_nodes: list[tuple[expr.Node, str, Location]] = []
    v7 = False  # a rule carries its own label: the note needs the rule set's `note_wording`
    for path, parsed in files:
        if parsed is None:
            continue
        spec, name = parsed
        layer = spec.layer
        if spec.rules and layer is None:
            loader.problem(Location(name, 1, 1), f"missing `layer:`; expected one of: {', '.join(layer_names)}")
        elif layer is not None and layer not in manifest.layers:
            loader.problem(loader.at(name, ("layer",)),
                           f"unknown layer {layer!r}{did_you_mean(layer, layer_names)}; "
                           f"expected one of: {', '.join(layer_names)}")
        for def_name, value in spec.definitions.items():
            where = loader.at(name, ("definitions", def_name), key=True)
            text, means = (value.when, value.means) if isinstance(value, DefinitionSpec) else (value, None)
            if def_name in definitions or def_name in FACTS:
                other = definitions[def_name].where if def_name in definitions else "the case-file vocabulary"
                loader.problem(where, f"definition `{def_name}` is already defined ({other})")
                continue
            if not SNAKE.fullmatch(def_name):
                loader.problem(where, f"definition name {_shown(def_name)} must be lower_snake_case")
                continue
            value_where = loader.at(name, ("definitions", def_name) + (("when",) if means is not None else ()))
            node = loader.parse(text, value_where)
            if node is not None:
                definitions[def_name] = Definition(def_name, node, str(text), means, value_where, where)
        for index, raw in enumerate(spec.rules):
            rule = loader.item(RuleSpec, raw, name, ("rules", index))
            if rule is None:
                continue
            where = loader.at(name, ("rules", index, "id"))
            if rule.id in seen_ids:
                loader.problem(where, f"duplicate rule id `{rule.id}` (first at {seen_ids[rule.id]})")
                continue
            seen_ids[rule.id] = where
            raised = _raised(loader, manifest, rule, name, index)
            when_where = loader.at(name, ("rules", index, "when"))
            node = loader.parse(rule.when, when_where)
            if node is None or raised is None:
                loader.loose_refs(raw)
                continue
            if rule.status == "retired":
                continue
            _check_action_fields(loader, manifest, rule, name, index)
            v7 = v7 or rule.label is not None
            checklist = _checklist(loader, rule, name, index, checklist_nodes)
            rules.append(Rule(rule.id, layer or layer_names[0], raised[0], raised[1], rule.tier, rule.reason,
                              rule.source, rule.status, rule.action, node, str(rule.when), where, when_where,
                              rule.reviewed, rule.label, rule.time_frame, rule.timing, rule.examination,
                              tuple(rule.safety_net or ()), checklist))
        for index, raw in enumerate(spec.checks):
            chk = loader.item(CheckSpec, raw, name, ("checks", index))
            if chk is None:
                continue
            where = loader.at(name, ("checks", index, "id"))
            if chk.id in seen_ids:
                loader.problem(where, f"duplicate id `{chk.id}` (first at {seen_ids[chk.id]})")
                continue
            seen_ids[chk.id] = where
            when_where = loader.at(name, ("checks", index, "when"))
            node = loader.parse(chk.when, when_where)
            if node is not None:
                checks.append(Check(chk.id, node, chk.message, where, when_where))
                for placeholder in PLACEHOLDER.findall(chk.message):
                    if placeholder not in FACTS:
                        loader.problem(loader.at(name, ("checks", index, "message")),
                                       f"unknown fact `{{{placeholder}}}` in message"
                                       f"{did_you_mean(placeholder, FACTS)}")

    classification = []
    for index, entry in enumerate(manifest.classification):
        where = loader.at(manifest_name, ("classification", index, "when"))
        if entry.class_ not in manifest.classes:
            loader.problem(loader.at(manifest_name, ("classification", index, "class")),
                           f"unknown class {entry.class_!r}{did_you_mean(entry.class_, manifest.classes)}")
        node = loader.parse(entry.when, where)
        if node is not None:
            classification.append((entry.class_, node, where))
    if manifest.classification and manifest.classification[-1].when is not True:
        loader.problem(loader.at(manifest_name, ("classification", len(manifest.classification) - 1, "when")),
                       "the last classification entry must be `when: true`, so every case gets a class")

    too_long = [(name, n) for name, n in _chain_lengths(definitions).items() if n == MAX_DEFINITION_CHAIN + 1]
    for name, n in too_long:  # the first link past the limit of each chain
        loader.problem(definitions[name].key_where,
                       f"definition `{name}` stands on a chain of more than {MAX_DEFINITION_CHAIN} definitions "
                       "built on one another; shorten the chain (combine steps into one definition)")
    if too_long:  # checking it would follow the whole chain
        return None, sorted(loader.problems, key=_order)

    scope = _Scope(manifest, definitions, loader)
    for rule in rules:
        scope.check(rule.node, rule.text, rule.when_where)
    for node, text, where in checklist_nodes:
        scope.check(node, text, where)
    for chk in checks:
        scope.check(chk.node, "", chk.when_where)
    for _, node, where in classification:
        scope.check(node, "", where)
    for definition in definitions.values():
        scope.symbol_of(definition)
    for index, flag in enumerate(manifest.flags_noted):
        where = loader.at(manifest_name, ("flags_noted", index))
        if flag not in definitions:
            loader.problem(where, f"unknown definition `{flag}`{did_you_mean(flag, definitions)}")
        elif scope.symbol_of(definitions[flag]) != expr.BOOL:
            loader.problem(where, f"`{flag}` must be a yes/no definition to be listed as a flag")
        scope.used.add(flag)
    for observed in manifest.observations:
        if observed not in FACTS and observed not in definitions:
            loader.problem(loader.at(manifest_name, ("observations", observed), key=True),
                           f"`{observed}` is neither a fact nor a definition"
                           f"{did_you_mean(observed, [*FACTS, *definitions])}")
        scope.used.add(observed)
    wording_when = _check_wording(loader, manifest, manifest_name, scope)
    _check_note_wording(loader, manifest, manifest_name, v7)
    settled = _check_settled(loader, manifest, manifest_name, scope)
    used = scope.used | loader.loose_names
    complete = all(parsed is not None for _, parsed in files)
    for definition in definitions.values():
        if complete and definition.name not in used:
            loader.problem(definition.key_where, f"definition `{definition.name}` is never used")
    raised = {(r.raises, r.name) for r in rules} | loader.loose_raised
    for kind, names in (("condition", manifest.conditions), ("alert", manifest.alerts),
                        ("finding", manifest.findings)):
        for item in names:
            if complete and (kind, item) not in raised:
                loader.problem(loader.at(manifest_name, (kind + "s", item), key=True),
                               f"{kind} `{item}` is declared but no rule raises it", severity="warning")

    questions = measures = None
    if questionnaire:  # imported here: scoring saved cases loads neither, and starts quicker
        from .. import outcomes as outcomes_file
        from ..questionnaire import FILE as QUESTIONNAIRE_FILE
        from ..questionnaire import load as load_questionnaire

        if (directory / QUESTIONNAIRE_FILE).is_file():
            questions = load_questionnaire(loader, directory / QUESTIONNAIRE_FILE, manifest.screening)
        if (directory / outcomes_file.FILE).is_file():
            measures = outcomes_file.load(loader, directory / outcomes_file.FILE)

    content_hash = _hash(directory, [manifest_path, *rule_files])
    if any(p.severity == "error" for p in loader.problems):
        return None, sorted(loader.problems, key=_order)
    ordered, stuck = order_rules(rules, definitions, manifest.tiers, manifest.layers)
    for rule in stuck:
        loader.problem(rule.where, f"rule `{rule.id}` depends on its own outcome through other rules "
                                   "(a cycle); break it with a definition")
    if stuck:
        return None, sorted(loader.problems, key=_order)
    ruleset = RuleSet(manifest, directory, definitions, ordered, checks,
                      [(c, n) for c, n, _ in classification], content_hash, questions, wording_when, settled,
                      measures or [])
    try:
        ruleset.evaluate, ruleset.row_from_data, ruleset.row_from_json = compile_ruleset(ruleset)
    except (SyntaxError, RecursionError, MemoryError) as exc:  # beyond what Python can compile
        # Named at the largest expression: the likeliest cause, and where the author splits it.
        sized = [(expr.size(r.node), r.when_where) for r in ordered] + [(expr.size(c.node), c.when_where) for c in checks]
        sized += [(expr.size(d.node), d.where) for d in definitions.values()]
        size, where = max(sized, key=lambda pair: pair[0], default=(0, Location(manifest_name)))
        loader.problem(where, f"the rule set is too large to compile ({type(exc).__name__}); the largest "
                              f"expression is here ({size:,} terms): split it into definitions")
        return None, sorted(loader.problems, key=_order)
    return ruleset, sorted(loader.problems, key=_order)


def _order(p: Problem) -> tuple[str, int, int]:
    return (p.location.file, p.location.line or 0, p.location.col or 0)


def _hash(directory: Path, paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(read_regular_file(path))
        except InputError:  # reported where the file is read
            pass
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def _check_manifest(loader: _Loader, manifest: Manifest, name: str) -> None:
    for index, fact in enumerate(manifest.screening):
        if fact not in FACTS:
            loader.problem(loader.at(name, ("screening", index)),
                           f"unknown fact `{fact}`{did_you_mean(fact, FACTS)}")
    for section in ("conditions", "alerts", "findings", "classes", "tiers", "layers"):
        for item in getattr(manifest, section):
            if not SNAKE.fullmatch(item):
                loader.problem(loader.at(name, (section, item), key=True),
                               f"{_shown(item)} must be lower_snake_case")


def _check_note_wording(loader: _Loader, manifest: Manifest, name: str, required: bool) -> None:
    """`note_wording`: the keys the note uses (schema.NOTE_WORDING), each holding only its own
    placeholders, every one present once rules carry their own labels (policy v7); and
    `note_hold_back` keyed by tier or `provisional`."""
    for key, text in manifest.note_wording.items():
        where = loader.at(name, ("note_wording", key))
        if key not in NOTE_WORDING:
            loader.problem(loader.at(name, ("note_wording", key), key=True),
                           f"unknown note wording {_shown(key)}{did_you_mean(key, NOTE_WORDING)}")
            continue
        if not text.strip():
            loader.problem(where, f"note wording `{key}` is empty")
        if key.endswith("_when"):  # a regular expression over an action's text
            try:
                re.compile(text)
            except re.error as error:
                loader.problem(where, f"note wording `{key}` is not a regular expression: {error}")
            continue
        for placeholder in re.findall(r"\{([^{}]*)\}", text):
            if placeholder not in NOTE_WORDING[key]:
                allowed = ", ".join(f"{{{p}}}" for p in NOTE_WORDING[key]) or "none"
                loader.problem(where, f"note wording `{key}`: unknown placeholder {_shown('{' + placeholder + '}')}"
                                      f" (allowed: {allowed})")
    missing = [key for key in NOTE_WORDING if key not in manifest.note_wording and key not in NOTE_WORDING_OPTIONAL]
    if required and missing:
        # A rule set that words its note declares all of it; one with none (written before policy
        # v7's note) still loads, and its note leaves those lines out.
        loader.problem(Location(name, 1, 1), "`note_wording` needs " + ", ".join(f"`{k}`" for k in missing)
                       + " (the note's own wording: its Plan, provisional impression and questions to ask)",
                       severity="error" if manifest.note_wording else "warning")
    for key in manifest.note_hold_back:
        if key not in manifest.tiers and key != "provisional":
            loader.problem(loader.at(name, ("note_hold_back", key), key=True),
                           f"`note_hold_back` names {_shown(key)}: expected a tier "
                           f"({', '.join(manifest.tiers)}) or `provisional`")


def _checklist(loader: _Loader, rule: RuleSpec, name: str, index: int,
               found: list[tuple[expr.Node, str, Location]]) -> RuleChecklist | None:
    """A rule's checklist with each item's `when` parsed (and kept in `found` to be checked)."""
    spec = rule.checklist
    if spec is None:
        return None
    items = []
    for number, item in enumerate(spec.items):
        node = None
        if item.when is not None:
            where = loader.at(name, ("rules", index, "checklist", "items", number, "when"))
            node = loader.parse(item.when, where)
            if node is not None:
                found.append((node, str(item.when), where))
        items.append((" ".join(item.label.split()), node, item.examine))
    return RuleChecklist(spec.title, spec.present, spec.unknown, spec.examine, spec.none, tuple(items))


def _check_action_fields(loader: _Loader, manifest: Manifest, rule: RuleSpec, name: str, index: int) -> None:
    """A rule with a tier carries its own label, time frame, timing, action, examination advice and
    safety-net blocks (policy v7): the note prints them, never the tier's generic time frame."""
    where = loader.at(name, ("rules", index, "id"))
    if rule.tier is not None:
        missing = [f for f in ACTION_FIELDS if getattr(rule, f) is None]
        if missing:
            loader.problem(where, f"rule `{rule.id}` has a tier and needs its own "
                                  + ", ".join(f"`{f}`" for f in missing)
                                  + " (what the note prints for it; `examination: \"\"` or `safety_net: []` "
                                    "when there is none)")
        for field_name in ("label", "time_frame", "action"):
            if getattr(rule, field_name) is not None and not getattr(rule, field_name).strip():
                loader.problem(loader.at(name, ("rules", index, field_name)),
                               f"rule `{rule.id}`: `{field_name}` is empty")
    if rule.timing is not None and rule.timing not in manifest.timings:
        loader.problem(loader.at(name, ("rules", index, "timing")),
                       f"unknown timing {_shown(rule.timing)}{did_you_mean(rule.timing, manifest.timings)}; "
                       f"declare it under `timings` in {MANIFEST}")
    for i, block in enumerate(rule.safety_net or ()):
        if block not in manifest.safety_net_blocks:
            loader.problem(loader.at(name, ("rules", index, "safety_net", i)),
                           f"unknown safety-net block {_shown(block)}"
                           f"{did_you_mean(block, manifest.safety_net_blocks)}; "
                           f"declare it under `safety_net_blocks` in {MANIFEST}")


def _check_settled(loader: _Loader, manifest: Manifest, name: str, scope: "_Scope") -> dict[str, expr.Node]:
    """`settled`: yes/no facts only, each condition a checked yes/no expression that reads no
    settled fact (settling happens once, before any rule)."""
    out: dict[str, expr.Node] = {}
    for fact, spec in manifest.settled.items():
        key_where = loader.at(name, ("settled", fact), key=True)
        if FACTS.get(fact) is None or FACTS[fact].kind != "bool":
            loader.problem(key_where, f"`{fact}` is not a yes/no fact{did_you_mean(fact, FACTS)}")
            continue
        where = loader.at(name, ("settled", fact, "when"))
        node = loader.parse(spec.when, where)
        if node is None:
            continue
        scope.check(node, spec.when, where)
        outcomes = _outcomes_read(node, scope.definitions)
        if outcomes:
            loader.problem(where, f"the condition settling `{fact}` reads {', '.join(sorted(outcomes))}: settling "
                                  "happens before any rule and the screen, so it may read answers only")
            continue
        read = _facts_read(node, scope.definitions)
        if read & set(manifest.settled):
            loader.problem(where, f"the condition settling `{fact}` reads a settled fact "
                                  f"({', '.join(sorted(read & set(manifest.settled)))})")
            continue
        out[fact] = node
    return out


def _outcomes_read(node: expr.Node, definitions: dict[str, Definition], seen: set[str] | None = None) -> set[str]:
    """The outcomes (`condition.x`, `screening_incomplete`, ...) an expression reads, through definitions too."""
    seen = set() if seen is None else seen
    out: set[str] = set()
    for ref in expr.references(node):
        if ref.kind == "outcome":
            out.add(ref.name)
        elif ref.name in definitions and ref.name not in seen:
            seen.add(ref.name)
            out |= _outcomes_read(definitions[ref.name].node, definitions, seen)
    return out


def _facts_read(node: expr.Node, definitions: dict[str, Definition], seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    out: set[str] = set()
    for ref in expr.references(node):
        if ref.name in FACTS:
            out.add(ref.name)
        elif ref.name in definitions and ref.name not in seen:
            seen.add(ref.name)
            out |= _facts_read(definitions[ref.name].node, definitions, seen)
    return out


def _shown(name: str) -> str:
    """A name from a rule file as a message shows it: quoted, controls escaped, shortened."""
    from ...base.text import shorten

    return shorten(repr(name), 60)


def _check_wording(loader: _Loader, manifest: Manifest, name: str, scope: "_Scope") -> dict[str, expr.Node]:
    """Check the `when:` of every piece of note wording and the note's screen groups."""
    places: list[tuple[tuple[Any, ...], Wording | None]] = [(("safety_net",), manifest.safety_net)]
    for block, spec in manifest.safety_net_blocks.items():
        places.append((("safety_net_blocks", block, "text"), spec.text))
    for section in ("classes", "conditions", "alerts", "findings"):
        for item, named in getattr(manifest, section).items():
            places.append(((section, item, "advice"), named.advice))
            places.append(((section, item, "headline"), named.headline))
            if named.superseded_when is not None:
                places.append(((section, item), [Advice(text="", when=named.superseded_when)]))
    for title, wording in manifest.screen_notes.items():
        places.append((("screen_notes", title), wording))
        if title not in manifest.screens:
            loader.problem(loader.at(name, ("screen_notes", title), key=True),
                           f"`{title}` is not a screen{did_you_mean(title, manifest.screens)}")
    nodes: dict[str, expr.Node] = {}
    for path, wording in places:
        pieces = [Advice(text=wording)] if isinstance(wording, str) else wording or []
        for index, advice in enumerate(pieces):
            for placeholder in PLACEHOLDER.findall(advice.text):
                if placeholder in scope.definitions:  # a derived value: the STarT Back total
                    scope.used.add(placeholder)
                    continue
                if placeholder not in FACTS:
                    where = loader.at(name, path + ((index, "text") if isinstance(wording, list) else ()))
                    loader.problem(where, f"unknown fact `{{{placeholder}}}` in note wording"
                                          f"{did_you_mean(placeholder, FACTS)}")
            if advice.when is True:
                continue
            where = loader.at(name, path + (index, "when"))
            node = loader.parse(advice.when, where)
            if node is not None:
                scope.check(node, str(advice.when), where)
                nodes[str(advice.when)] = node
    for block, spec in manifest.safety_net_blocks.items():  # what each line is about (policy v7 7)
        for index, line in enumerate(spec.text if isinstance(spec.text, list) else []):
            at = ("safety_net_blocks", block, "text", index)
            for i, about in enumerate(line.about):
                where = loader.at(name, at + ("about", i))
                node = loader.parse(about, where)
                if node is not None:
                    scope.check(node, about, where)
                    nodes[about] = node
            for i, other in enumerate(line.covered_by):
                if other not in manifest.safety_net_blocks or other == block:
                    loader.problem(loader.at(name, at + ("covered_by", i)),
                                   f"`{other}` is not another safety-net block"
                                   f"{did_you_mean(other, manifest.safety_net_blocks)}")
            for tier in line.stronger:
                if tier not in manifest.tiers:
                    loader.problem(loader.at(name, at + ("stronger", tier), key=True),
                                   f"unknown tier `{tier}`{did_you_mean(tier, manifest.tiers)}")
    for block, spec in manifest.safety_net_blocks.items():
        if spec.given_when in (True, False):
            continue
        where = loader.at(name, ("safety_net_blocks", block, "given_when"))
        node = loader.parse(spec.given_when, where)
        if node is not None:
            scope.check(node, str(spec.given_when), where)
            nodes[str(spec.given_when)] = node
    for title, facts in manifest.screens.items():
        for index, fact in enumerate(facts):
            if FACTS.get(fact) is None or FACTS[fact].kind != "bool":
                loader.problem(loader.at(name, ("screens", title, index)),
                               f"`{fact}` is not a yes/no fact{did_you_mean(fact, manifest.screening)}")
    return nodes


def _raised(loader: _Loader, manifest: Manifest, rule: RuleSpec, name: str, index: int) -> tuple[str, str] | None:
    kinds = [k for k in ("condition", "alert", "finding") if getattr(rule, k) is not None]
    where = loader.at(name, ("rules", index, "id"))
    if len(kinds) != 1:
        loader.problem(where, f"rule `{rule.id}` must raise exactly one of condition, alert or finding")
        return None
    kind = kinds[0]
    item = getattr(rule, kind)
    declared = getattr(manifest, kind + "s")
    if item not in declared:
        loader.problem(loader.at(name, ("rules", index, kind)),
                       f"unknown {kind} `{item}`{did_you_mean(item, declared)}; declare it in {MANIFEST}")
        return None
    if kind == "condition" and rule.tier is None:
        loader.problem(where, f"rule `{rule.id}` raises a condition and needs a `tier`")
        return None
    if kind == "finding" and rule.tier is not None:
        loader.problem(loader.at(name, ("rules", index, "tier")), "a finding has no tier")
        return None
    if rule.tier is not None and rule.tier not in manifest.tiers:
        loader.problem(loader.at(name, ("rules", index, "tier")),
                       f"unknown tier {rule.tier!r}{did_you_mean(rule.tier, manifest.tiers)}; "
                       f"expected one of: {', '.join(manifest.tiers)}")
        return None
    return kind, item


class _Scope:
    """Names visible to expressions: facts, definitions (checked on first use), outcomes."""

    def __init__(self, manifest: Manifest, definitions: dict[str, Definition], loader: _Loader):
        self.definitions = definitions
        self.loader = loader
        self.used: set[str] = set()
        self._types: dict[str, Type | None] = {}
        self._checking: list[str] = []
        self.outcomes: dict[str, Type] = {"condition.any": expr.BOOL, "screening_incomplete": expr.BOOL}
        for item in manifest.conditions:
            self.outcomes[f"condition.{item}"] = expr.BOOL
        for tier in manifest.tiers:
            self.outcomes[f"condition_tier.{tier}"] = expr.BOOL
        for item in manifest.alerts:
            self.outcomes[f"alert.{item}"] = expr.BOOL
        for item in manifest.findings:
            self.outcomes[f"finding.{item}"] = expr.BOOL

    def names(self) -> Iterable[str]:
        return [*FACTS, *self.definitions, *self.outcomes]

    def lookup(self, name: str) -> Symbol | None:
        if name in FACTS:
            fact = FACTS[name]
            kind = {"int": "number", "number": "number"}.get(fact.kind, fact.kind)
            return Symbol(name, "fact", Type(kind, fact.values, fact.length))
        if name in self.outcomes:
            return Symbol(name, "outcome", self.outcomes[name])
        if name in self.definitions:
            self.used.add(name)
            t = self.symbol_of(self.definitions[name])
            return Symbol(name, "definition", t if t is not None else expr.BOOL)
        return None

    def symbol_of(self, definition: Definition) -> Type | None:
        name = definition.name
        if name in self._types:
            return self._types[name]
        if name in self._checking:
            cycle = " -> ".join(self._checking[self._checking.index(name):] + [name])
            raise ExprError(f"definitions refer to each other in a cycle: {cycle}")
        self._checking.append(name)
        try:
            self._types[name] = expr.check(definition.node, self)
        except ExprError as err:
            self._types[name] = None
            if self._checking[0] == name or "cycle" not in err.message:
                self.loader.expr_problem(err, definition.text, definition.where)
            else:
                raise
        finally:
            self._checking.pop()
        return self._types[name]

    def check(self, node: expr.Node, text: str, where: Location) -> None:
        try:
            t = expr.check(node, self)
        except ExprError as err:
            self.loader.expr_problem(err, text, where)
            return
        if t.kind != "bool":
            self.loader.problem(where, f"a rule condition must be yes/no, but this is {t}")
