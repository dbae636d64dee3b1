"""HL7 FHIR R4 ids and codings shared by reading and writing: the canonical base and its URLs
(`LBP_FHIR_BASE`, `rebase`), the case-values code system, item types and value codes of questions,
the STarT Back scales.
"""

from __future__ import annotations

import os
import urllib.parse
import uuid
from typing import Any

from ..base.errors import InputError, UsageError
from ..engine.questionnaire import Question
from ..engine.ruleset.model import RuleSet


DEFAULT_BASE = "https://lbp-assess.example/fhir"
#: The canonical base of the project's URLs (Questionnaire, code systems, naming systems, the if-skipped
#: extension). A service publishing the Questionnaire sets its own (`--canonical-base` or this variable).
BASE_VARIABLE = "LBP_FHIR_BASE"
BASE = DEFAULT_BASE  # the URLs below are under the default base; `rebase` moves a resource to another
QUESTIONNAIRE_URL = f"{BASE}/Questionnaire/lbp-subjective-history"
CASE_VALUES = f"{BASE}/CodeSystem/case-values"
TIERS = f"{BASE}/CodeSystem/urgency-tier"
ASSESSMENT_CODES = f"{BASE}/CodeSystem/assessment"
IF_SKIPPED = f"{BASE}/StructureDefinition/if-skipped"
CASE_ID = f"{BASE}/NamingSystem/case-id"
ASSESSMENT_ID = f"{BASE}/NamingSystem/assessment"
SYSTEMS = {"SNOMED CT": "http://snomed.info/sct", "ICD-10": "http://hl7.org/fhir/sid/icd-10",
           "LOINC": "http://loinc.org"}
EXT = "http://hl7.org/fhir/StructureDefinition/"
ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
ITEM_CONTROL = "http://hl7.org/fhir/questionnaire-item-control"
ORDINAL_VALUE = f"{EXT}ordinalValue"  # R4: the score of a Coding
ITEM_WEIGHT = f"{EXT}itemWeight"  # R5 and SDC: the score of an answer option
CONSTRAINT = f"{EXT}questionnaire-constraint"
UCUM = {"years": "a", "weeks": "wk", "days": "d", "minutes": "min"}
NONE_OF_THESE = "none_of_these"  # the exclusive option of a multiple-choice item: "none of these"
# STarT Back answers: the number the case format records, a code and the words of the response options
# (items 1-8: disagree/agree, item 9: not at all ... extremely).
START_BACK_SCALES = ({0: ("disagree", "Disagree"), 1: ("agree", "Agree")},
                     {0: ("not_at_all", "Not at all"), 1: ("slightly", "Slightly"), 2: ("moderately", "Moderately"),
                      3: ("very_much", "Very much"), 4: ("extremely", "Extremely")})
ID_NAMESPACE = uuid.UUID("6f1d2c3e-8b9a-4c5d-9e0f-1a2b3c4d5e6f")


def canonical_base(base: str | None = None) -> str:
    """The canonical base: `base`, else $LBP_FHIR_BASE, else the documented default; an absolute
    http(s) URL without a query, fragment or trailing slash."""
    chosen = base if base is not None else os.environ.get(BASE_VARIABLE) or DEFAULT_BASE
    try:  # urlsplit and port refuse a malformed host ("http://[") or port (":abc", ":99999")
        parts = urllib.parse.urlsplit(chosen)
        malformed = parts.port == 0 or not parts.hostname or parts.scheme not in ("http", "https") \
            or bool(parts.query or parts.fragment)
    except ValueError:
        malformed = True
    if malformed or chosen.endswith("/") or not chosen.isascii() or any(c.isspace() or ord(c) < 32 for c in chosen):
        where = "--canonical-base" if base is not None else BASE_VARIABLE
        raise UsageError(f"{where}: expected an absolute http(s) URL without a trailing slash, query or "
                         f"fragment (such as {DEFAULT_BASE}), got {repr(chosen)[:80]}")
    return chosen


#: The keys whose values are the project's canonical URLs (never free text: a note may quote a URL).
_URL_KEYS = frozenset({"url", "system", "questionnaire", "protocol", "fullUrl", "valueCanonical", "valueUri",
                       "fixedUri"})


def rebase(resource: Any, base: str) -> Any:
    """The resource with every project URL under `base` instead of the default base."""
    if base == DEFAULT_BASE:
        return resource

    def move(value: Any, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: move(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v, key) for v in value]
        if key in _URL_KEYS and isinstance(value, str) and value.startswith(DEFAULT_BASE + "/"):
            return base + value[len(DEFAULT_BASE):]
        return value

    return move(resource, None)




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
    return "text" if question.id.startswith("notes.") else "string"


def value_code(question: Question, value: Any) -> str:
    return f"{question.id}.{value}"


def coding(question: Question, value: Any) -> dict[str, str]:
    if value == NONE_OF_THESE:
        return {"system": CASE_VALUES, "code": value_code(question, value), "display": "None of these"}
    return {"system": CASE_VALUES, "code": value_code(question, value), "display": question.choice_label(value)}


def start_back_scale(question: Question, number: int) -> dict[int, tuple[str, str]]:
    """The answers of STarT Back item `number` (1-based): score -> (code, words)."""
    return START_BACK_SCALES[number == len(question.items)]


def start_back_coding(question: Question, number: int, score: int) -> dict[str, Any]:
    """An answer of a STarT Back item as a Coding, its score in ordinalValue."""
    code, words = start_back_scale(question, number)[score]
    return {"extension": [{"url": ORDINAL_VALUE, "valueDecimal": score}],
            "system": CASE_VALUES, "code": f"{question.id}.{code}", "display": words}



def questionnaire_of(ruleset: RuleSet):  # noqa: ANN202 - the questionnaire, or a clear error
    if ruleset.questionnaire is None:
        raise InputError(f"{ruleset.directory}: this rule set has no interview.yaml")
    return ruleset.questionnaire
