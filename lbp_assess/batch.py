"""Scoring many case files: streaming, in parallel, in input order.

Each case goes the fast way - yaml-rs or msgspec's JSON decoder, validation
into msgspec structs (`case.CASE_STRUCT`), the generated rule function - and only a case
that fails there is read again the precise way (`case.validate_case`) for its
located one-line message. A file that cannot be read becomes an error row and
scoring goes on.

Work is cut into chunks (a hundred files, or half a megabyte of JSON Lines)
and scored by worker processes, each returning its chunk as output bytes with
its counts. At most a few chunks per worker are in flight at once and results
are written in input order as they arrive, so memory does not grow with the
number of cases.
"""

from __future__ import annotations

import collections
import csv
import gc
import io
import multiprocessing
import os
import sys
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, NamedTuple

import orjson
import msgspec

from .case import CASE_SUFFIXES, JSON_LINES_SUFFIXES, fast_convert, fast_json, read_cases
from .errors import InputError, Location, Problem
from .rules import RuleSet, load_rules
from .yamlio import MAX_FILE_BYTES, check_size, decode, load_json, load_yaml, open_regular_file, read_text

#: Result columns, in the order of docs/case-format.md, then our additions.
COLUMNS = (
    "id", "file", "classification", "urgency", "conditions", "alerts", "unscreened",
    "warnings", "rules_fired", "rules_version", "error",
    "condition_tiers", "findings", "not_excluded", "follow_up_of", "assessed_on", "assessor",
)
FILES_PER_CHUNK = 100
LINES_PER_CHUNK = 500  # standard input: at most this many lines, and about BYTES_PER_CHUNK
BYTES_PER_CHUNK = 512 * 1024  # JSON Lines files: workers read their own byte range
CHUNKS_IN_FLIGHT_PER_JOB = 3


