"""One case, one answer: every path that reads a case gives the same result.

For generated valid cases and for every example and vignette, these agree on
classification, urgency, conditions (with tiers) and alerts:

* the interview pre-filled from the case (`Interview.from_case`);
* `assess --answers` (the case file it saves, scored again);
* `score` (the batch reader and the generated row function);
* the note (its result block) and `explain` (its result).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from lbp_assess.consult import session as consultation
from lbp_assess.api import score_record
from lbp_assess.inputs.cases import load_case
from lbp_assess.model.case import validate_case
from lbp_assess.outputs.explain import explanation
from lbp_assess.consult.interview import Interview
from lbp_assess.outputs.note import build_note
from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, RULES
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
    return {
        "score": outcome(score_record(source.read_bytes(), "source.json:1")),
        "interview": outcome(Interview.from_case(RULESET, case).assessment().to_row()),
        "assess --answers": outcome(RULESET.assess(load_case(case_path)).to_row()),
        "note": outcome(build_note(case, RULESET.assess(case), RULESET).result),
        "explain": outcome(explanation(case, RULESET)["result"]),
    }


def assert_one_answer(results: dict[str, tuple]) -> None:
    first = results["score"]
    assert all(r == first for r in results.values()), results


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_example_and_vignette_gives_one_answer(path, tmp_path):
    assert_one_answer(every_path(load_case(path), tmp_path))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=cases())
def test_every_generated_case_gives_one_answer(data, tmp_path_factory):
    case = validate_case(data, "<generated>")
    assert_one_answer(every_path(case, tmp_path_factory.mktemp("parity")))
