"""Bring your own endpoint: override the ``llm_endpoint`` fixture.

Anything that can answer a chat request can be benchmarked: an SDK client, a local
pipeline, a rule-based program. Subclass ``pytest_llmbench.Endpoint``, implement
``chat(messages, params)`` returning a ``Reply`` (the assistant turn and token usage)
and return it from an ``llm_endpoint`` fixture in a conftest. Every scenario below
this folder (YAML packs and ``llm`` test functions) then asks it; the run log records
each call in the OpenAI shape and the latency is measured for you.

The plugin still switches on with ``--llm-endpoint`` (or the ``llm_endpoint`` ini key);
with this conftest its value only activates the run, the fixture decides who answers:

    cd examples/custom_endpoint && pytest packs --llm-endpoint=reference
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_llmbench import AssistantTurn, Endpoint, Params, Reply, Usage

MODEL_ID = "unit-converter-0.1"
FACTORS = {("km", "miles"): 0.621371, ("miles", "km"): 1.609344, ("kg", "lb"): 2.204623}


class UnitConverter(Endpoint):
    """An in-process "model": a program that answers unit conversion questions."""

    name = MODEL_ID
    in_process = True  # no network: the plugin runs it without concurrency or probing

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "in-process"}

    def probe(self) -> str | None:
        return MODEL_ID

    def answer(self, question: str) -> str:
        m = re.search(r"([\d.]+)\s*(km|miles|kg)\b.*?\b(km|miles|lb)\b", question, re.S)
        if not m or (m[2], m[3]) not in FACTORS:
            return "I can only convert km, miles and kg."
        value = float(m[1]) * FACTORS[(m[2], m[3])]
        return f"{m[1]} {m[2]} is {value:.2f} {m[3]}.\nANSWER: {value:.2f}"

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        user = [m for m in messages if m.get("role") == "user"]
        text = self.answer(str(user[-1]["content"]) if user else "")
        turn = AssistantTurn(content=text, finish_reason="stop")
        return Reply(turn, Usage(prompt_tokens=0, completion_tokens=len(text.split())))


@pytest.fixture(scope="session")
def llm_endpoint() -> Endpoint:
    return UnitConverter()
