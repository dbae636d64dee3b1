"""Work cut into chunks (a hundred files, or half a megabyte of JSON Lines), each scored into its
output bytes with its counts, in input order.
"""

from __future__ import annotations

import collections
import gc
import os
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, Iterator, NamedTuple

import orjson

from ..model.case import JSON_LINES_SUFFIXES, fast_json, plain_bytes
from ..inputs.cases import expand
from ..base.errors import InputError
from ..base.text import plain_name
from ..engine.ruleset.model import RuleSet
from ..base.yamlio import MAX_FILE_BYTES, open_regular_file
from .score import Scored, error_row, expected_of, score_file, score_line_rows, score_stdin_document
from .writers import format_rows


FILES_PER_CHUNK = 100
LINES_PER_CHUNK = 500  # standard input: at most this many lines, and about BYTES_PER_CHUNK
BYTES_PER_CHUNK = 512 * 1024  # JSON Lines files: workers read their own byte range
SKIP_LIMIT = 64 * MAX_FILE_BYTES  # standard input: the longest line skipped before the stream is refused


# --------------------------------------------------------------------------- chunks of work


@dataclass(frozen=True)
class Chunk:
    """Work for one worker: case files, or lines of one JSON Lines input."""

    files: tuple[str, ...] = ()
    name: str = ""
    lines: tuple[tuple[int, bytes], ...] = ()
    span: tuple[int, int, int] | None = None  # (start byte, end byte, first line number) of file `name`
    data: bytes | None = None  # bytes from the span's start, at least to its end, when the reader scores them
    #                            too (no second read; a partial line after the span is read again next)
    document: bytes | None = None  # one YAML/JSON case from standard input
    error: str | None = None  # the input could not be opened


class Brief(NamedTuple):
    """What the parent needs of each result: summary, --expect and --fail-on."""

    file: str
    id: str | None
    classification: str | None
    urgency: str | None
    conditions: tuple[str, ...]
    rules_fired: tuple[str, ...]
    error: str | None
    expected: dict[str, Any] | None


@dataclass
class ChunkResult:
    """A chunk's results: its output (UTF-8), counts per (class, urgency), the errors, and -
    when asked for (--expect, --fail-on) - a brief of every case."""

    data: bytes
    counts: collections.Counter[tuple[str, str]]
    errors: list[Brief]
    briefs: list[Brief] | None = None
    rows: list[dict[str, Any]] | None = None  # for the table, drawn by the parent
    digest: Any = None  # what a `Digest` made of the chunk's rows, in the worker (the audit's tallies)
    notes: list[str] = field(default_factory=list)  # inputs skipped, each said on standard error

    @property
    def cases(self) -> int:
        return sum(self.counts.values()) + len(self.errors)


def _brief(row: dict[str, Any], expected: dict[str, Any] | None) -> Brief:
    return Brief(row["file"], row["id"], row["classification"], row["urgency"], tuple(row["conditions"] or ()),
                 tuple(row["rules_fired"] or ()), row["error"], expected)


#: Run in the worker on each chunk's result rows, so that the parent receives a summary of them
#: rather than every row: `digest(ruleset, chunk, rows)`. A module-level function (it is pickled).
Digest = Callable[[RuleSet, Chunk, "list[dict[str, Any]]"], Any]


def score_chunk(ruleset: RuleSet, chunk: Chunk, fmt: str = "jsonl", detail: bool = False,
                digest: Digest | None = None) -> ChunkResult:
    # Scoring allocates many short-lived objects and makes no reference cycles: the
    # collector runs between chunks, not every few hundred allocations within one.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _score_chunk(ruleset, chunk, fmt, detail, digest)
    finally:
        if collecting:
            gc.enable()


