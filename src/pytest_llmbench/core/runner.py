"""Run one scenario against an endpoint and judge it: the unit every front end uses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .endpoint import ChatParams, ChatResult, Endpoint, EndpointError, build_body
from .exchange import Exchange, run_exchange, verify
from .schema import AssistantTurn, Generation, PackMeta, Scenario
from .verifiers.base import Verdict
from .verifiers.context import NO_CONTEXT, VerifierContext


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
    endpoint: Endpoint,
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

    def respond(messages: list[dict[str, Any]], sc: Scenario) -> AssistantTurn:
        result = endpoint.chat(build_body(messages, sc, gen, params), sc, timeout_s)
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
    endpoint: Endpoint,
    params: ChatParams,
    ctx: VerifierContext = NO_CONTEXT,
) -> ScenarioResult:
    """Ask, then verify. Endpoint failures end up in ``result.error``, not raised."""
    return judge(generate(scenario, pack, endpoint, params), scenario, pack, ctx)
