"""A conversation's parts shared by the plain exchange and the agent loop: the
finished :class:`Exchange`, the mock tool table and the answering callable."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .output import Output, clean_turn
from .schema import AssistantTurn, MockResult, Scenario

# Turns a conversation into the next assistant turn: the runner's endpoint call, or
# a fixed answer list (used to check references and counterexamples).
AnswerFn = Callable[[list[dict[str, Any]], Scenario], AssistantTurn]


def _args_of(raw: str | dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(raw, dict):
        return raw
    try:
        val = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return val if isinstance(val, dict) else None


class MockTools:
    """Answers tool calls from a scenario's ``mock_tools`` table."""

    def __init__(self, table: dict[str, list[MockResult]] | None):
        self.table = {k: list(v) for k, v in (table or {}).items()}
        self.used: set[tuple[str, int]] = set()

    def answer(self, name: str, raw_args: str | dict[str, Any]) -> str:
        if name not in self.table:
            return json.dumps({"error": f"unknown tool {name!r}"})
        args = _args_of(raw_args)
        if args is None:
            return json.dumps({"error": "arguments are not a valid JSON object"})
        for i, entry in enumerate(self.table[name]):
            if entry.once and (name, i) in self.used:
                continue
            if entry.when and any(args.get(k) != v for k, v in entry.when.items()):
                continue
            self.used.add((name, i))
            return entry.render()
        return json.dumps({"error": f"no result for {name} with these arguments"})


@dataclass
class Exchange:
    """The finished conversation: raw turns (as received) and the full message list."""

    raw_turns: list[AssistantTurn] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    # Final environment state and loop events (agent scenarios), JSON-able.
    state: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def output(self) -> Output:
        return Output(
            turns=[clean_turn(t) for t in self.raw_turns],
            messages=self.messages,
            raw_turns=list(self.raw_turns),
            state=self.state,
            events=self.events,
        )
