"""The command line: parse options, call the core, map errors to exit codes (cli.main).

Heavy modules (pydantic, the rule engine, rich, questionary) are imported
inside the commands, so `lbp-assess --version` and `--help` stay quick. Annotations here are
evaluated as the module loads (no `from __future__ import annotations`): typer reads every
command's annotations at each start, and strings would each be compiled first (about 7 ms).
"""

import contextlib
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer

from .. import __version__
from ..base.errors import ExitCode, InputError, LbpError, UsageError
from ..base.text import agree, counted, plain


app = typer.Typer(
    name="lbp-assess",
    help="Low back pain assessment: interview, YAML rules, summary note, batch scoring.\n\n"
    "Decision support only, not a diagnosis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
rules_app = typer.Typer(help="Check, test and document rule sets.", no_args_is_help=True)
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


#: The most worker processes --jobs starts (each holds the rules and a chunk): more than any
#: machine this runs on has cores, fewer than would exhaust its processes.
MAX_JOBS = 256


def output_path(value: str) -> Path:
    """An --output path as typed: one ending in a slash names a folder, which the path type would
    quietly drop (`-o out/` wrote a file called `out`), and an empty one names nothing (the path type
    reads it as the current folder); `-` is not standard output here (it wrote a file called `-`):
    standard output is where a command writes without --output."""
    if not value:
        raise typer.BadParameter("is empty; give the file to write")
    if value == "-":
        raise typer.BadParameter("'-' names no file; leave out --output to write to standard output (where "
                                 "the command can), or give ./- for a file called -")
    if value.endswith(("/", os.sep)):
        raise typer.BadParameter(f"{value!r} names a folder (it ends in a slash); give the file to write")
    return Path(value)


def err_line(message: str) -> None:
    """A message on standard error; text from the input in it cannot drive the terminal, nor hide
    in it (each line shown as `plain_name` shows one: a zero-width character in a key as an escape)."""
    from ..base.text import plain_name

    message = "\n".join(plain_name(line) for line in message.split("\n"))
    typer.echo(_wrapped_for_stderr(f"lbp-assess: {message}"), err=True)


def _wrapped_for_stderr(text: str) -> str:
    """On a terminal, each line word-wrapped to its width (continuation lines indented), so no
    word is split at the margin; an indented line (a command to copy) is broken only between its
    arguments, with a shell line continuation (`command_lines`)."""
    import textwrap

    try:
        if not sys.stderr.isatty():
            return text
        width = os.get_terminal_size(sys.stderr.fileno()).columns - 1
    except (OSError, ValueError, AttributeError):
        return text
    if width < 20:
        return text
    return "\n".join(command_lines(line, width) if line.startswith("  ") else line if len(line) <= width else
                     textwrap.fill(line, width, subsequent_indent="  ", break_long_words=False,
                                   break_on_hyphens=False)
                     for line in text.split("\n"))


def command_lines(line: str, width: int) -> str:
    """A command to copy, too long for the terminal: broken between its arguments with a shell
    line continuation (` \\`), continuation lines indented, so the terminal never splits a path
    in the middle and the lines pasted together still run. An argument is never split."""
    import shlex

    if len(line) <= width:
        return line
    try:
        words = [shlex.quote(w) for w in shlex.split(line)]
    except ValueError:
        return line
    lines, current = [], "  " + words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) + 2 > width:  # room for " \\"
            lines.append(current + " \\")
            current = "      " + word
        else:
            current += " " + word
    return "\n".join([*lines, current])


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
                                          parser=output_path, metavar="<file>", dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Overwrite --output if it exists."),
    jobs: int = typer.Option(os.cpu_count() or 1, "--jobs", "-j", min=1, max=MAX_JOBS,
                             help="Worker processes (default: the number of cores)."),
    expect: bool = typer.Option(False, "--expect", help="Compare with each case's expected: labels; "
                                                        "report agreement; exit 1 on any disagreement."),
    fail_on: Optional[FailOn] = typer.Option(None, "--fail-on", help="Exit 3 when any case reaches "
                                                                     "emergency | urgent | red_flag."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No closing summary on standard error."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Score saved case files. Exit 0 all scored, 1 any error or disagreement, 3 --fail-on reached."""
    from ..batch.report import BatchResult
    from ..batch.run import run
    from .score_table import progress_bar, render_table
    from ..base.files import atomic_output
    from ..engine.ruleset.load import load_rules

    ruleset = load_rules(rules, questionnaire=False)
    chosen = (fmt.value if fmt else None) or ("table" if output is None and sys.stdout.isatty() else "jsonl")
    report = BatchResult(ruleset, expect, fail_on.value if fail_on else None)
    stdin = sys.stdin.buffer if "-" in paths else None
    try:
        if output is None:
            run(paths, ruleset, sys.stdout, chosen, jobs, stdin, report, err_line, render_table, progress_bar())
        else:
            with atomic_output(output, force=force, inputs=_read_by(paths, rules)) as handle:
                run(paths, ruleset, handle, chosen, jobs, stdin, report, err_line, render_table, progress_bar())
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, with what was found so far
        discard_stdout()
        raise typer.Exit(report.exit_code())
    except KeyboardInterrupt:
        err_line("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED)
    if not quiet:
        err_line(report.summary.render(ruleset))
    if expect:
        typer.echo(report.agreement.render(), err=True)
    if report.serious:
        err_line(f"--fail-on {report.fail_on}: reached by {counted(len(report.serious), 'case')}, "
                 f"first {report.serious[0]}")
    raise typer.Exit(report.exit_code())


@app.command()
def audit(
    paths: List[str] = typer.Argument(..., help="What score reads: case files, directories (recursive), "
                                               "JSON Lines, FHIR, or - for standard input."),
    output: Path = typer.Option(..., "--output", "-o", help="The HTML report to write; every case goes beside "
                                                          "it as a CSV file of the same name (NAME.csv).",
                                parser=output_path, metavar="<file>", dir_okay=False),
    compare_rules: Optional[Path] = typer.Option(None, "--compare-rules", file_okay=False,
                                                 help="Another rule set: list every case whose class, urgency or "
                                                      "conditions it changes (all of them in NAME.changes.csv)."),
    max_cases: int = typer.Option(1000, "--max-cases", min=1, help="Cases listed on the page, the most urgent "
                                                                   "first (every case is in the CSV)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the report and its CSV files if they exist."),
    jobs: int = typer.Option(os.cpu_count() or 1, "--jobs", "-j", min=1, max=MAX_JOBS,
                             help="Worker processes (default: the number of cores)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No closing summary on standard error."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """An audit report for clinical leads: one self-contained HTML page with charts, the case list
    with each record note, provenance and (--compare-rules) what other rules would change.
    Exit 0 all scored, 1 any input error (listed in the report)."""
    from ..engine.ruleset.load import load_rules

    try:
        import matplotlib  # noqa: F401 - the charts
    except ImportError:
        raise LbpError("audit draws its charts with matplotlib, which is not installed: "
                       "pip install 'lbp-assess[audit]'") from None
    from ..batch.audit import run, start_notes
    from ..batch.audit_page import Page
    from ..base.files import atomic_output, refuse_existing

    if output.suffix.lower() == ".csv":
        raise typer.BadParameter("the report is an HTML page; its CSV goes beside it", param_hint="--output")
    if paths.count("-") > 1:
        raise typer.BadParameter("standard input (-) can be given once")
    csv_path = output.with_suffix(".csv")
    changes_path = output.with_name(output.stem + ".changes.csv") if compare_rules is not None else None
    read = _read_by(paths, rules, compare_rules)
    for path in (output, csv_path, changes_path):
        if path is not None:
            refuse_existing(path, force, read)
    ruleset = load_rules(rules)
    if compare_rules is not None:
        load_rules(compare_rules, questionnaire=False)  # its problems, before any scoring
    stdin = sys.stdin.buffer if "-" in paths else None
    progress, advance = _progress("auditing")
    try:
        with contextlib.ExitStack() as stack:
            csv_out = stack.enter_context(atomic_output(csv_path, force=force, mode=0o600, inputs=read))
            changes_out = (stack.enter_context(atomic_output(changes_path, force=force, mode=0o600, inputs=read))
                           if changes_path is not None else None)
            found = run(paths, ruleset, csv_out, jobs=jobs, stdin=stdin, limit=max_cases, compare=compare_rules,
                        changes_out=changes_out, on_chunk=advance, on_error=err_line)
            if progress is not None:
                progress.stop()
            notes_made = start_notes(found, ruleset, found.entries, jobs)
            report = Page(found, csv_path.name, changes_path.name if changes_path else None)
            charts = report.charts_html()  # while the notes are made
            notes_made()
            page = report.render(charts)
            with atomic_output(output, force=force, mode=0o600, inputs=read) as handle:
                handle.write(page)
    except KeyboardInterrupt:
        err_line("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED)
    finally:
        if progress is not None:
            progress.stop()
    t = found.tally
    if not quiet:
        err_line(f"audited {t.scored:,} of {counted(t.cases, 'case')}, {counted(t.error_count, 'error')}, "
                 f"in {found.seconds:.2f} s: "
             f"wrote {output} ({len(page.encode()) / 1e6:.1f} MB) and {csv_path}"
             + (f"; {counted(t.change_count, 'case')} {agree(t.change_count, 'changes', 'change')} under "
                f"{compare_rules}, in {changes_path}"
                if changes_path is not None else ""))
    raise typer.Exit(ExitCode.FAILED if t.error_count else ExitCode.OK)


def _progress(what: str) -> tuple[Any, Any]:
    """A progress bar on a terminal (never in pipes, files or CI), and how to advance it by n cases."""
    from .score_table import show_progress

    if not show_progress():
        return None, None
    from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn(what), MofNCompleteColumn(), TimeElapsedColumn(),
                        transient=True, redirect_stdout=False, redirect_stderr=False)
    progress.start()
    task = progress.add_task(what, total=None)
    return progress, lambda n: progress.advance(task, n)


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
    follow_up: Optional[Path] = typer.Option(None, "--follow-up", help="A follow-up visit of this earlier case "
                                                                       "file: what changed is asked first, red "
                                                                       "flags afresh.", dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Interview a patient, then write the case file and the summary note."""
    from ..consult import session as consultation
    from ..engine.ruleset.load import load_rules

    if resume and (answers or follow_up):
        raise typer.BadParameter("--resume continues a draft; use it without --answers or --follow-up")
    session = consultation.start(load_rules(rules), out, answers, resume, case_id, follow_up)
    is_tty = sys.stdin.isatty()
    kept = consultation.require_terminal(session, is_tty)  # first: refused, it leaves no empty folder behind
    consultation.prepare(session, force)
    if kept:
        err_line(f"kept from the last visit, not asked again: {', '.join(kept)}")
    if is_tty and (session.interview.missing() or session.resumed):
        if _conduct_in_terminal(session, force) == "saved":
            return  # saved at an emergency, and the clinician stopped there
    else:  # what the terminal would have shown first: a draft's answers refused, the earlier visit
        for line in session.notes:
            err_line(line)
    case_path, note_path, note = consultation.finish(session, force)
    typer.echo(_note_for_screen(note))
    err_line(f"saved {case_path}, {note_path} and {note_path.with_suffix('.txt')} (plain text, to paste)")


def _screen_width(most: int = 100) -> int:
    """The terminal's width for wrapped text (at most `most`), or `most` when not a terminal."""
    import shutil

    return min(most, shutil.get_terminal_size((most, 24)).columns) if sys.stdout.isatty() else most


def _note_for_screen(note) -> str:
    """The plain-text note, wrapped to the terminal when there is one (at most 100 columns)."""
    from ..outputs.note import render

    return render(note, "text", _screen_width())


def _conduct_in_terminal(session, force: bool) -> str:
    """Ask in the terminal; on any stop after the first answer, say where the answers are.
    Returns how the interview ended (interview.conduct)."""
    from ..consult import session as consultation
    from ..consult.interview import conduct
    from .prompts import TerminalPrompter

    prompter = TerminalPrompter()
    if session.resumed:
        prompter.notice(consultation.draft_summary(session))
    elif session.prefilled_from is not None and session.previous is None:  # --answers, not --id alone
        prompter.notice(consultation.prefill_summary(session))
    for note in session.notes:
        prompter.notice(note)
    for alert in session.interview.live_alerts():
        prompter.alert(alert)
    def save_now(interview):
        written = consultation.save_now(session, force)
        return written

    try:
        ended = conduct(session.interview, prompter, session.autosave, consultation.accept(session, force), save_now,
                        offer_first=session.resumed and not session.written)
        if ended == "saved" and session.draft is not None:
            # The draft is kept: it remembers the files it saved, so resuming it goes on asking the
            # questions left and rewrites its own files without --force.
            resume = f"{invoked_as()} assess --resume {_quote(session.draft.resolve())}"
            err_line(f"stopped after saving; the answers are kept in {session.draft}. "
                     f"To go on with this consultation:\n  {resume}")
        return ended
    except BaseException as exc:
        if session.draft is None:
            raise
        saved = _save_quietly(session)
        where = (f"answers saved in {session.draft}" if saved else
                 f"the last autosave is in {session.draft}")
        resume = f"{invoked_as()} assess --resume {_quote(session.draft.resolve())}"
        raised = "; ".join(f"{a.rule_label or a.label} - {a.tier_label.upper()}"  # as its panel named it
                           for a in session.interview.live_alerts())
        if raised:
            err_line(f"raised so far: {raised}")
        if isinstance(exc, (KeyboardInterrupt, EOFError)):
            err_line(f"interview paused; {where}. Resume with:\n  {resume}")
            raise typer.Exit(ExitCode.INTERRUPTED)
        err_line(f"interview stopped; {where}. Resume with:\n  {resume}")
        raise


def invoked_as(argv0: str | None = None) -> str:
    """The command as it was invoked, for a hint to run it again: `python -m lbp_assess` (with this
    interpreter) when run as a module, else the program: a bare `lbp-assess` when that is what the
    shell finds on PATH (a console script's own path is what Python is given, even when the user
    typed the bare name), else its path."""
    import shlex
    import shutil

    program = sys.argv[0] if argv0 is None else argv0
    name = Path(program).name
    if name == "__main__.py" or name.endswith(".py") or not program:
        return f"{shlex.quote(sys.executable)} -m lbp_assess"
    found = shutil.which(name)
    if os.sep not in program:
        return shlex.quote(program if found else str(Path(program).resolve()))
    try:
        if found is not None and os.path.samefile(found, program):
            return shlex.quote(name)
    except OSError:
        pass
    return shlex.quote(program)


def _save_quietly(session) -> bool:
    try:
        session.autosave(session.interview)
        return True
    except Exception:  # noqa: BLE001 - the error being reported matters more
        return False


def _quote(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


@app.command()
def note(
    case: Path = typer.Argument(..., help="A case file.", dir_okay=False),
    fmt: NoteFormat = typer.Option(NoteFormat.md, "--format", "-f", help="md | text | json"),
    full: bool = typer.Option(False, "--full", help="The complete note: every answer, the facts behind "
                                                    "each rule, the suggested examination."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the note to this file.",
                                          parser=output_path, metavar="<file>", dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Overwrite --output if it exists."),
    previous: Optional[Path] = typer.Option(None, "--previous", help="A follow-up's earlier case file (default: "
                                                                     "found beside CASE by its recorded hash).",
                                            dir_okay=False),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Render the note of a case file: the record note to paste (default) or --full.

    On a terminal the note is wrapped to its width (at most 100 columns), the Markdown too; piped
    or written with --output, the Markdown keeps one line per paragraph or bullet.
    """
    from ..consult.session import PRIVATE
    from ..base.files import atomic_write
    from ..outputs.note import note_of_file
    from ..engine.ruleset.load import load_rules

    # On a terminal the Markdown is wrapped to its width too (Markdown-safe); piped or written with
    # --output it is not: one line per paragraph or bullet, which a clinical record re-wraps itself
    # and which pastes and compares cleanly.
    on_screen = output is None and sys.stdout.isatty()
    text = note_of_file(case, load_rules(rules), fmt.value, full, previous,
                        _screen_width() if output is None else 100, _screen_width() if on_screen else None)
    if output is None:
        typer.echo(text, nl=False)
    else:
        atomic_write(output, text, force=force, mode=PRIVATE, inputs=_read_by([case], rules, previous))


class Topic(str, Enum):
    non_specific = "non_specific"
    radicular = "radicular"
    stenosis = "stenosis"
    red_flag = "red_flag"


class _PracticeGroup(typer.core.TyperGroup):
    """`practice [PATH...]` runs a session (the `run` subcommand), so `practice report` can sit beside it."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


practice_app = typer.Typer(cls=_PracticeGroup, help="Practise clinical reasoning on vignettes.")
app.add_typer(practice_app, name="practice")


@practice_app.command("run", epilog="Tutors: lbp-assess practice report FILE... summarises --record files.")
def practice(
    paths: Optional[List[str]] = typer.Argument(None, help="Vignette files or directories "
                                                          "(default: the shipped vignettes)."),
    count: Optional[int] = typer.Option(None, "--count", "-n", min=1, help="How many cases."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for the order (repeatable sessions)."),
    topic: Optional[Topic] = typer.Option(None, "--topic", help="Only cases of this class."),
    record: Optional[Path] = typer.Option(None, "--record", help="Append each attempt as a JSON line."),
    student: Optional[str] = typer.Option(None, "--student", help="Your name, written in every --record line."),
    history_taking: bool = typer.Option(False, "--interview", help="Take the history yourself: choose the "
                                                                   "questions, the case answers."),
    again: Optional[Path] = typer.Option(None, "--again", help="Practise again the vignettes this --record "
                                                               "file shows you got wrong or under-triaged, most "
                                                               "recent mistakes first (with --student: yours).",
                                         dir_okay=False),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Practise clinical reasoning on vignettes, with feedback from the rules (lbp-assess practice [PATH...]).

    Answer with the digit keys (nothing is preselected); the verdict stays until you move on."""
    from ..teach import practice as p
    from ..base.errors import NoTerminalError
    from ..engine.ruleset.load import load_rules
    from ..model.case import identifier_problem

    if student is not None and (problem := identifier_problem(student)) is not None:
        raise typer.BadParameter(problem.replace("an id", "a student's name"), param_hint="--student")
    ruleset = load_rules(rules)
    cases = p.load_exercise_cases(paths or [str(p.default_vignettes())], need_vignette=not history_taking)
    if again is not None:
        cases, problems = p.cases_to_practise_again([str(again)], cases, ruleset, student)
        for problem in problems:
            err_line(problem)
        if not cases and problems:  # nothing usable, and why: a bad input, not "nothing to do"
            raise InputError(f"{plain(str(again))}: nothing to practise again from it "
                             f"({counted(len(problems), 'problem')} above)")
        if not cases:
            typer.echo(f"Nothing to practise again: no mistakes in {again} that are not already put right"
                       + (f" for {student}" if student else "") + ".")
            return
        chosen = cases[:count] if count else cases  # in order: the most recent mistake first
    else:
        chosen = p.choose_cases(cases, ruleset, count, seed, topic.value if topic else None)
    handle = p.open_record(record) if record else None  # appended, never overwritten
    try:
        if not sys.stdin.isatty():
            raise NoTerminalError("practice needs a terminal to ask your answers")
        from .prompts import TerminalPrompter

        prompter = TerminalPrompter()
        card = p.Scorecard(list(ruleset.manifest.classes))
        try:
            p.run(chosen, ruleset, prompter, card, seed=seed, history_taking=history_taking, record=handle,
                  student=student, topic=topic.value if topic else None)
        except (KeyboardInterrupt, EOFError):
            prompter.show_list("Scorecard (stopped early)", card.lines())
            raise typer.Exit(ExitCode.INTERRUPTED)
        prompter.show_list("Scorecard", card.lines())
    finally:
        if handle:
            handle.close()


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class ReportView(str, Enum):
    students = "students"
    attempts = "attempts"
    cases = "cases"


@practice_app.command("report")
def practice_report(
    files: List[Path] = typer.Argument(..., help="Files written by practice --record.", dir_okay=False),
    view: ReportView = typer.Option(ReportView.students, "--view", help="students (totals per student) | "
                                                                       "attempts (one row per attempt) | cases "
                                                                       "(which vignettes are got wrong)"),
    fmt: Optional[ReportFormat] = typer.Option(None, "--format", "-f", help="table (default on a terminal) | "
                                                                           "json | csv"),
    vignettes: Optional[List[Path]] = typer.Option(
        None, "--vignettes", metavar="<path>", help="Vignettes practised besides the shipped ones (files or "
        "folders; repeat for several): each record's key is checked against what the rules make its vignette."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Practice records for tutors: per student, per attempt or per case; under-triage stands out.

    A line that is not a usable record - its marks or its key not what its answer and its
    vignette make them - is named (file:line) on standard error and left out; the rest is
    reported, and the exit status is then 1."""
    from ..teach import practice_report as report
    from ..teach.practice import default_vignettes, load_exercise_cases, vignette_keys
    from ..engine.ruleset.load import load_rules
    from .render import attempts_table, cases_table, report_table

    ruleset = load_rules(rules)  # with the interview: red-flag questions by their labels
    practised = load_exercise_cases([str(default_vignettes()), *(str(v) for v in vignettes or ())], False)
    records, problems = report.read_records([str(f) for f in files], ruleset, vignette_keys(practised, ruleset))
    chosen = (fmt.value if fmt else None) or ("table" if sys.stdout.isatty() else "json")
    if view is ReportView.students:
        summaries = report.summarise_records(records)
        out: Any = {"table": lambda: report_table(summaries, ruleset), "json": lambda: report.to_json(summaries),
                    "csv": lambda: report.to_csv(summaries, ruleset)}[chosen]()
    else:
        rows = (report.attempt_rows if view is ReportView.attempts else report.case_rows)(records, ruleset)
        out = {"table": lambda: attempts_table(rows, ruleset) if view is ReportView.attempts
               else cases_table(rows),
               "json": lambda: report.rows_json(rows), "csv": lambda: report.rows_csv(rows)}[chosen]()
    if chosen == "table":
        from .screen import Screen as Console

        console = Console(highlight=False)
        if view is ReportView.attempts:  # fitted to this terminal
            out = attempts_table(rows, ruleset, console.width)
        elif view is ReportView.cases:
            out = cases_table(rows, console.width)
        else:
            out = report_table(summaries, ruleset, console.width)
        console.print(out)
    else:
        typer.echo(out, nl=False)
    for problem in problems:
        err_line(problem)
    if problems:
        raise typer.Exit(ExitCode.FAILED)


class CompareFormat(str, Enum):
    md = "md"
    text = "text"
    json = "json"
    table = "table"
    csv = "csv"


@app.command()
def compare(
    files: List[Path] = typer.Argument(..., help="OLD NEW: two visits' case files; with --series, one patient's "
                                                "visits (files or a folder)."),
    series: bool = typer.Option(False, "--series", help="Every visit in date order, as a table."),
    fmt: Optional[CompareFormat] = typer.Option(None, "--format", "-f", help="two visits: md (default) | text | "
                                                                            "json; --series: table (default on a "
                                                                            "terminal) | json | csv"),
    rules: Optional[Path] = RulesOption,
) -> None:
    """What changed between visits: class, urgency, red flags new and resolved, pain, answers."""
    from ..outputs import visits as followup
    from ..outputs.note import render_comparison
    from ..engine.ruleset.load import load_rules

    ruleset = load_rules(rules)
    chosen = fmt.value if fmt else ("table" if sys.stdout.isatty() else "json") if series else "md"
    if series != (chosen in ("table", "csv")) and chosen != "json":
        raise typer.BadParameter(f"--format {chosen} is for {'two visits' if series else '--series'}")
    if not series and len(files) != 2:
        raise typer.BadParameter("give two case files, OLD NEW (or --series for more)")
    if series:
        visits, unread = followup.series_visits(files)
        _show_series(*followup.series(visits, ruleset), ruleset, chosen)
        for problem in unread:  # named after the series, so that they are the last thing read
            err_line(problem)
        if unread:
            raise typer.Exit(ExitCode.FAILED)
    else:
        visits = [followup.read_visit(f) for f in files]
        typer.echo(render_comparison(followup.compare(*visits, ruleset), ruleset, chosen), nl=False)


def _show_series(rows, warnings, ruleset, fmt: str) -> None:
    from ..outputs import visits as followup
    from .render import series_table

    if fmt == "table":
        from .screen import Screen as Console

        Console(highlight=False).print(series_table(rows, ruleset))
    else:
        import json

        typer.echo(followup.series_csv(rows) if fmt == "csv" else json.dumps(rows, indent=2, ensure_ascii=False))
    for warning in warnings:
        err_line(warning)


class ExplainFormat(str, Enum):
    tree = "tree"
    json = "json"


@app.command()
def explain(
    case: Path = typer.Argument(..., help="A case file.", dir_okay=False),
    fmt: ExplainFormat = typer.Option(ExplainFormat.tree, "--format", "-f", help="tree | json"),
    brief: bool = typer.Option(True, "--brief/--full", help="--brief (the default): the three-line summary, "
                                                           "the rules that fired with their action and every "
                                                           "feature that made them fire, the most urgent changes. "
                                                           "--full: every rule, its source, and every change."),
    rules: Optional[Path] = RulesOption,
) -> None:
    """Why the case got its class and urgency, what to do and by when, what to ask next, and what
    single answer would change it (the complete list in --full and --format json)."""
    from ..inputs.cases import load_case
    from ..outputs.explain import explanation, to_json
    from .render import render_tree
    from ..engine.ruleset.load import load_rules

    data = explanation(load_case(case), load_rules(rules))
    if fmt is ExplainFormat.json:
        typer.echo(to_json(data))
    else:
        from .screen import Screen as Console

        render_tree(data, Console(highlight=False), brief)


OutputOption = typer.Option(None, "--output", "-o", help="Write to FILE instead of standard output.",
                            parser=output_path, metavar="<file>", dir_okay=False)
ForceOption = typer.Option(False, "--force", help="Overwrite an existing output file.")


@app.command()
def schema(output: Optional[Path] = OutputOption, force: bool = ForceOption) -> None:
    """Print the JSON Schema (draft 2020-12) of the case format lbp-case/1."""
    from ..tooling.docs import schema_text
    from ..engine.ruleset.load import load_rules

    _write(schema_text(load_rules()), output, force, private=False, inputs=())


@rules_app.command("doc")
def rules_doc(directory: Optional[Path] = RulesArgument, output: Optional[Path] = OutputOption,
              force: bool = ForceOption) -> None:
    """Write a rule set's clinical policy as Markdown: every rule in plain words, definitions, thresholds."""
    from ..tooling.docs import rules_markdown
    from ..engine.ruleset.load import load_rules

    _write(rules_markdown(load_rules(directory)), output, force, private=False, inputs=_read_by([], directory))


class FhirFormat(str, Enum):
    fhir = "fhir"


CanonicalBaseOption = typer.Option(
    None, "--canonical-base", metavar="URL",
    help="Base of the canonical URLs (Questionnaire, code systems); default $LBP_FHIR_BASE, else "
         "https://lbp-assess.example/fhir (a placeholder: publish under a base your service controls).")


@app.command("questionnaire")
def questionnaire_command(
    fmt: FhirFormat = typer.Option(FhirFormat.fhir, "--format", "-f", help="fhir (an HL7 FHIR R4 Questionnaire)"),
    output: Optional[Path] = OutputOption,
    force: bool = ForceOption,
    rules: Optional[Path] = RulesOption,
    base: Optional[str] = CanonicalBaseOption,
) -> None:
    """The interview as an HL7 FHIR R4 Questionnaire (JSON), for form tools and health records."""
    from ..interop.fhir import questionnaire, to_json
    from ..engine.ruleset.load import load_rules

    _write(to_json(questionnaire(load_rules(rules), base)), output, force, private=False, inputs=_read_by([], rules))


@app.command("export")
def export_command(
    cases: List[Path] = typer.Argument(..., help="Case files (or FHIR QuestionnaireResponses).", dir_okay=False),
    fmt: FhirFormat = typer.Option(FhirFormat.fhir, "--format", "-f", help="fhir (HL7 FHIR R4 document "
                                                                          "Bundles: one case, JSON; several "
                                                                          "cases, or an output named .ndjson "
                                                                          "or .jsonl, one Bundle a line)"),
    output: Optional[Path] = OutputOption,
    force: bool = ForceOption,
    rules: Optional[Path] = RulesOption,
    base: Optional[str] = CanonicalBaseOption,
    replaces: Optional[Path] = typer.Option(
        None, "--replaces", metavar="BUNDLE", dir_okay=False,
        help="An earlier exported Bundle of the same case that this document replaces (a reassessment): "
             "linked by Composition.relatesTo."),
) -> None:
    """Cases as HL7 FHIR R4 document Bundles: the note, the answers, the impression and each red flag."""
    from ..inputs.cases import load_case
    from ..interop.fhir import export, replaced_document, uncarried, uncarried_message
    from ..engine.ruleset.load import load_rules
    from ..model.case import JSON_LINES_SUFFIXES

    if replaces is not None and len(cases) != 1:
        raise UsageError("--replaces links one case to the document it replaces; give one case")
    # One Bundle is JSON; several are NDJSON, one Bundle a line - as the output's name says, so that
    # every reader takes the file back (NDJSON in a .json file read as one broken document).
    lines = len(cases) > 1 or (output is not None and output.name.endswith(JSON_LINES_SUFFIXES))
    if lines and output is not None and not output.name.endswith(JSON_LINES_SUFFIXES):
        raise typer.BadParameter(f"{str(output)!r}: several cases are written one Bundle a line (NDJSON); "
                                 "give a file ending in .ndjson or .jsonl", param_hint="--output")
    ruleset = load_rules(rules)
    loaded, refused = [], []
    for path in cases:  # a batch goes on past a file it cannot export, and names it
        try:
            case = load_case(path)
        except InputError as err:
            refused.append(str(err))
            continue
        if lost := uncarried(case, ruleset):  # an answer FHIR cannot carry is refused, never dropped
            refused.append(f"{plain(str(path))}: cannot export: {uncarried_message(lost, ruleset)}")
            continue
        loaded.append(case)
    for message in refused:
        err_line(message)
    if loaded:
        earlier = replaced_document(replaces, loaded[0]) if replaces is not None else None
        _write(export(loaded, ruleset, base=base, replaces=earlier, ndjson=lines), output, force,
               private=True, inputs=_read_by(cases, rules, replaces))
    if refused:
        if len(cases) > 1:
            err_line(f"exported {counted(len(loaded), 'case')} of {len(cases)}; "
                     f"{counted(len(refused), 'file')} not exported (above)")
        raise typer.Exit(ExitCode.FAILED)


def _write(text: str, output: Optional[Path], force: bool, private: bool, inputs: list[Any]) -> None:
    """Print, or write `output` atomically (never over a file without --force, never over one of the
    command's `inputs`; owner-only if private)."""
    from ..consult.session import PRIVATE
    from ..base.files import atomic_write

    if output is None:
        typer.echo(text, nl=False)
    else:
        atomic_write(output, text, force=force, mode=PRIVATE if private else None, inputs=inputs)


def _read_by(paths: Any, *more: Optional[Path]) -> list[Any]:
    """What a command reads (its paths, and the rule folders or earlier files given): never an output."""
    return [*paths, *(path for path in more if path is not None)]


#: `rules test`: the unsafe cases listed (all are counted).
SHOWN_UNSAFE = 20


@rules_app.command("check")
def rules_check(directory: Optional[Path] = RulesArgument) -> None:
    """Validate a rule set: schema, expressions, names, ids, definitions. Exit 1 on any error."""
    from ..engine.ruleset.load import check_rules, default_rules_dir

    target = directory or default_rules_dir()
    problems = check_rules(target)
    for problem in problems:
        typer.echo(f"{problem.location}: {problem.severity}: {problem.message}")
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        err_line(f"{counted(len(errors), 'error')} in {target}")
        raise typer.Exit(ExitCode.FAILED)
    typer.echo(f"{target}: ok ({counted(len(problems), 'warning')})" if problems else f"{target}: ok")


@rules_app.command("test")
def rules_test(directory: Optional[Path] = RulesArgument,
               mutate: bool = typer.Option(False, "--mutate", help="Also check that the tests notice small "
                                           "edits of the rules; print a test for each edit they miss."),
               max_seconds: float = typer.Option(600.0, "--max-seconds", min=1, help="--mutate: stop after this "
                                                 "many seconds (reported as incomplete, exit 1)."),
               max_memory: float = typer.Option(2048.0, "--max-memory", min=64, help="--mutate: stop once the "
                                                "process uses this many MB (reported as incomplete, exit 1).")
               ) -> None:
    """Run the rule tests in DIR/tests/*.yaml, and check that a yes to any red-flag question never lowers a
    case's urgency. Exit 1 if any test fails, the check finds an unsafe case, or (--mutate) an edit survives."""
    from ..engine.ruleset.load import default_rules_dir, load_rules
    from ..engine.ruletests import banks, red_flag_answers_never_lower, run_tests

    target = directory or default_rules_dir()
    ruleset = load_rules(target)
    outcomes = run_tests(target, ruleset)
    if not outcomes:  # a rule set whose tests are missing has not passed them
        raise InputError(f"{plain(str(target))}: no rule tests found (expected {plain(str(Path(target) / 'tests'))}"
                         "/*.yaml, each with a `tests:` list)")
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        typer.echo(plain(f"{outcome.test.where}: FAIL {outcome.test.name}"))
        for failure in outcome.failures:
            typer.echo(plain(f"    {failure}"))
    typer.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    top = tuple(list(ruleset.manifest.tiers)[:2])  # emergency, urgent
    for line in banks(outcomes, top).lines(top):
        typer.echo(plain(line))
    from_tests, generated, lowered = red_flag_answers_never_lower(ruleset, [o.test for o in outcomes])
    screening = len(ruleset.manifest.screening)
    if lowered:
        for found in lowered[:SHOWN_UNSAFE]:
            typer.echo(plain(found.line()))
        more = f" (the first {SHOWN_UNSAFE} above)" if len(lowered) > SHOWN_UNSAFE else ""
        typer.echo(f"red-flag answers: {len(lowered)} unsafe{more} - a yes to a red-flag question must never lower "
                   "a case's urgency nor remove a red flag")
    else:
        typer.echo(f"red-flag answers: a yes to any of the {screening} red-flag questions never lowered the urgency "
                   f"nor removed a red flag ({from_tests + generated:,} cases: every test's, each that raises "
                   f"something again at the edges of every number the rules compare, and {generated} generated)")
    if mutate and not failed and not lowered:
        from ..tooling.mutate import report_lines, run

        report = run(target, ruleset, max_seconds=max_seconds, max_memory_mb=max_memory)
        typer.echo("\n".join(plain(line) for line in report_lines(report)))
        if report.distinguishing or report.stopped:
            raise typer.Exit(ExitCode.FAILED)
    if failed or lowered:
        raise typer.Exit(ExitCode.FAILED)


@rules_app.command("validate")
def rules_validate(directory: Optional[Path] = RulesArgument,
                   cases: Optional[List[Path]] = typer.Option(
                       None, "--cases", file_okay=False, help="A folder of case files with agreed labels (repeat "
                       "for several; default: the shipped vignettes, and the example cases in a source checkout)."),
                   mutate: bool = typer.Option(False, "--mutate", help="Also measure the mutation score of the "
                                               "rule tests (about 20 s).")) -> None:
    """Clinical validation evidence for a rule set: agreement with the agreed cases, red-flag sensitivity,
    over-triage on the benign probe bank, and (with --mutate) the mutation score. Exit 1 if any misses its target."""
    from ..engine.ruleset.load import default_rules_dir, load_rules
    from ..tooling.validation import default_case_dirs, measure, problems, report_lines

    target = directory or default_rules_dir()
    result = measure(load_rules(target), target, list(cases) if cases else default_case_dirs(), mutation=mutate)
    typer.echo("\n".join(plain(line) for line in report_lines(result)))
    if problems(result):
        raise typer.Exit(ExitCode.FAILED)


def discard_stdout() -> None:
    """Point standard output at the null device, so nothing more is written to a closed pipe
    (not even the final flush)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
