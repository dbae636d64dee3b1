"""Command-line mistakes are answered as a person would: which option, what is allowed, exit 2 -
never the option parser's validation wording or a usage line with {case}."""

from __future__ import annotations

import pytest

from helpers import EXAMPLES

CASE = str(EXAMPLES / "cases" / "radicular-l5.yaml")
MISTAKES = [
    (["note", CASE, "--format", "txt"], "--format: 'txt' is not one of: md, text, json"),
    (["explain", CASE, "-f", "yaml"], "--format: 'yaml' is not one of: tree, json"),
    (["score", CASE, "--jobs", "0"], "--jobs: must be 1 or more"),
    (["score", CASE, "--jobs", "two"], "--jobs: must be a whole number"),
    (["score", CASE, "--fail-on", "minor"], "--fail-on: 'minor' is not one of: emergency, urgent, red_flag"),
    (["explain"], "missing argument CASE"),
    (["score"], "missing argument PATHS"),
]


@pytest.mark.parametrize("args,said", MISTAKES, ids=[" ".join(a[:1] + a[2:]) for a, _ in MISTAKES])
def test_usage_mistakes_are_said_plainly(cli, args, said):
    run = cli(*args)
    assert run.code == 2
    first, usage, hint = run.err.splitlines()[:3]
    assert first == f"lbp-assess: {said}"
    assert usage.startswith(f"Usage: lbp-assess {args[0]} [OPTIONS] ") and "{" not in usage
    assert hint == f"Try 'lbp-assess {args[0]} --help' for help."
    for leak in ("Value error", "Input should", "{case}", "Traceback"):
        assert leak not in run.err


def test_help_and_version_still_exit_0(cli):
    assert cli("--version").code == 0
    help_ = cli("note", "--help")
    assert help_.code == 0 and "Usage: lbp-assess note [OPTIONS] CASE" in help_.out and "--full" in help_.out


def test_an_option_that_takes_several_values_shows_what_each_is(cli, monkeypatch):
    """`--cases` takes a folder and may be repeated: its help shows `<folder>`, not a bare flag."""
    monkeypatch.setenv("COLUMNS", "100")
    help_ = cli("rules", "validate", "--help")
    assert help_.code == 0 and "--cases <folder>" in help_.out, help_.out
