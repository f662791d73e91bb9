from __future__ import annotations

from pathlib import Path

import pytest

from demopack import write_pack


@pytest.fixture
def demo(pytester: pytest.Pytester, request: pytest.FixtureRequest) -> Path:
    """The test module's ``PACK`` scenarios as the pack ``demo`` under ``packs/``."""
    return write_pack(pytester.path, request.module.PACK)
