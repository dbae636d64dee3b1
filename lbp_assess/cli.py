"""The command line: parse options, call the core, map errors to exit codes.

Heavy modules (pydantic, the rule engine, rich, questionary) are imported
inside the commands, so `lbp-assess --version` and `--help` stay quick.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .errors import ExitCode, LbpError

app = typer.Typer(
    name="lbp-assess",
    help="Low back pain assessment: interview, YAML rules, summary note, batch scoring.\n\n"
    "Decision support only, not a diagnosis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
rules_app = typer.Typer(help="Check and test rule sets.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

RulesOption = typer.Option(None, "--rules", help="Rule set directory (default: the shipped rules).",
                           file_okay=False)


class ScoreFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lbp-assess {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Low back pain assessment."""


def _err(message: str) -> None:
    typer.echo(f"lbp-assess: {message}", err=True)


@app.command()
def score(
    paths: List[str] = typer.Argument(..., help="Case files, directories (recursive), or - for standard input."),
    fmt: Optional[ScoreFormat] = typer.Option(None, "--format", "-f",
                                              help="table (default on a terminal) | json | jsonl | csv"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results to this file.",
                                          dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Overwrite --output if it exists."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Score saved case files with the rules. Exit 1 if any file could not be scored."""
    from .batch import Summary, Writer, score_paths
    from .files import atomic_output
    from .rules import load_rules

    ruleset = load_rules(rules)
    chosen = (fmt.value if fmt else None) or ("table" if output is None and sys.stdout.isatty() else "jsonl")
    summary = Summary()
    stdin = sys.stdin.buffer if "-" in paths else None

    def run(out) -> None:  # type: ignore[no-untyped-def]
        writer = Writer(chosen, out)
        for scored in score_paths(paths, ruleset, stdin):
            writer.write(scored.row)
            summary.add(scored.row)
            if scored.row["error"]:
                _err(scored.row["error"])
        writer.close()

    if output is None:
        run(sys.stdout)
    else:
        with atomic_output(output, force=force) as handle:
            run(handle)
    if summary.errors:
        raise typer.Exit(ExitCode.FAILED)


@rules_app.command("check")
def rules_check(
    directory: Optional[Path] = typer.Argument(None, help="Rule set directory (default: the shipped rules).",
                                               file_okay=False),
) -> None:
    """Validate a rule set: schema, expressions, names, ids, definitions. Exit 1 on any error."""
    from .rules import check_rules, default_rules_dir

    target = directory or default_rules_dir()
    problems = check_rules(target)
    for problem in problems:
        typer.echo(f"{problem.location}: {problem.severity}: {problem.message}")
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        _err(f"{len(errors)} error(s) in {target}")
        raise typer.Exit(ExitCode.FAILED)
    typer.echo(f"{target}: ok ({len(problems)} warning(s))" if problems else f"{target}: ok")


@rules_app.command("test")
def rules_test(
    directory: Optional[Path] = typer.Argument(None, help="Rule set directory (default: the shipped rules).",
                                               file_okay=False),
) -> None:
    """Run the rule tests in DIR/tests/*.yaml. Exit 1 if any fails."""
    from .rules import default_rules_dir, load_rules
    from .ruletests import run_tests

    target = directory or default_rules_dir()
    outcomes = run_tests(target, load_rules(target))
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        typer.echo(f"{outcome.test.where}: FAIL {outcome.test.name}")
        for failure in outcome.failures:
            typer.echo(f"    {failure}")
    typer.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(ExitCode.FAILED)


def main() -> None:
    """Console entry point: run the app and turn every failure into a message and exit code."""
    try:
        app()
    except LbpError as err:
        _err(str(err))
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(ExitCode.OK)
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback
        if os.environ.get("LBP_ASSESS_DEBUG"):
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (set LBP_ASSESS_DEBUG=1 for details; please report)")
        sys.exit(ExitCode.INTERNAL)
