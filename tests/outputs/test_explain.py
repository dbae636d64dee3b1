"""`explain`: the rule tree by layer, and "what would change it" - each suggestion checked by
scoring the changed case from scratch."""

from __future__ import annotations

import json

import pytest

from lbp_assess.inputs.cases import load_case
from lbp_assess.model.case import validate_case
from lbp_assess.outputs.explain import explanation

from helpers import EXAMPLES, corpus

SAMPLE = ["v10-radicular-l5.yaml", "v17-cook-four-of-five.yaml", "v18-cook-three-of-five.yaml",
          "v09-sexual-dysfunction-only.yaml", "v22-ces-over-two-weeks-stable.yaml", "v01-acute-lifting.yaml",
          "v47-inflammatory-three-ng65-criteria.yaml"]


@pytest.mark.parametrize("name", SAMPLE)
def test_every_suggested_change_really_changes_the_result(ruleset, name):
    case = load_case(EXAMPLES / "vignettes" / name)
    data = explanation(case, ruleset)
    assert data["what_would_change"], "a vignette near a boundary has something that would change it"
    before = (data["classification"], data["urgency"])
    for change in data["what_would_change"]:
        raw = case.model_dump(mode="json", exclude_none=True)
        for fact, value in [*change["also"].items(), (change["fact"], change["after"])]:
            section, field = fact.split(".")
            raw.setdefault(section, {})[field] = value
        result = ruleset.assess(validate_case(raw, "changed"))
        assert (result.classification, result.urgency) == (change["classification"], change["urgency"]), change
        assert (result.classification, result.urgency) != before


def test_cook_three_of_five_would_be_stenosis_at_49(ruleset):
    data = explanation(load_case(EXAMPLES / "vignettes" / "v18-cook-three-of-five.yaml"), ruleset)
    ages = [c for c in data["what_would_change"] if c["fact"] == "patient.age"]
    assert any(c["after"] == 49 and c["classification"] == "stenosis" for c in ages)
    assert any(c["shown"] == "Saddle numbness: yes" and c["urgency"] == "emergency"
               for c in data["what_would_change"])
    assert data["what_would_change"][0]["urgency"] == "emergency"  # most urgent first


def test_layers_show_each_rule_state_with_facts_and_source(ruleset):
    data = explanation(load_case(EXAMPLES / "cases" / "unscreened-red-flags.yaml"), ruleset)
    rules = {r["id"]: r for layer in data["layers"] for r in layer["rules"]}
    assert [layer["layer"] for layer in data["layers"]] == ["red_flag", "other_specific", "musculoskeletal"]
    ces = rules["red_flag.cauda_equina.emergency"]
    assert ces["state"] == "not_excluded" and ces["source"].startswith("GIRFT")
    assert {f["fact"] for f in ces["facts"]} >= {"cauda_equina.saddle_numbness"}
    assert rules["red_flag.screen_incomplete"]["state"] == "fired"
    assert rules["msk.stenosis.likely"]["state"] == "not_fired"


def test_explain_command_tree_and_json(cli):
    path = str(EXAMPLES / "vignettes" / "v14-bilateral-sciatica.yaml")
    tree = cli("explain", path, "--full")
    assert tree.code == 0
    assert "Red flags (serious pathology)" in tree.out and "✔ fired" in tree.out
    assert "What would change it" in tree.out and "Decision support only" in tree.out
    assert "✘ not fired" in tree.out and "decided by:" in tree.out  # every rule, with why it did not fire
    brief = cli("explain", path)
    assert brief.out == cli("explain", path, "--brief").out  # brief is the default
    assert "--full" in brief.out and "decided by:" not in brief.out
    assert brief.out.count("✘ not fired") < tree.out.count("✘ not fired")  # only a count one short stays
    data = json.loads(cli("explain", path, "--format", "json").out)
    assert data["classification"] == "radicular" and data["urgency"] == "urgent"
    assert cli("explain", str(EXAMPLES / "missing.yaml")).code == 1


def _tree(cli, path, *args):
    run = cli("explain", str(path), *args)
    assert run.code == 0, run.err
    return " ".join(run.out.replace("│", " ").replace("├──", " ").replace("└──", " ").split())


