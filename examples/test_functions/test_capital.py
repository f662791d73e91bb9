"""Scenarios written as plain pytest functions.

``@pytest.mark.llmbench(pack=...)`` counts a test in that pack's summary and run log,
next to YAML scenarios; ``reference=...`` is the answer the self-check endpoint
(``--llm-endpoint=reference``) gives, so the test can prove it passes a right answer.
The ``llm`` fixture talks to whatever ``--llm-endpoint`` points at.

    pytest examples/test_functions --llm-endpoint=http://127.0.0.1:8080
"""

from __future__ import annotations

import json
import re

import pytest

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.llmbench(pack="geography", reference="Canberra")
def test_capital_of_australia(llm):
    answer = llm.ask("What is the capital of Australia? Reply with the city name only.")
    assert answer.strip().rstrip(".").lower() == "canberra"


@pytest.mark.llmbench(pack="arithmetic", reference="3 * 8 + 2 * 6 = 36\nANSWER: 36")
def test_legs(llm):
    answer = llm.ask(
        "How many legs do 3 spiders and 2 ants have in total? End with a line `ANSWER: <number>`.",
        max_tokens=256,
    )
    found = re.findall(r"^ANSWER:\s*(-?\d+)\s*$", answer, flags=re.M)
    assert found, f"no `ANSWER: <number>` line in {answer!r}"
    assert int(found[-1]) == 36


@pytest.mark.llmbench(
    pack="geography",
    reference={"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
)
def test_weather_tool_call(llm):
    exchange = llm.chat("What's the weather in Oslo? Use the tool.", tools=[WEATHER_TOOL])
    calls = exchange.raw_turns[-1].tool_calls
    assert [c.name for c in calls] == ["get_weather"], f"tool calls: {calls}"
    # Arguments arrive as the raw JSON text the model wrote; parse them yourself.
    args = json.loads(calls[0].raw_arguments())
    assert isinstance(args, dict) and args.get("city") == "Oslo", f"arguments: {args!r}"
