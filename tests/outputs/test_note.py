"""The summary note: snapshots of the examples' notes, the contents every note must carry,
and the plain-text form that pastes into a clinical record."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import pytest

from lbp_assess.inputs.cases import load_case
from lbp_assess.outputs.handover import handover
from lbp_assess.outputs.note import build_note, render

from helpers import EXAMPLES, make_case

SNAPSHOTS = Path(__file__).parents[1] / "snapshots"
CASES = sorted((EXAMPLES / "cases").glob("*.yaml"))
TODAY = dt.date(2026, 11, 22)


def note_of(path: Path, ruleset, fmt: str = "md", full: bool = False) -> str:
    case = load_case(path)
    return render(build_note(case, ruleset.assess(case), ruleset, TODAY, full=full), fmt)


def note_of_case(case, ruleset, fmt: str = "text", full: bool = False) -> str:
    return render(build_note(case, ruleset.assess(case), ruleset, TODAY, full=full), fmt)


def stable(text: str) -> str:
    """Snapshots do not change with the tool version or the rules' content hash."""
    text = re.sub(r"sha256:[0-9a-f]{12}", "sha256:<hash>", text)
    return re.sub(r"lbp-assess \d+\.\d+\.\d+\S*", "lbp-assess <version>", text)


@pytest.mark.parametrize("full", [False, True], ids=["record", "full"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_note_snapshot(path, full, ruleset):
    """Regenerate with LBP_UPDATE_SNAPSHOTS=1 after an intended change, and review the diff."""
    got = stable(note_of(path, ruleset, full=full))
    snapshot = SNAPSHOTS / f"{path.stem}.{'full.' if full else ''}note.md"
    if os.environ.get("LBP_UPDATE_SNAPSHOTS") or not snapshot.exists():
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(got)
        if not os.environ.get("LBP_UPDATE_SNAPSHOTS"):
            pytest.fail(f"wrote a new snapshot {snapshot.name}; review it and run again")
    assert got == snapshot.read_text()


@pytest.mark.parametrize("full", [False, True], ids=["record", "full"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_note_carries_what_policy_requires(path, full, ruleset):
    case = load_case(path)
    a = ruleset.assess(case)
    text = note_of(path, ruleset, "text", full)
    flat = " ".join(text.split())
    assert "Decision support only, not a diagnosis." in text
    assert a.rules_version in text and "lbp-assess" in text
    h = handover(a)
    plan_only = {row.rule.id for g in h.groups for row in g.rows if g.tier is None and not g.lead.label}
    superseded = {r.id for r in ruleset.rules if (r.raises, r.name) in h.superseded}
    for rule_id in a.rules_fired:
        rule = next(r for r in ruleset.rules if r.id == rule_id)
        reason = " ".join(rule.reason.split())
        if not full and rule_id in superseded:  # policy v7 6.3: only the full note names it
            assert reason not in flat
            continue
        if not full and rule_id in plan_only:  # the CES card: a Plan item, no Impression line
            assert " ".join(rule.action.split()) in flat
            continue
        assert " ".join(rule.source.split())[:30] in flat and flat.count(reason) == 1, "each reason once"
        assert (rule_id in text) is full  # the record note names rules by what they found, the full note by id
    for fact in a.unscreened:
        label = ruleset.questionnaire.label(fact)
        assert re.search(rf"NOT SCREENED[^.]*{re.escape(label)}", flat), label  # named as not screened
    if {"radicular_likely", "stenosis_likely"} & set(a.findings):
        assert "Cauda equina syndrome - written advice card" in " ".join(text.split())
    # Each condition and alert with a tier once, at its highest tier, by its highest row's own label
    # (policy v7 2.4, 6.3); the governing one opens the Summary with its time frame and action.
    tiers = ruleset.manifest.tiers
    for group in h.groups:
        if group.tier is None:
            continue
        if group.lead is h.governing:
            kind = "RED FLAG" if group.kind == "condition" else "ALERT"
            assert flat.startswith(f"{tiers[group.tier].label.upper()} - {kind}: {group.lead.label} - "
                                   f"{group.lead.time_frame}. {group.lead.action}", flat.index("SUMMARY - ") + 10)
        else:
            kind = "RED FLAG" if group.kind == "condition" else "ALERT"
            assert flat.count(f"{kind}: {group.lead.label} - {tiers[group.tier].label.upper()}") == 1
    for name in a.alerts:
        assert f"RED FLAG: {ruleset.manifest.alerts[name].label}" not in text  # an alert is not called a red flag
    assert "diagnosis:" not in text.lower()
    # Clinical wording, not the engine's: no "fact = value", no "(alert) = no", "1 week" not "1 weeks".
    # (The STarT Back line is the policy's own: "STarT Back 2/9, psychosocial 1/5 = low risk".)
    assert " = " not in re.sub(r"psychosocial \d/5 = ", "", text) and "(alert)" not in text and "(finding)" not in text
    assert not re.search(r"\b1 (weeks|days|years|minutes)\b", text)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_record_note_is_short_enough_to_paste(path, ruleset):
    """About 60 lines with the UK subjective headings (PC, HPC, 24-hour pattern, special questions,
    PMH, DH, SH, goals, each only with content): the Markdown note (what `note` prints and the
    interview saves) at most 80, the plain text wrapped at 100 columns at most 100 - and shorter
    than the full note. (Policy v7 made the handover complete: the written CES card and every
    fired rule's action are in it.)"""
    # Lines with words: the blank line that keeps each paragraph and block title apart in
    # CommonMark (review S14) adds nothing to read.
    assert len([line for line in note_of(path, ruleset).splitlines() if line.strip()]) <= 80
    record = note_of(path, ruleset, "text").splitlines()
    full = note_of(path, ruleset, "text", full=True).splitlines()
    assert len(record) <= 100, len(record)
    assert len(record) < 0.8 * len(full)


# Cases whose urgency is set by an alert or a condition: the Summary opens with that row's own
# label, time frame and action (issue 9, item 3; policy v7 6.1).
DRIVERS = [("bilateral-sciatica-ces-at-risk", "URGENT", "Radicular symptoms in both legs (cauda equina at risk)"),
           ("vascular-claudication", "SOON", "Possible vascular claudication (peripheral arterial disease)"),
           ("weak-flags-combined", "SOON", "Several weak serious-pathology flags together"),
           ("radicular-weakness", "SOON", "Radicular pain with reported weakness"),
           ("ces-saddle-numbness", "EMERGENCY", "Suspected cauda equina syndrome")]


@pytest.mark.parametrize("name,tier,driver", DRIVERS, ids=[d[0] for d in DRIVERS])
def test_summary_names_what_set_the_urgency(name, tier, driver, ruleset):
    flat = " ".join(note_of(EXAMPLES / "cases" / f"{name}.yaml", ruleset, "text").split())
    assert re.search(rf"SUMMARY - {tier} - (RED FLAG|ALERT): {re.escape(driver)} - ", flat), flat[:600]
    plan = flat[flat.index(" PLAN - "):]
    assert plan.startswith(f" PLAN - {tier} - "), plan[:300]  # and the Plan opens with its action
    assert "Red flags raised: none" not in flat


def test_foot_drop_urgency_is_named_as_an_alert(ruleset):
    flat = " ".join(note_of(EXAMPLES / "vignettes" / "v15-stable-foot-drop.yaml", ruleset, "text").split())
    assert "SUMMARY - URGENT - ALERT: Foot drop (significant motor deficit) - discuss today." in flat
    assert "RED FLAG: Foot drop" not in flat and "Red-flag conditions raised: none." in flat


def test_relevant_negatives_are_those_the_impression_rests_on(ruleset):
    flat = " ".join(note_of(EXAMPLES / "cases" / "bilateral-sciatica-ces-at-risk.yaml", ruleset, "text").split())
    # "yes" to weakness would raise an alert; weakness in both legs is not asked once weakness is no
    assert "Pins and needles. Relevant negatives: Weakness: no; Numbness: no. HPC" in flat  # under PC
    # ("no numbness" beside pins and needles: a neurological negative a clinician records)


def test_red_flag_screen_is_one_compact_block(ruleset):
    text = note_of(EXAMPLES / "cases" / "radicular-l5.yaml", ruleset, "text")
    flat = " ".join(text.split())
    assert "Cauda equina screen: negative (6 of 7 asked, 1 settled by an earlier answer)" in flat
    assert "Systemic screen: negative (4 of 4 asked)" in flat
    assert "Saddle numbness:" not in text  # the screen is summarised, not listed item by item
    unscreened = " ".join(note_of(EXAMPLES / "cases" / "unscreened-red-flags.yaml", ruleset, "text").split())
    # Never "negative" for questions that were not asked, nor "negative as far as asked" with none asked.
    assert "Cauda equina screen: INCOMPLETE - none of its questions asked (0 of 7 asked, 1 settled by an earlier " \
           "answer) (NOT SCREENED: " \
           "Difficulty passing urine, Reduced bladder sensation" in unscreened
    assert "Systemic screen: INCOMPLETE - negative as far as asked (2 of 4 asked) (NOT SCREENED: Night sweats, " \
           "Generally unwell)" in unscreened
    assert "Red-flag screen INCOMPLETE - NOT SCREENED" in unscreened.split(" PC ")[0]  # in the summary


def test_a_screen_with_nothing_asked_is_not_screened_and_a_positive_feature_is_positive(ruleset):
    from lbp_assess.outputs.note import build_note

    nothing = make_case(patient={"age": 70})
    flat = " ".join(render(build_note(nothing, ruleset.assess(nothing), ruleset), "text").split())
    assert "Cauda equina screen: NOT SCREENED (0 of 7 asked)" in flat and "negative (0 " not in flat
    both_legs = make_case(neuro={"weakness": True, "weakness_both_legs": True}, cauda_equina={
        f: False for f in ("urinary_retention", "bladder_sensation_reduced", "urinary_incontinence",
                           "bowel_incontinence", "saddle_numbness", "sexual_dysfunction")})
    flat = " ".join(render(build_note(both_legs, ruleset.assess(both_legs), ruleset), "text").split())
    assert "Cauda equina screen: POSITIVE - Weakness in both legs (7 of 7 asked)" in flat


def test_unknown_answers_that_keep_a_red_flag_open_are_named(ruleset):
    flat = " ".join(note_of(EXAMPLES / "cases" / "unscreened-red-flags.yaml", ruleset, "text").split())
    # A higher tier than the governing one, left open: asked before the patient leaves (policy v7 6.6).
    assert re.search(r"Ask before the patient leaves: [^.]*Saddle numbness[^.]*\(a yes can make this EMERGENCY: "
                     r"Suspected cauda equina syndrome\)", flat), flat[:1500]
    assert flat.index("Ask before the patient leaves") < flat.index("Impression: Provisional")


def test_history_items_are_worded_alike_in_the_full_note(ruleset):
    text = note_of(EXAMPLES / "cases" / "radicular-l5.yaml", ruleset, "text", full=True)
    history = text[text.index("MEDICAL HISTORY"):text.index("PROGRESSION")]
    answers = {line.split(": ", 1)[1] for line in history.splitlines()[1:] if ": " in line}
    assert answers <= {"yes", "no", "YES", "NOT SCREENED"}, answers
    assert "negative" not in text


def _radicular(**changes):
    base = {"patient": {"age": 40}, "pain": {"leg_side": "left", "leg_extent": "foot", "dominant": "leg",
                                           "dermatomal": True},
            "neuro": {"paraesthesia": True}, "onset": {"weeks_ago": 2}, "progression": {"course": "improving"}}
    for section, values in changes.items():
        base[section] = {**base.get(section, {}), **values} if isinstance(values, dict) else values
    return make_case(**base)


def test_advice_fits_how_long_and_how_it_is_going(ruleset):
    acute = " ".join(note_of_case(_radicular(), ruleset).split())
    assert "Review within about 2 weeks; consider a spinal opinion" in acute
    late = " ".join(note_of_case(_radicular(onset={"weeks_ago": 10}, progression={"course": "static"}),
                                 ruleset).split())
    assert "Review within about 2 weeks; consider a spinal opinion" not in late
    assert "Not clearly improving after 6 weeks or more: discuss a spinal opinion now" in late
    better = " ".join(note_of_case(_radicular(onset={"weeks_ago": 10}), ruleset).split())
    assert "Improving after 6 weeks or more" in better and "Not clearly improving" not in better


def test_safety_net_fits_where_the_pain_is_and_does_not_overlap(ruleset):
    foot = " ".join(note_of_case(_radicular(), ruleset).split())
    assert "spreads below the knee" not in foot  # the pain is in the foot already
    # Cancer not asked: the MSCC block (call now) says the leg lines, more strongly than "contact the
    # clinician"; the CES card says weakness in both legs or getting worse.
    assert "Leg pain spreading further or getting worse" in foot and "Contact the clinician" not in foot
    assert "Cauda equina syndrome - written advice card" in foot
    assert "Seek same-day emergency care for new difficulty passing urine" not in foot  # said once, not twice
    back = " ".join(note_of(EXAMPLES / "cases" / "non-specific-acute.yaml", ruleset, "text").split())
    assert "Contact the clinician if pain spreads below the knee" in back
    assert "Seek same-day emergency care for new difficulty passing urine" in back
    assert "cauda equina card given" not in back


def test_reassurance_waits_for_a_complete_red_flag_screen(ruleset):
    flat = " ".join(note_of(EXAMPLES / "cases" / "unscreened-red-flags.yaml", ruleset, "text").split())
    assert "serious causes have been screened for" not in flat
    assert "Ask the red-flag questions not yet screened" in flat


def test_free_text_keeps_its_lines_and_is_shown_safely(ruleset):
    case = _radicular(notes={"presenting": "Fell on ice.\n# not a heading\n**3 days** ago"})
    # Case files refuse control characters; a library caller's Case is shown safely all the same.
    case = case.model_copy(update={"id": "a\x1b]0;pwned\x07b"})
    md = note_of_case(case, ruleset, "md")
    # Control characters escaped (display.plain), then Markdown's own characters: reads as typed.
    assert "\x1b" not in md and "\x07" not in md and "a\\\\x1b\\]0;pwned\\\\x07b" in md
    # Inside its bullet, a line that would start a heading is escaped: it reads as typed.
    assert "## HPC\n" in md and "- Fell on ice.\n  \\# not a heading\n  \\*\\*3 days\\*\\* ago" in md  # under HPC
    assert "**3 days**" not in md  # emphasis typed in free text is shown as typed, not in bold
    text = note_of_case(case, ruleset, "text")
    assert "- Fell on ice.\n  # not a heading\n  **3 days** ago" in text


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
    text = " ".join(note_of(EXAMPLES / "cases" / "weak-flags-combined.yaml", ruleset, "text").split())
    assert "Flags noted (weak on their own, no action alone): Age over 50: weak alone, matters in combination" in text
    # Policy v6: night pain that settles with position and previous episodes are not flags.
    ordinary = " ".join(note_of(EXAMPLES / "cases" / "non-specific-acute.yaml", ruleset, "text").split())
    assert "Night pain: wakes on turning, then settles" in ordinary and "Flags noted" not in ordinary


def test_json_note_has_sections_and_the_result(ruleset):
    data = json.loads(note_of(EXAMPLES / "cases" / "ces-saddle-numbness.yaml", ruleset, "json"))
    assert data["result"]["classification"] == "red_flag"
    titles = [s["title"] for s in data["sections"]]
    assert titles == ["Summary", "PC", "HPC", "24-hour pattern", "Special questions", "DH", "Impression", "Plan",
                      "Safety-net"]  # the UK subjective headings that have content
    full = json.loads(note_of(EXAMPLES / "cases" / "ces-saddle-numbness.yaml", ruleset, "json", full=True))
    titles = [s["title"] for s in full["sections"]]
    assert titles[0] == "Summary" and "Clinical impression" in titles and "Rules fired" not in titles


def test_note_command_formats_and_no_overwrite(cli, tmp_path):
    case = str(EXAMPLES / "cases" / "stenosis-claudication.yaml")
    md = cli("note", case)
    assert md.code == 0 and md.out.startswith("# Low back pain assessment")
    text = cli("note", case, "--format", "text")
    assert text.out.startswith("LOW BACK PAIN ASSESSMENT - RECORD NOTE")
    full = cli("note", case, "--format", "text", "--full")
    assert full.out.startswith("LOW BACK PAIN ASSESSMENT - SUBJECTIVE SUMMARY")
    assert len(full.out.splitlines()) > len(text.out.splitlines()) + 30
    out = tmp_path / "n.md"
    assert cli("note", case, "-o", str(out)).code == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    again = cli("note", case, "-o", str(out))
    assert again.code == 1 and "already exists; use --force to overwrite" in again.err
    bad = cli("note", str(tmp_path / "missing.yaml"))
    assert bad.code == 1 and "missing.yaml: no such file" in bad.err


def test_assess_without_a_terminal_points_to_answers_and_makes_no_folder(cli, tmp_path):
    out = tmp_path / "notes"
    run = cli("assess", "--out", str(out), stdin=b"")
    assert run.code == 2
    assert "no terminal to ask" in run.err and "--answers FILE" in run.err and "Traceback" not in run.err
    assert not out.exists()  # refused before anything is made (an empty owner-only folder was left)


def test_assess_with_complete_answers_writes_private_files_once(cli, tmp_path):
    answers = str(EXAMPLES / "cases" / "ces-saddle-numbness.yaml")
    run = cli("assess", "--answers", answers, "--out", str(tmp_path), stdin=b"")
    assert run.code == 0, run.err
    case_file, note_file = tmp_path / "ces-saddle-numbness.case.yaml", tmp_path / "ces-saddle-numbness.note.md"
    for path in (case_file, note_file):
        assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "EMERGENCY - RED FLAG: Suspected cauda equina syndrome - now" in run.out
    assert load_case(case_file).cauda_equina.saddle_numbness is True
    before = note_file.read_text()
    again = cli("assess", "--answers", answers, "--out", str(tmp_path), stdin=b"")
    assert again.code == 1 and "already exists; use --force" in again.err
    assert note_file.read_text() == before
    assert cli("assess", "--answers", answers, "--out", str(tmp_path), "--force", stdin=b"").code == 0


def test_text_note_wraps_to_the_width_asked(ruleset):
    case = load_case(EXAMPLES / "cases" / "radicular-l5.yaml")
    note = build_note(case, ruleset.assess(case), ruleset)
    narrow = render(note, "text", 60)
    assert max(len(line) for line in narrow.splitlines()) <= 60
    assert " ".join(narrow.split()) == " ".join(render(note, "text").split())  # the same words
