"""The source stays type-checked (mypy --strict) and lint-clean (ruff)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_clean() -> None:
    if shutil.which("ruff") is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    res = _run("ruff", "check", "src", "tests")
    assert res.returncode == 0, res.stdout[-3000:]


def test_mypy_strict_clean() -> None:
    pytest.importorskip("mypy")
    res = _run(sys.executable, "-m", "mypy", "--no-error-summary")
    assert res.returncode == 0, res.stdout[-3000:]


def _mypy_config() -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        tomllib = pytest.importorskip("tomli")
    with open(REPO / "pyproject.toml", "rb") as fh:
        cfg: dict[str, Any] = tomllib.load(fh)["tool"]["mypy"]
    return cfg


def test_mypy_covers_the_source_strictly_and_the_tests() -> None:
    cfg = _mypy_config()
    assert cfg["strict"] is True
    assert set(cfg["files"]) == {"src/pytest_llmbench", "tests"}
    # the relaxed override names only test modules, never the package
    for override in cfg.get("overrides", []):
        if override.get("disallow_untyped_defs") is False:
            assert not any(m.startswith("pytest_llmbench") for m in override["module"])


def test_the_wheel_ships_py_typed_and_every_module(tmp_path: Path) -> None:
    """A typed package: the marker and all sources in the built wheel (hatch's own
    builder, offline, from this checkout)."""
    wheel_builder = pytest.importorskip("hatchling.builders.wheel")
    built = list(wheel_builder.WheelBuilder(str(REPO)).build(directory=str(tmp_path)))
    assert len(built) == 1
    with zipfile.ZipFile(built[0]) as zf:
        names = set(zf.namelist())
    assert "pytest_llmbench/py.typed" in names
    pkg = REPO / "src" / "pytest_llmbench"
    sources = {
        f"pytest_llmbench/{p.relative_to(pkg).as_posix()}"
        for p in pkg.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert len(sources) > 50
    assert sources <= names, sorted(sources - names)
