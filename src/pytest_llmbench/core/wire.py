"""The OpenAI chat-completions wire format: request bodies, responses, records.

The HTTP endpoint speaks it; the run log stores every call in it, so an endpoint
that gives no raw request/response still leaves a record that replays and rescores.
"""

from __future__ import annotations

import json
from typing import Any

from .endpoint import EndpointError, Params, Usage
from .schema import AssistantTurn, ToolCall

_SAMPLING = ("temperature", "top_p", "seed", "top_k", "min_p", "repeat_penalty")


def build_body(messages: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """The exact JSON body sent to ``/v1/chat/completions``."""
    body: dict[str, Any] = {"messages": messages}
    if params.model:
        body["model"] = params.model
    for key in _SAMPLING:
        val = getattr(params, key)
        if val is not None:
            body[key] = val
    for key in ("max_tokens", "stop", "response_format", "tool_choice", "tools"):
        val = getattr(params, key)
        if val is not None:
            body[key] = val
    if params.thinking is not None:
        body["chat_template_kwargs"] = {"enable_thinking": params.thinking}
    body.update(params.extra)
    return body


def response_record(turn: AssistantTurn, usage: Usage, model: str | None = None) -> dict[str, Any]:
    """An OpenAI-shaped response holding ``turn``, for endpoints that give none."""
    out: dict[str, Any] = {"object": "chat.completion"}
    if model:
        out["model"] = model
    out["choices"] = [
        {"index": 0, "message": turn.to_openai(), "finish_reason": turn.finish_reason}
    ]
    out["usage"] = usage.to_record()
    return out


def parse_response(data: Any) -> AssistantTurn:
    """OpenAI chat completion JSON -> raw assistant turn (content untouched). Valid JSON
    of the wrong shape is a ``malformed_response``, never a crash."""
    try:
        choice = data["choices"][0]
        msg = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise EndpointError("malformed_response", "no choices[0].message in the response") from None
    if not isinstance(msg, dict):
        raise EndpointError("malformed_response", "choices[0].message is not an object")
    content = msg.get("content")
    if content is not None and not isinstance(content, str):
        if isinstance(content, list) and all(
            isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content
        ):  # content parts
            content = "".join(p.get("text", "") for p in content)
        else:
            raise EndpointError("malformed_response", "message.content is not a string")
    # llama.cpp/DeepSeek say reasoning_content; vLLM and others say reasoning.
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        raise EndpointError("malformed_response", f"finish_reason is not a string: {finish!r:.40}")
    raw_calls = msg.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise EndpointError("malformed_response", f"tool_calls is not a list: {raw_calls!r:.40}")
    calls: list[ToolCall] = []
    for i, tc in enumerate(raw_calls):
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise EndpointError("malformed_response", f"tool_calls[{i}] has no function name")
        args = fn.get("arguments", "")
        if not isinstance(args, str):  # some servers send an object; keep it as JSON text
            args = json.dumps(args)
        call_id = tc.get("id") or f"call_{i}"
        if not isinstance(call_id, str):
            raise EndpointError("malformed_response", f"tool_calls[{i}].id is not a string")
        calls.append(ToolCall(name=fn["name"], arguments=args, id=call_id))
    return AssistantTurn(
        content=content,
        reasoning=reasoning if isinstance(reasoning, str) else None,
        tool_calls=calls,
        finish_reason=finish,
    )


def reply_parts(data: dict[str, Any]) -> tuple[AssistantTurn, Usage, dict[str, Any] | None]:
    """Turn, usage and llama.cpp ``timings`` of a parsed chat completion."""
    turn = parse_response(data)
    usage = data.get("usage")
    timings = data.get("timings")
    return (
        turn,
        Usage.from_openai(usage) if isinstance(usage, dict) else Usage(),
        timings if isinstance(timings, dict) else None,
    )
