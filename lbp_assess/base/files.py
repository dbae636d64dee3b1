"""Writing files safely: one writer for every output.

* The final component of the path must be a regular file or nothing. A symbolic
  link (even one pointing at a regular file), a FIFO, a device, a socket or a
  folder is refused, with or without `force`: writing through a planted link could
  put patient data wherever it points, and a FIFO nobody reads would hang or lose it.
* The data goes to a temporary file beside the target (same folder, so the rename
  is atomic), is flushed and synced, and is then linked into place (a new file:
  fails if one appeared meanwhile) or renamed over a regular file (`force` only).
  The folder is synced too, so success is reported only once the bytes and the
  name are on disk.
* After any failure nothing is half-written: the temporary file is removed and
  the target is as it was, so the same command can simply be run again.
* Several files that belong together (a case and its note) are written with
  `write_all`: every one is prepared first, and they appear together or not at all.
* `force` replaces an earlier output, never what the command reads: a target that is one
  of its `inputs`, or a case or rule file inside an input folder, is refused even with it
  (`note case.yaml -o case.yaml --force` would put the note in place of the case).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence

from .errors import Location, OutputError, OutputExistsError, Problem
from .text import plain


def _refuse(path: Path, message: str, kind: type = OutputExistsError) -> OutputExistsError:
    return kind(f"{plain(str(path))}: {message}", [Problem(Location(str(path)), message)])


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


#: Files inside an input folder that a command reads (cases, rule files): an output never replaces one.
READ_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl", ".ndjson")


def check_target(path: Path | str, force: bool, inputs: Sequence[Path | str] = ()) -> os.stat_result | None:
    """Refuse an output path whose last component is a symbolic link or not a regular file,
    that exists without `force`, or that is one of the command's `inputs` (files, or folders
    whose case and rule files it reads). Returns what is there now (None when nothing)."""
    path = Path(path)
    found = _lstat(path)
    if found is None:
        return None
    mode = found.st_mode
    if stat.S_ISLNK(mode):
        raise _refuse(path, "is a symbolic link; refusing to write through it (give the file itself)")
    if stat.S_ISDIR(mode):
        raise _refuse(path, "is a directory; expected a file to write")
    if not stat.S_ISREG(mode):
        raise _refuse(path, "is not a regular file (a pipe, device or socket); refusing to write to it")
    if not force:
        raise _refuse(path, "already exists; use --force to overwrite")
    _refuse_inputs(path, found, inputs)
    return found


def _refuse_inputs(path: Path, found: os.stat_result, inputs: Sequence[Path | str]) -> None:
    """Refuse replacing a regular file (`found`, at `path`) that the command reads."""
    for given in inputs:
        if str(given) in ("", "-"):
            continue
        try:
            read = os.stat(given)
        except (OSError, ValueError):
            continue  # not there (or not a path): the reader reports it
        if os.path.samestat(read, found):
            raise _refuse(path, "is an input of this command; --force replaces an earlier output, never a "
                                "file being read (choose another output)")
        if stat.S_ISDIR(read.st_mode) and path.suffix.lower() in READ_SUFFIXES:
            folder = os.path.realpath(given)
            if os.path.commonpath([folder, os.path.realpath(path)]) == folder:
                raise _refuse(path, f"is inside the input folder {plain(str(given))}, whose files this command "
                                    "reads; --force never replaces one (choose another output)")


def refuse_existing(path: Path | str, force: bool, inputs: Sequence[Path | str] = ()) -> None:
    """Refuse an output path that exists (without `force`), cannot be written as a file, or is read."""
    check_target(path, force, inputs)


@dataclass
class _Staged:
    """A finished temporary file waiting to be put in place."""

    path: Path
    tmp: Path
    force: bool
    inputs: Sequence[Path | str] = ()
    placed: bool = False
    replaced: bool = False


def _narrow(fd: int, target: os.stat_result | None, mode: int | None) -> None:
    """The new file's permissions: those of the file it replaces, narrowed by `mode` (e.g. 0o600)."""
    keep = stat.S_IMODE(target.st_mode) if target is not None else None
    if keep is not None or mode is not None:
        os.fchmod(fd, (keep if keep is not None else 0o7777) & (mode if mode is not None else 0o7777))


