"""The record note's handover content (issue #20 item 5, policy v7 6 "Content"), as a clinician
reading the note would check it: "Based on" names every fact a fired rule used with its value
(every true one, not only the first the engine needed), and never one it could have used that is
false or that decided nothing."""

from __future__ import annotations

import datetime as dt

import pytest

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


def test_an_unknown_that_decided_the_rule_is_still_named_apart_from_the_answers(ruleset):
    """v25: CES at emergency because the onset is unknown: the onset is named, but as not yet known,
    never among the answers the row rested on; whether it is worsening (also unknown) decided
    nothing and is not named."""
    shown = based_on(note(VIGNETTES / "v25-cancer-with-leg-weakness.yaml", ruleset), "Suspected cauda equina")
    assert shown.startswith("Weakness in both legs: yes. Not yet known (an answer could change this): "
                            "Days since bladder, bowel or saddle symptoms began: not asked")
    assert "Those symptoms worsening" not in shown


@pytest.mark.parametrize("full", [False, True])
def test_based_on_never_lists_an_answer_not_given(ruleset, full):
    """Policy 6 Content: the reason never names a fact that was not asked. Over every shipped example
    and vignette, the answers after "Based on:" are answers given; the unknowns that decided a row
    follow, apart, as not yet known (the NG65 count with five criteria never asked)."""
    seen = 0
    for path in sorted([*CASES.glob("*.yaml"), *VIGNETTES.glob("*.yaml")]):
        for line in note(path, ruleset, full=full).splitlines():
            if "Based on: " not in line:
                continue
            seen += 1
            answers = line[line.index("Based on: "):].split(" Not yet known (", 1)[0]
            assert ": not asked" not in answers and ": unsure" not in answers, (path.name, answers)
    assert seen > 20


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


# --------------------------------------------------------------------------- S14: Markdown structure


ALL = sorted([*CASES.glob("*.yaml"), *VIGNETTES.glob("*.yaml")])


