"""``llmbench inspect``: a run log read back as a summary, a failure list or one exchange."""

from __future__ import annotations

import json
from typing import Any

from ..record import RunRecord, records_of
from .records import WorkflowError, reasoning_of, run_title, summary_for


def summary_lines(runlog: dict[str, Any]) -> list[str]:
    """The terminal summary again; one table per model for multi-model runs."""
    results = records_of(runlog)
    lines = [run_title(runlog), ""]
    if not results:
        return lines + ["no scenario records in this run log"]
    models = sorted({r.model for r in results if r.model})
    groups = [(m, [r for r in results if r.model == m]) for m in models]
    for model, recs in groups or [("", results)]:
        s = summary_for(recs)
        if model:
            lines.append(f"model {model}:")
        lines += s.table_lines()
        lines += ["", s.quality_line(), ""]
    return lines[:-1]


def _matches(rec: RunRecord, mode: str | None, failed: bool) -> bool:
    if failed and rec.passed:
        return False
    if mode is not None:
        return mode in (rec.failure_mode, rec.category)
    return True


def _one_line(rec: RunRecord, width: int = 160) -> str:
    if rec.passed:
        mode = "passed"
    else:
        mode = rec.failure_mode or "failed"
        if rec.category:
            mode += f"[{rec.category}]"
    detail = rec.reason.replace("\n", " ")
    if len(detail) > width:
        detail = detail[: width - 3] + "..."
    model = f" [{rec.model}]" if rec.model else ""
    return f"{rec.pack}::{rec.scenario}{model}  {mode}  score {rec.score:.2f}  {detail}"


def list_lines(
    runlog: dict[str, Any], *, failed: bool = False, mode: str | None = None
) -> list[str]:
    """One line per matching record, and a count."""
    recs = [r for r in records_of(runlog) if _matches(r, mode, failed)]
    what = "failed " if failed else ""
    if mode:
        what += f"'{mode}' "
    if not recs:
        return [f"no {what}scenarios"]
    lines = [_one_line(r) for r in recs]
    modes: dict[str, int] = {}
    for r in recs:
        m = r.failure_mode or "passed"
        modes[m] = modes.get(m, 0) + 1
    by = ", ".join(f"{k} {v}" for k, v in sorted(modes.items()))
    lines.append(f"{len(recs)} {what}scenario(s): {by}")
    return lines


def find_records(runlog: dict[str, Any], ident: str) -> list[RunRecord]:
    """Records matching a node id, ``pack::scenario`` or a bare scenario id."""
    recs = records_of(runlog)
    hit = [r for r in recs if r.nodeid == ident]
    if hit:
        return hit
    if "::" in ident:
        pack, _, sid = ident.partition("::")
        return [r for r in recs if r.pack == pack and r.scenario == sid]
    return [r for r in recs if r.scenario == ident]


def find_record(runlog: dict[str, Any], ident: str) -> RunRecord:
    hits = find_records(runlog, ident)
    if not hits:
        raise WorkflowError(f"no scenario {ident!r} in this run log")
    if len(hits) > 1:
        names = ", ".join(r.label for r in hits)
        raise WorkflowError(f"{ident!r} is ambiguous ({names}); give the node id")
    return hits[0]


def _block(title: str, text: str) -> list[str]:
    body = text.rstrip("\n")
    lines = [f"--- {title} ---"]
    lines += ["    " + ln for ln in body.splitlines()] if body else ["    (empty)"]
    return lines


def _message_text(msg: dict[str, Any]) -> str:
    parts = []
    content = msg.get("content")
    if isinstance(content, str):
        parts.append(content)
    elif content is not None:
        parts.append(json.dumps(content, ensure_ascii=False))
    for tc in msg.get("tool_calls") or []:
        fn = tc.get("function") or {} if isinstance(tc, dict) else {}
        parts.append(f"-> {fn.get('name')}({fn.get('arguments')})")
    return "\n".join(parts)


def detail_lines(rec: RunRecord, *, full: bool = False) -> list[str]:
    """One scenario: verdict first, then the conversation; ``full`` adds each raw request
    and response and the reasoning, exactly as the log holds them."""
    verdict = rec.verdict or {}
    lines = [_one_line(rec, width=10_000)]
    lines.append(
        f"pack {rec.pack} {rec.pack_version or ''}  node {rec.nodeid or '-'}"
        f"  latency {rec.latency_s} s  tokens {rec.completion_tokens}"
    )
    if rec.error:
        lines += _block("error", rec.error)
    for i, msg in enumerate(rec.messages or []):
        if not isinstance(msg, dict):
            continue
        role = msg.get("role", "?")
        lines += _block(f"message {i} {role}", _message_text(msg))
    if full:
        for n, call in enumerate(rec.calls, 1):
            lines += _block(
                f"call {n} request", json.dumps(call.get("request"), indent=1, ensure_ascii=False)
            )
            lines += _block(
                f"call {n} raw response",
                json.dumps(call.get("response"), indent=1, ensure_ascii=False),
            )
            reasoning = reasoning_of(call.get("response"))
            if reasoning:
                lines += _block(f"call {n} reasoning", reasoning)
    if verdict:
        lines += _block(
            "verdict",
            f"passed {verdict.get('passed')}  score {verdict.get('score')}  "
            f"category {rec.category}\n{rec.detail}",
        )
        lines += _block("verifier trace", "\n".join(rec.trace))
        if full and verdict.get("data"):
            lines += _block(
                "verifier data", json.dumps(verdict["data"], indent=1, ensure_ascii=False)
            )
    for h in rec.history:
        old = h.get("verdict") or {}
        lines.append(
            f"earlier verdict ({h.get('at', '?')}): passed {old.get('passed')} "
            f"score {old.get('score')}: {old.get('detail', '')}"
        )
    return lines
