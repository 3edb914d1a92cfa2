"""The package graph: dependencies run one way (issue 15, item 2).

The graph of the repository's top-level packages is built from the source with ``ast`` (no
import is executed): an edge ``a -> b`` for every import in a ``.py`` file of package ``a``
(outside ``tests/``, ``bench/`` and the entry-point scripts) naming package ``b``, at module
level or inside a function, including ``if TYPE_CHECKING:`` blocks (a type named across layers
is a dependency of the design too), relative imports (their own package) and the string literal
given to ``importlib.import_module(...)``/``import_string(...)``.

The declared layering (a package may import only packages of a LOWER layer; packages of the
same layer do not import each other)::

    core  <  accounts  <  customers, products  <  sales  <  analytics  <  demo  <  salesproject

so the shared core imports no domain app, the domain apps never import each other both ways,
analytics learns about writes through signals (``core.signals``, ``sales.signals``) connected in
``AnalyticsConfig.ready()``, and nothing but the configuration imports ``demo``. A new package
must be given a layer here. Run this module as a script to print the graph:
``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> layer: an import must go to a strictly lower layer.
LAYERS: dict[str, int] = {
    "core": 0,
    "accounts": 1,
    "customers": 2,
    "products": 2,
    "sales": 3,
    "analytics": 4,
    "demo": 5,
    "salesproject": 6,
}
# Root directories that are not packages of the application (they may import anything).
NOT_PACKAGES = {"tests", "bench", "scripts", "docker", "docs", "templates", "test-artifacts"}
DOMAIN_APPS = {"accounts", "customers", "products", "sales", "analytics", "demo"}
# The project package is configuration only.
SALESPROJECT_MODULES = {
    "__init__.py",
    "settings",  # the settings package, one module per concern
    "settings/__init__.py",
    "settings/analytics.py",
    "settings/api.py",
    "settings/base.py",
    "settings/cache.py",
    "settings/catalog.py",
    "settings/database.py",
    "settings/limits.py",
    "settings/locale_files_logging.py",
    "settings/ops.py",
    "settings/security.py",
    "settings/tasks.py",
    "environment.py",
    "urls.py",
    "api.py",
    "celery.py",
    "wsgi.py",
    "asgi.py",
}
# Test-only code: the application never imports it.
TEST_PACKAGES = {"tests", "bench"}
# Calls whose first argument (a string literal) names a module to import.
STRING_IMPORTERS = {"import_module", "import_string"}


@dataclass(frozen=True)
class Import:
    source: str  # importing package
    target: str  # imported package
    where: str  # "path:line"


def _is_skipped_dir(path: Path) -> bool:
    return any(part in {"__pycache__", ".venv", "node_modules"} for part in path.parts)


def package_dirs(root: Path = ROOT) -> list[str]:
    """The root directories holding Python code, but for tests, bench and entry-point scripts."""
    names = []
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.name.startswith(".") or child.name in NOT_PACKAGES:
            continue
        if any(not _is_skipped_dir(p.relative_to(root)) for p in child.rglob("*.py")):
            names.append(child.name)
    return names


def _module_targets(name: str, packages: set[str]) -> str | None:
    top = name.split(".", 1)[0]
    return top if top in packages else None


def file_imports(path: Path, package: str, packages: set[str], root: Path = ROOT) -> list[Import]:
    """Every import of ``path`` (in ``package``) naming one of ``packages``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(root).as_posix()
    found: list[Import] = []

    def add(name: str | None, node: ast.AST) -> None:
        target = _module_targets(name, packages) if name else None
        if target is not None:
            found.append(Import(package, target, f"{rel}:{node.lineno}"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside its own package
                add(package, node)
            else:
                add(node.module, node)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called in STRING_IMPORTERS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    add(first.value, node)
    return found


def collect_imports(root: Path = ROOT) -> list[Import]:
    packages = package_dirs(root)
    known = {*packages, *TEST_PACKAGES}  # an application module importing tests is a breach
    imports: list[Import] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if _is_skipped_dir(path.relative_to(root)):
                continue
            imports.extend(file_imports(path, package, known, root))
    return imports


def edges(imports: list[Import]) -> dict[tuple[str, str], list[str]]:
    """(source, target) -> the places of its imports, self-imports left out."""
    graph: dict[tuple[str, str], list[str]] = defaultdict(list)
    for imp in imports:
        if imp.source != imp.target:
            graph[(imp.source, imp.target)].append(imp.where)
    return dict(graph)


def find_cycle(graph: dict[tuple[str, str], list[str]]) -> list[str] | None:
    """A cycle of the graph as ``[a, b, ..., a]``, or ``None`` when it is acyclic."""
    succ: dict[str, list[str]] = defaultdict(list)
    for source, target in sorted(graph):
        succ[source].append(target)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in succ[node]:
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(succ):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layering_breaches(
    graph: dict[tuple[str, str], list[str]], layers: dict[str, int] = LAYERS
) -> list[str]:
    """One line per import that does not go to a strictly lower layer (or names a package
    without a layer), naming the file and line."""
    breaches = []
    for (source, target), places in sorted(graph.items()):
        if target in TEST_PACKAGES:
            breaches.extend(f"{where}: {source} imports test code ({target})" for where in places)
        elif source not in layers or target not in layers:
            unknown = source if source not in layers else target
            breaches.append(f"{unknown!r} has no layer in LAYERS ({places[0]})")
        elif layers[target] >= layers[source]:
            breaches.extend(f"{where}: {source} imports {target}" for where in places)
    return breaches


def render(graph: dict[tuple[str, str], list[str]]) -> str:
    return "\n".join(
        f"{source:>13} -> {target:<13} {len(places):>4}"
        for (source, target), places in sorted(graph.items())
    )


# --- the checker itself, on synthetic graphs ---------------------------------------------------


def test_checker_finds_a_cycle():
    graph = {("a", "b"): ["a/x.py:1"], ("b", "c"): ["b/y.py:2"], ("c", "a"): ["c/z.py:3"]}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}
    assert find_cycle({("a", "b"): ["a/x.py:1"], ("a", "c"): ["a/x.py:2"]}) is None


def test_checker_finds_a_two_way_dependency_and_names_the_line():
    graph = {("customers", "sales"): ["customers/admin.py:7"], ("sales", "customers"): ["s:1"]}
    assert find_cycle(graph) in (
        ["customers", "sales", "customers"],
        ["sales", "customers", "sales"],
    )
    assert layering_breaches(graph) == ["customers/admin.py:7: customers imports sales"]
    assert layering_breaches({("products", "customers"): ["products/a.py:3"]}) == [
        "products/a.py:3: products imports customers"  # same layer: no import either way
    ]
    assert "no layer" in layering_breaches({("newapp", "core"): ["newapp/a.py:1"]})[0]
    assert layering_breaches({("sales", "tests"): ["sales/a.py:9"]}) == [
        "sales/a.py:9: sales imports test code (tests)"
    ]


def test_file_imports_sees_imports_in_functions_relative_and_strings(tmp_path):
    pkg = tmp_path / "core"
    pkg.mkdir()
    (pkg / "x.py").write_text(
        "import importlib\n"
        "from typing import TYPE_CHECKING\n"
        "from . import y\n"
        "if TYPE_CHECKING:\n"
        "    from accounts.models import User\n"
        "def f():\n"
        "    from sales.services import sale_create\n"
        "    importlib.import_module('analytics.services')\n"
        "    import salesproject.celery\n"
    )
    found = file_imports(pkg / "x.py", "core", set(LAYERS), tmp_path)
    assert sorted((imp.target, imp.where) for imp in found) == [
        ("accounts", "core/x.py:5"),
        ("analytics", "core/x.py:8"),
        ("core", "core/x.py:3"),
        ("sales", "core/x.py:7"),
        ("salesproject", "core/x.py:9"),
    ]


# --- the repository -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph():
    return edges(collect_imports())


def test_every_package_has_a_layer():
    assert set(package_dirs()) <= set(LAYERS), "give the new package a layer in LAYERS"


def test_package_graph_is_acyclic(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_package_graph_respects_the_layering(graph):
    breaches = layering_breaches(graph)
    assert not breaches, "imports against the layering:\n" + "\n".join(breaches)


def test_core_imports_no_domain_app_nor_the_project(graph):
    bad = [
        f"{where}: core imports {target}"
        for (source, target), places in sorted(graph.items())
        if source == "core" and target in DOMAIN_APPS | {"salesproject"}
        for where in places
    ]
    assert not bad, "\n".join(bad)


def test_salesproject_holds_configuration_only():
    package = ROOT / "salesproject"
    found = {
        p.relative_to(package).as_posix()
        for p in package.rglob("*")
        if not _is_skipped_dir(p.relative_to(ROOT)) and p.name != "__pycache__"
    }
    assert found <= SALESPROJECT_MODULES, sorted(found - SALESPROJECT_MODULES)


if __name__ == "__main__":  # print the graph: python tests/test_architecture.py [ROOT]
    root = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    current = edges(collect_imports(root))
    print(render(current))
    print("cycle:", " -> ".join(find_cycle(current) or ["none"]))
    for line in layering_breaches(current):
        print("breach:", line)
