"""HL7 FHIR R4: the interview as a Questionnaire, and a case as a document Bundle (reading a
QuestionnaireResponse or a Bundle back as cases is in inputs.fhir_response).

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
from pathlib import Path
from typing import Any, Iterable

from .. import __version__
from ..model import expr
from ..model.case import FACTS, Case, facts_of
from ..base.errors import InputError, Location, Problem
from ..base.text import plain
from ..engine.answers import recorded_answers
from ..outputs.note import NoteLine, build_note
from ..engine.questionnaire import Question
from ..engine.words import describe_value
from ..engine.ruleset.model import Assessment, RuleSet
from ..engine.ruleset.schema import Code
from ..base.yamlio import Locator, load_json, read_regular_file, read_text
from ..inputs.fhir_codes import ASSESSMENT_CODES, ASSESSMENT_ID, BASE, CASE_ID, CASE_VALUES, CONSTRAINT, ENABLE_WHEN_EXPRESSION, EXT, IF_SKIPPED, ITEM_CONTROL, ITEM_WEIGHT, NONE_OF_THESE, QUESTIONNAIRE_URL, SYSTEMS, TIERS, UCUM, ID_NAMESPACE, canonical_base, coding, item_type, questionnaire_of, rebase, start_back_coding, start_back_scale, value_code


# --------------------------------------------------------------------------- the Questionnaire




def _start_back_items(question: Question) -> list[dict[str, Any]]:
    out = []
    for number, topic in enumerate(question.items, start=1):
        options = [{"extension": [{"url": ITEM_WEIGHT, "valueDecimal": score}],
                    "valueCoding": start_back_coding(question, number, score)}
                   for score in start_back_scale(question, number)]
        out.append({"linkId": f"{question.id}.{number}", "prefix": f"{number}.", "text": topic,
                    "type": "choice", "answerOption": options})
    return out


def _all_or_none(question: Question) -> dict[str, Any]:
    """The group's rule "all items or none" as an SDC-style constraint (not `required`, which would make
    an otherwise empty form invalid)."""
    n = len(question.items)
    answered = "item.where(answer.exists()).count()"
    return {"url": CONSTRAINT, "extension": [
        {"url": "key", "valueId": "lbp-start-back-1"},
        {"url": "severity", "valueCode": "error"},
        {"url": "expression", "valueString": f"{answered} = 0 or {answered} = {n}"},
        {"url": "human", "valueString": f"Answer all {n} STarT Back items, or none."}]}


def answer_value(question: Question, value: Any) -> dict[str, Any]:
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
        out.append({"url": IF_SKIPPED, **answer_value(question, question.if_skipped)})
    if question.kind == "items":
        out.append(_all_or_none(question))
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
    help_text = question.form_help or question.help
    if help_text:
        children.append({"linkId": f"{question.id}.help", "text": " ".join(help_text.split()),
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


def questionnaire(ruleset: RuleSet, base: str | None = None) -> dict[str, Any]:
    """The interview as a FHIR R4 Questionnaire (under the canonical base, by default the documented one)."""
    q = questionnaire_of(ruleset)
    groups: dict[str, dict[str, Any]] = {}
    for question in q.questions:
        group = groups.setdefault(question.section, {"linkId": question.section, "text": question.section_title,
                                                     "type": "group", "item": []})
        group["item"].append(question_item(question, q.by_id))
    m = ruleset.manifest
    chosen = canonical_base(base)
    out: dict[str, Any] = {
        "resourceType": "Questionnaire", "id": "lbp-subjective-history",
        "url": QUESTIONNAIRE_URL, "version": questionnaire_version(ruleset),
        "name": "LbpSubjectiveHistory", "title": q.title, "status": "active", "subjectType": ["Patient"],
    }
    if q.date is not None:
        out["date"] = q.date.isoformat()
    out.update({
        "publisher": "lbp-assess",
        "description": (
            f"The lbp-assess interview (rules {ruleset.version}). Each linkId is the lbp-case/1 field the "
            f"answer fills; choice answers are codes of the CodeSystem {chosen}/CodeSystem/case-values, which "
            "every exported Bundle carries. A question left unanswered is recorded as unknown, never as no. "
            f"Where a question is disabled, the answer in its {chosen}/StructureDefinition/if-skipped extension "
            "is recorded in its place (the earlier answer settles it). " + " ".join(m.disclaimer.split())),
        "item": list(groups.values()),
    })
    return rebase(out, chosen)


def case_values(ruleset: RuleSet, base: str | None = None) -> dict[str, Any]:
    """The project's code system for the case format: every question (`pain.leg_side`), and under each
    choice question its values (`pain.leg_side.left`); STarT Back's answers under it."""
    concepts = []
    for question in questionnaire_of(ruleset).questions:
        concept: dict[str, Any] = {"code": question.id, "display": question.label}
        if question.kind in ("choice", "multi"):
            values = [v for v, _ in question.choices] + ([NONE_OF_THESE] if question.kind == "multi" else [])
            concept["concept"] = [{k: v for k, v in coding(question, value).items() if k != "system"}
                                  for value in values]
        elif question.kind == "items":
            answers = {c["code"]: c["display"] for number in (1, len(question.items))
                       for c in (start_back_coding(question, number, s) for s in start_back_scale(question, number))}
            concept["concept"] = [{"code": code, "display": words} for code, words in answers.items()]
        concepts.append(concept)
    return rebase({"resourceType": "CodeSystem", "id": "case-values", "url": CASE_VALUES,
                   "version": ruleset.version, "name": "LbpCaseValues", "title": "lbp-case/1 questions and values",
                   "status": "active", "content": "complete", "hierarchyMeaning": "grouped-by",
                   "concept": concepts}, canonical_base(base))


