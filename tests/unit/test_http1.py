"""The stdlib keep-alive pool behind non-streaming requests, against a raw loopback
server whose every byte and every connection close the test decides."""

from __future__ import annotations

import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.endpoint import EndpointError
from pytest_llmbench.core.http1 import BodyTooLarge, Pool, TransportError
from pytest_llmbench.core.http_endpoint import HTTPEndpoint

# (connection index, request index on that connection, request line) -> (bytes, close after)
Behaviour = Callable[[int, int, str], tuple[bytes, bool]]


def ok(body: bytes = b'{"ok": true}', extra: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def chunked(parts: list[bytes]) -> bytes:
    out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    for p in parts:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n\r\n"


class RawServer:
    def __init__(self, behaviour: Behaviour):
        self.behaviour = behaviour
        self.connections = 0
        self.lines: list[str] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with outer_lock:
                    conn_no = outer.connections
                    outer.connections += 1
                f = self.request.makefile("rb")
                n = 0
                while True:
                    line = f.readline()
                    if not line:
                        return
                    length = 0
                    while True:
                        h = f.readline()
                        if h in (b"\r\n", b""):
                            break
                        if h.lower().startswith(b"content-length:"):
                            length = int(h.split(b":")[1])
                    f.read(length)
                    text = line.decode().strip()
                    outer.lines.append(text)
                    data, close = outer.behaviour(conn_no, n, text)
                    n += 1
                    if data:
                        self.request.sendall(data)
                    if close:
                        return

        outer_lock = threading.Lock()

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (timeout, cap) breaks the pipe: expected

        self.srv = Server(("127.0.0.1", 0), Handler)
        self.port = self.srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.srv.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def raw() -> Iterator[Callable[[Behaviour], RawServer]]:
    servers: list[RawServer] = []

    def make(b: Behaviour) -> RawServer:
        servers.append(RawServer(b))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def pool(url: str, **kw: Any) -> Pool:
    return Pool(url, headers={}, timeout_s=kw.pop("timeout_s", 5.0), connect_timeout_s=2.0, **kw)


def get(
    p: Pool, path: str = "/v1/models", cap: int = 1 << 20, timeout_s: float | None = None
) -> Any:
    return p.request("GET", path, None, timeout_s=timeout_s, max_body_bytes=cap)


def test_idle_connection_is_reused(raw: Any) -> None:
    srv = raw(lambda c, n, line: (ok(b'{"n": %d}' % n), False))
    p = pool(srv.url)
    replies = [get(p) for _ in range(3)]
    assert [r.content for r in replies] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert replies[0].status_code == 200
    assert replies[0].headers.get("content-type") == "application/json"
    assert srv.connections == 1
    p.close()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_streamed_reply_leaves_its_connection_reusable(raw: Any, framing: str) -> None:
    # A stream read to its end with read1() stays "open" in http.client when it had a
    # Content-Length: pooled as it was, the next request on that connection failed with
    # ResponseNotReady (seen as a connection_error under load).
    body = b'data: {"n": 1}\n\ndata: [DONE]\n\n'
    reply = ok(body) if framing == "content-length" else chunked([body[:9], body[9:]])
    srv = raw(lambda c, n, line: (reply if "chat" in line else ok(b'{"n": %d}' % n), False))
    p = pool(srv.url)
    lines: list[bytes] = []
    for _ in range(2):
        p.stream(
            "POST", "/v1/chat", b"{}", timeout_s=None, max_body_bytes=1 << 20, on_line=lines.append
        )
        assert get(p).content == b'{"n": %d}' % (2 * _ + 1)
    assert lines.count(b"data: [DONE]") == 2
    assert srv.connections == 1
    p.close()


def test_connection_closed_by_server_while_idle_is_replaced(raw: Any) -> None:
    # every connection answers once and is closed by the server without saying so
    srv = raw(lambda c, n, line: (ok(b'{"conn": %d}' % c), True))
    p = pool(srv.url)
    assert get(p).content == b'{"conn": 0}'
    time.sleep(0.05)
    assert get(p).content == b'{"conn": 1}'
    assert srv.connections == 2
    p.close()


def test_connection_close_header_is_honoured(raw: Any) -> None:
    srv = raw(lambda c, n, line: (ok(extra="Connection: close\r\n"), True))
    p = pool(srv.url)
    get(p)
    get(p)
    assert srv.connections == 2
    assert p._idle == []


def test_fresh_connection_dropped_without_reply_is_an_error_not_a_loop(raw: Any) -> None:
    srv = raw(lambda c, n, line: (b"", True))
    p = pool(srv.url)
    with pytest.raises(TransportError) as ei:
        get(p)
    assert ei.value.kind == "io"
    assert srv.connections == 1


def test_chunked_body_is_decoded_and_capped(raw: Any) -> None:
    def reply(c: int, n: int, line: str) -> tuple[bytes, bool]:
        return (chunked([b'{"a": ', b"1}"]) if n == 0 else chunked([b"x" * 4096] * 4)), False

    srv = raw(reply)
    p = pool(srv.url)
    assert get(p).content == b'{"a": 1}'
    with pytest.raises(BodyTooLarge):
        get(p, cap=10_000)
    assert p._idle == []  # a half-read connection is never reused


def test_content_length_over_cap_is_refused_before_reading(raw: Any) -> None:
    srv = raw(lambda c, n, line: (b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n{", False))
    with pytest.raises(BodyTooLarge):
        get(pool(srv.url), cap=1000)


def test_short_body_is_an_io_error(raw: Any) -> None:
    srv = raw(lambda c, n, line: (b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"a"', True))
    with pytest.raises(TransportError) as ei:
        get(pool(srv.url))
    assert ei.value.kind == "io"


def test_read_timeout(raw: Any) -> None:
    def stall(c: int, n: int, line: str) -> tuple[bytes, bool]:
        time.sleep(1.0)
        return ok(), False

    srv = raw(stall)
    t0 = time.perf_counter()
    with pytest.raises(TransportError) as ei:
        get(pool(srv.url), timeout_s=0.2)
    assert ei.value.kind == "timeout"
    assert time.perf_counter() - t0 < 0.9


def test_refused_connection_is_a_connect_error() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(TransportError) as ei:
        get(pool(f"http://127.0.0.1:{port}"))
    assert ei.value.kind == "connect"


def test_base_url_path_prefix_is_kept(raw: Any) -> None:
    srv = raw(lambda c, n, line: (ok(), False))
    get(pool(srv.url + "/api/"), "/v1/models")
    assert srv.lines == ["GET /api/v1/models HTTP/1.1"]


def test_non_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        pool("ftp://127.0.0.1:21")


def test_concurrent_requests_use_separate_connections(raw: Any) -> None:
    def slow(c: int, n: int, line: str) -> tuple[bytes, bool]:
        time.sleep(0.1)
        return ok(b'{"c": %d}' % c), False

    srv = raw(slow)
    p = pool(srv.url)
    out: list[bytes] = []
    threads = [threading.Thread(target=lambda: out.append(get(p).content)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == sorted(b'{"c": %d}' % i for i in range(4))
    assert len(p._idle) == 4
    get(p)
    assert srv.connections == 4  # the next request reuses one of them


def test_endpoint_maps_transport_errors_to_failure_modes(raw: Any) -> None:
    srv = raw(lambda c, n, line: (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{", True))
    ep = HTTPEndpoint(srv.url, retries=0)
    with pytest.raises(EndpointError) as ei:
        ep.send({"messages": [{"role": "user", "content": "hi"}]})
    assert ei.value.failure_mode == "connection_error"
    ep.close()


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_verifies_the_certificate(raw: Any, tls_cert: tuple[Path, Path]) -> None:
    cert, key = tls_cert
    srv = raw(lambda c, n, line: (ok(b'{"tls": 1}'), False))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    srv.srv.socket = server_ctx.wrap_socket(srv.srv.socket, server_side=True)
    url = f"https://127.0.0.1:{srv.port}"
    trusting = ssl.create_default_context(cafile=str(cert))
    p = pool(url, ssl_context=trusting)
    assert get(p).content == b'{"tls": 1}'
    assert get(p).content == b'{"tls": 1}'
    with pytest.raises(TransportError) as ei:
        get(pool(url))  # the default context does not know a self-signed certificate
    assert ei.value.kind == "connect"
    assert "CERTIFICATE_VERIFY_FAILED" in str(ei.value)
