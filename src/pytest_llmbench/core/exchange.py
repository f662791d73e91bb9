"""One scenario's exchange: ask, answer tool calls from mock results, repeat.

``AnswerFn`` is anything that turns a conversation into the next assistant turn:
the runner's endpoint call, or a fixed answer list (used to check references and
counterexamples without any endpoint). Agent scenarios go to core.loop.
"""

from __future__ import annotations

from typing import Any

from .conversation import AnswerFn, Exchange, MockTools
from .schema import AnswerSpec, AssistantTurn, PackMeta, Scenario, answer_turns
from .verifiers.base import Verdict, build_verifier
from .verifiers.context import NO_CONTEXT, VerifierContext

__all__ = [
    "AnswerFn",
    "Exchange",
    "MockTools",
    "check_answer",
    "replay_responder",
    "run_exchange",
    "verify",
]


def run_exchange(scenario: Scenario, respond: AnswerFn) -> Exchange:
    """Drive the conversation. Exceptions from ``respond`` propagate (infra errors);
    turns completed so far stay in the returned object only on success."""
    if scenario.environment is not None:
        # imported here: the agent loop and its environments cost start-up time
        from .loop import run_agent_exchange

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


def replay_responder(answer: AnswerSpec) -> AnswerFn:
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
