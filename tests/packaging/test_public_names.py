"""Tests go through public names only: no test imports or reaches a private name of lbp_assess
(`_name`; dunders such as `__version__` are public), so a private helper can be renamed or
removed without touching a test. A test that needs a seam asks for a public one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
DOTTED = re.compile(r"\blbp_assess(\.\w+)*\._(?!_)\w")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(source: str) -> list[str]:
    """`line: text` of each place the source imports or reaches a private name of lbp_assess."""
    tree = ast.parse(source)
    ours: set[str] = set()  # local names bound to lbp_assess modules, classes and functions
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lbp_assess":
                    ours.add(alias.asname or "lbp_assess")
                    found += [f"{node.lineno}: import {alias.name}"] * any(map(_private, alias.name.split(".")))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "lbp_assess":
            ours.update(alias.asname or alias.name for alias in node.names)
            found += [f"{node.lineno}: from {node.module} import {a.name}" for a in node.names
                      if _private(a.name) or any(map(_private, node.module.split(".")))]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and _root(node) in ours:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif (isinstance(node, ast.Call) and len(node.args) >= 2 and _root(node.args[0]) in ours
              and isinstance(node.args[1], ast.Constant) and _private(str(node.args[1].value))):
            found.append(f"{node.lineno}: {ast.unparse(node)}")  # setattr, getattr, monkeypatch.setattr ...
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and DOTTED.search(node.value):
            found.append(f"{node.lineno}: {node.value!r}")  # monkeypatch.setattr("lbp_assess.x._y", ...)
    return sorted(set(found), key=lambda line: int(line.split(":")[0]))


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def test_no_test_imports_or_reaches_a_private_name():
    found = {str(path.relative_to(TESTS)): uses for path in sorted(TESTS.rglob("*.py"))
             if path != Path(__file__).resolve() and (uses := private_uses(path.read_text(encoding="utf-8")))}
    assert not found, f"tests reach private names of lbp_assess (give them a public seam): {found}"


def test_the_check_sees_each_way_of_reaching_a_private_name():
    source = """
import lbp_assess.base._hidden
from lbp_assess.interop import fhir, _wire
from lbp_assess.base.files import _stage as stage
from lbp_assess import __version__
fhir._Gate(by_id).fhirpath(node)
fhir.AskWhenTranslator(by_id)._cache
monkeypatch.setattr(fhir, "_answer_value", None)
monkeypatch.setattr("lbp_assess.base.files._stage", None)
monkeypatch.setattr(os, "_exit", None)
self._read(1)
"""
    assert [line.split(":")[0] for line in private_uses(source)] == ["2", "3", "4", "6", "7", "8", "9"]
