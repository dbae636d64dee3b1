"""The summary note: snapshots of the examples' notes, the contents every note must carry,
and the plain-text form that pastes into a clinical record."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest

from lbp_assess.case import load_case
from lbp_assess.note import build_note, render

from helpers import EXAMPLES

SNAPSHOTS = Path(__file__).parent / "snapshots"
CASES = sorted((EXAMPLES / "cases").glob("*.yaml"))
TODAY = dt.date(2026, 11, 22)


def note_of(path: Path, ruleset, fmt: str = "md") -> str:
    case = load_case(path)
    return render(build_note(case, ruleset.assess(case), ruleset, TODAY), fmt)


def stable(text: str) -> str:
    """Snapshots do not change with the tool version or the rules' content hash."""
    text = re.sub(r"sha256:[0-9a-f]{12}", "sha256:<hash>", text)
    return re.sub(r"lbp-assess \d+\.\d+\.\d+\S*", "lbp-assess <version>", text)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_note_snapshot(path, ruleset):
    """Regenerate with LBP_UPDATE_SNAPSHOTS=1 after an intended change, and review the diff."""
    got = stable(note_of(path, ruleset))
    snapshot = SNAPSHOTS / f"{path.stem}.note.md"
    if os.environ.get("LBP_UPDATE_SNAPSHOTS") or not snapshot.exists():
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(got)
        if not os.environ.get("LBP_UPDATE_SNAPSHOTS"):
            pytest.fail(f"wrote a new snapshot {snapshot.name}; review it and run again")
    assert got == snapshot.read_text()


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_note_carries_what_policy_requires(path, ruleset):
    case = load_case(path)
    a = ruleset.assess(case)
    text = note_of(path, ruleset, "text")
    assert "Decision support only, not a diagnosis." in text
    assert a.rules_version in text and "lbp-assess" in text
    for rule_id in a.rules_fired:
        rule = next(r for r in ruleset.rules if r.id == rule_id)
        assert rule_id in text and " ".join(rule.source.split())[:30] in " ".join(text.split())
    for fact in a.unscreened:
        label = ruleset.questionnaire.label(fact)
        assert f"{label}: NOT SCREENED" in text
    if {"radicular_likely", "stenosis_likely"} & set(a.findings):
        assert "Give written cauda equina safety-net advice" in " ".join(text.split())
    for name, tier in a.conditions.items():
        assert f"RED FLAG: {ruleset.manifest.conditions[name].label} - {tier.upper()}" in text
    assert "diagnosis:" not in text.lower()


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_text_note_pastes_cleanly(path, ruleset):
    text = note_of(path, ruleset, "text")
    for line in text.splitlines():
        assert len(line) <= 100, line
        assert not line.startswith(("#", ">", "**")) and "**" not in line


def test_contradictions_are_repeated_in_the_note(ruleset):
    text = note_of(EXAMPLES / "cases" / "contradictory-answers.yaml", ruleset, "text")
    assert "Answers to check: leg side is none, but leg symptoms reach thigh" in text


def test_weak_flags_are_noted_not_acted_on(ruleset):
    text = " ".join(note_of(EXAMPLES / "cases" / "non-specific-acute.yaml", ruleset, "text").split())
    assert "Flags noted (weak on their own, no action alone): Night pain that settles with position" in text


def test_json_note_has_sections_and_the_result(ruleset):
    data = json.loads(note_of(EXAMPLES / "cases" / "ces-saddle-numbness.yaml", ruleset, "json"))
    assert data["result"]["classification"] == "red_flag"
    titles = [s["title"] for s in data["sections"]]
    assert titles[0] == "Summary" and "Clinical impression" in titles and "Rules fired" in titles


def test_note_command_formats_and_no_overwrite(cli, tmp_path):
    case = str(EXAMPLES / "cases" / "stenosis-claudication.yaml")
    md = cli("note", case)
    assert md.code == 0 and md.out.startswith("# Low back pain assessment")
    text = cli("note", case, "--format", "text")
    assert text.out.startswith("LOW BACK PAIN ASSESSMENT")
    out = tmp_path / "n.md"
    assert cli("note", case, "-o", str(out)).code == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    again = cli("note", case, "-o", str(out))
    assert again.code == 1 and "already exists; use --force to overwrite" in again.err
    bad = cli("note", str(tmp_path / "missing.yaml"))
    assert bad.code == 1 and "missing.yaml: no such file" in bad.err


def test_assess_without_a_terminal_points_to_answers(cli, tmp_path):
    run = cli("assess", "--out", str(tmp_path), stdin=b"")
    assert run.code == 2
    assert "no terminal to ask" in run.err and "--answers FILE" in run.err and "Traceback" not in run.err


def test_assess_with_complete_answers_writes_private_files_once(cli, tmp_path):
    answers = str(EXAMPLES / "cases" / "ces-saddle-numbness.yaml")
    run = cli("assess", "--answers", answers, "--out", str(tmp_path), stdin=b"")
    assert run.code == 0, run.err
    case_file, note_file = tmp_path / "ces-saddle-numbness.case.yaml", tmp_path / "ces-saddle-numbness.note.md"
    for path in (case_file, note_file):
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "RED FLAG: Cauda equina syndrome - EMERGENCY" in run.out
    assert load_case(case_file).cauda_equina.saddle_numbness is True
    before = note_file.read_text()
    again = cli("assess", "--answers", answers, "--out", str(tmp_path), stdin=b"")
    assert again.code == 1 and "already exists; use --force" in again.err
    assert note_file.read_text() == before
    assert cli("assess", "--answers", answers, "--out", str(tmp_path), "--force", stdin=b"").code == 0
