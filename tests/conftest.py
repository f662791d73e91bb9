from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import FakeServer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PACKS = REPO / "packs"


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("LLMBENCH_"):
            monkeypatch.delenv(k)
