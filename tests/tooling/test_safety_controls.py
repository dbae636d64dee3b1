"""Controls of the clinical safety case (docs/safety/hazard-log.md) that no other test showed:
each test names the hazards it is evidence for."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from helpers import EXAMPLES, RULES, edit
from lbp_assess.interop import fhir
from lbp_assess.tooling import validation
from lbp_assess.inputs.cases import load_case
from lbp_assess.model.case import validate_case
from lbp_assess.outputs.note import build_note, render
from lbp_assess.teach.practice import facts_the_rules_depend_on
from lbp_assess.base.yamlio import load_yaml

CASE_FILES = sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted((EXAMPLES / "vignettes").glob("*.yaml"))


def _sections(case, ruleset) -> dict[str, str]:
    data = json.loads(render(build_note(case, ruleset.assess(case), ruleset), "json"))
    return {s["title"]: " ".join(" ".join(line["text"].split()) for line in s["lines"]) for s in data["sections"]}


def test_every_red_flag_condition_is_caught_in_its_agreed_cases(ruleset):
    """H01, H25-H29: every red-flag condition has agreed cases (vignettes, examples, rule tests), and
    each raises the condition at its agreed tier or higher."""
    measured = validation.measure(ruleset, RULES, [EXAMPLES / "vignettes", EXAMPLES / "cases"], mutation=False)
    s = measured.sensitivity
    for condition in ruleset.manifest.conditions:
        cases, caught = s.by_condition.get(condition, (0, 0))
        assert cases >= 2, f"{condition}: fewer than 2 agreed cases"
        assert caught == cases, s.missed
    assert s.caught == s.cases and s.emergency_caught == s.emergency_cases >= 10


def test_a_note_states_the_age_an_age_rule_read(ruleset):
    """H32, H41: when a fired rule read the age, the note's History states it, for the clinician to check."""
    checked = 0
    for path in CASE_FILES:
        case = load_case(path)
        if "patient.age" in facts_the_rules_depend_on(ruleset.assess(case)):
            assert f"Age: {case.patient.age} years" in _sections(case, ruleset)["PC"], path.name
            checked += 1
    assert checked >= 10, "too few example cases with an age rule for this check to mean something"


# Clinical words a patient should not have to know. Named conditions ("cauda equina syndrome",
# "aortic aneurysm", "sepsis") are kept on purpose: the patient is told to say them.
JARGON = re.compile(r"\b(CES|MSCC|AAA|bilateral|paraesth\w*|perianal|sphincter\w*|retention|radicul\w*|neurogenic|"
                    r"claudication|dermatom\w*|myotom\w*|pyrexi\w*|febrile|metasta\w*|haematoma|NSAIDs?|MRC|NRS|"
                    r"urgent care pathway|LBP|MRI)\b", re.I)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_safety_net_advice_is_in_patient_words(path, ruleset):
    """H42: the safety-net says what to look for in patient words and where to go."""
    net = _sections(load_case(path), ruleset).get("Safety-net", "")
    assert net, "every note carries a safety-net"
    assert JARGON.findall(net) == []
    assert re.search(r"emergency department|999|same-day|same day", net)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_an_unscreened_case_is_never_presented_as_screened(path, ruleset):
    """H34: with the cauda equina questions unasked, every output says so: the result's unscreened list
    and alert, the note's summary and its red-flag screen line; never "negative"."""
    data = load_yaml(path.read_text(), str(path))
    data.pop("cauda_equina", None)
    case = validate_case(data, str(path))
    a = ruleset.assess(case)
    screening = {f for f in ruleset.manifest.screening if f.startswith("cauda_equina.")}
    assert screening <= set(a.unscreened)
    assert "red_flag_screen_incomplete" in a.alerts
    sections = _sections(case, ruleset)
    assert "NOT SCREENED" in sections["Summary"] or "incomplete" in sections["Summary"].lower()
    assert re.search(r"Cauda equina screen: (NOT SCREENED|INCOMPLETE|POSITIVE)", sections["Special questions"])
    assert not re.search(r"Cauda equina screen: negative \(", sections["Special questions"])


