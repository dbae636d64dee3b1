"""`lbp-assess audit`: the report's data is score's, bad input is listed and never stops it,
nothing is overwritten without --force, and text from the cases is escaped.
(What a browser shows is tested in a real one: tests/batch/test_audit_browser.py.)"""

from __future__ import annotations

import collections
import html
import json
import re

import pytest

pytest.importorskip("matplotlib", reason="the audit report needs matplotlib (pip install '.[audit]')")

from lbp_assess.base.text import counted  # noqa: E402

from audit_data import BAD_LINE, HOSTILE_ASSESSOR, HOSTILE_ID, HOSTILE_NOTE, make_inputs  # noqa: E402
from helpers import edit  # noqa: E402


@pytest.fixture
def inputs(tmp_path) -> list[str]:
    return make_inputs(tmp_path)


def score_rows(cli, *args: str) -> list[dict]:
    run = cli("score", *args, "-f", "jsonl")
    return [json.loads(line) for line in run.out.splitlines()]


def test_the_csv_beside_the_page_is_what_score_writes(cli, inputs, tmp_path):
    report = tmp_path / "report.html"
    run = cli("audit", *inputs, "-o", str(report), "--jobs", "1")
    assert run.code == 1  # three inputs are bad: the report is still written
    score = cli("score", *inputs, "-f", "csv", "--jobs", "1")
    assert (tmp_path / "report.csv").read_text() == score.out
    page = report.read_text()
    assert 'href="report.csv"' in page


def test_every_error_is_listed_with_scores_located_message(cli, inputs, tmp_path):
    report = tmp_path / "report.html"
    run = cli("audit", *inputs, "-o", str(report))
    errors = [row["error"] for row in score_rows(cli, *inputs) if row["error"]]
    assert len(errors) == 3 and any(":8: patient.age" in e for e in errors)
    page = report.read_text()
    listed = re.search(r'<ol id="errors">(.*?)</ol>', page, re.S).group(1)
    for message in errors:
        assert html.escape(message) in listed
        assert message in run.err  # and on standard error, as score says them
    assert 'id="error-count">(3)' in page
    # the file score does not read is reported as skipped, with the reason
    assert re.search(r"README\.txt</span>: not a case file", page)


def test_counts_on_the_page_are_scores(cli, inputs, tmp_path):
    report = tmp_path / "report.html"
    cli("audit", *inputs, "-o", str(report), "--jobs", "2")
    rows = [row for row in score_rows(cli, *inputs) if not row["error"]]
    page = report.read_text()
    cells = dict(re.findall(r'<th scope="row">([^<]*)</th><td class="num">([\d,]+)</td><td class="num">[\d.]+%',
                            page.split('id="table-rules"')[1].split("</table>")[0]))
    fired = collections.Counter(rule for row in rows for rule in row["rules_fired"])
    assert {rule: int(n) for rule, n in cells.items()} == dict(fired)
    assert f'id="total-scored"><span class="value">{len(rows)}<' in page
    emergency = sum(row["urgency"] == "emergency" for row in rows)
    assert f'id="total-urgency-emergency"><span class="value">{emergency}<' in page
    assert any(row["file"].endswith("fhir-response.json") for row in rows)  # a FHIR response, read as score reads it
    assert page.count('<pre class="record-note">') == len(rows) and "No record note" not in page


def test_hostile_text_is_escaped_everywhere(cli, inputs, tmp_path):
    report = tmp_path / "report.html"
    cli("audit", *inputs, "-o", str(report))
    page = report.read_text()
    for text in (HOSTILE_ID, HOSTILE_ASSESSOR, HOSTILE_NOTE):
        assert text not in page
    assert page.count("<script") == 1  # the page's own script, and nothing from a case
    assert "<a href='https" not in page and 'href="http' not in page  # no live link out of the page
    assert html.escape(HOSTILE_ID) in page
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_nothing_is_overwritten_without_force(cli, inputs, tmp_path):
    report = tmp_path / "report.html"
    (tmp_path / "report.csv").write_text("keep me\n")
    run = cli("audit", *inputs, "-o", str(report))
    assert run.code == 1 and "report.csv: already exists; use --force" in run.err
    assert (tmp_path / "report.csv").read_text() == "keep me\n" and not report.exists()
    assert cli("audit", *inputs, "-o", str(report), "--force").code == 1  # (1: the inputs hold errors)
    assert (tmp_path / "report.csv").read_text().startswith("id,file,")
    assert report.stat().st_mode & 0o777 == 0o600  # record notes inside: private, like a case file