def test_numbers_are_offered_as_thresholds_not_single_values(ruleset):
    data = explanation(load_case(EXAMPLES / "vignettes" / "v18-cook-three-of-five.yaml"), ruleset)
    ages = [c for c in data["what_would_change"] if c["fact"] == "patient.age"]
    assert [c["shown"] for c in ages] == ["Age: 49 years or over"] and ages[0]["after"] == 49
    stable = explanation(load_case(EXAMPLES / "vignettes" / "v22-ces-over-two-weeks-stable.yaml"), ruleset)
    days = [c["shown"] for c in stable["what_would_change"] if c["fact"] == "cauda_equina.onset_days"]
    assert days == ["Days since bladder, bowel or saddle symptoms began: 14 days or under"]


def test_a_number_feeding_a_derived_fact_is_never_offered_as_any_value(ruleset):
    """Age counts for NICE NG65 through the age at onset (age less the duration), a threshold with no
    cut on age itself: the range holding the recorded age is tried at that age, so the ranges on
    either side are never merged into one "any value" that would include the case's own age."""
    case = load_case(EXAMPLES / "vignettes" / "v47-inflammatory-three-ng65-criteria.yaml")
    data = explanation(case, ruleset)
    ages = [c for c in data["what_would_change"] if c["fact"] == "patient.age"]
    assert ages and all("any value" not in c["shown"] for c in ages)
    assert all(c["after"] != case.patient.age for c in ages)


def test_changes_use_human_class_and_urgency_names(cli):
    out = _tree(cli, EXAMPLES / "vignettes" / "v18-cook-three-of-five.yaml")
    assert "if Age: 49 years or over → Stenosis, routine" in out
    assert "→ Red flag, emergency" in out
    assert "non_specific" not in out and "red_flag," not in out


def test_a_cluster_rule_says_how_far_it_is(cli):
    out = _tree(cli, EXAMPLES / "vignettes" / "v18-cook-three-of-five.yaml")
    assert ("Cook stenosis cluster items (Cook et al. 2011): 3 of 5 (needs 4): missing Symptoms in both legs; "
            "Age over 48") in out


