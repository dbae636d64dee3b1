"""Follow-up visits: starting from the last visit, `follow_up_of`, the note's "Since last visit"
section, `compare` (two visits and a series) and the rows `score` writes for a follow-up.

In-process through the real entry point (`cli` fixture) and the library. The example pairs in
examples/follow-up were written by `assess --follow-up ... --answers ...` itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbp_assess.consult import followup
from lbp_assess.outputs import visits
from lbp_assess.outputs.note import since_last_visit
from lbp_assess.inputs.cases import load_case
from lbp_assess.model.case import validate_case
from lbp_assess.consult.interview import NOT_ANSWERED, Interview
from lbp_assess.engine.ruleset.load import check_rules, load_rules

from helpers import EXAMPLES, RULES, examples

RULESET = load_rules(RULES)
SCREENING = RULESET.manifest.screening


def _as_written_today(pair: str) -> tuple[Path, Path]:
    """An example pair as `assess --follow-up` would write it with today's rules: the committed
    files record the rules of the day they were written, which every rule edit changes."""
    folder = Path(tempfile.mkdtemp(prefix="lbp-follow-up-")) / pair
    folder.mkdir()
    earlier, later = sorted((EXAMPLES / "follow-up" / pair).glob("*.case.yaml"), key=lambda p: len(p.name))

    def today(text: str) -> str:
        return re.sub(r"lbp-default \S+ sha256:[0-9a-f]{12}", RULESET.version, text)

    (folder / earlier.name).write_text(today(earlier.read_text()))
    (folder / later.name).write_text(today(later.read_text()).replace(
        visits.file_hash(earlier.read_bytes()), visits.file_hash((folder / earlier.name).read_bytes())))
    return folder / earlier.name, folder / later.name


PAIRS = EXAMPLES / "follow-up"
RADICULAR, RADICULAR_LATER = _as_written_today("improving-radicular")
CES_BEFORE, CES_LATER = _as_written_today("new-ces")
STENOSIS, STENOSIS_LATER = _as_written_today("stenosis-resolved")
VISIT_DATE = dt.date(2026, 12, 5)


def one_line_error(run, code: int = 1) -> str:
    assert run.code == code, (run.code, run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lbp-assess: "), run.err
    assert "Traceback" not in run.err and "internal error" not in run.err
    return lines[0]


def new_visit(tmp_path: Path, source: Path, **changes) -> Path:
    """This visit's answers as a case file: `source` with `changes` (section -> fields, None removes)."""
    data = yaml.safe_load(source.read_text())
    data.pop("expected", None)
    data.pop("follow_up_of", None)
    for section, fields in changes.items():
        if fields is None:
            data.pop(section, None)
        elif isinstance(fields, dict):
            data.setdefault(section, {}).update(fields)
        else:
            data[section] = fields
    path = tmp_path / "new.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --------------------------------------------------------------------------- the case format


