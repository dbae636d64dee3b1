"""The audit of a batch of cases: what `lbp-assess audit` shows a clinical lead, as data.

The cases are scored by `score`'s own streaming path (`batch.score_stream`: the same
readers, chunks, worker processes and result rows). Each worker also sums up its chunk
(`digest`, a `Tally`): counts by class and urgency, rules fired, questions left
unscreened, urgency by rule, by assessor and by date, the errors, and the chunk's most
urgent cases for the page's case list. The parent adds the tallies up and keeps at most
`limit` cases (the most urgent first, then in input order), so memory does not grow
with the number of cases; every row goes, as `score -f csv` writes it, to a CSV file
beside the page.

With another rule set to compare (`--compare-rules`), each worker scores its chunk a
second time with it and lists the cases whose class, urgency or conditions change, with
the rules that made the difference.

The record notes of the cases on the page are made last, by reading those cases again
the way `lbp-assess note` does; a case whose result then differs (its file changed
meanwhile) is shown without its note, and says why.
"""

from __future__ import annotations

import collections
import functools
import heapq
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, NamedTuple

from .chunks import Chunk, ChunkResult, _scored
from .writers import Writer, cell
from .pool import score_stream
from ..base.errors import InputError
from ..base.text import plain_name
from ..engine.ruleset.model import RuleSet
from ..engine.ruleset.load import load_rules

#: Cases listed on the page (all are in the CSV beside it), errors and rule changes listed.
DEFAULT_LIMIT = 1000
ERRORS_LISTED = 1000
#: Distinct assessors and dates kept; beyond these (only hostile or very odd data gets there)
#: assessors fold into one "other" line and dates into months, so memory stays bounded.
MAX_ASSESSORS = 500
MAX_DAYS = 5000
OTHER_ASSESSORS = "(other assessors)"
HIGH_TIERS = ("emergency", "urgent")
CHANGE_COLUMNS = ("id", "file", "classification", "classification_other", "urgency", "urgency_other",
                  "conditions", "conditions_other", "rules_that_differ")


class CaseEntry(NamedTuple):
    """A case on the page's list (small, to send between processes)."""

    position: int  # in the whole input (workers know only their chunk's: see `moved`)
    id: str
    file: str
    classification: str
    urgency: str
    conditions: tuple[tuple[str, str], ...]  # (condition, tier)
    alerts: tuple[str, ...]
    rules_fired: tuple[str, ...]
    unscreened: tuple[str, ...]
    warnings: int
    assessed_on: str | None
    assessor: str | None
    follow_up_of: str | None
    # Where to read the case again for its note: `file` as the filesystem names it (`file` is shown,
    # its controls and hidden characters escaped, so it names no file when the name holds one).
    source: str = ""

    def moved(self, offset: int) -> "CaseEntry":
        return self._replace(position=self.position + offset)


@dataclass(frozen=True)
class Reclassified:
    """A case whose class, urgency or conditions differ under the other rule set."""

    id: str
    file: str
    classification: tuple[str, str]
    urgency: tuple[str, str]
    conditions: tuple[dict[str, str], dict[str, str]]
    rules: tuple[str, ...]  # rules fired under one set only, or fired and written differently