def error_row(source: str, message: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(file=source, error=message)
    return row


Scored = tuple[dict[str, Any], "dict[str, Any] | None"]  # (row, expected labels)


def _follow_up(row: dict[str, Any], case: Any) -> dict[str, Any]:
    """What the row adds from the record: the earlier case a follow-up visit follows (lbp-case/1
    follow_up_of), when the case was assessed and by whom (for the audit report, by date and assessor)."""
    row["follow_up_of"] = case.follow_up_of.id if case.follow_up_of is not None else None
    row["assessed_on"] = case.assessed_on.isoformat() if case.assessed_on is not None else None
    row["assessor"] = case.assessor
    return row


# --------------------------------------------------------------------------- scoring one case


def _precise(ruleset: RuleSet, data: Any, name: str, source: str, text: str | None, line: int | None) -> Scored:
    """The slow, exact reading of one case: raises InputError with the located message."""
    rows = _precise_rows(ruleset, data, name, source, text, line)
    if len(rows) != 1:
        raise InputError.from_problems([Problem(Location(name, line), f"holds {len(rows)} cases (a FHIR Bundle of "
                                                "QuestionnaireResponses); score it with `lbp-assess score`")])
    return rows[0]


def _precise_rows(ruleset: RuleSet, data: Any, name: str, source: str, text: str | None,
                  line: int | None) -> list[Scored]:
    """Every case in the data (a FHIR Bundle may hold several), each row named by its source."""
    scored = []
    for where, case in read_cases(data, name, text, line):
        expected = case.expected.model_dump(exclude_none=True) if case.expected else None
        scored.append((_follow_up(ruleset.assess(case).to_row(source + where), case), expected))
    return scored


class Listed(str):
    """A path found by listing a folder, not named by the user: a FHIR resource there that holds no case
    (the Questionnaire, a CodeSystem) is skipped with a note instead of an error."""

    __slots__ = ()


def _expected(case: Any) -> dict[str, Any] | None:
    expected = case.expected
    if expected is None:
        return None
    return {k: v for k, v in msgspec.structs.asdict(expected).items() if v is not None}


def score_file(ruleset: RuleSet, path: str, notes: list[str] | None = None) -> list[Scored]:
    """The cases of one file (one, or one per QuestionnaireResponse of a FHIR Bundle); a file that
    cannot be read is one error row, and a FHIR resource without a case found in a folder is skipped
    with a note."""
    try:
        if not path.endswith((".yaml", ".yml", ".json")):
            raise InputError.from_problems(
                [Problem(Location(path), "unsupported file type; expected .yaml, .yml, .json, .jsonl or .ndjson")])
        text = read_text(path)
        data = load_json(text, path) if path.endswith(".json") else load_yaml(text, path, checked=False)
        valid = fast_convert(data)
        if valid is None:
            check_size(data, path)  # before anything walks or prints the input
            return _precise_rows(ruleset, data, path, path, text, None)
        return [(_follow_up(ruleset.row_from_data(valid, path), valid), _expected(valid))]
    except InputError as err:
        from .fhir import NotACase

        if isinstance(err, NotACase) and isinstance(path, Listed) and notes is not None:
            what = err.problems[0].message.split(";")[0] if err.problems else str(err)
            notes.append(f"{path}: skipped, {what} (not counted)")
            return []
        return [(error_row(path, str(err)), None)]


def score_line(ruleset: RuleSet, raw: bytes, name: str, number: int) -> Scored:
    source = f"{name}:{number}"
    try:
        if len(raw) <= MAX_FILE_BYTES:
            valid = fast_json(raw)
            if valid is not None:
                return _follow_up(ruleset.row_from_data(valid, source), valid), _expected(valid)
        else:
            raise InputError.from_problems([Problem(Location(name, number),
                                                    f"line is {len(raw):,} bytes; a case is limited to "
                                                    f"{MAX_FILE_BYTES:,}")])
        text = decode(raw, name, number).rstrip("\r\n")
        return _precise(ruleset, load_json(text, name, number), name, source, None, number)
    except InputError as err:
        return error_row(source, str(err)), None


def score_line_rows(ruleset: RuleSet, raw: bytes, name: str, number: int) -> list[Scored]:
    """The cases of one JSON Lines line: one, or one per QuestionnaireResponse of a FHIR Bundle."""
    source = f"{name}:{number}"
    if len(raw) <= MAX_FILE_BYTES and b'"resourceType"' in raw:
        try:
            text = decode(raw, name, number).rstrip("\r\n")
            return _precise_rows(ruleset, load_json(text, name, number), name, source, None, number)
        except InputError as err:
            return [(error_row(source, str(err)), None)]
    return [score_line(ruleset, raw, name, number)]


def score_stdin_document(ruleset: RuleSet, raw: bytes) -> Scored:
    name = "<stdin>"
    try:
        text = read_text(name, raw)
        data = load_yaml(text, name, checked=False)
        valid = fast_convert(data)
        if valid is None:
            check_size(data, name)
            return _precise(ruleset, data, name, name, text, None)
        return _follow_up(ruleset.row_from_data(valid, name), valid), _expected(valid)
    except InputError as err:
        return error_row(name, str(err)), None


# --------------------------------------------------------------------------- chunks of work


@dataclass(frozen=True)
class Chunk:
    """Work for one worker: case files, or lines of one JSON Lines input."""

    files: tuple[str, ...] = ()
    name: str = ""
    lines: tuple[tuple[int, bytes], ...] = ()
    span: tuple[int, int, int] | None = None  # (start byte, end byte, first line number) of file `name`
    data: bytes | None = None  # the span's bytes, when the reader scores them too (no second read)
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
    for row, expected in _scored(ruleset, chunk, notes):  # one pass: this is the per-case hot path
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


def _score_span(ruleset: RuleSet, chunk: Chunk) -> Iterator[Scored]:
    """The lines of a JSON Lines byte range: the per-case hot path, kept tight."""
    start, stop, first_line = chunk.span  # type: ignore[misc]
    block = chunk.data
    if block is None:
        with open(chunk.name, "rb") as handle:
            handle.seek(start)
            block = handle.read(stop - start)
    name, row_of, find = chunk.name, ruleset.row_from_data, block.find
    pos, number, size = 0, first_line, len(block)
    while pos < size:  # line by line with find (memchr): quicker than split for long lines
        end = find(b"\n", pos)
        if end < 0:
            end = size
        raw = block[pos:end]
        valid = fast_json(raw) if end - pos <= MAX_FILE_BYTES else None
        if valid is not None:
            row = _follow_up(row_of(valid, f"{name}:{number}"), valid)
            yield row, None if valid.expected is None else _expected(valid)
        elif raw.strip():  # not a valid case (blank lines are skipped): the located message
            yield from score_line_rows(ruleset, raw, name, number)
        pos, number = end + 1, number + 1


def expand(paths: Iterable[str]) -> Iterator[str]:
    """Files and directories (recursively, sorted) into case files; '-' is standard input.
    A folder that cannot be listed is given in its place, ending in a path separator."""
    for raw in paths:
        path = Path(raw)
        if raw == "-" or not path.is_dir():
            yield raw
            continue
        yield from _case_files(str(path))


def _case_files(directory: str) -> list[str]:
    """Case files under a directory, in path order (as sorted Paths would be: by parts).
    Listed with os.scandir, which knows files from directories without a stat each: a
    large case bank lists twice as quick as with Path.rglob. Linked directories are not
    followed (no loops); a folder that cannot be listed is given as `folder/`; anything
    else with a case suffix is given, so that what cannot be read (a device, a dangling
    link) is reported, never skipped. A loop, not recursion: any depth is fine."""
    found: list[tuple[list[str], str]] = []
    folders: list[tuple[str, list[str]]] = [(directory, [])]
    while folders:
        folder, parts = folders.pop()
        try:
            listing = os.scandir(folder)
        except OSError:  # reported, never skipped in silence: its cases would be missing
            found.append((parts, os.path.join(folder, "")))
            continue
        with listing as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, [*parts, entry.name]))
                elif os.path.splitext(entry.name)[1] in CASE_SUFFIXES and not entry.is_dir():
                    found.append(([*parts, entry.name], Listed(entry.path)))
    found.sort(key=lambda item: item[0])
    return [file for _, file in found]


