"""A fake OpenAI-compatible server on 127.0.0.1 for tests.

Behaviour is scripted per request with ``server.script`` (a callable taking the
request body and returning ``(status, body_bytes_or_obj, headers)``), or by the
default, which echoes a fixed answer. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, Any, dict[str, str]]


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
        self.script: Callable[[dict[str, Any]], Reply] = lambda body: (200, chat_reply(), {})
        self.models: list[str] = ["fake-model"]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

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
                if self.path.rstrip("/") == "/v1/models":
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
                status, reply, headers = outer.script(body)
                self._send(status, reply, dict(headers))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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
