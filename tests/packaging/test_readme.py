"""The README is a front door: at most 300 lines, its test command is exactly what CI runs, its
tour runs, and it links every document in docs/ (the reference lives there)."""

from __future__ import annotations

import re
import shlex

from helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_the_readme_is_at_most_300_lines():
    assert len(README.splitlines()) <= 300


def test_ci_runs_exactly_the_readmes_test_command():
    commands = [block.strip() for block in _blocks("sh") if "pytest" in block]
    assert len(commands) == 1
    last = (REPO / ".ci" / "run").read_text().rstrip("\n").splitlines()[-1]
    assert last == commands[0]
    assert commands[0].startswith("python3 -m venv .venv-test ")


def test_the_readme_links_every_document_in_docs():
    linked = set(re.findall(r"\]\((docs/[^)#\s]+)", README))
    documents = {f"docs/{p.name}" for p in (REPO / "docs").iterdir() if p.suffix in (".md", ".json")}
    assert documents - linked == set()


def test_every_command_of_the_tour_is_a_real_command():
    """Each `lbp-assess ...` line of the README names a command and only options it has."""
    from typer.main import get_command

    from lbp_assess.cli.app import app

    tree = get_command(app)
    lines = [line.split("#")[0] for block in _blocks("sh") for line in block.splitlines()]
    tour = [shlex.split(line)[1:] for line in lines if line.startswith("lbp-assess ")]
    assert len(tour) >= 20
    for words in tour:
        command, used = tree, []
        while getattr(command, "commands", None) and words and words[0] in command.commands:
            used.append(words[0])
            command = command.commands[words.pop(0)]
        if used == ["practice"]:  # `practice [PATH...]` runs `practice run`
            command = command.commands["run"]
        names = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
        options = [w.split("=")[0] for w in words if w.startswith("-") and w != "-"]
        assert set(options) <= names, f"lbp-assess {' '.join(used)}: {set(options) - names}"
        assert used, words
