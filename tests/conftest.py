"""Shared fixtures: the default rule set, case builders, and an in-process CLI runner."""

from __future__ import annotations

import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import RULES
from lbp_assess.rules import RuleSet, load_rules


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
        from lbp_assess.cli import main

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


# The safety case's evidence check: how every test of the run ended (tests/evidence.py).
from evidence import (  # noqa: E402,F401
    pytest_collection_modifyitems,
    pytest_runtest_logreport,
    pytest_sessionfinish,
)

# One headless Chromium for the whole run (tests/browser.py): every browser test shares this session
# fixture; a second Playwright instance in the same process would refuse to start.
from browser import browser, page  # noqa: E402,F401
