"""The audit report in a real browser (the system's headless Chromium, through Playwright): it
loads with no console error and no request, every chart renders, the case list filters, sorts
and opens notes, the numbers shown are score's, and nothing from a case runs as script."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the audit report needs matplotlib (pip install '.[audit]')")
pytestmark = pytest.mark.slow  # drives a real Chromium

from audit_data import ASSESSORS, HOSTILE_ID, make_inputs  # noqa: E402

CHARTS = ("chart-class-urgency", "chart-rules", "chart-screening", "chart-urgent-by-rule", "chart-urgent-by-assessor",
          "chart-over-time")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[dict]]:
    """The report of the test inputs, and score's rows for the same inputs."""
    import subprocess
    import sys

    where = tmp_path_factory.mktemp("audit")
    inputs = make_inputs(where)
    command = [sys.executable, "-m", "lbp_assess"]
    subprocess.run([*command, "audit", *inputs, "-o", str(where / "report.html"), "-q"], check=False)
    score = subprocess.run([*command, "score", *inputs, "-f", "jsonl", "-q"], capture_output=True, text=True)
    return where / "report.html", [json.loads(line) for line in score.stdout.splitlines()]


@pytest.fixture
def opened(page, report):
    path, _ = report
    page.page.goto(path.as_uri())
    page.page.wait_for_load_state("load")
    return page


def visible_cases(p) -> list[dict]:
    return p.page.eval_on_selector_all(
        "#case-list tbody.case", """bodies => bodies.filter(b => getComputedStyle(b).display !== 'none').map(b => ({
            id: b.rows[0].cells[1].textContent, urgency: b.dataset.urgency, cls: b.dataset.class,
            rules: b.dataset.rules.split(' '), unscreened: b.dataset.unscreened.split(' ').filter(Boolean)}))""")


def test_loads_offline_with_no_console_error_and_no_request(opened, report):
    path, _ = report
    assert opened.errors == []
    assert [m for m in opened.console if m[0] in ("error", "warning")] == []
    assert opened.requests == [path.as_uri()]  # the page itself, and nothing else
    # Opening every note and using every control still asks for nothing
    opened.page.click("#filter-clear")
    for button in opened.page.query_selector_all("button.note-toggle")[:5]:
        button.click()
    assert opened.requests == [path.as_uri()] and opened.errors == [] and opened.dialogs == []
    assert opened.page.evaluate("window.pwned") is None  # nothing from a case ran


def test_every_chart_renders_with_its_text_alternative_and_numbers(opened):
    for name in CHARTS:
        svg = opened.page.query_selector(f"#{name} svg.chart")
        assert svg is not None, f"{name}: no chart"
        box = svg.bounding_box()
        assert box["width"] > 300 and box["height"] > 100, f"{name}: drawn at {box}"
        marks = opened.page.eval_on_selector(f"#{name} svg.chart", "s => s.querySelectorAll('path, use').length")
        assert marks > 10, f"{name}: {marks} marks"
        assert svg.get_attribute("role") == "img" and svg.get_attribute("aria-label")
        alternative = opened.page.text_content(f"#{name}-alt")
        assert len(alternative) > 40, f"{name}: text alternative {alternative!r}"
        assert opened.page.query_selector(f"#{name} table.numbers tbody tr") is not None, f"{name}: no numbers"


def test_numbers_on_the_page_are_scores(opened, report):
    _, rows = report
    scored = [row for row in rows if not row["error"]]
    p = opened.page

    def table(table_id: str) -> list[list[str]]:
        return p.eval_on_selector_all(f"#{table_id} tbody tr",
                                      "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")

    def n(text: str) -> int:
        return int(text.replace(",", ""))

    classes = {"Red flag": "red_flag", "Stenosis": "stenosis", "Radicular": "radicular", "Non-specific": "non_specific"}
    tiers = ["emergency", "urgent", "soon", "routine"]
    want = collections.Counter((row["classification"], row["urgency"]) for row in scored)
    for cells in table("table-class-urgency"):
        if cells[0] in classes:
            assert [n(c) for c in cells[1:5]] == [want[(classes[cells[0]], t)] for t in tiers], cells
    fired = collections.Counter(rule for row in scored for rule in row["rules_fired"])
    assert {cells[0]: n(cells[1]) for cells in table("table-rules")} == dict(fired)
    unscreened = collections.Counter(fact for row in scored for fact in row["unscreened"])
    assert {cells[1]: n(cells[3]) for cells in table("table-screening")} == {
        cells[1]: unscreened[cells[1]] for cells in table("table-screening")}
    assert sum(unscreened.values()) > 0
    high = collections.Counter(row["assessor"] for row in scored if row["urgency"] in ("emergency", "urgent"))
    cases = collections.Counter(row["assessor"] for row in scored if row["assessor"])
    by_assessor = {cells[0]: (n(cells[1]), n(cells[2]) + n(cells[3])) for cells in table("table-urgent-by-assessor")}
    assert {a: by_assessor[a] for a in ASSESSORS} == {a: (cases[a], high[a]) for a in ASSESSORS}
    dated = sum(1 for row in scored if row["assessed_on"])
    assert sum(n(cells[-1]) for cells in table("table-over-time")) == dated
    assert p.text_content("#total-scored .value") == str(len(scored))
    assert p.text_content("#total-errors .value") == str(len(rows) - len(scored))
    assert len(p.query_selector_all("#errors li")) == len(rows) - len(scored)


