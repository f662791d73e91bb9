"""A stand-in for ``Sandbox.open`` in unit tests of the channel protocol: a plain
subprocess in a temp dir (no isolation: only ever given the project's own code and
test answers)."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

from pytest_llmbench.core.sandbox import ExecResult
from pytest_llmbench.core.sandbox.interface import ChannelTimeout, Sandbox


def as_sandbox(fake: object) -> Sandbox:
    """A duck-typed test sandbox where a Sandbox is expected: it implements only what
    the code under test calls."""
    return cast(Sandbox, fake)


class FakeChannel:
    def __init__(self, proc: subprocess.Popen[bytes], root: str, timeout_s: float) -> None:
        self.proc, self.root = proc, root
        self.deadline = time.monotonic() + timeout_s
        self.buf = b""
        self.timed_out = False

    def __enter__(self) -> FakeChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv_line(self, timeout_s: float, max_bytes: int = 1_000_000) -> bytes | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout_s
        while b"\n" not in self.buf:
            left = min(end, self.deadline) - time.monotonic()
            if left <= 0:
                if time.monotonic() >= self.deadline:
                    self.timed_out = True
                    self.proc.kill()
                    return None
                raise ChannelTimeout("no line")
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
            if len(self.buf) > max_bytes:
                self.proc.kill()
                raise BrokenPipeError("line too long")
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def close(self) -> ExecResult:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(0.5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        shutil.rmtree(self.root, ignore_errors=True)
        return ExecResult(
            exit_code=self.proc.returncode,
            stdout="",
            stderr=err[-4000:],
            failure_mode="exec_timeout" if self.timed_out else None,
        )


class FakeSandbox:
    name = "fake-subprocess"

    def open(
        self,
        files: Mapping[str, str | bytes] | None = None,
        cmd: Sequence[str] = (),
        timeout_s: float = 10.0,
        limits: Any = None,
    ) -> FakeChannel:
        root = tempfile.mkdtemp(prefix="llmbench-fakechan-")
        for name, content in (files or {}).items():
            path = os.path.join(root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(content.encode() if isinstance(content, str) else content)
        proc = subprocess.Popen(
            list(cmd),
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return FakeChannel(proc, root, timeout_s)
