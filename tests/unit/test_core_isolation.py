"""The core must stay publishable without pytest."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest_llmbench

CORE = Path(pytest_llmbench.__file__).parent / "core"


def test_core_sources_never_import_pytest() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for n in names:
                if n.split(".")[0] in ("pytest", "_pytest", "xdist", "pluggy"):
                    offenders.append(f"{path.name}:{node.lineno} imports {n}")
    assert not offenders, offenders
    assert len(list(CORE.rglob("*.py"))) > 10  # the scan really saw the core


def test_importing_the_core_loads_no_pytest() -> None:
    code = (
        "import sys\n"
        "import pytest_llmbench.core.endpoint, pytest_llmbench.core.runner\n"
        "import pytest_llmbench.core.selfcheck, pytest_llmbench.core.runlog\n"
        "from pytest_llmbench.core.verifiers import registered\n"
        "assert len(registered()) >= 5\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')]\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "clean" in out.stdout


def test_package_import_has_no_side_effects() -> None:
    code = (
        "import sys, threading\n"
        "before = threading.active_count()\n"
        "import pytest_llmbench, pytest_llmbench.plugin\n"
        "assert threading.active_count() == before\n"
        "heavy = [m for m in ('httpx', 'pydantic', 'yaml', 'docker', 'jsonschema')\n"
        "         if m in sys.modules]\n"
        "assert not heavy, heavy  # an unrelated suite must not pay for them\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_core_never_imports_the_plugin_layer() -> None:
    """The core is the lower layer: nothing in it imports the session, the fixtures or
    any other plugin-layer module, at the top or inside a function."""
    from importgraph import PKG, PKG_DIR, build_graph

    graph = build_graph(PKG_DIR)
    core = f"{PKG}.core"
    up = [
        f"{mod} -> {e.target} ({e.where})"
        for mod, edges in graph.items()
        if mod == core or mod.startswith(core + ".")
        for e in edges
        if e.target != core and not e.target.startswith(core + ".")
    ]
    assert sum(m.startswith(core) for m in graph) > 50
    assert not up, up


# Programs that run inside a sandbox, sent in as source: they import nothing from the
# package (the Docker runner only the two modules it is joined with), and nothing
# imports the ones that are never more than a program.
SANDBOX_PROGRAMS = {
    "core.sandbox._supervise": set(),
    "core.sandbox._seccomp": set(),
    "core.sandbox._docker_init": set(),
    "core.sandbox._docker_runner": {"core.sandbox._supervise", "core.sandbox._seccomp"},
    "core.verifiers.runners.py_serve": set(),
    "core.verifiers.runners.py_tests": set(),
    "core.verifiers.runners.shell_run": set(),
}
PROGRAM_ONLY = {"core.sandbox._docker_init", "core.sandbox._docker_runner"}


def test_sandbox_programs_import_nothing_from_the_package() -> None:
    from importgraph import PKG, PKG_DIR, build_graph

    graph = build_graph(PKG_DIR)
    for short, allowed in SANDBOX_PROGRAMS.items():
        mod = f"{PKG}.{short}"
        assert mod in graph, mod  # the program is still there under this name
        got = {e.target.removeprefix(PKG + ".") for e in graph[mod]}
        assert got == allowed, (short, got)
    for mod, edges in graph.items():
        for e in edges:
            assert e.target.removeprefix(PKG + ".") not in PROGRAM_ONLY, (mod, e)
