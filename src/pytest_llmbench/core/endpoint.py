"""Model endpoints: an OpenAI-compatible HTTP client and the in-process self-check ones.

Every endpoint answers one chat request at a time with :meth:`Endpoint.chat`;
infrastructure trouble raises :class:`EndpointError` with a failure mode, never a
model verdict.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from .junk import JUNK_KINDS, default_kind, junk_turn
from .schema import AssistantTurn, Generation, Scenario, ToolCall, answer_turns

INFRA_MODES = (
    "endpoint_unreachable",
    "timeout",
    "http_error",
    "server_error",
    "malformed_response",
)


class EndpointError(Exception):
    """The endpoint failed, not the model. ``failure_mode`` is one of INFRA_MODES."""

    def __init__(self, failure_mode: str, message: str, status: int | None = None):
        super().__init__(message)
        self.failure_mode = failure_mode
        self.status = status

    def __str__(self) -> str:
        return f"{self.failure_mode}: {self.args[0]}"


@dataclass
class ChatParams:
    """Run-wide request settings (the CLI's), merged with pack/scenario generation."""

    model: str | None = None
    thinking: bool | None = None
    temperature: float | None = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def build_body(
    messages: list[dict[str, Any]],
    scenario: Scenario | None,
    gen: Generation,
    params: ChatParams,
) -> dict[str, Any]:
    """The exact JSON body sent to ``/v1/chat/completions``."""
    body: dict[str, Any] = {"messages": messages}
    if params.model:
        body["model"] = params.model
    temperature = gen.temperature if gen.temperature is not None else params.temperature
    if temperature is not None:
        body["temperature"] = temperature
    for key in ("top_p", "max_tokens", "seed", "stop", "response_format", "tool_choice"):
        val = getattr(gen, key)
        if val is not None:
            body[key] = val
    if scenario is not None and scenario.tools:
        body["tools"] = scenario.tools
    thinking = params.thinking if params.thinking is not None else gen.thinking
    if thinking is not None:
        body["chat_template_kwargs"] = {"enable_thinking": thinking}
    body.update(params.extra)
    return body


@dataclass
class ChatResult:
    turn: AssistantTurn
    request: dict[str, Any]
    response: dict[str, Any]
    latency_s: float
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None

    @property
    def completion_tokens(self) -> int | None:
        if self.usage and isinstance(self.usage.get("completion_tokens"), int):
            return int(self.usage["completion_tokens"])
        return None


def parse_response(data: Any) -> AssistantTurn:
    """OpenAI chat completion JSON -> raw assistant turn (content untouched)."""
    try:
        choice = data["choices"][0]
        msg = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise EndpointError("malformed_response", "no choices[0].message in the response") from None
    if not isinstance(msg, dict):
        raise EndpointError("malformed_response", "choices[0].message is not an object")
    content = msg.get("content")
    if content is not None and not isinstance(content, str):
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        else:
            raise EndpointError("malformed_response", "message.content is not a string")
    # llama.cpp/DeepSeek say reasoning_content; vLLM and others say reasoning.
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    calls: list[ToolCall] = []
    for i, tc in enumerate(msg.get("tool_calls") or []):
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise EndpointError("malformed_response", f"tool_calls[{i}] has no function name")
        args = fn.get("arguments", "")
        if not isinstance(args, str):  # some servers send an object; keep it as JSON text
            args = json.dumps(args)
        calls.append(ToolCall(name=fn["name"], arguments=args, id=tc.get("id") or f"call_{i}"))
    return AssistantTurn(
        content=content,
        reasoning=reasoning if isinstance(reasoning, str) else None,
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
    )


class Endpoint:
    """Base class. ``name`` is what the report and run log show."""

    name: str = "endpoint"
    in_process: bool = False

    def probe(self) -> str | None:
        """Check reachability once; return the default model id if the server says."""
        return None

    def chat(self, body: dict[str, Any], scenario: Scenario | None) -> ChatResult:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": type(self).__name__}


def _base_url(url: str) -> str:
    url = url.rstrip("/")
    for suffix in ("/chat/completions", "/v1"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url


class HTTPEndpoint(Endpoint):
    """An OpenAI-compatible server over one pooled httpx client."""

    def __init__(
        self,
        url: str,
        *,
        api_key_env: str = "LLMBENCH_API_KEY",
        timeout_s: float = 300.0,
        connect_timeout_s: float = 5.0,
    ):
        self.url = _base_url(url)
        self.name = self.url
        key = os.environ.get(api_key_env) or ""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            trust_env=False,  # never route a local benchmark through a proxy
        )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "http", "url": self.url}

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._client.request(method, path, **kw)
        except httpx.ConnectError as exc:
            raise EndpointError("endpoint_unreachable", f"{self.url}: {exc}") from None
        except httpx.TimeoutException as exc:
            raise EndpointError("timeout", f"{self.url}{path}: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise EndpointError("endpoint_unreachable", f"{self.url}{path}: {exc}") from None
        if resp.status_code >= 500:
            raise EndpointError(
                "server_error",
                f"HTTP {resp.status_code} from {path}: {resp.text[:200]}",
                resp.status_code,
            )
        if resp.status_code >= 400:
            raise EndpointError(
                "http_error",
                f"HTTP {resp.status_code} from {path}: {resp.text[:200]}",
                resp.status_code,
            )
        return resp

    def _json(self, resp: httpx.Response, path: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            raise EndpointError(
                "malformed_response", f"{path} returned non-JSON: {resp.text[:120]!r}"
            ) from None

    def probe(self) -> str | None:
        resp = self._request("GET", "/v1/models")
        data = self._json(resp, "/v1/models")
        try:
            return str(data["data"][0]["id"])
        except (KeyError, IndexError, TypeError):
            return None

    def chat(self, body: dict[str, Any], scenario: Scenario | None) -> ChatResult:
        t0 = time.perf_counter()
        resp = self._request("POST", "/v1/chat/completions", json=body)
        data = self._json(resp, "/v1/chat/completions")
        latency = time.perf_counter() - t0
        turn = parse_response(data)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        timings = data.get("timings") if isinstance(data.get("timings"), dict) else None
        return ChatResult(turn, body, data, latency, usage, timings)

    def close(self) -> None:
        self._client.close()


def _assistant_turns_so_far(body: dict[str, Any], scenario: Scenario) -> int:
    initial = len(scenario.initial_messages())
    return sum(1 for m in body["messages"][initial:] if m.get("role") == "assistant")


def _fake_result(turn: AssistantTurn, body: dict[str, Any]) -> ChatResult:
    turn = turn.model_copy(update={"finish_reason": turn.finish_reason or "stop"})
    words = len((turn.content or "").split()) + sum(
        len(c.raw_arguments()) // 4 for c in turn.tool_calls
    )
    usage: dict[str, Any] = {"completion_tokens": words, "prompt_tokens": 0}
    response: dict[str, Any] = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": turn.to_openai(), "finish_reason": turn.finish_reason}],
        "usage": usage,
    }
    return ChatResult(turn, body, response, 0.0, usage, None)


class ReferenceEndpoint(Endpoint):
    """Answers each scenario with its own reference: every scenario must pass."""

    name = "reference"
    in_process = True

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "reference"}

    def chat(self, body: dict[str, Any], scenario: Scenario | None) -> ChatResult:
        if scenario is None:
            raise EndpointError("http_error", "the reference endpoint only answers pack scenarios")
        turns = answer_turns(scenario.reference)
        i = min(_assistant_turns_so_far(body, scenario), len(turns) - 1)
        return _fake_result(turns[i], body)


