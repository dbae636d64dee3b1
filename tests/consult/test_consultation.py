"""The consultation's files: nothing lost, nothing overwritten, every saved case reads back.

In-process through the real entry point (`cli` fixture): output problems are one
line and exit 1 before any question, drafts are one per consultation and checked
on resume, ids map one-to-one to file names, and the saved case file reads back
as exactly what the interview recorded (property test over every question).
"""

from __future__ import annotations

import sys

import datetime as dt
import errno
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbp_assess.base.errors import ExitCode
from lbp_assess.consult import session as consultation
from lbp_assess.inputs.cases import load_case, parse_case
from lbp_assess.consult.interview import Interview
from lbp_assess.engine.ruleset.load import load_rules

from helpers import EXAMPLES, RULES, examples

RULESET = load_rules(RULES)
QUESTIONS = RULESET.questionnaire.questions
COMPLETE = str(EXAMPLES / "cases" / "radicular-l5.yaml")


def one_line_error(run, code: int = 1) -> str:
    assert run.code == code, (run.code, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lbp-assess: "), run.err
    assert "Traceback" not in run.err and "internal error" not in run.err
    return lines[0]


def test_out_inside_a_file_is_one_line_before_any_question(cli, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    line = one_line_error(cli("assess", "--answers", COMPLETE, "--out", str(blocker / "notes"), stdin=b""))
    assert "not-a-folder" in line and "cannot write" in line


@pytest.mark.parametrize("code,words", [(errno.EACCES, "Permission denied"), (errno.EROFS, "Read-only file system"),
                                        (errno.ENOSPC, "No space left on device")])
def test_unwritable_out_is_one_line_exit_1(cli, tmp_path, monkeypatch, code, words):
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "out")) and flags & os.O_CREAT:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    line = one_line_error(cli("assess", "--answers", COMPLETE, "--out", str(tmp_path / "out"), stdin=b""))
    assert words in line and str(tmp_path / "out") in line


def test_a_failed_write_at_the_end_keeps_the_draft_and_says_so(tmp_path, monkeypatch):
    session = consultation.start(RULESET, tmp_path, answers=Path(COMPLETE))
    consultation.prepare(session, force=False)
    session.autosave(session.interview)
    draft = session.draft
    assert draft is not None and draft.name.startswith("lbp-draft-radicular-l5-")
    real_mkstemp = tempfile.mkstemp

    def full(*args, prefix=None, **kwargs):
        if prefix and ".note.md" in prefix:  # the disk fills up after the case file was written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_mkstemp(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", full)
    with pytest.raises(consultation.OutputError) as err:
        consultation.finish(session, force=False)
    message = str(err.value)
    assert "No space left on device" in message and "radicular-l5.note.md" in message
    assert str(draft) in message and "--resume" in message
    assert draft.exists()  # nothing lost
    assert sorted(p.name for p in tmp_path.iterdir()) == [draft.name]  # no case without its note, no temp file
    monkeypatch.setattr(tempfile, "mkstemp", real_mkstemp)
    case_path, note_path, _ = consultation.finish(session, force=False)  # the same again, once there is room
    assert case_path.exists() and note_path.exists() and not draft.exists()


def test_an_existing_id_is_refused_before_any_question(cli, tmp_path):
    (tmp_path / "radicular-l5.case.yaml").write_text("kept")
    line = one_line_error(cli("assess", "--answers", COMPLETE, "--out", str(tmp_path), stdin=b""))
    assert "already exists; use --force" in line
    assert (tmp_path / "radicular-l5.case.yaml").read_text() == "kept"
    assert not list(tmp_path.glob("lbp-draft-*"))


def test_an_id_typed_in_the_interview_is_checked_at_once(tmp_path):
    session = consultation.start(RULESET, tmp_path)
    (tmp_path / "taken.note.md").write_text("kept")
    check = consultation.accept(session, force=False)
    question = RULESET.questionnaire.by_id["id"]
    assert "taken.note.md: already exists" in check(question, "taken")
    assert check(question, "free") is None
    assert consultation.accept(session, force=True)(question, "taken") is None


