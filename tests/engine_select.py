"""Whether a run reaches the engine tests (shared by tests/conftest.py and its tests;
a module of its own because `from conftest import` finds whichever conftest was
imported first, e.g. tests/engine/conftest.py under xdist)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENGINE_DIR = REPO / "tests" / "engine"


def engine_tests_selected(config: pytest.Config) -> bool:
    """Would this run reach tests/engine (by its paths, and not `-m "not engine"`)?"""
    if "not engine" in str(config.option.markexpr or ""):
        return False
    for arg in config.args:
        p = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if p == ENGINE_DIR or ENGINE_DIR in p.parents or p in ENGINE_DIR.parents:
            return True
    return False
