"""The shipped example cases: every class and tier, each agreeing with its `expected:`."""

from __future__ import annotations

import json

from lbp_assess.inputs.cases import load_case

from helpers import EXAMPLES

CASES = sorted((EXAMPLES / "cases").glob("*.yaml"))


def test_examples_cover_every_class_and_tier():
    expected = [load_case(p).expected for p in CASES]
    assert len(CASES) >= 12
    assert {e.classification for e in expected} == {"non_specific", "radicular", "stenosis", "red_flag"}
    assert {e.urgency for e in expected} == {"emergency", "urgent", "soon", "routine"}


def test_score_gives_every_example_its_expected_label(cli):
    run = cli("score", str(EXAMPLES / "cases"), "--format", "jsonl")
    assert run.code == 0, run.err
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert len(rows) == len(CASES)
    for row in rows:
        expected = load_case(row["file"]).expected
        assert (row["classification"], row["urgency"], sorted(row["conditions"])) == (
            expected.classification, expected.urgency, sorted(expected.conditions)), row["file"]