@contextlib.contextmanager
def _os_errors(path: Path) -> Iterator[None]:
    """An operating-system error (permission, read-only, disk full) as one line naming the file."""
    try:
        yield
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OutputError(f"{plain(str(path))}: cannot write: {reason}",
                          [Problem(Location(str(path)), f"cannot write: {reason}")]) from None


def make_folder(folder: Path, mode: int = 0o777) -> None:
    """`folder` and its parents, made where missing; something else in its place is refused by name."""
    try:
        folder.mkdir(mode=mode, parents=True, exist_ok=True)
    except FileExistsError:  # exist_ok covers folders only: a file, FIFO or device is in the way
        raise OutputError(f"{folder}: is not a folder (a file is in its place)",
                          [Problem(Location(str(folder)), "is not a folder (a file is in its place)")]) from None


def _stage(path: Path, text: str, force: bool, mode: int | None, inputs: Sequence[Path | str]) -> _Staged:
    target = check_target(path, force, inputs)
    make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            _narrow(fd, target, mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return _Staged(path, Path(tmp), force, inputs)


def _place(staged: _Staged) -> None:
    """Put a staged file in place: as a new name (never over one that appeared meanwhile),
    or over the regular file there with `force`."""
    path = staged.path
    try:
        os.link(staged.tmp, path)  # atomic, and fails if anything is there now
    except FileExistsError:
        check_target(path, staged.force, staged.inputs)  # what appeared: refused unless a regular file and force
        os.replace(staged.tmp, path)
        staged.replaced = True
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        check_target(path, staged.force, staged.inputs)  # a file system without hard links
        os.replace(staged.tmp, path)
        staged.replaced = True
    else:
        os.unlink(staged.tmp)
    staged.placed = True


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (the folder's entry); some systems cannot open a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def write_all(files: Sequence[tuple[Path | str, str]], *, force: bool = False, mode: int | None = None,
              inputs: Sequence[Path | str] = ()) -> None:
    """Write several files that belong together: each is refused or prepared (written and
    synced beside its target) before any is put in place; if one cannot be put in place,
    those already placed as new files are removed again, so a retry finds nothing in its way."""
    staged: list[_Staged] = []
    try:
        for path, _ in files:
            check_target(Path(path), force, inputs)  # every refusal before any work
        for path, text in files:
            with _os_errors(Path(path)):
                staged.append(_stage(Path(path), text, force, mode, inputs))
        for item in staged:
            with _os_errors(item.path):
                _place(item)
        for folder in {item.path.parent for item in staged}:
            with _os_errors(folder):
                _sync_folder(folder)
    except BaseException:
        for item in staged:
            if not item.placed:
                with contextlib.suppress(OSError):
                    os.unlink(item.tmp)
            elif not item.replaced:  # a new file of ours: take it back
                with contextlib.suppress(OSError):
                    os.unlink(item.path)
        raise


def atomic_write(path: Path | str, text: str, *, force: bool = False, mode: int | None = None,
                 inputs: Sequence[Path | str] = ()) -> None:
    """Write `text` to `path` atomically (see the module's rules)."""
    write_all([(path, text)], force=force, mode=mode, inputs=inputs)


@contextlib.contextmanager
def atomic_output(path: Path | str, *, force: bool = False, mode: int | None = None,
                  inputs: Sequence[Path | str] = ()) -> Iterator[IO[str]]:
    """A text stream whose content appears at `path` only when the block ends without error.

    The target is checked first (so a refused path costs no work), the text is written
    to a temporary file beside it as it comes, and put in place when the block ends."""
    path = Path(path)
    target = check_target(path, force, inputs)
    with _os_errors(path):
        make_folder(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=".tmp", dir=path.parent)
    staged = _Staged(path, Path(tmp), force, inputs)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            _narrow(fd, target, mode)
            yield handle
            with _os_errors(path):
                handle.flush()
                os.fsync(handle.fileno())
        with _os_errors(path):
            _place(staged)
            _sync_folder(path.parent)
    except BaseException as exc:
        if not staged.placed:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):  # e.g. disk full while writing
            with _os_errors(path):
                raise
        raise


__all__ = ["OutputError", "atomic_output", "atomic_write", "check_target", "refuse_existing", "write_all"]
