"""The rich Console every command draws with: a reader that goes away (`lbp-assess explain CASE |
head`) ends the command as it ends every other - quietly, exit 0 (`main`) - where rich's own
Console would exit 1, which a `set -o pipefail` script reads as a failure. A terminal narrower
than MIN_WIDTH columns (`COLUMNS=3`) is drawn for as MIN_WIDTH wide, and the terminal wraps the
lines: a table needs room for its columns and their padding, and rich fails below that.
"""

from __future__ import annotations

from typing import Tuple

from rich.console import Console, ConsoleDimensions

#: The narrowest screen drawn for, in columns.
MIN_WIDTH = 20


class Screen(Console):
    @property  # type: ignore[override]
    def size(self) -> ConsoleDimensions:
        width, height = Console.size.fget(self)  # type: ignore[attr-defined]
        return ConsoleDimensions(max(width, MIN_WIDTH), height)

    @size.setter
    def size(self, new_size: Tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError  # handled once, in cli.main: stdout pointed at the null device, exit 0