def test_follow_up_of_is_validated_with_a_located_one_line_error(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: lbp-case/1\nid: b\nfollow_up_of:\n  id: a\n  file_hash: md5:abc\n")
    line = one_line_error(cli("note", str(bad)))
    assert "bad.yaml:5" in line and "follow_up_of.file_hash" in line and "sha256" in line
    typo = tmp_path / "typo.yaml"
    typo.write_text("format: lbp-case/1\nid: b\nfollow_up_of:\n  id: a\n  assesed_on: 2026-11-01\n")
    assert "did you mean `assessed_on`" in one_line_error(cli("note", str(typo)))
    run = cli("score", str(bad), "-f", "jsonl", "-q")  # the fast batch reader refuses it too
    assert run.code == 1 and "follow_up_of.file_hash" in json.loads(run.out)["error"]


def test_a_case_without_follow_up_of_reads_as_before():
    case = load_case(EXAMPLES / "cases" / "radicular-l5.yaml")
    assert case.follow_up_of is None and "follow_up_of" not in case.to_data()


# --------------------------------------------------------------------------- starting a follow-up


def start(previous: Path = RADICULAR) -> Interview:
    interview, refused = followup.start(RULESET, visits.read_visit(previous), today=VISIT_DATE)
    assert refused == {}
    return interview


def test_a_follow_up_asks_what_changed_first_and_every_red_flag_afresh():
    interview = start()
    first = interview.current()
    assert first.id == "progression.course" and first.text == "Since the last visit, is it..."
    assert interview.progress().section == "Since last visit"
    assert [q.id for q in interview.questions[:4]] == ["progression.course", "pain.back_nrs", "pain.leg_side",
                                                       "pain.leg_nrs"]
    previous = load_case(RADICULAR)
    assert previous.cauda_equina.saddle_numbness is False  # answered last time ...
    for fact in SCREENING:  # ... but never carried over: no answer and no default
        question = interview.questionnaire.by_id[fact]
        assert fact not in interview.answers and interview.default(question) is NOT_ANSWERED
        assert question in interview.missing()
    assert interview.case_data().get("cauda_equina") is None


def test_earlier_stable_history_is_offered_as_defaults_not_answers():
    interview = start()
    by_id = interview.questionnaire.by_id
    assert interview.default(by_id["patient.age"]) == 41 and "patient.age" not in interview.answers
    assert interview.default(by_id["history.smoker"]) is False
    assert interview.default(by_id["onset.weeks_ago"]) == 5.0  # 3 weeks then, 14 days between the visits
    assert interview.default(by_id["id"]) == "fu-radicular-2026-12-05"
    assert "patient" not in interview.case_data()  # a default counts only once given
    assert interview.default(by_id["pain.leg_nrs"]) is NOT_ANSWERED  # what may have changed: asked afresh


def test_a_red_flag_never_takes_a_suggestion():
    interview = Interview(RULESET)
    refused = interview.suggest({"cauda_equina.saddle_numbness": False, "patient.age": 50})
    assert set(refused) == {"cauda_equina.saddle_numbness"} and "afresh" in refused["cauda_equina.saddle_numbness"]
    assert interview.default(interview.questionnaire.by_id["patient.age"]) == 50


def test_a_follow_up_draft_resumes_as_a_follow_up(tmp_path):
    interview = start()
    interview.answer("improving")
    draft = tmp_path / "draft.json"
    interview.save_draft(draft)
    resumed, notes = Interview.from_draft(RULESET, draft)
    assert notes == [] and resumed.follow_up_of == interview.follow_up_of
    assert resumed.current().id == "pain.back_nrs" and resumed.suggestions == interview.suggestions
    assert resumed.case_data()["follow_up_of"]["id"] == "fu-radicular"


def test_scripted_follow_up_records_where_it_came_from(cli, tmp_path):
    answers = new_visit(tmp_path, RADICULAR, id="later", assessed_on="2026-12-05", patient=None, onset=None,
                        pain={"leg_nrs": 2})
    run = cli("assess", "--follow-up", str(RADICULAR), "--answers", str(answers), "--out", str(tmp_path / "o"),
              stdin=b"")
    assert run.code == 0, run.err
    assert "kept from the last visit, not asked again: patient.age, patient.sex, onset.weeks_ago" in run.err
    case = load_case(tmp_path / "o" / "later.case.yaml")
    record = case.follow_up_of
    assert (record.id, record.assessed_on) == ("fu-radicular", dt.date(2026, 11, 21))
    assert record.file_hash == visits.file_hash(RADICULAR.read_bytes())
    header = re.search(r"^# rules: (.+?); ", RADICULAR.read_text(), re.M).group(1)
    assert record.rules_version == header  # what the earlier file says it was assessed with
    assert record.carried_over[:3] == ["patient.age", "patient.sex", "onset.weeks_ago"]
    assert case.onset.weeks_ago == 5.0 and case.patient.age == 41 and case.pain.leg_nrs == 2
    assert not set(record.carried_over) & set(SCREENING)
    note = (tmp_path / "o" / "later.note.md").read_text()
    assert note.index("## Since last visit") < note.index("## Summary")
    assert "Leg pain: 7/10 -> 2/10 (-5)." in note


def test_scripted_follow_up_without_this_visits_red_flag_answers_stops(cli, tmp_path):
    answers = new_visit(tmp_path, RADICULAR, id="later", assessed_on="2026-12-05", cauda_equina=None)
    line = one_line_error(cli("assess", "--follow-up", str(RADICULAR), "--answers", str(answers),
                              "--out", str(tmp_path / "o"), stdin=b""), code=2)
    assert "cauda_equina.urinary_retention" in line and "red-flag questions are asked afresh" in line
    assert not (tmp_path / "o" / "later.case.yaml").exists()


def test_a_follow_up_dated_before_the_previous_visit_is_refused(cli, tmp_path):
    answers = new_visit(tmp_path, RADICULAR, id="later", assessed_on="2026-11-01")
    line = one_line_error(cli("assess", "--follow-up", str(RADICULAR), "--answers", str(answers), stdin=b""))
    assert "2026-11-21" in line and "after this visit" in line


# --------------------------------------------------------------------------- comparing visits


def compare(old: Path, new: Path):
    return visits.compare(visits.read_visit(old), visits.read_visit(new), RULESET)


def test_compare_an_improving_radicular_picture():
    c = compare(RADICULAR, RADICULAR_LATER)
    assert not c.new_red_flags and not c.resolved_red_flags and not c.classification.change
    changes = {x.label: x for x in c.since_last_visit}
    assert (changes["Leg pain"].then, changes["Leg pain"].now, changes["Leg pain"].change) == ("7/10", "3/10", "-4")
    assert changes["Furthest extent"].now == "below the knee" and changes["Furthest extent"].change == "changed"
    assert c.warnings == [] and c.days == 14


def test_compare_new_cauda_equina_puts_the_red_flag_first(cli):
    run = cli("compare", str(CES_BEFORE), str(CES_LATER), "--format", "text")
    assert run.code == 0, run.err
    lines = run.out.split("SINCE LAST VISIT\n", 1)[1].splitlines()
    assert lines[0].startswith("- Follow-up of fu-ces (2026-11-21, 14 days ago)")
    assert lines[1] == "- NEW RED FLAG since last visit: Cauda equina syndrome - EMERGENCY (same day, now)."
    assert lines[2] == "- NEW positive red-flag answer since last visit: Saddle numbness."
    assert "- Urgency: ROUTINE -> EMERGENCY (higher)." in lines


def test_compare_stenosis_resolved_as_json(cli):
    run = cli("compare", str(STENOSIS), str(STENOSIS_LATER), "--format", "json")
    data = json.loads(run.out)
    assert data["classification"]["change"] == "changed" and data["urgency"]["change"] == ""
    assert data["classification"]["now"] == "non_specific"  # codes, with the words beside them
    assert data["classification"]["now_label"] == "Features consistent with non-specific low back pain"
    assert data["urgency"]["now"] == "routine" and data["urgency"]["now_label"] == "ROUTINE"
    walking = next(x for x in data["since_last_visit"] if x["field"] == "walking.leg_symptoms_on_walking")
    assert (walking["then"], walking["now"]) == (True, False)
    assert (walking["then_label"], walking["now_label"], walking["label"]) == ("yes", "no", "Leg symptoms on walking")
    assert data["new_red_flags"] == [] and data["unchanged"] is False


def test_compare_json_names_red_flags_by_code_with_their_words(cli):
    data = json.loads(cli("compare", str(CES_BEFORE), str(CES_LATER), "--format", "json").out)
    assert data["new_red_flags"] == [{"condition": "cauda_equina", "tier": "emergency", "was": None,
                                      "label": "Cauda equina syndrome - EMERGENCY (same day, now)"}]
    assert {"fact": "cauda_equina.saddle_numbness", "label": "Saddle numbness"} in data["new_positive"]
    assert data["urgency"]["now"] == "emergency" and data["urgency"]["now_label"] == "EMERGENCY"


def test_a_red_flag_that_resolves_is_listed_as_resolved():
    later = visits.read_visit(CES_LATER)
    settled = visits.read_visit(CES_BEFORE).case.model_copy(update={  # a third visit: CES answers negative again
        "id": "fu-ces-2026-12-19", "assessed_on": dt.date(2026, 12, 19),
        "follow_up_of": validate_case({"format": "lbp-case/1", "id": "x", "follow_up_of": {
            "id": later.case.id, "file_hash": later.file_hash}}, "x").follow_up_of})
    c = visits.compare(later, visits.Visit(settled, "third.case.yaml"), RULESET)
    assert c.resolved_red_flags == ["Cauda equina syndrome (was EMERGENCY)"] and not c.new_red_flags
    assert c.urgency.change == "lower"


def test_start_back_change_is_given_as_scores_and_stratum():
    def visit(case_id, day, items):
        return visits.Visit(validate_case({"format": "lbp-case/1", "id": case_id, "assessed_on": day,
                                             "psychosocial": {"start_back": items}}, case_id), case_id)
    c = visits.compare(visit("a", "2026-11-01", [1, 1, 1, 0, 1, 1, 1, 0, 4]),
                         visit("b", "2026-11-15", [1, 0, 0, 0, 0, 0, 0, 0, 1]), RULESET)
    lines = [line.text for line in since_last_visit(c, c.now.case, RULESET).lines]
    assert "STarT Back total: 7 -> 1 (-6)." in lines
    assert "STarT Back psychosocial subscore: 4 -> 0 (-4)." in lines
    assert "Alerts new since last visit: STarT Back: low risk." in lines
    assert "Alerts cleared: STarT Back: high risk." in lines
    assert not any(line.startswith("Other answers changed") for line in lines)  # not the items again


CASE_FILES = sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted((EXAMPLES / "vignettes").glob("*.yaml"))


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CASE_FILES), st.integers(0, 60))
def test_a_follow_up_with_every_answer_unchanged_reports_no_change(path, days):
    previous = visits.read_visit(path)
    assume_dated = previous.case.assessed_on or dt.date(2026, 11, 21)
    data = previous.case.to_data()
    data["assessed_on"] = assume_dated.isoformat()
    previous = visits.Visit(validate_case(data, "previous"), "previous", previous.file_hash)
    visit_date = assume_dated + dt.timedelta(days=days)
    answers = validate_case({"format": "lbp-case/1", "id": "later", "assessed_on": visit_date.isoformat()}, "t")
    interview, _ = followup.start(RULESET, previous, answers)
    advancing = RULESET.questionnaire.follow_up.advance_with_time
    interview.prefill({qid: v for qid, v in Interview.from_case(RULESET, previous.case).answers.items()
                       if qid != "id" and qid not in advancing})
    interview.keep_suggestions()  # the duration grown by the days between the visits, as Enter keeps it
    case = interview.case()
    c = visits.compare(previous, visits.Visit(case, "later"), RULESET)
    before, after = RULESET.assess(previous.case), RULESET.assess(case)
    if days == 0 or (before.classification, before.urgency, before.conditions) == (
            after.classification, after.urgency, after.conditions):
        assert c.new_red_flags == c.resolved_red_flags == c.changed == [], c.to_data()
        assert not any(x.change for x in c.since_last_visit), c.to_data()
    if days == 0:
        assert c.unchanged, c.to_data()
        assert (after.classification, after.urgency, after.conditions) == (
            before.classification, before.urgency, before.conditions)
        section = since_last_visit(c, case, RULESET)
        assert section.lines[-1].text == "No change since last visit: every answer and the result are the same."