@dataclass
class Tally:
    """Counts over some cases; tallies add up (`merge`)."""

    cases: int = 0
    scored: int = 0
    class_urgency: collections.Counter = field(default_factory=collections.Counter)  # (class, urgency)
    rules: collections.Counter = field(default_factory=collections.Counter)  # rule id
    rule_urgency: collections.Counter = field(default_factory=collections.Counter)  # (rule id, urgency)
    unscreened: collections.Counter = field(default_factory=collections.Counter)  # fact
    conditions: collections.Counter = field(default_factory=collections.Counter)  # (condition, tier)
    alerts: collections.Counter = field(default_factory=collections.Counter)  # alert
    assessor_urgency: collections.Counter = field(default_factory=collections.Counter)  # (assessor, urgency)
    no_assessor: int = 0
    dated: collections.Counter = field(default_factory=collections.Counter)  # (YYYY-MM-DD, urgency)
    undated: int = 0
    dates_by_month: bool = False
    sources: collections.Counter = field(default_factory=collections.Counter)  # (input, "scored" | "error")
    errors: list[tuple[str, str]] = field(default_factory=list)  # (source, message), in input order
    error_count: int = 0
    entries: list[CaseEntry] = field(default_factory=list)
    changes: list[Reclassified] = field(default_factory=list)
    change_count: int = 0
    compared: int = 0
    urgency_moves: collections.Counter = field(default_factory=collections.Counter)  # (before, after) if changed
    class_moves: collections.Counter = field(default_factory=collections.Counter)  # (before, after) if changed

    def merge(self, other: "Tally") -> None:
        self.cases += other.cases
        self.scored += other.scored
        for name in ("class_urgency", "rules", "rule_urgency", "unscreened", "conditions", "alerts",
                     "assessor_urgency", "sources", "urgency_moves", "class_moves"):
            getattr(self, name).update(getattr(other, name))
        self.no_assessor += other.no_assessor
        self.undated += other.undated
        if other.dates_by_month and not self.dates_by_month:
            self._fold_months()
        self.dated.update(_months(other.dated) if self.dates_by_month and not other.dates_by_month
                          else other.dated)
        self.error_count += other.error_count
        self.compared += other.compared
        self.change_count += other.change_count
        self._bound()

    def _bound(self) -> None:
        if len(self.dated) > MAX_DAYS and not self.dates_by_month:
            self._fold_months()
        people = {name for name, _ in self.assessor_urgency}
        if len(people) > MAX_ASSESSORS:
            keep = {name for name, _ in collections.Counter(
                {p: sum(n for (q, _), n in self.assessor_urgency.items() if q == p) for p in people}
            ).most_common(MAX_ASSESSORS - 1)}
            folded: collections.Counter = collections.Counter()
            for (name, urgency), n in self.assessor_urgency.items():
                folded[(name if name in keep else OTHER_ASSESSORS, urgency)] += n
            self.assessor_urgency = folded

    def _fold_months(self) -> None:
        self.dated = _months(self.dated)
        self.dates_by_month = True


def _months(dated: collections.Counter) -> collections.Counter:
    out: collections.Counter = collections.Counter()
    for (day, urgency), n in dated.items():
        out[(day[:7] + "-01", urgency)] += n
    return out


@dataclass(frozen=True)
class Options:
    """What each worker needs to know to sum up its chunk (pickled with the digest)."""

    limit: int = DEFAULT_LIMIT
    compare: str | None = None  # the other rule set's directory


def input_of(source: str) -> str:
    """The input a row came from, as the page groups them: a JSON Lines file (without :line),
    standard input, or the folder of a case file."""
    name, sep, number = source.rpartition(":")
    if sep and number.isdigit():  # a line of JSON Lines or of standard input
        return name
    if source.endswith(".jsonl") or source == "<stdin>":
        return source
    folder = os.path.dirname(source)
    return os.path.join(folder, "") if folder else "./"


#: The least urgent rank (0 = the most urgent tier) a case may have to still enter the page's
#: list: once the list is full, a later case enters only if it is more urgent than its least
#: urgent case. The parent lowers it as the list fills; workers forked from it read it, and
#: send only the cases that can still enter (shared memory; None in spawned workers: all).
_ENTRY_RANK: Any = None


