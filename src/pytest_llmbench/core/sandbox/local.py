"""unsafe-local: a plain subprocess with rlimits in a temp dir.

Not a sandbox: the command sees the host's files and network, and as root it ignores
the process limit. Only ever used when asked for by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from typing import Any

from . import _supervise
from ._host import oom_score_max, sandbox_env, toolchains
from .channel import PipeChannel
from .interface import Channel, ExecResult, Limits, Sandbox, make_result, write_files

WARNING = (
    "unsafe-local runs model-written code as a plain subprocess of this user: "
    "no file, network or process isolation"
)


class LocalSandbox(Sandbox):
    name = "unsafe-local"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tc = toolchains()
        self.root = tempfile.mkdtemp(prefix="llmbench-local-")

    def _execute(
        self,
        data: dict[str, bytes],
        cmd: list[str],
        sin: bytes | None,
        timeout_s: float,
        lim: Limits,
    ) -> ExecResult:
        with self._lock:
            rundir = tempfile.mkdtemp(dir=self.root)
            work, tmp = os.path.join(rundir, "work"), os.path.join(rundir, "tmp")
            os.mkdir(work)
            os.mkdir(tmp)
            write_files(work, data)
            cpu_s = int(timeout_s * max(lim.cpus, 1.0)) + 2

            def preexec() -> None:
                oom_score_max()
                _supervise.set_rlimits(cpu_s, lim.disk_mb, nproc=lim.pids, data_mb=lim.memory_mb)

            pgid: list[int] = []

            def cleanup() -> None:
                # Whatever stayed in the command's session (setsid escapes this).
                for pid in pgid:
                    with contextlib.suppress(OSError):
                        os.killpg(pid, signal.SIGKILL)

            argv = list(cmd)
            env = sandbox_env(tmp, self.tc.path)
            try:
                raw = _supervise.supervise(
                    argv,
                    cwd=work,
                    env=env,
                    stdin=sin,
                    timeout_s=timeout_s,
                    output_bytes=lim.output_bytes,
                    preexec_fn=preexec,
                    cleanup=cleanup,
                    on_start=pgid.append,
                )
            finally:
                shutil.rmtree(rundir, ignore_errors=True)
        return make_result(raw, oom=False)

    def _open(
        self, data: dict[str, bytes], cmd: list[str], timeout_s: float, lim: Limits
    ) -> Channel:
        self._lock.acquire()
        rundir = ""
        try:
            rundir = tempfile.mkdtemp(dir=self.root)
            work, tmp = os.path.join(rundir, "work"), os.path.join(rundir, "tmp")
            os.mkdir(work)
            os.mkdir(tmp)
            write_files(work, data)
            cpu_s = int(timeout_s * max(lim.cpus, 1.0)) + 2

            def preexec() -> None:
                oom_score_max()
                _supervise.set_rlimits(cpu_s, lim.disk_mb, nproc=lim.pids, data_mb=lim.memory_mb)

            proc = subprocess.Popen(
                list(cmd),
                cwd=work,
                env=sandbox_env(tmp, self.tc.path),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=preexec,
            )
        except BaseException:
            if rundir:
                shutil.rmtree(rundir, ignore_errors=True)
            self._lock.release()
            raise

        def kill() -> None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)

        def finish(raw: dict[str, Any]) -> ExecResult:
            try:
                shutil.rmtree(rundir, ignore_errors=True)
                return make_result(raw, oom=False)
            finally:
                self._lock.release()

        return PipeChannel(
            proc, timeout_s=timeout_s, output_bytes=lim.output_bytes, kill=kill, finish=finish
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unsafe": True,
            "warning": WARNING,
            "toolchains": dict(self.tc.found),
        }

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
