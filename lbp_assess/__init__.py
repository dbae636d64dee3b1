"""lbp-assess: clinician-side low back pain assessment.

The core works without a terminal::

    from . import load_case, load_rules, assess
    assessment = assess(load_case("examples/cases/radicular-l5.yaml"))

Imports are lazy so that `lbp-assess --version` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Assessment", "Case", "RuleSet", "assess", "load_case", "load_rules", "score_record"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import assess, score_record
    from .model.case import Case
    from .inputs.cases import load_case
    from .engine.ruleset.model import Assessment, RuleSet
    from .engine.ruleset.load import load_rules

_LAZY = {
    "assess": "api", "score_record": "api", "load_case": "inputs.cases", "Case": "model.case",
    "load_rules": "engine.ruleset.load", "RuleSet": "engine.ruleset.model", "Assessment": "engine.ruleset.model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'lbp_assess' has no attribute {name!r}")
