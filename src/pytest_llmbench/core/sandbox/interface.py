"""The sandbox interface: run a command on a fresh work dir with limits.

Backends: docker (warm container, one ``exec`` per run), bwrap (namespaces + cgroups)
and unsafe-local (a plain subprocess, opt-in by name only).
"""

from __future__ import annotations

import os
import posixpath
import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

FAILURE_MODES = ("exec_timeout", "oom", "output_limit", "killed")


class SandboxUnavailable(RuntimeError):
    """The requested backend cannot run here; the message says how to get one."""


class ChannelTimeout(Exception):
    """A channel read waited longer than its timeout (the process still runs)."""


class ChannelClosed(BrokenPipeError):
    """The channel's process is gone (or was ended: an over-long line, the deadline)."""


@dataclass(frozen=True)
class Limits:
    """Per-run resource limits. ``disk_mb`` caps each written file and the work dir."""

    memory_mb: int = 512
    pids: int = 64
    cpus: float = 1.0
    output_bytes: int = 1_000_000
    disk_mb: int = 256


@dataclass
class ExecResult:
    """What one run produced. ``exit_code`` is negative (-signal) when a signal ended
    the command; ``failure_mode`` names why the sandbox ended it, if it did."""

    exit_code: int
    stdout: str
    stderr: str
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_s: float = 0.0
    timed_out: bool = False
    oom: bool = False
    killed: bool = False
    failure_mode: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.failure_mode is None


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def make_result(raw: Mapping[str, Any], *, oom: bool) -> ExecResult:
    """Build an ExecResult from a supervise() dict, deciding the failure mode."""
    code = int(raw["exit_code"])
    timed_out = bool(raw["timed_out"])
    over = bool(raw["output_limit"])
    sigkill = code == -signal.SIGKILL
    oom = oom and not timed_out
    killed = sigkill or timed_out or over or oom
    mode: str | None = None
    if timed_out:
        mode = "exec_timeout"
    elif oom:
        mode = "oom"
    elif over:
        mode = "output_limit"
    elif sigkill:
        mode = "killed"
    return ExecResult(
        exit_code=code,
        stdout=decode(raw["stdout"]),
        stderr=decode(raw["stderr"]),
        stdout_truncated=bool(raw["stdout_truncated"]),
        stderr_truncated=bool(raw["stderr_truncated"]),
        duration_s=float(raw["duration_s"]),
        timed_out=timed_out,
        oom=oom,
        killed=killed,
        failure_mode=mode,
    )


def check_files(files: Mapping[str, str | bytes]) -> dict[str, bytes]:
    """Validate relative paths (no absolute, no ``..``) and encode contents."""
    out: dict[str, bytes] = {}
    for name, content in files.items():
        norm = posixpath.normpath(name)
        if not name or posixpath.isabs(name) or norm == "." or norm.split("/")[0] == "..":
            raise ValueError(f"sandbox file name must be relative inside the work dir: {name!r}")
        out[norm] = content.encode() if isinstance(content, str) else bytes(content)
    return out


def write_files(root: str, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


class Channel(ABC):
    """A long-lived sandboxed process the host talks to line by line.

    Opened by :meth:`Sandbox.open`; the sandbox's run lock is held until :meth:`close`.
    Not thread-safe: one caller drives a channel."""

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Write ``data`` to the process's stdin; :class:`ChannelClosed` if it is gone."""

    @abstractmethod
    def recv_line(self, timeout_s: float, max_bytes: int = 1_000_000) -> bytes | None:
        """The next line of stdout without its newline; None at EOF (the process ended
        or closed stdout); :class:`ChannelTimeout` after ``timeout_s``. A line longer
        than ``max_bytes`` ends the process and raises :class:`ChannelClosed`.
        An unterminated last line before EOF is returned as a line."""

    @abstractmethod
    def close(self) -> ExecResult:
        """Close stdin, kill the process after a short grace, reap it and everything it
        started; return its exit code, the unread stdout and stderr (both capped) and the
        failure mode. Idempotent: later calls return the same result."""

    def __enter__(self) -> Channel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Sandbox(ABC):
    """A place to run untrusted commands. Runs on one instance are serialised."""

    name: str = ""

    _closed: bool = False

    def run(
        self,
        files: Mapping[str, str | bytes] | None = None,
        cmd: Sequence[str] = (),
        stdin: str | bytes | None = None,
        timeout_s: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        """Run ``cmd`` in a fresh, empty work dir (the cwd) holding only ``files``."""
        if not cmd:
            raise ValueError("sandbox run needs a command")
        if self._closed:
            raise RuntimeError(f"{self.name} sandbox is closed")
        data = check_files(files or {})
        return self._execute(data, list(cmd), stdin_bytes(stdin), timeout_s, limits or Limits())

    def open(
        self,
        files: Mapping[str, str | bytes] | None = None,
        cmd: Sequence[str] = (),
        timeout_s: float = 10.0,
        limits: Limits | None = None,
    ) -> Channel:
        """Start ``cmd`` like :meth:`run` (fresh work dir holding only ``files``, same
        limits and isolation) and keep it running for line-based exchange. ``timeout_s``
        is the process's overall deadline: it is killed when it passes. The run lock is
        held until the channel is closed."""
        if not cmd:
            raise ValueError("sandbox open needs a command")
        if self._closed:
            raise RuntimeError(f"{self.name} sandbox is closed")
        data = check_files(files or {})
        return self._open(data, list(cmd), timeout_s, limits or Limits())

    @abstractmethod
    def _open(
        self, data: dict[str, bytes], cmd: list[str], timeout_s: float, lim: Limits
    ) -> Channel:
        """Start one channel with validated inputs (the backend's part of :meth:`open`);
        it acquires the run lock and the channel releases it on close."""

    @abstractmethod
    def _execute(
        self,
        data: dict[str, bytes],
        cmd: list[str],
        sin: bytes | None,
        timeout_s: float,
        lim: Limits,
    ) -> ExecResult:
        """One run with validated inputs (the backend's part of :meth:`run`)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able facts for the run log (backend, image, isolation)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds (containers, cgroups)."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stdin_bytes(stdin: str | bytes | None) -> bytes | None:
    if stdin is None:
        return None
    return stdin.encode() if isinstance(stdin, str) else bytes(stdin)
