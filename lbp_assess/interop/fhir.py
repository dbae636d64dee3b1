"""HL7 FHIR R4: the interview as a Questionnaire, and a case as a document Bundle (reading a
QuestionnaireResponse back as a case is in inputs.fhir_response).

Everything is generated from the rule set: the Questionnaire from interview.yaml (one
item per question, `linkId` = the case-file path), the codes of the impression from
ruleset.yaml (`codes:` with their `verified` marks), the tiers from its `tiers:`. The
resources are plain JSON-ready dicts (no FHIR library at run time); the tests validate
them with `fhir.resources`.

Answers keep the case format's three values: a value; "asked, unsure" as an item with
no answer; not asked as no item. Unknown is never written as "no".

Export leaves out exactly the answers that skipped follow-ups settle (`if_skipped`: the form
would have hidden their items), so a case reads back to the same facts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import re
import uuid
from typing import Any, Iterable

from .. import __version__
from ..model import expr
from ..model.case import Case
from ..base.errors import InputError
from ..base.yamlio import read_regular_file
from ..engine.answers import answers_of, resolve
from ..outputs.note import NoteLine, build_note
from ..engine.questionnaire import Question
from ..engine.ruleset.model import Assessment, RuleSet
from ..engine.ruleset.schema import Code
from ..inputs.fhir_codes import BASE, CASE_ID, CASE_VALUES, ENABLE_WHEN_EXPRESSION, EXT, IF_SKIPPED, ITEM_CONTROL, NONE_OF_THESE, QUESTIONNAIRE_URL, START_BACK_SCALES, SYSTEMS, TIERS, UCUM, questionnaire_of, coding, item_type, value_code


_ID_NAMESPACE = uuid.UUID("6f1d2c3e-8b9a-4c5d-9e0f-1a2b3c4d5e6f")


# --------------------------------------------------------------------------- the Questionnaire




def _start_back_items(question: Question) -> list[dict[str, Any]]:
    out = []
    for number, topic in enumerate(question.items, start=1):
        scale = START_BACK_SCALES[number == len(question.items)]
        out.append({"linkId": f"{question.id}.{number}", "prefix": f"{number}.", "text": topic,
                    "type": "choice", "required": True,
                    "answerOption": [{"valueInteger": v} for v in scale]})
    return out


def _answer_value(question: Question, value: Any) -> dict[str, Any]:
    """One answer of the case as a FHIR answer value (`valueBoolean: true`, ...)."""
    kind = item_type(question)
    if kind == "choice":
        return {"valueCoding": coding(question, value)}
    key = {"boolean": "valueBoolean", "integer": "valueInteger", "decimal": "valueDecimal"}.get(kind, "valueString")
    return {key: value}


def _extensions(question: Question) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if question.unit in UCUM:
        out.append({"url": f"{EXT}questionnaire-unit", "valueCoding": {
            "system": "http://unitsofmeasure.org", "code": UCUM[question.unit], "display": question.unit}})
    key = "valueInteger" if question.integer else "valueDecimal"
    if question.minimum is not None and item_type(question) in ("integer", "decimal"):
        out.append({"url": f"{EXT}minValue", key: _number(question.minimum, question.integer)})
    if question.maximum is not None and item_type(question) in ("integer", "decimal"):
        out.append({"url": f"{EXT}maxValue", key: _number(question.maximum, question.integer)})
    if question.if_skipped is not None:
        out.append({"url": IF_SKIPPED, **_answer_value(question, question.if_skipped)})
    return out


def _number(value: float, integer: bool) -> float | int:
    return int(value) if integer or float(value).is_integer() else value


def question_item(question: Question, by_id: dict[str, Question]) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": question.id, "text": question.text, "type": item_type(question)}
    logic = skip_logic(question, by_id)
    extensions = _extensions(question) + logic.pop("extension", [])
    if extensions:
        item["extension"] = extensions
    if question.id == "id":  # the interview refuses "unsure" only for the id
        item["required"] = True
        item["maxLength"] = next(m.max_length for m in Case.model_fields["id"].metadata
                                 if getattr(m, "max_length", None))
    if question.kind == "multi":
        item["repeats"] = True
    item.update(logic)
    if question.kind in ("choice", "multi"):
        item["answerOption"] = [{"valueCoding": coding(question, v)} for v, _ in question.choices]
        if question.kind == "multi":
            item["answerOption"].append({"valueCoding": coding(question, NONE_OF_THESE), "extension": [
                {"url": f"{EXT}questionnaire-optionExclusive", "valueBoolean": True}]})
    children = []
    if question.help:
        children.append({"linkId": f"{question.id}.help", "text": " ".join(question.help.split()),
                         "type": "display", "extension": [{"url": f"{EXT}questionnaire-itemControl",
                                                           "valueCodeableConcept": {"coding": [{
                                                               "system": ITEM_CONTROL, "code": "help",
                                                               "display": "Help-Button"}]}}]})
    if question.kind == "items":
        children += _start_back_items(question)
    if children:
        item["item"] = children
    return item


def questionnaire_version(ruleset: RuleSet) -> str:
    """The interview's version, with the rules' name, version and content hash, and a hash of the
    interview file: any change to either gives a new version."""
    q = ruleset.questionnaire
    digest = hashlib.sha256(read_regular_file(ruleset.directory / "interview.yaml")).hexdigest()[:12]
    m = ruleset.manifest
    return f"{q.version}+{m.name}.{m.version}.{ruleset.content_hash}.{digest}"  # type: ignore[union-attr]


def questionnaire(ruleset: RuleSet) -> dict[str, Any]:
    """The interview as a FHIR R4 Questionnaire."""
    q = questionnaire_of(ruleset)
    groups: dict[str, dict[str, Any]] = {}
    for question in q.questions:
        group = groups.setdefault(question.section, {"linkId": question.section, "text": question.section_title,
                                                     "type": "group", "item": []})
        group["item"].append(question_item(question, q.by_id))
    m = ruleset.manifest
    return {
        "resourceType": "Questionnaire", "id": "lbp-subjective-history",
        "url": QUESTIONNAIRE_URL, "version": questionnaire_version(ruleset),
        "name": "LbpSubjectiveHistory", "title": q.title, "status": "active", "subjectType": ["Patient"],
        "publisher": "lbp-assess",
        "description": (
            f"The lbp-assess interview (rules {ruleset.version}). Each linkId is the lbp-case/1 field the "
            f"answer fills; choice answers are codes of the CodeSystem {CASE_VALUES}, which every exported "
            "Bundle carries. A question left unanswered is recorded as unknown, never as no. Where a "
            f"question is disabled, the answer in its {IF_SKIPPED} extension is recorded in its place "
            "(the earlier answer settles it). " + " ".join(m.disclaimer.split())),
        "item": list(groups.values()),
    }


def case_values(ruleset: RuleSet) -> dict[str, Any]:
    """The project's code system for the case format's choice values (`pain.leg_side.left`)."""
    concepts = []
    for question in questionnaire_of(ruleset).questions:
        if question.kind not in ("choice", "multi"):
            continue
        values = [v for v, _ in question.choices] + ([NONE_OF_THESE] if question.kind == "multi" else [])
        concepts.append({"code": question.id, "display": question.label,
                         "concept": [{k: v for k, v in coding(question, value).items() if k != "system"}
                                     for value in values]})
    return {"resourceType": "CodeSystem", "id": "case-values", "url": CASE_VALUES, "version": ruleset.version,
            "name": "LbpCaseValues", "title": "lbp-case/1 choice values", "status": "active",
            "content": "complete", "hierarchyMeaning": "grouped-by", "concept": concepts}


def tier_codes(ruleset: RuleSet) -> dict[str, Any]:
    """The project's code system for urgency tiers, highest first, each with its time frame and action."""
    m = ruleset.manifest
    return {"resourceType": "CodeSystem", "id": "urgency-tier", "url": TIERS, "version": ruleset.version,
            "name": "LbpUrgencyTier", "title": "lbp-assess urgency tiers", "status": "active",
            "content": "complete",
            "concept": [{"code": name, "display": tier.label,
                         "definition": f"{tier.time_frame}: {' '.join(tier.action.split())}"}
                        for name, tier in m.tiers.items()]}





