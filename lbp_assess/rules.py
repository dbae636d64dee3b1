"""Rule sets: loading and checking rule files, and evaluating a case into an `Assessment`.

A rule set is a directory of YAML files:

* `ruleset.yaml` - name, version, urgency tiers (highest first), the classes,
  conditions, alerts and findings rules may raise (with codes), the
  classification order, and the red-flag screening facts.
* any other `*.yaml` (except `interview.yaml`) - a `layer`, named `definitions`,
  `rules` and consistency `checks`.

Every rule names what it raises and cites its source. Rules may refer to facts
(case fields), definitions, and to what other rules raised (`condition.x`,
`alert.x`, `finding.x`, `condition.any`, `condition_tier.<tier>`); the loader
orders evaluation by those dependencies and refuses cycles.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import heapq
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Literal, NamedTuple, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import expr
from . import outcomes as outcomes_file
from . import questionnaire as interview_file
from .case import EMPTY_SECTIONS, FACTS, Case, facts_of, problems_from
from .errors import InputError, Location, Problem, did_you_mean
from .expr import ExprError, Outcome, Symbol, Type
from .yamlio import Locator, load_yaml, read_regular_file, read_text

MANIFEST = "ruleset.yaml"
NOT_RULE_FILES = {MANIFEST, "interview.yaml", "outcomes.yaml"}
_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$"
_SNAKE = re.compile(r"[a-z][a-z0-9_]*")  # names of definitions, tiers, layers, classes, ...: matched whole


# --------------------------------------------------------------------------- file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Code(_Strict):
    system: Literal["ICD-10", "SNOMED CT", "LOINC"]
    code: str
    display: str
    verified: bool


class Tier(_Strict):
    label: str
    time_frame: str
    action: str
    show_at_once: bool = False  # interrupt the interview with a live alert panel


class Advice(_Strict):
    """One piece of note wording, shown when `when` is known to hold for the case."""

    text: str
    when: Union[str, bool] = True


#: Note wording: one text for every case, or pieces chosen by conditions in the rule language.
Wording = Union[str, list[Advice]]


class Named(_Strict):
    label: str
    short: Optional[str] = None  # a short name (classes: "Radicular"), for explain and tables
    description: Optional[str] = None
    codes: list[Code] = []
    advice: Optional[Wording] = None  # management text for the note
    examination: Optional[str] = None  # suggested objective examination for the note


class ClassRule(_Strict):
    class_: str = Field(alias="class")
    when: Union[str, bool]


class Manifest(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str
    title: str
    description: Optional[str] = None
    disclaimer: str
    layers: dict[str, str]
    tiers: dict[str, Tier]
    classes: dict[str, Named]
    conditions: dict[str, Named]
    alerts: dict[str, Named]
    findings: dict[str, Named]
    classification: list[ClassRule] = Field(min_length=1)
    screening: list[str] = Field(min_length=1)
    flags_noted: list[str] = []  # definitions listed in the note as "flags noted" when true
    # Screening questions shown together in the note ("Cauda equina screen: negative (6/6 asked)").
    screens: dict[str, list[str]] = {}
    # Lines the note adds under a screen when their `when:` holds (the bladder line in pregnancy).
    screen_notes: dict[str, Wording] = {}
    safety_net: Wording
    # Facts and definitions an export charts as FHIR Observations (pain and STarT Back scores),
    # with standard codes where they exist; also labels and codes for the red-flag screen's answers,
    # which are always charted (screening and screens).
    observations: dict[str, Named] = {}


class RuleSpec(_Strict):
    id: str = Field(pattern=_ID)
    when: Union[str, bool]
    condition: Optional[str] = None
    alert: Optional[str] = None
    finding: Optional[str] = None
    tier: Optional[str] = None
    reason: str
    source: str
    status: Literal["draft", "reviewed", "retired"]
    reviewed: Optional[dt.date] = Field(None, strict=False)
    action: Optional[str] = None


class DefinitionSpec(_Strict):
    when: Union[str, bool]
    means: Optional[str] = None


class CheckSpec(_Strict):
    id: str = Field(pattern=_ID)
    when: str
    message: str


class RuleFile(_Strict):
    """The outline of a rule file; each rule and check is validated on its own,
    so one bad rule reports itself without hiding the rest of the file."""

    layer: Optional[str] = None
    description: Optional[str] = None
    definitions: dict[str, Union[str, bool, DefinitionSpec]] = {}
    rules: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []


# --------------------------------------------------------------------------- the loaded model


@dataclass(eq=False)
class Rule:
    id: str
    layer: str
    raises: str  # condition | alert | finding
    name: str  # the condition/alert/finding raised
    tier: str | None
    reason: str
    source: str
    status: str
    action: str | None
    node: expr.Node
    text: str
    where: Location  # of the id
    when_where: Location  # of the expression
    reviewed: dt.date | None = None  # date of the last clinical review


@dataclass(eq=False)
class Definition:
    name: str
    node: expr.Node
    text: str
    means: str | None
    where: Location  # of the expression
    key_where: Location  # of the name


@dataclass(eq=False)
class Check:
    id: str
    node: expr.Node
    message: str
    where: Location
    when_where: Location


@dataclass(eq=False)
class RuleSet:
    """A checked, compiled rule set. `assess(case)` is pure and cheap to call."""

    manifest: Manifest
    directory: Path
    definitions: dict[str, Definition]
    rules: list[Rule]  # in evaluation order
    checks: list[Check]
    classification: list[tuple[str, expr.Node]]
    content_hash: str
    questionnaire: "interview_file.Questionnaire | None" = None
    wording_when: dict[str, expr.Node] = field(default_factory=dict)  # note wording conditions, by text
    outcome_measures: list[Any] = field(default_factory=list)  # outcomes.Measure: MCIDs for follow-ups
    # The generated functions (compile_ruleset): `evaluate(flat facts) -> Summary`, and
    # `row_from_data(case struct, source) -> result row` for batch scoring.
    evaluate: Any = field(repr=False, default=None)
    row_from_data: Any = field(repr=False, default=None)

    @property
    def name(self) -> str:
        return self.manifest.name

    @cached_property
    def version(self) -> str:
        """Name, version and content hash, as every result reports it."""
        return f"{self.manifest.name} {self.manifest.version} sha256:{self.content_hash}"

    @cached_property
    def tier_rank(self) -> dict[str, int]:
        """0 = highest tier."""
        return {name: i for i, name in enumerate(self.manifest.tiers)}

    @cached_property
    def class_findings(self) -> list[str]:
        """The findings the classification order reads (stenosis_likely, radicular_likely, ...)."""
        names = [ref.name.partition(".")[2] for _, node in self.classification for ref in expr.references(node)
                 if ref.name.startswith("finding.")]
        return list(dict.fromkeys(names))

    @cached_property
    def thresholds(self) -> dict[str, set[Any]]:
        """Every constant each fact is compared with in the rules (age: {48, 50, 60, 70}, ...)."""
        found: dict[str, set[Any]] = {}

        def walk(node: expr.Node) -> None:
            if isinstance(node, expr.Compare):
                for a, b in ((node.left, node.right), (node.right, node.left)):
                    if isinstance(a, expr.Ref) and a.name in FACTS and isinstance(b, expr.Const):
                        found.setdefault(a.name, set()).add(b.value)
            for child in expr._children(node):
                walk(child)

        for node in [r.node for r in self.rules] + [d.node for d in self.definitions.values()]:
            walk(node)
        return found

    def assess(self, case: Case) -> "Assessment":
        a = self.assess_facts(facts_of(case), case.id)
        if case.reading_warnings:  # e.g. a FHIR form saved in progress: said wherever the result is shown
            a.warnings = [*a.warnings, *case.reading_warnings]
        return a

    def assess_facts(self, facts: dict[str, Any], case_id: str = "") -> "Assessment":
        summary = self.evaluate(facts)
        return Assessment(case_id, *summary[:-1], rules_version=self.version, ruleset=self, facts=facts,
                          not_excluded=summary.not_excluded)


class Summary(NamedTuple):
    """What the generated rule function returns for one case."""

    classification: str
    urgency: str
    conditions: dict[str, str]  # name -> highest tier, in the order rules first raised them
    alerts: dict[str, str | None]
    findings: list[str]
    unscreened: list[str]
    warnings: list[str]
    rules_fired: list[str]  # ids, in evaluation order
    not_excluded: list[str]  # ids of rules that unknown facts left undecided


_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


def describe_value(value: Any) -> str:
    if value is None:
        return "unknown"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, (set, frozenset, list, tuple)):
        return ", ".join(sorted(map(str, value))) or "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class RuleTrace:
    """How one rule came out for one case, with the facts that decided it."""

    rule: Rule
    state: str  # fired | not_fired | not_excluded
    facts: dict[str, Any]  # name -> value (for not_excluded: the unknown facts)


@dataclass(eq=False)
class Assessment:
    """The result of evaluating one case."""

    case_id: str
    classification: str
    urgency: str
    conditions: dict[str, str]  # name -> tier, in evaluation order
    alerts: dict[str, str | None]
    findings: list[str]
    unscreened: list[str]
    warnings: list[str]
    rules_fired: list[str]
    rules_version: str
    ruleset: RuleSet = field(repr=False)
    facts: dict[str, Any] = field(repr=False)
    not_excluded: list[str] = field(repr=False)  # ids of rules that unknown facts kept from being decided
    _trace: list["RuleTrace"] | None = field(default=None, init=False, repr=False)

    def to_row(self, file: str = "") -> dict[str, Any]:
        """The machine-readable result (field names as in docs/case-format.md)."""
        return {
            "id": self.case_id, "file": file, "classification": self.classification,
            "urgency": self.urgency, "conditions": list(self.conditions), "alerts": list(self.alerts),
            "unscreened": self.unscreened, "warnings": self.warnings, "rules_fired": self.rules_fired,
            "rules_version": self.rules_version, "error": None,
            "condition_tiers": dict(self.conditions), "findings": self.findings,
            "not_excluded": self.not_excluded,
        }

    def urgency_set_by(self) -> list[tuple[str, str, str]]:
        """What set the urgency: (kind, name, tier) of each condition and alert raised at its tier."""
        found = [("condition", n, t) for n, t in self.conditions.items() if t == self.urgency]
        return found + [("alert", n, t) for n, t in self.alerts.items() if t == self.urgency]

    def value(self, name: str) -> Any:
        """The value of any fact, definition or outcome name for this case."""
        return self._explain_name(name, {}).value

    def explain(self, node: expr.Node) -> Outcome:
        """Any checked expression evaluated for this case, with the facts that decided it."""
        memo: dict[str, Outcome] = {}
        return expr.explain(node, lambda n, k: self._explain_name(n, memo, k))

    def wording(self, wording: Wording | None) -> list[str]:
        """The pieces of note wording whose `when:` is known to hold, each on one line, with each
        `{fact}` placeholder filled in with the case's answer."""
        if wording is None:
            return []
        items = [Advice(text=wording)] if isinstance(wording, str) else wording
        fill = lambda m: describe_value(self.facts[m.group(1)])  # noqa: E731
        return [_PLACEHOLDER.sub(fill, " ".join(item.text.split())) for item in items
                if item.when is True or (item.when is not False
                                         and self.explain(self.ruleset.wording_when[str(item.when)]).value is True)]

    def trace(self) -> list[RuleTrace]:
        """Every rule in evaluation order: fired, not fired, or not excluded, with its facts."""
        if self._trace is None:
            self._trace = self._make_trace()
        return self._trace

    def _make_trace(self) -> list[RuleTrace]:
        memo: dict[str, Outcome] = {}
        out = []
        fired, undecided = set(self.rules_fired), set(self.not_excluded)
        for rule in self.ruleset.rules:
            outcome = expr.explain(rule.node, lambda n, k: self._explain_name(n, memo, k))
            state = "fired" if rule.id in fired else "not_excluded" if rule.id in undecided else "not_fired"
            out.append(RuleTrace(rule, state, {n: self._plain(n, memo) for n in sorted(outcome.support)}))
        return out

    def _plain(self, name: str, memo: dict[str, Outcome]) -> Any:
        return self._explain_name(name, memo).value

    def _explain_name(self, name: str, memo: dict[str, Outcome], kind: str | None = None) -> Outcome:
        if name in memo:
            return memo[name]
        rs = self.ruleset
        if name in rs.definitions:
            # Support of a definition is expanded into the facts that decided it.
            outcome = expr.explain(rs.definitions[name].node, lambda n, k: self._explain_name(n, memo, k))
        elif name in self.facts:
            outcome = Outcome(self.facts[name], frozenset([name]))
        else:
            outcome = Outcome(self._outcome_value(name), frozenset([name]))
        memo[name] = outcome
        return outcome

    def _outcome_value(self, name: str) -> Any:
        space, _, item = name.partition(".")
        if name == "screening_incomplete":
            return bool(self.unscreened)
        if space == "condition":
            return bool(self.conditions) if item == "any" else item in self.conditions
        if space == "condition_tier":  # as the compiled rules read it: a rule raised a condition at this tier
            fired = set(self.rules_fired)
            return any(r.raises == "condition" and r.tier == item and r.id in fired for r in self.ruleset.rules)
        if space == "alert":
            return item in self.alerts
        if space == "finding":
            return item in self.findings
        raise KeyError(name)


