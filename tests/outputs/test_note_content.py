"""The record note's handover content (issue #20 item 5, policy v7 6 "Content"), as a clinician
reading the note would check it: "Based on" names every fact a fired rule used with its value
(every true one, not only the first the engine needed), and never one it could have used that is
false or that decided nothing."""

from __future__ import annotations

import datetime as dt

from lbp_assess.inputs.cases import load_case
from lbp_assess.outputs.note import build_note, render

from helpers import EXAMPLES, make_case

TODAY = dt.date(2026, 12, 5)
CASES = EXAMPLES / "cases"
VIGNETTES = EXAMPLES / "vignettes"


def note(path, ruleset, full: bool = False, fmt: str = "md") -> str:
    case = load_case(path)
    return render(build_note(case, ruleset.assess(case), ruleset, TODAY, full=full), fmt)


def flat(path, ruleset, full: bool = False) -> str:
    return " ".join(note(path, ruleset, full, "text").split())


def based_on(text: str, label: str) -> str:
    """The "Based on: ..." of the Impression line that starts with `label`."""
    line = next(line for line in text.splitlines() if line.startswith(f"- {label}"))
    return line[line.index("Based on: ") + len("Based on: "):]


# --------------------------------------------------------------------------- S3: Based on


def test_ces_based_on_names_both_features_the_onset_and_that_it_is_worsening(ruleset):
    shown = based_on(note(CASES / "ces-saddle-numbness.yaml", ruleset), "Suspected cauda equina syndrome")
    assert shown == ("Reduced bladder sensation: yes; Saddle numbness: yes; "
                     "Days since bladder, bowel or saddle symptoms began: 2/7; Those symptoms worsening: yes.")


def test_v21_based_on_names_the_saddle_numbness_as_well_as_the_urine(ruleset):
    shown = based_on(note(VIGNETTES / "v21-ces-acute-saddle.yaml", ruleset), "Suspected cauda equina syndrome")
    assert "Difficulty passing urine: yes" in shown and "Saddle numbness: yes" in shown
    assert "Those symptoms worsening: yes" in shown
    # never the CES features it could have used but that are false
    for absent in ("Urinary incontinence", "Bowel incontinence", "Reduced bladder sensation", "Sexual dysfunction"):
        assert absent not in shown, absent


def test_a_count_names_its_counted_criteria_never_the_ones_not_asked(ruleset):
    """NG65: the four criteria that counted; not the five the file never asked ("not asked")."""
    shown = based_on(note(VIGNETTES / "v06-inflammatory-four-features.yaml", ruleset), "Possible axial")
    assert "not asked" not in shown and "unsure" not in shown
    assert "Leg symptoms: alternating sides" in shown and "Better with exercise: yes" in shown


def test_an_unknown_that_decided_the_rule_is_still_named(ruleset):
    """v25: CES at emergency because the onset is unknown: the onset is part of the reason; whether
    it is worsening (also unknown) decided nothing and is not named."""
    shown = based_on(note(VIGNETTES / "v25-cancer-with-leg-weakness.yaml", ruleset), "Suspected cauda equina")
    assert shown.startswith("Weakness in both legs: yes; Days since bladder, bowel or saddle symptoms began:")
    assert "Those symptoms worsening" not in shown


def test_the_full_note_names_every_true_feature_too(ruleset):
    text = note(CASES / "ces-saddle-numbness.yaml", ruleset, full=True)
    shown = based_on(text, "Suspected cauda equina syndrome")
    assert "Saddle numbness: yes" in shown and "Those symptoms worsening: yes" in shown
    assert "Numbness: yes" in based_on(text, "Radicular pain likely")


# --------------------------------------------------------------------------- S5: examination


def plan_lines(text: str) -> list[str]:
    """The bullets of the Plan (record note) or of the examination and management (full note)."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line[3:] in ("Plan", "Suggested objective examination", "Management")
        elif inside and line.startswith("- "):
            out.append(line[2:].strip("*"))
    return out


EMERGENCIES = [CASES / "ces-saddle-numbness.yaml", VIGNETTES / "v21-ces-acute-saddle.yaml",
               VIGNETTES / "v22-ces-over-two-weeks-stable.yaml", VIGNETTES / "v31-progressive-weakness.yaml",
               VIGNETTES / "v15-stable-foot-drop.yaml"]


def test_at_emergency_only_the_handover_examination(ruleset):
    """Never "do not delay the referral to complete an examination" and then "confirm or refute a
    deficit with a full neurological examination" in the same emergency note."""
    for path in EMERGENCIES:
        case = load_case(path)
        a = ruleset.assess(case)
        for full in (False, True):
            lines = plan_lines(note(path, ruleset, full=full))
            exams = [line for line in lines if line.startswith("Examination:")]
            if a.urgency == "emergency":
                assert len(exams) == 1 and exams[0].startswith("Examination: Only what a safe handover needs"), \
                    (path.name, exams)
                assert not any("full neurological examination" in line.lower() for line in lines), path.name
                assert not any(line.startswith(("Only what is needed", "Confirm or refute")) for line in lines)
            assert len(lines) == len(set(lines)), (path.name, full)


