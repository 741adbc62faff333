"""The metric layer's modules import each other at module level only, downward: one import graph
without cycles (a function-level import would hide a cycle until the function runs)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

METRICS = Path(__file__).resolve().parents[2] / "metrics"
MODULES = sorted(p for p in METRICS.glob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _nested_imports(tree: ast.Module) -> list[int]:
    """Line numbers of import statements that are not at the module's top level."""
    top = {id(node) for node in tree.body}
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top]


def _project_imports(path: Path, tree: ast.Module) -> set[str]:
    """The metrics modules `path` imports (`from . import x`, `from .x import y`, `metrics.x`; a
    name of the package itself, `from . import REGISTRY`, is an import of `__init__`)."""
    names = {p.stem for p in MODULES}
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                out.add(node.module.split(".")[0])
            elif node.level == 1 or node.module == "metrics":  # modules, or names of the package itself
                out |= {a.name if a.name in names else "__init__" for a in node.names}
            elif node.module and node.module.split(".")[0] == "metrics":
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("metrics.")}
    out.discard(path.stem)
    return {n for n in out if n in names}


def _graph() -> dict[str, set[str]]:
    return {p.stem: _project_imports(p, _tree(p)) for p in MODULES}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` (as the modules along it), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_import_graph_no_function_level_imports(path):
    assert _nested_imports(_tree(path)) == [], f"{path.name} imports inside a function or block"


def test_import_graph_has_no_cycles():
    graph = _graph()
    assert graph["sales"] and graph["rollups_build"]  # the graph is read (not an empty pass)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_import_graph_checks_find_what_they_look_for():
    nested = ast.parse("import os\ndef f():\n    from . import sales\n")
    assert _nested_imports(nested) == [3]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
