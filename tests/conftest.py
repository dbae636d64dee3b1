"""Shared fixtures: the default rule set, case builders, and an in-process CLI runner."""

from __future__ import annotations

import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import RULES
from lbp_assess.engine.ruleset.model import RuleSet
from lbp_assess.engine.ruleset.load import load_rules


#: Folders of slow tests: real terminals, generated-case properties, hostile input. `pytest -m "not slow"`
#: leaves them out for a quick loop between edits; CI runs everything.
SLOW_FOLDERS = {"terminal", "properties", "hostile"}

# The safety case's evidence check records how every test of the run ended (tests/evidence.py).
pytest_plugins = ["evidence"]


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FOLDERS.intersection(item.path.parent.relative_to(Path(__file__).parent).parts):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    """A copy of the shipped rules to edit."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_rules(RULES)


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `lbp-assess ARGS` in-process through the real entry point (error mapping included)."""

    def run(*args: str, stdin: bytes | None = None) -> Run:
        from lbp_assess.cli.main import main

        monkeypatch.setattr(sys, "argv", ["lbp-assess", *args])
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
