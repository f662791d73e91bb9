"""Run one command with a wall-clock timeout and capped output (stdlib only).

This module is used on the host by the bwrap and unsafe-local backends and its source
is also sent into the Docker container, where it runs as the per-exec runner: keep it
free of package imports.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

_CHUNK = 65536


def set_rlimits(cpu_s: int, fsize_mb: int, nproc: int | None, data_mb: int | None) -> None:
    """Per-process limits inherited by everything the command starts."""
    lim = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_FSIZE, fsize_mb << 20),
        (resource.RLIMIT_NOFILE, 1024),
    ]
    if nproc is not None:
        lim.append((resource.RLIMIT_NPROC, nproc))
    if data_mb is not None:
        # RLIMIT_DATA, not RLIMIT_AS: V8 and Go reserve huge address ranges they never touch.
        lim.append((resource.RLIMIT_DATA, data_mb << 20))
    for what, val in lim:
        soft, hard = resource.getrlimit(what)
        if hard != resource.RLIM_INFINITY:
            val = min(val, hard)
        resource.setrlimit(what, (val, val))


def _not_started(argv: list[str], exc: BaseException, t0: float) -> dict[str, Any]:
    """supervise()'s result when the command could not be started (exit 127)."""
    why = getattr(exc, "strerror", None) or str(exc)
    return {
        "exit_code": 127,
        "stdout": b"",
        "stderr": f"cannot start {argv[0]!r}: {why}\n".encode(),
        "stdout_truncated": False,
        "stderr_truncated": False,
        "duration_s": time.monotonic() - t0,
        "timed_out": False,
        "output_limit": False,
        "we_killed": False,
    }


def supervise(
    argv: list[str],
    *,
    cwd: str | None,
    env: dict[str, str] | None,
    stdin: bytes | None,
    timeout_s: float,
    output_bytes: int,
    preexec_fn: Callable[[], None] | None = None,
    cleanup: Callable[[], None] | None = None,
    pass_fds: tuple[int, ...] = (),
    on_start: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run ``argv``; kill it on timeout or when either stream exceeds ``output_bytes``.

    ``cleanup`` is called once the main process is gone (or killed) to end whatever it
    left behind, so pipes held open by background children reach EOF.
    Returns a JSON-able dict (the container runner prints it)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=preexec_fn,
            pass_fds=pass_fds,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return _not_started(argv, exc, t0)
    assert proc.stdout is not None and proc.stderr is not None
    if on_start is not None:
        on_start(proc.pid)
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    trunc = {fd: False for fd in bufs}
    sel = selectors.DefaultSelector()
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    pending = memoryview(stdin or b"")
    if stdin and proc.stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
    deadline = t0 + timeout_s
    timed_out = over = killed_by_us = cleaned = False
    end_t: float | None = None

    def kill() -> None:
        nonlocal killed_by_us
        killed_by_us = True
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            proc.kill()

    drain_deadline: float | None = None
    while sel.get_map():
        now = time.monotonic()
        if end_t is None and proc.poll() is not None:
            end_t = now
        if end_t is not None and not cleaned:
            # The main process is done: end its leftovers so their pipe ends close.
            cleaned = True
            if cleanup is not None:
                cleanup()
            drain_deadline = now + 2.0
        if not timed_out and not over and now >= deadline and end_t is None:
            timed_out = True
            kill()
            drain_deadline = now + 2.0
        if drain_deadline is not None and now >= drain_deadline:
            break
        wait = (drain_deadline or deadline) - now
        if end_t is None:
            wait = min(wait, 0.05)
        for key, _ in sel.select(max(wait, 0.0)):
            fd = key.fd
            if fd in bufs:
                try:
                    data = os.read(fd, _CHUNK)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(fd)
                    continue
                buf = bufs[fd]
                room = output_bytes - len(buf)
                if len(data) > room:
                    buf += data[: max(room, 0)]
                    trunc[fd] = True
                    if not over:
                        over = True
                        kill()
                        drain_deadline = time.monotonic() + 2.0
                else:
                    buf += data
            else:
                try:
                    n = os.write(fd, pending[:_CHUNK])
                    pending = pending[n:]
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.EPIPE, errno.EBADF):
                        raise
                    pending = pending[:0]
                if not pending:
                    sel.unregister(fd)
                    assert proc.stdin is not None
                    proc.stdin.close()
    sel.close()
    if proc.poll() is None:
        # Pipes closed but the process lives on (or drain timed out): the deadline decides.
        remaining = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(remaining, 0.0))
        except subprocess.TimeoutExpired:
            timed_out = True
            kill()
            proc.wait()
    if end_t is None:
        end_t = time.monotonic()
    if not cleaned and cleanup is not None:
        cleanup()
    for f in (proc.stdout, proc.stderr, proc.stdin):
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
    keys = list(bufs)
    return {
        "exit_code": proc.returncode,
        "stdout": bytes(bufs[keys[0]]),
        "stderr": bytes(bufs[keys[1]]),
        "stdout_truncated": trunc[keys[0]],
        "stderr_truncated": trunc[keys[1]],
        "duration_s": end_t - t0,
        "timed_out": timed_out,
        "output_limit": over,
        "we_killed": killed_by_us,
    }


