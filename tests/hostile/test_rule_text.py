"""Issue 21, item 5: rule-set text is checked like case text. Labels, tier wording, the version
and reasons reach the clinician's terminal, notes, HTML and CSV: a control character, line
separator, bidirectional control or lone surrogate in any of them is a located error in
`rules check`, and a rule set with one does not load."""

from __future__ import annotations

import pytest

from lbp_assess.base.errors import InputError
from lbp_assess.engine.ruleset.load import check_rules, load_rules
from lbp_assess.model.case import NOT_IN_LINE, NOT_IN_TEXT

from helpers import edit


@pytest.mark.parametrize("file,old,new,what", [
    ("ruleset.yaml", "label: Cauda equina syndrome", 'label: "Cauda equina\\e]0;owned\\a syndrome"',
     "`label` (one line) must not contain a control character (U+001B"),
    ("ruleset.yaml", "time_frame: same day, now", 'time_frame: "same day\\u202e, now"',
     "`time_frame` (one line) must not contain a bidirectional control (U+202E"),
    ("ruleset.yaml", "version: 2.0.0", 'version: "2.0.0\\nRED FLAG CLEARED"',
     "`version` (one line) must not contain a line break"),
    ("red_flags.yaml", "reason: Cauda equina features present for more than 14 days and not getting worse.",
     'reason: "Cauda equina features present \\x9b2J for more than 14 days."',
     "`reason` must not contain a control character (U+009B"),
    ("ruleset.yaml", "version: 2.0.0", "version: v" + "9" * 100 + "." + "0" * 149,
     "`version` (one line) is 251 characters long; at most 200"),
    ("red_flags.yaml", "reason: Cauda equina features present for more than 14 days and not getting worse.",
     "reason: " + "x" * 5000, "`reason` is 5,000 characters long; at most 4,000"),
    ("red_flags.yaml", "systemic.weight_loss and patient.age >= 60", "systemic.weight_loss and \uff50atient.age >= 60",
     "write expressions in plain characters: '\uff50' (U+FF50) reads as 'p'"),
    ("red_flags.yaml", "systemic.weight_loss and patient.age >= 60", "systemic.weight_loss and patient.\u0251ge >= 60",
     "unknown"),
])
def test_hostile_rule_text_is_a_located_error(rules_copy, file, old, new, what):
    text = (rules_copy / file).read_text()
    line = text[:text.index(old)].count("\n") + 1  # the error names the line the hostile text is on
    edit(rules_copy / file, old, new)
    errors = [p for p in check_rules(rules_copy) if p.severity == "error"]
    assert any(p.location.file.endswith(file) and p.location.line == line and what in p.message
               for p in errors), [str(p) for p in errors]
    with pytest.raises(InputError):
        load_rules(rules_copy)


def test_prose_in_rules_may_keep_its_line_breaks(rules_copy):
    edit(rules_copy / "red_flags.yaml",
         "reason: Cauda equina features present for more than 14 days and not getting worse.",
         'reason: "Cauda equina features present for more than 14 days\\n\\tand not getting worse."')
    assert [p for p in check_rules(rules_copy) if p.severity == "error"] == []


def test_the_shipped_rules_are_clean():
    assert [p for p in check_rules() if p.severity == "error"] == []


def test_every_character_the_text_checks_refuse_is_one_a_printable_text_cannot_hold():
    # The rule-set check skips its patterns for a printable text (most of them): that is sound only
    # while every character they refuse is not printable. A pattern widened to a printable
    # character (say U+00A0) must widen the quick test too.
    refused = [c for c in map(chr, range(0x10000)) if NOT_IN_LINE.search(c) or NOT_IN_TEXT.search(c)]
    assert len(refused) > 2000 and not [c for c in refused if c.isprintable()]


# --------------------------------------------------------------------------- raw HTML in Markdown

HOSTILE = '<img src=x onerror="alert(1)"> <script>steal()</script> &#x202E; ![t](https://evil.example/t.png)'


def test_raw_html_in_a_rule_set_is_shown_as_typed_in_rules_doc(rules_copy, cli):
    edit(rules_copy / "red_flags.yaml",
         "reason: Cauda equina features present for more than 14 days and not getting worse.",
         f"reason: '{HOSTILE}'")
    run = cli("rules", "doc", str(rules_copy))
    assert run.code == 0, run.err
    assert "<img" not in run.out and "<script>" not in run.out and "&#x202E;" not in run.out
    assert "&lt;img src=x onerror=\"alert(1)\"> &lt;script>steal()&lt;/script> &amp;#x202E; !\\[t\\]" in run.out


def test_links_code_and_emphasis_in_a_rule_set_are_shown_as_typed_in_rules_doc(rules_copy, cli):
    """A reason with a live link, a code span or bold in it reads as typed: the rule set is an input."""
    edit(rules_copy / "red_flags.yaml",
         "reason: Cauda equina features present for more than 14 days and not getting worse.",
         "reason: '# See [the pathway](http://evil.example/) `code` **bold**'")
    run = cli("rules", "doc", str(rules_copy))
    assert run.code == 0, run.err
    assert "- **Reason:** \\# See \\[the pathway\\](http://evil.example/) \\`code\\` \\*\\*bold\\*\\*" in run.out
    import markdown_it

    html = markdown_it.MarkdownIt().render(run.out)
    assert "evil.example" in html and 'href="http://evil.example/"' not in html and "<code>code</code>" not in html