@pytest.mark.parametrize("damage,expected", [
    ("{", "JSON syntax error"),
    ('{"format": "lbp-draft/1", "answers": [1, 2]}', "answers"),
    ('{"format": "lbp-draft/1", "answers": {}, "journal": "x"}', "journal"),
    ('{"format": "lbp-draft/1", "answers": {}, "assessed_on": "yesterday"}', "assessed_on"),
    ('{"format": "something-else"}', "not an lbp-assess draft"),
    ('[]', "not an lbp-assess draft"),
])
def test_a_damaged_draft_is_a_clear_error(cli, tmp_path, damage, expected):
    draft = tmp_path / "lbp-draft-x-000000.json"
    draft.write_text(damage)
    line = one_line_error(cli("assess", "--resume", str(draft), stdin=b""))
    assert str(draft) in line and expected in line
    assert draft.read_text() == damage  # never touched


def test_without_a_terminal_a_follow_up_drafts_refused_answer_is_not_replaced_by_the_last_visits(cli, tmp_path):
    """A follow-up offers the last visit's answers, and without a terminal keeps them as Enter would:
    a refused draft answer (an age of 500) was then filled from the last visit (41) and saved as this
    visit's, the draft removed. The refusal now comes first: exit 2, the draft kept."""
    from lbp_assess.consult import followup
    from lbp_assess.outputs import visits

    previous = visits.read_visit(EXAMPLES / "follow-up" / "improving-radicular" / "fu-radicular.case.yaml")
    interview, _ = followup.start(RULESET, previous)
    interview.prefill({"id": "fu-radicular-later"})
    draft = tmp_path / "lbp-draft-fu-radicular-later-abcdef.json"
    interview.save_draft(draft)
    data = json.loads(draft.read_text())
    data["answers"]["patient.age"] = 500
    draft.write_text(json.dumps(data))
    line = one_line_error(cli("assess", "--resume", str(draft), stdin=b""), code=ExitCode.USAGE)
    assert line.startswith("lbp-assess: no terminal to ask again 1 question whose answer in the draft was refused "
                           "(patient.age: "), line
    assert draft.exists() and not list(tmp_path.glob("*.case.yaml"))


def test_a_case_file_given_to_resume_is_named_as_not_a_draft(cli):
    """`assess --resume CASE.yaml` (the case, not its draft): said as such, not "JSON syntax error"."""
    line = one_line_error(cli("assess", "--resume", COMPLETE, stdin=b""))
    assert line == (f"lbp-assess: {COMPLETE}: not an lbp-assess draft (lbp-draft/1): a draft is the JSON file "
                    "`assess` autosaves (lbp-draft-*.json)")


def test_a_resumed_draft_writes_beside_itself_whatever_it_says(cli, tmp_path):
    interview = Interview.from_case(RULESET, load_case(COMPLETE))
    draft = tmp_path / "lbp-draft-radicular-l5-abcdef.json"
    interview.save_draft(draft)
    data = json.loads(draft.read_text())
    data["out_dir"] = str(tmp_path / "elsewhere")  # older drafts carried this; it is not obeyed
    draft.write_text(json.dumps(data))
    run = cli("assess", "--resume", str(draft), stdin=b"")
    assert run.code == 0, run.err
    assert (tmp_path / "radicular-l5.case.yaml").exists() and not (tmp_path / "elsewhere").exists()
    assert not draft.exists()


