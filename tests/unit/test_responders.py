"""The endpoint protocol (``chat(messages, params) -> Reply``), the records the runner
builds around a reply, and the reference/junk responders."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.endpoint import (
    ChatParams,
    Endpoint,
    EndpointError,
    Params,
    Reply,
    Usage,
)
from pytest_llmbench.core.endpoint_kinds import make_endpoint, make_http_endpoint
from pytest_llmbench.core.junk import JUNK_KINDS
from pytest_llmbench.core.record import RunRecord
from pytest_llmbench.core.responders import (
    JunkResponder,
    ReferenceResponder,
    Responder,
)
from pytest_llmbench.core.runner import ScenarioResult, ask, run_scenario
from pytest_llmbench.core.schema import AssistantTurn, Scenario
from pytest_llmbench.core.wire import build_body, parse_response
from pytest_llmbench.core.wrappers import ReplayEndpoint


def _scenario(**kw: object) -> Scenario:
    data: dict[str, object] = {
        "id": "s1",
        "system": "Be terse.",
        "prompt": "Say hello",
        "verifier": {"type": "exact", "value": "hello", "ignore_case": True},
        "reference": "hello",
        "counterexamples": ["hi", "hello there"],
    }
    data.update(kw)
    return Scenario.model_validate(data)


def _calls(res: ScenarioResult) -> list[dict[str, Any]]:
    return list(RunRecord.of_result(res).to_json()["calls"])


class Minimal(Endpoint):
    """What a custom endpoint has to write: a turn and usage, nothing more."""

    def __init__(self, text: str, delay_s: float = 0.0):
        self.text = text
        self.delay_s = delay_s
        self.seen: list[tuple[list[dict[str, Any]], Params]] = []

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        self.seen.append((messages, params))
        time.sleep(self.delay_s)
        return Reply(AssistantTurn(content=self.text), Usage(completion_tokens=1))


def test_a_minimal_endpoint_gets_a_full_record() -> None:
    ep = Minimal("hello", delay_s=0.02)
    res = run_scenario(_scenario(generation={"max_tokens": 9}), None, ep, ChatParams(model="m"))
    assert res.passed
    messages, params = ep.seen[0]
    assert messages[-1] == {"role": "user", "content": "Say hello"}
    assert (params.model, params.max_tokens, params.temperature) == ("m", 9, 0.0)
    call = _calls(res)[0]
    # the request the HTTP endpoint would have sent, the reply in the OpenAI shape
    assert call["request"] == build_body(messages, params)
    assert parse_response(call["response"]).content == "hello"
    assert call["response"]["model"] == "m"
    assert call["usage"] == {"completion_tokens": 1}
    assert call["latency_s"] >= 0.02  # measured around the call
    assert res.completion_tokens == 1


def test_a_reply_of_the_old_shape_is_named() -> None:
    class Old(Endpoint):
        def chat(self, messages: Any, params: Any, *, timeout_s: Any = None) -> Any:
            return {"choices": []}

    with pytest.raises(TypeError, match="Old.chat returned dict, not a pytest_llmbench.Reply"):
        ask(Old(), [], Params())

    class Loose(Endpoint):
        def chat(self, messages: Any, params: Any, *, timeout_s: Any = None) -> Any:
            return Reply("hello", {"completion_tokens": 1})  # type: ignore[arg-type]

    with pytest.raises(TypeError, match=r"Reply\(str, dict\), not Reply\(AssistantTurn, Usage\)"):
        ask(Loose(), [], Params())


def test_reference_answers_every_turn_after_the_scenarios_own() -> None:
    """The reference counts the assistant turns after the scenario's own messages
    (a few-shot assistant message there is not an answer)."""
    sc = _scenario(
        prompt=None,
        system=None,
        messages=[
            {"role": "user", "content": "Say one"},
            {"role": "assistant", "content": "one"},
            {"role": "user", "content": "Say hello"},
        ],
        reference=[{"content": "first"}, {"content": "second"}],
    )
    ep = ReferenceResponder().for_scenario(sc)
    msgs = sc.initial_messages()
    assert ep.chat(msgs, Params()).turn.content == "first"
    msgs += [{"role": "assistant", "content": "first"}, {"role": "user", "content": "more"}]
    assert ep.chat(msgs, Params()).turn.content == "second"
    msgs += [{"role": "assistant", "content": "second"}, {"role": "user", "content": "more"}]
    assert ep.chat(msgs, Params()).turn.content == "second"  # the last one, repeated


def test_responders_are_not_endpoints_and_answer_functions_from_the_mark() -> None:
    ref = ReferenceResponder()
    assert not isinstance(ref, Endpoint) and isinstance(ref, Responder)
    marked = ref.for_marked("test_x", {"tool_calls": [{"name": "f", "arguments": {"a": 1}}]})
    turn = marked.chat([{"role": "user", "content": "q"}], Params()).turn
    assert turn.tool_calls[0].name == "f" and turn.finish_reason == "stop"
    with pytest.raises(EndpointError, match="reference="):
        ref.for_marked("test_x", None).chat([], Params())
    with pytest.raises(ValueError, match=r"test_x: llmbench\(reference=...\) is not an answer"):
        ref.for_marked("test_x", 42)


@pytest.mark.parametrize("kind", JUNK_KINDS)
def test_junk_fails_and_is_stable(kind: str) -> None:
    sc = _scenario(tools=[{"type": "function", "function": {"name": "lookup"}}])
    a = run_scenario(sc, None, JunkResponder(kind), ChatParams())
    b = run_scenario(sc, None, JunkResponder(kind), ChatParams())
    assert not a.passed
    assert _calls(a)[0]["response"] == _calls(b)[0]["response"]
    if kind == "echo":
        assert a.exchange is not None and a.exchange.raw_turns[0].content == "Say hello"
    if kind == "random_tool_call":
        assert a.exchange is not None and a.exchange.raw_turns[0].tool_calls[0].name == "lookup"


def test_junk_for_a_function_echoes_the_request() -> None:
    ep = JunkResponder("echo").for_marked("test_f", "Paris")
    turn = ep.chat([{"role": "user", "content": "Capital of France?"}], Params()).turn
    assert turn.content == "Capital of France?"
    # an unmarked function gets an empty answer, as no reference tells junk apart
    unmarked = JunkResponder().for_marked("test_f", None)
    assert unmarked.chat([{"role": "user", "content": "q"}], Params()).turn.content == ""


def test_endpoint_kinds() -> None:
    assert isinstance(make_endpoint("reference"), ReferenceResponder)
    assert make_endpoint("junk:dot").name == "junk:dot"
    with pytest.raises(ValueError, match="takes no argument"):
        make_endpoint("reference:x")
    with pytest.raises(ValueError, match="answers pack scenarios only"):
        make_http_endpoint("junk")  # the judge needs a real endpoint


def test_a_run_log_written_before_the_protocol_change_replays(tmp_path: Path) -> None:
    """A call recorded by the old ``chat(body, scenario)`` protocol: the body as sent,
    the server's response. Replay keys on messages and tools only."""
    sc = _scenario()
    body = {"messages": sc.initial_messages(), "temperature": 0.0}
    old = {
        "format": "pytest-llmbench/runlog@1",
        "plugin_version": "0.1.0",
        "model": "m",
        "results": [
            {
                "nodeid": "p/s1",
                "pack": "p",
                "scenario": "s1",
                "passed": True,
                "calls": [
                    {
                        "request": body,
                        "response": {
                            "object": "chat.completion",
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": "Hello"},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {"completion_tokens": 2, "prompt_tokens": 5},
                        },
                        "latency_s": 0.5,
                        "usage": {"completion_tokens": 2, "prompt_tokens": 5},
                        "timings": None,
                    }
                ],
            }
        ],
    }
    log = tmp_path / "old.json"
    log.write_text(json.dumps(old), encoding="utf-8")
    replay = ReplayEndpoint(log)
    assert replay.probe() == "m"
    res = run_scenario(sc, None, replay, ChatParams(model="m"))
    assert res.passed, res.verdict
    call = _calls(res)[0]
    assert call["latency_s"] == 0.5 and call["usage"]["prompt_tokens"] == 5
    other = _scenario(prompt="Say goodbye")
    missing = run_scenario(other, None, replay, ChatParams())
    assert missing.failure_mode == "replay_missing"
