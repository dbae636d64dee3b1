"""The installed package: console script, `python -m`, and the default rules inside the wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import lbp_assess
from lbp_assess.engine.ruleset.load import default_rules_dir

from helpers import REPO

PACKAGE = Path(lbp_assess.__file__).resolve().parent
FROM_SOURCE = PACKAGE.parent == REPO


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_python_dash_m_works_from_any_directory(tmp_path):
    result = run(sys.executable, "-m", "lbp_assess", "--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"lbp-assess {lbp_assess.__version__}"


@pytest.mark.skipif(FROM_SOURCE, reason="imported from the source tree (editable install); "
                                        ".ci/run installs the wheel and runs this test")
def test_wheel_ships_the_default_rules_and_console_script(tmp_path):
    rules = default_rules_dir()
    assert rules == PACKAGE / "rules", "the default rules must come from inside the installed package"
    assert (rules / "ruleset.yaml").is_file() and (rules / "tests" / "red_flags.yaml").is_file()
    script = Path(sys.executable).parent / "lbp-assess"
    result = run(str(script), "rules", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{rules}: ok"
    result = run(str(script), "rules", "test", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip().endswith("passed, 0 failed")
