"""pytest hooks: each translates a pytest event into one call on the session object.

Module-level hooks only add options and create the session; the per-run hooks live
on :class:`LLMBenchPlugin`, registered in ``pytest_configure`` with the session.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import options
from .collect import PackDir, is_pack_dir
from .fixtures import llm, llm_endpoint, llm_sandbox  # noqa: F401  (plugin fixtures)
from .session import SESSION_KEY, LLMSession
from .xdist import is_worker


def pytest_addoption(parser: pytest.Parser) -> None:
    options.addoption(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "llmbench(pack=None, reference=None): count this test in an llmbench pack"
    )
    config.addinivalue_line("markers", "sandbox: the scenario runs model-written code")
    session = LLMSession(config)
    config.stash[SESSION_KEY] = session
    if config.option.llm_judge_url:
        session.configure_judge()
    session.add_builtin_args()
    config.pluginmanager.register(LLMBenchPlugin(session), "llmbench-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    llm_session = config.stash.get(SESSION_KEY, None)
    if llm_session is not None:
        llm_session.close()


class LLMBenchPlugin:
    def __init__(self, session: LLMSession):
        self.llm = session

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        config = session.config
        if self.llm.active and not is_worker(config):
            self.llm.start()
        # json-report adds its hook specs in its own configure, only when enabled.
        if getattr(config, "_json_report", None) is not None and not is_worker(config):
            from .report.jsonreport import JsonReportBridge

            config.pluginmanager.register(JsonReportBridge(self.llm), "llmbench-json-report")

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(
        self, path: Path, parent: pytest.Collector
    ) -> pytest.Collector | None:
        if not self.llm.active or not is_pack_dir(path):
            return None
        return PackDir.from_parent(parent, path=path, nodeid=self.llm.pack_nodeid(path))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.llm.check_selection(items)

    def pytest_report_header(self) -> str | None:
        return self.llm.header_line() if self.llm.active else None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        self.llm.annotate_report(item, report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "llmbench", None)
        if record is not None and not is_worker(self.llm.config):
            self.llm.fold(record)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not is_worker(self.llm.config) and self.llm.finish(exitstatus):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not is_worker(self.llm.config):
            from .report.terminal import write_summary

            write_summary(terminalreporter, self.llm)
