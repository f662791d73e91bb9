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
        if s.models:
            tr.write_sep("-", "models side by side")
            for line in s.model_table_lines(llm.model_sizes):
                tr.write_line(line)
        fails = s.failure_lines()
        if fails:
            tr.write_sep("-", "failure breakdown")
            for line in fails:
                tr.write_line(line)
        if s.thinking_leaks:
            tr.write_line(
                f"THINKING LEAK: thinking was requested off but {len(s.thinking_leaks)} "
                f"scenario(s) returned reasoning: {', '.join(sorted(s.thinking_leaks)[:10])}",
                red=True,
            )
        extras = []
        if llm.speed and llm.speed.get("tokens_per_s"):
            extras.append(f"speed probe {llm.speed['tokens_per_s']:.1f} tok/s")
        if s.retries:
            extras.append(f"{s.retries} infrastructure retries (see run log)")
        if extras:
            tr.write_line("; ".join(extras))
        if llm.oracle:
            sus = s.suspects(llm.oracle)
            if sus:
                tr.write_sep("!", f"SUSPECT SCENARIO(S): the oracle {llm.oracle} failed {len(sus)}")
                for name in sus:
                    tr.write_line(f"SUSPECT SCENARIO {name}", yellow=True)
        tr.write_line("")
        tr.write_line(s.quality_line(), bold=True)
    if llm.log_path is not None:
        tr.write_line(f"run log: {llm.log_path}")
    sb = llm.header().get("sandbox")
    if isinstance(sb, dict):
        tr.write_line(f"sandbox: {sb.get('name')} ({sb.get('image') or 'host toolchains'})")
    if isinstance(sb, dict) and sb.get("unsafe"):
        tr.write_line(f"WARNING: {sb.get('warning') or 'code ran without a sandbox'}", red=True)
    if llm.gate_messages:
        tr.write_sep("!", "llmbench gates failed")
        for msg in llm.gate_messages:
            tr.write_line(msg, red=True)
    if llm.exit_reason:
        tr.write_line(f"llmbench {llm.exit_reason}", bold=True)