# --------------------------------------------------------------------------- loading


def default_rules_dir() -> Path:
    """The shipped rules: inside the installed package, or `rules/` in a source checkout."""
    packaged = Path(str(resources.files("lbp_assess"))) / "rules"
    if (packaged / MANIFEST).is_file():
        return packaged
    return Path(__file__).resolve().parent.parent / "rules"


def load_rules(directory: Path | str | None = None, *, interview: bool = True) -> RuleSet:
    """Load, check and compile a rule set; raise InputError listing every problem.

    `interview=False` leaves out the questionnaire (interview.yaml): scoring saved
    cases does not use it, and starts quicker without it.
    """
    ruleset, problems = _load(Path(directory) if directory is not None else default_rules_dir(), interview)
    errors = [p for p in problems if p.severity == "error"]
    if errors or ruleset is None:
        raise InputError(f"{len(errors)} problem(s) in rules; first: {errors[0]}", errors)
    return ruleset


def check_rules(directory: Path | str | None = None) -> list[Problem]:
    """Every problem in a rule set, sorted by file and line (empty when it is clean)."""
    return _load(Path(directory) if directory is not None else default_rules_dir())[1]


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
            data = load_yaml(text, name)
        except InputError as err:
            self.problems.extend(err.problems)
            return None
        self.texts[name] = text
        if data is None:
            data = {}
        try:
            return model.model_validate(data), name
        except ValidationError as exc:
            self.problems.extend(problems_from(exc, name, text, model=model))
            return None

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
        return Location(name, *self.locators[name].find(path, key=key))

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


