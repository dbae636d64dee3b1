"""The note's safety-net blocks (policy v7 7 and 6.7; issue #20 item 4, review B2, S2, B3): the blocks
never contradict each other, the general block's lines covered by a stronger block are left out,
the patient is never told to act on a symptom they already have, and the safety-net is never
weaker than the note's own rows. Read as `lbp-assess note FILE` prints them (Markdown, plain
text, and the full note)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lbp_assess.engine.ruleset.load import check_rules
from lbp_assess.outputs.note import build_note, note_of_file, render

from helpers import EXAMPLES, edit, make_case

V = EXAMPLES / "vignettes"
C = EXAMPLES / "cases"

GENERAL_LEG_SPREAD = "Contact the clinician if pain spreads below the knee"
GENERAL_NEURO = "Contact the clinician if numbness"
GENERAL_NEURO_WORSE = "Contact the clinician if the numbness"
GENERAL_WORSE = "Contact the clinician if the leg"
GENERAL_FEVER_GP = "See your GP promptly if you get a fever"


def flat(text: str) -> str:
    return " ".join(text.split())


def safety_net(path: Path, ruleset, fmt: str = "text", full: bool = False) -> str:
    """The Safety-net section of the note `lbp-assess note [--full] -f FMT FILE` prints, on one line."""
    text = note_of_file(path, ruleset, fmt, full=full)
    start = text.index("SAFETY-NET" if fmt == "text" else "## Safety-net")
    end = text.index("Generated " if fmt == "text" else "\n---\n", start)
    return flat(text[start:end].replace("**", "").replace("\n- ", "\n"))


def every_form(path: Path, ruleset) -> list[str]:
    forms = [safety_net(path, ruleset, fmt, full) for fmt in ("text", "md") for full in (False, True)]
    words = [re.sub(r"^(SAFETY-NET|## Safety-net) ", "", f) for f in forms]
    assert len(set(w.replace("- ", "") for w in words)) == 1, "text and Markdown say the same words"
    return forms


# --------------------------------------------------------------------------- B2: no contradiction


@pytest.mark.parametrize("path", [V / "v24-cancer-history-no-neuro.yaml", C / "cancer-history-no-neuro.yaml",
                                  V / "v25-cancer-with-leg-weakness.yaml"], ids=lambda p: p.stem)
def test_the_mscc_block_is_not_contradicted_by_contact_the_clinician(path, ruleset):
    for net in every_form(path, ruleset):
        assert "Call your acute oncology 24-hour line now" in net
        assert GENERAL_LEG_SPREAD not in net and GENERAL_NEURO not in net and GENERAL_WORSE not in net
        assert GENERAL_NEURO_WORSE not in net and "If your leg weakness gets worse" not in net


def test_no_driving_for_a_conditional_999_in_the_sepsis_action(ruleset):
    text = flat(note_of_file(C / "infection-ivdu-fever.yaml", ruleset, "text"))
    assert ("Transport: the patient must not drive; arrange a lift or an ambulance; call 999 for an ambulance "
            "if any sepsis red flag.") in text
    assert "taxi" not in text.lower()


def test_the_sepsis_block_is_not_contradicted(ruleset):
    for net in every_form(V / "v29-fever-without-risk-factor.yaml", ruleset):
        assert "New leg weakness or numbness: go to the emergency department now." in net
        assert GENERAL_NEURO not in net and GENERAL_NEURO_WORSE not in net
        assert GENERAL_LEG_SPREAD in net  # pain spreading is not in the sepsis block: still said


def test_the_pregnancy_block_says_fever_once_and_strongly(ruleset):
    for net in every_form(V / "v35-pregnancy-pelvic-girdle.yaml", ruleset):
        assert "A fever, or feeling shivery or unwell: contact your maternity unit immediately." in net
        assert "GP promptly if you get a fever" not in net and "If you get a fever" not in net
        assert "See your GP promptly if you get night sweats." in net  # not in the pregnancy block


@pytest.mark.parametrize("path", [C / "bilateral-sciatica-ces-at-risk.yaml", V / "v14-bilateral-sciatica.yaml",
                                  V / "v15-stable-foot-drop.yaml"], ids=lambda p: p.stem)
def test_the_ces_card_is_not_contradicted(path, ruleset):
    for net in every_form(path, ruleset):
        assert "Weakness or numbness in both legs." in net
        assert "Leg weakness that is getting worse." in net
        assert "leg symptoms spread or get worse" not in net and GENERAL_NEURO not in net
        assert GENERAL_NEURO_WORSE not in net and "If your leg weakness gets worse" not in net
        assert "Contact the clinician if the leg pain spreads further or gets worse." in net  # pain only


def test_at_emergency_a_worsening_line_is_an_emergency_line(ruleset):
    for net in every_form(V / "v31-progressive-weakness.yaml", ruleset):
        assert "Contact the clinician" not in net
        assert ("If the leg pain spreads further or gets worse before you are seen: go to the emergency "
                "department now.") in net
        assert "Your leg weakness getting any worse." in net  # the raised condition: "if it gets worse"
        assert "If you get a fever: go to the emergency department now." in net


def _radicular(**systemic):
    return make_case(patient={"age": 40, "sex": "male"}, pain={"leg_side": "left", "leg_extent": "foot",
                                                              "dermatomal": True, "dominant": "leg"},
                     neuro={"paraesthesia": True, "weakness": False}, history={"cancer": False},
                     systemic=systemic, onset={"weeks_ago": 2})


@pytest.mark.parametrize("fever", [None, False], ids=["fever-not-asked", "no-fever"])
def test_a_radicular_fever_is_an_emergency_in_the_safety_net_too(fever, ruleset):
    """With pins and needles a fever is an epidural abscess to exclude (EMERGENCY): the safety-net
    says the emergency department, never "see your GP promptly"."""
    case = _radicular(**({} if fever is None else {"fever": False}))
    a = ruleset.assess(case)
    text = flat(render(build_note(case, a, ruleset), "text"))
    if fever is None:
        assert "Ask before the patient leaves: Fever" in text and "EMERGENCY: Possible spinal infection" in text
    assert "If you get a fever: go to the emergency department now." in text
    assert GENERAL_FEVER_GP not in text


def test_a_fever_alone_is_same_day_in_the_safety_net(ruleset):
    """Fever with back pain is a same-day assessment (infection.fever): not "promptly"."""
    net = safety_net(C / "non-specific-acute.yaml", ruleset)
    assert "If you get a fever: see your GP or an urgent care service the same day." in net
    assert GENERAL_FEVER_GP not in net


NO_CES = {f: False for f in ("urinary_retention", "bladder_sensation_reduced", "urinary_incontinence",
                             "bowel_incontinence", "saddle_numbness", "sexual_dysfunction")}


def test_leg_weakness_getting_worse_is_an_emergency_in_every_note_that_has_it(ruleset):
    """A yes to "weakness progressing" is an EMERGENCY (progressive neurological deficit): with
    weakness and no CES, cancer or sepsis block, the general block says so, never "contact the
    clinician" about weakness."""
    case = make_case(patient={"age": 40, "sex": "male"}, pain={"leg_side": "left", "leg_extent": "thigh"},
                     neuro={"weakness": True, "numbness": False, "paraesthesia": False, "weakness_progressing": False,
                            "weakness_both_legs": False, "foot_drop": False},
                     history={"cancer": False}, cauda_equina=NO_CES)
    net = flat(render(build_note(case, ruleset.assess(case), ruleset), "text"))
    net = net[net.index("SAFETY-NET"):]
    assert "If your leg weakness gets worse: go to the emergency department now." in net
    assert "Contact the clinician if numbness or pins and needles in your leg develops, gets worse or spreads." in net
    assert "weakness develops" not in net and "Cauda equina syndrome - written advice card" not in net


