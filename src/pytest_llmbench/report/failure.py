"""A failed scenario as a reader wants it: what was asked, what came back, why not."""

from __future__ import annotations

from ..core.runner import ScenarioResult
from ..core.schema import Scenario


def _clip(text: str, limit: int) -> str:
    text = text.rstrip()
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more chars]"


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines()) or prefix + "(empty)"


def format_failure(scenario: Scenario, res: ScenarioResult, limit: int = 1200) -> str:
    mode = res.failure_mode or "failed"
    v = res.verdict
    if v is not None and v.category:
        mode += f"[{v.category}]"
    head = res.verdict.detail if res.verdict is not None else str(res.error or "")
    lines = [f"{mode}: {head}"]
    lines.append("asked:")
    lines.append(_indent(_clip(scenario.user_text(), limit // 2)))
    out = res.exchange.output() if res.exchange else None
    if out is not None:
        for i, turn in enumerate(out.turns, 1):
            label = f"answer (turn {i})" if len(out.turns) > 1 else "answer"
            lines.append(f"{label}:")
            if turn.content:
                lines.append(_indent(_clip(turn.content, limit)))
            for call in turn.tool_calls:
                lines.append(f"    -> {call.name}({_clip(call.raw_arguments(), 300)})")
            if not turn.content and not turn.tool_calls and turn.reasoning:
                lines.append(
                    f"    (empty: the model only reasoned, {len(turn.reasoning)} chars of "
                    "reasoning and no answer after it)"
                )
            elif not turn.content and not turn.tool_calls:
                lines.append("    (empty)")
            if turn.finish_reason and turn.finish_reason != "stop":
                lines.append(f"    finish_reason: {turn.finish_reason}")
    if v is not None:
        lines.append(f"verdict: score {v.score:.2f}: {v.detail}")
        trace = v.trace()
        if trace:
            lines.append("checks:")
            lines.extend("    " + t for t in trace[:40])
            if len(trace) > 40:
                lines.append(f"    ... {len(trace) - 40} more")
    return "\n".join(lines)
