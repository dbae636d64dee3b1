"""Where the shipped rules and vignettes are: inside the installed package (the wheel
force-includes them as lbp_assess/rules and lbp_assess/vignettes), or at the top of a
source checkout (rules/, examples/vignettes/). Computed here once, from the package root."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent  # lbp_assess/
_IN_CHECKOUT = {"rules": "rules", "vignettes": "examples/vignettes"}
_FOUND_BY = {"rules": "ruleset.yaml"}  # a file that shows the packaged copy is there


def shipped(name: str) -> Path:
    """The shipped `rules` or `vignettes` folder."""
    packaged = PACKAGE / name
    marker = _FOUND_BY.get(name)
    if (packaged / marker).is_file() if marker else packaged.is_dir():
        return packaged
    return PACKAGE.parent / _IN_CHECKOUT[name]