# --------------------------------------------------------------------------- skip logic


class NoEnableWhen(Exception):
    """The ask_when has no enableWhen form (it becomes a FHIRPath expression)."""


def skip_logic(question: Question, by_id: dict[str, Question]) -> dict[str, Any]:
    """`enableWhen` (+ `enableBehavior`) when ask_when maps onto it, else the SDC enableWhenExpression.

    ask_when asks a question unless it is known to be false, so an unanswered gate enables the item
    (`exists = false`) except inside is_true(...).
    """
    if question.ask_when_text is None:
        return {}
    gate = _Gate(by_id)
    node = expr.parse(question.ask_when_text)
    try:
        behaviour, conditions = gate.not_false(node)
    except NoEnableWhen:
        path = gate.fhirpath(node)
        return {"extension": [{"url": ENABLE_WHEN_EXPRESSION, "valueExpression": {
            "language": "text/fhirpath", "expression": f"({path}).empty() or ({path})"}}]}
    out: dict[str, Any] = {"enableWhen": conditions}
    if len(conditions) > 1:
        out["enableBehavior"] = behaviour
    return out


_OPS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


def _condition(question: Question, op: str, value: Any) -> dict[str, Any]:
    answer = _answer_value(question, value) if op != "exists" else {"valueBoolean": value}
    return {"question": question.id, "operator": op,
            **{"answer" + k[len("value"):]: v for k, v in answer.items()}}


