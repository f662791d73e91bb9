"""A fake OpenAI-compatible server on 127.0.0.1 for tests.

Behaviour is scripted per request with ``server.script`` (a callable taking the
request body and returning ``(status, body_bytes_or_obj, headers)``), or by the
default, which echoes a fixed answer. Every request is recorded.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any, dict[str, str]]


class Raw:
    """Write these bytes verbatim (status line and headers included), then close:
    for truncated bodies and resets."""

    def __init__(self, data: bytes):
        self.data = data


class Stream:
    """An SSE response: each chunk is sent as ``data: <json>``; ``done`` adds [DONE]."""

    def __init__(self, chunks: list[dict[str, Any]], done: bool = True, delay_s: float = 0.0):
        self.chunks = chunks
        self.done = done
        self.delay_s = delay_s


def chat_reply(
    content: str | None = "ok",
    *,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    usage: dict[str, Any] | None = None,
    timings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        msg["reasoning_content"] = reasoning
    if tool_calls is not None:
        msg["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": tc}
            for i, tc in enumerate(tool_calls)
        ]
    body: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "fake-model",
        "choices": [{"index": 0, "message": msg, "finish_reason": finish_reason}],
        "usage": usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    if timings is not None:
        body["timings"] = timings
    return body


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.gets: list[str] = []  # paths of GET requests, in arrival order
        self.on_get: Callable[[str], object] | None = None  # called first in every GET
        self.script: Callable[[dict[str, Any]], Reply] = lambda body: (200, chat_reply(), {})
        self.models: list[str] = ["fake-model"]
        self.models_status = 200  # another status answers /v1/models with an error
        self.delay_s = 0.0
        self.props: dict[str, Any] | None = None  # served at /props, like llama.cpp
        self.api_version: dict[str, Any] | None = None  # /api/version, like Ollama
        self.capacity: int | None = None  # requests beyond it queue, like server slots
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        self._slots: threading.Semaphore | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without this every reply waits
            # for the client's delayed ACK (~40 ms)
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                outer.gets.append(self.path)
                if outer.on_get is not None:
                    outer.on_get(self.path)
                if self.path == "/props" and outer.props is not None:
                    self._send(200, outer.props, {})
                elif self.path == "/api/version" and outer.api_version is not None:
                    self._send(200, outer.api_version, {})
                elif self.path.rstrip("/") == "/v1/models" and outer.models_status != 200:
                    self._send(outer.models_status, {"error": "models unavailable"}, {})
                elif self.path.rstrip("/") == "/v1/models":
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": m, "object": "model"} for m in outer.models],
                        },
                        {},
                    )
                else:
                    self._send(404, {"error": "not found"}, {})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else {}
                outer.requests.append(body)
                outer.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": "not found"}, {})
                    return
                with outer._lock:
                    outer.in_flight += 1
                    outer.peak_in_flight = max(outer.peak_in_flight, outer.in_flight)
                    if outer.capacity and outer._slots is None:
                        outer._slots = threading.Semaphore(outer.capacity)
                slots = outer._slots
                try:
                    if slots is not None:
                        slots.acquire()
                    try:
                        if outer.delay_s:
                            time.sleep(outer.delay_s)
                        status, reply, headers = outer.script(body)
                    finally:
                        if slots is not None:
                            slots.release()
                finally:
                    with outer._lock:
                        outer.in_flight -= 1
                if isinstance(reply, Raw):
                    self.wfile.write(reply.data)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if isinstance(reply, Stream):
                    self.send_response(status)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in reply.chunks:
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        if reply.delay_s:
                            time.sleep(reply.delay_s)
                    if reply.done:
                        self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(status, reply, dict(headers))

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # a client that hung up (timeout, Ctrl-C, size cap) is part of the tests
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def chat_requests(self) -> list[dict[str, Any]]:
        """Chat requests, without the decode-speed probe."""
        return [r for r in self.requests if not _is_probe(r)]

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _is_probe(body: dict[str, Any]) -> bool:
    msgs = body.get("messages") or []
    return bool(msgs) and "Count from 1 to 30" in str(msgs[-1].get("content"))


def stream_chunks(text: str, *, reasoning: str = "", finish: str = "stop") -> list[dict[str, Any]]:
    """SSE chunks for an answer, one word a chunk, usage in the last."""
    chunks: list[dict[str, Any]] = []
    for word in reasoning.split():
        chunks.append({"choices": [{"index": 0, "delta": {"reasoning_content": word + " "}}]})
    for word in text.split(" "):
        chunks.append({"choices": [{"index": 0, "delta": {"content": word + " "}}]})
    chunks[-1]["choices"][0]["delta"]["content"] = (
        chunks[-1]["choices"][0]["delta"]["content"].rstrip()
        if "content" in chunks[-1]["choices"][0]["delta"]
        else ""
    )
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    chunks.append({"choices": [], "usage": {"completion_tokens": len(chunks) - 1}})
    return chunks


def main() -> None:
    """Run standalone (for pytester subprocess tests): prints the URL, serves answers
    from a JSON file mapping a substring of the last user message to a reply body."""
    import sys
    from pathlib import Path

    table = json.loads(Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else {}

    def script(body: dict[str, Any]) -> Reply:
        last = next(
            (
                m.get("content") or ""
                for m in reversed(body.get("messages", []))
                if m.get("role") == "user"
            ),
            "",
        )
        for needle, reply in table.items():
            if needle in last:
                if isinstance(reply, dict) and "status" in reply:
                    return reply["status"], reply.get("body", {}), {}
                return 200, chat_reply(reply) if isinstance(reply, str) else reply, {}
        return 200, chat_reply("I do not know."), {}

    srv = FakeServer()
    srv.script = script
    with srv:
        print(srv.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