# -- the container side of a channel -------------------------------------------------
# The host frames what it sends: 4-byte big-endian length + data. Length 0 closes the
# command's stdin (the command ends on its own, or is killed after GRACE_S); KILL_NOW
# ends it at once. EOF on ``fd_in`` (the host went away) counts as KILL_NOW.

KILL_NOW = 0xFFFFFFFF
GRACE_S = 0.5
_IN_BACKLOG = 1 << 20


def serve_channel(
    argv: list[str],
    *,
    cwd: str | None,
    env: dict[str, str] | None,
    timeout_s: float,
    output_bytes: int,
    fd_in: int = 0,
    fd_out: int = 1,
    preexec_fn: Callable[[], None] | None = None,
    cleanup: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run ``argv`` with its stdout on ``fd_out`` and its stdin fed from the frames read
    on ``fd_in``; stderr is captured (capped). Returns the same dict as supervise()
    (stdout empty: it went straight to ``fd_out``)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=fd_out,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return _not_started(argv, exc, t0)
    assert proc.stdin is not None and proc.stderr is not None
    child_in, child_err = proc.stdin.fileno(), proc.stderr.fileno()
    for fd in (fd_in, child_in, child_err):
        os.set_blocking(fd, False)
    deadline = t0 + timeout_s
    inbuf = bytearray()
    pending = bytearray()
    err = bytearray()
    err_trunc = timed_out = over = killed_by_us = cleaned = False
    host_open = stdin_open = True
    grace: float | None = None
    end_t: float | None = None
    err_open = True
    drain_until: float | None = None

    def kill() -> None:
        nonlocal killed_by_us
        killed_by_us = True
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            proc.kill()

    def close_stdin() -> None:
        nonlocal stdin_open, grace
        if stdin_open:
            stdin_open = False
            pending.clear()
            with contextlib.suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]
            grace = time.monotonic() + GRACE_S

    sel = selectors.DefaultSelector()
    while True:
        now = time.monotonic()
        if end_t is None and proc.poll() is not None:
            end_t = now
        if end_t is not None and not cleaned:
            cleaned = True
            if cleanup is not None:
                cleanup()
            drain_until = now + 2.0
        if end_t is not None and (not err_open or (drain_until and now >= drain_until)):
            break
        if end_t is None:
            if now >= deadline and not timed_out:
                timed_out = True
                kill()
            elif grace is not None and now >= grace and not killed_by_us:
                kill()
        # Frames from the host.
        while len(inbuf) >= 4:
            (n,) = struct_unpack(inbuf)
            if n == KILL_NOW:
                del inbuf[:4]
                close_stdin()
                if end_t is None:
                    kill()
                continue
            if n == 0:
                del inbuf[:4]
                close_stdin()
                continue
            if len(inbuf) < 4 + n:
                break
            if stdin_open:
                pending += inbuf[4 : 4 + n]
            del inbuf[: 4 + n]
        want = {}
        if host_open and len(pending) < _IN_BACKLOG and len(inbuf) < _IN_BACKLOG + 8:
            want[fd_in] = selectors.EVENT_READ
        if stdin_open and pending:
            want[child_in] = selectors.EVENT_WRITE
        if err_open:
            want[child_err] = selectors.EVENT_READ
        for fd, ev in want.items():
            sel.register(fd, ev)
        wait = 0.05 if end_t is None else max((drain_until or now) - now, 0.0)
        try:
            events = sel.select(wait)
        finally:
            for fd in want:
                sel.unregister(fd)
        for key, _ in events:
            fd = key.fd
            if fd == fd_in:
                try:
                    data = os.read(fd, _CHUNK)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    host_open = False
                    close_stdin()
                    if end_t is None:
                        kill()
                inbuf += data
            elif fd == child_in:
                try:
                    k = os.write(fd, pending[:_CHUNK])
                    del pending[:k]
                except BlockingIOError:
                    continue
                except OSError:
                    close_stdin()  # the command closed its stdin: drop what is queued
            else:
                try:
                    data = os.read(fd, _CHUNK)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    err_open = False
                    continue
                room = output_bytes - len(err)
                if len(data) > room:
                    err += data[: max(room, 0)]
                    err_trunc = True
                    if not over:
                        over = True
                        kill()
                else:
                    err += data
    sel.close()
    if proc.poll() is None:
        kill()
        proc.wait()
    if end_t is None:
        end_t = time.monotonic()
    if not cleaned and cleanup is not None:
        cleanup()
    for f in (proc.stdin, proc.stderr):
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
    return {
        "exit_code": proc.returncode,
        "stdout": b"",
        "stderr": bytes(err),
        "stdout_truncated": False,
        "stderr_truncated": err_trunc,
        "duration_s": end_t - t0,
        "timed_out": timed_out,
        "output_limit": over,
        "we_killed": killed_by_us,
    }


def struct_unpack(buf: bytearray) -> tuple[int]:
    return (int.from_bytes(buf[:4], "big"),)
