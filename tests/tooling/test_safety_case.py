"""The clinical safety case is generated from data and stays true: every test it cites as evidence
is collected and passes, its validation numbers are what the rules give, and its data is refused
when a hazard is incomplete."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evidence import EVIDENCE_TEST, RESULTS
from helpers import REPO, RULES
from lbp_assess.tooling import docs
from lbp_assess.tooling import safety_case, validation
from lbp_assess.engine.ruleset.load import load_rules
from lbp_assess.tooling.safety_case import SafetyCaseError, Sources, verdicts

SOURCES = Sources(REPO)
SELF = f"tests/{EVIDENCE_TEST}"


def _run_in_a_separate_pytest(nodes: list[str], tmp_path: Path, *args: str) -> dict[str, str]:
    report = tmp_path / "evidence.json"
    env = {**os.environ, "LBP_EVIDENCE_REPORT": str(report)}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, *nodes],
                   cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    return json.loads(report.read_text()) if report.exists() else {}


# --------------------------------------------------------------------------- the evidence


@pytest.mark.slow
def test_every_cited_test_passed(tmp_path):
    """Runs last (marked slow: it costs nothing in a full run, where every cited test has already run,
    but runs the cited tests again when they were not selected). Each test the safety case cites must have run in this session and passed (not
    skipped, not xfailed, every parametrised case); cited tests this run did not select are run now
    in a separate pytest process."""
    cited = [n for n in SOURCES.all_evidence() if n != SELF]
    assert len(cited) >= 120, "the safety case cites fewer tests than it did: was evidence dropped?"
    for hazard in SOURCES.log.hazards:
        assert [n for n in Sources.evidence_of(hazard) if n != SELF], f"{hazard.id} cites no test"
    results = dict(RESULTS)
    not_run = [n for n in cited if verdicts([n], results)[n] == "not collected"]
    if not_run:
        results.update(_run_in_a_separate_pytest(not_run, tmp_path))
    found = verdicts(cited, results)
    assert {n: v for n, v in found.items() if v != "passed"} == {}


def test_the_evidence_check_fails_on_a_missing_skipped_or_failing_test(tmp_path):
    """The check cannot pass vacuously: it tells a passing test from a missing, skipped, xfailed or
    failing one, and a parametrised test passes only when every case does."""
    (tmp_path / "test_sample.py").write_text(textwrap.dedent("""
        import pytest

        def test_passes(): pass
        def test_fails(): assert False
        @pytest.mark.skip(reason="no")
        def test_skipped(): pass
        @pytest.mark.xfail(reason="no")
        def test_xfails(): assert False
        @pytest.mark.parametrize("n", [1, 2])
        def test_one_case_fails(n): assert n == 1
        @pytest.mark.parametrize("n", [1, 2])
        def test_every_case_passes(n): pass
        @pytest.fixture
        def broken(): raise RuntimeError
        def test_setup_fails(broken): pass
    """))
    report = tmp_path / "report.json"
    env = {**os.environ, "LBP_EVIDENCE_REPORT": str(report), "PYTHONPATH": str(REPO / "tests")}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "evidence",
                    "--rootdir", str(tmp_path), str(tmp_path / "test_sample.py")],
                   cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, timeout=120)
    results = json.loads(report.read_text())
    names = ["test_passes", "test_fails", "test_skipped", "test_xfails", "test_one_case_fails",
             "test_every_case_passes", "test_setup_fails", "test_not_there"]
    assert verdicts([f"test_sample.py::{n}" for n in names], results) == {
        "test_sample.py::test_passes": "passed",
        "test_sample.py::test_fails": "failed",
        "test_sample.py::test_skipped": "skipped",
        "test_sample.py::test_xfails": "xfailed",
        "test_sample.py::test_one_case_fails": "failed",
        "test_sample.py::test_every_case_passes": "passed",
        "test_sample.py::test_setup_fails": "error",
        "test_sample.py::test_not_there": "not collected",
    }


def _safety_root(tmp_path: Path) -> Path:
    """A checkout with a copy of the safety data, and the real tests, docs, rules and examples."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "safety", root / "safety")
    for name in ("tests", "docs", "rules", "examples"):
        (root / name).symlink_to(REPO / name)
    return root


def test_a_cited_test_that_is_not_there_stops_generation(tmp_path):
    root = _safety_root(tmp_path)
    log = root / safety_case.HAZARD_LOG
    log.write_text(log.read_text().replace("test_saddle_numbness_shows_the_red_flag_panel_at_once",
                                           "test_saddle_numbness_shows_a_panel", 1))
    with pytest.raises(SafetyCaseError, match=r"H01: evidence tests/terminal/test_terminal.py::test_saddle_numbness_shows_a_"
                                              r"panel: no such test"):
        Sources(root)


