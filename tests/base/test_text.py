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


def every_character(test) -> list[str]:
    import sys

    return [chr(c) for c in range(sys.maxunicode + 1) if test(chr(c))]


def test_a_line_shows_every_character_that_shows_as_nothing_as_an_escape():
    """`unknown field saddle_numbness (did you mean saddle_numbness?)`: the key held a zero-width
    space, shown raw. Every format character (Unicode Cf, whatever the Unicode version), unassigned
    or private-use one, and the blank-looking INVISIBLE ones is an escape in one line."""
    import unicodedata

    from lbp_assess.base.text import INVISIBLE

    hidden = every_character(lambda c: unicodedata.category(c) in ("Cf", "Co", "Cn") and not 0xD800 <= ord(c) < 0xE000)
    hidden += [c for c in every_character(lambda c: INVISIBLE.match(c) is not None)]
    assert len(hidden) > 1000 and "\u200b" in hidden and "\U000e0041" in hidden
    for char in hidden:
        shown = plain(f"saddle_numbness{char}")
        assert shown.startswith("saddle_numbness\\") and shown.isprintable() and char not in shown, (hex(ord(char)), shown)
    assert plain("saddle_numbness\u200b") == "saddle_numbness\\u200b"
    assert plain("tag\U000e0041") == "tag\\U000e0041"


@pytest.mark.parametrize("text", ["café", "e\u0301", "Dr\u00a0Smith", "אב", "日本", "𝑥", "a b"])
def test_a_line_keeps_what_shows(text):
    assert plain(text) == text


def test_prose_keeps_the_joiners_its_writing_needs():
    persian = "می\u200cخواهم"  # a zero-width non-joiner inside a word
    assert plain(persian, multiline=True) == persian
    assert plain(persian) == "می\\u200cخواهم"


def test_an_error_naming_a_key_with_a_hidden_character_shows_it(cli, tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text("format: lbp-case/1\nid: x\ncauda_equina:\n  \"saddle_numbness\\u200b\": true\n")
    run = cli("note", str(path))
    assert run.code == 1 and "unknown field `saddle_numbness\\u200b`" in run.err and "\u200b" not in run.err, run.err


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