def test_a_draft_given_as_a_symbolic_link_is_refused_and_what_it_points_to_is_untouched(cli, tmp_path):
    """Every autosave and the removal of the draft at the end act on the draft's path: given a link,
    they wrote the file it points to and then deleted it. Refused before anything is read."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "precious.json"
    Interview.from_case(RULESET, load_case(COMPLETE)).save_draft(target)
    before = target.read_bytes()
    link = tmp_path / "lbp-draft-radicular-l5-abcdef.json"
    link.symlink_to(target)
    line = one_line_error(cli("assess", "--resume", str(link), stdin=b""))
    assert line == f"lbp-assess: {link}: is a symbolic link; give the draft itself"
    assert target.read_bytes() == before and link.is_symlink() and not list(tmp_path.glob("*.case.yaml"))


def test_without_a_terminal_an_answer_the_draft_holds_is_never_lost_in_silence(cli, tmp_path):
    """A draft answer refused on resume (text with a terminal escape) must be asked again: with no
    terminal to ask it, the resume stops (exit 2) and keeps the draft, instead of saving the case
    without it and removing the draft. An answer to a question the questionnaire no longer has is
    said on standard error, and the case is saved."""
    draft = tmp_path / "lbp-draft-radicular-l5-abcdef.json"
    Interview.from_case(RULESET, load_case(COMPLETE)).save_draft(draft)
    data = json.loads(draft.read_text())
    data["answers"].update({"notes.pmh": "asthma \x1b[2J", "bogus.question": True})
    draft.write_text(json.dumps(data))
    line = one_line_error(cli("assess", "--resume", str(draft), stdin=b""), code=ExitCode.USAGE)
    assert line.startswith("lbp-assess: no terminal to ask again 1 question whose answer in the draft was refused "
                           "(notes.pmh: text must not contain the control character U+001B")
    assert line.endswith("resume it in a terminal") and "\x1b" not in line
    assert draft.exists() and not list(tmp_path.glob("*.case.yaml"))
    del data["answers"]["notes.pmh"]
    draft.write_text(json.dumps(data))
    run = cli("assess", "--resume", str(draft), stdin=b"")
    assert run.code == 0, run.err
    assert "lbp-assess: bogus.question: no longer in the questionnaire; answer dropped" in run.err.splitlines()
    assert (tmp_path / "radicular-l5.case.yaml").exists() and not draft.exists()


def test_a_draft_journal_cannot_make_the_resume_read_other_files(tmp_path):
    """The files a draft says it saved at an emergency are looked at only where this case's own
    files are: a journal naming a 100 GB sparse file (or any other path) is not read at all, while
    the case's own file, unchanged since, is still recognised as its own."""
    import hashlib

    interview = Interview.from_case(RULESET, load_case(COMPLETE))
    draft = tmp_path / "lbp-draft-radicular-l5-abcdef.json"
    interview.save_draft(draft)
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as handle:
        handle.truncate(100 * 1024 ** 3)  # sparse: reading it whole would need 100 GB
    own = tmp_path / "radicular-l5.case.yaml"
    own.write_text("saved early\n")
    data = json.loads(draft.read_text())
    data["journal"] = [{"event": "saved_early", "files": {
        str(huge): "0" * 64, "/etc/hostname": "0" * 64,
        str(own.resolve()): hashlib.sha256(own.read_bytes()).hexdigest()}}]
    draft.write_text(json.dumps(data))
    session = consultation.start(RULESET, None, resume=draft)
    assert session.written == {own.resolve()}


def test_drafts_are_one_per_consultation_and_never_shared(tmp_path):
    first = consultation.start(RULESET, tmp_path, answers=Path(COMPLETE))
    second = consultation.start(RULESET, tmp_path, answers=Path(COMPLETE))
    for session in (first, second):
        session.autosave(session.interview)
    assert first.draft != second.draft and first.draft.exists() and second.draft.exists()
    assert oct(first.draft.stat().st_mode & 0o777) == "0o600"


def test_a_fresh_draft_is_named_after_the_id_once_it_is_known(tmp_path):
    session = consultation.start(RULESET, tmp_path)
    session.autosave(session.interview)
    assert session.draft.name.startswith("lbp-draft-new-")
    first = session.draft
    session.interview.answer("case/7 a")
    session.autosave(session.interview)
    assert session.draft.name.startswith("lbp-draft-case%2F7%20a-") and not first.exists()
    assert json.loads(session.draft.read_text())["answers"]["id"] == "case/7 a"


@pytest.mark.parametrize("ids", [("a/b", "a b", "a_b", "a%2Fb"), (".hidden", "%2Ehidden", "_hidden"),
                                 ("..", "%2E."), ("CASE-1", "case-1")])
def test_ids_map_one_to_one_to_file_names(tmp_path, ids):
    paths = [consultation.output_paths(tmp_path, i)[0] for i in ids]
    assert len(set(paths)) == len(ids)
    for path in paths:
        assert path.parent == tmp_path and not path.name.startswith(".")