def test_a_fever_after_the_birth_is_immediate_in_the_safety_net(ruleset):
    """Within 6 weeks of the birth a fever is an EMERGENCY (possible maternal sepsis): the pregnancy
    block says the maternity unit immediately, not "the same day"."""
    case = make_case(patient={"age": 30, "sex": "female"}, systemic={"fever": False}, history={"cancer": False},
                     obstetric={"pregnant": False, "postpartum": True, "postpartum_weeks": 3})
    net = flat(render(build_note(case, ruleset.assess(case), ruleset), "text"))
    assert "After the birth: a fever, or feeling shivery or unwell - contact your maternity unit immediately" in net
    assert "a fever, heavy bleeding or smelly discharge - contact the maternity unit or your GP the same day" not in net


# --------------------------------------------------------------------------- S2: what they have


@pytest.mark.parametrize("path", [V / "v39-sudden-groin-pain-at-72.yaml", V / "v40-groin-ache-smoker-at-66.yaml",
                                  C / "aortic-aneurysm.yaml", V / "v30-aortic-aneurysm.yaml"],
                         ids=lambda p: p.stem)
def test_the_aaa_block_never_names_the_pain_they_already_have(path, ruleset):
    for net in every_form(path, ruleset):
        assert "becomes sudden or severe" not in net and "spreads to your tummy, groin or legs" not in net
        assert "If the pain gets worse or spreads further: call 999." in net
        assert "Do not drive yourself. Say you may have an aortic aneurysm." in net