class JunkEndpoint(Endpoint):
    """Answers with junk (empty, ".", echo, refusal, random JSON, random tool call):
    every scenario must fail. ``kind`` None picks one per scenario, stably."""

    in_process = True

    def __init__(self, kind: str | None = None):
        if kind is not None and kind not in JUNK_KINDS:
            raise ValueError(f"unknown junk kind {kind!r} (known: {', '.join(JUNK_KINDS)})")
        self.kind = kind
        self.name = f"junk:{kind}" if kind else "junk"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "junk", "junk_kind": self.kind}

    def chat(self, body: dict[str, Any], scenario: Scenario | None) -> ChatResult:
        if scenario is None:
            return _fake_result(AssistantTurn(content=""), body)
        return _fake_result(junk_turn(scenario, self.kind or default_kind(scenario)), body)


def make_endpoint(
    spec: str, *, api_key_env: str = "LLMBENCH_API_KEY", timeout_s: float = 300.0
) -> Endpoint:
    """``reference``, ``junk``, ``junk:<kind>`` or an http(s) URL."""
    if spec == "reference":
        return ReferenceEndpoint()
    if spec == "junk" or spec.startswith("junk:"):
        return JunkEndpoint(spec.partition(":")[2] or None)
    if spec.startswith(("http://", "https://")):
        return HTTPEndpoint(spec, api_key_env=api_key_env, timeout_s=timeout_s)
    raise ValueError(
        f"--llm-endpoint {spec!r}: expected an http(s) URL, 'reference', 'junk' or 'junk:<kind>'"
    )