def test_out_folders_are_private_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        session = consultation.start(RULESET, tmp_path / "new" / "deep", answers=Path(COMPLETE))
        consultation.prepare(session, force=False)
    finally:
        os.umask(previous)
    assert oct((tmp_path / "new" / "deep").stat().st_mode & 0o777) == "0o700"


# --------------------------------------------------------------------------- saved cases read back


TRICKY = ["1e3", "0o17", "0x1F", "1_000", "+12", ".inf", "-.5", "true", "False", "null", "~", "yes", "no", "on",
          "2026-12-01", "12:30", "- item", "# not a comment", "key: value", "'quoted'", '"quoted"', "[a, b]",
          "{a: 1}", "&anchor", "*alias", "!tag", "%TAG", "@at", "`tick", "|", ">", " leading space",
          "trailing space ", "tab\there", "line one\nline two", "ends with newline\n", "ünïcödé ✓", "a" * 80]


def text_answers(multiline: bool) -> st.SearchStrategy:
    """What can be typed: one-line fields hold no control characters (the case model refuses
    them, and so does the interview, with its message); free text keeps tabs and line breaks."""
    alphabet = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    tricky = TRICKY if multiline else [t for t in TRICKY if "\t" not in t and "\n" not in t]
    if multiline:
        alphabet = st.one_of(alphabet, st.sampled_from("\n\t"))
    return st.one_of(st.sampled_from(tricky), st.text(alphabet, min_size=1, max_size=80))


def answer_values(question) -> st.SearchStrategy:
    if question.kind == "yes_no":
        return st.sampled_from([True, False, None])
    if question.kind == "choice":
        return st.sampled_from([v for v, _ in question.choices] + [None])
    if question.kind == "multi":
        return st.one_of(st.none(), st.lists(st.sampled_from([v for v, _ in question.choices]), unique=True))
    if question.kind == "items":
        return st.one_of(st.none(), st.tuples(*[st.integers(0, 1)] * 8, st.integers(0, 4)).map(list))
    if question.kind in ("number", "scale"):
        lo, hi = question.minimum or 0, question.maximum
        numbers = st.integers(int(lo), int(hi)) if question.integer else st.floats(lo, hi, allow_nan=False)
        return st.one_of(st.none(), numbers)
    if question.id == "id":
        return text_answers(False).filter(lambda s: s.strip() and len(s) <= 80)
    return st.one_of(st.none(), text_answers(question.id.startswith("notes.")))


@pytest.mark.slow
@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({q.id: answer_values(q) for q in QUESTIONS}))
def test_every_value_the_interview_records_reads_back(answers):
    interview = Interview(RULESET)
    refused = interview.prefill(answers)
    born = {qid for qid, why in refused.items() if "before the patient was born" in why}
    assert set(refused) - born <= {"id"}, refused  # only a blank-looking id, or symptoms before birth
    if "id" in refused:
        return
    written = consultation.case_yaml(interview)
    read = parse_case(written, "saved.case.yaml")
    expected = interview.case()
    assert read.model_dump() == expected.model_dump()


@pytest.mark.parametrize("command", [["note", COMPLETE, "-o"], ["score", COMPLETE, "-f", "json", "-o"]])
def test_output_into_a_place_that_cannot_be_written_is_one_line(cli, tmp_path, command):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = one_line_error(cli(*command, str(blocker / "sub" / "out.txt")))
    assert str(blocker) in line


