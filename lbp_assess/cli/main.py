"""The console entry point: run the typer app and turn every failure into a one-line message and
its exit code (the one place where errors become exit codes).
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any

import typer

from ..base.errors import ExitCode, LbpError
from .app import app, discard_stdout, err_line


def main() -> None:
    """Console entry point: run the app and turn every failure into a message and exit code."""
    # Cases and rules are validated by pydantic alone: no third-party pydantic plugin (found through
    # the installed packages' entry points) hooks into the validation of clinical input, and no
    # start-up is spent searching every installed package for one. Set the variable to choose otherwise.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _standard_streams()
    from typer.main import get_command

    ClickException, UsageError = _click_exceptions()
    command = get_command(app)
    _name_arguments(command)
    try:
        try:
            code = command.main(prog_name="lbp-assess", standalone_mode=False)
        except SystemExit as exc:  # click ends a write to a reader that went away with exit 1: raised again
            if isinstance(exc.__context__, BrokenPipeError):  # as what it is, to stop quietly as below
                raise exc.__context__ from None
            raise
    except UsageError as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # `lbp-assess rules`: the group's help (click 8.2+)
            err.show()
        else:
            err_line(_usage_message(err))
        sys.exit(ExitCode.USAGE)
    except ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except LbpError as err:
        err_line(str(err))
        sys.exit(err.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err_line("interrupted")
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly.
        discard_stdout()
        sys.exit(ExitCode.OK)
    except OSError as err:  # permission, read-only, disk full, missing folder: the user can act on it
        from ..base.text import plain

        reason = err.strerror or type(err).__name__
        err_line(f"{plain(err.filename)}: {reason}" if err.filename else reason)
        sys.exit(ExitCode.FAILED)
    except UnicodeEncodeError as err:
        if not _unicode_capable(sys.stdout):  # the output has a character its encoding cannot write
            err_line(f"standard output cannot take {err.object[err.start:err.end]!r}: its encoding is "
                     f"{err.encoding} (PYTHONIOENCODING or the locale); set PYTHONIOENCODING=utf-8, or write "
                     "to a file with --output")
            sys.exit(ExitCode.FAILED)
        _internal(err)
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback
        _internal(exc)
    sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _internal(exc: Exception) -> None:
    if os.environ.get("LBP_ASSESS_DEBUG"):
        raise exc
    err_line(f"internal error: {type(exc).__name__}: {exc} (set LBP_ASSESS_DEBUG=1 for details; please report)")
    sys.exit(ExitCode.INTERNAL)


class _Closed(io.TextIOBase):
    """A standard stream that was closed when the command started (`<&-`, `>&-`). Python leaves it
    None, and print or click would then write nothing without a word: reading or writing it is an
    error that names it (exit 1), so a pipeline never takes an empty output for a result."""

    def __init__(self, name: str):
        self._name = name

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"<{self._name}>"

    @property
    def buffer(self) -> "_Closed":
        return self

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def _closed(self, *_: Any) -> Any:
        raise OSError(errno.EBADF, f"{self._name} is closed (the command was started with it closed)")

    read = readline = write = fileno = _closed  # type: ignore[assignment]

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:  # at exit too: nothing is waiting
        pass


def _standard_streams() -> None:
    """Closed standard streams made explicit (`_Closed`); with standard error closed there is nowhere
    to say anything, and the exit code tells. Standard error escapes what its encoding cannot write."""
    if sys.stdin is None:
        sys.stdin = _Closed("standard input")
    if sys.stdout is None:
        sys.stdout = _Closed("standard output")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the life of the process
    elif hasattr(sys.stderr, "reconfigure"):
        sys.stderr.reconfigure(errors="backslashreplace")


def _unicode_capable(stream: Any) -> bool:
    """Whether a stream's encoding can write every character (a UTF encoding or GB 18030)."""
    import codecs

    try:
        name = codecs.lookup(getattr(stream, "encoding", None) or "ascii").name
    except LookupError:
        return False
    return name.startswith("utf") or name == "gb18030"


def _click_exceptions() -> tuple[type[Exception], type[Exception]]:
    """(ClickException, UsageError) of the click that typer runs on: its own copy since typer 0.26,
    the click package before. Found through typer's public `BadParameter` (a UsageError), never
    through a private module path, so every typer the lower bound allows works."""
    bases = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
    return bases["ClickException"], bases["UsageError"]


def _name_arguments(command: Any) -> None:
    """Arguments show in usage lines as CASE, [PATHS]... or PATHS... - not typer's {case}."""
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") == "argument" and param.metavar is None:
            name = param.name.upper()
            shown = (name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else "")
            param.metavar = name
            param._usage_display_name = lambda shown=shown: shown  # typer's usage-line hook
        _plain_type(param)
    for sub in getattr(command, "commands", {}).values():
        _name_arguments(sub)


#: Parameter types in help as a person reads them, not as Python names them ("<list[str]>").
_TYPE_WORDS = {"<str>": "<text>", "<int>": "<number>", "<int range>": "<number>", "<float>": "<number>",
               "<float range>": "<number>"}


def _plain_type(param: Any) -> None:
    display = getattr(param, "display_type", None)
    if display is None or getattr(display, "plain", False):
        return

    def shown(ctx: Any, display: Any = display) -> str:
        words = display(ctx)
        if words is None:
            return words
        if words.startswith("<list["):  # an argument's name says what it takes (PATHS); an option's item
            if getattr(param, "param_type_name", "") == "argument":
                return ""
            if "path" not in words.lower():
                return "<text>"
            info = getattr(getattr(param, "type_descriptor", None), "parameter_info", None)
            return "<folder>" if getattr(info, "file_okay", True) is False else "<path>"
        return _TYPE_WORDS.get(words, words)

    shown.plain = True  # type: ignore[attr-defined]
    param.display_type = shown


#: Validation wording from the option parser, said as a person would say it.
_PLAIN_WORDS = [
    (r"^Invalid value for '([^']+)'(?: / '[^']+')*: ", r"\1: "),
    (r"Value error, ", ""),
    (r"(\S+) is not one of (.+?)\.?$", lambda m: f"{m[1]} is not one of: {m[2].replace(chr(39), '')}"),
    (r"Input should be greater than or equal to (\S+)", r"must be \1 or more"),
    (r"Input should be less than or equal to (\S+)", r"must be \1 or less"),
    (r"Input should be a valid integer.*", "must be a whole number"),
    (r"Input should be a valid number.*", "must be a number"),
    (r"^Missing argument '([^']+)'\.?", r"missing argument \1"),
]


def _usage_message(err: Any) -> str:
    """One line saying what is wrong with the command line, then the usage and where help is."""
    import re

    message = err.format_message()
    for pattern, replacement in _PLAIN_WORDS:
        message = re.sub(pattern, replacement, message)
    if err.ctx is None:
        return message
    return f"{message}\n{err.ctx.get_usage()}\nTry '{err.ctx.command_path} --help' for help."
