"""The terminal summary: per-pack table, metrics, failure breakdown, Quality line."""

from __future__ import annotations

from typing import Any

from ..session import LLMSession


def write_summary(tr: Any, llm: LLMSession) -> None:
    if not llm.active:
        return
    s = llm.summary
    tr.write_sep("=", "llmbench summary")
    if not s.total:
        tr.write_line("no llmbench scenario ran")
    else:
        for line in s.table_lines():
            tr.write_line(line)
        fails = s.failure_lines()
        if fails:
            tr.write_sep("-", "failure breakdown")
            for line in fails:
                tr.write_line(line)
        tr.write_line("")
        tr.write_line(s.quality_line(), bold=True)
    if llm.log_path is not None:
        tr.write_line(f"run log: {llm.log_path}")
