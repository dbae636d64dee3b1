"""Every resource lbp-assess exports, validated by validators independent of the project's own models:

* the SMART on FHIR `fhirclient` R4 models (strict: unknown elements, wrong types, missing required
  elements are errors), over every Bundle (each entry inside it), the Questionnaire, the code systems
  and the if-skipped StructureDefinition;
* the official FHIR R4 JSON schema (compiled with ajv, from the npm registry; `tests/fhir_tools/`),
  over every one of those resources and every entry of every Bundle.

The exported set: the Questionnaire and the definitional resources, and the Bundle of every example,
vignette and follow-up visit. Each validator is shown to fail on a broken resource, so a pass means
something.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fhirclient.models.bundle import Bundle
from fhirclient.models.codesystem import CodeSystem
from fhirclient.models.fhirabstractbase import FHIRValidationError
from fhirclient.models.questionnaire import Questionnaire
from fhirclient.models.structuredefinition import StructureDefinition

from lbp_assess.interop import fhir
from lbp_assess.inputs.cases import load_case, validate_any
from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, RULES

RULESET = load_rules(RULES)
NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone.utc)
CASES = sorted([*(EXAMPLES / "cases").glob("*.yaml"), *(EXAMPLES / "vignettes").glob("*.yaml"),
                *(EXAMPLES / "follow-up").glob("*/*.yaml")])
TOOLS = Path(os.environ.get("LBP_NODE_TOOLS", Path.home() / ".cache" / "lbp-assess" / "node-tools"))
SCRIPT = Path(__file__).parents[1] / "fhir_tools" / "validate-schema.js"
MODELS = {"Bundle": Bundle, "Questionnaire": Questionnaire, "CodeSystem": CodeSystem,
          "StructureDefinition": StructureDefinition}


def exported() -> list[dict]:
    """Every top-level resource the tool writes for the examples (Bundles hold the rest)."""
    return [fhir.questionnaire(RULESET), fhir.case_values(RULESET), fhir.tier_codes(RULESET),
            fhir.assessment_codes(RULESET), fhir.if_skipped_definition(),
            *(fhir.bundle(case, RULESET, NOW) for case in map(load_case, CASES)
              if not fhir.uncarried(case, RULESET)),  # a contradiction FHIR cannot carry is refused
            fhir.bundle(unfinished_form(), RULESET, NOW)]


def unfinished_form():
    """A case read from a form saved in progress: exported as a preliminary document."""
    response = {**fhir.questionnaire_response(load_case(CASES[0]), RULESET), "status": "in-progress"}
    return validate_any(response, "form.json")


EXPORTED = exported()


def every_resource(resources: list[dict]) -> list[dict]:
    """The resources and every entry of every Bundle among them."""
    out = []
    for resource in resources:
        out.append(resource)
        out += [entry["resource"] for entry in resource.get("entry", [])]
    return out


def test_the_export_covers_every_kind_of_resource():
    kinds = {r["resourceType"] for r in every_resource(EXPORTED)}
    assert kinds == {"Questionnaire", "CodeSystem", "StructureDefinition", "Bundle", "Composition", "Patient",
                     "Practitioner", "Device", "QuestionnaireResponse", "Observation", "ClinicalImpression",
                     "RiskAssessment"}
    assert len(CASES) > 50


# --------------------------------------------------------------------------- SMART fhirclient (R4)


def fhirclient_errors(resource: dict) -> str | None:
    try:
        MODELS[resource["resourceType"]](json.loads(json.dumps(resource)), strict=True)
    except FHIRValidationError as err:
        return str(err)
    return None


def test_fhirclient_r4_models_accept_every_exported_resource():
    failures = {f"{r['resourceType']} {r.get('id')}": e for r in EXPORTED if (e := fhirclient_errors(r))}
    assert failures == {}


def test_fhirclient_refuses_a_broken_resource():
    broken = json.loads(json.dumps(EXPORTED[-1]))
    observation = next(e["resource"] for e in broken["entry"] if e["resource"]["resourceType"] == "Observation")
    observation["valueBoolean"] = "yes"
    assert "valueBoolean" in (fhirclient_errors(broken) or "")


# --------------------------------------------------------------------------- the FHIR R4 JSON schema


def schema_errors(resources: list[dict], tmp_path: Path) -> list[dict]:
    node = shutil.which("node")
    if node is None or not (TOOLS / "node_modules" / "@asymmetrik" / "fhir-json-schema-validator").is_dir():
        pytest.skip(f"the FHIR R4 JSON schema validator is not installed in {TOOLS} (node and `npm ci` of "
                    "tests/fhir_tools/package.json; .ci/run installs it)")
    data = tmp_path / "resources.json"
    data.write_text(json.dumps(resources))
    run = subprocess.run([node, str(SCRIPT), str(data)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NODE_PATH": str(TOOLS / "node_modules")})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.slow  # runs node (ajv) over every resource
def test_the_fhir_r4_json_schema_accepts_every_exported_resource(tmp_path):
    resources = every_resource(EXPORTED)
    results = schema_errors(resources, tmp_path)
    assert len(results) == len(resources) > 1000
    failures = [(resources[r["index"]]["resourceType"], resources[r["index"]].get("id"), r["errors"])
                for r in results if r["errors"]]
    assert failures == []


@pytest.mark.slow  # runs node (ajv) over every resource
def test_the_fhir_r4_json_schema_refuses_broken_resources(tmp_path):
    questionnaire = json.loads(json.dumps(EXPORTED[0]))
    questionnaire["item"][0]["type"] = "yes-no"
    bundle = json.loads(json.dumps(EXPORTED[-1]))
    bundle["entry"][0]["resource"]["status"] = "signed"
    results = schema_errors([questionnaire, bundle], tmp_path)
    assert all(r["errors"] for r in results), results
