"""The junk answer set: every scenario must fail every one of these."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from .schema import AssistantTurn, Scenario, ToolCall

JUNK_KINDS = ("empty", "dot", "echo", "refusal", "random_json", "random_tool_call")

REFUSAL = "I'm sorry, but I can't help with that request."


def _rng(seed_id: str, kind: str) -> random.Random:
    seed = hashlib.sha256(f"{seed_id}:{kind}".encode()).hexdigest()
    return random.Random(int(seed[:16], 16))


def junk_turn(scenario: Scenario, kind: str) -> AssistantTurn:
    """A deterministic junk answer of the given kind for this scenario."""
    return junk_answer(kind, scenario.id, scenario.user_text(), scenario.tools)


def junk_answer(
    kind: str, seed_id: str, user_text: str, tools: list[dict[str, Any]] | None
) -> AssistantTurn:
    """A deterministic junk answer: ``seed_id`` seeds the random kinds, ``echo``
    repeats ``user_text``, ``random_tool_call`` names one of ``tools``."""
    rng = _rng(seed_id, kind)
    if kind == "empty":
        return AssistantTurn(content="")
    if kind == "dot":
        return AssistantTurn(content=".")
    if kind == "echo":
        return AssistantTurn(content=user_text)
    if kind == "refusal":
        return AssistantTurn(content=REFUSAL)
    if kind == "random_json":
        words = ["alpha", "beta", "gamma", "delta", "omega", "value", "item"]
        obj: dict[str, object] = {rng.choice(words): rng.randint(0, 999) for _ in range(3)}
        obj["list"] = [rng.random() for _ in range(2)]
        return AssistantTurn(content=json.dumps(obj))
    if kind == "random_tool_call":
        names = [t.get("function", {}).get("name", "") for t in tools or [] if isinstance(t, dict)]
        names = [n for n in names if n] or ["search"]
        args = {"value": rng.choice(["lorem", "ipsum", "x"]), "n": rng.randint(0, 99)}
        return AssistantTurn(
            content=None, tool_calls=[ToolCall(name=rng.choice(names), arguments=args, id="call_0")]
        )
    raise ValueError(f"unknown junk kind {kind!r} (known: {', '.join(JUNK_KINDS)})")


def default_kind(scenario: Scenario) -> str:
    """The junk kind the junk endpoint uses for a scenario when none is named."""
    return kind_for(scenario.id)


def kind_for(seed_id: str) -> str:
    h = int(hashlib.sha256(seed_id.encode()).hexdigest()[:8], 16)
    return JUNK_KINDS[h % len(JUNK_KINDS)]
