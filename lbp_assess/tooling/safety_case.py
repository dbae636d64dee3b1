"""The clinical safety case (DCB0129) generated from data.

The hazard log is `safety/hazard-log.yaml`; the rest of the case that is data (document control,
roles, outstanding issues, limitations, the safety argument) is `safety/safety-case.yaml`. From them,
the rules and the clinical validation record (docs/safety/validation.json, see `validation.py`) this
module writes:

* docs/safety/hazard-log.md, whole;
* the generated blocks of docs/clinical-safety.md (the Clinical Safety Case Report) and of the other
  documents in docs/safety/ (the plan, deployment, medical-device status), between
  `<!-- generated: NAME -->` and `<!-- end generated -->` markers;
* docs/safety/clinical-validation.md, whole.

`python -m lbp_assess.docs` regenerates them with the other generated documents, and its staleness
check covers them. Every piece of evidence is a pytest node id; generation stops when one names a
test that is not there, and tests/tooling/test_safety_case.py checks that every one is collected and passes.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import posixpath
import re
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..base.errors import LbpError
from ..base.text import counted
from ..base.yamlio import load_yaml

HAZARD_LOG = "safety/hazard-log.yaml"
SAFETY_CASE = "safety/safety-case.yaml"
VALIDATION_RECORD = "docs/safety/validation.json"
HAZARD_LOG_DOC = "docs/safety/hazard-log.md"
VALIDATION_DOC = "docs/safety/clinical-validation.md"
REPORT_DOC = "docs/clinical-safety.md"
PLAN_DOC = "docs/safety/risk-management-plan.md"
EVIDENCE_CHECK = "tests/tooling/test_safety_case.py::test_every_cited_test_passed"
#: Documents written by hand around generated blocks, and the blocks each must hold.
TEMPLATES = {
    REPORT_DOC: ("document_control", "hazard_summary", "draft_rules", "validation", "argument", "limitations",
                 "outstanding", "recommendation"),
    PLAN_DOC: ("document_control", "roles", "matrix"),
    "docs/safety/deployment.md": ("document_control", "actions"),
    "docs/safety/medical-device.md": ("document_control",),
}

SEVERITY = {"minor": 1, "significant": 2, "considerable": 3, "major": 4, "catastrophic": 5}
LIKELIHOOD = {"very_low": 1, "low": 2, "medium": 3, "high": 4, "very_high": 5}
#: Risk rating by likelihood (rows, very low first) and severity (columns, minor first).
MATRIX = {1: (1, 1, 2, 2, 3), 2: (1, 2, 2, 3, 4), 3: (2, 2, 3, 3, 4), 4: (2, 3, 3, 4, 5), 5: (3, 4, 4, 5, 5)}
ACCEPTABILITY = {
    1: "acceptable",
    2: "acceptable where further reduction is impractical",
    3: "undesirable: acceptable only with the Clinical Safety Officer's written justification",
    4: "mandatory reduction: not acceptable for release",
    5: "unacceptable",
}
SEVERITY_MEANS = {
    "minor": "minor injury, upset or inconvenience, recovered from in the short term",
    "significant": "minor injury or harm from which recovery is not expected in the short term",
    "considerable": "severe injury or incapacity from which recovery is expected, for one patient",
    "major": "death or permanent life-changing incapacity for one patient; severe injury for several",
    "catastrophic": "death or permanent life-changing incapacity for several patients",
}
LIKELIHOOD_MEANS = {
    "very_low": "negligible, or nearly so",
    "low": "could occur, but in the great majority of cases will not",
    "medium": "possible",
    "high": "will occur in most cases",
    "very_high": "almost certain",
}

Severity = Literal["minor", "significant", "considerable", "major", "catastrophic"]
Likelihood = Literal["very_low", "low", "medium", "high", "very_high"]
_NODE = r"tests/[\w/]+\.py::[\w:]+(\[[^\]]+\])?"


class SafetyCaseError(LbpError):
    """The safety-case data cannot be used (a missing field, a test that is not there)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Rating(_Strict):
    severity: Severity
    severity_because: str = Field(min_length=20)
    likelihood: Likelihood
    likelihood_because: str = Field(min_length=20)

    @property
    def risk(self) -> int:
        return MATRIX[LIKELIHOOD[self.likelihood]][SEVERITY[self.severity] - 1]


class Residual(Rating):
    severity_change: Optional[str] = Field(None, min_length=20)  # why the harm is less (or more) severe


class Control(_Strict):
    control: str = Field(min_length=10)
    kind: Literal["design", "detection", "information"]
    evidence: list[str] = []
    untested: Optional[str] = Field(None, min_length=10)  # why no test can show it, and what shows it instead


class Action(_Strict):
    action: str = Field(min_length=10)
    owner: str
    status: Literal["planned", "in progress", "done"]
    ref: str  # an issue (#20) or an outstanding-issue id (OI-01)
    evidence: list[str] = []