def test_raw_html_in_case_text_is_shown_as_typed_in_the_markdown_note(tmp_path, cli):
    import json

    case = tmp_path / "c.json"
    case.write_text(json.dumps({"format": "lbp-case/1", "id": "<b>x</b>", "notes": {
                                    "presenting": HOSTILE + "\n<!--", "pmh": "\\`<script>pmh()</script>`"},
                                "assessor": "`<kept in code>`"}))
    run = cli("note", str(case), "--full")
    assert run.code == 0, run.err
    assert "<img" not in run.out and "<script>" not in run.out and "<b>" not in run.out and "<!--" not in run.out
    assert "&lt;b>x&lt;/b>" in run.out and "&lt;script>steal()" in run.out and "&lt;script>pmh()" in run.out
    # Code spans too: backticks typed in case text are escaped, so it reads as typed (no code span).
    assert "\\`<b>" not in run.out and "\\`&lt;kept in code>\\`" in run.out
    text = cli("note", str(case), "--full", "-f", "text").out
    assert "<script>steal()</script>" in text  # plain text is not Markdown: shown exactly


def test_free_text_cannot_start_a_block_on_its_first_line_either(tmp_path, cli):
    """"# 3 days" typed as the first line of the history is no heading in the note, "- x" no
    nested list, "1. x" no ordered list and "> x" no quote: the first line is escaped like the rest."""
    import json

    import markdown_it

    case = tmp_path / "c.json"
    case.write_text(json.dumps({"format": "lbp-case/1", "id": "md", "notes": {
        "presenting": "# HEAD presenting", "pmh": "- nested bullet", "dh": "1. ordered", "sh": "> quote\n# second"}}))
    run = cli("note", str(case))
    assert run.code == 0, run.err
    for shown in ("- \\# HEAD presenting", "- \\- nested bullet", "- 1\\. ordered", "- \\> quote", "  \\# second"):
        assert shown in run.out.splitlines(), shown
    html = markdown_it.MarkdownIt("commonmark").render(run.out)
    assert "<h1>HEAD" not in html and "<ol" not in html and "<blockquote" not in html and "<ul>\n<li>nested" not in html


def test_a_rule_file_of_two_documents_is_told_so_in_words_for_rules(rules_copy):
    """A second `---` document in a rule file is an error that speaks of rule files, not of cases."""
    (rules_copy / "extra.yaml").write_text("layer: red_flag\n---\nlayer: red_flag\n")
    (problem,) = [p for p in check_rules(rules_copy) if p.severity == "error"]
    assert str(problem).endswith("extra.yaml:2:1: more than one YAML document: a rule file holds one"), str(problem)


def test_an_expression_too_large_to_compile_is_named_where_it_is_written(rules_copy):
    """A count of 3,000 items passes every check but Python's compiler: the error points at it."""
    edit(rules_copy / "red_flags.yaml", "systemic.weight_loss and patient.age >= 60",
         "count(" + ", ".join(["systemic.fever"] * 3000) + ") >= 2")
    (problem,) = [p for p in check_rules(rules_copy) if p.severity == "error"]
    where = problem.location
    line = (rules_copy / "red_flags.yaml").read_text().splitlines()[where.line - 1]
    assert where.file.endswith("red_flags.yaml") and "count(systemic.fever" in line, str(problem)
    assert "too large to compile" in problem.message and "(3,003 terms)" in problem.message


def test_a_runaway_literal_in_an_expression_is_quoted_short(rules_copy):
    """A 500,000-character value in a rule is an error of one short line, not the value echoed."""
    edit(rules_copy / "red_flags.yaml", "systemic.weight_loss and patient.age >= 60",
         'systemic.weight_loss and pain.leg_side == "' + "x" * 500_000 + '"')
    (problem,) = [p for p in check_rules(rules_copy) if p.severity == "error"]
    assert "'" + "x" * 58 + "… is not a value of pain.leg_side" in problem.message and len(str(problem)) < 400


def test_a_lone_list_marker_or_a_table_in_free_text_reads_as_typed(tmp_path, cli):
    """A history line that is only "1." or "+" is no empty list item, and "a | b" over "--- | ---" no
    table: the note renders the same words as its plain-text form."""
    import json

    import markdown_it

    case = tmp_path / "c.json"
    case.write_text(json.dumps({"format": "lbp-case/1", "id": "md", "notes": {
        "presenting": "1.", "pmh": "+", "sh": "a | b\n--- | ---\nc | d"}}))
    run = cli("note", str(case))
    assert run.code == 0, run.err
    html = markdown_it.MarkdownIt().render(run.out)
    assert "<table" not in html and "<li></li>" not in html and "<ol" not in html
    assert "1." in html and "a | b" in html and "c | d" in html