def _load(directory: Path, interview: bool = True) -> tuple[RuleSet | None, list[Problem]]:
    try:
        return _load_checked(directory, interview)
    except RecursionError:  # definitions on definitions, thousands deep
        return None, [Problem(Location(str(directory)), "definitions refer to definitions too deeply (a chain of "
                                                        "hundreds); shorten the chain")]


def _load_checked(directory: Path, interview: bool = True) -> tuple[RuleSet | None, list[Problem]]:
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
            if not _SNAKE.fullmatch(def_name):
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
            rules.append(Rule(rule.id, layer or layer_names[0], raised[0], raised[1], rule.tier, rule.reason,
                              rule.source, rule.status, rule.action, node, str(rule.when), where, when_where,
                              rule.reviewed))
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
                for placeholder in _PLACEHOLDER.findall(chk.message):
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

    scope = _Scope(manifest, definitions, loader)
    for rule in rules:
        scope.check(rule.node, rule.text, rule.when_where)
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

    questionnaire = None
    if interview and (directory / interview_file.FILE).is_file():
        questionnaire = interview_file.load(loader, directory / interview_file.FILE, manifest.screening)
    measures = None
    if interview and (directory / outcomes_file.FILE).is_file():
        measures = outcomes_file.load(loader, directory / outcomes_file.FILE)

    content_hash = _hash(directory, [manifest_path, *rule_files])
    if any(p.severity == "error" for p in loader.problems):
        return None, sorted(loader.problems, key=_order)
    ordered = _order_rules(loader, manifest, rules, definitions)
    if ordered is None:
        return None, sorted(loader.problems, key=_order)
    ruleset = RuleSet(manifest, directory, definitions, ordered, checks,
                      [(c, n) for c, n, _ in classification], content_hash, questionnaire, wording_when,
                      measures or [])
    try:
        ruleset.evaluate, ruleset.row_from_data = compile_ruleset(ruleset)
    except (SyntaxError, RecursionError, MemoryError) as exc:  # beyond what Python can compile
        loader.problem(Location(manifest_name), f"the rule set is too large to compile ({type(exc).__name__}); "
                                                "split long expressions into definitions")
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
            if not _SNAKE.fullmatch(item):
                loader.problem(loader.at(name, (section, item), key=True),
                               f"{_shown(item)} must be lower_snake_case")