def test_a_suspected_condition_is_exported_as_a_risk_not_a_diagnosis(ruleset):
    """H38: a red-flag condition leaves as a RiskAssessment (a risk with its tier and reason), never as a
    Condition (a diagnosis on the problem list); the impression says it is decision support."""
    for path in CASE_FILES:
        case = load_case(path)
        if fhir.uncarried(case, ruleset):  # a contradiction FHIR cannot carry: not exported at all
            continue
        bundle = fhir.bundle(case, ruleset)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert "Condition" not in kinds, path.name
        risks = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RiskAssessment"]
        assert len(risks) >= len(ruleset.assess(case).conditions)
        for impression in (e["resource"] for e in bundle["entry"]
                           if e["resource"]["resourceType"] == "ClinicalImpression"):
            assert "not a diagnosis" in json.dumps(impression.get("note", [])), path.name


def test_rules_validate_shows_what_a_local_edit_loses(cli, tmp_path):
    """H06, H44: `rules validate` on an edited copy of the rules names the red flags the edit misses."""
    shipped = cli("rules", "validate")
    assert shipped.code == 0, shipped.out + shipped.err
    assert re.search(r"red-flag sensitivity on \d+ red-flag cases: (\d+)/\1 \(100\.0%\)", shipped.out)
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    # The emergency row of cauda equina no longer fires for features 1 to 14 days old and stable.
    edit(rules / "red_flags.yaml", "onset_days > 14", "onset_days > 0")
    run = cli("rules", "validate", str(rules))
    assert run.code == 1
    assert re.search(r"missed: rule test .*red_flags.yaml:\d+:\d+: cauda_equina agreed emergency, got not raised",
                     run.out)
    assert not re.search(r"red-flag sensitivity on (\d+) red-flag cases: \1/", run.out)
    assert run.out.startswith("rules lbp-default ") and "sha256:" in run.out.splitlines()[0]


def test_rules_validate_refuses_cases_it_cannot_read_as_agreement_on_none(cli, tmp_path):
    """H06: evidence from no cases is no evidence. A mistyped --cases folder, a FIFO, a folder of
    cases none of which is labelled: each refused by name (exit 1), never "agreement on 0 agreed
    cases" and exit 0; a labelled case written .yml, .json or in capitals is read, not skipped."""
    import os

    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "unlabelled").mkdir()
    unlabelled = load_yaml((EXAMPLES / "cases" / "radicular-l5.yaml").read_text(), "radicular-l5.yaml")
    del unlabelled["expected"]
    (tmp_path / "unlabelled" / "case.json").write_text(json.dumps(unlabelled, default=str))
    for named, said in [("missing", "no such folder"), ("pipe.yaml", "not a folder"),
                        ("unlabelled", "no case files with agreed labels")]:
        run = cli("rules", "validate", "--cases", str(tmp_path / named))
        assert run.code == 1, (named, run.out, run.err)
        assert said in run.err and named in run.err and "agreement on" not in run.out
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for suffix, source in [(".yml", "radicular-l5.yaml"), (".json", "stenosis-claudication.yaml"),
                           (".YAML", "ces-saddle-numbness.yaml")]:
        data = load_yaml((EXAMPLES / "cases" / source).read_text(), source)
        (mixed / f"case{suffix}").write_text(json.dumps(data, default=str) if suffix == ".json" else
                                             (EXAMPLES / "cases" / source).read_text())
    run = cli("rules", "validate", "--cases", str(mixed))
    assert run.code == 0, run.out + run.err
    assert "agreement on 3 agreed cases: class 3/3" in run.out


CLAIM = re.compile(r"\b(given|provided|issued|examined|advised|reassured|counselled)\b", re.I)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_the_note_never_claims_what_the_clinician_did(path, ruleset):
    """H32, H42: the note is a handover the clinician signs. Advice given, a card issued, an examination
    done are items for the clinician to confirm (a box to tick), never statements; "not yet examined"
    says what was not done."""
    case = load_case(path)
    for full in (False, True):
        text = render(build_note(case, ruleset.assess(case), ruleset, full=full), "md")
        claims = [line for line in text.splitlines() if CLAIM.search(line)
                  and "[ ]" not in line and "not yet examined" not in line.lower()]
        assert claims == []
