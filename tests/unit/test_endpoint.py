"""The HTTP endpoint client against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from fakeserver import FakeServer, chat_reply
from pytest_llmbench.core.endpoint import ChatParams, EndpointError, Params, request_params
from pytest_llmbench.core.endpoint_kinds import make_endpoint
from pytest_llmbench.core.http_endpoint import HTTPEndpoint
from pytest_llmbench.core.junk import JUNK_KINDS
from pytest_llmbench.core.record import RunRecord
from pytest_llmbench.core.responders import JunkResponder, ReferenceResponder
from pytest_llmbench.core.runner import run_scenario
from pytest_llmbench.core.schema import Generation, PackMeta, Scenario
from pytest_llmbench.core.wire import build_body


def _scenario(**kw: object) -> Scenario:
    data: dict[str, object] = {
        "id": "s1",
        "prompt": "Say hello",
        "verifier": {"type": "exact", "value": "hello", "ignore_case": True},
        "reference": "hello",
        "counterexamples": ["hi", "hello there"],
    }
    data.update(kw)
    return Scenario.model_validate(data)


def test_content_usage_timings_and_latency(fake_server: FakeServer) -> None:
    fake_server.script = lambda body: (
        200,
        chat_reply(
            "hello",
            usage={"prompt_tokens": 3, "completion_tokens": 1},
            timings={"predicted_per_second": 50.0},
        ),
        {},
    )
    ep = HTTPEndpoint(fake_server.url)
    res = ep.chat([{"role": "user", "content": "x"}], Params(max_tokens=5))
    assert fake_server.chat_requests()[-1]["max_tokens"] == 5
    assert res.turn.content == "hello"
    assert res.turn.finish_reason == "stop"
    assert res.usage.completion_tokens == 1 and res.usage.prompt_tokens == 3
    assert res.timings == {"predicted_per_second": 50.0}
    assert res.latency_s is not None and res.latency_s > 0
    ep.close()


def test_model_defaults_to_first_listed(fake_server: FakeServer) -> None:
    fake_server.models = ["qwen-tiny", "other"]
    assert HTTPEndpoint(fake_server.url + "/v1").probe() == "qwen-tiny"


def test_reasoning_content_and_inline_think(fake_server: FakeServer) -> None:
    fake_server.script = lambda body: (
        200,
        chat_reply("<think>hmm, greet</think>hello", reasoning="plan: greet"),
        {},
    )
    res = run_scenario(_scenario(), None, HTTPEndpoint(fake_server.url), ChatParams())
    assert res.passed, res.verdict
    raw = res.calls[0].response["choices"][0]["message"]["content"]
    assert raw == "<think>hmm, greet</think>hello"  # raw text kept unmodified
    out = res.exchange.output() if res.exchange else None
    assert out is not None and out.text == "hello"
    assert "plan: greet" in out.reasoning and "hmm, greet" in out.reasoning


def test_tool_call_with_invalid_json_arguments_is_kept_raw(fake_server: FakeServer) -> None:
    fake_server.script = lambda body: (
        200,
        chat_reply(
            None,
            tool_calls=[{"name": "get_weather", "arguments": '{"city": "Paris"'}],
            finish_reason="tool_calls",
        ),
        {},
    )
    res = HTTPEndpoint(fake_server.url).send({"messages": []})
    assert res.turn.tool_calls[0].name == "get_weather"
    assert res.turn.tool_calls[0].arguments == '{"city": "Paris"'
    assert res.turn.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("status", "body", "mode"),
    [
        (500, {"error": "boom"}, "server_error"),
        (503, b"overloaded", "server_error"),
        (400, {"error": "bad request"}, "http_error"),
        (200, b"this is not json", "malformed_response"),
        (200, {"choices": []}, "malformed_response"),
        (200, {"choices": [{"message": {"content": 5}}]}, "malformed_response"),
    ],
)
def test_infrastructure_failures_have_modes(
    fake_server: FakeServer, status: int, body: object, mode: str
) -> None:
    fake_server.script = lambda b: (status, body, {})
    with pytest.raises(EndpointError) as ei:
        HTTPEndpoint(fake_server.url).send({"messages": []})
    assert ei.value.failure_mode == mode


def test_infra_failure_is_not_a_verdict(fake_server: FakeServer) -> None:
    fake_server.script = lambda b: (500, {"error": "boom"}, {})
    res = run_scenario(_scenario(), None, HTTPEndpoint(fake_server.url), ChatParams())
    assert res.verdict is None and res.failure_mode == "server_error" and not res.passed


def test_unreachable_endpoint() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(EndpointError) as ei:
        HTTPEndpoint(f"http://127.0.0.1:{port}").probe()
    assert ei.value.failure_mode == "endpoint_unreachable"


def test_api_key_from_env_sent_but_not_in_request_record(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    ep = HTTPEndpoint(fake_server.url, api_key_env="MY_KEY")
    res = run_scenario(_scenario(), None, ep, ChatParams())
    assert fake_server.headers[0]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret-123" not in json.dumps(RunRecord.of_result(res).to_json())


def body_for(
    messages: list[dict[str, object]],
    sc: Scenario | None,
    gen: Generation,
    run: ChatParams,
) -> dict[str, object]:
    return build_body(messages, request_params(run, gen, sc.tools if sc else None))


def test_body_thinking_and_canonical_sampling() -> None:
    sc = _scenario(tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])
    body: dict[str, Any] = body_for(
        [{"role": "user", "content": "x"}],
        sc,
        Generation(max_tokens=64),
        ChatParams(model="m", thinking=False),
    )
    assert body["temperature"] == 0.0
    assert body["max_tokens"] == 64
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["tools"][0]["function"]["name"] == "f"
    assert body["model"] == "m"
    body2 = body_for([], sc, Generation(thinking=True), ChatParams())
    assert body2["chat_template_kwargs"] == {"enable_thinking": True}
    assert "chat_template_kwargs" not in body_for([], sc, Generation(), ChatParams())


def test_body_sampling_modes_and_extra() -> None:
    gen = Generation(temperature=0.7, top_p=0.9, seed=3, stop=["END"], tool_choice="auto")
    canonical = body_for([], None, gen, ChatParams())
    assert (canonical["temperature"], canonical["top_p"], canonical["seed"]) == (0.7, 0.9, 3)
    assert canonical["stop"] == ["END"] and canonical["tool_choice"] == "auto"
    custom = body_for([], None, gen, ChatParams(sampling={"temperature": 1.0, "top_k": 40}))
    assert (custom["temperature"], custom["top_k"], custom["top_p"]) == (1.0, 40, 0.9)
    server = body_for([], None, gen, ChatParams(sampling_mode="server"))
    assert not {"temperature", "top_p", "seed", "top_k"} & set(server)
    extra = body_for([], None, Generation(), ChatParams(extra={"temperature": 2, "n": 1}))
    assert extra["temperature"] == 2 and extra["n"] == 1  # extra is sent last: it wins
    assert build_body([], Params()) == {"messages": []}  # nothing the caller did not ask


def test_finish_reason_length_is_token_limit(fake_server: FakeServer) -> None:
    fake_server.script = lambda b: (200, chat_reply("hel", finish_reason="length"), {})
    res = run_scenario(_scenario(), None, HTTPEndpoint(fake_server.url), ChatParams())
    assert res.failure_mode == "token_limit"


def test_reference_and_junk_endpoints() -> None:
    sc = _scenario()
    pack = PackMeta(id="p", title="p", version="1")
    assert run_scenario(sc, pack, ReferenceResponder(), ChatParams()).passed
    for kind in JUNK_KINDS:
        assert not run_scenario(sc, pack, JunkResponder(kind), ChatParams()).passed


def test_make_endpoint_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        make_endpoint("ftp://x")
    with pytest.raises(ValueError):
        make_endpoint("junk:nonsense")


def test_context_overflow_has_its_own_mode(fake_server: FakeServer) -> None:
    fake_server.script = lambda b: (
        400,
        {"error": {"type": "exceed_context_size_error", "message": "prompt too long"}},
        {},
    )
    with pytest.raises(EndpointError) as ei:
        HTTPEndpoint(fake_server.url).send({"messages": []})
    assert ei.value.failure_mode == "context_exceeded"


def test_max_tokens_cap() -> None:
    sc = _scenario()
    capped = ChatParams(max_tokens_cap=64)
    assert body_for([], sc, Generation(max_tokens=512), capped)["max_tokens"] == 64
    assert body_for([], sc, Generation(max_tokens=32), capped)["max_tokens"] == 32
    assert body_for([], sc, Generation(), capped)["max_tokens"] == 64
    assert "max_tokens" not in body_for([], sc, Generation(), ChatParams())


@pytest.mark.parametrize("ollama", [True, False])
def test_thinking_off_reaches_ollama_as_reasoning_effort(
    fake_server: FakeServer, ollama: bool
) -> None:
    """Ollama ignores chat_template_kwargs; it is told apart by /api/version."""
    if ollama:
        fake_server.api_version = {"version": "0.12.3"}
    ep = HTTPEndpoint(fake_server.url)
    ep.probe()
    assert ep.dialect == ("ollama" if ollama else None)
    assert ("dialect" in ep.describe()) is ollama
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "x"}]
    off = Params(thinking=False)
    res = ep.chat(msgs, off)
    ep.chat(msgs, Params(thinking=True))
    sent_off, sent_on = fake_server.chat_requests()[-2:]
    assert sent_off["chat_template_kwargs"] == {"enable_thinking": False}
    assert ("reasoning_effort" in sent_off) is ollama
    if ollama:
        assert sent_off["reasoning_effort"] == "none"
        assert res.request is not None
        assert res.request["reasoning_effort"] == "none"  # the log shows what was sent
    assert "reasoning_effort" not in sent_on  # on is Ollama's default: nothing to add
    assert res.request is not None and "reasoning_effort" not in build_body(msgs, off)
    ep.close()


def test_a_version_endpoint_of_another_shape_is_not_ollama(fake_server: FakeServer) -> None:
    fake_server.api_version = {"version": "1.0", "build": "x"}
    ep = HTTPEndpoint(fake_server.url)
    ep.probe()
    assert ep.dialect is None


def test_error_text_is_redacted_but_an_answer_naming_api_key_is_not(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Header-shaped values are redacted from error texts; a model's tool call with an
    ``api_key`` argument is an answer to judge and stays as sent."""
    monkeypatch.setenv("MY_KEY", "sk-unit-secret-42")
    fake_server.script = lambda b: (
        500,
        b'{"echo": {"Authorization": "Bearer sk-unit-secret-42", "x-api-key": "zz-other-77"}}',
        {},
    )
    ep = HTTPEndpoint(fake_server.url, api_key_env="MY_KEY", retries=0)
    with pytest.raises(EndpointError) as ei:
        ep.send({"messages": []})
    assert "sk-unit-secret-42" not in str(ei.value) and "zz-other-77" not in str(ei.value)
    assert '"Authorization": "Bearer [REDACTED]"' in str(ei.value)
    call = {"name": "login", "arguments": '{"api_key": "user-given-123456"}'}
    fake_server.script = lambda b: (200, chat_reply(None, tool_calls=[call]), {})
    res = ep.send({"messages": []})
    assert res.turn.tool_calls[0].arguments == '{"api_key": "user-given-123456"}'
