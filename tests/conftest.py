"""Shared fixtures: the default rule set, case builders, and an in-process CLI runner."""

from __future__ import annotations

import io
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from helpers import RULES
from lbp_assess.engine.ruleset.model import RuleSet
from lbp_assess.engine.ruleset.load import load_rules


#: Folders of slow tests: real terminals, generated-case properties, hostile input. `pytest -m "not slow"`
#: leaves them out for a quick loop between edits; CI runs everything.
SLOW_FOLDERS = {"terminal", "properties", "hostile"}

#: Hypothesis profiles. `ci`, chosen when the CI variable is set (as CI services and .ci/run set it): every
#: example each property asks for, no deadline (a shared runner is slow at times), no example database in the
#: checkout, and the blob to reproduce a failure. `dev`, chosen otherwise: a fifth of the examples (at least 10:
#: helpers.examples) and a one-second deadline, for a quick loop between edits. HYPOTHESIS_PROFILE=ci or dev
#: chooses one by name.
settings.register_profile("ci", max_examples=100, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=20, deadline=timedelta(seconds=1))
ON_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if ON_CI else "dev"))

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


# One headless Chromium per test module (tests/browser.py): registered here once, so two modules never hold two
# fixture; a second Playwright instance in the same process would refuse to start.
from browser import browser, page  # noqa: E402,F401
