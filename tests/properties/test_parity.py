"""One case, one answer: every path that reads a case gives the same result.

For generated valid cases and for every example and vignette, these agree on
classification, urgency, conditions (with tiers) and alerts:

* the interview pre-filled from the case (`Interview.from_case`);
* `assess --answers` (the case file it saves, scored again);
* `score` (the batch reader and the generated row function);
* the note (its result block) and `explain` (its result).

and that every path reads the same facts - every fact, including those no rule reads yet
(pain quality, medication, investigations, treatment, work, the function measures): the
case itself, the interview, the saved case file, the FHIR QuestionnaireResponse read back,
and the fast batch reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from lbp_assess.consult import session as consultation
from lbp_assess.api import score_record
from lbp_assess.inputs.cases import load_case, validate_any
from lbp_assess.base.errors import InputError
from lbp_assess.model.case import facts_of
from lbp_assess.outputs.explain import explanation
from lbp_assess.consult.interview import Interview
from lbp_assess.outputs.note import build_note
from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, RULES, examples
from generated import cases

RULESET = load_rules(RULES)
FILES = sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted((EXAMPLES / "vignettes").glob("*.yaml"))


def outcome(row: dict) -> tuple:
    return (row["classification"], row["urgency"], row["condition_tiers"], sorted(row["alerts"]))


def every_path(case, folder: Path) -> dict[str, tuple]:
    source = folder / "source.json"
    source.write_text(json.dumps(case.model_dump(mode="json", exclude_unset=True)))
    session = consultation.start(RULESET, folder / "out", answers=source)
    case_path, _, _ = consultation.finish(session, force=True)
    assert_same_facts(case, session.interview, case_path, source)
    return {
        "score": outcome(score_record(source.read_bytes(), "source.json:1")),
        "interview": outcome(Interview.from_case(RULESET, case).assessment().to_row()),
        "assess --answers": outcome(RULESET.assess(load_case(case_path)).to_row()),
        "note": outcome(build_note(case, RULESET.assess(case), RULESET).result),
        "explain": outcome(explanation(case, RULESET)["result"]),
    }


def assert_same_facts(case, interview, case_path: Path, source: Path) -> None:
    from lbp_assess.interop import fhir
    from lbp_assess.model.case import fast_json

    facts = facts_of(case)
    fast = validate_any(msgspec.to_builtins(fast_json(source.read_bytes())), "fast")
    assert facts_of(fast) == facts  # the batch reader reads the file as written
    # A FHIR response carries the answers to the items enabled (the questions the interview asks):
    # read back, those are the facts as written. An answer to a disabled item (a contradiction in the
    # file) cannot travel: a case where that would change the assessment is refused.
    if fhir.uncarried(case, RULESET):
        with pytest.raises(InputError, match="cannot export"):
            fhir.questionnaire_response(case, RULESET)
    else:
        relevant = {q.id for q in interview.relevant_questions() if q.is_fact}
        read = facts_of(validate_any(fhir.questionnaire_response(case, RULESET), "response.json"))
        differ = {k: (v, read[k]) for k, v in facts.items() if k in relevant and read[k] != v}
        assert not differ, ("FHIR", differ)
    # The interview records what a skipped follow-up settles (if_skipped) where the file left it
    # unknown; the case saved is what the interview read. Every fact the file gave is kept as given.
    saved = facts_of(load_case(case_path))
    assert interview.facts() == saved
    assert {k: v for k, v in saved.items() if facts[k] is not None} == {k: v for k, v in facts.items()
                                                                        if v is not None}
    assert set(interview.settled()) >= {k for k, v in saved.items() if facts[k] is None and v is not None}


def assert_one_answer(results: dict[str, tuple]) -> None:
    first = results["score"]
    assert all(r == first for r in results.values()), results


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_example_and_vignette_gives_one_answer(path, tmp_path):
    assert_one_answer(every_path(load_case(path), tmp_path))


@settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=cases())
def test_every_generated_case_gives_one_answer(data, tmp_path_factory):
    case = validate_any(data, "<generated>")
    assert_one_answer(every_path(case, tmp_path_factory.mktemp("parity")))
