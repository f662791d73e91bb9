"""What a verifier sees: the assistant turns of one exchange, thinking separated."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .schema import AssistantTurn, ToolCall

_THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def split_thinking(text: str | None) -> tuple[str, str]:
    """Return (answer, reasoning) with every ``<think>`` block moved out of the answer.

    Handles an unclosed ``<think>`` (everything after it is reasoning) and a lone
    ``</think>`` (templates that open the block in the prompt: what precedes it is
    reasoning)."""
    if not text:
        return "", ""
    reasoning: list[str] = [m.group(1).strip() for m in _THINK_BLOCK.finditer(text)]
    answer = _THINK_BLOCK.sub("", text)
    if "<think>" in answer:
        head, _, tail = answer.partition("<think>")
        reasoning.append(tail.strip())
        answer = head
    if "</think>" in answer:
        head, _, tail = answer.rpartition("</think>")
        reasoning.insert(0, head.strip())
        answer = tail
    return answer.strip(), "\n\n".join(r for r in reasoning if r)


def clean_turn(turn: AssistantTurn) -> AssistantTurn:
    """The turn as verifiers see it: content without thinking, reasoning merged."""
    answer, inline = split_thinking(turn.content)
    reasoning = "\n\n".join(r for r in (turn.reasoning or "", inline) if r)
    return AssistantTurn(
        content=answer,
        reasoning=reasoning or None,
        tool_calls=turn.tool_calls,
        finish_reason=turn.finish_reason,
    )


@dataclass
class Output:
    """One finished exchange. ``turns`` are cleaned assistant turns, in order;
    ``messages`` is the whole conversation in OpenAI wire format (raw content)."""

    turns: list[AssistantTurn]
    messages: list[dict[str, Any]] = field(default_factory=list)
    # The turns exactly as received (thinking not split), for leak checks.
    raw_turns: list[AssistantTurn] = field(default_factory=list)
    # Final environment state and loop events of agent scenarios.
    state: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_turns(cls, turns: list[AssistantTurn]) -> Output:
        return cls(turns=[clean_turn(t) for t in turns], raw_turns=list(turns))

    @property
    def text(self) -> str:
        """The final answer text (last turn, thinking removed)."""
        return (self.turns[-1].content or "") if self.turns else ""

    @property
    def reasoning(self) -> str:
        return "\n\n".join(t.reasoning for t in self.turns if t.reasoning)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [c for t in self.turns for c in t.tool_calls]

    @property
    def finish_reason(self) -> str | None:
        return self.turns[-1].finish_reason if self.turns else None
