"""A small keep-alive HTTP/1.1 connection pool over the standard library.

Non-streaming chat requests go through it because the per-request cost of a full
client stack (~0.8 ms of CPU) is most of the harness overhead against a fast local
server; ``http.client`` needs about a third of that. It does only what the endpoint
needs: reuse of idle connections, a connect timeout and a per-read timeout, a body
size cap, and one transparent retry when a reused connection turns out closed.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit


class TransportError(Exception):
    """A request failed below HTTP. ``kind`` is "connect", "timeout" or "io"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class BodyTooLarge(Exception):
    """The response body passed the size cap (the connection is dropped)."""


@dataclass
class Response:
    status_code: int
    headers: Message
    content: bytes


# A reused connection that the server closed in the meantime fails in one of these
# ways before any byte of the reply arrives; the request never reached the server.
_STALE = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


class _DeadlineReader(io.RawIOBase):
    """The socket as http.client reads it, each read bounded by what is left of the
    request's deadline (one clock read per socket read, no extra thread)."""

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock = sock
        # the socket's own raw file: it keeps the socket open while a reply is read
        # after http.client closed the connection (Connection: close)
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(left)
        n: int | None = self._raw.readinto(buf)
        return n or 0

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _Shim:
    def __init__(self, sock: socket.socket, deadline: float):
        self.sock = sock
        self.deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self.sock, self.deadline))


class _Response(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, deadline: float, method: str | None = None):
        super().__init__(_Shim(sock, deadline), method=method)  # type: ignore[arg-type]


class _Deadline:
    """Mixed into the connection classes: the response reads under ``deadline``."""

    deadline = float("inf")

    def response_class(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None
    ) -> _Response:
        return _Response(sock, self.deadline, method=method)


# http.client calls ``self.response_class(sock, method=...)``: a method works too
class _HTTP(_Deadline, http.client.HTTPConnection):  # type: ignore[misc]
    pass


class _HTTPS(_Deadline, http.client.HTTPSConnection):  # type: ignore[misc]
    pass


class Pool:
    """Thread-safe; one connection per request in flight, idle ones kept (LIFO)."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        timeout_s: float,
        connect_timeout_s: float,
        max_idle: int = 64,
        ssl_context: ssl.SSLContext | None = None,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"endpoint URL must be http:// or https://, got {base_url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Accept": "application/json", "User-Agent": "pytest-llmbench", **headers}
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle
        self._idle: list[_HTTP | _HTTPS] = []
        self._lock = threading.Lock()
        self._ssl = ssl_context or (_default_ssl() if self.https else None)

    def _new(self, timeout: float) -> _HTTP | _HTTPS:
        if self._ssl is not None:
            return _HTTPS(self.host, self.port, timeout=timeout, context=self._ssl)
        return _HTTP(self.host, self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        timeout_s: float | None,
        max_body_bytes: int,
    ) -> Response:
        """Send one request and read the whole reply within ``timeout_s`` (the pool's
        default when None). Raises TransportError or BodyTooLarge."""
        return self._exchange(method, path, body, timeout_s, max_body_bytes, None)

    def stream(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        timeout_s: float | None,
        max_body_bytes: int,
        on_line: Callable[[bytes], None],
    ) -> Response:
        """Send one request and hand each line of a 2xx reply to ``on_line`` as it
        arrives, the whole within ``timeout_s``; the Response's content is the body of a
        reply of status 400 or more (and empty otherwise)."""
        return self._exchange(method, path, body, timeout_s, max_body_bytes, on_line)

    def _exchange(
        self,
        method: str,
        path: str,
        body: bytes | None,
        timeout_s: float | None,
        max_body_bytes: int,
        on_line: Callable[[bytes], None] | None,
    ) -> Response:
        headers = self.headers
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        budget = timeout_s or self.timeout_s
        deadline = time.monotonic() + budget
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if conn is None:
                conn = self._new(min(self.connect_timeout_s, budget))
                try:
                    conn.connect()
                except TimeoutError as exc:
                    conn.close()
                    raise TransportError("connect", f"connect timed out: {exc}") from None
                except OSError as exc:
                    conn.close()
                    raise TransportError("connect", f"{type(exc).__name__}: {exc}") from None
            assert conn.sock is not None
            conn.deadline = deadline
            resp = None
            try:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                conn.sock.settimeout(left)  # for sending; reads check the deadline
                conn.request(method, self.prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                if on_line is not None and resp.status < 400:
                    _read_lines(resp, max_body_bytes, on_line)
                    # read1() leaves a Content-Length reply open at its end: read()
                    # closes it, or the pooled connection refuses its next request.
                    resp.read()
                    data = b""
                else:
                    data = _read_capped(resp, max_body_bytes)
                break
            except BaseException as exc:
                conn.close()  # never reuse a connection in an unknown state
                if isinstance(exc, _STALE) and reused and resp is None:
                    continue  # the idle connection had been closed by the server
                if isinstance(exc, TimeoutError):
                    raise TransportError(
                        "timeout", f"no complete reply within {budget:g} s"
                    ) from None
                if isinstance(exc, (OSError, http.client.HTTPException)):
                    raise TransportError("io", f"{type(exc).__name__}: {exc}") from None
                raise  # BodyTooLarge, the caller's errors, KeyboardInterrupt
        keep = not resp.will_close and resp.isclosed()  # only a finished exchange
        if keep:
            with self._lock:
                keep = len(self._idle) < self.max_idle
                if keep:
                    self._idle.append(conn)
        if not keep:
            conn.close()
        return Response(resp.status, resp.msg, data)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _read_capped(resp: http.client.HTTPResponse, cap: int) -> bytes:
    length = resp.length  # None when chunked or read-until-close
    if length is not None:
        if length > cap:
            raise BodyTooLarge
        data = resp.read()
        if len(data) < length:
            raise http.client.IncompleteRead(data, length - len(data))
        return data
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = resp.read(min(1 << 20, cap + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge
        chunks.append(chunk)


def _read_lines(resp: http.client.HTTPResponse, cap: int, on_line: Callable[[bytes], None]) -> None:
    """Split a streamed body into lines (``\\r`` dropped) as it arrives."""
    size = 0
    parts: list[bytes] = []  # the line being received (joined once it ends)
    while True:
        chunk = resp.read1(1 << 16)
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge
        parts.append(chunk)
        if b"\n" not in chunk:
            continue
        lines = b"".join(parts).split(b"\n")
        rest = lines.pop()
        parts = [rest] if rest else []
        for line in lines:
            on_line(line[:-1] if line.endswith(b"\r") else line)
    if parts:
        on_line(b"".join(parts))


def _default_ssl() -> ssl.SSLContext:
    # the CA bundle httpx uses, so https endpoints verify the same on every platform
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())
