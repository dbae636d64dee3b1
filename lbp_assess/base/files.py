"""Writing files safely: atomically, never over an existing file without `force`.

Only a regular file is ever replaced (by renaming a finished temporary file over
it, keeping its permissions). A character device or a named pipe - `/dev/null`,
`/dev/stdout`, a FIFO a script reads - is written directly: renaming over it would
put a regular file in its place for every process on the machine. A directory, a
block device or a socket is refused. A symbolic link is an existing file: it is
replaced (the link, never its target) only with `force`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import Location, OutputExistsError, Problem


def _refuse(path: Path, message: str) -> OutputExistsError:
    return OutputExistsError(f"{path}: {message}", [Problem(Location(str(path)), message)])


def _stat(path: Path, follow: bool) -> os.stat_result | None:
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def refuse_existing(path: Path, force: bool) -> None:
    """Refuse an output path that exists (even as a dangling link) unless `force`."""
    if _stat(path, follow=False) is not None and not force:
        raise _refuse(path, "already exists; use --force to overwrite")


def _direct(target: os.stat_result | None) -> bool:
    """Whether the output is a stream to write into (a character device or a FIFO)."""
    return target is not None and (stat.S_ISCHR(target.st_mode) or stat.S_ISFIFO(target.st_mode))


@contextlib.contextmanager
def atomic_output(path: Path | str, *, force: bool = False, mode: int | None = None) -> Iterator[IO[str]]:
    """Open a text file for writing that appears at `path` only when complete.

    The data goes to a temporary file beside `path`, which is flushed, synced and
    renamed over `path` on success, and removed on failure. `mode` (e.g. 0o600
    for patient data) is set before any data is written; a file replaced keeps
    its permissions (narrowed by `mode`). A character device or FIFO is written
    directly.
    """
    path = Path(path)
    target = _stat(path, follow=True)
    if _direct(target):
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    if target is not None and not stat.S_ISREG(target.st_mode):
        kind = "a directory" if stat.S_ISDIR(target.st_mode) else "not a regular file"
        raise _refuse(path, f"is {kind}; expected a file to write")
    refuse_existing(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        keep = stat.S_IMODE(target.st_mode) if target is not None else None
        if keep is not None or mode is not None:
            os.fchmod(fd, (keep if keep is not None else 0o7777) & (mode if mode is not None else 0o7777))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if not force and _stat(path, follow=False) is not None:  # appeared while we were writing
            refuse_existing(path, force)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: Path | str, text: str, *, force: bool = False, mode: int | None = None) -> None:
    with atomic_output(path, force=force, mode=mode) as handle:
        handle.write(text)