def tier_codes(ruleset: RuleSet, base: str | None = None) -> dict[str, Any]:
    """The project's code system for urgency tiers, highest first, each with its time frame and action."""
    m = ruleset.manifest
    return rebase({"resourceType": "CodeSystem", "id": "urgency-tier", "url": TIERS, "version": ruleset.version,
                   "name": "LbpUrgencyTier", "title": "lbp-assess urgency tiers", "status": "active",
                   "content": "complete",
                   "concept": [{"code": name, "display": tier.label,
                                "definition": f"{tier.time_frame}: {' '.join(tier.action.split())}"}
                               for name, tier in m.tiers.items()]}, canonical_base(base))


ASSESSMENT_CONCEPTS = {"assessment": "Low back pain assessment from the subjective history (decision support)",
                       "red-flag-condition": "Red-flag condition suspected from the history",
                       "alert": "Alert raised from the history",
                       "rules": "lbp-assess rule set"}


def assessment_code(code: str, display: str) -> dict[str, str]:
    return {"system": ASSESSMENT_CODES, "code": code, "display": display}


def outcome_coding(ruleset: RuleSet, kind: str, name: str) -> dict[str, str]:
    """The project's code for a class, condition, alert, finding or charted definition."""
    m = ruleset.manifest
    if kind == "definition":
        return assessment_code(f"definition.{name}", _observed_label(ruleset, name))
    named = {"class": m.classes, "condition": m.conditions, "alert": m.alerts, "finding": m.findings}[kind][name]
    return assessment_code(f"{kind}.{name}", named.label)


def _observed_label(ruleset: RuleSet, name: str) -> str:
    named = ruleset.manifest.observations.get(name)
    if named is not None:
        return named.label
    return questionnaire_of(ruleset).label(name)