class Hazard(_Strict):
    id: str = Field(pattern=r"^H\d\d$")
    title: str = Field(min_length=5)
    category: str
    cause: str = Field(min_length=20)
    effect: str = Field(min_length=20)
    initial: Rating
    controls: list[Control] = Field(min_length=1)
    additional: list[Action] = []
    residual: Residual
    owner: str
    status: Literal["open", "closed", "transferred"]
    raised: dt.date
    changed_by: str = Field(min_length=2)

    @model_validator(mode="after")
    def _consistent(self) -> "Hazard":
        if self.residual.severity != self.initial.severity and not self.residual.severity_change:
            raise ValueError(f"residual severity ({self.residual.severity}) differs from the initial "
                             f"({self.initial.severity}): give residual.severity_change, the reason")
        if self.residual.severity == self.initial.severity and self.residual.severity_change:
            raise ValueError("residual.severity_change is given but the severity does not change")
        if self.residual.risk > self.initial.risk:
            raise ValueError("the residual risk is higher than the initial risk")
        for control in self.controls:
            if not control.evidence and not control.untested:
                raise ValueError(f"control {control.control[:40]!r}... has no evidence: name the tests, or say "
                                 "under `untested` why none can show it")
        if self.status == "closed" and any(a.status != "done" for a in self.additional):
            raise ValueError("a closed hazard has additional controls not done")
        return self


class HazardLog(_Strict):
    hazards: list[Hazard] = Field(min_length=1)


class DocumentChange(_Strict):
    """One entry of the safety case's change history (document control)."""

    version: str
    date: dt.date
    change: str


class Role(_Strict):
    id: str
    role: str
    filled_by: str
    responsibilities: str


class Issue(_Strict):
    id: str = Field(pattern=r"^OI-\d\d$")
    issue: str
    owner: str
    hazards: list[str] = []
    ref: str = ""
    blocks_release: bool = False


class Limitation(_Strict):
    limitation: str
    hazards: list[str] = []


class Argument(_Strict):
    argument: str
    evidence: list[str] = Field(min_length=1)


class Claim(_Strict):
    id: str = Field(pattern=r"^C\d$")
    claim: str
    arguments: list[Argument] = Field(min_length=1)


class Document(_Strict):
    title: str
    version: str
    status: str
    changes: list[DocumentChange] = Field(min_length=1)


class SafetyCase(_Strict):
    document: Document
    roles: list[Role]
    categories: list[str]
    issues: list[Issue]
    limitations: list[Limitation]
    claims: list[Claim]


# --------------------------------------------------------------------------- loading


def _load(path: Path, model: type[BaseModel]) -> Any:
    if not path.is_file():
        raise SafetyCaseError(f"{path}: not found")
    data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SafetyCaseError(f"{path}: {where}: {first['msg']}") from None


