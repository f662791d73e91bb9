"""The terminal summary: per-pack table, metrics, failure breakdown, Quality line."""

from __future__ import annotations

from typing import Any

from ..core.summary import ERROR_MODES
from ..session import LLMSession


def infra_lines(failures: list[dict[str, Any]]) -> list[str]:
    """One line per distinct infrastructure problem (e.g. no sandbox on this host),
    however many scenarios it hit: the cause once, not once per item."""
    groups: dict[tuple[str, str], int] = {}
    for f in failures:
        mode = str(f.get("failure_mode") or "")
        if mode not in ERROR_MODES:
            continue
        detail = str(f.get("detail") or "").strip().splitlines()
        text = detail[0] if detail else ""
        text = text.removeprefix(f"{mode}: ").removesuffix(" (detected once at first use)")
        groups[(mode, text)] = groups.get((mode, text), 0) + 1
    return [
        f"ERROR {mode} in {n} scenario(s): {text}"
        for (mode, text), n in sorted(groups.items(), key=lambda kv: -kv[1])
    ]


def write_summary(tr: Any, llm: LLMSession) -> None:
    if not llm.active:
        return
    rec = llm.recorder
    s = rec.summary
    tr.write_sep("=", "llmbench summary")
    if not s.total:
        tr.write_line("no llmbench scenario ran")
    else:
        for line in s.table_lines():
            tr.write_line(line)
        if s.models:
            tr.write_sep("-", "models side by side")
            for line in s.model_table_lines(dict(llm.cfg.model_sizes)):
                tr.write_line(line)
        for line in infra_lines(s.failures):
            tr.write_line(line, red=True)
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
        speed = llm.endpoints.speed
        if speed and speed.get("tokens_per_s"):
            extras.append(f"speed probe {speed['tokens_per_s']:.1f} tok/s")
        if s.retries:
            extras.append(f"{s.retries} infrastructure retries (see run log)")
        if extras:
            tr.write_line("; ".join(extras))
        if llm.cfg.oracle:
            sus = s.suspects(llm.cfg.oracle)
            if sus:
                tr.write_sep(
                    "!", f"SUSPECT SCENARIO(S): the oracle {llm.cfg.oracle} failed {len(sus)}"
                )
                for name in sus:
                    tr.write_line(f"SUSPECT SCENARIO {name}", yellow=True)
        tr.write_line("")
        tr.write_line(s.quality_line(), bold=True)
    if rec.log_path is not None:
        tr.write_line(f"run log: {rec.log_path}")
    sb = llm.run_facts().get("sandbox")
    if isinstance(sb, dict):
        tr.write_line(f"sandbox: {sb.get('name')} ({sb.get('image') or 'host toolchains'})")
    if isinstance(sb, dict) and sb.get("unsafe"):
        tr.write_line(f"WARNING: {sb.get('warning') or 'code ran without a sandbox'}", red=True)
    if rec.gate_messages:
        tr.write_sep("!", "llmbench gates failed")
        for msg in rec.gate_messages:
            tr.write_line(msg, red=True)
    for note in rec.gate_notes:
        tr.write_line(f"llmbench baseline: {note}", yellow=True)
    if rec.exit_reason:
        tr.write_line(f"llmbench {rec.exit_reason}", bold=True)
