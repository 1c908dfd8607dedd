"""The layering of the packages, read from the source (ARCHITECTURE.md: "depends on").

Every ``import`` of every module under ``appliance/``, ``api/`` and ``recorder/`` counts, also
one inside a function or under ``TYPE_CHECKING``: a lazy import hides a dependency, it does not
remove it. The rules:

1. ``appliance`` (the domain core) imports neither ``api`` nor ``recorder``; they plug in
   through entry points.
2. ``recorder`` does not import ``api``.
3. No import cycle between packages. A node is ``<top>.<sub>``: a subpackage
   (``appliance.vault``) or a module (``appliance.context``); a cycle inside one node is its own
   business. Every strongly connected component larger than one node is reported with the
   imports that form it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__: list[str] = []

REPO = Path(__file__).resolve().parents[1]
TOPS = ("appliance", "api", "recorder")
# Which top-level package may not import which.
FORBIDDEN = {"appliance": {"api", "recorder"}, "recorder": {"api"}}


@dataclass(frozen=True)
class Import:
    """One import statement: ``source`` module imports ``target`` (``file:line`` in ``where``)."""

    source: str
    target: str
    where: str


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    """Whether ``name`` is a module or package of ours (not a name defined in one)."""
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_in(text: str, module: str, is_package: bool, filename: str) -> list[Import]:
    """The imports of our packages in the source ``text`` of ``module``."""
    tree = ast.parse(text, filename=filename)
    found: list[Import] = []
    for node in ast.walk(tree):  # every import, at any depth (functions, TYPE_CHECKING)
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, where) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                # ``from appliance.vault import registry`` imports the module registry.
                found.append(Import(module, full if _is_module(full) else base, where))
    return [i for i in found if i.target.split(".")[0] in TOPS]


def _imports_of(path: Path) -> list[Import]:
    text = path.read_text(encoding="utf-8")
    name = str(path.relative_to(REPO))
    return imports_in(text, _module_name(path), path.name == "__init__.py", name)


def _all_imports() -> list[Import]:
    found: list[Import] = []
    for top in TOPS:
        for path in sorted((REPO / top).rglob("*.py")):
            found += _imports_of(path)
    return found


def node_of(module: str) -> str:
    """``appliance.vault._vault`` -> ``appliance.vault``; ``appliance`` stays ``appliance``."""
    parts = module.split(".")
    return ".".join(parts[:2])


def layer_violations(imports: list[Import]) -> list[str]:
    return sorted(
        f"{i.where}: {i.source} imports {i.target}"
        for i in imports
        if i.target.split(".")[0] in FORBIDDEN.get(i.source.split(".")[0], set())
    )


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components of ``graph``, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop(0)
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def package_cycles(imports: list[Import]) -> list[str]:
    """Each package cycle, as its nodes and every import between them that forms it."""
    graph: dict[str, set[str]] = defaultdict(set)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for i in imports:
        source, target = node_of(i.source), node_of(i.target)
        if source != target:
            graph[source].add(target)
            edges[source, target].append(i.where)
    reports = []
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        members = set(component)
        lines = [f"cycle between {', '.join(component)}:"]
        for (source, target), wheres in sorted(edges.items()):
            if source in members and target in members:
                lines.append(f"  {source} -> {target}  ({', '.join(sorted(set(wheres)))})")
        reports.append("\n".join(lines))
    return reports


def test_the_core_imports_neither_api_nor_recorder_and_recorder_not_api() -> None:
    violations = layer_violations(_all_imports())
    assert not violations, "imports against the layering:\n" + "\n".join(violations)


def test_no_import_cycle_between_packages() -> None:
    cycles = package_cycles(_all_imports())
    assert not cycles, "package import cycles:\n" + "\n".join(cycles)


# -- the checker itself ------------------------------------------------------------------------


def _imp(source: str, target: str) -> Import:
    return Import(source, target, f"{source}.py:1")


def test_the_checker_sees_every_import_at_any_depth() -> None:
    text = (
        "from typing import TYPE_CHECKING\n"
        "from . import registry\n"
        "from .. import clock\n"
        "from ..ledger import EventType\n"
        "if TYPE_CHECKING:\n"
        "    from appliance.context import AppContext\n"
        "def f() -> None:\n"
        "    import api.app\n"
    )
    imports = imports_in(text, "appliance.vault.control", False, "control.py")
    assert [(i.target, i.where) for i in imports] == [
        ("appliance.vault.registry", "control.py:2"),
        ("appliance.clock", "control.py:3"),
        ("appliance.ledger", "control.py:4"),
        ("appliance.context", "control.py:6"),
        ("api.app", "control.py:8"),
    ]
    assert _imports_of(REPO / "appliance" / "context.py"), "the real files are read too"


def test_the_checker_reports_layer_violations() -> None:
    imports = [
        _imp("appliance.vault.control", "api.deps"),
        _imp("recorder.worker", "api.app"),
        _imp("recorder.worker", "appliance.ledger"),
        _imp("api.routes.ledger", "appliance.ledger"),
    ]
    assert layer_violations(imports) == [
        "appliance.vault.control.py:1: appliance.vault.control imports api.deps",
        "recorder.worker.py:1: recorder.worker imports api.app",
    ]


def test_the_checker_reports_each_cycle_with_its_edges() -> None:
    imports = [
        _imp("appliance.context", "appliance.vault"),
        _imp("appliance.vault.registry", "appliance.context"),
        _imp("appliance.vault.registry", "appliance.vault._vault"),  # inside one node
        _imp("appliance.ledger.daemon", "appliance.clock"),  # no way back
        _imp("api.a", "api.b"),
        _imp("api.b.x", "api.c"),
        _imp("api.c", "api.a"),
    ]
    assert package_cycles(imports) == [
        "cycle between api.a, api.b, api.c:\n"
        "  api.a -> api.b  (api.a.py:1)\n"
        "  api.b -> api.c  (api.b.x.py:1)\n"
        "  api.c -> api.a  (api.c.py:1)",
        "cycle between appliance.context, appliance.vault:\n"
        "  appliance.context -> appliance.vault  (appliance.context.py:1)\n"
        "  appliance.vault -> appliance.context  (appliance.vault.registry.py:1)",
    ]


@pytest.mark.parametrize(
    ("module", "node"),
    [
        ("appliance", "appliance"),
        ("appliance.context", "appliance.context"),
        ("appliance.ledger.daemon", "appliance.ledger"),
        ("api.routes.ledger", "api.routes"),
    ],
)
def test_node_of(module: str, node: str) -> None:
    assert node_of(module) == node
