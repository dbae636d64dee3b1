"""Result rows as JSON Lines, JSON or CSV, written as chunks arrive; text cells made safe for
spreadsheets and terminals. (The table format is drawn by the CLI: cli.render.)
"""

from __future__ import annotations

import csv
import io
from typing import IO, TYPE_CHECKING, Any, Callable

import orjson

if TYPE_CHECKING:
    from .chunks import ChunkResult
from .score import COLUMNS


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
    """A CSV cell a spreadsheet shows as text (base.text.spreadsheet)."""
    from ..base.text import spreadsheet

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
        from ..base.text import FORMULA_START

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
        elif (kind is list or kind is tuple) and value and type(value[0]) is dict:  # actions
            text = " | ".join([f"{v['label'] or v['rule']} - {v['tier'] or 'no tier'} - {v['time_frame'] or ''}: "
                               f"{v['action'] or ''}" for v in value])
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


#: Draws result rows as a table on `out` (rows, out, class short names): the CLI's rich table.
TableWriter = Callable[[list[dict[str, Any]], IO[str], dict[str, str]], None]


class Writer:
    """Writes chunks of results in one format as they arrive (the table is drawn at the end)."""

    def __init__(self, fmt: str, out: IO[str], class_names: dict[str, str] | None = None,
                 table: TableWriter | None = None):
        self.fmt, self.out, self.class_names, self.table = fmt, out, class_names or {}, table
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
            if self.table is None:
                raise ValueError("the table format is drawn by the caller: pass `table`")
            self.table(self._table, self.out, self.class_names)
        self.out.flush()
