"""Scoring many case files into one output: the loop over the results, in input order.
"""

from __future__ import annotations

from typing import IO, Protocol, Callable


from ..engine.ruleset.model import RuleSet
from .pool import score_stream
from .report import BatchResult
from .writers import TableWriter, Writer


class Progress(Protocol):
    """What a progress display is told (the CLI draws one for a person watching)."""

    def advance(self, cases: int) -> None: ...

    def stop(self) -> None: ...


def run(paths: list[str], ruleset: RuleSet, out: IO[str], fmt: str, jobs: int, stdin: IO[bytes] | None,
        report: BatchResult, on_error: Callable[[str], None], table: TableWriter | None = None,
        progress: Progress | None = None) -> None:
    """Score and write every case into `out`, filling `report`; `on_error` sees each error message.
    The `table` format is drawn by `table` (the CLI's); `progress` hears of the cases as they are scored."""
    writer = Writer(fmt, out, {name: c.short or name for name, c in ruleset.manifest.classes.items()}, table)
    results = score_stream(paths, ruleset, jobs, stdin, fmt, report.detail)
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
                progress.advance(result.cases)
    finally:
        if progress is not None:
            progress.stop()
    writer.close()