def assessment_codes(ruleset: RuleSet, base: str | None = None) -> dict[str, Any]:
    """The project's code system for what an assessment concludes: the kinds of resource, each class,
    condition, alert and finding of the rules, and the charted definitions (scores). Codes of
    suspected conditions stay here: they are never a confirmed diagnosis."""
    m = ruleset.manifest
    concepts: list[dict[str, Any]] = [{"code": c, "display": d} for c, d in ASSESSMENT_CONCEPTS.items()]
    for kind, items in (("class", m.classes), ("condition", m.conditions), ("alert", m.alerts),
                        ("finding", m.findings)):
        concepts += [{k: v for k, v in outcome_coding(ruleset, kind, name).items() if k != "system"}
                     for name in items]
    concepts += [{k: v for k, v in outcome_coding(ruleset, "definition", name).items() if k != "system"}
                 for name in m.observations if name not in FACTS]
    return rebase({"resourceType": "CodeSystem", "id": "assessment", "url": ASSESSMENT_CODES,
                   "version": ruleset.version, "name": "LbpAssessment", "title": "lbp-assess assessment codes",
                   "status": "active", "content": "complete", "concept": concepts}, canonical_base(base))


def if_skipped_definition(base: str | None = None) -> dict[str, Any]:
    """The StructureDefinition of the if-skipped extension (a Questionnaire item's settled answer)."""
    types = [{"code": t} for t in ("boolean", "integer", "decimal", "Coding", "string")]
    url = IF_SKIPPED
    return rebase({
        "resourceType": "StructureDefinition", "id": "if-skipped", "url": url, "version": __version__,
        "name": "IfSkipped", "title": "Answer recorded when the item is disabled", "status": "active",
        "publisher": "lbp-assess",
        "description": "The answer that a disabled item records: its enableWhen is known to be false, and "
                       "the earlier answer settles this one (\"no weakness\" settles \"no weakness in both "
                       "legs\"). A reader applies it when the item has no answer in the QuestionnaireResponse.",
        "fhirVersion": "4.0.1", "kind": "complex-type", "abstract": False,
        "context": [{"type": "element", "expression": "Questionnaire.item"}],
        "type": "Extension", "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {"element": [
            {"id": "Extension", "path": "Extension", "short": "Answer recorded when the item is disabled",
             "definition": "The answer that a disabled item records.", "min": 0, "max": "1"},
            {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
            {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
            {"id": "Extension.value[x]", "path": "Extension.value[x]", "min": 1, "type": types},
        ]},
    }, canonical_base(base))




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
    gate = AskWhenTranslator(by_id)
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
    answer = answer_value(question, value) if op != "exists" else {"valueBoolean": value}
    return {"question": question.id, "operator": op,
            **{"answer" + k[len("value"):]: v for k, v in answer.items()}}


