"""docs/cli.md, the command-line reference, is generated from the typer app: every command and
option a user can give is in it, it is the same at any terminal width, and a stale copy is found."""

from __future__ import annotations

import shutil

from typer.main import get_command

import lbp_assess.docs as all_docs
from helpers import REPO
from lbp_assess.cli.app import app
from lbp_assess.cli.reference import CLI_FILE, cli_markdown


def _click_commands(command, path="lbp-assess"):
    """(path, command) for every command the running program accepts, read from click's tree."""
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield path, command
    for name, sub in (subcommands or {}).items():
        yield from _click_commands(sub, f"{path} {name}")


def test_every_command_and_option_the_program_accepts_is_in_the_reference():
    text = cli_markdown()
    commands = list(_click_commands(get_command(app)))
    assert len(commands) >= 15
    for path, command in commands:
        section = text.split(f"## `{path}`\n", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            for name in [*param.opts, *param.secondary_opts]:
                if name.startswith("-") and name != "--help":
                    assert f"`{name}`" in section, f"{path}: {name} is not in {CLI_FILE}"
        usage = section.split("```\n", 2)[1]
        assert usage.startswith(path)


def test_the_reference_shows_what_each_option_takes():
    text = cli_markdown()
    score = text.split("## `lbp-assess score`\n", 1)[1].split("\n## ", 1)[0]
    assert "lbp-assess score [OPTIONS] PATHS...\n" in score
    assert "- `--format`, `-f` `table` | `json` | `jsonl` | `csv`: " in score
    assert "- `--jobs`, `-j` *INTEGER* (at least 1; at most 256): Worker processes (default: the number of cores)." in score
    assert "- `--rules` *FOLDER*: " in score
    audit = text.split("## `lbp-assess audit`\n", 1)[1].split("\n## ", 1)[0]
    assert "`--output`, `-o` *FILE* (required): " in audit and "(at least 1; default `1000`)" in audit
    assert "[`lbp-assess rules check`](#lbp-assess-rules-check)" in text


def test_the_reference_does_not_depend_on_the_terminal_or_the_machine(monkeypatch):
    """The same at any width, and nothing of the machine it was made on: --jobs's default is the number
    of cores, which the help says in words."""
    monkeypatch.setenv("COLUMNS", "40")
    narrow = cli_markdown()
    monkeypatch.setenv("COLUMNS", "200")
    assert cli_markdown() == narrow
    jobs = [line for line in narrow.splitlines() if line.startswith("- `--jobs`")]
    assert len(jobs) == 2 and all("default `" not in line for line in jobs)


def test_the_committed_reference_is_current_and_a_stale_one_is_found(tmp_path):
    assert (REPO / CLI_FILE).read_text() == cli_markdown(), "run `python -m lbp_assess.docs`"
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "docs", root / "docs")
    for name in ("rules", "safety", "tests", "examples"):  # read only
        (root / name).symlink_to(REPO / name)
    (root / CLI_FILE).write_text((root / CLI_FILE).read_text().replace("Score saved case files", "Score"))
    assert all_docs.stale(root) == [root / CLI_FILE]
    assert all_docs.main(["--check", str(root)]) == 1
    assert all_docs.main([str(root)]) == 0
    assert (root / CLI_FILE).read_text() == cli_markdown()