def _score_chunk(ruleset: RuleSet, chunk: Chunk, fmt: str, detail: bool, digest: Digest | None) -> ChunkResult:
    rows: list[dict[str, Any]] = []
    counts: dict[tuple[str, str], int] = {}
    errors: list[Brief] = []
    briefs: list[Brief] | None = [] if detail else None
    notes: list[str] = []
    if chunk.span is not None and briefs is None:  # JSON Lines: the per-case hot path, in one loop
        _span_rows(ruleset, chunk, rows, counts, errors)
        scored: Iterable[Scored] = ()
    else:
        scored = _scored(ruleset, chunk, notes)
    for row, expected in scored:
        rows.append(row)
        if row["error"]:
            errors.append(_brief(row, None))
        else:
            key = (row["classification"], row["urgency"])
            counts[key] = counts.get(key, 0) + 1
        if briefs is not None:
            briefs.append(_brief(row, expected))
    data = b"" if fmt == "table" else format_rows(rows, fmt)
    return ChunkResult(data, collections.Counter(counts), errors, briefs, rows if fmt == "table" else None,
                       digest(ruleset, chunk, rows) if digest is not None else None, notes)


def _scored(ruleset: RuleSet, chunk: Chunk, notes: list[str] | None = None) -> Iterable[Scored]:
    notes = [] if notes is None else notes  # inputs skipped (a FHIR resource without a case, in a folder)
    if chunk.error is not None:
        return [(error_row(chunk.name, chunk.error), None)]
    if chunk.document is not None:
        return [score_stdin_document(ruleset, chunk.document)]
    if chunk.span is not None:
        return _score_span(ruleset, chunk)
    if chunk.lines:
        return (row for number, raw in chunk.lines for row in score_line_rows(ruleset, raw, chunk.name, number))
    return (row for path in chunk.files for row in score_file(ruleset, path, notes))


def _span_block(chunk: Chunk) -> bytes:
    """The bytes of a JSON Lines chunk's byte range (carried, they may run on past its end)."""
    if chunk.data is not None:
        return chunk.data
    start, stop, _ = chunk.span  # type: ignore[misc]
    # opened again by the one reader: a file swapped for a FIFO since is refused, not waited on
    with os.fdopen(open_regular_file(chunk.name), "rb") as handle:
        handle.seek(start)
        return handle.read(stop - start)


def _span_rows(ruleset: RuleSet, chunk: Chunk, rows: list[dict[str, Any]], counts: dict[tuple[str, str], int],
               errors: list[Brief]) -> None:
    """The rows of a JSON Lines byte range, with their counts and errors (no briefs): the per-case
    hot path, kept tight - `_score_span` and the loop of `_score_chunk` in one."""
    block = _span_block(chunk)
    name, row_of, find, add, get = chunk.name, ruleset.row_from_json, block.find, rows.append, counts.get
    shown = plain_name(name)  # the file's name as each row gives it (its controls escaped)
    plain_block = plain_bytes(block)  # proved once for every line of the block
    start, stop, number = chunk.span  # type: ignore[misc]
    pos, size = 0, stop - start
    while pos < size:  # line by line with find (memchr): quicker than split for long lines
        end = find(b"\n", pos)
        if end < 0:
            end = size
        raw = block[pos:end]
        row = row_of(raw, plain_block, f"{shown}:{number}") if end - pos <= MAX_FILE_BYTES else None
        if row is not None:  # read the fast way and scored (fast_json and row_from_data in one)
            add(row)
            key = (row["classification"], row["urgency"])
            counts[key] = get(key, 0) + 1
        elif raw.strip():  # not a valid case (blank lines are skipped): the located message
            for row, _ in score_line_rows(ruleset, raw, name, number):
                add(row)
                if row["error"]:
                    errors.append(_brief(row, None))
                else:
                    key = (row["classification"], row["urgency"])
                    counts[key] = get(key, 0) + 1
        pos, number = end + 1, number + 1


