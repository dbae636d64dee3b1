"""The test folders mirror the package: tests/<layer>/ for each subpackage of lbp_assess, plus the
folders named here for tests that cut across layers; a test file named after a module sits in that
module's layer."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PACKAGE = TESTS.parent / "lbp_assess"
ACROSS = {
    "clinical": "the shipped rules against the examples, vignettes and policy",
    "hostile": "hostile input (slow)",
    "properties": "properties over generated cases (slow)",
    "terminal": "the real program in a pseudo-terminal (slow)",
    "packaging": "layers, names, the wheel, the README",
    "fixtures": "data the tests read",
    "snapshots": "the notes of the example cases",
    "fhir_tools": "the npm tools of the FHIR browser tests",
}


def _layers() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def test_every_test_folder_is_a_layer_or_named_here():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert folders - _layers() - set(ACROSS) == set(), "a test folder that is neither a layer nor in ACROSS"


def test_a_test_named_after_a_module_is_in_that_modules_layer():
    modules: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*/*.py"):
        modules.setdefault(path.stem, set()).add(path.parent.name)
    stray = [f"{path.relative_to(TESTS)} (module in {', '.join(sorted(modules[name]))})"
             for layer in _layers() for path in sorted((TESTS / layer).glob("test_*.py"))
             if (name := path.stem.removeprefix("test_")) in modules and layer not in modules[name]]
    assert stray == []