def _shown(name: str) -> str:
    """A name from a rule file as a message shows it: quoted, controls escaped, shortened."""
    from .display import shorten

    return shorten(repr(name), 60)


def _check_wording(loader: _Loader, manifest: Manifest, name: str, scope: "_Scope") -> dict[str, expr.Node]:
    """Check the `when:` of every piece of note wording and the note's screen groups."""
    places: list[tuple[tuple[Any, ...], Wording | None]] = [(("safety_net",), manifest.safety_net)]
    for section in ("classes", "conditions", "alerts", "findings"):
        for item, named in getattr(manifest, section).items():
            places.append(((section, item, "advice"), named.advice))
    for title, wording in manifest.screen_notes.items():
        places.append((("screen_notes", title), wording))
        if title not in manifest.screens:
            loader.problem(loader.at(name, ("screen_notes", title), key=True),
                           f"`{title}` is not a screen{did_you_mean(title, manifest.screens)}")
    nodes: dict[str, expr.Node] = {}
    for path, wording in places:
        pieces = [Advice(text=wording)] if isinstance(wording, str) else wording or []
        for index, advice in enumerate(pieces):
            for placeholder in _PLACEHOLDER.findall(advice.text):
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


# --------------------------------------------------------------------------- ordering


def _order_rules(loader: _Loader, manifest: Manifest, rules: list[Rule],
                 definitions: dict[str, Definition]) -> list[Rule] | None:
    """Rules in an order where everything a rule refers to is decided before it.

    Among rules that are free to go, the layer order of ruleset.yaml and then
    file order decide, so the order reads like the policy.
    """
    raisers: dict[str, set[int]] = {}
    for i, rule in enumerate(rules):
        keys = [f"{rule.raises}.{rule.name}"]
        if rule.raises == "condition":
            keys += ["condition.any"] + [f"condition_tier.{t}" for t in manifest.tiers]
        for key in keys:
            raisers.setdefault(key, set()).add(i)

    def_refs: dict[str, set[str]] = {}

    def outcome_refs(node: expr.Node, seen: set[str]) -> set[str]:
        out: set[str] = set()
        for ref in expr.references(node):
            if ref.kind == "outcome":
                out.add(ref.name)
            elif ref.kind == "definition" and ref.name not in seen:
                seen.add(ref.name)
                if ref.name not in def_refs:
                    def_refs[ref.name] = outcome_refs(definitions[ref.name].node, seen)
                out |= def_refs[ref.name]
        return out

    deps = [set().union(*(raisers.get(o, set()) for o in outcome_refs(r.node, set()))) for r in rules]
    layer_rank = {name: i for i, name in enumerate(manifest.layers)}
    waiting = {i: len(d) for i, d in enumerate(deps)}
    dependants: dict[int, list[int]] = {}
    for i, d in enumerate(deps):
        for j in d:
            dependants.setdefault(j, []).append(i)
    ready = [(layer_rank.get(rules[i].layer, 0), i) for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for j in dependants.get(i, []):
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, (layer_rank.get(rules[j].layer, 0), j))
    if len(order) < len(rules):
        stuck = [rules[i] for i in range(len(rules)) if i not in set(order)]
        for rule in stuck:
            loader.problem(rule.where, f"rule `{rule.id}` depends on its own outcome through other rules "
                                       "(a cycle); break it with a definition")
        return None
    return [rules[i] for i in order]


