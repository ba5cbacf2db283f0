"""The layers of docs/architecture.md, checked on the source: which module may import which.

Every module under models_app/ (and modelreg/) is parsed with ``ast``; nothing is imported, so a
violation is reported as the file and line that makes it, whatever the import would do at run time.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The edges: each answers one kind of caller, and none of them imports another.
EDGES = (
    "models_app.api",
    "models_app.ui",
    "models_app.admin",
    "models_app.mlflow",
    "models_app.sso",
    "models_app.management",
)
# What the edges stand on; none of it may import an edge.
BELOW_EDGES = (
    "models_app.rules",
    "models_app.services",
    "models_app.selectors",
    "models_app.models",
    "models_app.pipeline",
    "models_app.storage",
    "models_app.ops",
    "models_app.policies",
    "models_app.ledger",
    "models_app.metadata",
    "models_app.lifecycle",
    "models_app.exceptions",
    "models_app.choices",
    "models_app.roles",
    "models_app.names",
    "models_app.filters",
    "models_app.exports",
    "models_app.compiled",
    "models_app.aggregates",
)
# Imports of project modules made inside a function (run when it is called, not when the module is
# loaded), each with the reason it cannot be at the top. The test fails on an unlisted one and on a
# listed one that is gone, so the list says what the code does.
DEFERRED_IMPORTS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (the deepest one of the dotted name that exists)
    line: int
    at_load: bool  # run when the module is loaded (not inside a function or an `if TYPE_CHECKING:`)

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


MODULES = _modules("models_app")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(nodes, at_load: bool):
    """Every import statement in or below ``nodes``, with whether it runs when the module is loaded."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, at_load
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(ast.iter_child_nodes(node), False)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _walk(node.body, False)
            yield from _walk(node.orelse, at_load)
        else:
            yield from _walk(ast.iter_child_nodes(node), at_load)


def _resolve(name: str, known: dict[str, Path]) -> str:
    """``a.b.C`` -> ``a.b`` when ``C`` is a name in module ``a.b`` rather than a module itself."""
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node, at_load in _walk(tree.body, True):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            found.append(Import(module, _resolve(name, known), node.lineno, at_load))
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _edge_of(module: str) -> str | None:
    return next((edge for edge in EDGES if _within(module, edge)), None)


@pytest.fixture(scope="module")
def project_imports() -> list[Import]:
    return [imp for module, path in MODULES.items() for imp in imports_of(module, path, MODULES)]


def test_the_layers_are_where_the_architecture_says(project_imports):
    # A renamed or moved package would make the checks below vacuous.
    for package in (*BELOW_EDGES, *EDGES[:3], "models_app.management"):
        assert any(_within(m, package) for m in MODULES), f"no module {package}"
    assert len(project_imports) > 500


def test_edges_never_import_each_other(project_imports):
    crossings = [
        str(imp)
        for imp in project_imports
        if (edge := _edge_of(imp.module)) and _edge_of(imp.target) not in (None, edge)
    ]
    assert crossings == []


def test_nothing_below_the_edges_imports_an_edge(project_imports):
    upward = [
        str(imp)
        for imp in project_imports
        if any(_within(imp.module, low) for low in BELOW_EDGES) and _edge_of(imp.target)
    ]
    assert upward == []


def test_the_cli_imports_nothing_from_django_or_the_server():
    cli = _modules("modelreg")
    assert cli, "no modelreg package"
    offending = [
        str(imp)
        for module, path in cli.items()
        for imp in imports_of(module, path, cli)
        if imp.target.split(".")[0] in ("django", "rest_framework", "models_app", "registry_site")
    ]
    assert offending == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _graph(imports: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target in MODULES and imp.target != imp.module:
            edges.setdefault(imp.module, set()).add(imp.target)
    return edges


def test_there_are_no_import_cycles_at_module_level(project_imports):
    assert _cycles(_graph([imp for imp in project_imports if imp.at_load])) == []


def test_imports_inside_functions_are_the_listed_ones(project_imports):
    deferred = {
        (imp.module, imp.target) for imp in project_imports if not imp.at_load and imp.target in MODULES
    }
    assert sorted(deferred) == sorted(DEFERRED_IMPORTS)
    # None of them may hide a cycle either: with them counted as loaded, there is still none.
    assert _cycles(_graph(project_imports)) == []


def test_the_checker_sees_a_cycle_and_a_crossing():
    # The checks above pass on an empty list too; make sure they would notice.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    fake = {"models_app.api.x": Path("x"), "models_app.ui.y": Path("y")}
    assert _resolve("models_app.ui.y.view", fake) == "models_app.ui.y"
    assert _edge_of("models_app.ui.y") == "models_app.ui" and _edge_of("models_app.rules") is None