def _only(behaviour: str, found: tuple[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Conditions that combine under `behaviour` (one condition combines under either)."""
    if found[0] != behaviour and len(found[1]) > 1:
        raise NoEnableWhen
    return found[1]


class AskWhenTranslator:
    """Translates an ask_when (the rule language) into enableWhen (`not_false`) or FHIRPath (`fhirpath`)."""

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
        if isinstance(node, expr.Test) and node.fn in ("is_true", "known"):
            return self.true(node)  # never unknown: not false is true
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
        if isinstance(node, expr.Test) and node.fn == "is_true":
            return self.true(node.item)
        if isinstance(node, expr.Test) and node.fn == "known":  # answered (a PSFS activity typed)
            return "any", [_condition(self.ref(node.item), "exists", True)]
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
        if isinstance(node, expr.Arith) and node.op in ("+", "-", "*", "/"):  # age at onset (policy v7)
            return f"({self.fhirpath(node.left)} {node.op} {self.fhirpath(node.right)})"
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
    return str(uuid.uuid5(ID_NAMESPACE, "\0".join(parts)))


def _ref_to(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def questionnaire_response(case: Case, ruleset: RuleSet, key: str | None = None) -> dict[str, Any]:
    """The case's answers as a QuestionnaireResponse answering `questionnaire(ruleset)`.

    Only enabled items are written (an item whose enableWhen is known false has no answer in FHIR). An
    unsure answer is an item without an answer; an unasked question has no item. A disabled item whose
    answer its if_skipped settles is left out, as a form hides it; a disabled item left unknown in the
    case is written without an answer, so that the reader keeps it unknown rather than settling it.
    Read back, a response gives the very facts of the case. A case that answers a disabled question
    otherwise (`uncarried`) is refused with an InputError: the answer would be lost.
    """
    q = questionnaire_of(ruleset)
    answers = recorded_answers(case, q)  # the fields written in the case
    facts = facts_of(case)
    lost = uncarried(case, ruleset)
    if lost:
        raise InputError(f"case {plain(case.id)}: cannot export: {uncarried_message(lost, ruleset)}")
    groups: dict[str, dict[str, Any]] = {}
    for question in q.questions:
        value = answers.get(question.id)
        if question.ask_when is None or question.ask_when(facts) is not False:  # enabled
            if question.id not in answers:
                continue  # not asked
            item = response_item(question, value)
        elif value is None and question.if_skipped is not None and facts.get(question.id) is None:
            item = {"linkId": question.id, "text": question.text}  # unknown stays unknown (not settled)
        else:
            continue  # the reader settles it as the case has it (or it has nothing to settle)
        group = groups.setdefault(question.section, {"linkId": question.section, "text": question.section_title,
                                                     "item": []})
        group["item"].append(item)
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": _id(key or _content_key(case, ruleset), "QuestionnaireResponse"),
        "questionnaire": f"{QUESTIONNAIRE_URL}|{questionnaire_version(ruleset)}",
        "status": case.source_status or "completed",  # a form read unfinished is exported unfinished
    }
    if (when := _moment(case)) is not None:
        response["authored"] = when
    if case.assessor:
        response["author"] = {"display": case.assessor}
    response["item"] = list(groups.values())
    return response


def uncarried(case: Case, ruleset: RuleSet) -> list[tuple[Question, Any, Any]]:
    """(question, answer, what it would read back as) for each answer the case gives to a question its
    other answers disable that would not read back as given (a contradiction: weakness in both legs with
    no weakness, pregnant with sex male). A QuestionnaireResponse answers enabled items only: read back,
    such an item is what the form settles (if_skipped), else what the rule set settles, else unknown -
    a red flag's "yes" could become "no". Reported only where that changes the assessment (any part
    of it: class, urgency, red flags, alerts, findings, unscreened questions, warnings, rules fired or
    not excluded); an answer no rule tells apart from its read-back value is left out, as a form
    leaves it. `export` refuses a case with any."""
    q = questionnaire_of(ruleset)
    answers = recorded_answers(case, q)
    facts = facts_of(case)
    disabled = [question for question in q.questions if answers.get(question.id) is not None
                and question.ask_when is not None and question.ask_when(facts) is False]
    if not disabled:
        return []
    back = dict(facts)  # the facts as a form's response would give them
    for question in disabled:
        if question.id in back:
            back[question.id] = question.if_skipped
    read_back = ruleset.evaluate(back)
    if read_back[:-1] == ruleset.evaluate(facts)[:-1]:  # the same assessment (what each settles aside)
        return []
    settled = read_back.settled
    lost = []
    for question in disabled:
        read = question.if_skipped if question.if_skipped is not None else settled.get(question.id)
        if read != answers[question.id]:
            lost.append((question, answers[question.id], read))
    return lost


def uncarried_message(lost: list[tuple[Question, Any, Any]], ruleset: RuleSet) -> str:
    """What `uncarried` found, in one line: each answer, the question's condition, what it would read back as."""
    q = questionnaire_of(ruleset)
    parts = [f"{q.label(question.id)} ({question.id}) is recorded as {describe_value(value)}, but its question "
             f"is asked only when `{question.ask_when_text}`, which the case's other answers make false (read "
             f"back, it would be {describe_value(read)})" for question, value, read in lost]
    return ("; ".join(parts) + ": a FHIR response cannot carry an answer to a question not asked. Correct the "
            "contradiction in the case (`score` lists it under warnings), then export")


def response_item(question: Question, value: Any) -> dict[str, Any]:
    """One question's item of a QuestionnaireResponse, with the case's answer (none when unanswered)."""
    item: dict[str, Any] = {"linkId": question.id, "text": question.text}
    if value is None:
        return item
    if question.kind == "items":
        item["item"] = [{"linkId": f"{question.id}.{n}", "text": topic,
                         "answer": [{"valueCoding": start_back_coding(question, n, v)}]}
                        for n, (topic, v) in enumerate(zip(question.items, value), start=1)]
    elif question.kind == "multi":
        chosen = [v for v, _ in question.choices if v in value] or [NONE_OF_THESE]
        item["answer"] = [{"valueCoding": coding(question, v)} for v in chosen]
    else:
        item["answer"] = [answer_value(question, value)]
    return item


def _codes(codes: Iterable[Code]) -> list[dict[str, str]]:
    """Standard codings: only codes marked verified (the others are listed in docs/fhir.md, never exported)."""
    return [{"system": SYSTEMS[c.system], "code": c.code, "display": c.display} for c in codes if c.verified]


def _concept(label: str, codes: Iterable[Code] = (), own: dict[str, str] | None = None) -> dict[str, Any]:
    found = ([own] if own else []) + _codes(codes)
    return {**({"coding": found} if found else {}), "text": label}


def _tier(ruleset: RuleSet, tier: str) -> dict[str, Any]:
    info = ruleset.manifest.tiers[tier]
    return {"coding": [{"system": TIERS, "code": tier, "display": info.label}],
            "text": f"{info.label} ({info.time_frame})"}


def _content_key(case: Case, ruleset: RuleSet, *more: str) -> str:
    """What a document's resource ids derive from: the case's content (not only its id), the rules and
    the tool, so a reassessment with other answers or another date never reuses an id."""
    content = json.dumps(case.to_data(), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256("\0".join([content, ruleset.version, __version__, *more]).encode()).hexdigest()


def bundle(case: Case, ruleset: RuleSet, now: dt.datetime | None = None, base: str | None = None,
           replaces: dict[str, str] | None = None) -> dict[str, Any]:
    """One case as a FHIR R4 document Bundle.

    Identity: `Bundle.identifier` is this document's own (from the case's content, the rules, the tool
    and the time); `Composition.identifier` is the assessment's, stable across its versions (the case
    id); `replaces` (an earlier version's Bundle.identifier) becomes `Composition.relatesTo` replaces,
    and a follow-up visit's `follow_up_of` becomes relatesTo appends (the earlier visit's assessment).
    """
    chosen = canonical_base(base)
    now = now or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    a = ruleset.assess(case)
    key = _content_key(case, ruleset, now.isoformat(), chosen)
    patient = _patient(case)
    device = {"resourceType": "Device", "id": _id(__version__, ruleset.version, "Device"),
              "deviceName": [{"name": "lbp-assess", "type": "manufacturer-name"}],
              "version": [{"type": {"text": "software"}, "value": __version__},
                          {"type": {"text": "rules (name version sha256:content hash)"}, "value": ruleset.version}]}
    practitioner = _practitioner(case)
    response = {**questionnaire_response(case, ruleset, key), "subject": _ref_to(patient)}
    if practitioner:
        response["author"] = _ref_to(practitioner)
    observations = _observations(case, a, ruleset, patient, response, practitioner, key)
    impression = _impression(case, a, ruleset, patient, response, practitioner, observations, key)
    risks = _risks(case, a, ruleset, patient, response, device, key)
    composition = _composition(case, a, ruleset, now, patient, device, practitioner, impression, risks,
                               observations, response, key, replaces)
    resources = [composition, patient, *([practitioner] if practitioner else []), device, response, impression,
                 *risks, *observations, tier_codes(ruleset), case_values(ruleset), assessment_codes(ruleset)]
    return rebase({"resourceType": "Bundle", "id": _id(key, "Bundle"),
                   "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{_id(key, 'document')}"},
                   "type": "document", "timestamp": now.isoformat(),
                   "entry": [{"fullUrl": _full_url(r), "resource": r} for r in resources]}, chosen)


def _full_url(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "CodeSystem":
        return resource["url"]
    return f"urn:uuid:{resource['id']}"


def _patient(case: Case) -> dict[str, Any]:
    sex = case.patient.sex if case.patient else None
    gender = {"not_stated": "unknown"}.get(sex, sex) if sex is not None else None
    patient: dict[str, Any] = {"resourceType": "Patient", "id": _id(case.id, gender or "", "Patient"),
                               "identifier": [{"system": CASE_ID, "value": case.id}]}
    if gender is not None:
        patient["gender"] = gender
    return patient


def _practitioner(case: Case) -> dict[str, Any] | None:
    """The assessor, as the case names them (a name, no identifier)."""
    if not case.assessor:
        return None
    return {"resourceType": "Practitioner", "id": _id(case.assessor, "Practitioner"),
            "name": [{"text": case.assessor}]}


def _moment(case: Case) -> str | None:
    """When the case was assessed, as FHIR dateTime: the time with its UTC offset (assessed_at)
    when the case gives it, else the date (assessed_on), else None."""
    if case.assessed_at is not None:
        return case.assessed_at.isoformat()
    return case.assessed_on.isoformat() if case.assessed_on else None


def _when(case: Case) -> dict[str, str]:
    return {"effectiveDateTime": when} if (when := _moment(case)) is not None else {}


SURVEY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey",
                      "display": "Survey"}]}
ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def charted(ruleset: RuleSet) -> list[str]:
    """What an export charts as Observations: the rule set's `observations`, then every answer of the
    red-flag screen (screening and screens), each once."""
    m = ruleset.manifest
    return list(dict.fromkeys([*m.observations, *m.screening, *(f for facts in m.screens.values() for f in facts)]))


