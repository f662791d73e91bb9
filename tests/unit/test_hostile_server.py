"""The endpoint against a hostile loopback server whose every byte and pause the test
decides: drips, endless keep-alive streams, Retry-After: 3600, wrong-shaped JSON,
invalid UTF-8, redirects, servers without /v1/models."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_llmbench.core.endpoint import EndpointError
from pytest_llmbench.core.http_endpoint import HTTPEndpoint

# (method, path, body) -> a list of (bytes to send, seconds to sleep after them)
Script = Callable[[str, str, bytes], list[tuple[bytes, float]]]


class HostileServer:
    def __init__(self, script: Script):
        self.script = script
        self.requests: list[tuple[str, str]] = []
        self.stop = threading.Event()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while not outer.stop.is_set():
                    line = self.rfile.readline()
                    if not line:
                        return
                    method, path, _ = line.decode().split(" ", 2)
                    length = 0
                    while True:
                        h = self.rfile.readline()
                        if h in (b"\r\n", b""):
                            break
                        if h.lower().startswith(b"content-length:"):
                            length = int(h.split(b":")[1])
                    body = self.rfile.read(length)
                    outer.requests.append((method, path))
                    steps = outer.script(method, path, body)
                    for data, pause in steps:
                        if outer.stop.is_set():
                            return
                        self.wfile.write(data)
                        self.wfile.flush()
                        if pause:
                            outer.stop.wait(pause)
                    if b"Connection: close" in steps[0][0]:
                        return  # the reply ends when the connection does

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up breaks the pipe: expected

        self.srv = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def hostile() -> Iterator[Callable[[Script], HostileServer]]:
    servers: list[HostileServer] = []

    def make(script: Script) -> HostileServer:
        servers.append(HostileServer(script))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def reply(status: str, body: bytes, *headers: str) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(h + "\r\n" for h in headers)
    return head.encode() + b"\r\n" + body


def chat_json(**choice: Any) -> bytes:
    msg = choice.pop("message", {"role": "assistant", "content": "ok"})
    return json.dumps({"choices": [{"index": 0, "message": msg, **choice}]}).encode()


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def sse(*chunks: Any) -> bytes:
    return b"".join(
        b"data: " + (c if isinstance(c, bytes) else json.dumps(c).encode()) + b"\n\n"
        for c in chunks
    )


MSG = {"messages": [{"role": "user", "content": "hi"}]}  # a raw body: send() as is


# -- item 5: --llm-timeout is a deadline for the whole request -------------------------


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_server_dripping_one_byte_at_a_time_hits_the_deadline(
    hostile: Callable[[Script], HostileServer], where: str
) -> None:
    body = chat_json()

    def script(method: str, path: str, _: bytes) -> list[tuple[bytes, float]]:
        data = reply("200 OK", body, "Content-Type: application/json")
        split = data.index(b"\r\n\r\n") + 4 if where == "body" else 10
        return [(data[:split], 0)] + [(bytes([b]), 0.05) for b in data[split:]]

    srv = hostile(script)
    ep = HTTPEndpoint(srv.url, timeout_s=1.0, retries=0)
    t0 = time.monotonic()
    with pytest.raises(EndpointError) as ei:
        ep.send(MSG)
    took = time.monotonic() - t0
    assert ei.value.failure_mode == "timeout"
    assert "within 1 s" in str(ei.value)
    assert took < 2.5, f"{took:.1f} s for a 1 s deadline"  # per-read timeouts: ~5-10 s
    ep.close()


def test_a_stream_of_endless_keepalive_lines_hits_the_deadline(
    hostile: Callable[[Script], HostileServer],
) -> None:
    def script(method: str, path: str, _: bytes) -> list[tuple[bytes, float]]:
        first = {"choices": [{"index": 0, "delta": {"content": "o"}}]}
        return [(SSE_HEAD + sse(first), 0)] + [(b": keep-alive\n\n", 0.1)] * 1000

    srv = hostile(script)
    ep = HTTPEndpoint(srv.url, timeout_s=1.0, retries=0, stream=True)
    t0 = time.monotonic()
    with pytest.raises(EndpointError) as ei:
        ep.send(MSG)
    assert ei.value.failure_mode == "timeout"
    assert time.monotonic() - t0 < 2.5
    ep.close()


def test_a_slow_but_steady_stream_within_the_deadline_passes(
    hostile: Callable[[Script], HostileServer],
) -> None:
    def script(method: str, path: str, _: bytes) -> list[tuple[bytes, float]]:
        words = [{"choices": [{"index": 0, "delta": {"content": w}}]} for w in ("o", "k")]
        end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        return [(SSE_HEAD, 0), (sse(words[0]), 0.2), (sse(words[1]), 0.2), (sse(end, b"[DONE]"), 0)]

    srv = hostile(script)
    ep = HTTPEndpoint(srv.url, timeout_s=3.0, retries=0, stream=True)
    res = ep.send(MSG)
    assert res.turn.content == "ok" and res.stream is not None
    ep.close()


# -- item 6: bounded retry waits ----------------------------------------------------


def test_retry_after_past_the_budget_is_not_slept_through(
    hostile: Callable[[Script], HostileServer],
) -> None:
    srv = hostile(lambda m, p, b: [(reply("429 Too Many", b"slow down", "Retry-After: 3600"), 0)])
    ep = HTTPEndpoint(srv.url, retries=6)
    t0 = time.monotonic()
    with pytest.raises(EndpointError) as ei:
        ep.send(MSG)
    assert time.monotonic() - t0 < 2
    assert ei.value.failure_mode == "rate_limited"
    assert "3600 s" in str(ei.value) and "retry budget" in str(ei.value)
    assert len(srv.requests) == 1


def test_retry_waits_add_up_to_at_most_the_budget(
    hostile: Callable[[Script], HostileServer],
) -> None:
    srv = hostile(lambda m, p, b: [(reply("429 Busy", b"busy", "Retry-After: 0.4"), 0)])
    ep = HTTPEndpoint(srv.url, retries=10, max_retry_wait_s=1.0)
    with pytest.raises(EndpointError) as ei:
        ep.send(MSG)
    assert sum(r["wait_s"] for r in ei.value.retries) <= 1.0
    assert len(srv.requests) == 3  # two waits of 0.4 s fit, a third does not


def test_429_without_retry_after_is_retried_with_backoff(
    hostile: Callable[[Script], HostileServer],
) -> None:
    """What the README says: a 429 is retried, after Retry-After when given, else
    after exponential backoff (and the concurrency limit is halved)."""
    calls = {"n": 0}

    def script(method: str, path: str, _: bytes) -> list[tuple[bytes, float]]:
        calls["n"] += 1
        if calls["n"] == 1:
            return [(reply("429 Too Many", b"{}"), 0)]
        return [(reply("200 OK", chat_json()), 0)]

    ep = HTTPEndpoint(hostile(script).url, retries=2, backoff_s=0.05, concurrency=8)
    res = ep.send(MSG)
    assert res.turn.content == "ok"
    assert [r["failure_mode"] for r in res.retries] == ["rate_limited"]
    assert res.retries[0]["wait_s"] == 0.05 and ep.limiter.limit == 4


# -- item 7: valid JSON of the wrong shape, invalid UTF-8 --------------------------------

WRONG_SHAPES = {
    "finish_reason_number": chat_json(finish_reason=5),
    "finish_reason_object": chat_json(finish_reason={"x": 1}),
    "tool_calls_number": chat_json(message={"role": "assistant", "content": None, "tool_calls": 7}),
    "tool_call_id_number": chat_json(
        message={
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": 5, "function": {"name": "f", "arguments": "{}"}}],
        }
    ),
    "content_parts_wrong": chat_json(message={"role": "assistant", "content": [{"text": 5}]}),
    "choice_is_string": json.dumps({"choices": ["x"]}).encode(),
}


@pytest.mark.parametrize("shape", sorted(WRONG_SHAPES))
def test_wrong_shaped_json_is_malformed_response(
    hostile: Callable[[Script], HostileServer], shape: str
) -> None:
    body = WRONG_SHAPES[shape]
    srv = hostile(lambda m, p, b: [(reply("200 OK", body), 0)])
    with pytest.raises(EndpointError) as ei:
        HTTPEndpoint(srv.url, retries=0).send(MSG)
    assert ei.value.failure_mode == "malformed_response"


def _delta(**d: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": d}]}


WRONG_CHUNKS: dict[str, bytes] = {
    "choices_number": sse({"choices": 7}),
    "choice_string": sse({"choices": ["x"]}),
    "delta_string": sse({"choices": [{"delta": "x"}]}),
    "content_number": sse(_delta(content=5)),
    "tool_calls_number": sse(_delta(tool_calls=7)),
    "tool_index_string": sse(_delta(tool_calls=[{"index": "a", "function": {"name": "f"}}])),
    "tool_name_number": sse(_delta(tool_calls=[{"index": 0, "function": {"name": 5}}])),
    "tool_args_object": sse(_delta(tool_calls=[{"index": 0, "function": {"arguments": {}}}])),
    "finish_reason_object": sse({"choices": [{"delta": {}, "finish_reason": {"a": 1}}]}),
    "invalid_utf8": b'data: {"choices": [{"index": 0, "delta": {"content": "ok \xff\xfe"}}]}\n\n',
}


@pytest.mark.parametrize("shape", sorted(WRONG_CHUNKS))
def test_wrong_shaped_stream_chunks_are_malformed_response(
    hostile: Callable[[Script], HostileServer], shape: str
) -> None:
    end = sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, b"[DONE]")
    srv = hostile(lambda m, p, b: [(SSE_HEAD + WRONG_CHUNKS[shape] + end, 0)])
    with pytest.raises(EndpointError) as ei:
        HTTPEndpoint(srv.url, retries=0, stream=True).send(MSG)
    assert ei.value.failure_mode == "malformed_response"
    if shape == "invalid_utf8":
        assert "UTF-8" in str(ei.value)


# -- item 9: one clear line each ---------------------------------------------------------


def test_a_redirect_names_its_status_and_location(
    hostile: Callable[[Script], HostileServer],
) -> None:
    srv = hostile(
        lambda m, p, b: [(reply("301 Moved", b"", "Location: https://example.test/v1"), 0)]
    )
    with pytest.raises(EndpointError) as ei:
        HTTPEndpoint(srv.url, retries=0).send(MSG)
    msg = str(ei.value)
    assert "HTTP 301 redirect" in msg and "https://example.test/v1" in msg
    assert "non-JSON" not in msg