def test_any_failure_after_the_first_answer_says_where_the_answers_are(tmp_path, monkeypatch, capsys):
    """Not only Ctrl-C: an unexpected error mid-interview still saves and prints the resume command."""
    from lbp_assess.cli import prompts
    from lbp_assess.cli.main import main

    class Failing:
        asked = 0

        def __init__(self, *args, **kwargs):
            pass

        def ask(self, question, default, progress):
            Failing.asked += 1
            if Failing.asked == 3:
                raise RuntimeError("terminal went away")
            return {"id": "crash-1", "assessor": None}.get(question.id)

        def notice(self, text):
            pass

        def alert(self, alert):
            pass

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(prompts, "TerminalPrompter", Failing)
    monkeypatch.setattr(sys, "argv", ["/opt/clinic/bin/lbp-assess", "assess", "--out", str(tmp_path)])
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.delenv("LBP_ASSESS_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == ExitCode.INTERNAL
    err = capsys.readouterr().err
    [draft] = tmp_path.glob(f"{consultation.DRAFT_PREFIX}*")
    assert "interview stopped; answers saved in" in err and "RuntimeError: terminal went away" in err
    assert f"/opt/clinic/bin/lbp-assess assess --resume {draft.resolve()}" in err
    resumed, _ = Interview.from_draft(RULESET, draft)
    assert resumed.answers == {"id": "crash-1", "assessor": None}


def test_the_resume_hint_names_the_command_as_it_was_invoked(monkeypatch, tmp_path):
    """A bare `lbp-assess` only when the shell found it on PATH; a module run as `python -m`."""
    from lbp_assess.cli.app import invoked_as

    assert invoked_as("/usr/lib/python3/site-packages/lbp_assess/__main__.py") == f"{sys.executable} -m lbp_assess"
    assert invoked_as(".venv/bin/lbp-assess") == ".venv/bin/lbp-assess"
    assert invoked_as("/my clinic/bin/lbp-assess") == "'/my clinic/bin/lbp-assess'"
    monkeypatch.setenv("PATH", str(tmp_path))
    assert invoked_as("lbp-assess") == str(Path("lbp-assess").resolve())  # not on PATH: where it was run
    program = tmp_path / "lbp-assess"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert invoked_as("lbp-assess") == "lbp-assess"
    # a console script found on PATH is given to Python by its path: shown as the name typed
    assert invoked_as(str(program)) == "lbp-assess"
    other = tmp_path / "elsewhere" / "lbp-assess"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    assert invoked_as(str(other)) == str(other)  # not the one PATH finds: its path


def test_a_new_consultation_records_when_it_began_and_a_resumed_one_keeps_it(tmp_path):
    session = consultation.start(RULESET, tmp_path)
    began = dt.datetime.fromisoformat(session.interview.assessed_at)
    assert began.tzinfo is not None and abs(dt.datetime.now().astimezone() - began) < dt.timedelta(minutes=2)
    assert session.interview.case_data()["assessed_at"] == session.interview.assessed_at
    assert began.date().isoformat() == session.interview.assessed_on
    draft = tmp_path / "draft.json"
    session.interview.save_draft(draft)
    resumed, _ = Interview.from_draft(RULESET, draft)
    assert resumed.assessed_at == session.interview.assessed_at  # the time it began, not the time it resumed


def test_answers_from_a_file_keep_the_file_s_own_time(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(Path(COMPLETE).read_text() + "assessed_at: 2026-11-21T09:15:00+00:00\n")
    session = consultation.start(RULESET, tmp_path, answers=path)
    assert session.interview.case_data()["assessed_at"].startswith("2026-11-21T09:15")


def test_the_prefill_summary_is_for_answers_from_a_case_file_not_an_id_alone(tmp_path):
    """`assess --id rad-2` said "1 answers from the case file": no case file was given."""
    ruleset = load_rules(RULES)
    alone = consultation.start(ruleset, tmp_path, case_id="rad-2")
    assert alone.prefilled_from is None
    path = tmp_path / "one.yaml"
    path.write_text("format: lbp-case/1\nid: one\nassessed_on: '2026-12-05'\n")
    session = consultation.start(ruleset, tmp_path, answers=path)
    assert session.prefilled_from == path
    summary = consultation.prefill_summary(session)
    assert summary.startswith("1 answer from the case file; ") and summary.endswith(" questions to ask")


def test_a_draft_given_to_resume_keeps_its_name_so_the_same_command_resumes_it_again(tmp_path):
    """`assess --resume mydraft.json` renamed the draft to lbp-draft-<id>-....json at its first save:
    after another interruption the same command found no such file."""
    interview = Interview.from_case(RULESET, load_case(COMPLETE))
    draft = tmp_path / "mydraft.json"
    interview.save_draft(draft)
    session = consultation.start(RULESET, None, resume=draft)
    session.autosave(session.interview)
    assert session.draft == draft.resolve() and draft.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(consultation.DRAFT_PREFIX)] == []