def chunks(paths: Iterable[str], stdin: IO[bytes] | None = None, carry: bool = False) -> Iterator[Chunk]:
    """The work, in input order. With `carry`, JSON Lines chunks carry the bytes just read
    (for scoring in this process); otherwise workers read their own byte ranges."""
    pending: list[str] = []
    for path in expand(paths):
        if path.endswith(os.sep):
            if pending:
                yield Chunk(files=tuple(pending))
                pending = []
            yield Chunk(name=path, error=f"{path}: folder cannot be read; its case files were not scored")
            continue
        if path == "-" or path.endswith(JSON_LINES_SUFFIXES):
            if pending:
                yield Chunk(files=tuple(pending))
                pending = []
            yield from _stdin_chunks(stdin) if path == "-" else _file_spans(path, carry)
            continue
        pending.append(path)
        if len(pending) >= FILES_PER_CHUNK:
            yield Chunk(files=tuple(pending))
            pending = []
    if pending:
        yield Chunk(files=tuple(pending))


def _stdin_chunks(stdin: IO[bytes] | None) -> Iterator[Chunk]:
    """Standard input: JSON Lines when the first line is a whole JSON object, else one case.
    Lines are read up to the size limit (a longer one is refused as it is read, never held)
    and chunked by count and bytes."""
    name = "<stdin>"
    if stdin is None:
        yield Chunk(name=name, error=f"{name}: no standard input")
        return
    lines = (item for item in _capped_lines(stdin) if item[1] is None or item[1].strip())
    first = next(lines, None)
    if first is None:
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
    for number, raw in _chain([first], lines):
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


