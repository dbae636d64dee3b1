"""Note wording as data: advice and safety-net pieces chosen by `when:` in the rule language, and
the screening groups of the record note - checked by `rules check` like any rule."""

from __future__ import annotations

from pathlib import Path

from lbp_assess.engine.ruleset.load import check_rules, load_rules

from helpers import edit, make_case


def errors(directory: Path) -> list[str]:
    return [f"{p.location}: {p.message}".replace(f"{directory}/", "")
            for p in check_rules(directory) if p.severity == "error"]


def test_a_bad_when_in_the_wording_is_reported_where_it_is(rules_copy):
    manifest = rules_copy / "ruleset.yaml"
    edit(manifest, "      - when: below_knee\n", "      - when: below_knee or neuro_featur\n")
    edit(manifest, "      - when: not is_true(onset.weeks_ago >= 6)", '      - when: onset.weeks_ago >= "six"')
    found = errors(rules_copy)
    assert any(e.startswith("ruleset.yaml:") and "unknown name `neuro_featur`" in e and "`neuro_feature`" in e
               for e in found), found
    assert any(e.startswith("ruleset.yaml:") and "compares numbers, but this expression is text" in e
               for e in found), found


def test_a_screen_group_names_only_yes_no_facts(rules_copy):
    edit(rules_copy / "ruleset.yaml", "    - systemic.unwell\n\n", "    - systemic.unwel\n\n")
    assert any("`systemic.unwel` is not a yes/no fact" in e and "did you mean `systemic.unwell`" in e
               for e in errors(rules_copy))


def test_wording_pieces_follow_their_when(rules_copy):
    edit(rules_copy / "ruleset.yaml", '      - text: Say "I may have cauda equina syndrome".',
         '      - when: patient.age >= 65\n        text: Say "I may have cauda equina syndrome".')
    ruleset = load_rules(rules_copy)
    young, old, unknown = (ruleset.assess(make_case(patient={"age": age})) for age in (40, 70, None))
    card = ruleset.manifest.safety_net_blocks["ces"].text
    said = [" ".join(a.wording(card)) for a in (young, old, unknown)]
    assert "I may have cauda equina" not in said[0] and "I may have cauda equina" in said[1]
    assert "I may have cauda equina" not in said[2]  # a piece is shown only when its when: is known to hold


def test_plain_text_wording_still_works(rules_copy):
    """A rule set written before wording had pieces (one text) keeps working."""
    manifest = rules_copy / "ruleset.yaml"
    text = manifest.read_text()
    start = text.index("  aaa:\n    title: Aortic aneurysm\n    text:\n")
    end = text.index("  pregnancy:\n", start)
    manifest.write_text(text[:start] + "  aaa:\n    title: Aortic aneurysm\n    text: Call 999 if it gets worse.\n"
                        + text[end:])
    ruleset = load_rules(rules_copy)
    block = ruleset.manifest.safety_net_blocks["aaa"].text
    assert ruleset.assess(make_case()).wording(block) == ["Call 999 if it gets worse."]