def test_the_list_is_limited_most_urgent_first_and_says_so(cli, inputs, tmp_path):
    report = tmp_path / "report.html"
    cli("audit", *inputs, "-o", str(report), "--max-cases", "5")
    page = report.read_text()
    urgencies = re.findall(r'<tbody class="case" data-class="[^"]*" data-urgency="([^"]*)"', page)
    rows = [row for row in score_rows(cli, *inputs) if not row["error"]]
    assert urgencies == ["emergency"] * 5
    assert f"{len(rows) - 5} more scored cases are not listed here" in page


def test_each_listed_case_embeds_its_record_note(cli, tmp_path):
    from helpers import EXAMPLES

    report = tmp_path / "report.html"
    case = EXAMPLES / "cases" / "ces-saddle-numbness.yaml"
    cli("audit", str(case), "-o", str(report))
    note = cli("note", str(case), "-f", "text").out  # the text to paste: Markdown's escapes would show in <pre>
    page = report.read_text()
    embedded = html.unescape(re.search(r'<pre class="record-note">(.*?)</pre>', page, re.S).group(1))
    same = lambda text: [line for line in text.splitlines() if not line.startswith("Generated ")]  # noqa: E731
    assert same(embedded) == same(note.rstrip("\n"))


def test_rules_comparison_lists_every_case_that_changes_and_the_rule(cli, inputs, tmp_path, rules_copy):
    # Cauda equina features for over 14 days and stable: urgent -> soon under the other rules.
    edit(rules_copy / "red_flags.yaml", "condition: cauda_equina\n    tier: urgent", "condition: cauda_equina\n    tier: soon")
    report = tmp_path / "report.html"
    run = cli("audit", *inputs, "-o", str(report), "--compare-rules", str(rules_copy))
    before = {row["file"]: row for row in score_rows(cli, *inputs) if not row["error"]}
    after = {row["file"]: row for row in score_rows(cli, *inputs, "--rules", str(rules_copy)) if not row["error"]}
    changed = {f for f in before if (before[f]["classification"], before[f]["urgency"], before[f]["condition_tiers"])
               != (after[f]["classification"], after[f]["urgency"], after[f]["condition_tiers"])}
    assert changed, "the edit changes some cases"
    page = report.read_text()
    assert f'<span id="changed-count">{len(changed)}</span>' in page
    assert f"<strong>lower for {len(changed)}</strong>" in page  # urgent -> soon, every one
    changes = (tmp_path / "report.changes.csv").read_text().splitlines()
    assert len(changes) == len(changed) + 1
    assert all("red_flag.cauda_equina.established_stable" in line for line in changes[1:])
    assert f"{counted(len(changed), 'case')} {'changes' if len(changed) == 1 else 'change'} under" in run.err


def test_standard_input_and_usage_errors(cli, tmp_path):
    from helpers import EXAMPLES

    report = tmp_path / "report.html"
    line = json.dumps(json.loads(json.dumps(__import__("lbp_assess").load_case(
        EXAMPLES / "cases" / "radicular-l5.yaml").to_data())))
    run = cli("audit", "-", "-o", str(report), stdin=(line + "\n" + BAD_LINE + "\n").encode())
    assert run.code == 1 and "<stdin>:2: patient.age" in run.err
    assert "read from standard input" in report.read_text()  # its note cannot be read again: said so
    assert cli("audit", "-", "-o", str(tmp_path / "r.csv")).code == 2


def test_errors_beyond_those_listed_are_counted_and_point_to_the_csv(cli, tmp_path):
    from lbp_assess.batch.audit import ERRORS_LISTED

    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([BAD_LINE] * (ERRORS_LISTED + 7)) + "\n")
    report = tmp_path / "report.html"
    assert cli("audit", str(bad), "-o", str(report), "-q").code == 1
    page = report.read_text()
    assert page.count("patient.age: expected a whole number") == ERRORS_LISTED
    assert "7 more errors are not listed here: every one is in" in page
    assert (tmp_path / "report.csv").read_text().count("expected a whole number") == ERRORS_LISTED + 7


def test_tallies_stay_bounded_whatever_the_assessors_and_dates():
    from lbp_assess.batch.audit import MAX_ASSESSORS, MAX_DAYS, OTHER_ASSESSORS, Tally

    total = Tally()
    part = Tally()
    part.assessor_urgency.update({(f"assessor {i}", "routine"): 1 for i in range(MAX_ASSESSORS + 50)})
    part.dated.update({(f"{1000 + i // 12:04d}-{i % 12 + 1:02d}-01", "routine"): 1 for i in range(MAX_DAYS + 1)})
    total.merge(part)
    assert len({name for name, _ in total.assessor_urgency}) == MAX_ASSESSORS
    assert total.assessor_urgency[(OTHER_ASSESSORS, "routine")] == 51
    assert sum(total.assessor_urgency.values()) == MAX_ASSESSORS + 50  # folded, never dropped
    assert total.dates_by_month and sum(total.dated.values()) == MAX_DAYS + 1


