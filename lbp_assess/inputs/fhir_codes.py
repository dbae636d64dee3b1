"""HL7 FHIR R4 ids and codings shared by reading and writing: canonical URLs, the case-values code
system, item types and value codes of questions, the STarT Back scales.
"""

from __future__ import annotations

from typing import Any

from ..base.errors import InputError
from ..engine.questionnaire import Question
from ..engine.ruleset.model import RuleSet


BASE = "https://lbp-assess.example/fhir"  # the project's namespace for canonical URLs and code systems
QUESTIONNAIRE_URL = f"{BASE}/Questionnaire/lbp-subjective-history"
CASE_VALUES = f"{BASE}/CodeSystem/case-values"
TIERS = f"{BASE}/CodeSystem/urgency-tier"
IF_SKIPPED = f"{BASE}/StructureDefinition/if-skipped"
CASE_ID = f"{BASE}/NamingSystem/case-id"
SYSTEMS = {"SNOMED CT": "http://snomed.info/sct", "ICD-10": "http://hl7.org/fhir/sid/icd-10"}
EXT = "http://hl7.org/fhir/StructureDefinition/"
ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
ITEM_CONTROL = "http://hl7.org/fhir/questionnaire-item-control"
UCUM = {"years": "a", "weeks": "wk", "days": "d", "minutes": "min"}
NONE_OF_THESE = "none_of_these"  # the exclusive option of a multiple-choice item: "none of these"
# STarT Back answers as the case format records them (items 1-8: 0/1, item 9: 0-4).
START_BACK_SCALES = ({0: "0 - disagree", 1: "1 - agree"},
                     {0: "0 - not at all", 1: "1 - slightly", 2: "2 - moderately", 3: "3 - very much",
                      4: "4 - extremely"})


def item_type(question: Question) -> str:
    """The FHIR item type of a question."""
    if question.kind == "items":
        return "group"
    if question.kind in ("choice", "multi"):
        return "choice"
    if question.kind == "yes_no":
        return "boolean"
    if question.kind in ("number", "scale"):
        return "integer" if question.integer else "decimal"
    return "text" if question.section == "notes" else "string"


def value_code(question: Question, value: Any) -> str:
    return f"{question.id}.{value}"


def coding(question: Question, value: Any) -> dict[str, str]:
    if value == NONE_OF_THESE:
        return {"system": CASE_VALUES, "code": value_code(question, value), "display": "None of these"}
    return {"system": CASE_VALUES, "code": value_code(question, value), "display": question.choice_label(value)}



def questionnaire_of(ruleset: RuleSet):  # noqa: ANN202 - the questionnaire, or a clear error
    if ruleset.questionnaire is None:
        raise InputError(f"{ruleset.directory}: this rule set has no interview.yaml")
    return ruleset.questionnaire
