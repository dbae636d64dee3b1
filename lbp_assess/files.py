"""Writing files safely: atomically, never over an existing file without `force`."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from .errors import Location, OutputExistsError, Problem


def refuse_existing(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists; use --force to overwrite",
                                [Problem(Location(str(path)), "already exists; use --force to overwrite")])


@contextlib.contextmanager
def atomic_output(path: Path | str, *, force: bool = False, mode: int | None = None) -> Iterator[IO[str]]:
    """Open a text file for writing that appears at `path` only when complete.

    The data goes to a temporary file beside `path`, which is flushed, synced and
    renamed over `path` on success, and removed on failure. `mode` (e.g. 0o600
    for patient data) is set before any data is written.
    """
    path = Path(path)
    refuse_existing(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if not force and path.exists():  # appeared while we were writing
            refuse_existing(path, force)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: Path | str, text: str, *, force: bool = False, mode: int | None = None) -> None:
    with atomic_output(path, force=force, mode=mode) as handle:
        handle.write(text)
