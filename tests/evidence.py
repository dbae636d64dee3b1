"""Records how every test of a pytest run ended, for the safety case's evidence check.

tests/conftest.py imports these hooks. `RESULTS` maps each node id that ran to "passed", "failed",
"skipped", "xfailed", "xpassed" or "error" (a failing set-up or tear-down). With the environment
variable LBP_EVIDENCE_REPORT set, the results are written there as JSON when the run ends (the
evidence check runs cited tests that were not part of its own run in a separate pytest process).
"""

from __future__ import annotations

import json
import os

import pytest

RESULTS: dict[str, str] = {}
EVIDENCE_TEST = "tooling/test_safety_case.py::test_every_cited_test_passed"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            RESULTS[report.nodeid] = "xfailed" if report.skipped else "xpassed"
        else:
            RESULTS[report.nodeid] = report.outcome
    elif report.outcome == "skipped":
        RESULTS[report.nodeid] = "skipped"
    elif report.outcome == "failed":
        RESULTS[report.nodeid] = "error"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The evidence check runs last, once every cited test of the run has its result."""
    last = [item for item in items if item.nodeid.endswith(EVIDENCE_TEST)]
    for item in last:
        items.remove(item)
        items.append(item)


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("LBP_EVIDENCE_REPORT")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            json.dump(RESULTS, out)