def _observations(case: Case, a: Assessment, ruleset: RuleSet, patient: dict[str, Any], response: dict[str, Any],
                  practitioner: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    """Charted answers and scores. A red-flag question not asked is charted as not asked, and one asked
    with an unsure answer as asked but unknown, never as "no"."""
    asked = recorded_answers(case, ruleset.questionnaire)
    questions = questionnaire_of(ruleset).by_id
    out = []
    for name in charted(ruleset):
        named = ruleset.manifest.observations.get(name)
        label = named.label if named else questionnaire_of(ruleset).label(name)
        value = a.value(name)
        if name in FACTS:
            own = {"system": CASE_VALUES, "code": name, "display": questions[name].label}
            red_flag = name not in ruleset.manifest.observations or name in ruleset.manifest.screening
        else:
            own, red_flag = outcome_coding(ruleset, "definition", name), False
        if value is None and not red_flag:
            continue
        observation: dict[str, Any] = {
            "resourceType": "Observation", "id": _id(key, "Observation", name), "status": "final",
            "category": [SURVEY], "code": _concept(label, named.codes if named else (), own),
            "subject": _ref_to(patient), **_when(case),
            **({"performer": [_ref_to(practitioner)]} if practitioner else {}),
            "derivedFrom": [_ref_to(response)],
        }
        if value is None:
            reason = ("asked-unknown", "Asked But Unknown") if name in asked else ("not-asked", "Not Asked")
            observation["dataAbsentReason"] = {"coding": [{"system": ABSENT, "code": reason[0],
                                                           "display": reason[1]}]}
        elif isinstance(value, bool):
            observation["valueBoolean"] = value
        elif isinstance(value, int):
            observation["valueInteger"] = value
        else:
            observation["valueQuantity"] = {"value": value}
        out.append(observation)
    return out


def _impression(case: Case, a: Assessment, ruleset: RuleSet, patient: dict[str, Any], response: dict[str, Any],
                practitioner: dict[str, Any] | None, observations: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The classification with its codes; each condition, alert and finding by the project's code only
    (suspected, never coded as a confirmed disorder: their standard codes are on the RiskAssessments)."""
    m = ruleset.manifest
    cls = m.classes[a.classification]
    tier = m.tiers[a.urgency]
    findings = [{"itemCodeableConcept": _concept(cls.label, cls.codes, outcome_coding(ruleset, "class", a.classification)),
                 "basis": "classification from the subjective history (decision support, not a diagnosis)"}]
    for name, t in a.conditions.items():
        findings.append({"itemCodeableConcept": _concept(f"{m.conditions[name].label} (suspected)", (),
                                                         outcome_coding(ruleset, "condition", name)),
                         "basis": f"red-flag condition suspected, {m.tiers[t].label.lower()}"})
    for name, t in a.alerts.items():
        findings.append({"itemCodeableConcept": _concept(m.alerts[name].label, (), outcome_coding(ruleset, "alert", name)),
                         "basis": "alert" + (f", {m.tiers[t].label.lower()}" if t else "")})
    for name in a.findings:
        findings.append({"itemCodeableConcept": _concept(m.findings[name].label, (),
                                                         outcome_coding(ruleset, "finding", name)),
                         "basis": "finding"})
    q = questionnaire_of(ruleset)
    summary = f"{cls.label}. Urgency: {tier.label} ({tier.time_frame})."
    if a.unscreened:
        summary += " NOT SCREENED (cannot be excluded): " + "; ".join(q.label(f) for f in a.unscreened) + "."
    out: dict[str, Any] = {
        "resourceType": "ClinicalImpression", "id": _id(key, "ClinicalImpression"), "status": "completed",
        "code": {"coding": [assessment_code("assessment", ASSESSMENT_CONCEPTS["assessment"])], "text": m.title},
        "description": cls.label, "subject": _ref_to(patient), **_when(case),
        **({"assessor": _ref_to(practitioner)} if practitioner else {}),
        "summary": summary, "finding": findings,
        "prognosisCodeableConcept": [_tier(ruleset, a.urgency)],
        "investigation": [{"code": {"text": "Subjective history"},
                           "item": [_ref_to(response), *(_ref_to(o) for o in observations)]}],
        "protocol": [f"{BASE}/rules/{m.name}|{m.version}"],
        "note": [{"text": f"Rules {ruleset.version}; lbp-assess {__version__}. " + " ".join(m.disclaimer.split())}],
    }
    return out


def _risks(case: Case, a: Assessment, ruleset: RuleSet, patient: dict[str, Any], response: dict[str, Any],
           device: dict[str, Any], key: str) -> list[dict[str, Any]]:
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
        code = "red-flag-condition" if kind == "condition" else "alert"
        risk: dict[str, Any] = {
            "resourceType": "RiskAssessment", "id": _id(key, "RiskAssessment", kind, name), "status": "final",
            "code": {"coding": [assessment_code(code, ASSESSMENT_CONCEPTS[code])],
                     "text": f"lbp-assess {'red-flag condition' if kind == 'condition' else 'alert'}: {named.label}"},
            "subject": _ref_to(patient), **({"occurrenceDateTime": when}
                                            if (when := _moment(case)) is not None else {}),
            "performer": _ref_to(device), "basis": [_ref_to(response)],
            "method": {"coding": [assessment_code("rules", ASSESSMENT_CONCEPTS["rules"])],
                       "text": f"lbp-assess {__version__} rules {ruleset.version}"},
            "prediction": [{"outcome": _concept(named.label, named.codes, outcome_coding(ruleset, kind, name)),
                            "qualitativeRisk": _tier(ruleset, tier),
                            "rationale": f"{info.label} ({info.time_frame}). {reasons}".strip()}],
            "mitigation": action,
        }
        out.append(risk)
    return out


def _composition(case: Case, a: Assessment, ruleset: RuleSet, now: dt.datetime, patient: dict[str, Any],
                 device: dict[str, Any], practitioner: dict[str, Any] | None, impression: dict[str, Any],
                 risks: list[dict[str, Any]], observations: list[dict[str, Any]], response: dict[str, Any],
                 key: str, replaces: dict[str, str] | None) -> dict[str, Any]:
    note = build_note(case, a, ruleset, today=now.date())
    entries = {"Summary": [impression, *risks], "History": [response, *observations], "Impression": [impression]}
    sections = []
    for section in note.sections:
        out: dict[str, Any] = {"title": section.title,
                               "text": {"status": "generated", "div": xhtml(section.lines)}}
        if entries.get(section.title):
            out["entry"] = [_ref_to(r) for r in entries[section.title]]
        sections.append(out)
    sections.append({"title": "Generated by", "text": {"status": "generated", "div": xhtml(
        [NoteLine(part) for part in note.footer.splitlines()])}})
    composition: dict[str, Any] = {
        "resourceType": "Composition", "id": _id(key, "Composition"),
        "identifier": {"system": ASSESSMENT_ID, "value": case.id},
        "status": "preliminary" if case.source_status else "final",  # on an unfinished form's answers
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4", "display": "Consult note"}],
                 "text": "Low back pain assessment - record note"},
        "subject": _ref_to(patient), "date": now.isoformat(),
        "author": [*([_ref_to(practitioner)] if practitioner else []), _ref_to(device)],
        "title": note.title}
    related = []
    if replaces:
        related.append({"code": "replaces", "targetIdentifier": replaces})
    if case.follow_up_of is not None:
        related.append({"code": "appends", "targetIdentifier": {"system": ASSESSMENT_ID,
                                                                "value": case.follow_up_of.id}})
    if related:
        composition["relatesTo"] = related
    composition["section"] = sections
    return composition


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


def replaced_document(path: Path | str, case: Case) -> dict[str, str]:
    """The identifier of an earlier exported Bundle that a new export of `case` replaces: a document
    Bundle of the same assessment (its Composition.identifier is the case id)."""
    name = str(path)
    text = read_text(name)
    data = load_json(text, name)
    locate = Locator(text).find

    def fail(where: tuple[Any, ...], message: str) -> InputError:
        return InputError.from_problems([Problem(Location(name, *locate(where)), message)])

    if not isinstance(data, dict) or data.get("resourceType") != "Bundle" or data.get("type") != "document":
        raise fail(("resourceType",), "expected an exported FHIR document Bundle (lbp-assess export)")
    identifier = data.get("identifier")
    if not isinstance(identifier, dict) or not all(isinstance(identifier.get(k), str) for k in ("system", "value")):
        raise fail(("identifier",), "the Bundle has no identifier (system and value) to replace")
    entries = data.get("entry")
    first = entries[0].get("resource") if isinstance(entries, list) and entries and isinstance(entries[0], dict) \
        else None
    composition = first if isinstance(first, dict) and first.get("resourceType") == "Composition" else None
    same = composition is not None and isinstance(composition.get("identifier"), dict) \
        and composition["identifier"].get("value") == case.id
    if not same:
        raise fail(("entry",), f"this document is not an assessment of case {case.id!r} (its Composition "
                               "identifier differs): a reassessment replaces a document of the same case")
    return {"system": identifier["system"], "value": identifier["value"]}


def to_json(resource: dict[str, Any]) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def export(cases: list[Case], ruleset: RuleSet, now: dt.datetime | None = None, base: str | None = None,
           replaces: dict[str, str] | None = None, ndjson: bool | None = None) -> str:
    """One case: its Bundle as JSON. Several (or `ndjson`): NDJSON, one Bundle per line (FHIR bulk data)."""
    bundles = [bundle(case, ruleset, now, base, replaces) for case in cases]
    if len(bundles) == 1 and not ndjson:
        return to_json(bundles[0])
    return "".join(json.dumps(b, ensure_ascii=False, separators=(",", ":")) + "\n" for b in bundles)
