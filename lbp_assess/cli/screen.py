"""The rich Console every command draws with: a reader that goes away (`lbp-assess explain CASE |
head`) ends the command as it ends every other - quietly, exit 0 (`main`) - where rich's own
Console would exit 1, which a `set -o pipefail` script reads as a failure.
"""

from __future__ import annotations

from rich.console import Console


class Screen(Console):
    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError  # handled once, in cli.main: stdout pointed at the null device, exit 0
