"""One scenario's exchange: ask, answer tool calls from mock results, repeat.

``Responder`` is anything that turns a conversation into the next assistant turn:
an HTTP endpoint, the in-process reference/junk endpoints, or a fixed answer list
(used to check references and counterexamples without any endpoint).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .output import Output, clean_turn
from .schema import AnswerSpec, AssistantTurn, MockResult, PackMeta, Scenario, answer_turns
from .verifiers.base import Verdict, build_verifier
from .verifiers.context import NO_CONTEXT, VerifierContext

Responder = Callable[[list[dict[str, Any]], Scenario], AssistantTurn]


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


def run_exchange(scenario: Scenario, respond: Responder) -> Exchange:
    """Drive the conversation. Exceptions from ``respond`` propagate (infra errors);
    turns completed so far stay in the returned object only on success."""
    if scenario.environment is not None:
        from .agent import run_agent_exchange

        return run_agent_exchange(scenario, respond)
    messages = scenario.initial_messages()
    ex = Exchange(messages=messages)
    mocks = MockTools(scenario.mock_tools)
    for _ in range(scenario.turn_limit()):
        turn = respond(list(messages), scenario)
        ex.raw_turns.append(turn)
        messages.append(turn.to_openai())
        if not turn.tool_calls or not scenario.mock_tools:
            break
        if turn.finish_reason == "length":
            break
        for i, call in enumerate(turn.tool_calls):
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id or f"call_{i}",
                    "name": call.name,
                    "content": mocks.answer(call.name, call.arguments),
                }
            )
    return ex


def replay_responder(answer: AnswerSpec) -> Responder:
    """Answers turn after turn from a fixed answer; repeats the last turn if asked more."""
    turns = answer_turns(answer)
    state = {"i": 0}

    def respond(messages: list[dict[str, Any]], scenario: Scenario) -> AssistantTurn:
        i = min(state["i"], len(turns) - 1)
        state["i"] += 1
        t = turns[i]
        return t.model_copy(update={"finish_reason": t.finish_reason or "stop"})

    return respond


def verify(
    scenario: Scenario,
    pack: PackMeta | None,
    exchange: Exchange,
    ctx: VerifierContext = NO_CONTEXT,
) -> Verdict:
    """Judge an exchange. ``ctx`` holds what the verifier may use: the sandbox for
    verifiers that execute code, the judge model."""
    verifier = build_verifier(scenario.verifier, scenario, pack)
    return verifier.check(exchange.output(), ctx)


def check_answer(
    scenario: Scenario,
    pack: PackMeta | None,
    answer: AnswerSpec,
    ctx: VerifierContext = NO_CONTEXT,
) -> Verdict:
    """Run a fixed answer through the exchange and the verifier (no endpoint)."""
    ex = run_exchange(scenario, replay_responder(answer))
    return verify(scenario, pack, ex, ctx)