def _only(behaviour: str, found: tuple[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Conditions that combine under `behaviour` (one condition combines under either)."""
    if found[0] != behaviour and len(found[1]) > 1:
        raise NoEnableWhen
    return found[1]


class _Gate:
    """Translates one ask_when (the rule language) into enableWhen or FHIRPath."""

    def __init__(self, by_id: dict[str, Question]):
        self.by_id = by_id

    def ref(self, node: expr.Node) -> Question:
        if not isinstance(node, expr.Ref) or node.name not in self.by_id:
            raise NoEnableWhen
        return self.by_id[node.name]

    def comparison(self, node: expr.Compare) -> tuple[Question, str, Any]:
        left, op, right = node.left, node.op, node.right
        if isinstance(left, expr.Const):
            left, right, op = right, left, _FLIP[op]
        if not isinstance(right, expr.Const):
            raise NoEnableWhen
        question = self.ref(left)
        if question.kind in ("multi", "items"):
            raise NoEnableWhen
        return question, _OPS[op], right.value

    def membership(self, node: expr.In) -> tuple[Question, list[Any]]:
        if node.negate:
            raise NoEnableWhen
        if isinstance(node.container, expr.ListLit):
            question = self.ref(node.item)
            if question.kind != "choice":
                raise NoEnableWhen
            return question, list(node.container.values)
        if isinstance(node.item, expr.Const):  # "sitting" in behaviour.aggravated_by
            return self.ref(node.container), [node.item.value]
        raise NoEnableWhen

    def yes_no(self, node: expr.Node) -> Question:
        question = self.ref(node)
        if question.kind != "yes_no":
            raise NoEnableWhen
        return question

    def not_false(self, node: expr.Node) -> tuple[str, list[dict[str, Any]]]:
        """enableWhen conditions that hold exactly when `node` is not known to be false."""
        if isinstance(node, expr.Test) and node.fn == "is_true":
            return self.true(node.item)
        if isinstance(node, expr.Ref):
            question = self.yes_no(node)
            return "any", [_condition(question, "exists", False), _condition(question, "=", True)]
        if isinstance(node, expr.Compare):
            question, op, value = self.comparison(node)
            return "any", [_condition(question, "exists", False), _condition(question, op, value)]
        if isinstance(node, expr.In):
            question, values = self.membership(node)
            return "any", [_condition(question, "exists", False)] + [_condition(question, "=", v) for v in values]
        if isinstance(node, expr.Or):
            return "any", [c for item in node.items for c in _only("any", self.not_false(item))]
        raise NoEnableWhen

    def true(self, node: expr.Node) -> tuple[str, list[dict[str, Any]]]:
        """enableWhen conditions that hold exactly when `node` is known to be true."""
        if isinstance(node, expr.Ref):
            return "any", [_condition(self.yes_no(node), "=", True)]
        if isinstance(node, expr.Compare):
            question, op, value = self.comparison(node)
            if op == "!=":  # FHIR readers differ on != with no answer
                raise NoEnableWhen
            return "any", [_condition(question, op, value)]
        if isinstance(node, expr.In):
            question, values = self.membership(node)
            return "any", [_condition(question, "=", v) for v in values]
        if isinstance(node, expr.Or):
            return "any", [c for item in node.items for c in _only("any", self.true(item))]
        if isinstance(node, expr.And):
            return "all", [c for item in node.items for c in _only("all", self.true(item))]
        raise NoEnableWhen

    def fhirpath(self, node: expr.Node) -> str:
        """A FHIRPath expression over the QuestionnaireResponse with the rule language's meaning
        (an unanswered item is empty, and empty propagates as unknown)."""
        if isinstance(node, expr.Const):
            return _literal(node.value)
        if isinstance(node, expr.Ref):
            question = self.ref(node)
            path = f"%resource.repeat(item).where(linkId='{question.id}').answer.value"
            return path + ".code" if item_type(question) == "choice" else path
        if isinstance(node, (expr.And, expr.Or)):
            word = " and " if isinstance(node, expr.And) else " or "
            return "(" + word.join(self.fhirpath(i) for i in node.items) + ")"
        if isinstance(node, expr.Not):
            return f"({self.fhirpath(node.item)}).not()"
        if isinstance(node, expr.Compare):
            question = self.coded(node.left) or self.coded(node.right)
            return f"({self.operand(node.left, question)} {_OPS[node.op]} {self.operand(node.right, question)})"
        if isinstance(node, expr.In):
            question = self.coded(node.item) or self.coded(node.container)
            container = self.operand(node.container, question)
            found = f"({self.operand(node.item, question)} in {container})"
            if isinstance(node.container, expr.Ref):  # an unanswered list is unknown, not empty
                found = f"iif(({container}).exists(), {found}, {{}})"
            return f"({found}).not()" if node.negate else found
        if isinstance(node, expr.Test):
            inner = self.fhirpath(node.item)
            return {"is_true": f"(({inner}).exists() and ({inner}))",
                    "is_false": f"(({inner}).exists() and ({inner}).not())",
                    "known": f"({inner}).exists()", "unknown": f"({inner}).empty()"}[node.fn]
        raise InputError(f"interview.yaml: an ask_when uses {type(node).__name__}, which has no FHIRPath form here")

    def coded(self, node: expr.Node) -> Question | None:
        if isinstance(node, expr.Ref):
            question = self.ref(node)
            return question if item_type(question) == "choice" else None
        return None

    def operand(self, node: expr.Node, question: Question | None) -> str:
        """A constant compared with a choice item is its code (`'pain.leg_side.none'`)."""
        if isinstance(node, expr.ListLit):
            shown = [value_code(question, v) if question else v for v in node.values]
            return "(" + " | ".join(_literal(v) for v in shown) + ")"
        if question is not None and isinstance(node, expr.Const):
            return _literal(value_code(question, node.value))
        return self.fhirpath(node)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

# --------------------------------------------------------------------------- a case as FHIR


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, "\0".join(parts)))


def _ref_to(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def questionnaire_response(case: Case, ruleset: RuleSet) -> dict[str, Any]:
    """The case's answers as a QuestionnaireResponse answering `questionnaire(ruleset)`.

    An unsure answer is an item without an answer; an unasked question has no item. An answer that
    a disabled follow-up would get anyway (its if_skipped) is left out, as a form would hide it.
    """
    q = questionnaire_of(ruleset)
    known = {question.id for question in q.questions}  # the answers as `assess --answers` reads them
    answers = {k: v for k, v in answers_of(case).items() if k in known}
    facts, _ = resolve(q, q.questions, answers, case.assessed_on.isoformat() if case.assessed_on else
                       dt.date.today().isoformat())
    groups: dict[str, dict[str, Any]] = {}
    for question in q.questions:
        if question.id not in answers:
            continue
        value = answers[question.id]
        settled = question.if_skipped is not None and value == question.if_skipped
        if settled and question.ask_when is not None and question.ask_when(facts) is False:
            continue
        group = groups.setdefault(question.section, {"linkId": question.section, "text": question.section_title,
                                                     "item": []})
        group["item"].append(_response_item(question, value))
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse", "id": _id(case.id, ruleset.version, "QuestionnaireResponse"),
        "questionnaire": f"{QUESTIONNAIRE_URL}|{questionnaire_version(ruleset)}", "status": "completed",
    }
    if case.assessed_on:
        response["authored"] = case.assessed_on.isoformat()
    if case.assessor:
        response["author"] = {"display": case.assessor}
    response["item"] = list(groups.values())
    return response


def _response_item(question: Question, value: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": question.id, "text": question.text}
    if value is None:
        return item
    if question.kind == "items":
        item["item"] = [{"linkId": f"{question.id}.{n}", "text": topic, "answer": [{"valueInteger": v}]}
                        for n, (topic, v) in enumerate(zip(question.items, value), start=1)]
    elif question.kind == "multi":
        chosen = [v for v, _ in question.choices if v in value] or [NONE_OF_THESE]
        item["answer"] = [{"valueCoding": coding(question, v)} for v in chosen]
    else:
        item["answer"] = [_answer_value(question, value)]
    return item


def _codes(codes: Iterable[Code]) -> list[dict[str, str]]:
    return [{"system": SYSTEMS[c.system], "code": c.code, "display": c.display} for c in codes]


def _concept(label: str, codes: Iterable[Code] = ()) -> dict[str, Any]:
    found = _codes(codes)
    return {**({"coding": found} if found else {}), "text": label}


def _tier(ruleset: RuleSet, tier: str) -> dict[str, Any]:
    info = ruleset.manifest.tiers[tier]
    return {"coding": [{"system": TIERS, "code": tier, "display": info.label}],
            "text": f"{info.label} ({info.time_frame})"}


def bundle(case: Case, ruleset: RuleSet, now: dt.datetime | None = None) -> dict[str, Any]:
    """One case as a FHIR R4 document Bundle."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    a = ruleset.assess(case)
    key = (case.id, ruleset.version)
    patient = _patient(case)
    device = {"resourceType": "Device", "id": _id(*key, "Device"),
              "deviceName": [{"name": "lbp-assess", "type": "manufacturer-name"}],
              "version": [{"type": {"text": "software"}, "value": __version__},
                          {"type": {"text": "rules (name version sha256:content hash)"}, "value": ruleset.version}]}
    response = {**questionnaire_response(case, ruleset), "subject": _ref_to(patient)}
    impression = _impression(case, a, ruleset, patient, response, _id(*key, "ClinicalImpression"))
    risks = _risks(case, a, ruleset, patient, response, device, key)
    composition = _composition(case, a, ruleset, now, patient, device, impression, risks, response, key)
    resources = [composition, patient, device, response, impression, *risks, tier_codes(ruleset),
                 case_values(ruleset)]
    return {"resourceType": "Bundle", "id": _id(*key, "Bundle"),
            "identifier": {"system": f"{BASE}/NamingSystem/document", "value": _id(*key, "document")},
            "type": "document", "timestamp": now.isoformat(),
            "entry": [{"fullUrl": _full_url(r), "resource": r} for r in resources]}


def _full_url(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "CodeSystem":
        return resource["url"]
    return f"urn:uuid:{resource['id']}"


def _patient(case: Case) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": _id(case.id, "Patient"),
                               "identifier": [{"system": CASE_ID, "value": case.id}]}
    sex = case.patient.sex if case.patient else None
    if sex is not None:
        patient["gender"] = {"not_stated": "unknown"}.get(sex, sex)
    return patient


def _impression(case: Case, a: Assessment, ruleset: RuleSet, patient: dict[str, Any],
                response: dict[str, Any], rid: str) -> dict[str, Any]:
    m = ruleset.manifest
    cls = m.classes[a.classification]
    tier = m.tiers[a.urgency]
    findings = [{"itemCodeableConcept": _concept(cls.label, cls.codes), "basis": "classification"}]
    for name, t in a.conditions.items():
        named = m.conditions[name]
        findings.append({"itemCodeableConcept": _concept(named.label, named.codes),
                         "basis": f"red-flag condition, {m.tiers[t].label.lower()}"})
    for name, t in a.alerts.items():
        named = m.alerts[name]
        findings.append({"itemCodeableConcept": _concept(named.label, named.codes),
                         "basis": "alert" + (f", {m.tiers[t].label.lower()}" if t else "")})
    for name in a.findings:
        named = m.findings[name]
        findings.append({"itemCodeableConcept": _concept(named.label, named.codes), "basis": "finding"})
    q = questionnaire_of(ruleset)
    summary = f"{cls.label}. Urgency: {tier.label} ({tier.time_frame})."
    if a.unscreened:
        summary += " NOT SCREENED (cannot be excluded): " + "; ".join(q.label(f) for f in a.unscreened) + "."
    out: dict[str, Any] = {
        "resourceType": "ClinicalImpression", "id": rid, "status": "completed",
        "code": {"text": m.title}, "description": cls.label, "subject": _ref_to(patient),
        "summary": summary, "finding": findings,
        "prognosisCodeableConcept": [_tier(ruleset, a.urgency)],
        "investigation": [{"code": {"text": "Subjective history"}, "item": [_ref_to(response)]}],
        "protocol": [f"{BASE}/rules/{m.name}|{m.version}"],
        "note": [{"text": f"Rules {ruleset.version}; lbp-assess {__version__}. " + " ".join(m.disclaimer.split())}],
    }
    if case.assessed_on:
        out["effectiveDateTime"] = case.assessed_on.isoformat()
    return out


def _risks(case: Case, a: Assessment, ruleset: RuleSet, patient: dict[str, Any], response: dict[str, Any],
           device: dict[str, Any], key: tuple[str, str]) -> list[dict[str, Any]]:
    m = ruleset.manifest
    raised = [("condition", n, t, m.conditions[n]) for n, t in a.conditions.items()]
    raised += [("alert", n, t, m.alerts[n]) for n, t in a.alerts.items() if t is not None]
    out = []
    for kind, name, tier, named in raised:
        rules = [trace.rule for trace in a.trace() if trace.state == "fired" and trace.rule.raises == kind
                 and trace.rule.name == name and trace.rule.tier == tier]
        info = m.tiers[tier]
        action = " ".join(dict.fromkeys(" ".join(r.action.split()) for r in rules if r.action)) or " ".join(
            info.action.split())
        reasons = " ".join(" ".join(r.reason.split()) + f" [{r.id}; {' '.join(r.source.split())}]" for r in rules)
        risk: dict[str, Any] = {
            "resourceType": "RiskAssessment", "id": _id(*key, "RiskAssessment", kind, name), "status": "final",
            "code": {"text": f"lbp-assess {'red-flag condition' if kind == 'condition' else 'alert'}: {named.label}"},
            "subject": _ref_to(patient), "performer": _ref_to(device), "basis": [_ref_to(response)],
            "method": {"text": f"lbp-assess {__version__} rules {ruleset.version}"},
            "prediction": [{"outcome": _concept(named.label, named.codes), "qualitativeRisk": _tier(ruleset, tier),
                            "rationale": f"{info.label} ({info.time_frame}). {reasons}".strip()}],
            "mitigation": action,
        }
        if case.assessed_on:
            risk["occurrenceDateTime"] = case.assessed_on.isoformat()
        out.append(risk)
    return out


def _composition(case: Case, a: Assessment, ruleset: RuleSet, now: dt.datetime, patient: dict[str, Any],
                 device: dict[str, Any], impression: dict[str, Any], risks: list[dict[str, Any]],
                 response: dict[str, Any], key: tuple[str, str]) -> dict[str, Any]:
    note = build_note(case, a, ruleset, today=now.date())
    entries = {"Summary": [impression, *risks], "History": [response], "Impression": [impression]}
    sections = []
    for section in note.sections:
        out: dict[str, Any] = {"title": section.title,
                               "text": {"status": "generated", "div": xhtml(section.lines)}}
        if entries.get(section.title):
            out["entry"] = [_ref_to(r) for r in entries[section.title]]
        sections.append(out)
    sections.append({"title": "Generated by", "text": {"status": "generated", "div": xhtml(
        [NoteLine(part) for part in note.footer.splitlines()])}})
    return {"resourceType": "Composition", "id": _id(*key, "Composition"), "status": "final",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}],
                     "text": "Low back pain assessment - record note"},
            "subject": _ref_to(patient), "date": now.isoformat(), "author": [_ref_to(device)],
            "title": note.title, "section": sections}


