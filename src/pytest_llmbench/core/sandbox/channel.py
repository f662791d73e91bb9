"""A :class:`Channel` over the pipes of a host process (unsafe-local and bwrap).

The process is the sandbox wrapper (bwrap, or the plain command); killing it and its
leftovers is the backend's ``kill`` callback. One caller drives the channel; a timer
thread only ever kills at the overall deadline.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import subprocess
import threading
import time
import weakref
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from .interface import Channel, ChannelClosed, ChannelTimeout, ExecResult

_CHUNK = 65536
GRACE_S = 0.5  # after stdin is closed, before the process is killed
_DRAIN_S = 2.0  # reading what is left once the process is dead
_BACKLOG = 8 << 20  # unread stdout kept while sending; beyond it the process must wait


class LineChannel(Channel):
    """recv_line() over a byte buffer that ``_pump`` fills (shared by the backends)."""

    _out: bytearray
    _out_eof: bool
    _deadline: float
    _slack: float  # after the deadline, how long EOF may take before we stop waiting
    _result: ExecResult | None

    @abstractmethod
    def _pump(self, until: float, want_write: bool = False) -> bool:
        """Wait until ``until`` at most for output and read it into ``_out``."""

    @abstractmethod
    def _end_over(self) -> None:
        """End the process because it wrote too much."""

    def recv_line(self, timeout_s: float, max_bytes: int = 1_000_000) -> bytes | None:
        if self._result is not None:
            raise ChannelClosed("channel is closed")
        until = time.monotonic() + max(timeout_s, 0.0)
        while True:
            nl = self._out.find(b"\n", 0, max_bytes + 1)
            if nl >= 0:
                line = bytes(self._out[:nl])
                del self._out[: nl + 1]
                return line
            if len(self._out) > max_bytes:
                self._end_over()
                raise ChannelClosed(f"line longer than {max_bytes} bytes; process ended")
            if self._out_eof:
                if self._out:
                    line = bytes(self._out)
                    self._out.clear()
                    return line
                return None
            now = time.monotonic()
            if now >= until:
                raise ChannelTimeout(f"no line within {timeout_s:g} s")
            if now >= self._deadline + self._slack:
                # Killed at the deadline, yet something holds stdout open: give up on it.
                self._out_eof = True
                continue
            self._pump(until)


class PipeChannel(LineChannel):
    """``kill`` ends the process and everything it started (idempotent, any thread);
    ``finish`` turns the supervise-style dict into the result and releases the run lock
    (called exactly once)."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        *,
        timeout_s: float,
        output_bytes: int,
        kill: Callable[[], None],
        finish: Callable[[dict[str, Any]], ExecResult],
    ) -> None:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._proc = proc
        self._t0 = time.monotonic()
        self._deadline = self._t0 + timeout_s
        self._slack = _DRAIN_S
        self._cap = output_bytes
        self._kill_cb = kill
        self._finish = finish
        self._out = bytearray()
        self._err = bytearray()
        self._err_trunc = False
        self._out_eof = self._err_eof = False
        self._timed_out = self._over = False
        self._killed_lock = threading.Lock()
        self._killed = False
        self._result: ExecResult | None = None
        self._end_t: float | None = None
        self._cleaned = False
        self._stdin_fd: int | None = proc.stdin.fileno()
        self._sel = selectors.DefaultSelector()
        for f in (proc.stdout, proc.stderr, proc.stdin):
            os.set_blocking(f.fileno(), False)
        self._sel.register(proc.stdout.fileno(), selectors.EVENT_READ, "out")
        self._sel.register(proc.stderr.fileno(), selectors.EVENT_READ, "err")
        # A weak reference: a channel dropped without close() must still be collected.
        ref = weakref.ref(self)
        self._timer = threading.Timer(max(timeout_s, 0.0), _on_deadline, (ref,))
        self._timer.daemon = True
        self._timer.start()

    # -- killing -------------------------------------------------------------------

    def _on_deadline(self) -> None:
        if self._result is None and self._proc.poll() is None:
            self._timed_out = True
        self._kill()

    def _kill(self) -> None:
        with self._killed_lock:
            if self._killed:
                return
            self._killed = True
        with contextlib.suppress(Exception):
            self._kill_cb()

    # -- reading -------------------------------------------------------------------

    def _reading(self) -> bool:
        return not (self._out_eof and self._err_eof)

    def _pump(self, until: float, want_write: bool = False) -> bool:
        """Wait until ``until`` for output (or, with ``want_write``, for stdin to take
        data); read what is there. True when stdin is writable."""
        writable = False
        now = time.monotonic()
        if self._end_t is None and self._proc.poll() is not None:
            self._end_t = now
        if self._end_t is not None and not self._cleaned:
            # The main process is done: end its leftovers so the pipes reach EOF.
            self._cleaned = True
            self._kill()
        stdin_key = None
        if want_write and self._stdin_fd is not None:
            stdin_key = self._sel.register(self._stdin_fd, selectors.EVENT_WRITE, "in")
        paused = None
        out_fd = self._proc.stdout.fileno() if self._proc.stdout is not None else -1
        if want_write and len(self._out) >= _BACKLOG and out_fd in self._sel.get_map():
            paused = self._sel.unregister(out_fd)  # back-pressure: the process must wait
        try:
            wait = max(min(until, self._deadline + _DRAIN_S) - now, 0.0)
            if self._end_t is None:
                wait = min(wait, 0.05)  # poll for the main process's exit
            for key, _ in self._sel.select(wait):
                if key.data == "in":
                    writable = True
                else:
                    self._read(key.fd, key.data)
        finally:
            if stdin_key is not None:
                self._sel.unregister(stdin_key.fd)
            if paused is not None:
                self._sel.register(paused.fd, selectors.EVENT_READ, "out")
        return writable

    def _read(self, fd: int, which: str) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._sel.unregister(fd)
            if which == "out":
                self._out_eof = True
            else:
                self._err_eof = True
            return
        if which == "out":
            self._out += data
            return
        room = self._cap - len(self._err)
        if len(data) > room:
            self._err += data[: max(room, 0)]
            self._err_trunc = True
            self._end_over()
        else:
            self._err += data

    def _end_over(self) -> None:
        if not self._over:
            self._over = True
            self._kill()

    # -- writing -------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self._result is not None or self._stdin_fd is None:
            raise ChannelClosed("channel is closed")
        view = memoryview(data)
        while view:
            if self._killed or self._proc.poll() is not None:
                raise ChannelClosed("sandboxed process is gone")
            if time.monotonic() >= self._deadline:
                self._on_deadline()
                raise ChannelClosed("sandboxed process passed its deadline")
            if not self._pump(self._deadline, want_write=True):
                continue
            try:
                n = os.write(self._stdin_fd, view[:_CHUNK])
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.EBADF):
                    raise ChannelClosed("sandboxed process closed its stdin") from exc
                raise
            view = view[n:]

    # -- closing -------------------------------------------------------------------

    def _close_stdin(self) -> None:
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._stdin_fd = None

    def close(self) -> ExecResult:
        if self._result is not None:
            return self._result
        try:
            self._close_stdin()
            grace = min(time.monotonic() + GRACE_S, self._deadline)
            while self._proc.poll() is None and time.monotonic() < grace:
                if self._reading():
                    self._pump(grace)
                    self._trim_out()
                else:
                    time.sleep(0.005)
            if self._proc.poll() is None:
                self._kill()
            else:
                self._pump(time.monotonic())  # runs the leftover cleanup
            drain = time.monotonic() + _DRAIN_S
            while self._reading() and time.monotonic() < drain:
                self._pump(drain)
                self._trim_out()
            try:
                self._proc.wait(timeout=_DRAIN_S)
            except subprocess.TimeoutExpired:
                self._kill()
                self._proc.wait()
        finally:
            self._timer.cancel()
            self._sel.close()
            for f in (self._proc.stdout, self._proc.stderr):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()
        end = self._end_t if self._end_t is not None else time.monotonic()
        out_trunc = len(self._out) > self._cap
        raw = {
            "exit_code": self._proc.returncode,
            "stdout": bytes(self._out[: self._cap]),
            "stderr": bytes(self._err),
            "stdout_truncated": out_trunc,
            "stderr_truncated": self._err_trunc,
            "duration_s": end - self._t0,
            "timed_out": self._timed_out,
            "output_limit": self._over,
        }
        self._out.clear()
        self._result = self._finish(raw)
        return self._result

    def _trim_out(self) -> None:
        # Closing: what is left is only kept up to the cap.
        if len(self._out) > self._cap + _CHUNK:
            del self._out[self._cap + 1 :]

    def __del__(self) -> None:
        # A channel dropped without close() must not leave its process running.
        if getattr(self, "_result", None) is None and hasattr(self, "_finish"):
            with contextlib.suppress(Exception):
                self.close()


def _on_deadline(ref: weakref.ref[PipeChannel]) -> None:
    ch = ref()
    if ch is not None:
        ch._on_deadline()
