"""An OpenAI-compatible HTTP endpoint over a stdlib keep-alive pool (core.http1)."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from .endpoint import Endpoint, EndpointError, Params, Reply
from .http1 import BodyTooLarge, Pool, Response, TransportError
from .redact import redact, redact_bytes, register_secret
from .stream import StreamAccumulator
from .wire import build_body, reply_parts


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
    ) -> Response:
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

    def _json(self, resp: Response, path: str) -> Any:
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
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        return self.send(build_body(messages, params), timeout_s)

    def send(self, body: dict[str, Any], timeout_s: float | None = None) -> Reply:
        """One chat request with this exact body (retried on infrastructure failures)."""
        retries: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        body = adapt_body(body, self.dialect)
        if self.stream:
            body = {**body, "stream": True, "stream_options": {"include_usage": True}}
            res: Reply = self._with_retries(lambda: self._chat_stream(body, timeout_s), retries)
        else:

            def once() -> Reply:
                resp = self._send("POST", "/v1/chat/completions", body, timeout_s)
                parsed = self._json(resp, "/v1/chat/completions")
                turn, usage, timings = reply_parts(parsed)
                return Reply(turn, usage, request=body, response=parsed, timings=timings)

            res = self._with_retries(once, retries)
        res.latency_s = time.perf_counter() - t0
        res.retries = retries
        return res

    def _chat_stream(self, body: dict[str, Any], timeout_s: float | None) -> Reply:
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


def _check_status(resp: Response, data: bytes, path: str) -> None:
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


def _http(scheme: str, arg: str, **http_options: Any) -> Endpoint:
    # The scheme was split off as the kind, so a URL's argument is "//host...".
    if not arg.startswith("//") or len(arg) < 3:
        raise ValueError(f"--llm-endpoint {scheme}:{arg}: expected {scheme}://host[:port]")
    return HTTPEndpoint(f"{scheme}:{arg}", **http_options)


def make_http(arg: str, **http_options: Any) -> Endpoint:
    return _http("http", arg, **http_options)


def make_https(arg: str, **http_options: Any) -> Endpoint:
    return _http("https", arg, **http_options)
