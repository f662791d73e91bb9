"""Multi-turn agent loop: the model's tool calls run against stateful fake environments.

Each assistant turn's calls go to the handlers of the scenario's environment
(core.envs) or, for tools no service handles, to its ``mock_tools`` table; results go
back as tool messages (JSON text). The loop stops at a turn without calls, at the turn
limit, or when the token or wall-time budget is spent. Errors can be injected at a given
turn; a call re-issued with the same name and arguments after it failed, with no
successful call in between, is recorded as a loop. ``Exchange.events`` holds one event per call
and per notable thing::

    {"type": "call", "turn": 2, "call": 3, "name": "read_file", "ok": false, "error": "..."}
    {"type": "injected_error", "turn": 2, "call": 3, "name": "read_file", "error": "..."}
    {"type": "loop", "turn": 3, "call": 4, "name": "read_file", "repeats_call": 3}
    {"type": "limit", "what": "turns", "turn": 8}
    {"type": "end", "turn": 5, "reason": "answer"}
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import ValidationError

from .conversation import AnswerFn, Exchange, MockTools
from .envs import TOOL_SCHEMAS, Environment, EnvSpec, ToolError, parse_args
from .schema import AssistantTurn, Scenario


def _spec(scenario: Scenario) -> EnvSpec:
    try:
        return EnvSpec.model_validate(scenario.environment or {})
    except ValidationError as exc:
        msgs = "; ".join(
            f"environment.{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors()[:3]
        )
        raise ValueError(f"scenario {scenario.id!r}: {msgs}") from None


def _tool_names(tools: list[dict[str, Any]] | None) -> list[str]:
    out = []
    for t in tools or []:
        fn = t.get("function", t) if isinstance(t, dict) else {}
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out.append(fn["name"])
    return out


def validate_environment(scenario: Scenario) -> None:
    """Raise ValueError naming the problem if the scenario's environment is invalid.

    Built-in tools named in ``environment.tools`` are put in front of the scenario's
    own ``tools`` (so the request carries them)."""
    sid = scenario.id
    spec = _spec(scenario)
    if not spec.enabled():
        raise ValueError(f"scenario {sid!r}: environment switches on no service")
    env = Environment(spec, None)
    if spec.tools is not None:
        for name in spec.tools:
            if name not in TOOL_SCHEMAS:
                raise ValueError(f"scenario {sid!r}: environment.tools: no built-in tool {name!r}")
        # Built-in schemas first, then the scenario's own (e.g. for mock tools); stable
        # when validated again.
        builtin = [TOOL_SCHEMAS[n] for n in spec.tools]
        own = [t for t in scenario.tools or [] if not set(_tool_names([t])) & set(spec.tools)]
        scenario.tools = builtin + own
    names = _tool_names(scenario.tools)
    if not names:
        raise ValueError(f"scenario {sid!r}: an environment needs tools (environment.tools)")
    mocks = set(scenario.mock_tools or {})
    for name in names:
        if not env.handles(name) and name not in mocks:
            raise ValueError(
                f"scenario {sid!r}: tool {name!r} is handled by no service of the environment "
                f"(on: {', '.join(spec.enabled())}) and has no mock_tools entry"
            )
        if env.handles(name) and name in mocks:
            raise ValueError(f"scenario {sid!r}: tool {name!r} is both a service tool and a mock")
    for inj in spec.inject:
        if inj.tool not in names:
            raise ValueError(f"scenario {sid!r}: inject names tool {inj.tool!r}, not offered")
    if spec.inject and max(i.turn for i in spec.inject) > scenario.turn_limit():
        raise ValueError(f"scenario {sid!r}: an injection comes after the turn limit")


def _estimate_tokens(turn: AssistantTurn) -> int:
    if turn.usage_tokens is not None:  # what the server counted, when it says
        return turn.usage_tokens
    chars = len(turn.content or "") + len(turn.reasoning or "")
    chars += sum(len(c.name) + len(c.raw_arguments()) for c in turn.tool_calls)
    return max(1, (chars + 3) // 4)


def _key(name: str, args: dict[str, Any] | None, raw: str) -> str:
    body = json.dumps(args, sort_keys=True, ensure_ascii=False) if args is not None else raw
    return f"{name}\x00{body}"


class _Injector:
    def __init__(self, spec: EnvSpec):
        self.pending = list(spec.inject)
        self.left = [inj.times for inj in spec.inject]

    def take(self, turn: int, name: str, args: dict[str, Any] | None) -> str | None:
        for i, inj in enumerate(self.pending):
            if self.left[i] <= 0 or inj.tool != name or turn < inj.turn:
                continue
            if inj.when and (args is None or any(args.get(k) != v for k, v in inj.when.items())):
                continue
            self.left[i] -= 1
            return inj.error
        return None


def run_agent_exchange(scenario: Scenario, respond: AnswerFn) -> Exchange:
    """Drive the agent loop. Exceptions from ``respond`` propagate (infra errors)."""
    validate_environment(scenario)
    spec = _spec(scenario)
    env = Environment(spec, scenario.tools)
    mocks = MockTools(scenario.mock_tools)
    inject = _Injector(spec)
    messages = scenario.initial_messages()
    ex = Exchange(messages=messages)
    events = ex.events
    # call key -> (successful calls so far, call number) when it failed; a retry after
    # some successful call (a re-read, a fix) is fair, one straight after is a loop.
    failed: dict[str, tuple[int, int]] = {}
    progress = 0
    limit = scenario.turn_limit()
    tokens = 0
    t0 = time.monotonic()
    n_call = 0
    end: dict[str, Any] | None = None
    for turn_no in range(1, limit + 1):
        turn = respond(list(messages), scenario)
        ex.raw_turns.append(turn)
        messages.append(turn.to_openai())
        tokens += _estimate_tokens(turn)
        if not turn.tool_calls:
            end = {"type": "end", "turn": turn_no, "reason": "answer"}
            break
        if turn.finish_reason == "length":
            events.append({"type": "truncated", "turn": turn_no})
        for i, call in enumerate(turn.tool_calls):
            n_call += 1
            raw = call.raw_arguments()
            args, problem = parse_args(call.arguments)
            key = _key(call.name, args, raw)
            ev: dict[str, Any] = {
                "type": "call",
                "turn": turn_no,
                "call": n_call,
                "name": call.name,
            }
            prev = failed.get(key)
            if prev is not None and prev[0] == progress:
                events.append(
                    {
                        "type": "loop",
                        "turn": turn_no,
                        "call": n_call,
                        "name": call.name,
                        "repeats_call": prev[1],
                    }
                )
            injected = inject.take(turn_no, call.name, args)
            error: str | None = None
            result: Any = None
            if injected is not None:
                error = injected
                events.append(
                    {
                        "type": "injected_error",
                        "turn": turn_no,
                        "call": n_call,
                        "name": call.name,
                        "error": injected,
                    }
                )
            elif problem is not None or args is None:
                error = problem or "arguments are not a JSON object"
            elif env.handles(call.name):
                try:
                    result = env.call(call.name, args)
                except ToolError as exc:
                    error = str(exc)
            elif scenario.mock_tools and call.name in scenario.mock_tools:
                text = mocks.answer(call.name, args)
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = text
                if isinstance(parsed, dict) and "error" in parsed:
                    error = str(parsed["error"])
                else:
                    result = parsed
            else:
                error = f"unknown tool {call.name!r}"
            if error is None:
                progress += 1
                ev["ok"] = True
                content = json.dumps(result, ensure_ascii=False)
            else:
                ev.update(ok=False, error=error)
                failed[key] = (progress, n_call)
                content = json.dumps({"error": error}, ensure_ascii=False)
            events.append(ev)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id or f"call_{i}",
                    "name": call.name,
                    "content": content,
                }
            )
        if spec.limits.max_tokens is not None and tokens >= spec.limits.max_tokens:
            end = {"type": "limit", "what": "tokens", "turn": turn_no, "tokens": tokens}
            break
        if spec.limits.wall_s is not None and time.monotonic() - t0 >= spec.limits.wall_s:
            end = {"type": "limit", "what": "wall_s", "turn": turn_no, "wall_s": spec.limits.wall_s}
            break
    if end is None:
        end = {"type": "limit", "what": "turns", "turn": limit}
    events.append(end)
    ex.state = env.snapshot()
    return ex