def test_the_aaa_block_in_full_when_nothing_is_there_yet(ruleset):
    case = make_case(patient={"age": 70}, history={"known_aaa": True, "smoker": True}, pain={"leg_side": "none"},
                     onset={"mode": "gradual"})
    a = ruleset.assess(case)
    net = flat(render(build_note(case, a, ruleset), "text"))
    assert "If the pain becomes sudden or severe, or spreads to your tummy, groin or legs: call 999." in net
    assert "If you feel faint, sweaty or dizzy, or collapse: call 999." in net


def test_the_mscc_block_leaves_out_the_cough_they_already_have(ruleset):
    case = make_case(patient={"age": 60}, history={"cancer": True, "cancer_skin_only": False},
                     behaviour={"worse_cough_sneeze": True, "night_pain": "unrelenting"})
    net = flat(render(build_note(case, ruleset.assess(case), ruleset), "text"))
    assert "Tell them too if the back pain gets much worse." in net
    assert "coughing" not in net and "stops you sleeping" not in net


# --------------------------------------------------------------------------- B3: sexual dysfunction alone


def test_sexual_dysfunction_alone_is_never_screened_clear(ruleset):
    for full in (False, True):
        text = flat(note_of_file(V / "v09-sexual-dysfunction-only.yaml", ruleset, "text", full=full))
        assert "unlikely on this alone (GIRFT)" in text and "re-ask at review" in text
        for never in ("screened for in the history", "screened clear", "no nerve compression pattern",
                      "Imaging is not needed without red flags"):
            assert never not in text


# --------------------------------------------------------------------------- the rules check the tags


def test_rules_check_reports_a_bad_about_covered_by_or_tier(rules_copy: Path):
    manifest = rules_copy / "ruleset.yaml"
    edit(manifest, "      - about: [systemic.weight_loss]", "      - about: [systemic.weight_los]")
    edit(manifest, "        covered_by: [pregnancy]", "        covered_by: [pregnant]")
    edit(manifest, "          urgent: \"If you get night sweats", "          urgnt: \"If you get night sweats")
    found = [p.message for p in check_rules(rules_copy) if p.severity == "error"]
    assert any("unknown name `systemic.weight_los`" in m for m in found), found
    assert any("`pregnant` is not another safety-net block" in m and "`pregnancy`" in m for m in found), found
    assert any("unknown tier `urgnt`" in m for m in found), found

