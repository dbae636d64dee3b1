"""The command-line reference (docs/cli.md), generated from the typer app's own definitions.

It reads what the commands declare (their docstrings, and each parameter's declarations, help, type
and default, through `typer.models`), never a rendering of `--help`: so the page is the same at any
terminal width and with any typer that pyproject.toml allows. `python -m lbp_assess.docs` writes it;
`--check` and a test find it stale.
"""

from __future__ import annotations

import inspect
import typing
from enum import Enum
from pathlib import Path
from typing import Any, Iterator

import typer
from typer.models import ArgumentInfo, OptionInfo

CLI_FILE = "docs/cli.md"
PROGRAM = "lbp-assess"


def cli_markdown(app: typer.Typer | None = None) -> str:
    """The reference of every command of `app` (the lbp-assess app by default), as Markdown."""
    if app is None:
        from .app import app
    commands = list(_commands(app, PROGRAM))
    lines = [
        "# Command-line reference", "",
        "Generated from the command-line app by `python -m lbp_assess.docs`: do not edit it by hand. "
        f"`{PROGRAM} COMMAND --help` prints the same on a terminal, and every command takes `--help`.", "",
        *_paragraphs(_help_of(app)), "",
        f"`{PROGRAM} --version` prints the version and exits.", "",
        "| command | what it does |", "|---|---|",
    ]
    lines += [f"| [`{path}`](#{_anchor(path)}) | {_first_line(help_text)} |" for path, _, help_text in commands]
    for path, command, help_text in commands:
        lines += ["", f"## `{path}`", "", *_paragraphs(help_text), ""]
        lines += _parameters(path, command.callback)
        if command.epilog:
            lines += ["", _escape(command.epilog)]
    return "\n".join(lines).rstrip() + "\n"


def _commands(app: typer.Typer, prefix: str) -> Iterator[tuple[str, Any, str]]:
    """(command path, typer CommandInfo, help text) for every command, in the order they are registered."""
    for command in app.registered_commands:
        if command.hidden:
            continue
        name = command.name or command.callback.__name__.lower().replace("_", "-")
        yield f"{prefix} {name}", command, command.help or inspect.getdoc(command.callback) or ""
    for group in app.registered_groups:
        sub = group.typer_instance
        yield from _commands(sub, f"{prefix} {group.name or sub.info.name}")


def _help_of(app: typer.Typer) -> str:
    return app.info.help if isinstance(app.info.help, str) else ""


def _parameters(path: str, callback: Any) -> list[str]:
    hints = typing.get_type_hints(callback)
    arguments, options = [], []
    for name, parameter in inspect.signature(callback).parameters.items():
        info = parameter.default
        if isinstance(info, ArgumentInfo):
            arguments.append(_argument(name, info, hints[name]))
        elif isinstance(info, OptionInfo) and not info.hidden:
            options.append(_option(name, info, hints[name]))
    usage = " ".join([path, *(["[OPTIONS]"] if options else []), *(shown for shown, _ in arguments)])
    lines = ["```", usage, "```"]
    if arguments:
        lines += ["", "Arguments:", ""] + [f"- `{shown}`: {text}" for shown, text in arguments]
    if options:
        lines += ["", "Options:", ""] + [f"- {text}" for text in options]
    return lines


def _argument(name: str, info: ArgumentInfo, hint: Any) -> tuple[str, str]:
    required = info.default is ...
    kind, many = _kind(hint)
    shown = name.upper() if required else f"[{name.upper()}]"
    shown += "..." if many else ""
    return shown, _escape(info.help or "") + ("" if required else " Optional.")


def _option(name: str, info: OptionInfo, hint: Any) -> str:
    declared = [d for decl in info.param_decls for d in decl.split("/")] or [f"--{name.replace('_', '-')}"]
    kind, many = _kind(hint)
    words = [", ".join(f"`{d}`" for d in declared)]
    facts = []
    if kind != "flag":
        words.append(_value(kind, info))
        facts += _limits(info)
    if info.default is ... or (info.default is not None and kind != "flag" and "default" not in (info.help or "")):
        facts.append("required" if info.default is ... else f"default `{_shown(info.default)}`")
    if many:
        facts.append("may be given more than once")
    if facts:
        words.append(f"({'; '.join(facts)})")
    return " ".join(words) + ": " + _escape(info.help or "")


def _kind(hint: Any) -> tuple[Any, bool]:
    """The value's type (or "flag") and whether there may be several, from a parameter's annotation."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Union and len(args) == 1:
        return _kind(args[0])
    if typing.get_origin(hint) in (list, typing.List):
        return args[0], True
    return ("flag" if hint is bool else hint), False


def _value(kind: Any, info: OptionInfo) -> str:
    """The value an option takes: `md` | `text`, *INTEGER*, *FILE*, *FOLDER* ..."""
    if isinstance(kind, type) and issubclass(kind, Enum):
        return " | ".join(f"`{member.value}`" for member in kind)
    if kind is Path:
        return "*FILE*" if not info.dir_okay else "*FOLDER*" if not info.file_okay else "*PATH*"
    return {int: "*INTEGER*", float: "*NUMBER*"}.get(kind, "*TEXT*")


def _limits(info: OptionInfo) -> list[str]:
    return ([f"at least {_shown(info.min)}"] if info.min is not None else []) + (
        [f"at most {_shown(info.max)}"] if info.max is not None else [])


def _shown(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _paragraphs(text: str) -> list[str]:
    """A docstring's paragraphs as Markdown paragraphs (lines joined, blank lines kept)."""
    paragraphs = [" ".join(line.strip() for line in block.splitlines()) for block in text.strip().split("\n\n")]
    return [line for paragraph in paragraphs for line in (_escape(paragraph), "")][:-1]


def _first_line(text: str) -> str:
    first = " ".join(text.strip().split("\n\n")[0].split())
    return _escape(first.split(". ")[0].rstrip(".") + ".").replace("|", "\\|")


def _escape(text: str) -> str:
    """Help text as Markdown: `<id>` and `*` shown as typed, never read as HTML or emphasis."""
    return text.replace("<", "\\<").replace("*", "\\*")


def _anchor(path: str) -> str:
    """GitHub's anchor of a `## \\`lbp-assess rules check\\`` heading."""
    return "".join(c for c in path.lower() if c.isalnum() or c in " -_").replace(" ", "-")
