"""A consultation: start or resume an interview, and write the case file and note.

Nothing is lost and nothing is overwritten:
- the output folder is made (owner-only) and tried before the first question;
- each interview autosaves to its own draft, created exclusively and named after
  the case id, so two consultations in one folder never share or delete a draft;
- an id whose files already exist is refused as soon as it is typed (unless
  `force`), and ids map one-to-one to file names;
- files are written atomically and readable by their owner only (they hold
  patient data); the draft is removed only after both outputs are written;
- an operating-system error (permission, read-only, disk full) is reported as
  one line naming the file, with the draft still in place.

A follow-up visit (`follow_up`, the previous case file) starts from the
previous case (followup.start); its note opens with what changed since then.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import yaml

from .. import __version__
from ..inputs.cases import load_case
from ..base.errors import InputError, NoTerminalError, OutputError, OutputExistsError
from ..base.files import check_target, make_folder, write_all
from ..base.text import plain
from ..base.yamlio import read_regular_file
from . import followup
from .followup import keep_earlier_answers
from .interview import Interview, now_here
from ..outputs.visits import Visit, find_by_hash, read_visit
from ..outputs.note import Note, NoteLine, Section, build_note, render
from ..engine.questionnaire import Question
from ..engine.ruleset.model import RuleSet

PRIVATE = 0o600
#: The plain-text note's line width: electronic records take pasted text best in short lines.
TEXT_WIDTH = 80
PRIVATE_DIR = 0o700
DRAFT_PREFIX = "lbp-draft-"


@dataclass
class Session:
    interview: Interview
    out_dir: Path
    notes: list[str]  # messages about resumed answers that were dropped
    draft: Path | None = None  # reserved when the interview starts asking
    resumed: bool = False
    previous: Visit | None = None  # the visit this one follows, when known
    written: set[Path] = field(default_factory=set)  # files this consultation wrote (saved early): rewritten freely
    prefilled_from: Path | None = None  # the case file given with --answers (not --id alone)

    def autosave(self, interview: Interview) -> None:
        if self.draft is None:
            self.draft = reserve_draft(self.out_dir, interview.answers.get("id"))
        elif interview.answers.get("id") and not self.resumed \
                and not self.draft.name.startswith(_draft_stem(interview.answers["id"])):
            # named for its case once the id is known; a draft given to --resume keeps the name it was
            # given, so the same command resumes it again after another interruption
            self.draft = _rename_draft(self.draft, interview.answers["id"])
        with writing(self.draft):
            interview.save_draft(self.draft)


def start(ruleset: RuleSet, out_dir: Path | None, answers: Path | None = None, resume: Path | None = None,
          case_id: str | None = None, follow_up: Path | None = None) -> Session:
    notes: list[str] = []
    if resume is not None:
        if resume.is_symlink():  # every autosave, and the removal at the end, would act on what it points to
            raise InputError(f"{plain(str(resume))}: is a symbolic link; give the draft itself")
        interview, notes = Interview.from_draft(ruleset, resume)
        # Output goes beside the draft unless --out says otherwise (a draft never chooses it).
        session = Session(interview, (out_dir or resume.parent).resolve(), notes, resume.resolve(), True)
        session.written = saved_early_by(interview, session.out_dir)
        if interview.follow_up_of:  # the previous visit, when it is in the output folder
            record = interview.follow_up_of
            session.previous = find_by_hash(session.out_dir, record["id"], record.get("file_hash"))
    elif follow_up is not None:
        previous = read_visit(follow_up)
        interview, refused = followup.start(ruleset, previous, load_case(answers) if answers else None,
                                            answers_source=str(answers))
        if interview.assessed_at is None and interview.assessed_on == now_here()[:10]:
            interview.assessed_at = now_here()  # this visit is taking place now
        notes = [followup.introduction(interview.follow_up_of or {}),
                 *(f"{qid}: the earlier answer is not offered ({why})" for qid, why in refused.items())]
        session = Session(interview, (out_dir or Path.cwd()).resolve(), notes, previous=previous)
    else:
        interview = Interview.from_case(ruleset, load_case(answers)) if answers \
            else Interview(ruleset, assessed_at=now_here())
        session = Session(interview, (out_dir or Path.cwd()).resolve(), notes, prefilled_from=answers)
    if case_id is not None:
        refused = interview.prefill({"id": case_id})
        if refused:
            raise InputError(f"--id: {refused['id']}")
    return session


def prepare(session: Session, force: bool) -> None:
    """Before the first question: the output folder exists and is writable, the id is free."""
    with writing(session.out_dir):
        make_folder(session.out_dir, PRIVATE_DIR)
        probe = session.out_dir / f".lbp-write-test-{secrets.token_hex(4)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        os.close(fd)
        probe.unlink()
    case_id = session.interview.answers.get("id")
    if case_id:
        refused = id_taken(session, case_id, force)
        if refused:
            raise OutputExistsError(refused)


def questions(n: int) -> str:
    """"1 question", "39 questions": a count in words, singular or plural."""
    return f"{n} question" if n == 1 else f"{n} questions"


def require_terminal(session: Session, is_tty: bool) -> list[str]:
    """Without a terminal, every relevant question that is not optional must be answered, and every
    one whose answer in a resumed draft was refused (the clinician answered it); a follow-up keeps
    the earlier answers it offers (returned), as Enter would, but never a red flag."""
    refused = [q.id for q in session.interview.missing() if q.id in session.interview.refused]
    if refused and not is_tty:  # the clinician answered these: never saved without them (nor with the last
        # visit's answer in their place), nor the draft removed
        raise NoTerminalError(
            f"no terminal to ask again {questions(len(refused))} whose "
            f"{'answer in the draft was' if len(refused) == 1 else 'answers in the draft were'} refused "
            f"({refused[0]}: {session.interview.refused[refused[0]]}{' ...' if len(refused) > 1 else ''}); "
            "resume it in a terminal")
    kept: list[str] = []
    if not is_tty and session.interview.follow_up_of:
        kept = keep_earlier_answers(session.interview)
    missing = [q for q in session.interview.missing() if not q.optional]
    if missing and not is_tty:
        first = ", ".join(q.id for q in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise NoTerminalError(
            f"no terminal to ask {questions(len(missing))} left unanswered ({first}); run in a terminal, "
            "or give every answer in a case file with --answers FILE"
            + (" (red-flag questions are asked afresh at every visit)" if session.interview.follow_up_of else ""))
    return kept


def file_stem(case_id: str) -> str:
    """The file name for a case id, one-to-one: letters, digits, `_`, `-` and `.` stand as they are
    (not a leading `.`), everything else is percent-encoded, so `a/b`, `a b` and `a_b` stay apart."""
    stem = quote(case_id, safe="")
    return "%2E" + stem[1:] if stem.startswith(".") else stem


def output_paths(out_dir: Path, case_id: str) -> tuple[Path, Path, Path]:
    """The case file, the Markdown note, and the plain-text note (to paste into an electronic record)."""
    stem = file_stem(case_id)
    return out_dir / f"{stem}.case.yaml", out_dir / f"{stem}.note.md", out_dir / f"{stem}.note.txt"


def id_taken(session: Session, case_id: Any, force: bool) -> str | None:
    """Why `case_id` cannot be used here (its files exist and no --force), or None."""
    if not isinstance(case_id, str):
        return None
    longest = max(len(f"{_draft_stem(case_id)}000000.json".encode()),
                  *(len(path.name.encode()) for path in output_paths(session.out_dir, case_id)))
    if longest > (limit := _name_limit(session.out_dir)):
        return (f"id: makes a file name of {longest} bytes (its characters percent-encoded), over the "
                f"folder's limit of {limit}; choose a shorter id")
    for path in output_paths(session.out_dir, case_id):
        try:
            check_target(path, force or path in session.written)  # its own files, saved at an emergency
        except OutputExistsError as err:
            hint = " (or choose another id, or --out for another folder)"
            return f"{err}{hint}" if "symbolic link" in str(err) or "regular" in str(err) \
                else f"{path}: already exists; use --force to overwrite{hint}"
    return None


def _name_limit(folder: Path) -> int:
    """The longest file name the folder takes, in bytes (255 on common file systems)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # the folder not made yet, or no pathconf
        return 255


