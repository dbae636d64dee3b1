"""A consultation: start or resume an interview, and write the case file and note.

Files are written atomically, readable by their owner only (they hold patient
data), and never over an existing file without `force`. The draft is removed
only after both outputs are safely written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import __version__
from .case import load_case
from .errors import InputError, Location, NoTerminalError, OutputExistsError, Problem
from .files import atomic_write, refuse_existing
from .interview import Interview
from .note import build_note, render
from .rules import RuleSet

PRIVATE = 0o600


@dataclass
class Session:
    interview: Interview
    draft: Path
    out_dir: Path
    notes: list[str]  # messages about resumed answers that were dropped


def start(ruleset: RuleSet, out_dir: Path | None, answers: Path | None = None, resume: Path | None = None,
          case_id: str | None = None) -> Session:
    notes: list[str] = []
    if resume is not None:
        interview, draft_data, notes = Interview.from_draft(ruleset, resume)
        saved_out = draft_data.get("out_dir")
        out = out_dir or (Path(saved_out) if saved_out else Path.cwd())
        draft = resume.resolve()
    else:
        interview = Interview.from_case(ruleset, load_case(answers)) if answers else Interview(ruleset)
        out = out_dir or Path.cwd()
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        draft = out / f"lbp-draft-{stamp}.json"
    if case_id is not None:
        refused = interview.prefill({"id": case_id})
        if refused:
            raise InputError(f"--id: {refused['id']}")
    return Session(interview, draft, out.resolve(), notes)


def require_terminal(session: Session, is_tty: bool) -> None:
    """Without a terminal, every relevant question that is not optional must be answered."""
    missing = [q for q in session.interview.missing() if not q.optional]
    if missing and not is_tty:
        first = ", ".join(q.id for q in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise NoTerminalError(
            f"no terminal to ask {len(missing)} unanswered question(s) ({first}); run in a terminal, "
            "or give every answer in a case file with --answers FILE")


def output_paths(out_dir: Path, case_id: str) -> tuple[Path, Path]:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._") or "case"
    return out_dir / f"{stem}.case.yaml", out_dir / f"{stem}.note.md"


def check_outputs(session: Session, force: bool) -> None:
    case_id = session.interview.answers.get("id")
    if case_id:
        for path in output_paths(session.out_dir, case_id):
            refuse_existing(path, force)


def case_yaml(interview: Interview) -> str:
    header = (f"# lbp-case/1 written by lbp-assess {__version__} on {dt.date.today().isoformat()}\n"
              f"# rules: {interview.ruleset.version}; null = asked, answer unsure\n")
    return header + yaml.safe_dump(interview.case_data(), sort_keys=False, allow_unicode=True, width=100)


def finish(session: Session, force: bool, today: dt.date | None = None) -> tuple[Path, Path, str]:
    """Write `<id>.case.yaml` and `<id>.note.md`; remove the draft. Returns paths and the text note."""
    interview = session.interview
    case = interview.case()
    case_path, note_path = output_paths(session.out_dir, case.id)
    try:
        for path in (case_path, note_path):
            refuse_existing(path, force)
    except OutputExistsError as err:
        raise OutputExistsError(f"{err}; your answers are kept in {session.draft} "
                                f"(resume with --resume and --force, or another --out)", err.problems) from None
    assessment = interview.ruleset.assess(case)
    note = build_note(case, assessment, interview.ruleset, today)
    atomic_write(case_path, case_yaml(interview), force=force, mode=PRIVATE)
    atomic_write(note_path, render(note, "md"), force=force, mode=PRIVATE)
    session.draft.unlink(missing_ok=True)
    return case_path, note_path, render(note, "text")


def note_text(case_path: Path, ruleset: RuleSet, fmt: str) -> str:
    case = load_case(case_path)
    if ruleset.questionnaire is None:
        raise InputError.from_problems([Problem(Location(str(ruleset.directory)), "the rule set has no interview.yaml")])
    return render(build_note(case, ruleset.assess(case), ruleset), fmt)