def tokens(text: str):
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").parse(text)


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(list depth, text) of every paragraph as a CommonMark reader sees it."""
    out, depth = [], 0
    toks = tokens(text)
    for i, tok in enumerate(toks):
        if tok.type == "bullet_list_open":
            depth += 1
        elif tok.type == "bullet_list_close":
            depth -= 1
        elif tok.type == "inline" and toks[i - 1].type == "paragraph_open":
            out.append((depth, tok.content))
    return out


def test_the_ces_card_list_is_nested_under_its_lead_in(ruleset):
    text = note(CASES / "ces-saddle-numbness.yaml", ruleset)
    found = paragraphs(text)
    lead = next(i for i, (_, t) in enumerate(found) if t.startswith("Go to the emergency department immediately"))
    assert found[lead][0] == 1
    assert [t for d, t in found[lead + 1:lead + 7]] == [
        "New difficulty starting or stopping your urine, or a weak stream.", "Leaking urine.",
        "Loss of bowel control, or not feeling the need to open your bowels.",
        "New problems with erection, ejaculation or feeling in your genitals.",
        "Weakness or numbness in both legs.", "Leg weakness that is getting worse."]
    assert all(d == 2 for d, _ in found[lead + 1:lead + 7])
    assert found[lead + 7] == (1, 'Say "I may have cauda equina syndrome".')  # a sibling again
    plain_text = note(CASES / "ces-saddle-numbness.yaml", ruleset, fmt="text")
    assert "\n  - Leaking urine.\n" in plain_text  # the text note nests it too


def test_every_paragraph_and_block_title_stands_on_its_own(ruleset):
    """Read as CommonMark: "Relevant negatives: ..." never runs into the paragraph above it, a
    safety-net block title is never swallowed by the list above it, and each note line is one
    paragraph of its own."""
    for path in ALL:
        case = load_case(path)
        for full in (False, True):
            built = build_note(case, ruleset.assess(case), ruleset, TODAY, full=full)
            found = paragraphs(render(built, "md"))
            starts = [t for _, t in found]
            for section in built.sections:
                for line in section.lines:
                    if line.text.startswith("Relevant negatives:"):
                        assert any(t == line.text for t in starts), (path.name, line.text)
            titles = {block.title for block in ruleset.manifest.safety_net_blocks.values()}
            for section in built.sections:
                for line in section.lines:
                    if not line.bullet and line.text in titles:  # a paragraph of its own, in no list
                        assert (0, f"**{line.text}**") in found, (path.name, line.text)


def test_text_and_markdown_carry_the_same_words(ruleset):
    import re

    def words(text: str) -> list[str]:
        text = re.sub(r"\\(.)", r"\1", text.replace("**", "").replace("`", ""))
        return [w.strip("_").lower() for w in text.split() if w not in ("-", "#", "##", ">", "---", "|")]

    for path in ALL:
        for full in (False, True):
            md, text = note(path, ruleset, full), note(path, ruleset, full, "text")
            assert [w for w in words(md) if w != "·"] == [w for w in words(text) if w != "|"], path.name


def test_a_terminal_gets_markdown_wrapped_to_its_width_and_the_same_document(ruleset):
    from lbp_assess.outputs.note import render_markdown

    for path in ALL:
        built = build_note(load_case(path), ruleset.assess(load_case(path)), ruleset, TODAY, full=True)
        wide, narrow = render_markdown(built), render_markdown(built, 80)
        longest = max(len(line) for line in narrow.splitlines() if not line.startswith("#"))
        assert longest <= 80 or all(len(w) > 40 for w in narrow.split() if len(w) > 60), path.name
        assert [w for w in wide.split() if w != ">"] == [w for w in narrow.split() if w != ">"], path.name
        # the same document once rendered: the same blocks, the same text in each
        render_html = pytest.importorskip("markdown_it").MarkdownIt("commonmark").render
        assert " ".join(render_html(wide).split()) == " ".join(render_html(narrow).split()), path.name


def test_note_on_a_terminal_is_wrapped_to_it_and_piped_or_written_it_is_not(cli, tmp_path):
    """`note` on an 80-column terminal: no line longer than 80, bullets with a hanging indent. Piped
    or with --output: one line per paragraph or bullet (a record system re-wraps it itself)."""
    import os
    import sys

    pexpect = pytest.importorskip("pexpect")
    path = str(CASES / "ces-saddle-numbness.yaml")
    child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "note", path], env=dict(os.environ, NO_COLOR="1"),
                          encoding="utf-8", dimensions=(24, 80), timeout=60)
    shown = child.read().replace("\r\n", "\n")
    child.close()
    assert child.exitstatus == 0, shown
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    assert "- **EMERGENCY - RED FLAG: Suspected cauda equina syndrome - now (within hours).\n  Emergency" in shown
    assert "\n  - Leaking urine.\n" in shown
    piped = cli("note", path)
    assert piped.code == 0 and max(len(line) for line in piped.out.splitlines()) > 80
    out = tmp_path / "note.md"
    assert cli("note", path, "-o", str(out)).code == 0
    assert out.read_text() == piped.out
    assert " ".join(shown.split()) == " ".join(piped.out.split())


@pytest.mark.parametrize("recorded", [True, False])
def test_the_screen_line_says_unsure_of_an_answer_recorded_unsure_and_not_asked_of_one_not_asked(cli, tmp_path,
                                                                                                 recorded):
    """The PC line said "Weakness in both legs: unsure" while the cauda equina screen said "(not
    asked: Weakness in both legs)" of the same recorded answer: the note contradicted itself."""
    import yaml

    data = yaml.safe_load((EXAMPLES / "cases" / "ces-saddle-numbness.yaml").read_text())
    data["neuro"] = {**data.get("neuro", {}), "weakness": None}
    if recorded:
        data["neuro"]["weakness_both_legs"] = None
    else:
        data["neuro"].pop("weakness_both_legs", None)
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    note = " ".join(cli("note", str(path), "-f", "text").out.split())  # the record note
    screen = note[note.index("Cauda equina screen:"):].split(";")[0]
    if recorded:
        assert "Weakness in both legs: unsure" in note
        assert "(unsure: Weakness in both legs)" in screen and "not asked: Weakness in both legs" not in screen, screen
    else:
        assert "(not asked: Weakness in both legs)" in screen and "unsure: Weakness" not in screen, screen