class Sources:
    """Everything the safety documents are generated from, cross-checked."""

    def __init__(self, root: Path):
        self.root = root
        self.log: HazardLog = _load(root / HAZARD_LOG, HazardLog)
        self.case: SafetyCase = _load(root / SAFETY_CASE, SafetyCase)
        self.hazards = {h.id: h for h in self.log.hazards}
        self.roles = {r.id: r for r in self.case.roles}
        self.issues = {i.id: i for i in self.case.issues}
        self._tests: dict[Path, dict[str, int]] = {}
        self._check()

    def _check(self) -> None:
        ids = [h.id for h in self.log.hazards]
        if len(ids) != len(set(ids)):
            raise SafetyCaseError(f"{HAZARD_LOG}: a hazard id is used twice")
        for h in self.log.hazards:
            where = f"{HAZARD_LOG}: {h.id}"
            if h.owner not in self.roles:
                raise SafetyCaseError(f"{where}: owner {h.owner!r} is not a role of {SAFETY_CASE}")
            if h.category not in self.case.categories:
                raise SafetyCaseError(f"{where}: category {h.category!r} is not one of {SAFETY_CASE}'s categories")
            for action in h.additional:
                if action.owner not in self.roles:
                    raise SafetyCaseError(f"{where}: action owner {action.owner!r} is not a role")
                if action.ref.startswith("OI-") and action.ref not in self.issues:
                    raise SafetyCaseError(f"{where}: {action.ref} is not an outstanding issue of {SAFETY_CASE}")
            for control in h.controls:
                if control.untested:
                    for ref in re.findall(r"OI-\d\d", control.untested):
                        if ref not in self.issues:
                            raise SafetyCaseError(f"{where}: {ref} is not an outstanding issue of {SAFETY_CASE}")
            for node in self.evidence_of(h):
                self.locate(node, where)
        for issue in self.case.issues:
            if issue.owner not in self.roles:
                raise SafetyCaseError(f"{SAFETY_CASE}: {issue.id}: owner {issue.owner!r} is not a role")
            for ref in issue.hazards:
                if ref not in self.hazards:
                    raise SafetyCaseError(f"{SAFETY_CASE}: {issue.id}: no hazard {ref}")
        for limitation in self.case.limitations:
            for ref in limitation.hazards:
                if ref not in self.hazards:
                    raise SafetyCaseError(f"{SAFETY_CASE}: limitation names no hazard {ref}")
        for claim in self.case.claims:
            for argument in claim.arguments:
                for ref in argument.evidence:
                    self._check_ref(ref, f"{SAFETY_CASE}: {claim.id}")

    def _check_ref(self, ref: str, where: str) -> None:
        if re.fullmatch(r"H\d\d", ref):
            if ref not in self.hazards:
                raise SafetyCaseError(f"{where}: no hazard {ref}")
        elif ref.startswith("validation:"):
            if ref.split(":", 1)[1] not in VALIDATION_MEASURES:
                raise SafetyCaseError(f"{where}: {ref}: expected one of "
                                      + ", ".join(f"validation:{m}" for m in VALIDATION_MEASURES))
        elif ref.startswith("tests/"):
            self.locate(ref, where)
        elif not (self.root / ref.split("#")[0]).exists():
            raise SafetyCaseError(f"{where}: {ref}: no such hazard, measure, test or file")

    @staticmethod
    def evidence_of(h: Hazard) -> list[str]:
        """Every test a hazard names, in order, once."""
        nodes = [n for c in h.controls for n in c.evidence] + [n for a in h.additional for n in a.evidence]
        return list(dict.fromkeys(nodes))

    def all_evidence(self) -> list[str]:
        nodes = [n for h in self.log.hazards for n in self.evidence_of(h)]
        nodes += [r for c in self.case.claims for a in c.arguments for r in a.evidence if r.startswith("tests/")]
        return list(dict.fromkeys(nodes))

    def locate(self, node: str, where: str = "") -> tuple[str, int]:
        """(file, line) of the test a node id names; SafetyCaseError when there is none."""
        if not re.fullmatch(_NODE, node):
            raise SafetyCaseError(f"{where}: {node!r} is not a test node id (tests/FILE.py::test_name)")
        file, _, rest = node.partition("::")
        path = self.root / file
        names = self._test_names(path)
        name = rest.split("[", 1)[0]
        if name not in names:
            raise SafetyCaseError(f"{where}: evidence {node}: no such test"
                                  + ("" if path.is_file() else f" ({file} does not exist)")
                                  + f"; run `python -m lbp_assess.tooling.safety_case relocate` if it moved")
        return file, names[name]

    def _test_names(self, path: Path) -> dict[str, int]:
        if path not in self._tests:
            found: dict[str, int] = {}
            if path.is_file():
                tree = ast.parse(path.read_text(encoding="utf-8"))
                for node in tree.body:
                    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                        found[node.name] = node.lineno
                    elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                        for item in node.body:
                            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                                found[f"{node.name}::{item.name}"] = item.lineno
            self._tests[path] = found
        return self._tests[path]


VALIDATION_MEASURES = {
    "agreement": "agreement-on-the-agreed-cases",
    "sensitivity": "red-flag-sensitivity",
    "over_triage": "over-triage-on-the-benign-probe-bank",
    "mutation": "mutation-score-of-the-rule-tests",
}


# --------------------------------------------------------------------------- words and links


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _para(text: str) -> str:
    return " ".join(str(text).split())


def _level(value: str) -> str:
    return value.replace("_", " ").capitalize()


def rating_text(r: Rating) -> str:
    return (f"{_level(r.severity)} ({SEVERITY[r.severity]}) \u00d7 {_level(r.likelihood)} "
            f"({LIKELIHOOD[r.likelihood]}) = {r.risk}")


class Links:
    """Relative links from a document to tests, hazards and measures."""

    def __init__(self, sources: Sources, document: str):
        self.sources = sources
        self.here = document

    def to(self, target: str) -> str:
        """The relative link from this document to a file of the repository."""
        if target == self.here:
            return ""
        return posixpath.relpath(target, posixpath.dirname(self.here) or ".")

    def test(self, node: str) -> str:
        file, line = self.sources.locate(node)
        return f"[`{node.split('::', 1)[1]}`]({self.to(file)}#L{line}) (`{file}`)"

    def hazard(self, ref: str) -> str:
        title = self.sources.hazards[ref].title
        return f"[{ref}]({self.to(HAZARD_LOG_DOC)}#{_anchor(ref + ' ' + title)})"

    def ref(self, ref: str) -> str:
        if re.fullmatch(r"H\d\d", ref):
            return self.hazard(ref)
        if ref.startswith("validation:"):
            measure = ref.split(":", 1)[1]
            return f"[{measure.replace('_', '-')}]({self.to(VALIDATION_DOC)}#{VALIDATION_MEASURES[measure]})"
        if ref.startswith("tests/"):
            return self.test(ref)
        return f"[{ref}]({self.to(ref)})"


def _anchor(title: str) -> str:
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


# --------------------------------------------------------------------------- the hazard log


def _rating_lines(r: Rating, initial: Rating | None = None) -> list[str]:
    lines = [f"- Severity **{_level(r.severity)}**: {_para(r.severity_because)}"]
    if isinstance(r, Residual) and r.severity_change:
        lines.append(f"- Severity changed from {_level(initial.severity) if initial else '?'}: "
                     f"{_para(r.severity_change)}")
    lines.append(f"- Likelihood **{_level(r.likelihood)}**: {_para(r.likelihood_because)}")
    lines.append(f"- Risk **{r.risk}** on the matrix: {ACCEPTABILITY[r.risk]}.")
    return lines


