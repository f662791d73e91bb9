"""Per-run pytest hooks, registered by ``plugin.pytest_configure`` only when the run
uses llmbench; each hook is one call on the session object."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .collect import PackDir, is_pack_dir
from .core.record import RunRecord
from .session import LLMSession
from .xdist import is_worker, prefetch_scheduling


def _collects_at_exit(config: pytest.Config) -> bool:
    """pytest runs gc.collect() 5 times at clean-up, except in pytester's in-process
    runs (0): there the process goes on, and frozen objects would never be freed."""
    try:
        from _pytest.unraisableexception import gc_collect_iterations_key
    except ImportError:  # an older pytest: no collections to save
        return False
    return config.stash.get(gc_collect_iterations_key, 5) > 0


class LLMBenchPlugin:
    def __init__(self, session: LLMSession):
        self.llm = session

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        config = session.config
        collectonly = self.llm.cfg.collectonly
        if self.llm.active and not is_worker(config) and not collectonly:
            self.llm.recorder.start()  # --collect-only runs nothing and writes no run log
        if self.llm.active and not collectonly:
            self.llm.endpoints.warm_up()  # an xdist controller shares its findings with the workers
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

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # The items, packs and modules live until the process ends: the cyclic GC
        # need not scan them again (pytest's clean-up alone runs gc.collect() 5 times).
        if self.llm.active and _collects_at_exit(session.config):
            gc.freeze()

    @pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
    def pytest_collection_modifyitems_last(self, items: list[pytest.Item]) -> None:
        # trylast: after -m deselected; on xdist workers the warning reaches the controller
        from .collect import empty_selection_warning

        msg = empty_selection_warning(self.llm.config, items)
        if msg:
            warnings.warn(pytest.PytestWarning(msg), stacklevel=1)

    def pytest_report_header(self) -> str | None:
        return self.llm.header_line() if self.llm.active else None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        self.llm.recorder.annotate_report(item, report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "llmbench", None)
        if is_worker(self.llm.config):
            return
        if record is not None:  # a builtin dict: it may come from an xdist worker
            self.llm.recorder.fold(RunRecord.from_json(record))
        elif report.failed:
            self.llm.recorder.other_failures += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = self.llm.config
        if is_worker(config):
            if self.llm.active:  # before xdist sends workeroutput back
                config.workeroutput["llmbench"] = self.llm.worker_facts()  # type: ignore[attr-defined]
        elif self.llm.active:
            recorder = self.llm.recorder
            # -n: what no worker ran
            recorder.settle_stop(self.llm.stopped_early, session.testscollected)
            recorder.finish(exitstatus)
            session.exitstatus = recorder.exit_status(int(exitstatus))

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # What the run made (results, records, the run log) dies with the process:
        # one collection now (finalizers and unraisable exceptions still surface in
        # pytest's clean-up), then freeze, so the clean-up's collections are cheap.
        if self.llm.active and _collects_at_exit(config):
            gc.collect()
            gc.freeze()

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        # xdist's default for -n (and --dist load): our work stealing, see xdist.py
        if not self.llm.active or config.getvalue("dist") != "load":
            return None
        return prefetch_scheduling(config, log, self.llm.prefetch_reserve())

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        facts = self.llm.endpoints.probe_facts() if self.llm.active else None
        if facts is not None:
            node.workerinput["llmbench_probe"] = facts

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.llm.merge_worker_facts(getattr(node, "workeroutput", {}).get("llmbench"))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not is_worker(self.llm.config):
            from .report.terminal import write_summary

            write_summary(terminalreporter, self.llm)
