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
RulesArgument = typer.Argument(None, help="Rule set directory (default: the shipped rules).", file_okay=False)


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
    """A message on standard error; text from the input in it cannot drive the terminal."""
    if not all(line.isprintable() for line in message.split("\n")):
        from .display import plain

        message = plain(message, multiline=True)
    typer.echo(f"lbp-assess: {message}", err=True)


class FailOn(str, Enum):
    emergency = "emergency"
    urgent = "urgent"
    red_flag = "red_flag"


@app.command()
def score(
    paths: List[str] = typer.Argument(..., help="Case files, directories (recursive), JSON Lines files, "
                                               "or - for standard input."),
    fmt: Optional[ScoreFormat] = typer.Option(None, "--format", "-f",
                                              help="table (default on a terminal) | json | jsonl | csv"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results to this file.",
                                          dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Overwrite --output if it exists."),
    jobs: int = typer.Option(os.cpu_count() or 1, "--jobs", "-j", min=1,
                             help="Worker processes (default: the number of cores)."),
    expect: bool = typer.Option(False, "--expect", help="Compare with each case's expected: labels; "
                                                        "report agreement; exit 1 on any disagreement."),
    fail_on: Optional[FailOn] = typer.Option(None, "--fail-on", help="Exit 3 when any case reaches "
                                                                     "emergency | urgent | red_flag."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No closing summary on standard error."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Score saved case files. Exit 0 all scored, 1 any error or disagreement, 3 --fail-on reached."""
    from .batch import Report, run
    from .files import atomic_output
    from .rules import load_rules

    ruleset = load_rules(rules, interview=False)
    chosen = (fmt.value if fmt else None) or ("table" if output is None and sys.stdout.isatty() else "jsonl")
    report = Report(ruleset, expect, fail_on.value if fail_on else None)
    stdin = sys.stdin.buffer if "-" in paths else None
    try:
        if output is None:
            run(paths, ruleset, sys.stdout, chosen, jobs, stdin, report, _err)
        else:
            with atomic_output(output, force=force) as handle:
                run(paths, ruleset, handle, chosen, jobs, stdin, report, _err)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, with what was found so far
        _discard_stdout()
        raise typer.Exit(report.exit_code())
    except KeyboardInterrupt:
        _err("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED)
    if not quiet:
        _err(report.summary.render(ruleset))
    if expect:
        typer.echo(report.agreement.render(), err=True)
    if report.serious:
        _err(f"--fail-on {report.fail_on}: reached by {len(report.serious)} case(s), first {report.serious[0]}")
    raise typer.Exit(report.exit_code())


class NoteFormat(str, Enum):
    md = "md"
    text = "text"
    json = "json"


@app.command()
def assess(
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for <id>.case.yaml and <id>.note.md "
                                                          "(default: the current directory).", file_okay=False),
    answers: Optional[Path] = typer.Option(None, "--answers", help="Pre-fill from a case file; ask only "
                                                                   "what is missing.", dir_okay=False),
    resume: Optional[Path] = typer.Option(None, "--resume", help="Continue an interrupted interview from "
                                                                 "its draft.", dir_okay=False),
    case_id: Optional[str] = typer.Option(None, "--id", help="The case id (pseudonymous)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Interview a patient, then write the case file and the summary note."""
    from . import consultation
    from .interview import run
    from .rules import load_rules

    if answers and resume:
        raise typer.BadParameter("use --answers or --resume, not both")
    session = consultation.start(load_rules(rules), out, answers, resume, case_id)
    consultation.check_outputs(session, force)
    is_tty = sys.stdin.isatty()
    consultation.require_terminal(session, is_tty)
    interview = session.interview
    if is_tty and interview.missing():
        from .prompts import TerminalPrompter

        prompter = TerminalPrompter()
        for note in session.notes:
            prompter.message(f"[yellow]{note}[/yellow]")
        for alert in interview.live_alerts():
            prompter.alert(alert)
        try:
            run(interview, prompter, lambda i: i.save_draft(session.draft, session.out_dir))
        except (KeyboardInterrupt, EOFError):
            interview.save_draft(session.draft, session.out_dir)
            _err(f"interview paused; answers saved. Resume with:\n  lbp-assess assess --resume "
                 f"{_quote(session.draft)}")
            raise typer.Exit(ExitCode.INTERRUPTED)
    case_path, note_path, text = consultation.finish(session, force)
    typer.echo(text)
    _err(f"saved {case_path} and {note_path}")


def _quote(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


@app.command()
def note(
    case: Path = typer.Argument(..., help="A case file.", dir_okay=False),
    fmt: NoteFormat = typer.Option(NoteFormat.md, "--format", "-f", help="md | text | json"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the note to this file.",
                                          dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Overwrite --output if it exists."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Render the summary note of a case file (the same note the interview writes)."""
    from .consultation import PRIVATE, note_text
    from .files import atomic_write
    from .rules import load_rules

    text = note_text(case, load_rules(rules), fmt.value)
    if output is None:
        typer.echo(text, nl=False)
    else:
        atomic_write(output, text, force=force, mode=PRIVATE)


class Topic(str, Enum):
    non_specific = "non_specific"
    radicular = "radicular"
    stenosis = "stenosis"
    red_flag = "red_flag"


@app.command()
def practice(
    paths: Optional[List[str]] = typer.Argument(None, help="Vignette files or directories "
                                                          "(default: the shipped vignettes)."),
    count: Optional[int] = typer.Option(None, "--count", "-n", min=1, help="How many cases."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the order (repeatable sessions)."),
    topic: Optional[Topic] = typer.Option(None, "--topic", help="Only cases of this class."),
    record: Optional[Path] = typer.Option(None, "--record", help="Append each attempt as a JSON line.",
                                          dir_okay=False),
    history_taking: bool = typer.Option(False, "--interview", help="Take the history yourself: choose the "
                                                                   "questions, the case answers."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Practise clinical reasoning on vignettes, with feedback from the rules."""
    from . import practice as p
    from .errors import NoTerminalError
    from .rules import load_rules

    ruleset = load_rules(rules)
    cases = p.load_exercise_cases(paths or [str(p.default_vignettes())], need_vignette=not history_taking)
    chosen = p.choose_cases(cases, ruleset, count, seed, topic.value if topic else None)
    if not sys.stdin.isatty():
        raise NoTerminalError("practice needs a terminal to ask your answers")
    from .prompts import TerminalPrompter

    prompter = TerminalPrompter()
    card = p.Scorecard(list(ruleset.manifest.classes))
    handle = open(record, "a", encoding="utf-8") if record else None  # appended, never overwritten
    try:
        p.run(chosen, ruleset, prompter, card, seed=seed, history_taking=history_taking, record=handle)
    except (KeyboardInterrupt, EOFError):
        prompter.show("Scorecard (stopped early)", card.lines())
        raise typer.Exit(ExitCode.INTERRUPTED)
    finally:
        if handle:
            handle.close()
    prompter.show("Scorecard", card.lines())


class ExplainFormat(str, Enum):
    tree = "tree"
    json = "json"


@app.command()
def explain(
    case: Path = typer.Argument(..., help="A case file.", dir_okay=False),
    fmt: ExplainFormat = typer.Option(ExplainFormat.tree, "--format", "-f", help="tree | json"),
    brief: bool = typer.Option(False, "--brief", help="Leave out the rules that did not fire."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Why the case got its class: every rule by layer, and what single answer would change it."""
    import json

    from .case import load_case
    from .explain import explanation, render_tree
    from .rules import load_rules

    data = explanation(load_case(case), load_rules(rules))
    if fmt is ExplainFormat.json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from rich.console import Console

        render_tree(data, Console(highlight=False), brief)


@rules_app.command("check")
def rules_check(directory: Optional[Path] = RulesArgument) -> None:
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
def rules_test(directory: Optional[Path] = RulesArgument) -> None:
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


def _discard_stdout() -> None:
    """Point standard output at the null device, so nothing more is written to a closed pipe
    (not even the final flush)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


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
        _discard_stdout()
        sys.exit(ExitCode.OK)
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback
        if os.environ.get("LBP_ASSESS_DEBUG"):
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (set LBP_ASSESS_DEBUG=1 for details; please report)")
        sys.exit(ExitCode.INTERNAL)