def _capped_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each line; None for a line over MAX_FILE_BYTES, skipped
    in pieces so it is never held whole."""
    number = 0
    while True:
        raw = stream.readline(MAX_FILE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_FILE_BYTES and not raw.endswith(b"\n"):
            while (piece := stream.readline(BYTES_PER_CHUNK)) and not piece.endswith(b"\n"):
                pass
            yield number, None
            continue
        yield number, raw


def _file_spans(path: str, carry: bool = False) -> Iterator[Chunk]:
    """Byte ranges of whole lines; the parent only finds line ends and counts lines.
    A line over the size limit becomes an error chunk of its own, found without
    reading it whole."""
    try:
        handle = os.fdopen(open_regular_file(path), "rb")
    except InputError as err:
        yield Chunk(name=path, error=str(err))
        return
    with handle:
        start, line = 0, 1
        while True:
            block = handle.read(BYTES_PER_CHUNK)
            if not block:
                return
            if not block.endswith(b"\n"):
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


def _chain(first: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return False


# --------------------------------------------------------------------------- running


_WORKER_RULES: RuleSet | None = None


def _init_worker(rules_dir: str | None) -> None:
    global _WORKER_RULES
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the run
    if _WORKER_RULES is None:  # inherited when forked; loaded when spawned
        _WORKER_RULES = load_rules(rules_dir, interview=False)


def _work(chunk: Chunk, fmt: str, detail: bool, digest: Digest | None = None) -> ChunkResult:
    assert _WORKER_RULES is not None
    return score_chunk(_WORKER_RULES, chunk, fmt, detail, digest)


def score_stream(paths: list[str], ruleset: RuleSet, jobs: int = 1, stdin: IO[bytes] | None = None,
                 fmt: str = "jsonl", detail: bool = False, digest: Digest | None = None) -> Iterator[ChunkResult]:
    """Every chunk's results, in input order. `jobs` > 1 scores chunks in worker processes;
    `digest` (if given) summarises each chunk's rows where they are scored."""
    gc.freeze()  # the rules and schemas live all run: keep them out of every collection (workers inherit)
    work = chunks(paths, stdin, carry=jobs <= 1)
    first = list(islice(work, 2))
    if jobs <= 1 or len(first) < 2:  # one chunk: not worth starting processes
        for chunk in _chain(first, work):
            yield score_chunk(ruleset, chunk, fmt, detail, digest)
        return
    global _WORKER_RULES
    _WORKER_RULES = ruleset
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                               initargs=(str(ruleset.directory),))
    try:
        yield from _ordered(pool, _chain(first, work), jobs * CHUNKS_IN_FLIGHT_PER_JOB, fmt, detail, digest)
    finally:  # stopped early (Ctrl-C, a closed pipe): drop the queued chunks instead of scoring them
        pool.shutdown(wait=True, cancel_futures=True)


def _ordered(pool: Executor, work: Iterator[Chunk], window: int, fmt: str, detail: bool,
             digest: Digest | None = None) -> Iterator[ChunkResult]:
    """Map chunks over the pool with at most `window` in flight, yielding in order."""
    in_flight: collections.deque[Future[ChunkResult]] = collections.deque()
    for chunk in work:
        in_flight.append(pool.submit(_work, chunk, fmt, detail, digest))
        if len(in_flight) >= window:
            yield in_flight.popleft().result()
    while in_flight:
        yield in_flight.popleft().result()


# --------------------------------------------------------------------------- summary and agreement


@dataclass
class Summary:
    total: int = 0
    errors: int = 0
    by_class: collections.Counter[str] = field(default_factory=collections.Counter)
    by_urgency: collections.Counter[str] = field(default_factory=collections.Counter)
    started: float = field(default_factory=time.perf_counter)

    def add(self, result: ChunkResult) -> None:
        self.total += result.cases
        self.errors += len(result.errors)
        for (classification, urgency), n in result.counts.items():
            self.by_class[classification] += n
            self.by_urgency[urgency] += n

    def render(self, ruleset: RuleSet) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.total / elapsed if elapsed > 0 else 0.0
        classes = ", ".join(f"{c} {self.by_class[c]}" for c in ruleset.manifest.classes if self.by_class[c])
        tiers = ", ".join(f"{t} {self.by_urgency[t]}" for t in ruleset.manifest.tiers if self.by_urgency[t])
        return (f"scored {self.total - self.errors} of {self.total} case(s), {self.errors} error(s), "
                f"in {elapsed:.2f} s ({rate:,.0f} cases/s)\n"
                f"  class: {classes or '-'}\n  urgency: {tiers or '-'}")