def hazard_markdown(sources: Sources, h: Hazard, links: Links) -> list[str]:
    roles = sources.roles
    lines = [
        f"### {h.id} {h.title}", "",
        "| | |", "|---|---|",
        f"| Category | {_cell(h.category)} |",
        f"| Owner | {_cell(roles[h.owner].role)} |",
        f"| Status | {h.status.capitalize()} |",
        f"| Raised | {h.raised.isoformat()} |",
        f"| Last changed by | {_cell(h.changed_by)} |",
        f"| Risk | initial {h.initial.risk}, residual {h.residual.risk} |", "",
        f"**Cause.** {_para(h.cause)}", "",
        f"**Effect.** {_para(h.effect)}", "",
        f"**Initial risk** (without the controls): {rating_text(h.initial)}.", "",
        *_rating_lines(h.initial), "",
        "**Existing controls**", "",
    ]
    for n, control in enumerate(h.controls, 1):
        lines.append(f"{n}. *{control.kind}*: {_para(control.control)}")
        if control.evidence:
            lines.append("   Evidence: " + "; ".join(links.test(e) for e in control.evidence) + ".")
        if control.untested:
            lines.append(f"   Not shown by a test: {_para(control.untested)}")
    lines.append("")
    if h.additional:
        lines += ["**Additional controls**", ""]
        for action in h.additional:
            text = f"- {_para(action.action)} ({action.status}; {roles[action.owner].role}; {action.ref})"
            if action.evidence:
                text += " Evidence: " + "; ".join(links.test(e) for e in action.evidence) + "."
            lines.append(text)
        lines.append("")
    lines += [f"**Residual risk** (with the controls): {rating_text(h.residual)}.", "",
              *_rating_lines(h.residual, h.initial), ""]
    return lines


