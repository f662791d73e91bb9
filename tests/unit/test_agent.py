"""The agent loop: tool calls run against environments, limits, injection, loops."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmbench.core.endpoint import ChatParams
from pytest_llmbench.core.exchange import check_answer, replay_responder, run_exchange
from pytest_llmbench.core.loop import run_agent_exchange, validate_environment
from pytest_llmbench.core.responders import JunkResponder, ReferenceResponder
from pytest_llmbench.core.runner import run_scenario
from pytest_llmbench.core.schema import AssistantTurn, Scenario, ToolCall


def _sc(**over: Any) -> Scenario:
    data: dict[str, Any] = {
        "id": "s",
        "prompt": "Set debug to false in app.cfg.",
        "environment": {
            "tools": ["read_file", "edit_file"],
            "files": {"app.cfg": "debug = true\n"},
        },
        "verifier": {"type": "agent", "files": {"app.cfg": "debug = false\n"}},
        "reference": [
            {"tool_calls": [{"name": "read_file", "arguments": {"path": "app.cfg"}}]},
            {
                "tool_calls": [
                    {
                        "name": "edit_file",
                        "arguments": {
                            "path": "app.cfg",
                            "edits": [{"old": "true", "new": "false"}],
                        },
                    }
                ]
            },
            {"content": "Done."},
        ],
        "counterexamples": ["no", "no"],
    }
    data.update(over)
    sc = Scenario.model_validate(data)
    validate_environment(sc)
    return sc


def _call(name: str, **args: Any) -> AssistantTurn:
    return AssistantTurn(tool_calls=[ToolCall(name=name, arguments=args)])


def test_loop_runs_tools_and_keeps_transcript() -> None:
    sc = _sc()
    ex = run_exchange(sc, replay_responder(sc.reference))
    assert ex.state == {"files": {"app.cfg": "debug = false\n"}}
    roles = [m["role"] for m in ex.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert json.loads(ex.messages[2]["content"]) == {"path": "app.cfg", "content": "debug = true\n"}
    assert ex.events[-1] == {"type": "end", "turn": 3, "reason": "answer"}
    assert [e["ok"] for e in ex.events if e["type"] == "call"] == [True, True]
    assert check_answer(sc, None, sc.reference).passed


def test_validate_fills_tools_and_is_stable() -> None:
    sc = _sc()
    names = [t["function"]["name"] for t in sc.tools or []]
    assert names == ["read_file", "edit_file"]
    validate_environment(sc)
    assert [t["function"]["name"] for t in sc.tools or []] == names


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"tools": ["read_file"]}, "switches on no service"),
        ({"tools": ["fly"], "files": {}}, "no built-in tool 'fly'"),
        ({"tools": ["web_search"], "files": {}}, "handled by no service"),
        ({"files": {}}, "needs tools"),
        ({"tools": ["read_file"], "files": {}, "inject": [{"tool": "x", "error": "e"}]}, "inject"),
        ({"tools": ["read_file"], "files": {}, "bogus": 1}, "environment.bogus"),
    ],
)
def test_validate_names_the_problem(env: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _sc(environment=env)


def test_injected_error_and_loop_detection() -> None:
    sc = _sc(
        environment={
            "tools": ["read_file", "edit_file"],
            "files": {"app.cfg": "debug = true\n"},
            "inject": [{"turn": 1, "tool": "read_file", "error": "timeout"}],
        }
    )
    turns = [_call("read_file", path="app.cfg")] * 2 + [AssistantTurn(content="gave up")]
    ex = run_exchange(sc, replay_responder(turns))
    kinds = [e["type"] for e in ex.events]
    assert kinds == ["injected_error", "call", "loop", "call", "end"]
    loop = ex.events[2]
    assert loop["turn"] == 2 and loop["repeats_call"] == 1
    assert json.loads(ex.messages[2]["content"]) == {"error": "timeout"}
    # The second read is not injected (times: 1): it succeeds.
    assert ex.events[3]["ok"] is True


def test_retry_after_a_successful_call_is_not_a_loop() -> None:
    sc = _sc()
    bad = _call("edit_file", path="app.cfg", edits=[{"old": "nope", "new": "x"}])
    turns = [bad, _call("read_file", path="app.cfg"), bad, AssistantTurn(content="ok")]
    ex = run_exchange(sc, replay_responder(turns))
    assert not [e for e in ex.events if e["type"] == "loop"]


def test_turn_limit_and_token_limit() -> None:
    sc = _sc(max_turns=3)
    ex = run_exchange(sc, replay_responder([_call("read_file", path="app.cfg")]))
    assert len(ex.raw_turns) == 3
    assert ex.events[-1] == {"type": "limit", "what": "turns", "turn": 3}
    v = check_answer(sc, None, [_call("read_file", path="app.cfg")])
    assert v.category == "stuck_loop" and "turn 3: turn limit reached" in v.detail
    sc = _sc(
        environment={
            "tools": ["read_file", "edit_file"],
            "files": {"app.cfg": "x"},
            "limits": {"max_tokens": 20},
        }
    )
    ex = run_exchange(sc, replay_responder([_call("read_file", path="app.cfg")]))
    assert ex.events[-1]["what"] == "tokens" and len(ex.raw_turns) < 6


def test_wall_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr("pytest_llmbench.core.loop.time.monotonic", lambda: float(next(clock)))
    sc = _sc(
        environment={
            "tools": ["read_file", "edit_file"],
            "files": {"app.cfg": "x"},
            "limits": {"wall_s": 15},
        }
    )
    ex = run_agent_exchange(sc, replay_responder([_call("read_file", path="app.cfg")]))
    assert ex.events[-1]["what"] == "wall_s" and len(ex.raw_turns) == 2


def test_bad_arguments_become_tool_errors() -> None:
    sc = _sc()
    turns = [
        AssistantTurn(tool_calls=[ToolCall(name="edit_file", arguments='{"path": "app.cfg", "ed')]),
        AssistantTurn(tool_calls=[ToolCall(name="nope", arguments={})]),
        AssistantTurn(content="x"),
    ]
    ex = run_exchange(sc, replay_responder(turns))
    errs = [e["error"] for e in ex.events if e["type"] == "call"]
    assert errs[0].startswith("arguments are not valid JSON") and errs[1] == "unknown tool 'nope'"


def test_mock_tools_next_to_services() -> None:
    sc = _sc(
        tools=[
            {
                "type": "function",
                "function": {"name": "run_tests", "parameters": {"type": "object"}},
            }
        ],
        mock_tools={"run_tests": [{"result": {"passed": 3}}]},
    )
    assert [t["function"]["name"] for t in sc.tools or []] == [
        "read_file",
        "edit_file",
        "run_tests",
    ]
    ex = run_exchange(sc, replay_responder([_call("run_tests"), AssistantTurn(content="ok")]))
    assert json.loads(ex.messages[2]["content"]) == {"passed": 3}


def test_reference_and_junk_endpoints_drive_the_loop() -> None:
    sc = _sc()
    res = run_scenario(sc, None, ReferenceResponder(), ChatParams())
    assert res.passed and len(res.calls) == 3
    assert res.calls[0].request["tools"][0]["function"]["name"] == "read_file"
    for kind in ("empty", "random_tool_call"):
        assert not run_scenario(sc, None, JunkResponder(kind), ChatParams()).passed