def test_filtering_and_sorting_the_case_list(opened, report):
    _, rows = report
    scored = [row for row in rows if not row["error"]]
    p = opened.page
    assert len(visible_cases(opened)) == min(100, len(scored))
    p.select_option("#filter-urgency", "emergency")
    shown = visible_cases(opened)
    assert shown and {c["urgency"] for c in shown} == {"emergency"}
    assert len(shown) == sum(row["urgency"] == "emergency" for row in scored)
    assert p.text_content("#case-count").startswith(f"{len(shown)} of {len(scored)}")
    p.select_option("#filter-urgency", "")
    rule = "red_flag.cauda_equina.emergency"
    p.select_option("#filter-rule", rule)
    shown = visible_cases(opened)
    assert len(shown) == sum(rule in row["rules_fired"] for row in scored) and all(rule in c["rules"] for c in shown)
    p.click("#filter-clear")
    p.select_option("#filter-unscreened", "cauda_equina.saddle_numbness")
    p.select_option("#filter-class", "non_specific")
    shown = visible_cases(opened)
    assert len(shown) == sum("cauda_equina.saddle_numbness" in row["unscreened"] and
                             row["classification"] == "non_specific" for row in scored) > 0
    p.click("#filter-clear")
    p.fill("#filter-text", "line-0")
    assert sorted(c["id"] for c in visible_cases(opened)) == sorted(
        row["id"] for row in scored if "line-0" in row["id"] or "line-0" in row["file"])
    p.click("#filter-clear")
    p.click("#case-list th[data-key=id] button")
    ids = [c["id"] for c in visible_cases(opened)]
    assert ids == sorted(ids, key=str.lower)
    assert p.get_attribute("#case-list th[data-key=id]", "aria-sort") == "ascending"


def test_a_row_opens_its_record_note_shown_as_text(opened):
    p = opened.page
    p.fill("#filter-text", "<script>")
    shown = visible_cases(opened)
    assert [c["id"] for c in shown] == [HOSTILE_ID]  # shown as the text it is
    button = p.query_selector("#case-list tbody.case:not(.filtered-out) button.note-toggle")
    note = p.query_selector(f"#{button.get_attribute('aria-controls')} pre")
    assert not note.is_visible()
    button.click()
    assert note.is_visible() and button.get_attribute("aria-expanded") == "true"
    text = note.text_content()
    # The record note is the text to paste: what was typed reads as typed (Markdown's escapes, `&lt;`,
    # showed as such before), and none of it runs.
    assert f"Case: {HOSTILE_ID}" in text
    assert "</pre><script>window.pwned=3</script>" in text and "&lt;" not in text
    assert "decision support" in text.lower()
    assert p.evaluate("window.pwned") is None and opened.dialogs == []


def test_prints_to_pdf_without_the_controls(opened):
    p = opened.page
    p.emulate_media(media="print")
    assert not p.is_visible(".controls") and not p.is_visible("nav")
    assert p.eval_on_selector_all("svg.chart", "s => s.filter(x => x.getBoundingClientRect().width > 300).length") \
        == len(CHARTS)
    pdf = p.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000


def test_without_a_script_every_listed_case_and_note_is_shown(browser, report):
    path, rows = report
    context = browser.new_context(java_script_enabled=False)
    try:
        p = context.new_page()
        p.goto(path.as_uri())
        notes = p.query_selector_all("pre.record-note")
        assert len(notes) == sum(1 for row in rows if not row["error"])
        assert all(note.is_visible() for note in notes[:5]) and not p.is_visible(".controls")
        assert p.is_visible("#chart-rules svg.chart")
    finally:
        context.close()
