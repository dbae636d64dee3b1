"""`score` on a terminal: the table fits the terminal's width (a real pseudo-terminal, pexpect),
with the columns a clinician scans first always visible, and no colour under NO_COLOR."""

from __future__ import annotations

import os
import re
import sys

import pytest

from helpers import EXAMPLES

pexpect = pytest.importorskip("pexpect")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")

IDS = sorted(p.stem for p in (EXAMPLES / "cases").glob("*.yaml"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def table_at(columns: int, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    environ.update(TERM="xterm", CI="1", **env)  # CI: no progress bar in the way
    child = pexpect.spawn(sys.executable, ["-m", "lbp_assess", "score", str(EXAMPLES / "cases"), "-q", "-j", "1"],
                          env=environ, encoding="utf-8", timeout=30, dimensions=(40, columns))
    out = child.read()
    child.close()
    assert child.exitstatus == 0, out
    return out.replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [80, 120])
def test_table_fits_the_terminal_with_the_key_columns(columns):
    out = table_at(columns)
    plain = ANSI.sub("", out)
    lines = [line for line in plain.splitlines() if line.strip()]
    assert all(len(line) <= columns for line in lines), max(lines, key=len)
    header = lines[0].split()
    assert header[:3] == ["id", "class", "urgency"] and header[3].startswith("conditions")
    for case_id in IDS:
        row = next(line for line in lines if line.lstrip().startswith(case_id[:12]))
        assert re.search(r"\b(emergency|urgent|soon|routine)\b", row), row  # never squeezed to nothing
        assert re.search(r"\b(Red flag|Radicular|Stenosis|Non-specific)\b", row), row  # the class in words
    assert "non_specific" not in plain
    assert "cauda_equina (emergency)" in plain
    if columns >= 120:
        assert "conditions" in header and "alerts" in header and "ces_safety_net, ces_at_risk" in plain
        assert "aortic_aneurysm (emergency)" in plain and "cancer-history-no-neuro " in plain


def test_wide_terminals_show_the_counts_and_the_file():
    plain = ANSI.sub("", table_at(200))
    assert "unscreened" in plain and "warnings" in plain and "radicular-l5.yaml" in plain
    assert "bilateral-sciatica-ces-at-risk " in plain  # ids whole when there is room


def test_no_colour_under_no_color():
    coloured = table_at(100)
    assert re.search(r"\x1b\[[0-9;]*3[1-7]m", coloured)  # red, green, yellow urgencies by default
    plain = table_at(100, NO_COLOR="1")
    assert not re.search(r"\x1b\[[0-9;]*3[1-7]m", plain)
