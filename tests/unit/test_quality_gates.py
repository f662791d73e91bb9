"""The source stays type-checked (mypy --strict) and lint-clean (ruff)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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
