"""pytest-json-report bridge: the summary under the ``llmbench`` key."""

from __future__ import annotations

from typing import Any

from ..session import LLMSession


class JsonReportBridge:
    def __init__(self, session: LLMSession):
        self.llm = session

    def pytest_json_modifyreport(self, json_report: dict[str, Any]) -> None:
        # Built incrementally, so it is complete before json-report's sessionfinish.
        if self.llm.active:
            rec = self.llm.recorder
            summary = rec.summary.to_dict()
            summary["run_log"] = str(rec.log_path) if rec.log_path else None
            json_report["llmbench"] = summary
