"""The vignette bank: enough cases, balanced, every one with a narrative and agreeing labels."""

from __future__ import annotations

from collections import Counter

from lbp_assess.inputs.cases import load_case

from helpers import EXAMPLES

VIGNETTES = sorted((EXAMPLES / "vignettes").glob("*.yaml"))


def test_bank_is_large_and_balanced():
    cases = [load_case(p) for p in VIGNETTES]
    assert len(cases) >= 30
    assert all(c.vignette and len(c.vignette) > 150 and c.expected for c in cases)
    classes = Counter(c.expected.classification for c in cases)
    tiers = Counter(c.expected.urgency for c in cases)
    assert min(classes[k] for k in ("non_specific", "radicular", "stenosis", "red_flag")) >= 4
    assert min(tiers[k] for k in ("emergency", "urgent", "soon", "routine")) >= 4


def test_score_expect_agrees_on_every_vignette(cli):
    run = cli("score", str(EXAMPLES / "vignettes"), "--expect", "-f", "jsonl")
    assert run.code == 0, run.err
    n = len(VIGNETTES)
    assert f"classification {n}/{n} (100.0%)" in run.err and f"conditions     {n}/{n} (100.0%)" in run.err
