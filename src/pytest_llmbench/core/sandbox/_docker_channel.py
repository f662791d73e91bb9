"""The Docker backend's streams: demultiplexing exec output, the runner's framed reply,
and the host end of a channel (DockerChannel)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from . import _supervise
from ._docker_client import _BACKSTOP_S
from .channel import LineChannel
from .interface import (
    ChannelClosed,
    ExecResult,
)

if TYPE_CHECKING:  # the sandbox imports this module
    from .docker import DockerSandbox


class _ContainerGone(Exception):
    pass


def _demux(buf: bytearray, out: bytearray, err: bytearray) -> None:
    """Move the complete frames of ``buf`` (8-byte headers: stream, size) to stdout
    (stream 1) or stderr; a partial frame stays in ``buf``."""
    while len(buf) >= 8:
        stream, size = buf[0], struct.unpack(">I", buf[4:8])[0]
        if len(buf) < 8 + size:
            break
        (out if stream == 1 else err).extend(buf[8 : 8 + size])
        del buf[: 8 + size]


def _read_frames(sock: socket.socket, out: bytearray, err: bytearray) -> None:
    """Demultiplex a non-TTY exec stream (8-byte headers) until EOF."""
    buf = bytearray()
    while True:
        chunk = sock.recv(262144)
        if not chunk:
            break
        buf += chunk
        _demux(buf, out, err)


class DockerChannel(LineChannel):
    """The host end of a channel runner (see ``serve_channel``): frames go in on the
    exec's stdin; the command's stdout comes back as stream 1, the runner's reply as
    stream 2 once everything in the container is dead."""

    def __init__(
        self, sb: DockerSandbox, sock: Any, raw: socket.socket, timeout_s: float, cap: int
    ) -> None:
        self._sb = sb
        self._sock = sock
        self._raw = raw
        self._t0 = time.monotonic()
        self._deadline = self._t0 + timeout_s
        self._slack = _BACKSTOP_S
        self._cap = cap
        self._frames = bytearray()
        self._out = bytearray()
        self._rep = bytearray()
        self._out_eof = False
        self._over = False
        self._result: ExecResult | None = None
        raw.setblocking(False)

    def _pump(self, until: float, want_write: bool = False) -> bool:
        if self._out_eof:
            return False
        ev = 0
        if not want_write or len(self._out) < _CH_BACKLOG:
            ev |= select.POLLIN
        if want_write:
            ev |= select.POLLOUT
        poller = select.poll()
        poller.register(self._raw.fileno(), ev)
        wait = max(min(until, self._deadline + self._slack) - time.monotonic(), 0.0)
        writable = False
        for _, got in poller.poll(wait * 1000):
            if got & select.POLLOUT:
                writable = True
            if got & (select.POLLIN | select.POLLHUP | select.POLLERR):
                self._recv()
        return writable

    def _recv(self) -> None:
        try:
            chunk = self._raw.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._out_eof = True
            return
        buf = self._frames
        buf += chunk
        while len(buf) >= 8:
            stream, size = buf[0], struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + size:
                break
            if stream == 1:
                self._out += buf[8 : 8 + size]
            elif len(self._rep) < self._cap + (1 << 20):
                self._rep += buf[8 : 8 + size]
            del buf[: 8 + size]

    def _send_raw(self, data: bytes, until: float) -> None:
        view = memoryview(data)
        while view:
            if self._out_eof:
                raise ChannelClosed("sandboxed process is gone")
            if time.monotonic() >= until:
                raise ChannelClosed("sandboxed process passed its deadline")
            if not self._pump(until, want_write=True):
                continue
            try:
                n = self._raw.send(view[:262144])
            except BlockingIOError:
                continue
            except OSError as exc:
                raise ChannelClosed(f"sandbox channel broke: {exc}") from exc
            view = view[n:]

    def send(self, data: bytes) -> None:
        if self._result is not None:
            raise ChannelClosed("channel is closed")
        view = memoryview(data)
        while view:
            part = view[:_FRAME]
            self._send_raw(struct.pack(">I", len(part)) + bytes(part), self._deadline)
            view = view[len(part) :]

    def _end_over(self) -> None:
        if not self._over:
            self._over = True
            with contextlib.suppress(ChannelClosed):
                self._send_raw(struct.pack(">I", _supervise.KILL_NOW), time.monotonic() + 1.0)

    def close(self) -> ExecResult:
        if self._result is not None:
            return self._result
        with contextlib.suppress(ChannelClosed):
            self._send_raw(b"\0\0\0\0", time.monotonic() + 1.0)
        until = min(self._deadline, time.monotonic() + _supervise.GRACE_S) + _BACKSTOP_S
        while not self._out_eof and time.monotonic() < until:
            self._pump(until)
            if len(self._out) > self._cap:
                del self._out[self._cap + 1 :]
        elapsed = time.monotonic() - self._t0
        if not self._out_eof:
            # The runner itself is stuck: only killing the container ends it for sure.
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sb._discard()
            self._sb._lock.release()
            self._result = ExecResult(
                exit_code=-9,
                stdout="",
                stderr="sandbox runner did not answer; container killed",
                duration_s=elapsed,
                timed_out=True,
                killed=True,
                failure_mode="exec_timeout",
            )
            return self._result
        out = bytes(self._out[: self._cap])
        res = self._sb._channel_done(self._sock, bytes(self._rep), out, elapsed)
        res.stdout_truncated = len(self._out) > self._cap
        if self._over and res.failure_mode in (None, "killed"):
            res.failure_mode, res.killed = "output_limit", True
        self._out.clear()
        self._result = res
        return res

    def __del__(self) -> None:
        if getattr(self, "_result", None) is None and hasattr(self, "_sb"):
            with contextlib.suppress(Exception):
                self.close()


_CH_BACKLOG = 8 << 20  # unread stdout kept while sending; beyond it the command waits
_FRAME = 1 << 20


def _read_reply(sock: socket.socket, out: bytearray, err: bytearray) -> bool:
    """Demultiplex until stdout holds one whole reply (the runner stays for the next
    request) or EOF; True when the reply is complete."""
    buf = bytearray()
    need: int | None = None
    while True:
        if need is None and len(out) >= 12:
            if not out.startswith(b"LLMBENCH"):
                need = -1  # not a reply: read to EOF
            else:
                (n,) = struct.unpack(">I", out[8:12])
                if len(out) >= 12 + n:
                    meta = json.loads(out[12 : 12 + n])
                    need = 12 + n + int(meta.get("stdout_len", 0)) + int(meta.get("stderr_len", 0))
        if need is not None and need >= 0 and len(out) >= need and not buf:
            return len(out) == need
        chunk = sock.recv(262144)
        if not chunk:
            return False
        buf += chunk
        _demux(buf, out, err)