@pytest.mark.slow
def test_a_progress_bar_on_a_terminal_only(tmp_path):
    import os
    import sys

    import pexpect
    from helpers import EXAMPLES

    from lbp_assess import load_case

    case = load_case(EXAMPLES / "cases" / "radicular-l5.yaml").to_data()
    big = tmp_path / "many.jsonl"
    big.write_text("".join(json.dumps(dict(case, id=f"c{i}")) + "\n" for i in range(20_000)))
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"TERM": "xterm", "COLUMNS": "80"}
    child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "audit", str(big), "-o", str(tmp_path / "t.html"),
                                           "--jobs", "1"], env=env, timeout=120, encoding="utf-8")
    child.expect(pexpect.EOF)
    assert "auditing" in child.before and "audited 20,000 of 20,000 cases" in child.before
    import subprocess

    piped = subprocess.run([sys.executable, "-m", "lbp_assess", "audit", str(big), "-o", str(tmp_path / "p.html")],
                           capture_output=True, text=True, env=env)
    assert "auditing" not in piped.stderr and "audited 20,000" in piped.stderr


@pytest.mark.parametrize("planted", ["report.html", "report.csv"])
def test_nothing_is_written_through_a_planted_link_even_with_force(cli, tmp_path, planted):
    from helpers import EXAMPLES

    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours")
    (tmp_path / planted).symlink_to(elsewhere)
    run = cli("audit", str(EXAMPLES / "cases"), "-o", str(tmp_path / "report.html"), "--force")
    assert run.code == 1 and f"{tmp_path / planted}: is a symbolic link; refusing to write through it" in run.err
    assert elsewhere.read_text() == "not yours"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["elsewhere.txt", planted])  # nothing else written


def test_with_no_case_scored_no_screening_question_is_said_answered_in_every_case(cli, tmp_path):
    """Unknown is not no: an audit of files that are all errors said "11 of 11 were answered in every
    case" - true of no case at all."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    report = tmp_path / "report.html"
    run = cli("audit", str(bad), "-o", str(report), "-q")
    assert run.code == 1
    page = html.unescape(report.read_text())
    assert "were answered in every case" not in page
    assert "No case was scored, so none of the 11 red-flag screening questions was answered." in page


def test_file_names_that_are_not_utf8_or_hide_a_character_are_escaped_and_their_notes_embedded(cli, tmp_path):
    """A review: `audit` of a file whose name is not UTF-8 ended with exit 70 (the raw name in the
    page's "Files read" table could not be written); a case file whose name holds a bidi override
    or a zero-width space was listed with "No record note: could not be read again: ... no such
    file" (read again by its escaped, shown name), and its file cell was cut at the escape's
    backslash. Names are escaped on the page as in every row, read by their real name."""
    import os

    ces = "format: lbp-case/1\nid: {id}\ncauda_equina: {{saddle_numbness: true}}\n"
    folder = tmp_path / "in"
    folder.mkdir()
    os.makedirs(os.path.join(os.fsencode(folder), b"sub"))
    with open(os.path.join(os.fsencode(folder), b"sub", b"caf\xe9.jsonl"), "w") as handle:
        handle.write(json.dumps({"format": "lbp-case/1", "id": "c1", "cauda_equina": {"saddle_numbness": True}}) + "\n")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.yaml"), "w") as handle:
        handle.write(ces.format(id="c2"))
    (folder / "bidi\u202eevil.yaml").write_text(ces.format(id="c3"))
    (folder / "zw\u200b.yaml").write_text(ces.format(id="c4"))
    report = tmp_path / "report.html"
    run = cli("audit", str(folder), "-o", str(report))  # its sub-folder too
    assert run.code == 0, run.err
    page = report.read_text(encoding="utf-8")
    assert "No record note" not in page and page.count('<pre class="record-note">') == 4, page[:2000]
    cells = re.findall(r'class="file" title="[^"]*">([^<]*)<', page)
    assert {"caf\\udce9.jsonl:1", "caf\\udce9.yaml", "bidi\\u202eevil.yaml", "zw\\u200b.yaml"} <= set(cells), cells
    assert "\u202e" not in page and "\u200b" not in page
