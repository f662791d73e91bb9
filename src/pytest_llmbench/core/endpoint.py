"""Model endpoints: an OpenAI-compatible HTTP client and the in-process self-check ones.

Every endpoint answers one chat request at a time with :meth:`Endpoint.chat`;
infrastructure trouble raises :class:`EndpointError` with a failure mode, never a
model verdict.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .http1 import BodyTooLarge, Pool, Reply, TransportError
from .junk import JUNK_KINDS, default_kind, junk_turn
from .redact import redact, redact_bytes, redact_known, register_secret
from .schema import AssistantTurn, Generation, Scenario, ToolCall, answer_turns

INFRA_MODES = (
    "endpoint_unreachable",
    "connection_error",
    "timeout",
    "http_error",
    "server_error",
    "rate_limited",
    "malformed_response",
    "context_exceeded",
    "replay_missing",
)


class EndpointError(Exception):
    """The endpoint failed, not the model. ``failure_mode`` is one of INFRA_MODES."""

    def __init__(self, failure_mode: str, message: str, status: int | None = None):
        super().__init__(redact(message))  # a server may echo the key in its error body
        self.failure_mode = failure_mode
        self.status = status
        self.retry_after: float | None = None
        self.retries: list[dict[str, Any]] = []

    def __str__(self) -> str:
        return f"{self.failure_mode}: {self.args[0]}"


SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed")


@dataclass
class ChatParams:
    """Run-wide request settings (the CLI's), merged with pack/scenario generation.

    ``sampling_mode``: ``canonical`` (temperature 0 unless the pack says otherwise),
    ``custom`` (explicit ``sampling`` overrides everything) or ``server`` (no sampling
    field is sent at all)."""

    model: str | None = None
    thinking: bool | None = None
    temperature: float | None = 0.0
    sampling: dict[str, Any] = field(default_factory=dict)
    sampling_mode: str = "canonical"
    max_tokens_cap: int | None = None
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
    if params.sampling_mode != "server":
        temperature = gen.temperature if gen.temperature is not None else params.temperature
        if temperature is not None:
            body["temperature"] = temperature
        for key in ("top_p", "seed"):
            val = getattr(gen, key)
            if val is not None:
                body[key] = val
        body.update({k: v for k, v in params.sampling.items() if v is not None})
    for key in ("max_tokens", "stop", "response_format", "tool_choice"):
        val = getattr(gen, key)
        if val is not None:
            body[key] = val
    if params.max_tokens_cap is not None:
        body["max_tokens"] = min(
            body.get("max_tokens", params.max_tokens_cap), params.max_tokens_cap
        )
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
    retries: list[dict[str, Any]] = field(default_factory=list)
    stream: dict[str, Any] | None = None
    cached: bool = False
    replica: int | None = None

    @property
    def completion_tokens(self) -> int | None:
        if self.usage and isinstance(self.usage.get("completion_tokens"), int):
            return int(self.usage["completion_tokens"])
        return None


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


class Endpoint:
    """Base class. ``name`` is what the report and run log show."""

    name: str = "endpoint"
    in_process: bool = False

    def probe(self) -> str | None:
        """Check reachability once; return the default model id if the server says."""
        return None

    def chat(
        self, body: dict[str, Any], scenario: Scenario | None, timeout_s: float | None = None
    ) -> ChatResult:
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


class AdaptiveLimiter:
    """Caps requests in flight; halves on HTTP 429 and climbs back one slot per
    ``recover_after`` successes, so a rate-limited server is not hammered."""

    def __init__(self, limit: int, recover_after: int = 20):
        self.max = max(1, limit)
        self.limit = self.max
        self.recover_after = recover_after
        self._in_flight = 0
        self._ok = 0
        self._cond = threading.Condition()

    def __enter__(self) -> AdaptiveLimiter:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def throttled(self) -> None:
        with self._cond:
            self.limit = max(1, self.limit // 2)
            self._ok = 0

    def succeeded(self) -> None:
        with self._cond:
            self._ok += 1
            if self._ok >= self.recover_after and self.limit < self.max:
                self.limit += 1
                self._ok = 0
                self._cond.notify_all()

    @property
    def in_flight(self) -> int:
        return self._in_flight


RETRYABLE = ("endpoint_unreachable", "connection_error", "server_error", "rate_limited")


PROBE_TIMEOUT_S = 30.0  # listing models is quick on a live server
DEAD_MODES = (
    "endpoint_unreachable",
    "connection_error",
    "timeout",
    "http_error",
    "server_error",
    "rate_limited",
)


class HTTPEndpoint(Endpoint):
    """An OpenAI-compatible server (thread-safe), over a stdlib keep-alive pool
    (core.http1), streamed replies included.

    Infrastructure failures (connection errors, 5xx, 429) are retried with backoff,
    honouring ``Retry-After``, within ``max_retry_wait_s`` of waiting per request; a
    model's answer never is. ``timeout_s`` is a deadline for each whole attempt.
    Bodies are read with a size cap so a runaway server cannot exhaust memory."""

    def __init__(
        self,
        url: str,
        *,
        api_key_env: str = "LLMBENCH_API_KEY",
        timeout_s: float = 300.0,
        connect_timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_body_bytes: int = 32 * 1024 * 1024,
        concurrency: int = 64,
        stream: bool = False,
        max_retry_wait_s: float = 60.0,
    ):
        self.url = _base_url(url)
        self.name = redact(self.url)  # what reports show: no key from a query string
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.max_retry_wait_s = max_retry_wait_s
        self.max_body_bytes = max_body_bytes
        self.stream = stream
        self.timeout_s = timeout_s
        self.limiter = AdaptiveLimiter(concurrency)
        self.dialect: str | None = None  # set by probe(); see adapt_body
        key = os.environ.get(api_key_env) or ""
        register_secret(key)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        # never routed through a proxy: no environment settings are read
        self._pool = Pool(
            self.url,
            headers=headers,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            max_idle=max(concurrency, 8) + 4,
        )

    def describe(self) -> dict[str, Any]:
        d = {"name": self.name, "kind": "http", "url": self.name, "stream": self.stream}
        if self.dialect:
            d["dialect"] = self.dialect
        return d

    # -- one HTTP exchange ------------------------------------------------------
    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, timeout_s: float | None
    ) -> Reply:
        """One request, body read under the size cap. Raises EndpointError."""
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        try:
            reply = self._pool.request(
                method, path, payload, timeout_s=timeout_s, max_body_bytes=self.max_body_bytes
            )
        except BodyTooLarge:
            raise EndpointError(
                "malformed_response",
                f"{path}: response body over {self.max_body_bytes // 2**20} MB",
            ) from None
        except TransportError as exc:
            raise self._transport_error(exc, path) from None
        _check_status(reply, reply.content, path)
        return reply

    def _transport_error(self, exc: TransportError, path: str) -> EndpointError:
        if exc.kind == "connect":
            return EndpointError("endpoint_unreachable", f"{self.url}: {exc}")
        if exc.kind == "timeout":
            return EndpointError("timeout", f"{self.url}{path}: {exc}")
        return EndpointError("connection_error", f"{self.url}{path}: {exc}")

    def _with_retries(self, fn: Any, retries_log: list[dict[str, Any]]) -> Any:
        attempt = 0
        waited = 0.0
        while True:
            try:
                with self.limiter:
                    result = fn()
                self.limiter.succeeded()
                return result
            except EndpointError as exc:
                if exc.failure_mode == "rate_limited":
                    self.limiter.throttled()
                if exc.failure_mode not in RETRYABLE or attempt >= self.retries:
                    exc.retries = retries_log
                    raise
                wait = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else (self.backoff_s * (2**attempt))
                )
                if waited + wait > self.max_retry_wait_s:
                    # e.g. Retry-After: 3600: give up now rather than sleep through the run
                    exc.args = (
                        f"{exc.args[0]} (not retried: waiting {wait:g} s more would pass "
                        f"the {self.max_retry_wait_s:g} s retry budget)",
                    )
                    exc.retries = retries_log
                    raise
                waited += wait
                attempt += 1
                retries_log.append(
                    {
                        "attempt": attempt,
                        "failure_mode": exc.failure_mode,
                        "message": exc.args[0][:200],
                        "wait_s": round(wait, 3),
                    }
                )
                time.sleep(wait)

    def _json(self, resp: Reply, path: str) -> Any:
        data = redact_bytes(resp.content)  # what is stored never holds a key
        try:
            return json.loads(data)
        except ValueError:
            ctype = resp.headers.get("content-type", "?")
            raise EndpointError(
                "malformed_response",
                f"{path} returned non-JSON ({ctype}): {data[:120]!r}",
            ) from None

    def probe(self) -> str | None:
        def once() -> Any:
            resp = self._send("GET", "/v1/models", None, min(PROBE_TIMEOUT_S, self.timeout_s))
            return self._json(resp, "/v1/models")

        # Both start-up GETs at once: the first chat request waits for them.
        dialect: list[str | None] = [None]
        side = threading.Thread(target=lambda: dialect.__setitem__(0, self._detect_dialect()))
        side.start()
        try:
            data = self._with_retries(once, [])
        finally:
            side.join()
        self.dialect = dialect[0]
        try:
            return str(data["data"][0]["id"])
        except (KeyError, IndexError, TypeError):
            return None

    def _detect_dialect(self) -> str | None:
        """Ollama when the server answers its ``/api/version``; None otherwise."""
        try:
            val = self._json(self._send("GET", "/api/version", None, 5.0), "/api/version")
        except EndpointError:
            return None
        if isinstance(val, dict) and set(val) == {"version"} and isinstance(val["version"], str):
            return "ollama"
        return None

    def props(self) -> dict[str, Any] | None:
        """llama.cpp's ``/props`` (server settings), or None where the server has none."""
        try:
            resp = self._send("GET", "/props", None, 10.0)
            val = self._json(resp, "/props")
        except EndpointError:
            return None
        return val if isinstance(val, dict) else None

    def chat(
        self, body: dict[str, Any], scenario: Scenario | None, timeout_s: float | None = None
    ) -> ChatResult:
        retries: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        body = adapt_body(body, self.dialect)
        if self.stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
            res: ChatResult = self._with_retries(
                lambda: self._chat_stream(body, timeout_s), retries
            )
        else:

            def once() -> ChatResult:
                resp = self._send("POST", "/v1/chat/completions", body, timeout_s)
                parsed = self._json(resp, "/v1/chat/completions")
                turn = parse_response(parsed)
                usage = parsed.get("usage") if isinstance(parsed.get("usage"), dict) else None
                timings = parsed.get("timings") if isinstance(parsed.get("timings"), dict) else None
                return ChatResult(turn, body, parsed, 0.0, usage, timings)

            res = self._with_retries(once, retries)
        res.latency_s = time.perf_counter() - t0
        res.retries = retries
        return res

    def _chat_stream(self, body: dict[str, Any], timeout_s: float | None) -> ChatResult:
        acc = StreamAccumulator()
        path = "/v1/chat/completions"
        payload = json.dumps(body, ensure_ascii=False).encode()
        t0 = time.perf_counter()

        def on_line(line: bytes) -> None:
            acc.feed_bytes(line, time.perf_counter() - t0)

        try:
            reply = self._pool.stream(
                "POST",
                path,
                payload,
                timeout_s=timeout_s,
                max_body_bytes=self.max_body_bytes,
                on_line=on_line,
            )
        except BodyTooLarge:
            raise EndpointError(
                "malformed_response", f"{path}: stream over {self.max_body_bytes // 2**20} MB"
            ) from None
        except TransportError as exc:
            raise self._transport_error(exc, path) from None
        _check_status(reply, reply.content[: 64 * 1024], path)
        return acc.result(body, time.perf_counter() - t0)

    def close(self) -> None:
        self._pool.close()


def adapt_body(body: dict[str, Any], dialect: str | None) -> dict[str, Any]:
    """The same request in a server's own spelling. Ollama drops ``chat_template_kwargs``
    silently; its switch for thinking off is ``reasoning_effort: "none"`` (thinking is on
    by default for models that have it, so "on" needs nothing)."""
    if dialect == "ollama" and "reasoning_effort" not in body:
        kw = body.get("chat_template_kwargs")
        if isinstance(kw, dict) and kw.get("enable_thinking") is False:
            return {**body, "reasoning_effort": "none"}
    return body


def _check_status(resp: Reply, data: bytes, path: str) -> None:
    code = resp.status_code
    if 300 <= code < 400:
        where = resp.headers.get("location")
        to = f" to {where}" if where else ""
        raise EndpointError(
            "http_error",
            f"HTTP {code} redirect from {path}{to}: give the final URL as the endpoint",
            code,
        )
    if code < 400:
        return
    text = data[:200].decode("utf-8", "replace")
    if code == 429:
        exc = EndpointError("rate_limited", f"HTTP 429 from {path}: {text}", code)
        ra = resp.headers.get("retry-after")
        try:
            exc.retry_after = float(ra) if ra is not None else None
        except ValueError:
            exc.retry_after = None
        raise exc
    mode = "server_error" if code >= 500 else "http_error"
    low = text.lower()
    if code == 400 and (
        "exceed_context_size" in low or "context length" in low or "context window" in low
    ):
        mode = "context_exceeded"  # the server's context is too small for the prompt
    raise EndpointError(mode, f"HTTP {code} from {path}: {text}", code)


class StreamAccumulator:
    """Builds one chat completion from SSE chunks; records time to first token."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.timings: dict[str, Any] | None = None
        self.done = False
        self.ttft_s: float | None = None
        self.last_token_s: float | None = None
        self.content_chunks = 0
        self.reasoning_chunks = 0

    def feed_bytes(self, line: bytes, now_s: float) -> None:
        """One raw line: invalid UTF-8 is a malformed reply, never text repaired and
        then judged."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EndpointError(
                "malformed_response",
                f"stream is not valid UTF-8 ({exc.reason} at byte {exc.start} of a line)",
            ) from None
        self.feed_line(text, now_s)

    def feed_line(self, line: str, now_s: float) -> None:
        if not line.startswith("data:"):
            return  # comments, event names, blank separators
        payload = line[5:].strip()
        if payload == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise EndpointError(
                "malformed_response", f"bad stream chunk: {payload[:80]!r}"
            ) from None
        if not isinstance(chunk, dict):
            raise EndpointError("malformed_response", "stream chunk is not an object")
        try:
            self._feed_chunk(chunk, now_s)
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            raise EndpointError(
                "malformed_response", f"stream chunk of the wrong shape: {payload[:80]!r}"
            ) from exc

    def _feed_chunk(self, chunk: dict[str, Any], now_s: float) -> None:
        """Raises TypeError/AttributeError/ValueError on a chunk of the wrong shape."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if isinstance(chunk.get("timings"), dict):
            self.timings = chunk["timings"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise TypeError("choices")
        for choice in choices:
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise TypeError("delta")
            got = False
            content = delta.get("content")
            if content is not None and not isinstance(content, str):
                raise TypeError("content")
            if content:
                self.content.append(content)
                self.content_chunks += 1
                got = True
            r = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(r, str) and r:
                self.reasoning.append(r)
                self.reasoning_chunks += 1
                got = True
            tcs = delta.get("tool_calls") or []
            if not isinstance(tcs, list):
                raise TypeError("tool_calls")
            for tc in tcs:
                index = tc.get("index", 0)
                if not isinstance(index, int) or isinstance(index, bool):
                    raise TypeError("index")
                slot = self.calls.setdefault(index, {"name": "", "args": []})
                fn = tc.get("function") or {}
                name, args, call_id = fn.get("name"), fn.get("arguments"), tc.get("id")
                for v in (name, args, call_id):
                    if v is not None and not isinstance(v, str):
                        raise TypeError("tool call field")
                if call_id:
                    slot["id"] = call_id
                if name:
                    slot["name"] += name
                if args:
                    slot["args"].append(args)
                got = True
            finish = choice.get("finish_reason")
            if finish is not None and not isinstance(finish, str):
                raise TypeError("finish_reason")
            if finish:
                self.finish_reason = finish
            if got:
                if self.ttft_s is None:
                    self.ttft_s = now_s
                self.last_token_s = now_s

    def result(self, body: dict[str, Any], total_s: float) -> ChatResult:
        if not self.done and self.finish_reason is None:
            raise EndpointError("malformed_response", "stream ended without [DONE]")
        calls = [
            ToolCall(
                name=c["name"],
                arguments=redact_known("".join(c["args"])),
                id=c.get("id") or f"call_{i}",
            )
            for i, c in sorted(self.calls.items())
        ]
        turn = AssistantTurn(
            content=(
                redact_known("".join(self.content)) if self.content else (None if calls else "")
            ),
            reasoning=redact_known("".join(self.reasoning)) or None,
            tool_calls=calls,
            finish_reason=self.finish_reason,
        )
        response = {
            "object": "chat.completion",
            "choices": [
                {"index": 0, "message": turn.to_openai(), "finish_reason": self.finish_reason}
            ],
            "usage": self.usage,
            "streamed": True,
        }
        if self.timings is not None:
            response["timings"] = self.timings
        res = ChatResult(turn, body, response, total_s, self.usage, self.timings)
        toks = res.completion_tokens
        decode_s = (self.last_token_s or 0) - (self.ttft_s or 0)
        res.stream = {
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 6),
            "decode_tokens_per_s": round(toks / decode_s, 3) if toks and decode_s > 0 else None,
            "content_chunks": self.content_chunks,
            "reasoning_chunks": self.reasoning_chunks,
        }
        return res


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

    def chat(
        self, body: dict[str, Any], scenario: Scenario | None, timeout_s: float | None = None
    ) -> ChatResult:
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

    def chat(
        self, body: dict[str, Any], scenario: Scenario | None, timeout_s: float | None = None
    ) -> ChatResult:
        if scenario is None:
            return _fake_result(AssistantTurn(content=""), body)
        return _fake_result(junk_turn(scenario, self.kind or default_kind(scenario)), body)


def make_endpoint(spec: str, **http_options: Any) -> Endpoint:
    """``KIND`` or ``KIND:ARG``: ``reference``, ``junk``, ``junk:<kind>``, an http(s)
    URL (options go to :class:`HTTPEndpoint`) or a ``pytest_llmbench.endpoints`` entry
    point (see core.registry), called with ``ARG`` and the options."""
    from . import registry

    kind, _, arg = spec.partition(":")
    if not registry.known(registry.ENDPOINTS, kind):
        raise ValueError(
            f"--llm-endpoint {spec!r}: expected an http(s) URL or one of "
            f"{', '.join(registry.names(registry.ENDPOINTS))}"
        )
    made = registry.load(registry.ENDPOINTS, kind)(arg, **http_options)
    if not isinstance(made, Endpoint):
        raise TypeError(f"endpoint kind {kind!r} made {type(made).__name__}, not an Endpoint")
    return made


def make_reference(arg: str, **http_options: Any) -> Endpoint:
    if arg:
        raise ValueError(f"--llm-endpoint reference:{arg}: 'reference' takes no argument")
    return ReferenceEndpoint()


def make_junk(arg: str, **http_options: Any) -> Endpoint:
    return JunkEndpoint(arg or None)


def _http(scheme: str, arg: str, **http_options: Any) -> Endpoint:
    # The scheme was split off as the kind, so a URL's argument is "//host...".
    if not arg.startswith("//") or len(arg) < 3:
        raise ValueError(f"--llm-endpoint {scheme}:{arg}: expected {scheme}://host[:port]")
    return HTTPEndpoint(f"{scheme}:{arg}", **http_options)


def make_http(arg: str, **http_options: Any) -> Endpoint:
    return _http("http", arg, **http_options)


def make_https(arg: str, **http_options: Any) -> Endpoint:
    return _http("https", arg, **http_options)
