"""The HTTP client against a real llama.cpp server (random-weights model)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from gguf_model import vocabulary

from pytest_llmbench.core.http_endpoint import HTTPEndpoint

pytestmark = pytest.mark.engine

# Enum arguments only: the grammar spells every character, so a random model cannot
# wander inside a free string until max_tokens.
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in Oslo.",
        "parameters": {
            "type": "object",
            "properties": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["unit"],
        },
    },
}


def token_id(text: str) -> int:
    tokens, _, _ = vocabulary()
    return tokens.index(text)


@pytest.fixture
def endpoint(llama_server: Any) -> Any:
    ep = HTTPEndpoint(llama_server.url, timeout_s=60)
    yield ep
    ep.close()


def ask(text: str, **extra: Any) -> dict[str, Any]:
    # ignore_eos (llama.cpp): the model sometimes ends a turn at once; these tests want text.
    body = {"messages": [{"role": "user", "content": text}], "temperature": 0, "ignore_eos": True}
    return {**body, **extra}


def test_models_gives_the_alias(endpoint: HTTPEndpoint) -> None:
    assert endpoint.probe() == "tiny"
    assert endpoint.dialect is None  # llama-server is not taken for Ollama


def test_props_is_llama_cpp_only_metadata(llama_server: Any) -> None:
    props = httpx.get(f"{llama_server.url}/props", timeout=10, trust_env=False).json()
    assert props["total_slots"] == 2
    assert "<tool_call>" in props["chat_template"]
    assert "temperature" in props["default_generation_settings"]["params"]


def test_chat_returns_content_usage_and_timings(endpoint: HTTPEndpoint) -> None:
    res = endpoint.send(ask("Say hello.", max_tokens=16))
    assert isinstance(res.turn.content, str) and res.turn.content
    assert res.turn.finish_reason == "length"
    assert res.usage.completion_tokens == 16
    assert (res.usage.prompt_tokens or 0) > 0
    assert res.timings is not None
    assert res.timings["predicted_n"] == res.usage.completion_tokens
    assert res.timings["predicted_per_second"] > 0


def test_greedy_output_is_repeatable(endpoint: HTTPEndpoint) -> None:
    a = endpoint.send(ask("Count to five.", max_tokens=24))
    b = endpoint.send(ask("Count to five.", max_tokens=24))
    assert a.turn.content == b.turn.content


@pytest.mark.parametrize("thinking", [True, False])
def test_thinking_switch_is_accepted(endpoint: HTTPEndpoint, thinking: bool) -> None:
    body = ask("Think first.", max_tokens=8, chat_template_kwargs={"enable_thinking": thinking})
    res = endpoint.send(body)
    assert res.response is not None
    assert res.response["choices"][0]["message"]["role"] == "assistant"
    assert res.usage is not None


def test_streaming_collects_the_same_turn(llama_server: Any) -> None:
    plain = HTTPEndpoint(llama_server.url, timeout_s=60)
    streaming = HTTPEndpoint(llama_server.url, timeout_s=60, stream=True)
    try:
        want = plain.send(ask("Stream this.", max_tokens=20))
        got = streaming.send(ask("Stream this.", max_tokens=20))
    finally:
        plain.close()
        streaming.close()
    assert got.turn.content == want.turn.content
    assert got.turn.finish_reason == want.turn.finish_reason
    assert got.usage.completion_tokens == 20


def test_required_tool_call_keeps_raw_arguments(endpoint: HTTPEndpoint) -> None:
    # A random model reaches a tool call only when the grammar forces one (tool_choice
    # "required"), the opening tag beats free text before it and end-of-turn is cheap.
    bias = {str(token_id("<tool_call>")): 40, str(token_id("<|im_end|>")): 40}
    body = ask(
        "What is the weather in Oslo?",
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=96,
        logit_bias=bias,
        ignore_eos=False,
    )
    res = endpoint.send(body)
    assert res.response is not None
    calls = res.turn.tool_calls
    assert calls, f"no tool call parsed: {res.response['choices'][0]}"
    assert calls[0].name == "get_weather"
    assert res.turn.finish_reason == "tool_calls"
    # The argument text is the server's, byte for byte (whitespace included).
    raw = res.response["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert isinstance(calls[0].arguments, str) and calls[0].arguments == raw
    assert json.loads(raw)["unit"] in ("celsius", "fahrenheit")
    assert calls[0].id
