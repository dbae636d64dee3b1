"""Safe reading of YAML and JSON input, with YAML 1.2 scalars and exact locations.

* Only plain data is ever built: tags such as `!!python/object/apply` are refused.
* YAML 1.2 core schema: only `true`/`false` are booleans (`yes`/`no` stay
  strings), `046` is 46, `0x1F` is 31, `1:30` and dates are strings (pydantic
  parses dates where a field wants one), and a key given twice is an error -
  never a silent "last one wins" on a red-flag answer.
* Two parsers, one meaning: yaml-rs (Rust, about 10x faster) reads ordinary
  files; PyYAML (libyaml) reads anything unusual - tags, several documents - and
  produces every error message, with its line and column. A differential test
  holds them to the same data.
* Hostile input is refused before or right after parsing: files over a size
  limit, binary or non-UTF-8 bytes, flow nesting deep enough to crash the C
  parser, and alias "billion laughs" documents (a node budget on the result).
* Locations: `Locator` maps a field path such as ("patient", "age") back to
  the line and column where it was written, so messages read `file:line:col`.
  Locating re-reads the text (with PyYAML, imported then), and is only done
  when a position is read: when there is a problem, or something to show.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, Location, Problem

MAX_FILE_BYTES = 1_000_000  # a case is a few KB; a vignette with notes ~10 KB
MAX_NESTING = 32  # a case file nests 3 levels
MAX_NODES = 20_000  # a full case file has ~150 nodes
MAX_INT_DIGITS = 20  # a whole number in a case or rule file is an age, a count or a number of days
NOT_FINITE = "not a finite number (.nan, .inf and numbers too large to hold are refused)"

_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_12 = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL_12 = re.compile(r"^(?:~|null|Null|NULL|)$")


if TYPE_CHECKING:
    import yaml


@cache
def _loader(fast: bool) -> type:
    """PyYAML's safe loader (libyaml's when `fast`) resolving plain scalars as YAML 1.2 core. PyYAML
    is imported here, when first needed: yaml-rs reads ordinary files, and nothing is located
    until a problem is found in one."""
    import yaml

    return _yaml12(yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader)


def _yaml12(yaml: Any, base: type) -> type:
    """A loader class over `base` that resolves plain scalars as YAML 1.2 core."""

    class Loader(base):  # type: ignore[misc, valid-type]
        pass

    Loader.yaml_implicit_resolvers = {}
    for tag, pattern, first in (
        ("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF")),
        ("tag:yaml.org,2002:int", _INT_12, list("-+0123456789")),
        ("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789.")),
        ("tag:yaml.org,2002:null", _NULL_12, ["~", "n", "N", ""]),
    ):
        Loader.add_implicit_resolver(tag, pattern, first)

    def construct_int(loader: Any, node: yaml.ScalarNode) -> int:
        text = loader.construct_scalar(node)
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        digits = text[2:] if base != 10 else text
        if len(digits.lstrip("+-")) > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"number too large: more than {MAX_INT_DIGITS} digits", node.start_mark)
        return int(digits, base)

    def construct_mapping(loader: Any, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be plain text, not a list or mapping", key_node.start_mark)
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return base.construct_mapping(loader, node, deep)

    def construct_float(loader: Any, node: yaml.ScalarNode) -> float:
        value = base.construct_yaml_float(loader, node)
        if not math.isfinite(value):
            raise yaml.constructor.ConstructorError(None, None, NOT_FINITE, node.start_mark)
        return value

    def refuse_tag(loader: Any, node: yaml.Node) -> None:
        raise yaml.constructor.ConstructorError(None, None, f"tag '{node.tag}' is not plain data", node.start_mark)

    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    Loader.add_constructor("tag:yaml.org,2002:float", construct_float)
    # The safe loader's other types are not plain data (the readers promise dict, list, str, int,
    # float, bool and None): a set or ordered map would pass for a list, a timestamp for a date.
    for kind in ("set", "omap", "pairs", "binary", "timestamp"):
        Loader.add_constructor(f"tag:yaml.org,2002:{kind}", refuse_tag)
    Loader.construct_mapping = construct_mapping  # type: ignore[method-assign]
    return Loader


try:  # the fast path; everything still works (more slowly) without it
    import yaml_rs
except ImportError:  # pragma: no cover - yaml-rs is a dependency
    yaml_rs = None


# A tag or a complex-key indicator where a node can begin: at a line's start or just after a flow
# indicator or a colon (`key: !x`, `[!x]`, `? a`), or after a token that is or ends with an
# indicator (`- !x`, `[a, ? b]`), an anchor, a tag or a block-scalar header. There too an anchor or
# an alias, unless its name is plain (letters, digits, _ and -) and a blank or the line's end
# follows: the two parsers end other names at different characters. YAML's line breaks are \n and
# \r; PyYAML (YAML 1.1) also breaks lines at NEL and the Unicode line and paragraph separators.
# Every match holds one of ! ? & * and lies within one line (no part of it crosses a line feed):
# `unusual` searches only the lines that hold one (`lines_with`).
NODE_PROPERTY = re.compile(r"(?:(?:^|[\r\x85\u2028\u2029\[{,:])[ \t]*"
                           r"|(?:^|[ \t\r\x85\u2028\u2029\[{,:])(?:\S*[-?:,\[{]|[&!|>]\S*)[ \t]+)"
                           r"(?:[!?]|[&*](?![A-Za-z0-9_-]+(?:[ \t]|$)))", re.M)
# Where yaml-rs reads a number that YAML 1.2 core reads as text: 1_000 (and even _1, _.5, 0xa_b),
# 0b101, 0X1F, 0O17, +0x10, -0o10 (the underscores: _number_with_underscore, below).
_OTHER_NUMBERS = re.compile(r"0(?:[bBXO]|(?<=[-+]0)[xo])")
# A run of digits long enough to be a number too large for any field (refused with its location):
# digits made 9s, then one substring search (a regex is ten times slower on case files).
_DIGITS_TO_9 = bytes.maketrans(b"0123456789", b"9" * 10)
_LONG_RUN = b"9" * (MAX_INT_DIGITS + 1)
_LONG_HEX = re.compile(r"0x[0-9a-fA-F]{%d}" % (MAX_INT_DIGITS - 1))


def _long_number(text: str) -> bool:
    """Whether `text` has a run of more than MAX_INT_DIGITS digits, or a hex number nearly as long."""
    digits = text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_9)
    return _LONG_RUN in digits or _LONG_HEX.search(text) is not None


def unusual(text: str) -> bool:
    """Input where the two parsers could differ: PyYAML decides (and refuses tags with a message).

    Tags and keys that are lists or mappings (`!x`, `? [a]`) where a node can begin, anchors and
    aliases with names the parsers may end differently (`&a!x`) or an anchor defined twice, document
    markers, numbers that YAML 1.2 core reads as text (`1_000`, `0b101`, `+0x10`: yaml-rs reads
    numbers), and digit runs too long for a number. A `!` or `?` inside text (`a != b`, `why?`)
    and a digit in a name (`over_50`) are ordinary: rule files stay on the fast path.
    """
    return (("!" in text or "?" in text or "&" in text or "*" in text)
            and NODE_PROPERTY.search(lines_with(text, "!?&*")) is not None
            or "&" in text and _odd_anchors(text)
            or text.startswith(("---", "...")) or "\n---" in text or "\n..." in text
            or ("\r" in text or "\x85" in text or "\u2028" in text or "\u2029" in text)
            and _DOCUMENT_MARKER.search(text) is not None
            or "_" in text and _number_with_underscore(text)
            or _OTHER_NUMBERS.search(text) is not None or _long_number(text))


def lines_with(text: str, chars: str) -> str:
    """The lines of `text` (split at line feeds only) that hold one of `chars`, joined by line feeds.

    A pattern whose every match holds one of `chars` and lies within one line finds the same in
    them as in `text`, without searching the rest (NODE_PROPERTY and ANCHOR are such patterns: a
    rule file's `!=` and a question's `?` stand on few of its lines)."""
    lines, end = [], -1
    for found in _char_class(chars).finditer(text):
        at = found.start()
        if at < end:  # on the line already taken
            continue
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        lines.append(text[text.rfind("\n", 0, at) + 1:end])
    return "\n".join(lines)


@lru_cache(maxsize=8)
def _char_class(chars: str) -> re.Pattern[str]:
    return re.compile(f"[{re.escape(chars)}]")


# A document marker after any line break either parser knows (PyYAML's include NEL and U+2028/9).
_DOCUMENT_MARKER = re.compile("[\n\r\x85\u2028\u2029](?:---|\\.\\.\\.)")
# An anchor where a node can begin (`key: &name`, `- &name`, `[&name`), and what follows it on its line.
ANCHOR = re.compile(r"(?:^|(?<=[\s\[{,:]))&([A-Za-z0-9_-]+)[ \t]*(.?)", re.M)


def _odd_anchors(text: str) -> bool:
    """An anchor given twice (PyYAML refuses it, yaml-rs takes one), or an alias of an anchored list or
    mapping (one that begins after the anchor's line, or with `[` or `{`): yaml-rs reads a recursive
    alias as null and a mapping used as a key as a frozenset. An alias of a scalar (a shared label)
    is ordinary."""
    names = ANCHOR.findall(lines_with(text, "&"))  # (name, the character after it and its blanks)
    if len({name for name, _ in names}) != len(names):
        return True
    collections = {name for name, after in names if after in ("", "\r", "#", "[", "{", "-")}
    return any(f"*{name}" in text for name in collections)


def _number_with_underscore(text: str) -> bool:
    """Whether an underscore is in a word that yaml-rs may read as a number: one that begins (after
    a sign) with a digit, a dot or an underscore and holds only what numbers are written with
    (`1_000`, `_1`, `.5_0`, `0xa_b`, `1e1_0`), not a name (`over_50`). Only underscores beside a
    digit or a dot, or in a hexadecimal, octal or binary number, are looked at (a name like
    `leg_side` costs nothing), and each word is read once."""
    return any(_number_word(text, pattern) for pattern in _UNDERSCORES)


def _number_word(text: str, pattern: re.Pattern[str]) -> bool:
    done = 0  # the words before this are decided
    for found in pattern.finditer(text):
        start = end = found.start()
        if start < done:
            continue
        while start > done and _in_word(text[start - 1]):
            start -= 1
        while end < len(text) and _in_word(text[end]):
            end += 1
        word = text[start:end]
        body = word[1:] if word[:1] in "+-" else word
        if body[:1] in _NUMBER_FIRST and not set(body) - _NUMBER_CHARS:
            return True
        done = end
    return False


_NUMBER_FIRST = frozenset("0123456789._")
_NUMBER_CHARS = frozenset("0123456789abcdefABCDEFxXoObB._+-iInN")  # digits of every base, signs, inf, nan
# An underscore beside a digit or a dot (`1_0`, `_1`, `_.5`, `1._`), and one in a 0x, 0o or 0b number
# (`0xa_b`): two patterns, each starting with a literal, which the regex engine finds quickly.
_UNDERSCORES = (re.compile(r"_(?:(?<=[\d.]_)|(?=[\d.]))"), re.compile(r"0[xXoObB][0-9a-fA-F_]*_"))


def _in_word(char: str) -> bool:
    return char.isalnum() or char in "_.+-"


def _limited(max_bytes: int) -> str:
    what = "case and rule files are" if max_bytes == MAX_FILE_BYTES else "this input is"
    return f"{what} limited to {max_bytes:,}"


def read_text(path: Path | str, data: bytes | None = None, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a file as UTF-8 text, refusing oversized, binary and non-UTF-8 input."""
    name = str(path)
    if data is None:
        data = read_regular_file(path, max_bytes)
    if len(data) > max_bytes:
        raise _error(name, f"input is {len(data):,} bytes; {_limited(max_bytes)}")
    return decode(data, name)


def open_regular_file(path: Path | str) -> int:
    """A descriptor open for reading on a regular file; devices, FIFOs, sockets and folders
    are refused (a FIFO is opened without waiting for a writer, then refused)."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise _error(name, "no such file") from None
    except PermissionError:
        raise _error(name, "permission denied") from None
    except OSError as exc:
        raise _error(name, f"cannot be read ({exc.strerror})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise _error(name, f"is {kind}, expected a regular file")
    return fd


def read_regular_file(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file, reading no more than `max_bytes` (+1, to know it is over).
    Plain reads on the descriptor: no buffered file object (this is on the path of every case)."""
    name = str(path)
    fd = open_regular_file(path)
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise _error(name, f"file is {size:,} bytes; {_limited(max_bytes)}")
        pieces = []
        left = max_bytes + 1  # one more: a file that grew since fstat
        while left > 0 and (piece := os.read(fd, min(left, size + 1 if not pieces else 65536))):
            pieces.append(piece)
            left -= len(piece)
    except OSError as exc:
        raise _error(name, f"cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    if len(data) > max_bytes:
        raise _error(name, f"file is {len(data):,} bytes; {_limited(max_bytes)}")
    return data


def decode(data: bytes, name: str, line: int | None = None) -> str:
    """Bytes as UTF-8 text, strictly: NUL bytes, invalid UTF-8 and encoded surrogates (which
    strict UTF-8 refuses) are a one-line error at the line and column where they are."""
    if b"\x00" in data:
        at = data.index(b"\x00")
        raise _error(name, "binary data (NUL bytes), expected YAML or JSON text", *_where(data, at, line))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(name, f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded ({exc.reason})",
                     *_where(data, exc.start, line)) from None
    return text[1:] if text.startswith("\ufeff") else text


def _where(data: bytes, offset: int, line: int | None) -> tuple[int | None, int | None]:
    """(line, column) of a byte offset: 1-based, the column in characters of the valid text before it."""
    before = data[:offset]
    start = before.rfind(b"\n") + 1
    col = len(before[start:].decode("utf-8", "replace")) + 1
    return (line, col) if line is not None else (before.count(b"\n") + 1, col)


#: What YAML 1.1 (PyYAML) reads as a line break but a screen does not show as one (NEL, the line and
#: paragraph separators), and the other C1 controls: `id: x<NEL>cauda_equina: ...` looks like one line
#: and holds a second key. The two parsers also disagree on them; a YAML file may hold none.
_HIDDEN_BREAKS = re.compile("[\x80-\x9f\u2028\u2029]")


def _refuse_hidden_breaks(text: str, name: str) -> None:
    found = _HIDDEN_BREAKS.search(text)
    if found is not None:
        at, char = found.start(), found.group()
        what = "a C1 control character" if char < "\xa0" else "a line or paragraph separator"
        raise _error(name, f"{what} (U+{ord(char):04X}), which YAML 1.1 reads as a line break and a screen does "
                           "not show as one; use a line feed, or write the character as an escape in quotes",
                     text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at))


def _error(name: str, message: str, line: int | None = None, col: int | None = None) -> InputError:
    return InputError.from_problems([Problem(Location(name, line, col), message)])


_BRACKETS = re.compile(r"[\[\]{}]")


def _flow_depth(text: str) -> int:
    """Upper bound of flow-collection nesting (counts brackets even inside strings)."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return 0  # cannot be deeper than the number of opening brackets
    depth = deepest = 0
    for ch in _BRACKETS.findall(text):  # the brackets alone, found by the regex engine: rule files hold many
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}" and depth:
            depth -= 1
    return deepest


def _block_depth(text: str) -> int:
    """Upper bound of block nesting: indentation levels and compact indicators (`- - x`, `? `, `: `).

    Each line's nodes are bounded by the indicators leading it plus two (a key and its
    value), added to those of the lines it is indented under. A cheap test first: with no
    line indented 8 or more, at most 8 lines are on the stack and each leads with at most
    one indicator more than the text has of `-`, `?`, tabs and ` :` on it, so the bound
    exceeds 2 * MAX_NESTING only if the text has more than 40 of those.
    """
    pairs = text.count("-") + text.count("?") + text.count("\t") + text.count(" :")
    if pairs <= 40 and "\n        " not in text and not text.startswith("        "):
        return 0
    stack: list[tuple[int, int]] = []  # (indentation, nodes down to the end of that line)
    deepest = 0
    for line in text.replace("\r", "\n").split("\n"):  # YAML's line breaks only
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        indent = len(line) - len(body)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        run = 0
        while body[:1] in ("-", "?", ":") and body and (len(body) == 1 or body[1] in " \t"):
            run += 1
            body = body[1:].lstrip(" \t")
        depth = (stack[-1][1] if stack else 0) + run + 2
        stack.append((indent, depth))
        deepest = max(deepest, depth)
    return deepest


def too_deep(text: str) -> bool:
    """Whether text may nest deeper than a parser can take: the C and Rust parsers recurse
    without a limit and crash (a stack overflow, not an exception) on deep nesting."""
    return _flow_depth(text) > MAX_NESTING or _block_depth(text) > 2 * MAX_NESTING


def load_yaml(text: str, name: str, *, fast: bool = True, checked: bool = True, kind: str = "case") -> Any:
    """Parse one YAML document into plain data (dict/list/str/int/float/bool/None).

    With `checked=False` the caller promises to validate the result against a
    schema of bounded depth, or to call `check_size` before walking it. `kind` names
    the file in messages ("case", "rule").
    """
    if too_deep(text):
        raise _error(name, f"nesting is deeper than {MAX_NESTING} levels; not a case or rule file")
    _refuse_hidden_breaks(text, name)
    if fast and yaml_rs is not None and not unusual(text):
        try:
            data = yaml_rs.loads(text, parse_datetime=False, alias_limits=_ALIAS_LIMITS)
        except Exception:  # noqa: BLE001 - PyYAML below gives the located message
            pass
        else:
            if checked:
                try:
                    check_size(data, name)
                except InputError as err:
                    if NOT_FINITE not in str(err):
                        raise
                    return load_yaml_reference(text, name, fast=fast, kind=kind)  # raises, at the line and column
            return data
    return load_yaml_reference(text, name, fast=fast, kind=kind)


def load_yaml_reference(text: str, name: str, *, fast: bool = True, kind: str = "case") -> Any:
    """The PyYAML reading (libyaml when `fast`): the reference, and the source of messages."""
    if too_deep(text):
        raise _error(name, f"nesting is deeper than {MAX_NESTING} levels; not a case or rule file")
    _refuse_hidden_breaks(text, name)
    import yaml

    loader_cls = _loader(fast)
    loader = loader_cls(text)
    try:
        data = loader.get_single_data()
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        if str(exc.problem).startswith("duplicate key"):
            raise _error(name, f"{exc.problem}: each field may be given once", *_pos(mark)) from None
        if str(exc.problem).startswith(("number too large", "a key must be", NOT_FINITE)):
            raise _error(name, str(exc.problem), *_pos(mark)) from None
        tag = re.search(r"tag '([^']*)'", str(exc.problem))
        what = f"YAML tag '{tag.group(1).replace('tag:yaml.org,2002:', '!!')}'" if tag else "YAML construct"
        raise _error(name, f"unsupported {what}: only plain data is allowed", *_pos(mark)) from None
    except yaml.composer.ComposerError as exc:
        if "expected a single document" in str(exc.context or ""):
            many = "; one case per file (use .jsonl for many)" if kind == "case" else f": a {kind} file holds one"
            raise _error(name, f"more than one YAML document{many}", *_pos(exc.problem_mark)) from None
        raise _error(name, f"YAML error: {exc.problem}", *_pos(exc.problem_mark)) from None
    except yaml.MarkedYAMLError as exc:
        raise _error(name, f"YAML syntax error: {exc.problem}", *_pos(exc.problem_mark)) from None
    except yaml.YAMLError as exc:
        raise _error(name, f"YAML error: {exc}") from None
    except RecursionError:
        raise _error(name, "nesting is too deep; not a case or rule file") from None
    finally:
        loader.dispose()
    check_size(data, name)
    return data


_ALIAS_LIMITS = yaml_rs.AliasLimits(max_total_replayed_events=MAX_NODES) if yaml_rs is not None else None


def check_size(data: Any, name: str, line: int | None = None, *, yaml: bool = True) -> None:
    """Refuse data that is too deep or too large (YAML: once aliases are expanded)."""
    budget = MAX_NODES
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            expanded = " once YAML aliases are expanded" if yaml else ""
            raise _error(name, f"more than {MAX_NODES:,} values{expanded}; not a case, rule or form file", line)
        if depth > MAX_NESTING:
            raise _error(name, f"nesting is deeper than {MAX_NESTING} levels; not a case or rule file", line)
        if isinstance(node, dict):
            for key in node:  # yaml-rs reads a list key as a tuple, a mapping key as a frozenset
                if isinstance(key, (tuple, frozenset)):
                    raise _error(name, "a key must be plain text, not a list or mapping", line)
                if type(key) is float and key - key != 0:
                    raise _error(name, NOT_FINITE, line)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
        elif type(node) is float and node - node != 0:  # inf or nan
            raise _error(name, NOT_FINITE, line)


class _Refused(ValueError):
    """A JSON value refused while parsing: a key given twice, a number too large, NaN."""


def refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                from .text import shorten  # only when there is a problem to report

                raise _Refused(f"duplicate key {shorten(repr(key))}: each field may be given once")
            seen.add(key)
    return result


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"number too large: more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_constant(text: str) -> Any:
    raise _Refused(f"{text} is not a JSON number")


def load_json(text: str, name: str, line: int | None = None) -> Any:
    """Parse JSON strictly: a key given twice, a number over MAX_INT_DIGITS digits and
    NaN/Infinity are refused (as YAML refuses them), with their position."""
    try:
        data = json.loads(text, object_pairs_hook=refuse_duplicates, parse_int=_parse_int, parse_constant=_parse_constant)
    except json.JSONDecodeError as exc:
        if line is None:
            raise _error(name, f"JSON syntax error: {exc.msg}", exc.lineno, exc.colno) from None
        raise _error(name, f"JSON syntax error: {exc.msg} (column {exc.colno})", line) from None
    except _Refused as exc:
        constant = str(exc).split(" ", 1)[0]
        if constant in ("NaN", "Infinity", "-Infinity") and (at := _outside_strings(text, constant)) is not None:
            where_line, col = at
            raise (_error(name, str(exc), where_line, col) if line is None
                   else _error(name, f"{exc} (column {col})", line)) from None
        raise _located(text, name, line, str(exc)) from None
    except RecursionError:
        raise _error(name, "nesting is too deep; not a case file", line) from None
    check_size(data, name, line, yaml=False)
    if _SURROGATE_ESCAPE.search(text):
        _refuse_surrogates(data, text, name, line)
    return data


def _outside_strings(text: str, word: str) -> tuple[int, int] | None:
    """The 1-based (line, column) of the first `word` in JSON text that is not inside a string."""
    inside, escaped, line, start = False, False, 1, 0
    for i, char in enumerate(text):
        if inside:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                inside = False
        elif char == '"':
            inside = True
        elif char == "\n":
            line, start = line + 1, i + 1
        elif text.startswith(word, i):
            return line, i - start + 1
    return None


#: A \u escape of a UTF-16 surrogate: JSON allows writing a lone one, which is not text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_surrogates(data: Any, text: str, name: str, line: int | None) -> None:
    """Refuse a key or text holding a lone surrogate (a \\ud800 escape without its pair), at
    the position of the escape: such a string cannot be written, shown or stored as UTF-8."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and _LONE_SURROGATE.search(node):
            break
    else:
        return
    paired_until = 0
    for found in _SURROGATE_ESCAPE.finditer(text):
        if found.start() < paired_until:
            continue  # the second half of a pair
        pair = text[found.start(): found.end() + 6]
        try:
            json.loads(f'"{pair}"').encode("utf-8")
            paired_until = found.end() + 6
        except (UnicodeEncodeError, ValueError):
            before = text[:found.start()]
            col = found.start() - before.rfind("\n")
            where = (line, col) if line is not None else (before.count("\n") + 1, col)
            raise _error(name, f"lone surrogate {found.group()}: not a character (a \\ud800-\\udfff escape "
                               "must be half of a pair)", *where)
    raise _error(name, "lone surrogate escape: not a character", line)