def digest(options: Options, ruleset: RuleSet, chunk: Chunk, rows: list[dict[str, Any]]) -> Tally:
    """One chunk's rows summed up, where they were scored (see `batch.Digest`): the per-case
    hot path of the audit, kept to plain dictionary updates."""
    tally = Tally(cases=len(rows))
    rank = ruleset.tier_rank
    worst = len(rank)
    entry_rank = _ENTRY_RANK.value if _ENTRY_RANK is not None else worst
    ranked: list[tuple[int, int, CaseEntry]] = []
    class_urgency: dict[tuple[str, str], int] = {}
    by_urgency: dict[str, collections.Counter] = {}
    unscreened, conditions, alerts = tally.unscreened, tally.conditions, tally.alerts
    assessors: dict[tuple[str, str], int] = {}
    dated: dict[tuple[str, str], int] = {}
    # JSON Lines and standard input: one input, named as every row names it (escaped as in `file`)
    one_input = None if chunk.files else input_of(plain_name(chunk.name))
    shown = {plain_name(path): path for path in chunk.files}  # a row's `file` -> the file read
    line_of = plain_name(chunk.name) + ":"  # how a JSON Lines row's `file` begins, before its line number
    scored_where: dict[str, int] = {}
    for position, row in enumerate(rows):
        where = one_input or input_of(row["file"])
        if row["error"]:
            tally.error_count += 1
            tally.errors.append((row["file"], row["error"]))
            tally.sources[(where, "error")] += 1
            continue
        scored_where[where] = scored_where.get(where, 0) + 1
        urgency = row["urgency"]
        key = (row["classification"], urgency)
        class_urgency[key] = class_urgency.get(key, 0) + 1
        fired = row["rules_fired"]
        counter = by_urgency.get(urgency)
        if counter is None:
            counter = by_urgency[urgency] = collections.Counter()
        counter.update(fired)
        if row["unscreened"]:
            unscreened.update(row["unscreened"])
        raised = row["condition_tiers"]
        if raised:
            conditions.update(raised.items())
        if row["alerts"]:
            alerts.update(row["alerts"])
        assessor = row["assessor"]
        if assessor is None:
            tally.no_assessor += 1
        else:
            key = (assessor, urgency)
            assessors[key] = assessors.get(key, 0) + 1
        date = row["assessed_on"]
        if date is None:
            tally.undated += 1
        else:
            key = (date, urgency)
            dated[key] = dated.get(key, 0) + 1
        level = rank.get(urgency, worst)
        if level <= entry_rank:
            file = row["file"]
            if chunk.files:
                source = shown.get(file, file)
            else:  # the line of the file read (`file` names it escaped)
                source = f"{chunk.name}:{file[len(line_of):]}" if file.startswith(line_of) else file
            ranked.append((level, position, CaseEntry(
                position, row["id"], file, row["classification"], urgency, tuple(raised.items()),
                tuple(row["alerts"]), tuple(fired), tuple(row["unscreened"]), len(row["warnings"]),
                date, assessor, row["follow_up_of"], source)))
    tally.scored = sum(class_urgency.values())
    tally.class_urgency.update(class_urgency)
    for urgency, counter in by_urgency.items():
        tally.rules.update(counter)
        tally.rule_urgency.update({(rule, urgency): n for rule, n in counter.items()})
    tally.assessor_urgency.update(assessors)
    tally.dated.update(dated)
    tally.sources.update({(where, "scored"): n for where, n in scored_where.items()})
    if len(ranked) > options.limit:
        ranked = heapq.nsmallest(options.limit, ranked)
    tally.entries = [entry for _, _, entry in ranked]
    if options.compare is not None:
        _compare(tally, ruleset, _other_rules(options.compare), chunk, rows)
    return tally


@functools.lru_cache(maxsize=2)
def _other_rules(directory: str) -> RuleSet:
    return load_rules(directory, questionnaire=False)


@functools.lru_cache(maxsize=2)
def rules_written_differently(ruleset: RuleSet, other: RuleSet) -> frozenset[str]:
    """Ids of rules that are in one set only, or whose condition, raise or tier differ."""
    def shape(r: Any) -> tuple[Any, ...]:
        return (" ".join(r.text.split()), r.raises, r.name, r.tier, r.layer)

    mine = {r.id: shape(r) for r in ruleset.rules}
    theirs = {r.id: shape(r) for r in other.rules}
    return frozenset(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))


