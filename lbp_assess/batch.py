"""Scoring many case files: reading, evaluating and writing result rows.

Rows are produced one at a time (a generator), so JSON Lines and CSV output
stream and memory does not grow with the number of cases. A file that cannot
be read becomes an error row and scoring goes on.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator

from .case import iter_case_files, read_cases
from .rules import RuleSet

#: Result columns, in the order of spec/case-file.md, then our additions.
COLUMNS = (
    "id", "file", "classification", "urgency", "conditions", "alerts", "unscreened",
    "warnings", "rules_fired", "rules_version", "error",
    "condition_tiers", "findings", "not_excluded",
)


def error_row(source: str, message: str) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in COLUMNS}
    row.update(file=source, error=message)
    return row


@dataclass
class Scored:
    """One result: the row, plus the expected labels when the case had them."""

    row: dict[str, Any]
    expected: dict[str, Any] | None = None


def score_paths(paths: list[str], ruleset: RuleSet, stdin: Any = None) -> Iterator[Scored]:
    """Score every case under `paths` (files, directories, '-'), in input order."""
    for path in iter_case_files(paths):
        for loaded in read_cases(path, stdin):
            if loaded.error is not None:
                yield Scored(error_row(loaded.source, str(loaded.error)))
                continue
            case = loaded.case
            assert case is not None
            row = ruleset.assess(case).to_row(loaded.source)
            expected = case.expected.model_dump(exclude_none=True) if case.expected else None
            yield Scored(row, expected)


@dataclass
class Summary:
    total: int = 0
    errors: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    by_urgency: dict[str, int] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        self.total += 1
        if row["error"]:
            self.errors += 1
            return
        self.by_class[row["classification"]] = self.by_class.get(row["classification"], 0) + 1
        self.by_urgency[row["urgency"]] = self.by_urgency.get(row["urgency"], 0) + 1


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


class Writer:
    """Writes rows in one format as they arrive."""

    def __init__(self, fmt: str, out: IO[str]):
        self.fmt, self.out = fmt, out
        self._first = True
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        self._table: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.out.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            assert self._csv is not None
            if self._first:
                self._csv.writerow(COLUMNS)
            self._csv.writerow([flat(row[c]) for c in COLUMNS])
        elif self.fmt == "json":
            self.out.write(("[\n" if self._first else ",\n") + json.dumps(row, ensure_ascii=False))
        else:
            self._table.append(row)
        self._first = False

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("[]\n" if self._first else "\n]\n")
        elif self.fmt == "table":
            render_table(self._table, self.out)


def render_table(rows: Iterable[dict[str, Any]], out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for name in ("file", "id", "classification", "urgency", "conditions", "alerts", "unscreened", "warnings"):
        table.add_column(name, overflow="fold", no_wrap=name in ("file", "id"))
    style = {"emergency": "bold red", "urgent": "red", "soon": "yellow", "routine": "green"}
    for row in rows:
        if row["error"]:
            table.add_row(_short(row["file"]), "", "[red]error[/red]", "", row["error"], "", "", "")
            continue
        urgency = row["urgency"]
        table.add_row(
            _short(row["file"]), row["id"], row["classification"], f"[{style.get(urgency, '')}]{urgency}[/]",
            ", ".join(f"{c} ({t})" for c, t in row["condition_tiers"].items()),
            ", ".join(row["alerts"]), str(len(row["unscreened"])) if row["unscreened"] else "",
            str(len(row["warnings"])) if row["warnings"] else "",
        )
    is_tty = getattr(out, "isatty", lambda: False)()
    console = Console(file=out, width=None if is_tty else 200)
    console.print(table)


def _short(source: str) -> str:
    """The file name (with :line for JSON Lines) - full paths are in the machine formats."""
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def dumps_rows(rows: Iterable[dict[str, Any]], fmt: str) -> str:
    buffer = io.StringIO()
    writer = Writer(fmt, buffer)
    for row in rows:
        writer.write(row)
    writer.close()
    return buffer.getvalue()