def _located(text: str, name: str, line: int | None, message: str) -> InputError:
    """`message` at the position PyYAML finds for it (JSON is YAML), else without one."""
    try:
        load_yaml_reference(text, name)
    except InputError as err:
        where = err.problems[0].location if err.problems else None
        if where is not None and where.line is not None and message.split(":")[0] in str(err):
            if line is None:
                return _error(name, message, where.line, where.col)
            return _error(name, f"{message} (column {where.col})", line)
    return _error(name, message, line)


def _pos(mark: Any) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


class Locator:
    """Finds the line and column of a field path in YAML (or JSON) text. The text is parsed (by
    PyYAML, which keeps positions) when a position is first asked for, so `place` costs nothing
    until its line or column is read."""

    def __init__(self, text: str):
        self._text: str | None = text
        self._root: yaml.Node | None = None

    def _tree(self) -> yaml.Node | None:
        if self._text is not None:
            text, self._text = self._text, None
            if not too_deep(text):  # a parser would crash; such input never gets this far anyway
                import yaml

                try:
                    self._root = yaml.compose(text, Loader=_loader(True))
                except (yaml.YAMLError, RecursionError):
                    self._root = None
        return self._root

    def find(self, path: tuple[Any, ...], *, key: bool = False) -> tuple[int | None, int | None]:
        """Position of the value at `path` (of its key when `key`), or of the deepest parent found."""
        import yaml

        node = self._tree()
        found = (1, 1) if node is not None else (None, None)
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == str(part):
                        node = v
                        found = _pos(k.start_mark if (key and last) else v.start_mark)
                        break
                else:
                    return found
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                found = _pos(node.start_mark)
            else:
                return found
        return found

    def place(self, file: str, path: tuple[Any, ...], *, key: bool = False) -> Location:
        """The Location of `path` in `file` (this locator's text), found when first read."""
        return _Place(file, self, path, key)


class _Place(Location):
    """A Location whose line and column are found in the text when first read. A rule set records
    where each rule and definition was written, and shows it only when there is something to say."""

    def __init__(self, file: str, locator: Locator, path: tuple[Any, ...], key: bool):
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "_asked", (locator, path, key))

    def _found(self) -> tuple[int | None, int | None]:
        found = self.__dict__.get("_found_at")
        if found is None:
            locator, path, key = self._asked
            found = locator.find(path, key=key)
            object.__setattr__(self, "_found_at", found)
            object.__setattr__(self, "_asked", None)  # the text and its tree can go
        return found

    @property  # type: ignore[override]
    def line(self) -> int | None:
        return self._found()[0]

    @property  # type: ignore[override]
    def col(self) -> int | None:
        return self._found()[1]

    def __repr__(self) -> str:
        return f"Location(file={self.file!r}, line={self.line!r}, col={self.col!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return Location, (self.file, self.line, self.col)
