"""Paths and builders shared by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from lbp_assess.model.case import Case, validate_case

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
RULES = REPO / "rules"


def examples(count: int) -> int:
    """The examples a property that sets its own count runs: all `count` under the `ci` Hypothesis
    profile, the `dev` profile's share of it (at least 10) under `dev` (profiles: tests/conftest.py)."""
    share = settings.default.max_examples / settings.get_profile("ci").max_examples
    return count if share >= 1 else max(10, round(count * share))


def make_case(**sections: Any) -> Case:
    """A case from keyword sections; every fact not given is unknown."""
    return validate_case({"format": "lbp-case/1", "id": sections.pop("id", "t"), **sections}, "<test>")


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in a file (which must contain it): a deliberate edit of a copied rule file."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


#: Where a test is parametrised over every example and vignette and each case is slow (a command run
#: twice, say), the quick loop (`pytest -m "not slow"`) runs these: each class, each urgency, the red
#: flags with neurological signs, an inflammatory count, conflicting and unscreened answers. CI runs all.
QUICK_CASES = frozenset({"radicular-l5", "stenosis-claudication", "contradictory-answers", "unscreened-red-flags",
                         "v14-bilateral-sciatica", "v25-cancer-with-leg-weakness", "v37-fever-with-leg-numbness",
                         "v47-inflammatory-three-ng65-criteria"})


def corpus(quick: frozenset[str] = QUICK_CASES) -> list[Any]:
    """Every example case and vignette as parameters (ids: the file's stem), those outside `quick`
    marked slow."""
    paths = sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted((EXAMPLES / "vignettes").glob("*.yaml"))
    return [pytest.param(p, id=p.stem, marks=() if p.stem in quick else pytest.mark.slow) for p in paths]
