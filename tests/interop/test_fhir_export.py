"""What an EHR or document registry needs of the export (#23): document identity across visits, coded
results (Observations, RiskAssessment, ClinicalImpression), the assessor, a configurable canonical
base, and `score` reading what `export` writes (Bundles, NDJSON) next to the non-case resources."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lbp_assess.inputs import fhir_codes
from lbp_assess.interop import fhir
from lbp_assess.inputs.cases import load_case, validate_any

from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, RULES, make_case

RULESET = load_rules(RULES)
NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone.utc)
RADICULAR = EXAMPLES / "cases" / "radicular-l5.yaml"
CES = EXAMPLES / "cases" / "ces-saddle-numbness.yaml"


def export(case, now=NOW, **options) -> dict:
    return fhir.bundle(case, RULESET, now, **options)


def resources(bundle: dict, kind: str | None = None) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if kind is None or e["resource"]["resourceType"] == kind]


def composition(bundle: dict) -> dict:
    return resources(bundle, "Composition")[0]


def reassessed(case, **changes):
    data = case.to_data()
    for section, values in changes.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return validate_any(data, "<reassessed>")


# --------------------------------------------------------------------------- identity


def test_a_reassessment_of_the_same_case_is_a_new_document_of_the_same_assessment():
    first = load_case(RADICULAR)
    later = reassessed(first, assessed_on="2026-12-01", pain={"leg_nrs": 3})
    a, b = export(first), export(later)
    assert a["identifier"] != b["identifier"], "a document's identifier identifies that document"
    assert composition(a)["identifier"] == composition(b)["identifier"] == {
        "system": fhir.ASSESSMENT_ID, "value": "radicular-l5"}, "the assessment keeps its identity across versions"
    ids_a = {r["id"]: r for r in resources(a)}
    for resource in resources(b):  # an id is shared only by resources with the very same content
        if resource["id"] in ids_a:
            assert resource == ids_a[resource["id"]], resource["resourceType"]
    shared = {r["resourceType"] for r in resources(b) if r["id"] in ids_a}
    assert shared <= {"Patient", "Practitioner", "Device", "CodeSystem"}


def test_the_same_case_exported_at_another_time_is_another_document():
    case = load_case(RADICULAR)
    assert export(case)["identifier"] != export(case, NOW + dt.timedelta(hours=1))["identifier"]
    assert export(case) == export(case), "the same case, rules and time give the same document"


def test_an_emergency_is_never_replaced_by_a_routine_result_under_the_same_id():
    ces = load_case(CES)
    settled = reassessed(ces, cauda_equina={"saddle_numbness": False, "urinary_retention": False})
    risky = {r["id"] for r in resources(export(ces), "RiskAssessment")}
    assert risky and not risky & {r["id"] for r in resources(export(settled))}


def test_replaces_links_the_new_version_to_the_document_it_replaces(cli, tmp_path):
    first = tmp_path / "first.json"
    assert cli("export", str(RADICULAR), "-o", str(first)).code == 0
    second = tmp_path / "second.json"
    run = cli("export", str(RADICULAR), "-o", str(second), "--replaces", str(first))
    assert run.code == 0, run.err
    earlier, later = json.loads(first.read_text()), json.loads(second.read_text())
    assert composition(later)["relatesTo"] == [{"code": "replaces", "targetIdentifier": earlier["identifier"]}]
    other = cli("export", str(CES), "--replaces", str(first))
    assert other.code == 1 and "not an assessment of case 'ces-saddle-numbness'" in other.err
    several = cli("export", str(RADICULAR), str(CES), "--replaces", str(first))
    assert several.code == 2


def test_a_follow_up_visit_appends_to_the_assessment_it_follows():
    visit = next((EXAMPLES / "follow-up" / "new-ces").glob("fu-ces-*.case.yaml"))
    case = load_case(visit)
    assert case.follow_up_of is not None
    related = composition(export(case))["relatesTo"]
    assert related == [{"code": "appends", "targetIdentifier": {"system": fhir.ASSESSMENT_ID,
                                                                 "value": case.follow_up_of.id}}]


# --------------------------------------------------------------------------- coded results


def test_pain_scores_and_start_back_scores_are_charted_with_codes():
    case = make_case(assessor="A. Physio", assessed_on="2026-11-30", pain={"back_nrs": 6, "leg_nrs": 2},
                     psychosocial={"start_back": [1, 1, 0, 0, 1, 1, 1, 0, 3]})
    a = RULESET.assess(case)
    observations = {next(c["code"] for c in o["code"]["coding"] if c["system"] in (fhir.CASE_VALUES,
                                                                                     fhir.ASSESSMENT_CODES)): o
                    for o in resources(export(case), "Observation")}
    back = observations["pain.back_nrs"]
    assert back["valueInteger"] == 6 and {"system": "http://loinc.org", "code": "72514-3",
                                          "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
                                          } in back["code"]["coding"]
    assert observations["pain.leg_nrs"]["valueInteger"] == 2
    total = observations["definition.start_back_total"]
    assert total["valueInteger"] == a.value("start_back_total") == 6
    assert observations["definition.start_back_psychosocial"]["valueInteger"] == a.value("start_back_psychosocial") == 4
    assert back["effectiveDateTime"] == "2026-11-30" and back["category"][0]["coding"][0]["code"] == "survey"


def test_every_red_flag_question_is_charted_and_unknown_is_never_no():
    case = make_case(cauda_equina={"saddle_numbness": True, "urinary_retention": None},
                     systemic={"fever": False})
    found = {o["code"]["coding"][0]["code"]: o for o in resources(export(case), "Observation")}
    assert found["cauda_equina.saddle_numbness"]["valueBoolean"] is True
    assert found["systemic.fever"]["valueBoolean"] is False
    assert found["cauda_equina.urinary_retention"]["dataAbsentReason"]["coding"][0]["code"] == "asked-unknown"
    assert found["cauda_equina.bowel_incontinence"]["dataAbsentReason"]["coding"][0]["code"] == "not-asked"
    assert set(RULESET.manifest.screening) <= set(found)
    for observation in found.values():
        assert ("dataAbsentReason" in observation) != any(k.startswith("value") for k in observation)


def test_risk_assessment_and_clinical_impression_are_coded():
    bundle = export(load_case(CES))
    (impression,) = resources(bundle, "ClinicalImpression")
    assert impression["code"]["coding"][0] == {"system": fhir.ASSESSMENT_CODES, "code": "assessment",
                                               "display": fhir.ASSESSMENT_CONCEPTS["assessment"]}
    declared = {c["code"] for c in fhir.assessment_codes(RULESET)["concept"]}
    for finding in impression["finding"]:
        own = [c for c in finding["itemCodeableConcept"]["coding"] if c["system"] == fhir.ASSESSMENT_CODES]
        assert own and own[0]["code"] in declared
    for risk in resources(bundle, "RiskAssessment"):
        assert risk["code"]["coding"][0]["code"] in ("red-flag-condition", "alert")
        assert risk["method"]["coding"][0]["code"] == "rules"
        assert any(c["system"] == fhir.ASSESSMENT_CODES for c in risk["prediction"][0]["outcome"]["coding"])


def test_the_assessor_is_a_practitioner_who_authored_the_answers():
    bundle = export(load_case(RADICULAR))
    (practitioner,) = resources(bundle, "Practitioner")
    assert practitioner["name"] == [{"text": "Example"}]
    reference = {"reference": f"urn:uuid:{practitioner['id']}"}
    assert resources(bundle, "QuestionnaireResponse")[0]["author"] == reference
    assert resources(bundle, "ClinicalImpression")[0]["assessor"] == reference
    assert reference in composition(bundle)["author"]
    anonymous = export(make_case())
    assert not resources(anonymous, "Practitioner") and len(composition(anonymous)["author"]) == 1


# --------------------------------------------------------------------------- canonical base


def test_the_canonical_base_is_configurable_and_read_back(cli, tmp_path, monkeypatch):
    base = "https://fhir.clinic.test/lbp"
    run = cli("questionnaire", "--canonical-base", base)
    assert run.code == 0 and json.loads(run.out)["url"] == f"{base}/Questionnaire/lbp-subjective-history"
    assert fhir_codes.DEFAULT_BASE not in run.out
    monkeypatch.setenv(fhir_codes.BASE_VARIABLE, base)
    bundle = fhir.bundle(load_case(RADICULAR), RULESET, NOW)
    text = json.dumps(bundle)
    assert fhir_codes.DEFAULT_BASE not in text and f"{base}/CodeSystem/case-values" in text
    (response,) = resources(bundle, "QuestionnaireResponse")
    assert validate_any(response, "r.json").pain.root_level == "L5"  # read under the configured base
    monkeypatch.setenv(fhir_codes.BASE_VARIABLE, "not a url")
    refused = cli("export", str(RADICULAR))
    assert refused.code == 2 and fhir_codes.BASE_VARIABLE in refused.err


@pytest.mark.parametrize("base", ["http://[", "https://a]b", "http://host:abc", "http://host:99999", "http://:80"])
def test_a_malformed_canonical_base_is_a_usage_error_never_a_crash(cli, monkeypatch, base):
    """A malformed host or port (which urllib refuses with ValueError) is the usual one-line usage
    error, as an option and in $LBP_FHIR_BASE for what writes FHIR; reading FHIR still knows the
    default base, as it does for any variable that is not a URL (it crashed every FHIR input)."""
    run = cli("questionnaire", "--canonical-base", base)
    assert run.code == 2 and "--canonical-base: expected an absolute http(s) URL" in run.err, run.err
    monkeypatch.setenv(fhir_codes.BASE_VARIABLE, base)
    run = cli("export", str(RADICULAR))
    assert run.code == 2 and f"{fhir_codes.BASE_VARIABLE}: expected" in run.err, run.err
    run = cli("score", str(EXAMPLES / "fhir" / "radicular-l5.response.json"), "-f", "jsonl", "-q")
    assert run.code == 0 and json.loads(run.out)["classification"] == "radicular", run.err


def test_a_note_that_quotes_the_default_base_is_not_rewritten(monkeypatch):
    quoted = f"see {fhir_codes.DEFAULT_BASE}/x"
    monkeypatch.setenv(fhir_codes.BASE_VARIABLE, "https://fhir.clinic.test/lbp")
    bundle = fhir.bundle(make_case(notes={"presenting": fhir_codes.DEFAULT_BASE + "/x"}), RULESET, NOW)
    answers = [i for g in resources(bundle, "QuestionnaireResponse")[0]["item"] for i in g["item"]]
    assert any(a.get("answer") == [{"valueString": fhir_codes.DEFAULT_BASE + "/x"}] for a in answers), quoted


def test_the_if_skipped_extension_has_its_structure_definition():
    definition = fhir.if_skipped_definition()
    assert definition["url"] == fhir.IF_SKIPPED and definition["type"] == "Extension"
    fixed = {e["id"]: e for e in definition["differential"]["element"]}["Extension.url"]["fixedUri"]
    assert fixed == fhir.IF_SKIPPED
    used = {e["url"] for item in json.loads(json.dumps(fhir.questionnaire(RULESET)))["item"]
            for q in item["item"] for e in q.get("extension", [])}
    assert fhir.IF_SKIPPED in used


# --------------------------------------------------------------------------- score reads what export writes


def test_score_reads_a_bundle_and_ndjson_of_bundles_and_of_responses(cli, tmp_path):
    paths = [RADICULAR, CES]
    bundles = tmp_path / "all.ndjson"
    assert cli("export", *map(str, paths), "-o", str(bundles)).code == 0
    responses = tmp_path / "responses.ndjson"
    responses.write_text("".join(json.dumps(resources(json.loads(line), "QuestionnaireResponse")[0]) + "\n"
                                 for line in bundles.read_text().splitlines()))
    expected = [(p.stem, RULESET.assess(load_case(p)).urgency) for p in paths]
    for source in (bundles, responses):
        run = cli("score", str(source), "-f", "json", "-j", "1", "-q")
        rows = json.loads(run.out)
        assert run.code == 0 and [(r["id"], r["urgency"]) for r in rows] == expected, run.out
    single = tmp_path / "one.json"
    single.write_text(bundles.read_text().splitlines()[1])
    row = json.loads(cli("score", str(single), "-f", "json", "-q").out)[0]
    assert (row["id"], row["urgency"], row["file"]) == ("ces-saddle-numbness", "emergency", str(single))


def test_the_export_format_follows_the_output_name_so_every_reader_takes_it_back(cli, tmp_path):
    """Several cases exported to `-o all.json` wrote NDJSON into a .json file: `score` of it was an
    error row (`Extra data`), the emergency inside unscored. Several cases need an NDJSON name; one
    case into an NDJSON name is one line."""
    several = tmp_path / "all.json"
    run = cli("export", str(RADICULAR), str(CES), "-o", str(several))
    assert run.code == 2 and "give a file ending in .ndjson or .jsonl" in run.err and not several.exists()
    one = tmp_path / "one.ndjson"
    assert cli("export", str(CES), "-o", str(one)).code == 0
    assert len(one.read_text().splitlines()) == 1
    row = json.loads(cli("score", str(one), "-f", "jsonl", "-q").out)
    assert (row["id"], row["urgency"], row["file"]) == ("ces-saddle-numbness", "emergency", f"{one}:1")
    single = tmp_path / "one.json"  # one case, a .json name: one Bundle, indented
    assert cli("export", str(CES), "-o", str(single)).code == 0
    assert json.loads(single.read_text())["resourceType"] == "Bundle" and len(single.read_text().splitlines()) > 1


def test_score_reads_every_response_of_a_collection_bundle(cli, tmp_path):
    responses = [resources(export(load_case(p)), "QuestionnaireResponse")[0] for p in (RADICULAR, CES)]
    collection = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": {"resourceType": "Patient"}}, *({"resource": r} for r in responses)]}
    path = tmp_path / "collection.json"
    path.write_text(json.dumps(collection, indent=1))
    rows = json.loads(cli("score", str(path), "-f", "json", "-q").out)
    assert [(r["id"], r["file"]) for r in rows] == [("radicular-l5", f"{path}#entry[1]"),
                                                     ("ces-saddle-numbness", f"{path}#entry[2]")]
    collection["entry"][2]["resource"]["item"][0]["item"][0]["linkId"] = "idd"
    path.write_text(json.dumps(collection, indent=1))
    row = json.loads(cli("score", str(path), "-f", "json", "-q").out)[0]
    assert "unknown linkId `idd`" in row["error"]
    line = int(row["error"].split(":")[1])
    assert '"idd"' in path.read_text().splitlines()[line - 1]


def test_score_examples_with_expect_skips_non_case_fhir_resources_with_a_note(cli):
    run = cli("score", str(EXAMPLES), "--expect", "-f", "jsonl", "-j", "1")
    assert run.code == 0, run.err
    skipped = [line for line in run.err.splitlines() if "skipped" in line]
    assert len(skipped) == len([p for p in (EXAMPLES / "fhir").glob("*.json")
                                if json.loads(p.read_text())["resourceType"] not in ("Bundle", "QuestionnaireResponse")])
    assert all("not a case" in line and "(not counted)" in line for line in skipped)
    named = cli("score", str(EXAMPLES / "fhir" / "questionnaire.json"), "-f", "json", "-q")
    assert named.code == 1 and "a FHIR Questionnaire is not a case" in json.loads(named.out)[0]["error"]


def test_note_and_explain_read_an_exported_bundle(cli, tmp_path):
    path = tmp_path / "ces.json"
    assert cli("export", str(CES), "-o", str(path)).code == 0
    note = cli("note", str(path), "-f", "text")
    assert note.code == 0 and "RED FLAG" in note.out


def test_assessed_at_is_exported_with_its_time_and_read_back():
    """#23 7: `authored` with a time. A case that gives assessed_at carries it, with its UTC offset, as
    QuestionnaireResponse.authored, Observation.effectiveDateTime and RiskAssessment.occurrenceDateTime,
    and reading the response back gives the same assessed_at and assessed_on."""
    from lbp_assess.inputs.fhir_response import read_response

    data = load_case(CES).to_data()
    data.update(assessed_on="2026-11-21", assessed_at="2026-11-21T10:30:00+01:00")
    case = validate_any(data, "timed.yaml")
    doc = export(case)
    stamp = "2026-11-21T10:30:00+01:00"
    response = resources(doc, "QuestionnaireResponse")[0]
    assert response["authored"] == stamp
    observations = resources(doc, "Observation")
    risks = resources(doc, "RiskAssessment")
    assert observations and risks
    assert {o["effectiveDateTime"] for o in observations} == {stamp}
    assert {r["occurrenceDateTime"] for r in risks} == {stamp}
    back = read_response(response, "response.json", ruleset=RULESET)
    assert back.assessed_at == case.assessed_at and back.assessed_at.utcoffset() == dt.timedelta(hours=1)
    assert back.assessed_on == case.assessed_on


@pytest.mark.parametrize("authored, at, on", [
    ("2026-11-21", None, "2026-11-21"),
    ("2026-11-21T23:30:00Z", "2026-11-21T23:30:00+00:00", "2026-11-21"),
    ("2026-11-21T00:15:00.5-05:00", "2026-11-21T00:15:00.500000-05:00", "2026-11-21"),
])
def test_authored_is_read_as_the_date_and_the_time_of_the_assessment(authored, at, on):
    from lbp_assess.inputs.fhir_response import read_response

    case = load_case(RADICULAR).model_copy(update={"assessed_on": None, "assessed_at": None})
    response = dict(resources(export(case), "QuestionnaireResponse")[0], authored=authored)
    back = read_response(response, "response.json", ruleset=RULESET)
    assert (back.assessed_at.isoformat() if back.assessed_at else None, back.assessed_on.isoformat()) == (at, on)


def test_a_case_without_a_time_keeps_the_date_alone():
    doc = export(load_case(CES))
    response = resources(doc, "QuestionnaireResponse")[0]
    assert response["authored"] == load_case(CES).assessed_on.isoformat()
    assert {o["effectiveDateTime"] for o in resources(doc, "Observation")} == {response["authored"]}


@pytest.mark.parametrize("authored,error", [
    ("2026-11-21", None), ("2026-11-21T10:00:00+14:00", None), ("2026-11-21T10:00:00.123Z", None),
    ("2026-11-21xxxx", "expected a FHIR dateTime"), ("2026-11-21T10:00:00+23:59", "at most +/-14:00"),
    ("2026-11-21T25:00:00Z", "expected a FHIR dateTime"), ("2026-11-21T10:00", "expected a FHIR dateTime"),
])
def test_authored_is_a_fhir_date_time_or_refused(cli, tmp_path, authored, error):
    """QuestionnaireResponse.authored: a date, or a date and time with its offset within the 14 hours
    FHIR allows; anything after the date that is not one is refused at its place, never dropped."""
    data = json.loads((EXAMPLES / "fhir" / "radicular-l5.response.json").read_text())
    data["authored"] = authored
    (tmp_path / "r.json").write_text(json.dumps(data))
    row = json.loads(cli("score", str(tmp_path / "r.json"), "-f", "jsonl", "-q").out)
    if error is None:
        assert row["error"] is None and row["assessed_on"] == "2026-11-21"
    else:
        assert error in row["error"] and "r.json:1:" in row["error"], row["error"]