def test_the_examination_line_is_in_the_plan_once(ruleset):
    for name in ("v26-osteoporotic-minor-fall", "v44-diabetes-unwell-night-sweats", "v45-known-aneurysm-flank-pain"):
        lines = plan_lines(note(VIGNETTES / f"{name}.yaml", ruleset))
        exams = [line for line in lines if line.startswith("Examination:")]
        assert len(exams) == 1, (name, exams)
        assert lines[1] == exams[0]  # at urgent it follows the governing action


def test_at_urgent_the_rules_examination_replaces_the_generic_handover_one(ruleset):
    """v26 (fracture, urgent): the full neurological examination the rule asks for, not the red-flag
    class's "only what a safe handover needs" beside it."""
    lines = plan_lines(note(VIGNETTES / "v26-osteoporotic-minor-fall.yaml", ruleset, full=True))
    assert "Examination: Full lower-limb neurological examination and gait, and thoracolumbar spinous " \
           "tenderness." in lines
    assert not any("safe handover" in line for line in lines)


# --------------------------------------------------------------------------- S11: obstetric items


OBSTETRIC_WORDS = ("Pregnan", "Birth in the last 12 months", "Weeks since the birth", "Weeks pregnant")


def rendered(case, ruleset, full: bool, fmt: str) -> str:
    return render(build_note(case, ruleset.assess(case), ruleset, TODAY, full=full), fmt)


def test_a_mans_full_note_has_no_pregnancy_section(ruleset):
    """v36 records "pregnant: no" for a man: no note form shows it (the record note never did)."""
    case = load_case(VIGNETTES / "v36-collapse-at-68.yaml")
    for full in (False, True):
        for fmt in ("md", "text", "json"):
            text = rendered(case, ruleset, full, fmt)
            for word in OBSTETRIC_WORDS:
                assert word not in text, (full, fmt, word)


def test_past_the_configured_age_no_obstetric_item_either(ruleset):
    case = make_case(patient={"age": 70, "sex": "female"}, obstetric={"pregnant": False, "postpartum": False},
                     pain={"back_nrs": 5, "leg_side": "none"})
    for full in (False, True):
        text = rendered(case, ruleset, full, "text")
        assert not any(word in text for word in OBSTETRIC_WORDS), text
    younger = make_case(patient={"age": 30, "sex": "female"}, obstetric={"pregnant": False, "postpartum": False})
    assert "Pregnant: no" in rendered(younger, ruleset, True, "text")  # asked of her: her answer is shown


def test_a_recorded_yes_still_shows_for_a_man(ruleset):
    """A pregnancy recorded anyway still counts (policy v7): never hidden."""
    case = make_case(patient={"age": 40, "sex": "male"}, obstetric={"pregnant": True, "gestation_weeks": 20})
    assert "Pregnant: yes" in rendered(case, ruleset, True, "text")


# --------------------------------------------------------------------------- S6: NG234 features


def test_the_note_lists_which_ng234_features_are_present(ruleset):
    """cancer-with-weakness: thoracic pain, constant pain and unrelenting night pain are present;
    neck pain is not asked and tenderness is for the examination. The action is not printed with
    the policy's list of every feature as if it were the finding."""
    text = note(CASES / "cancer-with-weakness.yaml", ruleset)
    assert ("NICE NG234 features of spinal metastases - present: thoracic pain, severe unremitting pain "
            "(constant), night pain preventing sleep; not known (ask): cervical pain; to examine: localised "
            "spinal tenderness.") in text
    for path in (CASES / "cancer-with-weakness.yaml", CASES / "cancer-history-no-neuro.yaml"):
        assert "(thoracic or cervical pain, progressive pain" not in flat(path, ruleset)


def test_no_feature_recorded_says_so_and_unknown_answers_are_named(ruleset):
    case = make_case(patient={"age": 60, "sex": "female"}, history={"cancer": True, "cancer_skin_only": False},
                     pain={"thoracic": False}, behaviour={"constant": False, "night_pain": "positional",
                                                          "worse_cough_sneeze": False})
    text = rendered(case, ruleset, False, "md")
    assert ("NICE NG234 features of spinal metastases - present: none recorded; not known (ask): cervical pain, "
            "progressive pain; to examine: localised spinal tenderness.") in text
    worse = make_case(patient={"age": 60, "sex": "female"}, history={"cancer": True, "cancer_skin_only": False},
                      progression={"course": "worsening"}, behaviour={"aggravated_by": ["cough_sneeze"]})
    assert "present: progressive pain, pain on straining (cough or sneeze);" in rendered(worse, ruleset, False, "md")


def test_a_checklist_item_is_checked_like_a_rule(rules_copy):
    """A typo in a checklist's `when` is a located error from `rules check`, as in a rule."""
    from lbp_assess.engine.ruleset.load import check_rules

    path = rules_copy / "red_flags.yaml"
    text = path.read_text()
    assert "          when: pain.thoracic\n" in text
    path.write_text(text.replace("          when: pain.thoracic\n", "          when: pain.thorasic\n", 1))
    found = [f"{p.location}: {p.message}" for p in check_rules(rules_copy) if p.severity == "error"]
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.endswith("pain.thorasic"))
    assert len(found) == 1 and f"red_flags.yaml:{line}:17: unknown name `pain.thorasic`" in found[0], found