@pytest.mark.parametrize("old, new, message", [
    ("    residual:\n      severity: major\n      severity_because: The harm, if it happens, is the same.\n"
     "      likelihood: very_low\n      likelihood_because: >-\n        A missed feature",
     "    residual:\n      severity: considerable\n      severity_because: The harm, if it happens, is the same.\n"
     "      likelihood: very_low\n      likelihood_because: >-\n        A missed feature",
     "residual severity .considerable. differs from the initial .major.: give residual.severity_change"),
    ("    owner: cso\n    status: open\n    raised: 2026-12-01", "    owner: Dr Smith\n    status: open\n"
     "    raised: 2026-12-01", "owner 'Dr Smith' is not a role"),
    ("      - control: The red-flag panel appears the moment the answer is given in the interview.\n"
     "        kind: detection\n        evidence:\n          - tests/terminal/test_terminal.py::test_saddle_numbness_shows_the"
     "_red_flag_panel_at_once\n",
     "      - control: The red-flag panel appears the moment the answer is given in the interview.\n"
     "        kind: detection\n", "has no evidence"),
    ("    status: open\n    raised: 2026-12-01\n    changed_by: \"#25\"\n\n  - id: H25",
     "    status: open\n    raised: 2026-12-01\n\n  - id: H25", r"hazards\.0\.changed_by: Field required"),
])
def test_an_incomplete_hazard_is_refused_with_what_it_lacks(tmp_path, old, new, message):
    root = _safety_root(tmp_path)
    log = root / safety_case.HAZARD_LOG
    text = log.read_text()
    assert old in text
    log.write_text(text.replace(old, new, 1))
    with pytest.raises(SafetyCaseError, match=message):
        Sources(root)


def test_every_hazard_the_issue_asked_for_is_in_the_log():
    titles = " ".join(h.title.lower() for h in SOURCES.log.hazards)
    for words in ("contradictory instructions", "cauda equina", "spinal cord compression", "infection", "fracture",
                  "aortic aneurysm", "progressive neurological deficit", "over-triage", "safety-netting wrong",
                  "incomplete handover", "wrong service or label", "automation bias", "alert fatigue",
                  "stale rules", "wrong patient at a follow-up", "fhir export", "carry-over",
                  "populations the rules support", "plausible but wrong values", "misunderstands the safety-net",
                  "teaching wrong criteria", "local rule editing"):
        assert words in titles, words
    assert len(SOURCES.log.hazards) >= 40


def test_no_person_is_named_as_clinical_safety_officer():
    cso = SOURCES.roles["cso"]
    assert cso.filled_by.startswith("Not yet appointed") and "names no person" in cso.filled_by
    report = (REPO / safety_case.REPORT_DOC).read_text()
    assert "| Clinical Safety Officer | Not yet appointed." in report


# --------------------------------------------------------------------------- the generated documents


def test_the_safety_documents_are_generated_and_checked_for_staleness():
    expected = docs.generated(REPO, run_mutation=False)
    for name in (safety_case.HAZARD_LOG_DOC, safety_case.VALIDATION_DOC, safety_case.VALIDATION_RECORD,
                 *safety_case.TEMPLATES):
        assert REPO / name in expected, name
    assert [p for p in docs.stale(REPO) if "safety" in str(p)] == []


def test_a_changed_hazard_makes_the_hazard_log_stale(tmp_path):
    root = _safety_root(tmp_path)
    (root / "docs").unlink()
    shutil.copytree(REPO / "docs", root / "docs")
    log = root / safety_case.HAZARD_LOG
    log.write_text(log.read_text().replace("title: Alert fatigue", "title: Alert fatigue in a busy clinic"))
    stale = docs.stale(root)
    assert root / safety_case.HAZARD_LOG_DOC in stale and root / safety_case.REPORT_DOC in stale
    assert docs.main([str(root)]) == 0
    assert "### H35 Alert fatigue in a busy clinic" in (root / safety_case.HAZARD_LOG_DOC).read_text()


def test_every_hazard_links_to_its_tests_at_their_lines():
    text = (REPO / safety_case.HAZARD_LOG_DOC).read_text()
    for hazard in SOURCES.log.hazards:
        section = text.split(f"### {hazard.id} ", 1)[1].split("\n### ", 1)[0]
        for node in Sources.evidence_of(hazard):
            file, line = SOURCES.locate(node)
            assert f"](../../{file}#L{line})" in section, node
            source = (REPO / file).read_text().splitlines()[line - 1]
            assert f"def {node.split('::')[-1].split('[')[0]}(" in source


