"""A small keep-alive HTTP/1.1 connection pool over the standard library.

Non-streaming chat requests go through it because the per-request cost of a full
client stack (~0.8 ms of CPU) is most of the harness overhead against a fast local
server; ``http.client`` needs about a third of that. It does only what the endpoint
needs: reuse of idle connections, a connect timeout and a per-read timeout, a body
size cap, and one transparent retry when a reused connection turns out closed.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit


class TransportError(Exception):
    """A request failed below HTTP. ``kind`` is "connect", "timeout" or "io"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class BodyTooLarge(Exception):
    """The response body passed the size cap (the connection is dropped)."""


@dataclass
class Reply:
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
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._ssl = ssl_context or (_default_ssl() if self.https else None)

    def _new(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.connect_timeout_s, context=self._ssl
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout_s)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        timeout_s: float | None,
        max_body_bytes: int,
    ) -> Reply:
        """Send one request and read the whole reply. Raises TransportError or BodyTooLarge."""
        headers = self.headers
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        read_timeout = timeout_s or self.timeout_s
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if conn is None:
                conn = self._new()
                try:
                    conn.connect()
                except TimeoutError as exc:
                    conn.close()
                    raise TransportError("connect", f"connect timed out: {exc}") from None
                except OSError as exc:
                    conn.close()
                    raise TransportError("connect", f"{type(exc).__name__}: {exc}") from None
            assert conn.sock is not None
            conn.sock.settimeout(read_timeout)
            resp = None
            try:
                conn.request(method, self.prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                data = _read_capped(resp, max_body_bytes)
                break
            except BaseException as exc:
                conn.close()  # never reuse a connection in an unknown state
                if isinstance(exc, _STALE) and reused and resp is None:
                    continue  # the idle connection had been closed by the server
                if isinstance(exc, TimeoutError):
                    raise TransportError("timeout", "ReadTimeout") from None
                if isinstance(exc, (OSError, http.client.HTTPException)):
                    raise TransportError("io", f"{type(exc).__name__}: {exc}") from None
                raise  # BodyTooLarge, KeyboardInterrupt
        keep = not resp.will_close
        if keep:
            with self._lock:
                keep = len(self._idle) < self.max_idle
                if keep:
                    self._idle.append(conn)
        if not keep:
            conn.close()
        return Reply(resp.status, resp.msg, data)

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


def _default_ssl() -> ssl.SSLContext:
    # the CA bundle httpx uses, so https endpoints verify the same on every platform
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())