def accept(session: Session, force: bool):
    """The interview's extra check on answers: an id is refused as soon as it is typed if taken."""
    def check(question: Question, value: Any) -> str | None:
        return id_taken(session, value, force) if question.id == "id" else None
    return check


# --------------------------------------------------------------------------- drafts


def _draft_stem(case_id: Any) -> str:
    return f"{DRAFT_PREFIX}{file_stem(case_id) if case_id else 'new'}-"


def reserve_draft(out_dir: Path, case_id: Any) -> Path:
    """A new draft file of our own: created exclusively, owner-only."""
    with writing(out_dir):
        while True:
            path = out_dir / f"{_draft_stem(case_id)}{secrets.token_hex(3)}.json"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
            except FileExistsError:
                continue
            os.close(fd)
            return path


def _rename_draft(draft: Path, case_id: str) -> Path:
    """Name the draft after the id once it is known (link then unlink: never over another draft)."""
    while True:
        target = draft.parent / f"{_draft_stem(case_id)}{secrets.token_hex(3)}.json"
        try:
            with writing(target):
                os.link(draft, target)
        except OutputExistsError:
            continue
        except OutputError:
            return draft  # keep the old name: the answers matter, not the name
        draft.unlink(missing_ok=True)
        return target


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an operating-system error while writing `path` into a one-line error."""
    try:
        yield
    except FileExistsError:
        raise OutputExistsError(f"{path}: already exists") from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OutputError(f"{err.filename or path}: cannot write: {reason}") from None


# --------------------------------------------------------------------------- outputs


def case_yaml(interview: Interview) -> str:
    header = (f"# lbp-case/1 written by lbp-assess {__version__} on {dt.date.today().isoformat()}\n"
              f"# rules: {interview.ruleset.version}; null = asked, answer unsure\n")
    return header + dump_case(interview.case_data())


class _CaseDumper(yaml.SafeDumper):
    """Writes every string so that any YAML reader reads it back as the same string."""


_PLAIN_WORD = frozenset("abcdefghijklmnopqrstuvwxyz_0123456789")
_YAML_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        style = "|"
    elif value and value[0].isalpha() and set(value) <= _PLAIN_WORD and value not in _YAML_WORDS:
        style = None  # a case-format word such as `right` or `below_knee`
    else:
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CaseDumper.add_representer(str, _represent_str)


def dump_case(data: dict[str, Any]) -> str:
    """Case data as YAML that reads back as the same data (ids such as `1e3` stay text)."""
    return yaml.dump(data, Dumper=_CaseDumper, sort_keys=False, allow_unicode=True, width=100)


def finish(session: Session, force: bool, today: dt.date | None = None,
           early: bool = False) -> tuple[Path, Path, Note]:
    """Write `<id>.case.yaml`, `<id>.note.md` and `<id>.note.txt` (the same note as plain text, to
    paste into an electronic record); remove the draft. Returns the paths and the note.

    `early`: saved at an emergency before the interview ended. The questions not yet asked stay
    unknown in the case (red-flag ones are reported as not screened, like any unknown), the note
    opens by naming them, and the draft is kept so that the interview can go on; saving again
    later rewrites these files."""
    interview = session.interview
    case = interview.case()
    case_path, note_path, text_path = output_paths(session.out_dir, case.id)
    kept = f"; your answers are kept in {session.draft}" if session.draft else ""
    try:
        for path in (case_path, note_path, text_path):
            check_target(path, force or path in session.written)
        assessment = interview.ruleset.assess(case)
        note = build_note(case, assessment, interview.ruleset, today, previous=session.previous)
        if early:
            note.sections.insert(0, saved_early_section(interview))
        with writing(session.out_dir):
            make_folder(session.out_dir, PRIVATE_DIR)
        # Both files or neither: a failure (disk full) leaves nothing in the way of a retry. Files this
        # consultation saved early (at an emergency) are its own: saving again rewrites them.
        rewrite = force or {case_path, note_path, text_path} <= session.written
        write_all([(case_path, case_yaml(interview)), (note_path, render(note, "md")),
                   (text_path, render(note, "text", TEXT_WIDTH))], force=rewrite, mode=PRIVATE)
        session.written |= {case_path, note_path, text_path}
        if early and session.draft is not None:
            # The draft remembers the files it saved, by content: resuming it may rewrite them
            # (the same consultation), never a different case's files of the same name.
            interview.journal.append({"at": now_here(), "event": "saved_early",
                                      "files": {str(p): _sha256(p) for p in (case_path, note_path, text_path)}})
            session.autosave(interview)
    except (OutputExistsError, OutputError) as err:
        hint = " (resume with --resume, and --force or another --out)" if kept else ""
        raise type(err)(f"{err}{kept}{hint}", err.problems) from None
    if session.draft is not None and not early:
        session.draft.unlink(missing_ok=True)
    return case_path, note_path, note


def _sha256(path: Path) -> str:
    """The SHA-256 of a file this session wrote: read as every input is (a regular file, capped)."""
    import hashlib

    return hashlib.sha256(read_regular_file(path)).hexdigest()


def saved_early_by(interview: Interview, out_dir: Path) -> set[Path]:
    """The files a resumed draft's consultation saved at an emergency and that are still as it
    wrote them: its own files, which saving again rewrites without --force. Only this case's own
    output files in `out_dir` are looked at (a draft is an input: the paths in its journal are
    not trusted), and a file changed or replaced since (another case of the same id) is not
    among them."""
    saves = [e for e in interview.journal if e.get("event") == "saved_early" and isinstance(e.get("files"), dict)]
    case_id = interview.answers.get("id")
    if not saves or not isinstance(case_id, str):
        return set()
    own = set()
    for path in output_paths(out_dir, case_id):
        digest = saves[-1]["files"].get(str(path))
        try:
            if isinstance(digest, str) and not path.is_symlink() and _sha256(path) == digest:
                own.add(path)
        except (OSError, InputError):  # missing, not a regular file, too large: not as it was saved
            continue
    return own


def saved_early_section(interview: Interview) -> Section:
    """The opening of a note saved at an emergency: that it was, and which questions were left."""
    left = interview.not_asked()
    screening = set(interview.ruleset.manifest.screening)
    section = Section("Saved early at an emergency")
    section.lines.append(NoteLine(f"Saved before the interview ended: {questions(len(left))} not asked, recorded "
                              "as unknown (red-flag questions as not screened).", strong=True))
    red = [q.label for q in left if q.id in screening]
    other = [q.label for q in left if q.id not in screening]
    if red:
        section.add("Red-flag questions not asked: " + "; ".join(red) + ".")
    if other:
        section.add("Other questions not asked: " + "; ".join(other) + ".")
    return section


def save_now(session: Session, force: bool) -> tuple[Path, Path, Note]:
    """Save at an emergency, with what is known; the interview may go on afterwards."""
    return finish(session, force, early=True)


def prefill_summary(session: Session) -> str:
    """'N answers from the case file; M questions to ask' for a consultation started from --answers."""
    missing = len(session.interview.missing())
    given = len(session.interview.answers)
    return f"{given} answer{'' if given == 1 else 's'} from the case file; {questions(missing)} to ask"


def draft_summary(session: Session) -> str:
    """'Resuming <id>: N answers' for the first line of a resumed consultation."""
    answers = session.interview.answers
    return f"Resuming {answers.get('id') or 'a consultation'}: {len(answers)} answers"

