"""Import rules, read from the source (ast) of every project module: app.py, cli.py, upkeep.py and
every package (pages/ too). The layers below, lowest first; a module imports only its own package
and the layers under its own, so every pipe runs downward:

    store        schema, engine, configuration and secrets, write observers, audit trail
    auth         roles, users, permission checks (no Streamlit)
    connectors   HubSpot and file imports: they write, and announce their writes (store.observers)
    metrics      the metric layer; connectors and metrics never import each other
    demo         HubSpot-shaped demo data (it reads connectors.hubspot.settings), never metrics
    meeting      weekly snapshots, pack, the chart colours the pack and the pages share
    upkeep, ops  after a write: rollups settled, the week's snapshot; operations (logs, doctor, backup)
    commands     the CLI commands that write and then call upkeep
    ui           Streamlit building blocks, the session's user, the Data page's panels
    pages        the pages
    app, cli     the two entrypoints

Streamlit is imported only by ui/, pages/ and app.py. No project module is imported inside a
function (a lazy import is for a heavy third-party module's start-up cost, and says so).
benchmarks/ and tests/ sit above everything and are not checked.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: list[set[str]] = [
    {"store"},
    {"auth", "connectors", "metrics"},
    {"demo"},
    {"meeting"},
    {"upkeep", "ops"},
    {"commands"},
    {"ui"},
    {"pages"},
    {"app", "cli"},
]
# Pairs the order alone would allow, but that would make a writer depend on the metric layer.
NEVER = {"demo": {"metrics"}}
STREAMLIT = {"ui", "pages", "app"}


RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}
PROJECT = set(RANK)


def project_files() -> list[Path]:
    files = [ROOT / "app.py", ROOT / "cli.py", ROOT / "upkeep.py"]
    for name in sorted(PROJECT - {"app", "cli", "upkeep"}):
        files += sorted((ROOT / name).rglob("*.py"))
    return files


def _owner(rel: str) -> str:
    """The layer name of a file: its top folder, or its module name for app.py, cli.py, upkeep.py."""
    return rel.split("/")[0].removesuffix(".py")


def _absolute(rel: str, node: ast.ImportFrom) -> str:
    """The module a `from` import names, with relative imports resolved against the file's package."""
    if not node.level:
        return node.module or ""
    package = rel.removesuffix(".py").split("/")
    package = package[:-1]  # a module's package; an __init__'s package is its folder
    package = package[:len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def imports(rel: str, source: str) -> list[tuple[str, int, bool]]:
    """(module imported, line, inside a function) for every import statement of a file."""
    found: list[tuple[str, int, bool]] = []

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                found.append((_absolute(rel, child), child.lineno, in_function))
            walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))
    walk(ast.parse(source), False)
    return found


def violations(rel: str, source: str) -> list[str]:
    """What in this file breaks the rules, one line per problem."""
    owner, out = _owner(rel), []
    for module, line, in_function in imports(rel, source):
        top = module.split(".")[0]
        where = f"{rel}:{line} imports {module}"
        if top == "streamlit" and owner not in STREAMLIT:
            out.append(f"{where}: Streamlit belongs to ui/, pages/ and app.py")
        if top not in PROJECT:
            continue
        if in_function:
            out.append(f"{where} inside a function: import it at the top of the module")
        if top == owner:
            continue
        if RANK[top] > RANK[owner]:
            out.append(f"{where}: {owner} may not import a higher layer")
        elif RANK[top] == RANK[owner]:
            out.append(f"{where}: {owner} and {top} share a layer and never import each other")
        elif top in NEVER.get(owner, ()):
            out.append(f"{where}: {owner} never imports {top}")
    return out


def _all_violations() -> list[str]:
    out = []
    for path in project_files():
        out += violations(path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8"))
    return out


def test_layers_every_top_level_module_and_package_has_a_layer():
    tops = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    tops |= {p.stem for p in ROOT.glob("*.py")}
    assert tops | {"pages"} == PROJECT, "add the new module to LAYERS"


def test_layers_every_import_points_down_and_streamlit_stays_in_the_ui():
    assert _all_violations() == []


@pytest.mark.parametrize("rel, source, problem", [
    ("connectors/hubspot/sync.py", "from metrics import rollups", "share a layer"),
    ("connectors/hubspot/sync.py", "from ui.hubspot_panel import start_sync", "may not import a higher layer"),
    ("metrics/sales.py", "import connectors.hubspot.settings", "share a layer"),
    ("connectors/files/x.py", "from meeting.snapshots import take_snapshot", "higher layer"),
    ("demo/loader.py", "from metrics.rollups import refresh", "never imports metrics"),
    ("store/audit.py", "from ops.secrets import redact", "higher layer"),
    ("meeting/charts.py", "from ui.colors import color_for", "higher layer"),
    ("auth/session.py", "import streamlit as st", "Streamlit belongs"),
    ("connectors/hubspot/client.py", "from streamlit.runtime.secrets import secrets_singleton", "Streamlit"),
    ("ui/shell.py", "def f():\n    from demo import seed_demo_if_empty\n", "inside a function"),
    ("ui/hubspot_panel.py", "def f():\n    from . import cache\n", "inside a function"),
    ("ui/context.py", "from .shell import start", ""),
    ("metrics/details.py", "def f():\n    from .funnel import funnel_stats\n", "inside a function"),
    ("ui/page.py", "def f():\n    import plotly.graph_objects as go\n", ""),
])
def test_layers_rules_catch_what_they_forbid(rel, source, problem):
    found = violations(rel, source)
    if problem:
        assert len(found) == 1 and problem in found[0], found
    else:
        assert found == []


def _module_name(rel: str) -> str:
    return rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def module_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports at load time (not inside functions), its
    own enclosing packages left out (Python loads them first anyway)."""
    files = {_module_name(p.relative_to(ROOT).as_posix()): p for p in project_files()}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges = set()
        for module, _, in_function in imports(rel, path.read_text(encoding="utf-8")):
            if not in_function and module in files:
                edges.add(module)
        for node in ast.walk(tree):  # `from package import module` names the module
            if isinstance(node, ast.ImportFrom):
                base = _absolute(rel, node)
                edges |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in files}
        # a module's own packages load before it whatever it imports: no edge back to them
        graph[name] = {e for e in edges if not (name == e or name.startswith(e + "."))}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), as a sorted list of names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_layers_no_import_cycle_between_modules():
    assert cycles(module_graph()) == []


def test_layers_a_cycle_is_found():
    assert cycles({"ui.context": {"ui.shell"}, "ui.shell": {"ui.context", "ui.cache"}, "ui.cache": set()}) \
        == [["ui.context", "ui.shell"]]


def test_layers_relative_imports_resolve_against_the_package():
    assert imports("ui/shell.py", "from .context import x")[0][0] == "ui.context"
    assert imports("ui/__init__.py", "from . import cache")[0][0] == "ui"
    assert imports("connectors/files/fec.py", "from ..hubspot import settings")[0][0] == "connectors.hubspot"


def test_layers_the_cli_never_imports_streamlit(tmp_path):
    code = ("import sys\nsys.path.insert(0, sys.argv[1])\nimport cli\nrc = cli.main(['status'])\n"
            "print(rc, 'streamlit' in sys.modules)\n")
    env = {**os.environ, "NORTHSTAR_DB_URL": f"sqlite:///{tmp_path / 'cli.db'}", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert out == "0 False"