def _compare(tally: Tally, ruleset: RuleSet, other: RuleSet, chunk: Chunk, rows: list[dict[str, Any]]) -> None:
    """Score the chunk again with `other` (score's own readers) and keep the cases that change."""
    differ = rules_written_differently(ruleset, other)
    for row, (again, _) in zip(rows, _scored(other, chunk)):
        if row["error"] or again["error"]:
            continue
        tally.compared += 1
        before, after = row["condition_tiers"], again["condition_tiers"]
        if (row["classification"], row["urgency"], before) == (again["classification"], again["urgency"], after):
            continue
        fired, fired_again = set(row["rules_fired"]), set(again["rules_fired"])
        rules = sorted((fired ^ fired_again) | (differ & (fired | fired_again)))
        if not rules:
            rules = ["(the classification order)"] if row["classification"] != again["classification"] else \
                ["(a definition or tier the rules share)"]
        tally.change_count += 1
        tally.urgency_moves[(row["urgency"], again["urgency"])] += 1
        tally.class_moves[(row["classification"], again["classification"])] += 1
        tally.changes.append(Reclassified(row["id"], row["file"], (row["classification"], again["classification"]),
                                    (row["urgency"], again["urgency"]), (dict(before), dict(after)),
                                    tuple(rules)))


# --------------------------------------------------------------------------- the whole run


@dataclass
class Audit:
    """Everything the page shows, gathered while streaming (bounded in size)."""

    ruleset: RuleSet
    paths: list[str]
    limit: int = DEFAULT_LIMIT
    other: RuleSet | None = None
    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: dict[int, str] = field(default_factory=dict)  # position -> rendered record note
    note_problems: dict[int, str] = field(default_factory=dict)  # position -> why there is no note
    _heap: list[tuple[int, int, CaseEntry]] = field(default_factory=list)

    @property
    def entries(self) -> list[CaseEntry]:
        """The cases on the page: the most urgent first, then in input order."""
        return [entry for _, _, entry in sorted((-a, -b, e) for a, b, e in self._heap)]

    def add(self, result: ChunkResult) -> None:
        part: Tally = result.digest
        offset = self.tally.cases
        self.tally.merge(part)
        room = ERRORS_LISTED - len(self.tally.errors)
        if room > 0:
            self.tally.errors.extend(part.errors[:room])
        room = self.limit - len(self.tally.changes)
        if room > 0:
            self.tally.changes.extend(part.changes[:room])
        rank = self.ruleset.tier_rank
        heap = self._heap
        for entry in part.entries:
            key = (-rank.get(entry.urgency, len(rank)), -(entry.position + offset), entry.moved(offset))
            if len(heap) < self.limit:
                heapq.heappush(heap, key)
            elif key > heap[0]:
                heapq.heapreplace(heap, key)
        if len(heap) >= self.limit and _ENTRY_RANK is not None:
            # A later case enters only if more urgent than the least urgent listed.
            _ENTRY_RANK.value = min(_ENTRY_RANK.value, -heap[0][0] - 1)


def run(paths: list[str], ruleset: RuleSet, csv_out: IO[str], *, jobs: int = 1, stdin: IO[bytes] | None = None,
        limit: int = DEFAULT_LIMIT, compare: Path | None = None, changes_out: IO[str] | None = None,
        on_chunk: Callable[[int], None] | None = None, on_error: Callable[[str], None] | None = None) -> Audit:
    """Score every case through `score`'s streaming path, write every row to `csv_out` as
    `score -f csv` does (and every change to `changes_out`), and return what the page shows."""
    import time

    global _ENTRY_RANK
    started = time.perf_counter()
    _ENTRY_RANK = _shared_rank(len(ruleset.tier_rank))
    other = _other_rules(str(compare)) if compare is not None else None
    audit = Audit(ruleset, paths, limit, other)
    audit.skipped = list(skipped_files(paths))
    writer = Writer("csv", csv_out)
    changes = _ChangeWriter(changes_out) if changes_out is not None else None
    options = Options(limit, str(compare) if compare is not None else None)
    for result in score_stream(paths, ruleset, jobs, stdin, "csv", digest=functools.partial(digest, options)):
        writer.write(result)
        if changes is not None:
            changes.write(result.digest.changes)
        audit.add(result)
        if on_error is not None:
            for _, message in result.digest.errors:
                on_error(message)
        if on_chunk is not None:
            on_chunk(result.cases)
    writer.close()
    if changes is not None:
        changes.close()
    audit.seconds = time.perf_counter() - started
    return audit


