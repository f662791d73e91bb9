"""Run one scenario against an endpoint and judge it: the unit every front end uses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .endpoint import ChatParams, Endpoint, EndpointError, Params, Reply, Usage, request_params
from .exchange import Exchange, run_exchange, verify
from .responders import Answerer, endpoint_for
from .schema import AssistantTurn, Generation, PackMeta, Scenario
from .verifiers.base import Verdict
from .verifiers.context import NO_CONTEXT, VerifierContext
from .wire import build_body, response_record


@dataclass
class ChatResult:
    """One call as the run log keeps it: the endpoint's reply, completed by the caller
    (the request and response in the OpenAI shape, the latency)."""

    turn: AssistantTurn
    request: dict[str, Any]
    response: dict[str, Any]
    latency_s: float
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    retries: list[dict[str, Any]] = field(default_factory=list)
    stream: dict[str, Any] | None = None
    cached: bool = False
    replica: int | None = None

    @property
    def completion_tokens(self) -> int | None:
        if self.usage and isinstance(self.usage.get("completion_tokens"), int):
            return int(self.usage["completion_tokens"])
        return None


def ask(
    endpoint: Endpoint,
    messages: list[dict[str, Any]],
    params: Params,
    *,
    timeout_s: float | None = None,
) -> ChatResult:
    """One request; the record is completed with what the endpoint did not give."""
    t0 = time.perf_counter()
    reply = endpoint.chat(messages, params, timeout_s=timeout_s)
    latency = time.perf_counter() - t0
    if not isinstance(reply, Reply):
        raise TypeError(
            f"{type(endpoint).__name__}.chat returned {type(reply).__name__}, "
            "not a pytest_llmbench.Reply"
        )
    if not isinstance(reply.turn, AssistantTurn) or not isinstance(reply.usage, Usage):
        raise TypeError(
            f"{type(endpoint).__name__}.chat returned Reply({type(reply.turn).__name__}, "
            f"{type(reply.usage).__name__}), not Reply(AssistantTurn, Usage)"
        )
    return ChatResult(
        reply.turn,
        reply.request if reply.request is not None else build_body(messages, params),
        (
            reply.response
            if reply.response is not None
            else response_record(reply.turn, reply.usage, params.model)
        ),
        reply.latency_s if reply.latency_s is not None else latency,
        reply.usage.to_record(),
        reply.timings,
        list(reply.retries),
        reply.stream,
        reply.cached,
        reply.replica,
    )


@dataclass
class ScenarioResult:
    pack: str
    scenario: str
    calls: list[ChatResult] = field(default_factory=list)
    exchange: Exchange | None = None
    verdict: Verdict | None = None
    error: EndpointError | None = None
    wall_s: float = 0.0
    repeat: int | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.verdict is not None and self.verdict.passed

    @property
    def failure_mode(self) -> str | None:
        if self.error is not None:
            return self.error.failure_mode
        if self.verdict is None or self.verdict.passed:
            return None
        if self.exchange and any(t.finish_reason == "length" for t in self.exchange.raw_turns):
            return "token_limit"
        return "verifier_fail"

    @property
    def latency_s(self) -> float:
        return sum(c.latency_s for c in self.calls)

    @property
    def completion_tokens(self) -> int | None:
        toks = [c.completion_tokens for c in self.calls]
        if not toks or any(t is None for t in toks):
            return None
        return sum(t for t in toks if t is not None)


def generation_for(pack: PackMeta | None, scenario: Scenario) -> Generation:
    base = pack.generation if pack is not None else Generation()
    return base.merged(scenario.generation)


def generate(
    scenario: Scenario,
    pack: PackMeta | None,
    endpoint: Answerer,
    params: ChatParams,
    *,
    timeout_s: float | None = None,
    repeat: int | None = None,
) -> ScenarioResult:
    """Run the whole exchange (one task, however many turns). Endpoint failures end
    up in ``result.error``, not raised; the verdict comes later (:func:`judge`)."""
    res = ScenarioResult(pack.id if pack else "", scenario.id, repeat=repeat)
    gen = generation_for(pack, scenario)
    t0 = time.perf_counter()
    ep = endpoint_for(endpoint, scenario)

    def respond(messages: list[dict[str, Any]], sc: Scenario) -> AssistantTurn:
        # tools read per turn: an environment adds its built-in ones when validated
        result = ask(ep, messages, request_params(params, gen, sc.tools), timeout_s=timeout_s)
        res.calls.append(result)
        if result.completion_tokens is not None:
            return result.turn.model_copy(update={"usage_tokens": result.completion_tokens})
        return result.turn

    try:
        res.exchange = run_exchange(scenario, respond)
    except EndpointError as exc:
        res.error = exc
    res.wall_s = time.perf_counter() - t0
    return res


def judge(
    res: ScenarioResult,
    scenario: Scenario,
    pack: PackMeta | None,
    ctx: VerifierContext = NO_CONTEXT,
) -> ScenarioResult:
    """The verdict on a generated exchange; ``ctx`` holds the verifier's collaborators."""
    if res.exchange is not None and res.error is None:
        res.verdict = verify(scenario, pack, res.exchange, ctx)
    return res


def run_scenario(
    scenario: Scenario,
    pack: PackMeta | None,
    endpoint: Answerer,
    params: ChatParams,
    ctx: VerifierContext = NO_CONTEXT,
) -> ScenarioResult:
    """Ask, then verify. Endpoint failures end up in ``result.error``, not raised."""
    return judge(generate(scenario, pack, endpoint, params), scenario, pack, ctx)
