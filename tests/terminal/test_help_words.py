"""`--help` as a physiotherapist or a student reads it: no Python type names."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("command", [["score"], ["practice", "run"], ["practice", "report"], ["assess"],
                                     ["explain"], ["compare"]])
def test_help_names_no_python_types(cli, command):
    run = cli(*command, "--help")
    assert run.code == 0
    for jargon in ("<list[", "<str>", "<int>", "<int range>", "<float>"):
        assert jargon not in run.out, (command, jargon, run.out)


def test_help_says_text_and_number(cli):
    assert "--student <text>" in cli("practice", "run", "--help").out
    assert "--count <number>" in cli("practice", "run", "--help").out