def test_the_report_lists_every_draft_rule(ruleset):
    report = (REPO / safety_case.REPORT_DOC).read_text()
    draft = [r.id for r in ruleset.rules if r.status != "reviewed"]
    assert draft, "no draft rules: update hazard H22"
    assert f"{len(draft)} of the {len(ruleset.rules)} rules" in report
    assert all(f"`{rule_id}`" in report for rule_id in draft)


def test_document_control_names_the_product_and_rules_it_covers(ruleset):
    from lbp_assess import __version__

    for name in safety_case.TEMPLATES:
        text = (REPO / name).read_text()
        assert f"| Product covered | lbp-assess {__version__} |" in text, name
        assert f"| Rules covered | {ruleset.version} " in text, name
        assert f"| Version | {SOURCES.case.document.version} |" in text


# --------------------------------------------------------------------------- the validation evidence


def test_the_validation_record_is_what_the_rules_give(ruleset):
    record = validation.from_dict(json.loads((REPO / safety_case.VALIDATION_RECORD).read_text()))
    now = validation.measure(ruleset, RULES, [REPO / "examples" / "vignettes", REPO / "examples" / "cases"],
                             mutation=False)
    assert record.rules_version == ruleset.version
    assert (record.agreement, record.sensitivity, record.over_triage) == (now.agreement, now.sensitivity,
                                                                          now.over_triage)
    assert record.mutation is not None and record.mutation.key == validation.mutation_key(RULES)
    assert record.agreement.cases >= 50 and record.sensitivity.cases >= 50


def test_a_weakened_rule_changes_the_validation_evidence(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    red_flags = rules / "red_flags.yaml"
    red_flags.write_text(red_flags.read_text().replace("onset_days > 14", "onset_days > 0"))
    edited = load_rules(rules)
    before = validation.measure(load_rules(RULES), RULES, [REPO / "examples" / "vignettes"], mutation=False)
    after = validation.measure(edited, rules, [REPO / "examples" / "vignettes"], mutation=False)
    assert after.sensitivity.caught < before.sensitivity.caught == before.sensitivity.cases
    assert any("cauda_equina agreed emergency, got urgent" in m for m in after.sensitivity.missed)
    assert validation.mutation_key(rules) != validation.mutation_key(RULES)


def test_relocate_follows_a_test_that_moved_to_another_file(tmp_path):
    root = _safety_root(tmp_path)
    (root / "tests").unlink()
    for path in (REPO / "tests").rglob("test_*.py"):  # every test where it is, but test_expr.py in engine/
        target = root / "tests" / ("engine/test_expr.py" if path.name == "test_expr.py" else path.relative_to(REPO / "tests"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    moved = safety_case.relocate(root)
    assert "tests/model/test_expr.py::test_and_is_kleene -> tests/engine/test_expr.py::test_and_is_kleene" in moved
    assert all(" -> tests/engine/test_expr.py::" in line for line in moved)
    assert "tests/engine/test_expr.py::test_and_is_kleene" in (root / safety_case.HAZARD_LOG).read_text()
    Sources(root)  # every cited test is found again


def test_the_release_recommendation_follows_the_data(tmp_path, ruleset):
    record = validation.from_dict(json.loads((REPO / safety_case.VALIDATION_RECORD).read_text()))
    links = safety_case.Links(SOURCES, safety_case.REPORT_DOC)
    blocked = safety_case.recommendation(SOURCES, links, record)
    assert blocked.startswith("**Not for release for use in patient care** until these are resolved: OI-01 ")
    assert blocked in (REPO / safety_case.REPORT_DOC).read_text()
    root = _safety_root(tmp_path)
    case = root / safety_case.SAFETY_CASE
    case.write_text(case.read_text().replace("blocks_release: true", "blocks_release: false"))
    unblocked = Sources(root)
    text = safety_case.recommendation(unblocked, safety_case.Links(unblocked, safety_case.REPORT_DOC), record)
    threes = [h.id for h in unblocked.log.hazards if h.residual.risk == 3]
    assert text.startswith("**Release for supervised clinical evaluation only**") and threes
    assert all(f"[{h}](" in text for h in threes)
    record.sensitivity.missed.append("a missed red flag")
    assert "a missed red flag" in safety_case.recommendation(unblocked, safety_case.Links(unblocked, "x.md"), record)