def hazard_log_markdown(sources: Sources, ruleset: Any) -> str:
    links = Links(sources, HAZARD_LOG_DOC)
    doc = sources.case.document
    evidence = sources.all_evidence()
    lines = [
        "# Hazard log", "",
        f"Part of the [Clinical Safety Case Report](../clinical-safety.md) of lbp-assess, version {doc.version} "
        f"({doc.changes[0].date.isoformat()}), covering lbp-assess {_product_version()} with the rules "
        f"**{ruleset.version}**.", "",
        f"Generated by `python -m lbp_assess.docs` from [`{HAZARD_LOG}`](../../{HAZARD_LOG}): do not edit this "
        "file, edit the data and generate it again. Severity, likelihood and the risk matrix are defined in the "
        f"[Clinical Risk Management Plan]({links.to(PLAN_DOC)}#5-risk-estimation).", "",
        f"Each control names the automated tests that show it works, linked to the line where each test "
        f"starts. The {len(evidence)} tests named here run in every CI run, and "
        f"{links.test(EVIDENCE_CHECK)} fails the run when one of them is "
        "missing, not collected, skipped or failing. `python -m lbp_assess.tooling.safety_case evidence` runs them and "
        "prints the result of each, hazard by hazard.", "",
        "## Summary", "",
        "| id | hazard | category | initial | residual | owner | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in sources.log.hazards:
        lines.append(f"| [{h.id}](#{_anchor(h.id + ' ' + h.title)}) | {_cell(h.title)} | {_cell(h.category)} "
                     f"| {h.initial.risk} | {h.residual.risk} | {_cell(sources.roles[h.owner].role)} "
                     f"| {h.status} |")
    lines += ["", "## Hazards", ""]
    for h in sources.log.hazards:
        lines += hazard_markdown(sources, h, links)
    return "\n".join(lines).rstrip() + "\n"


def _product_version() -> str:
    from .. import __version__

    return __version__


# --------------------------------------------------------------------------- generated blocks


def document_control(sources: Sources, ruleset: Any, links: Links) -> str:
    doc = sources.case.document
    lines = [
        "| | |", "|---|---|",
        f"| Document | {_cell(doc.title)} |",
        f"| Version | {doc.version} |",
        f"| Date | {doc.changes[0].date.isoformat()} |",
        f"| Status | {_cell(doc.status)} |",
        f"| Product covered | lbp-assess {_product_version()} |",
        f"| Rules covered | {ruleset.version} (the default rules in `rules/`) |",
        f"| Clinical Safety Officer | {_cell(sources.roles['cso'].filled_by)} |",
        f"| Hazards | {len(sources.log.hazards)} in the [hazard log]({links.to(HAZARD_LOG_DOC)}) |",
        "", "Change history:", "", "| version | date | change |", "|---|---|---|",
    ]
    lines += [f"| {c.version} | {c.date.isoformat()} | {_cell(c.change)} |" for c in doc.changes]
    return "\n".join(lines) + "\n"


def hazard_summary(sources: Sources, links: Links) -> str:
    by_risk: dict[int, list[str]] = {}
    for h in sources.log.hazards:
        by_risk.setdefault(h.residual.risk, []).append(links.hazard(h.id))
    lines = ["| hazard | category | initial | residual | status |", "|---|---|---|---|---|"]
    for h in sources.log.hazards:
        lines.append(f"| {links.hazard(h.id)} {_cell(h.title)} | {_cell(h.category)} | {rating_text(h.initial)} "
                     f"| {rating_text(h.residual)} | {h.status} |")
    lines += ["", "Residual risk by rating:", ""]
    for risk in sorted(by_risk, reverse=True):
        lines.append(f"- **{risk}** ({ACCEPTABILITY[risk]}): {counted(len(by_risk[risk]), 'hazard')}: "
                     + ", ".join(by_risk[risk]))
    return "\n".join(lines) + "\n"


def draft_rules(ruleset: Any) -> str:
    draft = [r for r in ruleset.rules if r.status != "reviewed"]
    if not draft:
        return "Every rule of the default rule set has the status *reviewed*.\n"
    lines = [f"{len(draft)} of the {len(ruleset.rules)} rules of the default rule set have the status "
             "*draft*: they rest on clinical knowledge or a secondary source without a primary study, and need "
             "the Clinical Safety Officer's review before release (hazard H22):", ""]
    lines += [f"- `{r.id}`: {_cell(r.source)}" for r in draft]
    return "\n".join(lines) + "\n"


def argument(sources: Sources, links: Links) -> str:
    lines = []
    for claim in sources.case.claims:
        lines += [f"**{claim.id}. {_para(claim.claim)}**", ""]
        for n, arg in enumerate(claim.arguments, 1):
            lines.append(f"{n}. {_para(arg.argument)}")
            lines.append("   Evidence: " + "; ".join(links.ref(r) for r in arg.evidence) + ".")
        lines.append("")
    return "\n".join(lines)


def limitations(sources: Sources, links: Links) -> str:
    lines = []
    for n, lim in enumerate(sources.case.limitations, 1):
        refs = f" ({', '.join(links.hazard(r) for r in lim.hazards)})" if lim.hazards else ""
        lines.append(f"{n}. {_para(lim.limitation)}{refs}")
    return "\n".join(lines) + "\n"


def outstanding(sources: Sources, links: Links) -> str:
    roles = sources.roles
    lines = ["| id | issue | owner | hazards | ref | blocks release |", "|---|---|---|---|---|---|"]
    for i in sources.case.issues:
        hazards = ", ".join(links.hazard(h) for h in i.hazards) or "-"
        lines.append(f"| {i.id} | {_cell(i.issue)} | {_cell(roles[i.owner].role)} | {hazards} | {_cell(i.ref)} "
                     f"| {'yes' if i.blocks_release else 'no'} |")
    actions = [(h, a) for h in sources.log.hazards for a in h.additional if a.status != "done"]
    if actions:
        lines += ["", "Additional controls not yet done, from the hazard log:", "",
                  "| hazard | action | owner | status | ref |", "|---|---|---|---|---|"]
        lines += [f"| {links.hazard(h.id)} | {_cell(a.action)} | {_cell(roles[a.owner].role)} | {a.status} "
                  f"| {_cell(a.ref)} |" for h, a in actions]
    return "\n".join(lines) + "\n"


def recommendation(sources: Sources, links: Links, validation: Any) -> str:
    from .validation import problems

    hazards = sources.log.hazards
    unacceptable = [h for h in hazards if h.residual.risk >= 4]
    undesirable = [h for h in hazards if h.residual.risk == 3]
    blocking = [i for i in sources.case.issues if i.blocks_release]
    failing = problems(validation) if validation is not None else ["no validation record"]
    if unacceptable:
        verdict = ("**Not for release.** Residual risk is 4 or more for "
                   + ", ".join(links.hazard(h.id) for h in unacceptable) + ".")
    elif blocking or failing:
        reasons = [f"{i.id} ({_first_sentence(i.issue)})" for i in blocking] + failing
        verdict = ("**Not for release for use in patient care** until these are resolved: " + "; ".join(reasons)
                   + ". Until then it may be used for development, for teaching with the invented vignettes, and "
                   "to score saved or invented histories in an evaluation where no patient's care depends on the "
                   "output.")
    elif undesirable:
        verdict = ("**Release for supervised clinical evaluation only**, once the Clinical Safety Officer has "
                   f"accepted in writing each of the {len(undesirable)} residual risks rated 3 ("
                   + ", ".join(links.hazard(h.id) for h in undesirable) + ") and the deploying organisation has "
                   "its own DCB0160 assessment.")
    else:
        verdict = "**Recommended for release**, subject to the Clinical Safety Officer's sign-off."
    return (f"{verdict}\n\nThis recommendation is computed from the data when the documents are generated: "
            "any residual risk of 4 or more, an outstanding issue marked as blocking release, or validation "
            "evidence that misses its target (a disagreement with an agreed case, a missed red flag, a benign "
            "probe at urgent or emergency, an edit of the rules that the rule tests do not notice) makes it "
            "*not for release*. It is the development team's recommendation; it becomes the manufacturer's only "
            "when the Clinical Safety Officer signs it.\n")


def _first_sentence(text: str) -> str:
    text = _para(text)
    end = text.find(". ")
    return text if end < 0 else text[:end]


def roles_table(sources: Sources) -> str:
    lines = ["| role | filled by | responsibilities |", "|---|---|---|"]
    lines += [f"| {_cell(r.role)} | {_cell(r.filled_by)} | {_cell(r.responsibilities)} |" for r in sources.case.roles]
    return "\n".join(lines) + "\n"


def matrix_table() -> str:
    sev = list(SEVERITY)
    lines = ["| severity | meaning |", "|---|---|"]
    lines += [f"| {SEVERITY[s]} {_level(s)} | {SEVERITY_MEANS[s]} |" for s in reversed(sev)]
    lines += ["", "| likelihood | meaning |", "|---|---|"]
    lines += [f"| {LIKELIHOOD[k]} {_level(k)} | {LIKELIHOOD_MEANS[k]} |" for k in reversed(list(LIKELIHOOD))]
    lines += ["", "| likelihood \\ severity | " + " | ".join(_level(s) for s in sev) + " |",
              "|---|" + "---|" * len(sev)]
    for k in reversed(list(LIKELIHOOD)):
        lines.append(f"| {_level(k)} | " + " | ".join(str(MATRIX[LIKELIHOOD[k]][i]) for i in range(len(sev))) + " |")
    lines += ["", "| risk | acceptability |", "|---|---|"]
    lines += [f"| {r} | {ACCEPTABILITY[r]} |" for r in sorted(ACCEPTABILITY)]
    return "\n".join(lines) + "\n"


def actions_table(ruleset: Any) -> str:
    """Every rule that raises a condition or a tiered alert, with its action: the deploying
    organisation fills in its local pathway for each."""
    m = ruleset.manifest
    lines = ["| rule | raises | tier | time frame | action in the note | local pathway (to fill in) |",
             "|---|---|---|---|---|---|"]
    for rule in ruleset.rules:
        if rule.raises not in ("condition", "alert") or not rule.tier:
            continue
        tier = m.tiers[rule.tier]
        labels = m.conditions if rule.raises == "condition" else m.alerts
        label = getattr(rule, "label", None) or (labels[rule.name].label if rule.name in labels else rule.name)
        time_frame = getattr(rule, "time_frame", None) or tier.time_frame
        action = rule.action or f"{tier.action} (the tier's action)"
        lines.append(f"| `{rule.id}` | {_cell(label)} | {rule.tier} | {_cell(time_frame)} | {_cell(action)} | |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the validation document


def validation_summary(validation: Any, links: Links) -> str:
    """The short validation table of the report."""
    if validation is None:
        return "No validation record: run `python -m lbp_assess.docs`.\n"
    v = validation
    a, s, o, m = v.agreement, v.sensitivity, v.over_triage, v.mutation
    doc = links.to(VALIDATION_DOC)
    rows = [
        ("agreement", f"class {_pct(a.classification, a.cases)}, urgency {_pct(a.urgency, a.cases)}, "
                      f"conditions {_pct(a.conditions, a.cases)} on {a.cases} agreed cases"),
        ("sensitivity", f"{_pct(s.caught, s.cases)} of {s.cases} red-flag cases raise the agreed condition at "
                        f"the agreed tier or higher; emergency kept at emergency "
                        f"{_pct(s.emergency_caught, s.emergency_cases)}"),
        ("over_triage", "no benign probe bank in the repository yet (outstanding issue OI-10)" if o is None else
         f"{_pct(o.serious, o.probes)} of {o.probes} benign probes reach urgent or emergency (target 0); "
         f"{_pct(o.soon, o.probes)} reach soon"
         + (f"; red-flag bank caught {_pct(o.red_flags_caught, o.red_flags)}" if o.red_flags else "")),
        ("mutation", "not yet measured" if m is None else
         f"{m.killed} of {m.generated - m.equivalent} edits of the rules that change a result are noticed by the "
         f"rule tests ({m.score:.1f}%); {m.survivors} survive"),
    ]
    lines = [f"Measured with the rules **{v.rules_version}** and lbp-assess {v.product_version} "
             f"on {validation.measured_on}; regenerated and checked by `python -m lbp_assess.docs`.", "",
             "| measure | result |", "|---|---|"]
    lines += [f"| [{k.replace('_', '-')}]({doc}#{VALIDATION_MEASURES[k]}) | {_cell(t)} |" for k, t in rows]
    return "\n".join(lines) + "\n"


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "0/0"


def validation_markdown(validation: Any) -> str:
    v = validation
    a, s, o, m = v.agreement, v.sensitivity, v.over_triage, v.mutation
    lines = [
        "# Clinical validation evidence", "",
        f"Part of the [Clinical Safety Case Report](../clinical-safety.md). Measured with the rules "
        f"**{v.rules_version}** and lbp-assess {v.product_version} on {v.measured_on}.", "",
        "Generated by `python -m lbp_assess.docs` from the record [`validation.json`](validation.json), which "
        "it recomputes; the staleness check fails when a number here is no longer what the rules give. The "
        "same measures for any rule set: `lbp-assess rules validate [DIR] [--mutate]`.", "",
        "**What these numbers are, and are not.** The agreed cases and the rule tests were written by the "
        "team that wrote the rules, from the same clinical policy. Agreement and sensitivity on them show that "
        "the rules do what the policy says on every case the team agreed; they are not an external clinical "
        "validation, and they say nothing about presentations the policy does not model (see the limitations "
        "in the report). An external validation on real, independently labelled histories is outstanding "
        "(OI-02).", "",
        "## Agreement on the agreed cases", "",
        f"The {a.cases} vignettes (`examples/vignettes/`) and example cases (`examples/cases/`) with agreed "
        "labels (`expected:`), scored with the rules:", "",
        "| | agree |", "|---|---|",
        f"| class | {_pct(a.classification, a.cases)} |",
        f"| urgency | {_pct(a.urgency, a.cases)} |",
        f"| red-flag conditions | {_pct(a.conditions, a.cases)} |", "",
    ]
    if a.disagreements:
        lines += ["Disagreements:", ""] + [f"- {_cell(d)}" for d in a.disagreements] + [""]
    lines += [
        "## Red-flag sensitivity", "",
        f"Every agreed case and every rule test (`rules/tests/`) whose agreed answer raises a red-flag condition "
        f"at urgent or emergency: {s.cases} cases. A case counts as caught when every agreed condition is raised "
        f"at its agreed tier or higher.", "",
        "| condition | cases | caught |", "|---|---|---|",
    ]
    lines += [f"| `{name}` | {n} | {_pct(caught, n)} |" for name, (n, caught) in s.by_condition.items()]
    lines += [f"| **all** | {s.cases} | {_pct(s.caught, s.cases)} |",
              f"| agreed emergency, scored emergency | {s.emergency_cases} "
              f"| {_pct(s.emergency_caught, s.emergency_cases)} |", ""]
    if s.missed:
        lines += ["Missed:", ""] + [f"- {_cell(x)}" for x in s.missed] + [""]
    lines += ["The known false negatives of the policy (presentations it does not model) are not in these cases; "
              "they are the residual risk of the missed-pathology hazards.", "",
              "## Over-triage on the benign probe bank", ""]
    if o is None:
        lines += ["No benign probe bank is in the repository yet; it comes with clinical policy v7 (issue #20). "
                  "Outstanding issue OI-10.", ""]
    else:
        lines += [f"The benign bank of the rule tests (`{_cell(o.source)}`): benign mechanical presentations with one "
                  f"soft feature changed (age, diabetes, smoking, flank pain, feeling unwell, ...), {o.probes} in all, "
                  "scored with the rules as `lbp-assess rules test` reports them.", "",
                  "| reach | probes |", "|---|---|",
                  f"| urgent or emergency (target 0) | {_pct(o.serious, o.probes)} |",
                  f"| soon | {_pct(o.soon, o.probes)} |", ""]
        if o.serious_cases:
            lines += ["Over-triaged:", ""] + [f"- {_cell(c)}" for c in o.serious_cases] + [""]
        if o.red_flags:
            lines += [f"Beside it, the red-flag bank (true red flags written the same way): {o.red_flags} cases, "
                      f"{_pct(o.red_flags_caught, o.red_flags)} reach urgent or emergency.", ""]
            if o.red_flags_missed:
                lines += ["Missed:", ""] + [f"- {_cell(c)}" for c in o.red_flags_missed] + [""]
    lines += ["## Mutation score of the rule tests", ""]
    if m is None:
        lines += ["Not measured.", ""]
    else:
        lines += [
            "`rules test --mutate` makes every small edit a clinical lead could make by mistake (a threshold one "
            "step off, `or` for `and`, an item dropped from a list, a tier one step down, a question dropped from "
            "the red-flag screen) and runs the rule tests on each. An edit that no case can tell apart from the "
            "rules changes nothing and is not counted.", "",
            "| | edits |", "|---|---|",
            f"| made | {m.generated} |",
            f"| change nothing (not counted) | {m.equivalent} |",
            f"| noticed by the rule tests | {m.killed} |",
            f"| survive (change a result, not noticed) | {m.survivors} |",
            f"| **mutation score** | **{m.score:.1f}%** |", "",
            f"Key `{m.key}` (a hash of the rule files, the rule tests and the mutation code): the run is "
            "repeated when it changes.", ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- evidence results


def verdicts(nodes: list[str], results: dict[str, str]) -> dict[str, str]:
    """For each cited node id, "passed" when every test item it names ran and passed (and at least
    one did); otherwise what happened ("not collected", "skipped", "failed", ...)."""
    out = {}
    for node in nodes:
        found = {v for k, v in results.items() if k == node or k.startswith(node + "[")}
        if not found:
            out[node] = "not collected"
        else:
            bad = sorted(found - {"passed"})
            out[node] = ", ".join(bad) if bad else "passed"
    return out


# --------------------------------------------------------------------------- relocating moved tests


def relocate(root: Path) -> list[str]:
    """Rewrite node ids in the hazard log and the safety case whose test moved to another file under
    tests/ (found by its name, when exactly one file has it). Returns what changed."""
    by_name: dict[str, list[str]] = {}
    for path in sorted((root / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                by_name.setdefault(node.name, []).append(path.relative_to(root).as_posix())
    changed = []
    for rel in (HAZARD_LOG, SAFETY_CASE):
        path = root / rel
        text = path.read_text(encoding="utf-8")

        def move(match: re.Match[str]) -> str:
            file, name = match.group(1), match.group(2)
            if name in by_name and file not in by_name[name] and len(by_name[name]) == 1:
                changed.append(f"{file}::{name} -> {by_name[name][0]}::{name}")
                return f"{by_name[name][0]}::{name}"
            return match.group(0)

        new = re.sub(r"(tests/[\w/]+\.py)::(\w+)", move, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    import subprocess
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    root = Path(args[1] if len(args) > 1 else ".")
    if not args or args[0] not in ("relocate", "evidence"):
        print("usage: python -m lbp_assess.tooling.safety_case relocate|evidence [ROOT]", file=sys.stderr)
        return 2
    if args[0] == "relocate":
        for line in relocate(root):
            print(line)
        return 0
    sources = Sources(root)
    nodes = sources.all_evidence()
    out = root / ".evidence.json"
    env = {**__import__("os").environ, "LBP_EVIDENCE_REPORT": str(out.resolve())}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *nodes], cwd=root, env=env)
    results = json.loads(out.read_text())
    out.unlink()
    failed = 0
    for h in sources.log.hazards:
        found = verdicts(sources.evidence_of(h), results)
        bad = {n: v for n, v in found.items() if v != "passed"}
        failed += len(bad)
        print(f"{h.id} {h.title}: {len(found) - len(bad)}/{len(found)} passed"
              + "".join(f"\n    {n}: {v}" for n, v in bad.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())


# --------------------------------------------------------------------------- every safety document


def _vignettes_and_examples(root: Path) -> list[Path]:
    return [root / "examples" / "vignettes", root / "examples" / "cases"]


def validation_record(root: Path, ruleset: Any, *, run_mutation: bool, today: dt.date | None = None) -> Any:
    """The validation measures of the rules at `root`, reusing the committed mutation run while its key
    holds, and the committed date while the numbers are the same."""
    from . import validation as v

    path = root / VALIDATION_RECORD
    old = v.from_dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else None
    rules_dir = root / "rules"
    mutation: Any = run_mutation
    if old is not None and old.mutation is not None and old.mutation.key == v.mutation_key(rules_dir):
        mutation = old.mutation
    new = v.measure(ruleset, rules_dir, _vignettes_and_examples(root), mutation=mutation)
    if old is not None and _numbers(old) == _numbers(new):
        new.measured_on = old.measured_on
    else:
        new.measured_on = (today or dt.date.today()).isoformat()
    return new


def _numbers(validation: Any) -> dict[str, Any]:
    data = validation.as_dict()
    data.pop("measured_on", None)
    if data.get("mutation"):
        data["mutation"].pop("seconds", None)
    return data


def documents(root: Path, ruleset: Any, *, run_mutation: bool = True) -> dict[Path, str]:
    """What each generated safety document of the checkout at `root` should contain; {} when the
    checkout has no safety case (a copy of the rules and docs only)."""
    from .blocks import fill_blocks

    if not (root / HAZARD_LOG).is_file():
        return {}
    sources = Sources(root)
    validation = validation_record(root, ruleset, run_mutation=run_mutation)
    out = {
        root / VALIDATION_RECORD: json.dumps(validation.as_dict(), indent=2, ensure_ascii=False) + "\n",
        root / VALIDATION_DOC: validation_markdown(validation),
        root / HAZARD_LOG_DOC: hazard_log_markdown(sources, ruleset),
    }
    for name, wanted in TEMPLATES.items():
        links = Links(sources, name)
        every = {
            "document_control": lambda: document_control(sources, ruleset, links),
            "hazard_summary": lambda: hazard_summary(sources, links),
            "draft_rules": lambda: draft_rules(ruleset),
            "validation": lambda: validation_summary(validation, links),
            "argument": lambda: argument(sources, links),
            "limitations": lambda: limitations(sources, links),
            "outstanding": lambda: outstanding(sources, links),
            "recommendation": lambda: recommendation(sources, links, validation),
            "roles": lambda: roles_table(sources),
            "matrix": matrix_table,
            "actions": lambda: actions_table(ruleset),
        }
        path = root / name
        if not path.is_file():
            raise SafetyCaseError(f"{name}: not found (it holds the generated blocks {', '.join(wanted)})")
        out[path] = fill_blocks(path.read_text(encoding="utf-8"), {b: every[b]() for b in wanted}, name)
    return out
