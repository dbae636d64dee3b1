"""The package's layers hold (docs/design.md): no import runs up a layer or across between the
peers, no import cycle among modules, and typer, rich, questionary and prompt_toolkit are imported
in lbp_assess/cli/ only (and rich.markup in base/text.py). Imports inside functions count."""

import ast
import graphlib
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "lbp_assess"
ORDER = [{"base"}, {"model"}, {"engine"}, {"inputs"}, {"outputs"}, {"consult", "teach", "interop", "batch"},
         {"tooling", "api"}, {"cli"}, {"docs", "__main__"}]  # docs: tooling.docs + cli.reference; __main__: cli.main
RANK = {layer: rank for rank, group in enumerate(ORDER) for layer in group}
TERMINAL = {"typer", "click", "rich", "questionary", "prompt_toolkit"}
ALLOWED = {("base.text", "rich.markup")}


def imports(path: Path, type_checking: bool = True) -> list[tuple[str, int, str]]:
    """(module, line, imported module) for every import in the file, wherever it is."""
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    package = parts[:-1]
    found, todo = [], list(ast.parse(path.read_text()).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not type_checking:
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found += [(module, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join([*package[:len(package) - node.level + 1]] if node.level else []) or ""
            target = ".".join(p for p in (base, node.module) if p)
            for alias in node.names:  # `from . import x` imports the module x when there is one
                sub = f"{target}.{alias.name}"
                is_module = sub.startswith("lbp_assess.") and any(
                    (PKG.parent / sub.replace(".", "/")).with_suffix(s).exists() for s in (".py", ""))
                found.append((module, node.lineno, sub if is_module else target))
        todo.extend(ast.iter_child_nodes(node))
    return found


MODULES = [p for p in PKG.rglob("*.py") if p != PKG / "__init__.py"]  # the root: the lazy public API


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "base"  # `lbp_assess` itself: __version__ only


def test_no_import_runs_up_or_across_a_layer():
    bad = [f"{m}:{line} imports {t} ({layer(m)} -> {layer(t)})" for p in MODULES for m, line, t in imports(p)
           if t.startswith("lbp_assess") and layer(t) != layer(m) and RANK[layer(t)] >= RANK[layer(m)]]
    assert not bad, "\n".join(bad)


def test_terminal_libraries_only_in_the_cli():
    bad = [f"{m}:{line} imports {t}" for p in MODULES for m, line, t in imports(p)
           if t.split(".")[0] in TERMINAL and layer(m) not in ("cli", "__main__")
           and (m.removeprefix("lbp_assess."), t) not in ALLOWED]
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        for module, _, target in imports(path, type_checking=False):
            if target.startswith("lbp_assess.") and target != module:
                graph.setdefault(module, set()).add(target)
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_the_public_names_resolve_lazily():
    import lbp_assess

    assert all(getattr(lbp_assess, name).__name__ == name for name in lbp_assess.__all__)