# XML 1.0 refuses these characters even when escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=True).replace("\n", "<br/>")


def xhtml(lines: list[NoteLine]) -> str:
    """Note lines as FHIR narrative XHTML: text escaped, bullets as a list, line breaks kept."""
    parts: list[str] = []
    bullets: list[str] = []
    for line in lines:
        shown = _xml_text(line.text)
        shown = f"<b>{shown}</b>" if line.strong else shown
        if line.bullet:
            bullets.append(f"<li>{shown}</li>")
            continue
        if bullets:
            parts.append("<ul>" + "".join(bullets) + "</ul>")
            bullets = []
        parts.append(f"<p>{shown}</p>")
    if bullets:
        parts.append("<ul>" + "".join(bullets) + "</ul>")
    return '<div xmlns="http://www.w3.org/1999/xhtml">' + "".join(parts) + "</div>"


def to_json(resource: dict[str, Any]) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def export(cases: list[Case], ruleset: RuleSet, now: dt.datetime | None = None) -> str:
    """One case: its Bundle as JSON. Several: NDJSON, one Bundle per line (FHIR bulk data)."""
    bundles = [bundle(case, ruleset, now) for case in cases]
    if len(bundles) == 1:
        return to_json(bundles[0])
    return "".join(json.dumps(b, ensure_ascii=False, separators=(",", ":")) + "\n" for b in bundles)
