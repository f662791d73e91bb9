"""The import graph of a package, read from its sources (AST).

An import inside a function counts like one at the top (it is a cycle all the same,
only deferred); imports under ``if TYPE_CHECKING:`` never run and do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest_llmbench

PKG_DIR = Path(pytest_llmbench.__file__).resolve().parent
PKG = "pytest_llmbench"


@dataclass(frozen=True)
class Edge:
    target: str
    where: str  # file:line of the import


def _modules(root: Path, pkg: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [pkg, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth, except under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for stmt in child.orelse:
                yield from _imports_in(stmt)
            continue
        yield from _imports_in(child)


def _imports_in(stmt: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        yield stmt
    yield from _imports(stmt)


def build_graph(root: Path, pkg: str = PKG) -> dict[str, list[Edge]]:
    """Module -> the package's modules it imports (the most specific module named:
    ``from .a import b`` is an edge to ``a.b`` when that is a module, else to ``a``)."""
    mods = _modules(root, pkg)

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, list[Edge]] = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        here = name if is_pkg else name.rpartition(".")[0]
        edges: list[Edge] = []
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names if a.name.split(".")[0] == pkg]
            else:
                if node.level:
                    up = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    base = ".".join([*up, node.module] if node.module else up)
                else:
                    base = node.module or ""
                if base.split(".")[0] != pkg:
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in mods else known(base))
            for t in targets:
                if t is not None and t != name:
                    edges.append(Edge(t, where))
        graph[name] = edges
    return graph


def cycles(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for e in graph.get(v, []):
            if e.target not in index:
                visit(e.target)
                low[v] = min(low[v], low[e.target])
            elif e.target in on_stack:
                low[v] = min(low[v], index[e.target])
        if low[v] == index[v]:
            comp: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def describe(graph: dict[str, list[Edge]], comp: list[str]) -> str:
    """One concrete loop through the component, each step with the import's file:line."""
    members = set(comp)
    start = comp[0]
    # breadth-first from start back to start, staying inside the component
    prev: dict[str, tuple[str, Edge]] = {}
    frontier = [start]
    found: Edge | None = None
    last = start
    while frontier and found is None:
        nxt: list[str] = []
        for v in frontier:
            for e in graph[v]:
                if e.target == start:
                    found, last = e, v
                    break
                if e.target in members and e.target not in prev:
                    prev[e.target] = (v, e)
                    nxt.append(e.target)
            if found is not None:
                break
        frontier = nxt
    assert found is not None
    steps = [f"{short_name(last)} -> {short_name(start)} ({found.where})"]
    v = last
    while v != start:
        p, e = prev[v]
        steps.append(f"{short_name(p)} -> {short_name(v)} ({e.where})")
        v = p
    return "; ".join(reversed(steps))


def short_name(name: str) -> str:
    return name.removeprefix(PKG + ".")