def test_rules_version_differs_warns_and_says_which(cli, tmp_path):
    old = tmp_path / "old.case.yaml"
    old.write_text(RADICULAR.read_text().replace(RULESET.version, "lbp-default 0.9.0 sha256:0123456789ab"))
    c = compare(old, RADICULAR_LATER)
    changed, warning = c.warnings
    assert f"The previous case file {old} has changed since this follow-up was recorded" in changed
    assert "Rules version differs: last visit assessed with rules lbp-default 0.9.0 sha256:0123456789ab" in warning
    assert f"both visits are scored here with rules {RULESET.version}" in warning
    assert compare(RADICULAR, RADICULAR_LATER).warnings == []
    later = tmp_path / "later.case.yaml"
    later.write_text(RADICULAR_LATER.read_text().replace(
        f'rules_version: "{RULESET.version}"', 'rules_version: "lbp-default 0.9.0 sha256:0123456789ab"'))
    note = cli("note", str(later), "--previous", str(RADICULAR)).out
    assert "Rules version differs: last visit assessed with rules lbp-default 0.9.0" not in note  # file wins
    shutil.copy(old, tmp_path / "fu-radicular.case.yaml")
    note = cli("note", str(later), "--previous", str(tmp_path / "fu-radicular.case.yaml")).out
    assert "**Rules version differs: last visit assessed with rules lbp-default 0.9.0" in note
    assert "The previous case file" in note and "has changed since this follow-up was recorded" in note