@dataclass
class Agreement:
    """How results compare with the cases' `expected:` labels (score --expect)."""

    classes: list[str]
    compared: int = 0
    without_labels: int = 0
    class_agree: int = 0
    urgency_agree: int = 0
    conditions_agree: int = 0
    confusion: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    fired: collections.Counter[str] = field(default_factory=collections.Counter)
    fired_in_disagreement: collections.Counter[str] = field(default_factory=collections.Counter)
    disagreements: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def add(self, brief: Brief) -> None:
        expected = brief.expected
        if brief.error:
            return
        if not expected:
            self.without_labels += 1
            return
        self.compared += 1
        differences = []
        want_class, want_urgency = expected.get("classification"), expected.get("urgency")
        want_conditions = expected.get("conditions")
        if want_class is not None:
            self.confusion[(want_class, brief.classification)] += 1  # type: ignore[arg-type]
            if want_class == brief.classification:
                self.class_agree += 1
            else:
                differences.append(f"classification: expected {want_class}, got {brief.classification}")
        else:
            self.class_agree += 1
        if want_urgency is None or want_urgency == brief.urgency:
            self.urgency_agree += 1
        else:
            differences.append(f"urgency: expected {want_urgency}, got {brief.urgency}")
        if want_conditions is None or sorted(want_conditions) == sorted(brief.conditions):
            self.conditions_agree += 1
        else:
            differences.append(f"conditions: expected {', '.join(sorted(want_conditions)) or 'none'}, "
                               f"got {', '.join(sorted(brief.conditions)) or 'none'}")
        self.fired.update(brief.rules_fired)
        if differences:
            self.fired_in_disagreement.update(brief.rules_fired)
            self.disagreements.append((brief.file, str(brief.id), differences))

    def render(self) -> str:
        n = self.compared
        if n == 0:
            return f"--expect: no case had `expected:` labels ({self.without_labels} without)"

        def pct(k: int) -> str:
            return f"{k}/{n} ({100 * k / n:.1f}%)"

        out = [f"agreement with expected labels on {n} case(s)"
               + (f" ({self.without_labels} without labels)" if self.without_labels else ""),
               f"  classification {pct(self.class_agree)}", f"  urgency        {pct(self.urgency_agree)}",
               f"  conditions     {pct(self.conditions_agree)}", "", "confusion matrix (rows expected, "
               "columns scored):"]
        width = max(len(c) for c in self.classes) + 2
        out.append(" " * width + "".join(c.rjust(width) for c in self.classes))
        for want in self.classes:
            out.append(want.ljust(width) + "".join(str(self.confusion[(want, got)]).rjust(width)
                                                   for got in self.classes))
        out += ["", "rules: fired on / in disagreeing cases"]
        for rule_id, count in sorted(self.fired.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  {rule_id}: {count} / {self.fired_in_disagreement[rule_id]}")
        if self.disagreements:
            out += ["", f"{len(self.disagreements)} disagreement(s):"]
            for source, case_id, differences in self.disagreements:
                out.append(f"  {source} ({case_id}): " + "; ".join(differences))
        return "\n".join(out)


@dataclass
class Report:
    """What a batch run found: the summary, agreement (--expect), serious cases (--fail-on)."""

    ruleset: RuleSet
    expect: bool = False
    fail_on: str | None = None  # a tier name, or "red_flag"
    summary: Summary = field(default_factory=Summary)
    serious: list[str] = field(default_factory=list)
    agreement: Agreement = field(init=False)

    def __post_init__(self) -> None:
        self.agreement = Agreement(list(self.ruleset.manifest.classes))

    @property
    def detail(self) -> bool:
        """Whether every case must be seen (otherwise workers send counts and errors only)."""
        return self.expect or self.fail_on is not None

    def on_case(self, brief: Brief) -> None:
        if brief.error:
            return
        if self.expect:
            self.agreement.add(brief)
        if self.fail_on is not None and self.reaches(brief):
            self.serious.append(brief.file)

    def reaches(self, brief: Brief) -> bool:
        if self.fail_on == "red_flag":
            return brief.classification == "red_flag"
        rank = self.ruleset.tier_rank
        return rank[brief.urgency] <= rank[self.fail_on]  # type: ignore[index]

    def exit_code(self) -> int:
        """3 when --fail-on was reached (it outranks everything), 1 for errors or disagreements."""
        from .errors import ExitCode

        if self.serious:
            return ExitCode.SERIOUS_FINDING
        if self.summary.errors or (self.expect and self.agreement.disagreements):
            return ExitCode.FAILED
        return ExitCode.OK


# --------------------------------------------------------------------------- writers


def flat(value: Any) -> str:
    """A CSV cell: lists joined with ';', mappings as name:value pairs."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return ";".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ";".join(map(str, value))
    return str(value)


def cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text (display.spreadsheet)."""
    from .display import spreadsheet

    return spreadsheet(flat(value))


def safe_text(row: dict[str, Any]) -> dict[str, Any]:
    """The row with text that cannot be UTF-8 (lone surrogates, e.g. from a file name that
    is not UTF-8) written as escapes."""
    def fix(value: Any) -> Any:
        if isinstance(value, str):
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, dict):
            return {fix(k): fix(v) for k, v in value.items()}
        return value

    return {k: fix(v) for k, v in row.items()}


