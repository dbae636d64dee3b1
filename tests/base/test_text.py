"""Untrusted text shown on a terminal: no escape sequence reaches it, no text is read as markup."""

from io import StringIO

import pytest
from rich.console import Console

from lbp_assess.base.text import agree, counted, markup, plain, shorten


@pytest.mark.parametrize("hostile", ["\x1b]0;owned\x07", "\x1b[2J", "a\rb", "\x00", "\u202eevil", "\x9b31m"])
def test_control_characters_are_shown_escaped(hostile):
    shown = plain(f"id-{hostile}-end")
    assert shown.startswith("id-") and shown.endswith("-end")
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in shown)


def test_newlines_kept_only_when_multiline():
    assert plain("a\nb") == "a\\nb"
    assert plain("a\nb", multiline=True) == "a\nb"


@pytest.mark.parametrize("text", ["[/]", "see [r/o CES]", "[link=https://x]click[/link]", "[bold]x"])
def test_markup_is_printed_literally(text):
    out = StringIO()
    Console(file=out, width=200, color_system=None).print(markup(text))
    assert out.getvalue().rstrip("\n") == text


def test_shorten_keeps_short_values_and_cuts_long_ones():
    assert shorten("abc", 5) == "abc"
    assert shorten("x" * 900_000, 80) == "x" * 79 + "…"


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_would_start_a_formula_is_shown_as_text(text):
    from lbp_assess.base.text import spreadsheet

    assert spreadsheet(text) == "'" + text
    assert spreadsheet("plain") == "plain" and spreadsheet(None) == "" and spreadsheet(3) == "3"


def test_score_csv_neutralises_formulas(tmp_path, cli):
    case = tmp_path / "x.yaml"
    case.write_text('format: lbp-case/1\nid: "=cmd|calc"\n')
    out = cli("score", str(case), "-f", "csv").out
    assert "'=cmd|calc" in out and ",=cmd" not in out


def test_series_csv_neutralises_formulas():
    from lbp_assess.outputs.visits import SERIES_COLUMNS, series_csv

    row = {column: None for column in SERIES_COLUMNS} | {"id": "=cmd|calc", "red_flags": ["+x"]}
    line = series_csv([row]).splitlines()[1]
    assert "'=cmd|calc" in line and "'+x" in line


def test_counts_read_as_words_one_case_two_cases():
    assert [counted(n, "case") for n in (0, 1, 2, 12_000)] == ["0 cases", "1 case", "2 cases", "12,000 cases"]
    assert counted(1, "analysis", "analyses") == "1 analysis" and counted(3, "analysis", "analyses") == "3 analyses"
    assert [agree(n, "is", "are") for n in (0, 1, 2)] == ["are", "is", "are"]
