"""Errors with a user-facing one-line message, a source location and an exit code.

Every problem the user can cause (a bad case file, a broken rule, a missing
terminal) is an `LbpError`. The CLI maps them to exit codes in one place and
never shows a traceback for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .text import plain


class ExitCode:
    OK = 0
    FAILED = 1  # some input could not be processed, or a check found problems
    USAGE = 2
    SERIOUS_FINDING = 3  # --fail-on threshold reached
    INTERNAL = 70
    INTERRUPTED = 130


@dataclass(frozen=True, eq=False)
class Location:
    """Where a problem is: a file, and when known a 1-based line and column."""

    file: str
    line: int | None = None
    col: int | None = None

    def __eq__(self, other: object) -> bool:  # any Location, found at once or when first read
        if not isinstance(other, Location):
            return NotImplemented
        return (self.file, self.line, self.col) == (other.file, other.line, other.col)

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.col))

    def __str__(self) -> str:
        parts = [plain(self.file)]  # a file name with a line break in it still makes one line
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


@dataclass(frozen=True)
class Problem:
    """One problem found in an input: where, what, and (optionally) the field path."""

    location: Location
    message: str
    field: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        field = f"{self.field}: " if self.field else ""
        return f"{self.location}: {field}{self.message}"


class LbpError(Exception):
    """An error the user can act on. `str(err)` is the one-line message."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, problems: Iterable[Problem] = ()):
        super().__init__(message)
        self.problems = list(problems)


class InputError(LbpError):
    """A case file, rule file or answers file that cannot be used."""

    @classmethod
    def from_problems(cls, problems: Iterable[Problem]) -> "InputError":
        problems = list(problems)
        return cls(str(problems[0]) if problems else "invalid input", problems)


class NotACase(InputError):
    """An input that holds no case: a FHIR resource such as a Questionnaire or CodeSystem. `score`
    skips one that it found in a folder, with a note; named, it is an error. (A consultation's
    draft is not one of these: its answers may hold a red flag not yet saved, so it is an error
    row wherever it is found.)"""


class UsageError(LbpError):
    exit_code = ExitCode.USAGE


class OutputExistsError(LbpError):
    exit_code = ExitCode.FAILED


class OutputError(LbpError):
    """A file or folder that cannot be written (permission, read-only, disk full, not a folder)."""

    exit_code = ExitCode.FAILED


class NoTerminalError(LbpError):
    exit_code = ExitCode.USAGE


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean `x`?)' when a close candidate exists, else ''."""
    import difflib  # only when there is a problem to report

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean `{matches[0]}`?)" if matches else ""
