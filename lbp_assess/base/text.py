"""Showing untrusted text (ids, free text, file names, values) on a terminal or in a spreadsheet.

Case files, drafts and rule files are untrusted: their text must never drive the
terminal (escape sequences set titles, write the clipboard or hide output) nor
be read as rich markup (`[/]` crashes a table, `[link=...]` makes a live link).
Every piece of data shown goes through `plain` (for plain output) or `markup`
(inside rich markup).
"""

from __future__ import annotations

import os
import re
import unicodedata

#: Unicode's bidirectional controls (the Bidi_Control property: the Arabic letter mark, the
#: left-to-right and right-to-left marks, embeddings, overrides and isolates), as the body of a
#: regex character class. Invisible, each reorders what is shown around it: input text never
#: holds one (model.case refuses them) and what is shown escapes them.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# C0 controls except tab and newline, DEL, C1 controls, and the Unicode line/paragraph
# separators and bidirectional controls that can disguise what is shown.
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")
_CONTROL_OR_NEWLINE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")


#: Characters that show as nothing yet are not format characters (Unicode category Cf, which
#: `str.isprintable` already tells apart): variation selectors, the combining grapheme joiner, the
#: Hangul fillers, the Khmer inherent vowels, the Mongolian free variation selectors, the braille blank.
INVISIBLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
                       "\U000e0100-\U000e01ef]")


def _escape(char: str) -> str:
    if char == "\t":
        return "\\t"
    if char == "\n":
        return "\\n"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _show(match: re.Match[str]) -> str:
    return _escape(match.group())


def _hidden(char: str) -> bool:
    """A character that shows as nothing, or as something else: a format character (zero-width
    space, soft hyphen, byte-order mark, tag characters), a private-use one, a lone surrogate, or one
    of INVISIBLE. An unassigned one is kept (a newer emoji than this Python's Unicode tables)."""
    return unicodedata.category(char) in ("Cf", "Co", "Cs") or INVISIBLE.match(char) is not None


def plain(text: object, *, multiline: bool = False) -> str:
    """`text` with control characters shown as escapes (newlines kept when `multiline`): what is
    shown to read - a note's text, an answer, a name - keeps every other character, a zero-width
    non-joiner in a Persian name or the joiner of an emoji included."""
    return (_CONTROL if multiline else _CONTROL_OR_NEWLINE).sub(_show, str(text))


def plain_name(text: object) -> str:
    """One line for telling names apart - a key, a file name, a diagnostic naming either - with
    every control character and every character that shows as nothing (`_hidden`) as an escape:
    `saddle_numbness` followed by a zero-width space is not shown as if it were the field it is not."""
    shown = _CONTROL_OR_NEWLINE.sub(_show, str(text))
    if shown.isascii() or not any(_hidden(char) for char in shown):
        return shown
    return "".join(_escape(char) if _hidden(char) else char for char in shown)


def file_name(shown: str) -> str:
    """The last part of a shown path (with its :line for JSON Lines), for a narrow cell: the full path
    stays in the machine formats. Cut at the path's separators only: a backslash in a shown name
    begins an escape (`\\u202e`), not a folder."""
    return re.split("[/" + re.escape(os.sep) + "]", shown)[-1]


def markup(text: object, *, multiline: bool = False) -> str:
    """`text` made safe to place inside rich markup: controls escaped, `[` not read as a tag."""
    from rich.markup import escape  # here: the CSV and JSON outputs use this module without rich

    return escape(plain(text, multiline=multiline))


def agree(n: int, one: str, many: str) -> str:
    """The word that agrees with a count: `agree(n, "is", "are")`."""
    return one if n == 1 else many


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """A count and the noun it counts, singular or plural: "1 case", "2 cases", "12,000 errors"."""
    return f"{n:,} {agree(n, noun, plural or noun + 's')}"


def shorten(text: object, limit: int = 80) -> str:
    """At most `limit` characters (for echoing a value in a one-line message)."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


FORMULA_START = frozenset("=+-@\t\r")


def spreadsheet(text: object) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula (=, +, -, @, tab,
    carriage return) gets a leading apostrophe, as OWASP recommends."""
    value = "" if text is None else str(text)
    return "'" + value if value and value[0] in FORMULA_START else value


def csv_text(text: object) -> str:
    """Text from an input as a CSV cell: control characters and bidirectional controls shown
    as escapes (line breaks kept: the CSV writer quotes them), and a formula start neutralised."""
    return spreadsheet(plain("" if text is None else text, multiline=True))


_BLOCK_START = re.compile(r"^(\s*)(\d+(?=[.)](?:\s|$))|#|>|[-*+](?=\s|$)|```|~~~|=+\s*$|-+\s*$)")


def starts_markdown_block(text: str) -> bool:
    """Whether Markdown reads a line beginning with `text` as a block: heading, quote, list, fence."""
    return _BLOCK_START.match(text) is not None


def markdown_line(text: str) -> str:
    """A line of text that Markdown will not read as a block (heading, quote, list, fence)."""
    def escape(m: re.Match[str]) -> str:
        return m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2])
    return _BLOCK_START.sub(escape, text, count=1)


_INLINE = re.compile(r"([\\`*_\[\]~|])")  # the pipe: a line of a table


def markdown_inline(text: str) -> str:
    """Text from an input with Markdown's emphasis, code, link and table characters escaped: "**3 days**"
    reads as typed, not in bold, `[x](http://...)` is no link and `a | b` no table row."""
    return _INLINE.sub(r"\\\1", text)


# Raw HTML in Markdown: a tag, comment or autolink (`<script>`, `</p>`, `<!--`, `<https://...>`),
# and a character reference (`&#x202E;` would render a bidirectional override), and an image.
# Escaped everywhere, code spans included: where a code span starts is for the renderer to decide
# (a backslash before a backtick, runs of backticks), and a wrong guess would let HTML through.
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])|&(?=#?[A-Za-z0-9]+;)|!(?=\[)")


def markdown_text(text: object) -> str:
    """Text from an input (a case, a record, a rule set) made literal in Markdown: what would be
    raw HTML, a character reference or an image is escaped, so a renderer shows it as typed."""
    value = str(text)
    if "<" not in value and "&" not in value and "![" not in value:
        return value
    return _HTML_START.sub(_html_escape, value)


def _html_escape(match: re.Match[str]) -> str:
    return {"<": "&lt;", "&": "&amp;", "!": "\\!"}[match.group()]