@pytest.mark.parametrize("path", sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted(
    (EXAMPLES / "vignettes").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_rule_that_did_not_fire_says_what_decided_it(ruleset, path):
    data = explanation(load_case(path), ruleset)
    for layer in data["layers"]:
        for rule in layer["rules"]:
            if rule["state"] != "fired":
                assert rule["facts"] or rule["counts"], rule["id"]


def test_combined_weak_flags_rule_counts_the_flags(ruleset):
    data = explanation(load_case(EXAMPLES / "cases" / "non-specific-acute.yaml"), ruleset)
    rule = next(r for layer in data["layers"] for r in layer["rules"] if r["id"] == "red_flag.serious_pathology_screen")
    assert rule["state"] == "not_fired"
    count = rule["counts"][0]
    assert count["name"] == "Weak serious-pathology flags present" and count["needs"] == 2
    assert count["met"] < 2 and "Unexplained weight loss" in count["missing"]


def test_an_unknown_answer_is_not_given_as_what_decided_a_rule(cli):
    out = _tree(cli, EXAMPLES / "cases" / "unscreened-red-flags.yaml", "--full")
    assert "cannot fire while unknown: Those symptoms worsening" in out
    assert ": unknown" not in out  # an unknown answer is named, never shown as the value "unknown"
    assert "decided by: Those symptoms worsening" not in out


def test_a_follow_up_answered_no_at_its_gate_comes_with_a_yes_to_the_gate(ruleset):
    """No weakness: "weakness in both legs" is still a red-flag answer worth naming, but only as
    "Weakness: yes; Weakness in both legs: yes", never alone (the interview could not record it)."""
    case = load_case(EXAMPLES / "vignettes" / "v18-cook-three-of-five.yaml")
    assert case.neuro.weakness is False
    changes = [c for c in explanation(case, ruleset)["what_would_change"]
               if c["fact"] in {"neuro.weakness_both_legs", "neuro.foot_drop", "neuro.weakness_progressing"}]
    assert {c["fact"] for c in changes} == {"neuro.weakness_both_legs", "neuro.foot_drop", "neuro.weakness_progressing"}
    assert all(c["also"] == {"neuro.weakness": True} and c["shown"].startswith("Weakness: yes; ") for c in changes)
    assert {c["urgency"] for c in changes if c["fact"] != "neuro.foot_drop"} == {"emergency"}
    raw = case.model_dump(mode="json", exclude_none=True)
    raw["neuro"]["weakness"] = True
    weak = {c["fact"] for c in explanation(validate_case(raw, "x"), ruleset)["what_would_change"]}
    assert {"neuro.weakness_both_legs", "neuro.foot_drop"} <= weak  # asked once there is weakness


def test_brief_groups_the_start_back_strata_into_one_line(cli):
    out = cli("explain", str(EXAMPLES / "vignettes" / "v18-cook-three-of-five.yaml"), "--brief").out
    lines = [line for line in out.splitlines() if "STarT Back" in line and "not excluded" in line]
    assert len(lines) == 1 and "low risk / STarT Back: high risk" in out.replace("\n", " ").replace("│", "")
    assert out.count("missing: STarT Back") == 1 and "STarT Back: unknown" not in out


def test_two_rules_raising_the_same_alert_are_one_node_with_a_reason_each(cli):
    """Bilateral leg symptoms and a likely radicular pain each raise the cauda equina safety-net:
    the brief tree drew "✔ fired Cauda equina safety-netting needed" twice, as if repeated."""
    out = cli("explain", str(EXAMPLES / "cases" / "bilateral-sciatica-ces-at-risk.yaml")).out
    assert out.count("fired Cauda equina safety-netting needed") == 1, out
    node = out[out.index("fired Cauda equina safety-netting needed"):out.index("fired Radicular symptoms in both")]
    assert node.count("because:") == 2 and "Radicular pain likely (finding)" in node, node
    full = cli("explain", str(EXAMPLES / "cases" / "bilateral-sciatica-ces-at-risk.yaml"), "--full").out
    assert "red_flag.ces_safety_net.bilateral" in full and "red_flag.ces_safety_net.nerve_root" in full


def test_contradictions_appear_in_the_tree_and_the_json(cli):
    path = EXAMPLES / "cases" / "contradictory-answers.yaml"
    out = _tree(cli, path, "--brief")
    assert "Answers to check" in out and "leg side is none, but leg pain is 3/10" in out
    data = json.loads(cli("explain", str(path), "--format", "json").out)
    assert "leg side is none, but leg pain is 3/10" in data["warnings"]


def test_untrusted_text_is_shown_as_text(cli, tmp_path):
    path = tmp_path / "odd.yaml"
    path.write_text('format: lbp-case/1\nid: "[bold red]x[/] [link=https://x]y"\n')
    run = cli("explain", str(path), "--brief")
    assert run.code == 0, run.err
    assert "[bold red]x[/] [link=https://x]y" in run.out  # shown as typed, never read as markup
    path.write_text('format: lbp-case/1\nid: "x \\e]0;t\\a"\n')  # a terminal escape in an id is refused
    run = cli("explain", str(path), "--brief")
    assert run.code == 1 and "control character U+001B" in run.err
    assert "\x1b" not in run.err and "\x07" not in run.err


def test_json_never_holds_infinity():
    from lbp_assess.outputs.explain import to_json

    assert json.loads(to_json({"value": float("inf"), "items": [float("nan")]})) == {"value": "inf", "items": ["nan"]}


def test_values_of_one_answer_with_the_same_result_share_a_line(cli):
    out = _tree(cli, EXAMPLES / "cases" / "weak-flags-combined.yaml", "--brief")
    assert out.count("if Night pain:") == 1
    assert "if Night pain: Does not wake them or Wakes on turning, then settles or" in out


def test_brief_opens_with_the_three_line_summary(cli):
    out = cli("explain", str(EXAMPLES / "vignettes" / "v21-ces-acute-saddle.yaml")).out
    text = " ".join(out.split())
    why = text.split("Why: ")[1].split(" Key negatives: ")[0]
    assert why.startswith("Difficulty passing urine: yes; Saddle numbness: yes")
    assert "→ Suspected cauda equina syndrome → EMERGENCY →" in why  # the row's own label (policy v7)
    tier_action = why.split("→ EMERGENCY → ")[1]
    assert tier_action  # the row's own action and time frame
    negatives = text.split("Key negatives: ")[1].split(" Ask next: ")[0]
    assert "Systemic screen negative (4 of 4 asked)" in negatives and "no history of cancer" in negatives
    assert text.index("Why:") < text.index("Key negatives:") < text.index("Ask next:") < text.index("How the rules")


@pytest.mark.parametrize("path", corpus())  # each runs explain twice: a sample in the quick loop
def test_brief_is_short_and_full_keeps_every_change(cli, ruleset, path):
    brief = cli("explain", str(path)).out.splitlines()
    full = cli("explain", str(path), "--full").out
    assert len(brief) <= 80, len(brief)  # policy v7: each row carries its own (longer) action and time frame
    data = explanation(load_case(path), ruleset)
    changes = data["what_would_change"]
    words = " ".join(full.replace("│", " ").replace("├──", " ").replace("└──", " ").split())
    for change in changes:  # each change appears in --full (values of one answer may share a line)
        assert f"→ {change['class_label']}, {change['urgency_label']}" in words
        assert change["label"] in words
    assert ": unknown" not in words and "unknown years" not in words


def test_ask_next_ranks_unknown_answers_by_what_they_could_do(ruleset):
    case = load_case(EXAMPLES / "cases" / "unscreened-red-flags.yaml")
    data = explanation(case, ruleset)
    asks = data["ask_next"]
    assert asks, "an unscreened case has questions worth asking"
    rank = ruleset.tier_rank
    assert [rank[a["urgency"]] for a in asks] == sorted(rank[a["urgency"]] for a in asks)
    facts = ruleset.assess(case).facts
    for ask in asks:
        assert facts[ask["fact"]] is None  # only unknown answers
        assert "unknown" not in ask["answer"]
    first = asks[0]
    assert first["urgency"] == "emergency" and first["fact"].startswith("cauda_equina.")


def test_explain_counts_a_screen_as_the_note_does(ruleset, cli):
    """#27 S7: with no weakness, "weakness in both legs" is settled, not asked: explain's key
    negatives say "6 of 7 asked, 1 settled by an earlier answer", as the note does, never "(7/7)"."""
    from lbp_assess.engine.screens import screen_count

    path = str(EXAMPLES / "cases" / "aortic-aneurysm.yaml")
    a = ruleset.assess(load_case(path))
    count = screen_count(a, "Cauda equina screen", list(ruleset.manifest.screens["Cauda equina screen"]))
    assert (count.asked, count.settled, count.total) == (6, 1, 7)
    out = " ".join(cli("explain", path).out.split())
    note = " ".join(cli("note", path).out.split())
    assert "Cauda equina screen negative (6 of 7 asked, 1 settled by an earlier answer)" in out
    assert "Cauda equina screen: negative (6 of 7 asked, 1 settled by an earlier answer)" in note
    assert "(7/7)" not in out


def test_a_rule_open_only_on_questions_an_answer_made_unnecessary_is_excluded_by_it(cli, ruleset):
    """No weakness: "weakness in both legs" is never asked and is settled no, so cauda equina is not
    left open by it. No leg symptoms excludes radicular pain, and --full says what excluded it."""
    path = str(EXAMPLES / "vignettes" / "v47-inflammatory-three-ng65-criteria.yaml")
    brief = " ".join(cli("explain", path).out.split())
    full = " ".join(cli("explain", path, "--full").out.replace("│", " ").split())
    assert "not excluded Suspected cauda equina syndrome" not in brief
    assert "missing: Weakness in both legs" not in brief and "missing: Weakness in both legs" not in full
    # "No weakness" settles weakness in both legs (ruleset.yaml `settled`), so cauda equina did not fire
    assert "not fired Suspected cauda equina syndrome" in full
    assert "excluded by: Leg symptoms: No leg symptoms" in full
    data = explanation(load_case(path), ruleset)
    radicular = next(r for layer in data["layers"] for r in layer["rules"] if r["id"] == "msk.radicular.likely")
    assert radicular["excluded_by"] == [{"fact": "pain.leg_side", "label": "Leg symptoms", "value": "none",
                                        "shown": "No leg symptoms"}]


def _rule(data, rule_id):
    return next(r for layer in data["layers"] for r in layer["rules"] if r["id"] == rule_id)


@pytest.mark.parametrize("name", ["vignettes/v47-inflammatory-three-ng65-criteria.yaml",
                                  "cases/cancer-with-weakness.yaml"])
def test_no_leg_symptoms_on_walking_excludes_vascular_claudication_by_that_answer(cli, ruleset, name):
    """Review S10: "eased by standing still" is never asked after no leg symptoms on walking, so
    vascular claudication is excluded by that entry answer - in brief, --full and JSON - never
    "not excluded, missing: Relief standing still" nor "decided by: Relief standing still: no"."""
    path = str(EXAMPLES / name)
    brief = " ".join(cli("explain", path).out.split())
    full = " ".join(cli("explain", path, "--full").out.replace("│", " ").split())
    assert "Relief standing still" not in brief and "vascular claudication" not in brief
    assert "missing: Relief standing still" not in full and "decided by: Relief standing still" not in full
    assert ("Possible vascular claudication (peripheral arterial disease) (soon) other_specific.vascular_claudication "
            "├── excluded by: Leg symptoms on walking: no (so Relief standing still not asked)") in full.replace(
        "└──", "├──")
    rule = _rule(json.loads(cli("explain", path, "-f", "json").out), "other_specific.vascular_claudication")
    assert rule["state"] == "not_fired" and rule["missing"] == []
    assert rule["excluded_by"] == [{"fact": "walking.leg_symptoms_on_walking", "label": "Leg symptoms on walking",
                                    "value": False, "shown": "no"}]
    assert rule["settles"] == [{"fact": "walking.relief_standing_still", "label": "Relief standing still"}]


def test_registered_male_excludes_the_pregnancy_row_by_that_answer(ruleset):
    data = explanation(load_case(EXAMPLES / "vignettes" / "v47-inflammatory-three-ng65-criteria.yaml"), ruleset)
    rule = _rule(data, "other_specific.pregnancy_related")
    assert [(f["label"], f["shown"]) for f in rule["excluded_by"]] == [("Sex registered at birth", "Male")]


def test_an_unknown_entry_question_is_named_before_its_follow_up(cli, tmp_path):
    """Walking never asked: the row is open, and what to ask is the entry question, with the
    follow-up after it - never a follow-up the interview could not ask yet."""
    text = (EXAMPLES / "vignettes" / "v47-inflammatory-three-ng65-criteria.yaml").read_text()
    text = text.replace("walking:\n  leg_symptoms_on_walking: false\n", "")
    text = text.replace("  walking.leg_symptoms_on_walking: Nothing down my legs\n", "")
    path = tmp_path / "no-walking.yaml"
    path.write_text(text)
    brief = " ".join(cli("explain", str(path)).out.replace("│", " ").split())
    assert "missing: Leg symptoms on walking (then Relief standing still)" in brief
    assert "missing: Relief standing still" not in brief
    rule = _rule(json.loads(cli("explain", str(path), "-f", "json").out), "other_specific.vascular_claudication")
    assert rule["state"] == "not_excluded" and rule["excluded_by"] == []
    assert rule["missing"] == [{"fact": "walking.leg_symptoms_on_walking", "label": "Leg symptoms on walking",
                                "then": [{"fact": "walking.relief_standing_still", "label": "Relief standing still"}]}]


@pytest.mark.parametrize("path", sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted(
    (EXAMPLES / "vignettes").glob("*.yaml")), ids=lambda p: p.stem)
def test_no_row_is_left_open_or_decided_by_a_follow_up_an_entry_answer_settled(ruleset, path):
    """Every example and vignette: a row decided only by answers an entry answer settled says
    "excluded by" that answer; a row left open names only questions the interview would ask now."""
    case = load_case(path)
    a = ruleset.assess(case)
    q = ruleset.questionnaire
    data = explanation(case, ruleset)
    for layer in data["layers"]:
        for rule in layer["rules"]:
            facts = [f["fact"] for f in rule["facts"]]
            if rule["state"] == "not_fired" and facts and set(facts) <= set(a.settled):
                assert rule["excluded_by"], rule["id"]
            for missing in rule["missing"]:
                question = q.by_id.get(missing["fact"])
                assert question is None or question.ask_when is None or question.ask_when(a.facts) is not False, \
                    (rule["id"], missing)


def test_two_rows_setting_the_urgency_give_their_actions_numbered_with_their_time_frames(cli):
    """v25: cauda equina and MSCC both set the emergency; their actions (each with semicolons of
    its own) were run together with "; "."""
    out = " ".join(cli("explain", str(EXAMPLES / "vignettes" / "v25-cancer-with-leg-weakness.yaml")).out.split())
    assert "→ EMERGENCY → (1) now (within hours): Emergency department or on-call spinal team now" in out, out
    assert "the patient must not drive. (2) now; MRI within 24 hours: Contact the acute oncology service" in out, out


def test_a_brief_row_without_a_time_frame_says_where_its_action_is(cli):
    out = " ".join(cli("explain", str(EXAMPLES / "vignettes" / "v31-progressive-weakness.yaml")).out.split())
    assert "Action (the action with --full)" not in out and "Action: with --full" in out
