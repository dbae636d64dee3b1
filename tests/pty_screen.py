"""A real pseudo-terminal of a given size whose screen the test reads, as the user sees it:
pexpect runs the CLI, pyte keeps the screen (rows x columns, scrolled and cleared as a terminal
does)."""

from __future__ import annotations

import os
import sys
import time

import pexpect
import pyte

ENTER, UP, DOWN = "\r", "\x1b[A", "\x1b[B"


class Terminal:
    def __init__(self, args: list[str], cwd: str, rows: int = 24, columns: int = 80, timeout: float = 30):
        env = dict(os.environ, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm", NO_COLOR="1",
                   COLUMNS=str(columns), LINES=str(rows))
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.Stream(self.screen)
        self.timeout = timeout
        self.child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", *args], cwd=cwd, env=env,
                                   encoding="utf-8", codec_errors="replace", dimensions=(rows, columns))
        self.transcript: list[str] = []

    def _read(self, wait: float) -> bool:
        """Feed what the program wrote in the next `wait` seconds to the screen; False at exit."""
        try:
            text = self.child.read_nonblocking(100_000, timeout=wait)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.transcript.append(text)
        self.stream.feed(text)
        return True

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for(self, text: str) -> list[str]:
        """The screen once `text` is on it (and the program has stopped drawing for a moment)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            alive = self._read(0.2)
            if text in self.text():
                while self._read(0.3) and self.child.isalive():  # let it finish drawing
                    if not self._pending():
                        break
                return self.lines()
            if not alive:
                break
        raise AssertionError(f"{text!r} never appeared on the screen:\n{self.text()}")

    def _pending(self) -> bool:
        try:
            text = self.child.read_nonblocking(100_000, timeout=0.2)
        except (pexpect.TIMEOUT, pexpect.EOF):
            return False
        self.transcript.append(text)
        self.stream.feed(text)
        return True

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def finish(self) -> int:
        """Wait for the program to end; its exit status."""
        deadline = time.monotonic() + self.timeout
        while self._read(0.2) and time.monotonic() < deadline:
            pass
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else -1

    def press_enter_until_exit(self, interval: float = 0.05, limit: float = 240) -> int:
        """Press Enter at whatever is on screen, again and again, until the program ends."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self.child.isalive():
                break
            try:
                self.send(ENTER)
            except OSError:
                break
            if not self._read(interval):
                break
        return self.finish()