def format_rows(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """Rows as UTF-8 in a streaming format (no header or brackets: the Writer adds those).
    Bytes all the way to the output: no decoding and encoding again of every chunk."""
    try:
        return _format_rows(rows, fmt)
    except (TypeError, UnicodeEncodeError):  # text that is not UTF-8: escaped, row by row
        return _format_rows([safe_text(row) for row in rows], fmt)


def _format_rows(rows: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == "jsonl":
        return b"".join([orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows])
    if fmt == "json":
        return b",\n".join([orjson.dumps(row) for row in rows])
    if fmt == "csv":
        from .display import FORMULA_START

        return _csv_rows([_csv_cells(row, FORMULA_START) for row in rows]).encode()
    raise ValueError(fmt)


def _csv_cells(row: dict[str, Any], formula_start: frozenset[str]) -> list[str]:
    """`[cell(row[c]) for c in COLUMNS]`, written out: the CSV's per-row hot path."""
    cells = []
    for value in map(row.__getitem__, COLUMNS):
        kind = type(value)
        if value is None:
            cells.append("")
            continue
        if kind is str:
            text = value
        elif kind is list or kind is tuple:
            text = ";".join(map(str, value))
        elif kind is dict:
            text = ";".join([f"{k}:{v}" for k, v in value.items()])
        else:
            text = flat(value)
        cells.append("'" + text if text and text[0] in formula_start else text)
    return cells


def _csv_rows(rows: list[list[str]]) -> str:
    """CSV text, one row a line. The csv module quotes a cell holding a line feed but not one
    holding only a carriage return (which a reader takes for a line end, and so shows the
    rest of the row against the next patient): such rows are written again quoting both."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    text = buffer.getvalue()
    if "\r" not in text:
        return text
    buffer = io.StringIO()
    plain, careful = csv.writer(buffer, lineterminator="\n"), csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        if any("\r" in c for c in row):
            careful.writerow(row)
            buffer.seek(buffer.tell() - 2)  # the row end as every other row's
            buffer.write("\n")
            buffer.truncate()
        else:
            plain.writerow(row)
    return buffer.getvalue()


class Writer:
    """Writes chunks of results in one format as they arrive (the table is drawn at the end)."""

    def __init__(self, fmt: str, out: IO[str], class_names: dict[str, str] | None = None):
        self.fmt, self.out, self.class_names = fmt, out, class_names or {}
        self._first = True
        self._table: list[dict[str, Any]] = []

    def write(self, result: ChunkResult) -> None:
        if self.fmt == "table":
            self._table.extend(result.rows or ())
        elif result.data:
            if self.fmt == "csv" and self._first:
                self.out.write(",".join(COLUMNS) + "\n")
            elif self.fmt == "json":
                self.out.write("[\n" if self._first else ",\n")
            self._write(result.data)
            self._first = False

    def _write(self, data: bytes) -> None:
        buffer = getattr(self.out, "buffer", None)  # a text stream's bytes underneath
        if buffer is None:
            self.out.write(data.decode())
        else:
            self.out.flush()  # what was written as text goes first
            buffer.write(data)

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("[]\n" if self._first else "\n]\n")
        elif self.fmt == "csv" and self._first:
            self.out.write(",".join(COLUMNS) + "\n")
        elif self.fmt == "table":
            render_table(self._table, self.out, self.class_names)
        self.out.flush()


def render_table(rows: Iterable[dict[str, Any]], out: IO[str], class_names: dict[str, str] | None = None) -> None:
    """The results as a table that fits the terminal: id, class (by its short name, e.g.
    "Non-specific"), urgency and what was raised always; unscreened and warning counts, then the
    file, as the width allows. Long cells end in "…" (the machine formats have everything)."""
    names = class_names or {}
    from rich import box
    from rich.console import Console
    from rich.table import Table

    is_tty = getattr(out, "isatty", lambda: False)()
    console = Console(file=out, width=None if is_tty else 200)
    rows = [safe_text(row) for row in rows]
    width = console.width
    wide, counts, widest = width >= _TABLE_WIDE, width >= _TABLE_COUNTS, width >= _TABLE_FILE
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=True)
    longest_id = max((len(row["id"] or _short(row["file"])) for row in rows), default=2)
    rows = [{**row, "classification": names.get(row["classification"], row["classification"])} for row in rows]
    longest_class = max((len(row["classification"] or "error") for row in rows), default=5)
    table.add_column("id", no_wrap=True, overflow="ellipsis", min_width=min(longest_id, 12),
                     max_width=max(12, min(longest_id, width // (5 if wide else 4))))
    table.add_column("class", no_wrap=True, min_width=max(5, longest_class))
    table.add_column("urgency", no_wrap=True, min_width=9)
    # Conditions (the red flags) get the room their longest entry needs; alerts take the rest.
    scored = [row for row in rows if not row["error"]]
    conditions = min(max([10] + [len(_conditions(row)) for row in scored]), width // 4)
    if wide:
        table.add_column("conditions", no_wrap=True, overflow="ellipsis", min_width=conditions, max_width=conditions)
        table.add_column("alerts", no_wrap=True, overflow="ellipsis", min_width=10, ratio=1)
    else:
        table.add_column("conditions; alerts", no_wrap=True, overflow="ellipsis", min_width=10, ratio=1)
    if counts:
        table.add_column("unscreened", no_wrap=True, justify="right", min_width=10)
        table.add_column("warnings", no_wrap=True, justify="right", min_width=8)
    if widest:
        table.add_column("file", no_wrap=True, overflow="ellipsis", max_width=30)
    for row in rows:
        table.add_row(*_table_cells(row, wide, counts, widest))
    console.print(table)


#: Terminal widths from which the table shows conditions and alerts apart, the unscreened and
#: warning counts, and the file.
_TABLE_WIDE, _TABLE_COUNTS, _TABLE_FILE = 110, 150, 180
_URGENCY_STYLE = {"emergency": "bold red", "urgent": "red", "soon": "yellow", "routine": "green"}


def _table_cells(row: dict[str, Any], wide: bool, counts: bool, widest: bool) -> list[str]:
    from .display import markup

    file = markup(_short(row["file"]))
    if row["error"]:
        cells = [markup(row["id"] or "") or file, "[red]error[/red]", ""] + ([""] if wide else [])
        cells += [markup(row["error"])] + [""] * (2 if counts else 0)  # in the widest column
        return cells + ([file] if widest else [])
    urgency = row["urgency"]
    conditions = markup(_conditions(row))
    alerts = markup(", ".join(row["alerts"]))
    cells = [markup(row["id"]), markup(row["classification"]), f"[{_URGENCY_STYLE.get(urgency, '')}]{urgency}[/]"]
    cells += [conditions, alerts] if wide else ["; ".join(part for part in (conditions, alerts) if part)]
    if counts:
        cells += [str(len(row["unscreened"]) or ""), str(len(row["warnings"]) or "")]
    return cells + ([file] if widest else [])


def _conditions(row: dict[str, Any]) -> str:
    return ", ".join(f"{c} ({t})" for c, t in row["condition_tiers"].items())


def _short(source: str) -> str:
    """The file name (with :line for JSON Lines) - full paths are in the machine formats."""
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def show_progress() -> bool:
    """A progress bar only for a person watching: never in pipes, files or CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def run(paths: list[str], ruleset: RuleSet, out: IO[str], fmt: str, jobs: int, stdin: IO[bytes] | None,
        report: Report, on_error: Callable[[str], None]) -> None:
    """Score and write every case into `out`, filling `report`; `on_error` sees each error message."""
    writer = Writer(fmt, out, {name: c.short or name for name, c in ruleset.manifest.classes.items()})
    results = score_stream(paths, ruleset, jobs, stdin, fmt, report.detail)
    progress = None
    if show_progress():
        from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(SpinnerColumn(), TextColumn("scoring"), MofNCompleteColumn(), TimeElapsedColumn(),
                            transient=True, redirect_stdout=False, redirect_stderr=False)
        progress.start()
        task = progress.add_task("scoring", total=None)
    try:
        for result in results:
            writer.write(result)
            report.summary.add(result)
            for note in result.notes:
                on_error(note)
            for brief in result.errors:
                on_error(brief.error)  # type: ignore[arg-type]
            for brief in result.briefs or ():
                report.on_case(brief)
            if progress is not None:
                progress.advance(task, result.cases)
    finally:
        if progress is not None:
            progress.stop()
    writer.close()
