"""The score table and the progress bar of `score` and `audit`, drawn with rich.

Apart from cli.render so that `score -f jsonl` (and csv, json) never imports rich or the tutor's
report: rich (and base.text, which escapes with it) is imported only when a table or a progress
bar is drawn, which keeps start-up short
(docs/performance.md).
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Iterable

from ..batch.writers import safe_text


def render_table(rows: Iterable[dict[str, Any]], out: IO[str], class_names: dict[str, str] | None = None) -> None:
    """The results as a table that fits the terminal: id, class (by its short name, e.g.
    "Non-specific"), urgency and what was raised always; unscreened and warning counts, then the
    file, as the width allows. The id and what was raised wrap onto more lines rather than being
    cut: a second emergency, or the urgent alert that set the urgency, is never hidden behind "…"
    (and two ids never look alike). Only the file name is cut (the machine formats have it whole)."""
    from rich import box
    from .screen import Screen as Console
    from rich.table import Table
    from ..base.text import file_name

    names = class_names or {}

    is_tty = getattr(out, "isatty", lambda: False)()
    console = Console(file=out, width=None if is_tty else 200)
    rows = [safe_text(row) for row in rows]
    width = console.width
    wide, counts, widest = width >= _TABLE_WIDE, width >= _TABLE_COUNTS, width >= _TABLE_FILE
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=True)
    longest_id = max((len(row["id"] or file_name(row["file"])) for row in rows), default=2)
    rows = [{**row, "classification": names.get(row["classification"], row["classification"])} for row in rows]
    longest_class = max((len(row["classification"] or "error") for row in rows), default=5)
    table.add_column("id", overflow="fold", min_width=min(longest_id, 12),
                     max_width=max(12, min(longest_id, width // (5 if wide else 4))))
    table.add_column("class", no_wrap=True, min_width=max(5, longest_class))
    table.add_column("urgency", no_wrap=True, min_width=9)
    # Conditions (the red flags) get the room their longest entry needs; alerts take the rest.
    scored = [row for row in rows if not row["error"]]
    conditions = min(max([10] + [len(_conditions(row)) for row in scored]), width // 4)
    if wide:
        table.add_column("conditions", overflow="fold", min_width=conditions, max_width=conditions)
        table.add_column("alerts", overflow="fold", min_width=10, ratio=1)
    else:
        table.add_column("conditions; alerts", overflow="fold", min_width=10, ratio=1)
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
    from ..base.text import file_name, markup  # with rich's escaping: imported when a table is drawn

    file = markup(file_name(row["file"]))
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


def show_progress() -> bool:
    """A progress bar only for a person watching: never in pipes, files or CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


class ProgressBar:
    """A transient spinner with the count of cases scored, on standard error (batch.run's `progress`)."""
    def __init__(self) -> None:
        from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn("scoring"), MofNCompleteColumn(), TimeElapsedColumn(),
                                  transient=True, redirect_stdout=False, redirect_stderr=False)
        self._progress.start()
        self._task = self._progress.add_task("scoring", total=None)

    def advance(self, cases: int) -> None:
        self._progress.advance(self._task, cases)

    def stop(self) -> None:
        self._progress.stop()


def progress_bar() -> ProgressBar | None:
    """A progress bar when a person is watching, else None."""
    return ProgressBar() if show_progress() else None