def _shared_rank(worst: int) -> Any:
    """The entry rank as shared memory that forked workers see change (None where processes
    are spawned: they then send every case, and the parent still keeps the right ones)."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork").Value("i", worst, lock=False)


class _ChangeWriter:
    def __init__(self, out: IO[str]):
        from .writers import _csv_rows

        self.out, self.rows = out, _csv_rows
        out.write(",".join(CHANGE_COLUMNS) + "\n")

    def write(self, changes: list[Reclassified]) -> None:
        if changes:
            self.out.write(self.rows([[cell(v) for v in change_cells(c)] for c in changes]))

    def close(self) -> None:
        self.out.flush()


def change_cells(c: Reclassified) -> list[Any]:
    return [c.id, c.file, c.classification[0], c.classification[1], c.urgency[0], c.urgency[1],
            conditions_text(c.conditions[0]), conditions_text(c.conditions[1]), list(c.rules)]


def conditions_text(conditions: dict[str, str] | Iterable[tuple[str, str]]) -> str:
    items = conditions.items() if isinstance(conditions, dict) else conditions
    return ", ".join(f"{name} ({tier})" for name, tier in items) or "none"


def skipped_files(paths: list[str], most: int = ERRORS_LISTED) -> Iterator[tuple[str, str]]:
    """Files in the given folders that `score` does not read, with the reason (at most `most`,
    then one line for the rest). Linked folders are not followed, as `score` does not."""
    from ..model.case import CASE_SUFFIXES

    shown = hidden = 0
    for raw in paths:
        if raw == "-" or not os.path.isdir(raw):
            continue
        folders = [raw]
        while folders:
            folder = folders.pop()
            try:
                with os.scandir(folder) as entries:
                    found = sorted(entries, key=lambda e: e.name)
            except OSError:
                continue  # reported as an error by score
            for entry in found:
                reason = None
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_symlink() and entry.is_dir():
                    reason = "a linked folder: not followed"
                elif os.path.splitext(entry.name)[1] not in CASE_SUFFIXES:
                    reason = f"not a case file (reads {', '.join(CASE_SUFFIXES)})"
                if reason is None:
                    continue
                if shown < most:
                    shown += 1
                    yield entry.path, reason
                else:
                    hidden += 1
    if hidden:
        yield f"... and {hidden:,} more", "not listed here"


# --------------------------------------------------------------------------- record notes


def add_notes(audit: Audit, ruleset: RuleSet, entries: list[CaseEntry], jobs: int = 1) -> None:
    """The record note of each listed case, read again the way `lbp-assess note` reads it (the
    lines of each JSON Lines file found in one pass), made in `jobs` processes."""
    start_notes(audit, ruleset, entries, jobs)()


def start_notes(audit: Audit, ruleset: RuleSet, entries: list[CaseEntry], jobs: int = 1) -> Callable[[], None]:
    """`add_notes` begun in worker processes; returns the call that waits for them and fills
    `audit.notes` (so the caller can draw the charts meanwhile)."""
    work: list[tuple[CaseEntry, str, bytes | None]] = []  # (entry, file to read, or the line read)
    wanted: dict[str, dict[int, CaseEntry]] = collections.defaultdict(dict)
    for entry in entries:
        source = entry.source or entry.file  # the name to read (the shown one escapes what it holds)
        name, sep, number = source.rpartition(":")
        if entry.file.startswith("<stdin>"):
            audit.note_problems[entry.position] = "read from standard input: give the file to embed its note"
        elif sep and number.isdigit() and name.endswith(".jsonl"):
            wanted[name][int(number)] = entry
        else:
            work.append((entry, source, None))
    for name, lines in wanted.items():
        found = _lines(name, lines)
        if isinstance(found, str):
            for entry in lines.values():
                audit.note_problems[entry.position] = f"could not be read again: {found}"
            continue
        for number, entry in lines.items():
            if number in found:
                work.append((entry, name, found[number]))
            else:
                audit.note_problems[entry.position] = "the file has fewer lines than when it was scored"
    results = _map_notes(ruleset, work, jobs)

    def finish() -> None:
        for position, note, problem in results():
            if note is not None:
                audit.notes[position] = note
            else:
                audit.note_problems[position] = problem  # type: ignore[assignment]

    return finish


def _lines(name: str, wanted: dict[int, Any]) -> dict[int, bytes] | str:
    """The wanted lines of a JSON Lines file, by number (or why it cannot be read)."""
    from ..base.yamlio import open_regular_file

    found: dict[int, bytes] = {}
    try:
        with os.fdopen(open_regular_file(name), "rb") as handle:
            last = max(wanted)
            for number, raw in enumerate(handle, 1):
                if number in wanted:
                    found[number] = raw
                if number >= last:
                    break
    except InputError as err:
        return str(err)
    except OSError as err:
        return err.strerror or type(err).__name__
    return found


_NOTE_RULES: RuleSet | None = None
NOTES_PER_TASK = 25


def _map_notes(ruleset: RuleSet, work: list[tuple[CaseEntry, str, bytes | None]],
               jobs: int) -> Callable[[], list[tuple[int, str | None, str | None]]]:
    """Start making the notes; the returned call waits for them."""
    global _NOTE_RULES
    import multiprocessing

    _NOTE_RULES = ruleset
    if jobs <= 1 or len(work) < 2 * NOTES_PER_TASK or "fork" not in multiprocessing.get_all_start_methods():
        return lambda: [_make_note(item) for item in work]
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))  # the rules inherited
    tasks = [pool.submit(_make_notes, work[i:i + NOTES_PER_TASK]) for i in range(0, len(work), NOTES_PER_TASK)]

    def results() -> list[tuple[int, str | None, str | None]]:
        try:
            return [made for task in tasks for made in task.result()]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return results


def _make_notes(items: list[tuple[CaseEntry, str, bytes | None]]) -> list[tuple[int, str | None, str | None]]:
    return [_make_note(item) for item in items]


def _make_note(item: tuple[CaseEntry, str, bytes | None]) -> tuple[int, str | None, str | None]:
    """(position, the rendered record note or None, why there is none)."""
    from ..inputs.cases import validate_any as validate_case
    from ..base.yamlio import decode, load_json

    entry, name, raw = item
    assert _NOTE_RULES is not None
    try:
        if raw is None:
            case, path = read_case_file(name), Path(name)
        else:
            number = int((entry.source or entry.file).rpartition(":")[2])
            text = decode(raw, name, number).rstrip("\r\n")
            case, path = validate_case(load_json(text, name, number), name, None, number), None
        return entry.position, *_note(_NOTE_RULES, entry, case, path)
    except InputError as err:
        return entry.position, None, f"could not be read again: {err}"


def read_case_file(path: str) -> Any:
    from ..inputs.cases import parse_case
    from ..base.yamlio import read_text

    return parse_case(read_text(path), path)


def _note(ruleset: RuleSet, entry: CaseEntry, case: Any, path: Path | None) -> tuple[str | None, str | None]:
    """The case's record note as `lbp-assess note --format text` writes it (the text to paste: shown
    as written in the page's <pre>, where Markdown's escapes would show as typed), or why there is none."""
    from ..outputs.note import build_note, render

    if ruleset.questionnaire is None:
        return None, "the rule set has no interview.yaml, which the note is worded from"
    assessment = ruleset.assess(case)
    if (assessment.classification, assessment.urgency) != (entry.classification, entry.urgency):
        return None, (f"the case changed after it was scored (now {assessment.classification}, "
                      f"{assessment.urgency}): run the audit again")
    previous, warnings = None, []
    if path is not None and case.follow_up_of is not None:
        from ..outputs.visits import find_previous

        try:
            previous, warnings = find_previous(path, case)
        except InputError as err:
            warnings = [str(err)]
    note = build_note(case, assessment, ruleset, previous=previous, previous_warnings=warnings)
    return render(note, "text"), None


__all__ = ["Audit", "CaseEntry", "Reclassified", "Tally", "run", "add_notes"]