# --------------------------------------------------------------------------- compilation


#: Definitions of this many nodes or more (more than one comparison) are computed where first
#: read (see compile_ruleset); smaller ones cost less to compute than to check for.
ON_DEMAND_SIZE = 4
#: How deep definitions written out where read may be nested in one another (a longer
#: chain is computed into locals: generated code must stay within Python's nesting limits).
MAX_WRITTEN_NESTING = 3


def _definition_order(definitions: dict[str, Definition]) -> list[str]:
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
            stack.extend((r.name, False) for r in expr.references(definitions[name].node)
                         if r.kind == "definition" and r.name not in done)
    return order


def compile_ruleset(rs: RuleSet) -> tuple[Any, Any]:
    """Generate the rule set as two Python functions with one body.

    `evaluate(facts)` reads a flat fact dict (`{"pain.leg_side": ...}`) and returns a
    `Summary`; `row(case, source)` reads a case read the fast way (case.CASE_STRUCT)
    and returns its result row (the fields of docs/case-format.md). The body evaluates
    every rule in dependency order and, as each rule fires, records what it raises:
    the highest tier of each condition and alert, findings, the urgency, the rule ids.
    Definitions are computed where first needed; outcome flags are set as rules fire.
    """
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
    # once into their local before the first statement that reads them. No definition's
    # code is written out twice where read (that grows exponentially with definitions built
    # on definitions), and those written out nest at most MAX_WRITTEN_NESTING deep.
    nodes = [r.node for r in rs.rules] + [d.node for d in rs.definitions.values()]
    nodes += [c.node for c in rs.checks] + [n for _, n in rs.classification]
    reads = collections.Counter(ref.name for node in nodes for ref in expr.references(node)
                                if ref.kind == "definition")
    lazy: set[str] = set()
    nesting: dict[str, int] = {}  # how deep definitions written out where read are nested in this one
    for name in _definition_order(rs.definitions):
        node = rs.definitions[name].node
        if expr.size(node) < ON_DEMAND_SIZE:
            continue
        inner = [r.name for r in expr.references(node) if r.name in lazy]
        if reads[name] > 1 and not inner:  # written out where first read, a helper function elsewhere
            lazy.add(name)
            nesting[name] = 1
        elif reads[name] == 1 and max((nesting.get(n, 0) for n in inner), default=0) < MAX_WRITTEN_NESTING:
            lazy.add(name)
            nesting[name] = 1 + max((nesting.get(n, 0) for n in inner), default=0)
    on_demand = {name: rs.definitions[name].node for name in nesting}
    helpers: dict[str, str] = {}  # lazy definitions read in several places: name -> call source
    helper_source: list[str] = []
    gen = expr.CodeGen(local, nullable, on_demand.get, helpers.get)
    tiers = list(rs.manifest.tiers)
    rank = rs.tier_rank
    body: list[str] = ["    fired = []", "    undecided = []", "    warnings = []", "    unscreened = []",
                       "    conditions = {}", "    alerts = {}", "    findings = []",
                       f"    best = {len(tiers) - 1}", "    fire = fired.append", "    undecide = undecided.append"]
    emitted: set[str] = set()

    def emit_definition(name: str) -> None:
        if name in emitted:
            return
        for ref in expr.references(rs.definitions[name].node):
            if ref.kind == "definition":
                emit_definition(ref.name)
        emitted.add(name)
        node = rs.definitions[name].node
        if name in on_demand and reads[name] == 1:  # computed where read; what it reads is computed before
            return
        src, null = gen.statement(node)
        def_nullable[name] = null
        if name in lazy:  # a helper function of the locals it reads, called where first read
            params = ", ".join(dict.fromkeys(local(ref.name) for ref in expr.references(node)))
            helper_source.append(f"def _f{local(name)}({params}):\n    return {src}\n")
            helpers[name] = f"_f{local(name)}({params})"
            return
        body.append(f"    {local(name)} = {src}")

    def emit_needed(node: expr.Node) -> None:
        for ref in expr.references(node):
            if ref.kind == "definition":
                emit_definition(ref.name)

    def emit_raised(rule: Rule) -> list[str]:
        """What a fired rule records: its id, what it raises at its tier, the urgency."""
        lines = [f"fire({rule.id!r})"]
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
    read = {ref.name for node in nodes for ref in expr.references(node) if ref.kind == "outcome"}
    for flag in sorted(read - {"screening_incomplete"}):
        body.append(f"    {local(flag)} = False")
    if lazy:
        body.append("    " + " = ".join(local(name) for name in sorted(lazy)) + " = ...")
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
        pieces = _PLACEHOLDER.split(f"{chk.id}: {chk.message}")  # text, fact, text, fact, ...
        parts = [f"_describe({local(p)})" if i % 2 else repr(p) for i, p in enumerate(pieces) if p or i % 2]
        body.append(f"    if {test}:")
        body.append(f"        warnings.append({' + '.join(parts)})")
    for i, (cls, node) in enumerate(rs.classification):  # the first that holds; the last is the default
        if i == len(rs.classification) - 1:
            body.append(f"    else:\n        classification = {cls!r}" if i else f"    classification = {cls!r}")
            break
        emit_needed(node)
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
               "warnings, fired, undecided)")
    row = ("    return {'id': D.id, 'file': source, 'classification': classification, 'urgency': _TIERS[best], "
           "'conditions': list(conditions), 'alerts': list(alerts), 'unscreened': unscreened, "
           "'warnings': warnings, 'rules_fired': fired, 'rules_version': _VERSION, 'error': None, "
           "'condition_tiers': conditions, 'findings': findings, 'not_excluded': undecided}")
    source = ("".join(helper_source) + "\n" + "def evaluate(F):\n" + "\n".join(flat + body) + "\n" + summary + "\n\n"
              "def row(D, source):\n" + "\n".join(nested + body) + "\n" + row + "\n")
    namespace: dict[str, Any] = {"_count_compare": expr._count_compare, "_divide": expr.divide,
                                 "_describe": describe_value,
                                 "_RANK": rank, "_TIERS": tuple(tiers), "_VERSION": rs.version,
                                 "Summary": Summary, **empty, **gen.constants}
    code = compile(source, f"<rules {rs.manifest.name}>", "exec")
    exec(code, namespace)  # noqa: S102 - source is generated from checked trees only
    for fn in ("evaluate", "row"):
        namespace[fn].source = source
    return namespace["evaluate"], namespace["row"]
