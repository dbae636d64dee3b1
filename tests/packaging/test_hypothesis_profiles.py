"""The Hypothesis profiles (tests/conftest.py): CI runs every example a property asks for, a
developer's run a fifth of them, with no deadline on CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from helpers import REPO, examples

COUNTED = os.environ.get("LBP_COUNT_EXAMPLES")


@settings(max_examples=examples(50), database=None)
@given(st.integers())
def test_a_property_that_asks_for_50_examples(number):
    if not COUNTED:
        pytest.skip("counted by test_ci_runs_every_example_and_a_developer_a_fifth, in a pytest of its own")
    with open(COUNTED, "a") as handle:
        handle.write(f"{number}\n")


def _examples_run(tmp_path: Path, **env: str) -> int:
    counted = tmp_path / f"counted-{len(list(tmp_path.iterdir()))}.txt"
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          f"{__file__}::test_a_property_that_asks_for_50_examples"],
                         cwd=REPO, env={**environ, **env, "LBP_COUNT_EXAMPLES": str(counted)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return len(counted.read_text().splitlines())


@pytest.mark.slow  # three pytest runs
def test_ci_runs_every_example_and_a_developer_a_fifth(tmp_path):
    assert _examples_run(tmp_path, CI="true") == 50
    assert _examples_run(tmp_path, CI="false") == 10
    assert _examples_run(tmp_path, HYPOTHESIS_PROFILE="ci") == 50


def test_ci_has_no_deadline_and_a_developer_one_second():
    assert settings.get_profile("ci").deadline is None
    assert settings.get_profile("dev").deadline.total_seconds() == 1
    assert settings.get_profile("ci").max_examples == 5 * settings.get_profile("dev").max_examples