def _score_span(ruleset: RuleSet, chunk: Chunk) -> Iterator[Scored]:
    """The lines of a JSON Lines byte range, each with its expected labels (for --expect)."""
    block = _span_block(chunk)
    name, row_of, find = chunk.name, ruleset.row_from_data, block.find
    shown = plain_name(name)
    plain_block = plain_bytes(block)
    start, stop, number = chunk.span  # type: ignore[misc]
    pos, size = 0, stop - start
    while pos < size:
        end = find(b"\n", pos)
        if end < 0:
            end = size
        raw = block[pos:end]
        valid = fast_json(raw, plain_block) if end - pos <= MAX_FILE_BYTES else None
        if valid is not None:
            yield row_of(valid, f"{shown}:{number}"), None if valid.expected is None else expected_of(valid)
        elif raw.strip():  # not a valid case (blank lines are skipped): the located message
            yield from score_line_rows(ruleset, raw, name, number)
        pos, number = end + 1, number + 1


def chunks(paths: Iterable[str], stdin: IO[bytes] | None = None, carry: bool = False) -> Iterator[Chunk]:
    """The work, in input order. With `carry`, JSON Lines chunks carry the bytes just read
    (for scoring in this process); otherwise workers read their own byte ranges."""
    pending: list[str] = []
    for path in _expanded(paths):
        if path.endswith(os.sep):
            if pending:
                yield Chunk(files=tuple(pending))
                pending = []
            yield Chunk(name=path, error=f"{path}: folder cannot be read; its case files were not scored")
            continue
        if isinstance(path, _NoCases):
            if pending:
                yield Chunk(files=tuple(pending))
                pending = []
            yield Chunk(name=path, error=f"{path}: no case files in this folder (.yaml, .yml, .json or .jsonl)")
            continue
        if path == "-" or path.endswith(JSON_LINES_SUFFIXES):
            if pending:
                yield Chunk(files=tuple(pending))
                pending = []
            yield from stdin_chunks(stdin) if path == "-" else file_spans(path, carry)
            continue
        pending.append(path)
        if len(pending) >= FILES_PER_CHUNK:
            yield Chunk(files=tuple(pending))
            pending = []
    if pending:
        yield Chunk(files=tuple(pending))


class _NoCases(str):
    """A folder named on the command line that holds no case file."""


def _expanded(paths: Iterable[str]) -> Iterator[str]:
    """The case files of `paths` (inputs.cases.expand), and each folder named that holds none, as
    _NoCases: scoring an empty folder is reported, not "0 of 0 cases" and exit 0."""
    for path in paths:
        found = False
        for item in expand([path]):
            found = True
            yield item
        if not found:
            yield _NoCases(path)


def stdin_chunks(stdin: IO[bytes] | None) -> Iterator[Chunk]:
    """Standard input: JSON Lines when the first line is a whole JSON object, else one case.
    Lines are read up to the size limit (a longer one is refused as it is read, never held)
    and chunked by count and bytes."""
    name = "<stdin>"
    if stdin is None:
        yield Chunk(name=name, error=f"{name}: no standard input")
        return
    lines = (item for item in _capped_lines(stdin) if item[1] is None or item[1].strip())
    first = next(lines, None)
    if first is None:  # reported, as an empty folder is: a pipeline that sent nothing has scored nothing
        yield Chunk(name=name, error=f"{name}: no case on standard input (it was empty or blank)")
        return
    if first[1] is not None and not _is_json_object(first[1]):
        rest = stdin.read(MAX_FILE_BYTES + 1 - len(first[1]))
        if len(first[1]) + len(rest) > MAX_FILE_BYTES:
            yield Chunk(name=name, error=f"{name}: input is over {MAX_FILE_BYTES:,} bytes; a case is limited to "
                                         f"{MAX_FILE_BYTES:,} (use JSON Lines for many cases)")
            return
        yield Chunk(document=first[1] + rest)
        return
    block: list[tuple[int, bytes]] = []
    size = 0
    for number, raw in chain([first], lines):
        if raw is None:
            if block:
                yield Chunk(name=name, lines=tuple(block))
                block, size = [], 0
            yield Chunk(name=f"{name}:{number}", error=f"{name}:{number}: line is over {MAX_FILE_BYTES:,} bytes; "
                                                       f"a case is limited to {MAX_FILE_BYTES:,}")
            continue
        block.append((number, raw))
        size += len(raw)
        if len(block) >= LINES_PER_CHUNK or size >= BYTES_PER_CHUNK:
            yield Chunk(name=name, lines=tuple(block))
            block, size = [], 0
    if block:
        yield Chunk(name=name, lines=tuple(block))