# --------------------------------------------------------------------------- the note of a saved follow-up


def test_the_note_finds_the_previous_visit_beside_the_file_by_its_hash(cli, tmp_path):
    shutil.copy(CES_LATER, tmp_path / "later.yaml")
    shutil.copy(CES_BEFORE, tmp_path / "renamed-earlier.yaml")  # found by content, not by name
    note = cli("note", str(tmp_path / "later.yaml")).out
    assert note.index("## Since last visit") < note.index("## Summary")
    assert "**NEW RED FLAG since last visit: Cauda equina syndrome - EMERGENCY" in note


def test_without_the_previous_visit_the_note_says_how_to_give_it(cli, tmp_path):
    shutil.copy(CES_LATER, tmp_path / "later.yaml")
    note = cli("note", str(tmp_path / "later.yaml"), "--format", "text").out
    assert "- Follow-up of fu-ces (2026-11-21). The previous case file was not found beside this one" in note
    assert "NEW RED FLAG" not in note


def test_previous_of_another_case_is_a_one_line_error(cli):
    line = one_line_error(cli("note", str(CES_LATER), "--previous", str(RADICULAR)))
    assert "is case 'fu-radicular'" in line and "follows case 'fu-ces'" in line
    line = one_line_error(cli("note", str(RADICULAR), "--previous", str(CES_BEFORE)))
    assert "--previous is for a follow-up visit" in line


