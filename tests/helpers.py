"""Paths and builders shared by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lbp_assess.model.case import Case, validate_case

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
RULES = REPO / "rules"


def make_case(**sections: Any) -> Case:
    """A case from keyword sections; every fact not given is unknown."""
    return validate_case({"format": "lbp-case/1", "id": sections.pop("id", "t"), **sections}, "<test>")


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in a file (which must contain it): a deliberate edit of a copied rule file."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))