def _capped_lines(stream: IO[bytes], name: str = "<stdin>") -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each line; None for a line over MAX_FILE_BYTES, skipped
    in pieces so it is never held whole. A stream that is binary (a NUL byte in a line too long
    to be a case: /dev/zero) or has no line break for SKIP_LIMIT bytes is not JSON Lines: an
    error, not a wait for a line end that never comes."""
    number = 0
    while True:
        raw = stream.readline(MAX_FILE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_FILE_BYTES and not raw.endswith(b"\n"):
            skipped, piece = len(raw), raw
            while not piece.endswith(b"\n"):
                if b"\0" in piece:
                    raise InputError(f"{name}:{number}: binary data (a NUL byte), not JSON Lines; stopped reading")
                if skipped > SKIP_LIMIT:
                    raise InputError(f"{name}:{number}: no line break in {SKIP_LIMIT:,} bytes, not JSON Lines; "
                                     "stopped reading")
                piece = stream.readline(BYTES_PER_CHUNK)
                if not piece:
                    break
                skipped += len(piece)
            yield number, None
            continue
        yield number, raw


def file_spans(path: str, carry: bool = False) -> Iterator[Chunk]:
    """Byte ranges of whole lines; the parent only finds line ends and counts lines.
    A line over the size limit becomes an error chunk of its own, found without
    reading it whole."""
    try:
        handle = os.fdopen(open_regular_file(path), "rb")
    except InputError as err:
        yield Chunk(name=path, error=str(err))
        return
    with handle:
        start, line, seen = 0, 1, False
        while True:
            block = handle.read(BYTES_PER_CHUNK)
            if not block:
                if not seen:  # reported, as an empty folder is: not "0 of 0 cases", exit 0
                    yield Chunk(name=path, error=f"{path}: no case in this file (it is empty or blank)")
                return
            seen = seen or not block.isspace()
            whole = block.rfind(b"\n") + 1
            if 0 < whole < len(block):  # the block's whole lines; the partial line is read again next
                handle.seek(start + whole)
                yield Chunk(name=path, span=(start, start + whole, line), data=block if carry else None)
                start += whole
                line += _count_lines(block)  # the partial line holds no line end
                continue
            if not block.endswith(b"\n"):  # no line end at all: one long line (or the file's last)
                tail = handle.readline(MAX_FILE_BYTES + 1)  # finish the last line, if it is not too long
                if len(tail) > MAX_FILE_BYTES and not tail.endswith(b"\n"):
                    whole = block[:block.rfind(b"\n") + 1]  # the lines before the long one
                    if whole:
                        yield Chunk(name=path, span=(start, start + len(whole), line), data=whole if carry else None)
                        line += _count_lines(whole)
                    yield Chunk(name=f"{path}:{line}", error=f"{path}:{line}: line is over {MAX_FILE_BYTES:,} "
                                                             f"bytes; a case is limited to {MAX_FILE_BYTES:,}")
                    while (piece := handle.readline(BYTES_PER_CHUNK)) and not piece.endswith(b"\n"):
                        pass
                    start, line = handle.tell(), line + 1
                    continue
                block += tail
            yield Chunk(name=path, span=(start, start + len(block), line), data=block if carry else None)
            start += len(block)
            line += _count_lines(block)


def _count_lines(block: bytes) -> int:
    """block.count(b"\\n"), but with find (memchr): about twice as quick on long lines."""
    count, find = 0, block.find
    at = find(b"\n")
    while at >= 0:
        count += 1
        at = find(b"\n", at + 1)
    return count


def chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return False