# --------------------------------------------------------------------------- series and batch


def test_series_of_a_folder_in_date_order(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    for path in (STENOSIS_LATER, STENOSIS):
        shutil.copy(path, tmp_path / path.name)
    third = tmp_path / "third.yaml"
    third.write_text(new_visit(tmp_path, STENOSIS_LATER, id="fu-stenosis-3", assessed_on="2027-01-09",
                               cauda_equina={"saddle_numbness": True, "onset_days": 1, "worsening": True},
                               follow_up_of={"id": "fu-stenosis-2026-12-05"}).read_text())
    (tmp_path / "new.yaml").unlink()
    rows = json.loads(cli("compare", "--series", str(tmp_path), "-f", "json").out)
    assert [r["id"] for r in rows] == ["fu-stenosis", "fu-stenosis-2026-12-05", "fu-stenosis-3"]
    assert [r["classification"] for r in rows] == ["stenosis", "non_specific", "red_flag"]
    assert [r["leg_nrs"] for r in rows] == [6, 1, 1]
    assert rows[2]["new_red_flags"] == ["cauda_equina:emergency"]
    assert rows[2]["red_flags"] == ["cauda_equina:emergency"] and rows[1]["red_flags"] == []
    table = list(csv.DictReader(io.StringIO(cli("compare", "--series", str(tmp_path), "-f", "csv").out)))
    assert [r["urgency"] for r in table] == ["routine", "routine", "emergency"]
    assert table[1]["follow_up_of"] == "fu-stenosis"
    shown = cli("compare", "--series", str(tmp_path), "-f", "table").out
    assert "NEW Cauda equina" in shown and "2027-01-09" in shown


def test_series_refuses_a_visit_that_follows_a_case_not_among_them(cli):
    run = cli("compare", "--series", str(RADICULAR), str(CES_LATER), "-f", "json")
    assert run.code == 1 and run.out == ""
    assert ("fu-ces-2026-12-05.case.yaml: is a follow-up of case fu-ces, which is not among these visits: "
            "visits of another patient") in run.err


def test_compare_usage_errors(cli):
    assert cli("compare", str(RADICULAR)).code == 2
    assert cli("compare", str(RADICULAR), str(RADICULAR_LATER), "-f", "csv").code == 2
    assert cli("compare", "--series", str(RADICULAR), "-f", "md").code == 2


def test_score_rows_of_a_follow_up_carry_follow_up_of_and_fail_on_works(cli):
    run = cli("score", str(PAIRS), "-f", "jsonl", "-q", "--fail-on", "emergency")
    assert run.code == 3
    rows = {r["id"]: r for r in map(json.loads, run.out.splitlines())}
    assert rows["fu-ces-2026-12-05"]["follow_up_of"] == "fu-ces" and rows["fu-ces"]["follow_up_of"] is None
    assert "first fu-ces-2026-12-05" in run.err or "fu-ces-2026-12-05" in run.err
    header = cli("score", str(PAIRS), "-f", "csv", "-q").out.splitlines()[0]
    assert "follow_up_of" in header.split(",")


def test_every_example_follow_up_records_its_previous_file_exactly():
    for later in PAIRS.glob("*/*-2026-12-05.case.yaml"):
        case = load_case(later)
        previous = later.parent / f"{case.follow_up_of.id}.case.yaml"
        assert case.follow_up_of.file_hash == visits.file_hash(previous.read_bytes()), later


# --------------------------------------------------------------------------- interview.yaml follow_up is checked


@pytest.mark.parametrize("edit,message", [
    (lambda f: f["offer_earlier"].append("cauda_equina.saddle_numbness"), "is asked afresh at every visit"),
    (lambda f: f["ask_first"].remove("pain.leg_side"), "is asked when `pain.leg_side` allows"),
    (lambda f: f["ask_first"].append("pain.leg_sid"), "unknown question `pain.leg_sid`"),
    (lambda f: f["advance_with_time"].append("patient.age"), "measured in weeks or days"),
])
def test_rules_check_refuses_a_follow_up_that_would_carry_a_red_flag_or_misorder(tmp_path, edit, message):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    data = yaml.safe_load((rules / "interview.yaml").read_text())
    edit(data["follow_up"])
    (rules / "interview.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    problems = [p for p in check_rules(rules) if p.severity == "error"]
    assert any(message in p.message and "interview.yaml" in str(p.location) for p in problems), problems


# --------------------------------------------------------------------------- "same as last time?"


def _follow_up_of_fu_ces() -> Interview:
    interview, _ = followup.start(RULESET, visits.read_visit(EXAMPLES / "follow-up" / "new-ces" / "fu-ces.case.yaml"))
    while interview.offer() is None:  # answer up to the 24-hour pattern
        question = interview.current()
        interview.answer(interview.suggestions.get(question.id))
    return interview


def test_the_24_hour_pattern_is_offered_whole_and_kept_on_one_answer():
    interview = _follow_up_of_fu_ces()
    offer = interview.offer()
    assert offer.label == "24-hour pattern, aggravating and easing"
    assert {q.id for q, _ in offer.earlier} <= {qid for qid in interview.suggestions if qid.startswith("behaviour.")}
    interview.take_offer(offer, True)
    earlier = load_case(EXAMPLES / "follow-up" / "new-ces" / "fu-ces.case.yaml").behaviour
    for question, value in offer.earlier:
        assert interview.answers[question.id] == value == getattr(earlier, question.id.split(".")[1])
    assert not interview.current().id.startswith("behaviour.")
    assert interview.offer() is None  # offered once


def test_not_the_same_asks_each_with_last_times_answer_as_the_default():
    interview = _follow_up_of_fu_ces()
    offer = interview.offer()
    interview.take_offer(offer, False)
    first, value = offer.earlier[0]
    assert interview.current() is first and interview.default(first) == value
    assert first.id not in interview.answers and interview.offer() is None


def test_red_flags_are_never_offered_from_the_last_visit(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    path = copy / "interview.yaml"
    path.write_text(path.read_text().replace("        - behaviour.worse_cough_sneeze\n",
                                             "        - behaviour.worse_cough_sneeze\n"
                                             "        - cauda_equina.saddle_numbness\n"))
    problems = check_rules(copy)
    assert any("cauda_equina.saddle_numbness` must be in offer_earlier" in str(p) for p in problems), problems


def test_an_answer_settled_by_another_is_compared_as_its_value_not_as_not_asked(tmp_path):
    """The leg is better: no leg symptoms now, so the leg questions are not asked and the case records
    what "no leg symptoms" settles (leg pain 0, back only, no pins and needles). The comparison said
    "Leg pain: 7/10 -> not asked" beside "Outcome - Leg pain (NRS): 7 -> 0"; it now gives the settled
    value, says it was settled, and lists no change where the settled value is the earlier answer."""
    text = RADICULAR_LATER.read_text()
    for old, new in [("leg_side: right", "leg_side: none"), ("leg_nrs: 3", "leg_nrs: 0"),
                     ("leg_extent: below_knee", "leg_extent: none"), ("dominant: leg", "dominant: back"),
                     ("dermatomal: true", "dermatomal: false"), ('  root_level: "L5"\n', ""),
                     ("paraesthesia: true", "paraesthesia: false")]:
        assert old in text
        text = text.replace(old, new)
    later = tmp_path / RADICULAR_LATER.name
    later.write_text(text)
    shutil.copy(RADICULAR, tmp_path / RADICULAR.name)
    c = compare(tmp_path / RADICULAR.name, later)
    changes = {x.label: x for x in c.since_last_visit + c.changed}
    leg = changes["Leg pain"]
    assert (leg.then, leg.now, leg.change, leg.now_value) == ("7/10", "0/10 (settled by another answer)", "-7", 0)
    assert changes["Pins and needles"].now == "no (settled by another answer)"
    assert "Numbness" not in changes  # "no" then, "no" settled now: the same answer
    assert not [x for x in changes.values() if x.now == "not asked" and x.then != "not asked"
                and x.field in ("pain.leg_nrs", "pain.leg_extent", "pain.dominant", "neuro.paraesthesia")]
    # "Unsure" at the last visit is an answer: a settled value now is a change from it, not "Unchanged".
    earlier = tmp_path / RADICULAR.name
    earlier.write_text(earlier.read_text().replace("  numbness: false", "  numbness: null"))
    later.write_text(later.read_text().replace(visits.file_hash(RADICULAR.read_bytes()),
                                               visits.file_hash(earlier.read_bytes())))
    numbness = {x.label: x for x in compare(earlier, later).changed}["Numbness"]
    assert (numbness.then, numbness.now, numbness.change) == ("unsure / not asked", "no (settled by another answer)",
                                                              "changed")
