"""The package's shape: no import cycle, no two modules with one name, no huge module.

The import graph is read from the sources (AST), so an import hidden inside a function
counts like one at the top: it is a cycle all the same, only deferred. Imports under
``if TYPE_CHECKING:`` never run and do not count.
"""

from __future__ import annotations

from pathlib import Path

from importgraph import PKG_DIR, build_graph, cycles, describe

MAX_LINES = 500
# A module may be longer when it is mostly data (a table, a word list) or one program that
# must run alone, and says so in a comment line at its top: this marker, then the reason.
LONG_MARKER = "# Long module:"


def test_the_package_has_no_import_cycle() -> None:
    graph = build_graph(PKG_DIR)
    assert len(graph) > 50  # the scan really saw the package
    found = [describe(graph, comp) for comp in cycles(graph)]
    assert not found, "import cycle(s):\n" + "\n".join(found)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_graph_sees_function_level_imports_and_skips_type_checking(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    _write(root, "__init__.py", "")
    _write(root, "sub/__init__.py", "")
    # a -> sub.b at the top, sub.b -> a inside a function: a cycle
    _write(root, "a.py", "from .sub import b\n")
    _write(root, "sub/b.py", "def f():\n    from .. import a\n    return a\n")
    # c -> d at the top, d -> c only for the type checker: no cycle
    _write(root, "c.py", "import pkg.d\n")
    _write(
        root,
        "d.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import X\n"
        "else:\n    import json\n",
    )
    # e -> f via an absolute from-import of a name defined in f (not a module)
    _write(root, "e.py", "from pkg.f import thing\n")
    _write(root, "f.py", "thing = 1\nclass K:\n    def m(self):\n        import pkg.e\n")
    graph = build_graph(root, "pkg")
    assert {e.target for e in graph["pkg.a"]} == {"pkg.sub.b"}
    assert {e.target for e in graph["pkg.sub.b"]} == {"pkg.a"}
    assert graph["pkg.d"] == []
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"], ["pkg.e", "pkg.f"]]
    loop = describe(graph, ["pkg.a", "pkg.sub.b"])
    assert "pkg.a -> pkg.sub.b (pkg/a.py:1)" in loop
    assert "pkg.sub.b -> pkg.a (pkg/sub/b.py:2)" in loop


def _line_counts() -> dict[str, int]:
    return {
        p.relative_to(PKG_DIR).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in PKG_DIR.rglob("*.py")
    }


def _justified(rel: str) -> bool:
    head = (PKG_DIR / rel).read_text(encoding="utf-8").splitlines()[:10]
    return any(line.startswith(LONG_MARKER) and len(line) > len(LONG_MARKER) + 10 for line in head)


def test_no_module_is_longer_than_the_limit_unless_it_says_why() -> None:
    counts = _line_counts()
    assert len(counts) > 50
    unexplained = sorted(
        f"{rel} ({n} lines)" for rel, n in counts.items() if n > MAX_LINES and not _justified(rel)
    )
    assert not unexplained, (
        f"modules above {MAX_LINES} lines: split them, or (mostly data) say why in a "
        f"'{LONG_MARKER} ...' line at the top: {unexplained}"
    )


def test_no_two_modules_share_a_name() -> None:
    seen: dict[str, list[str]] = {}
    for rel in _line_counts():
        name = rel.rpartition("/")[2]
        if name not in ("__init__.py", "__main__.py"):
            seen.setdefault(name, []).append(rel)
    clashes = {n: sorted(paths) for n, paths in seen.items() if len(paths) > 1}
    assert not clashes, clashes
