"""Run one scenario against an endpoint and judge it: the unit every front end uses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .endpoint import ChatParams, ChatResult, Endpoint, EndpointError, build_body
from .exchange import Exchange, run_exchange, verify
from .schema import AssistantTurn, Generation, PackMeta, Scenario
from .verifiers.base import Verdict


@dataclass
class ScenarioResult:
    pack: str
    scenario: str
    calls: list[ChatResult] = field(default_factory=list)
    exchange: Exchange | None = None
    verdict: Verdict | None = None
    error: EndpointError | None = None
    wall_s: float = 0.0

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

    def to_record(self) -> dict[str, Any]:
        """Everything the run log keeps for this scenario (builtins only)."""
        v = self.verdict
        return {
            "pack": self.pack,
            "scenario": self.scenario,
            "passed": self.passed,
            "score": round(v.score, 6) if v is not None and self.error is None else 0.0,
            "failure_mode": self.failure_mode,
            "error": str(self.error) if self.error else None,
            "verdict": v.to_dict() if v is not None else None,
            "latency_s": round(self.latency_s, 6),
            "wall_s": round(self.wall_s, 6),
            "completion_tokens": self.completion_tokens,
            "calls": [
                {
                    "request": c.request,
                    "response": c.response,
                    "latency_s": round(c.latency_s, 6),
                    "usage": c.usage,
                    "timings": c.timings,
                }
                for c in self.calls
            ],
            "messages": self.exchange.messages if self.exchange else None,
        }


def generation_for(pack: PackMeta | None, scenario: Scenario) -> Generation:
    base = pack.generation if pack is not None else Generation()
    return base.merged(scenario.generation)


def run_scenario(
    scenario: Scenario,
    pack: PackMeta | None,
    endpoint: Endpoint,
    params: ChatParams,
) -> ScenarioResult:
    """Ask, then verify. Endpoint failures end up in ``result.error``, not raised."""
    res = ScenarioResult(pack.id if pack else "", scenario.id)
    gen = generation_for(pack, scenario)
    t0 = time.perf_counter()

    def respond(messages: list[dict[str, Any]], sc: Scenario) -> AssistantTurn:
        result = endpoint.chat(build_body(messages, sc, gen, params), sc)
        res.calls.append(result)
        return result.turn

    try:
        res.exchange = run_exchange(scenario, respond)
    except EndpointError as exc:
        res.error = exc
    res.wall_s = time.perf_counter() - t0
    if res.exchange is not None:
        res.verdict = verify(scenario, pack, res.exchange)
    return res
