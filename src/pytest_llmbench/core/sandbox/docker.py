"""Docker backend: one warm, locked-down container per process; one warm runner in it.

A small Python runner (its source is sent with the exec, so the image never needs
rebuilding when it changes) runs as root in the container and serves framed requests
(files, command, limits) one after another: it checks the container is clean, lets the
command make a fresh, randomly named work dir as uid 65534, supervises it (timeout,
output caps), SIGKILLs every non-root process left, has a uid-65534 child wipe the
scratch tmpfs and IPC objects, and answers with one framed reply. A channel gets a
runner exec of its own. The host keeps a backstop timer: if the runner does not
answer, the container is killed and removed, and the next run starts a new one.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import itertools
import json
import os
import secrets
import socket
import struct
import threading
import time
import weakref
from typing import Any

from ._docker_channel import DockerChannel, _ContainerGone, _read_frames, _read_reply
from ._docker_client import (
    _BACKSTOP_S,
    _SLACK_MB,
    _SLACK_PIDS,
    CAPS,
    DEFAULT_IMAGE,
    HOW_TO,
    LABEL,
    NOBODY,
    _client,
    _program,
    _runner_source,
    default_image,
    docker_ready,
    reap_stale,
)
from .interface import (
    Channel,
    ExecResult,
    Limits,
    Sandbox,
    SandboxUnavailable,
    decode,
    make_result,
)


def _close_all(ref: weakref.ref[DockerSandbox]) -> None:
    sb = ref()
    if sb is not None:
        sb.close()


class DockerSandbox(Sandbox):
    name = "docker"
    _ids = itertools.count()

    def __init__(self, image: str | None = None) -> None:
        self.image = image or default_image()
        self.client = _client()
        try:
            img = self.client.images.get(self.image)
        except Exception as exc:
            self.client.close()
            raise SandboxUnavailable(
                f"docker sandbox: image {self.image} not found; run `llmbench sandbox build`"
            ) from exc
        self.image_id: str = img.id
        reap_stale(self.client)
        self._lock = threading.Lock()
        self._container: Any = None
        self._limits: tuple[int, int, float, int] | None = None
        self._runs = itertools.count()
        self._closed = False
        self._source = _runner_source()
        # The next run's runner, exec'd and importing while the caller does other work.
        self._standby: Any = None
        self._warm: Any = None  # the runner that serves run() requests in turn
        self._standby_thread: threading.Thread | None = None
        self._oom_before = -1
        self.container_name = (
            f"llmbench-sbx-{socket.gethostname()}-{os.getpid()}-{next(self._ids)}-"
            f"{secrets.token_hex(3)}"
        )
        atexit.register(_close_all, weakref.ref(self))

    # -- container lifecycle -------------------------------------------------------

    def _start(self, lim: Limits) -> None:
        mem = f"{lim.memory_mb + _SLACK_MB}m"
        self._container = self.client.containers.run(
            self.image,
            # PID 1 only reaps orphans (zombies would eat the pids limit). It is not a
            # separate init + child: the runner's kill(-1) spares PID 1 alone.
            command=["python3", "-I", "-S", "-c", _program("_docker_init.py")],
            name=self.container_name,
            detach=True,
            auto_remove=True,
            network_mode="none",
            read_only=True,
            user="0:0",
            cap_drop=["ALL"],
            cap_add=CAPS,
            security_opt=["no-new-privileges"],
            tmpfs={
                "/work": f"rw,exec,nosuid,nodev,size={lim.disk_mb}m,mode=1777",
                "/tmp": f"rw,exec,nosuid,nodev,size={lim.disk_mb}m,mode=1777",
            },
            mem_limit=mem,
            memswap_limit=mem,
            pids_limit=lim.pids + _SLACK_PIDS,
            nano_cpus=int(lim.cpus * 1e9),
            ipc_mode="private",
            working_dir="/work",
            environment={},
            labels={
                LABEL: "1",
                f"{LABEL}.host": socket.gethostname(),
                f"{LABEL}.pid": str(os.getpid()),
            },
        )
        self._limits = (lim.memory_mb, lim.pids, lim.cpus, lim.disk_mb)

    def _ensure(self, lim: Limits) -> None:
        key = (lim.memory_mb, lim.pids, lim.cpus, lim.disk_mb)
        if self._container is not None and key != self._limits:
            # tmpfs size cannot change in place; other limits could, but one rare
            # restart is simpler than partial updates.
            self._discard()
        if self._container is None:
            self._start(lim)

    def _discard(self) -> None:
        self._drop_standby()
        warm, self._warm = self._warm, None
        if warm is not None:
            with contextlib.suppress(OSError):
                warm.close()
        c, self._container = self._container, None
        self._limits = None
        if c is None:
            return
        with contextlib.suppress(Exception):
            c.kill()
        with contextlib.suppress(Exception):
            c.remove(force=True)
        # auto_remove races with remove(); wait until the name is free again.
        for _ in range(100):
            try:
                self.client.containers.get(self.container_name)
            except Exception:
                break
            time.sleep(0.05)

    # -- runs ------------------------------------------------------------------------

    def _execute(
        self,
        data: dict[str, bytes],
        cmd: list[str],
        sin: bytes | None,
        timeout_s: float,
        lim: Limits,
    ) -> ExecResult:
        req = self._request(data, cmd, sin, timeout_s, lim)
        body = json.dumps(req).encode()
        with self._lock:
            for attempt in range(2):
                self._ensure(lim)
                try:
                    return self._exec(body, timeout_s)
                except _ContainerGone:
                    self._discard()
                    if attempt:
                        raise
        raise AssertionError("unreachable")

    def _request(
        self,
        data: dict[str, bytes],
        cmd: list[str],
        sin: bytes | None,
        timeout_s: float,
        lim: Limits,
    ) -> dict[str, Any]:
        return {
            "rid": f"r{next(self._runs)}",
            "files": {k: base64.b64encode(v).decode() for k, v in data.items()},
            "cmd": list(cmd),
            "stdin": base64.b64encode(sin).decode() if sin is not None else None,
            "timeout_s": timeout_s,
            "env": {
                "PATH": "/usr/lib/go/bin:/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8",
                "GOFLAGS": "-mod=mod",
                "GOTOOLCHAIN": "local",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            "limits": {
                "cpu_s": int(timeout_s * max(lim.cpus, 1.0)) + 2,
                "disk_mb": lim.disk_mb,
                "output_bytes": lim.output_bytes,
            },
        }

    def _open(
        self, data: dict[str, bytes], cmd: list[str], timeout_s: float, lim: Limits
    ) -> Channel:
        req = self._request(data, cmd, None, timeout_s, lim)
        req["channel"] = True
        body = json.dumps(req).encode()
        self._lock.acquire()
        try:
            for attempt in range(2):
                self._ensure(lim)
                self._oom_before = self._oom_count_host()
                sock = self._take_standby()
                try:
                    if sock is None:
                        sock = self._spawn_runner()
                    raw_sock: socket.socket = getattr(sock, "_sock", sock)
                    raw_sock.settimeout(_BACKSTOP_S)
                    raw_sock.sendall(struct.pack(">I", len(body)) + body)
                    self._await_ack(raw_sock)
                    return DockerChannel(self, sock, raw_sock, timeout_s, lim.output_bytes)
                except Exception:
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.close()
                    self._discard()
                    if attempt:
                        raise
            raise AssertionError("unreachable")
        except BaseException:
            self._lock.release()
            raise

    def _await_ack(self, raw: socket.socket) -> None:
        """The runner's first frame: b"+" once the work dir is made and the command
        starts, or its reply when it refuses the container (raises _ContainerGone)."""

        def exact(n: int) -> bytes:
            buf = bytearray()
            while len(buf) < n:
                chunk = raw.recv(n - len(buf))
                if not chunk:
                    raise _ContainerGone("runner stream closed before the channel opened")
                buf += chunk
            return bytes(buf)

        head = exact(8)
        payload = exact(struct.unpack(">I", head[4:8])[0])
        if head[0] == 2 and payload == b"+":
            return
        out, err = bytearray(), bytearray()
        (out if head[0] == 1 else err).extend(payload)
        with contextlib.suppress(OSError):
            _read_frames(raw, out, err)
        self._parse(bytes(err), bytes(err), 0.0)  # raises for a refusal or a dead runner
        raise _ContainerGone("runner sent no acknowledgement")

    def _channel_done(self, sock: Any, report: bytes, stdout: bytes, elapsed: float) -> ExecResult:
        """The end of a channel: parse the runner's reply, release the run lock."""
        try:
            with contextlib.suppress(OSError):
                sock.close()
            res = self._parse(report, report, elapsed)
            res.stdout = decode(stdout)
            if self._container is not None:
                self._prespawn()
            return res
        finally:
            self._lock.release()

    def _spawn_runner(self) -> Any:
        api = self.client.api
        ex = api.exec_create(
            self._container.id,
            ["python3", "-I", "-S", "-c", self._source],
            stdin=True,
            stdout=True,
            stderr=True,
        )
        return api.exec_start(ex["Id"], socket=True)

    def _prespawn(self) -> None:
        container = self._container

        def work() -> None:
            try:
                sock = self._spawn_runner()
            except Exception:
                return
            if self._container is container and not self._closed:
                self._standby = sock
            else:
                with contextlib.suppress(OSError):
                    sock.close()

        self._standby_thread = threading.Thread(target=work, daemon=True)
        self._standby_thread.start()

    def _take_standby(self) -> Any:
        if self._standby_thread is not None:
            self._standby_thread.join()
            self._standby_thread = None
        sock, self._standby = self._standby, None
        return sock

    def _drop_standby(self) -> None:
        sock = self._take_standby()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _exec(self, body: bytes, timeout_s: float) -> ExecResult:
        """One run on the warm runner (it serves runs one after another; a channel gets
        a runner of its own)."""
        t0 = time.monotonic()
        self._oom_before = self._oom_count_host()
        sock = self._warm
        self._warm = None
        if sock is None:
            try:
                sock = self._spawn_runner()
            except Exception as exc:
                raise _ContainerGone(str(exc)) from exc
        raw_sock: socket.socket = getattr(sock, "_sock", sock)
        raw_sock.settimeout(timeout_s + _BACKSTOP_S)
        out, err = bytearray(), bytearray()
        complete = False
        try:
            raw_sock.sendall(struct.pack(">I", len(body)) + body)
            complete = _read_reply(raw_sock, out, err)
        except TimeoutError:
            # The runner itself is stuck: only killing the container ends it for sure.
            with contextlib.suppress(OSError):
                sock.close()
            self._discard()
            return ExecResult(
                exit_code=-9,
                stdout="",
                stderr="sandbox runner did not answer; container killed",
                duration_s=time.monotonic() - t0,
                timed_out=True,
                killed=True,
                failure_mode="exec_timeout",
            )
        except OSError as exc:
            with contextlib.suppress(OSError):
                sock.close()
            raise _ContainerGone(str(exc)) from exc
        if complete and self._container is not None:
            self._warm = sock  # answered in full: it waits for the next request
        else:
            with contextlib.suppress(OSError):
                sock.close()
        if not out and not err and not self._alive():
            raise _ContainerGone("runner stream closed before the request")
        return self._parse(bytes(out), bytes(err), time.monotonic() - t0)

    def _alive(self) -> bool:
        try:
            self._container.reload()
            return bool(self._container.status == "running")
        except Exception:
            return False

    def _parse(self, out: bytes, err: bytes, elapsed: float) -> ExecResult:
        if not out.startswith(b"LLMBENCH") or len(out) < 12:
            # The runner died without answering: start afresh rather than trust what
            # it left behind. An OOM kill is the command's doing (the runner shares its
            # memory cgroup); anything else is the sandbox's, never the model's.
            oom = self._oom_count_host() > self._oom_before >= 0
            self._discard()
            if not oom:
                raise _ContainerGone("sandbox runner died: " + decode(err)[-2000:])
            return ExecResult(
                exit_code=-9,
                stdout="",
                stderr=("sandbox runner died: " + err.decode(errors="replace"))[-2000:],
                duration_s=elapsed,
                killed=True,
                oom=oom,
                failure_mode="oom",
            )
        (n,) = struct.unpack(">I", out[8:12])
        meta = json.loads(out[12 : 12 + n])
        if meta.get("dirty"):
            self._discard()
            raise _ContainerGone(f"sandbox container not clean ({meta['dirty']})")
        rest = out[12 + n :]
        so, se = meta["stdout_len"], meta["stderr_len"]
        meta["stdout"], meta["stderr"] = rest[:so], rest[so : so + se]
        return make_result(meta, oom=bool(meta.get("oom")))

    def _oom_count_host(self) -> int:
        """OOM kills in the container's memory cgroup (host view), -1 if unreadable."""
        try:
            cid = self._container.id
        except Exception:
            return -1
        for path in (
            f"/sys/fs/cgroup/memory/docker/{cid}/memory.oom_control",
            f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.events",
        ):
            with contextlib.suppress(OSError, ValueError), open(path) as fh:
                for line in fh:
                    k, _, v = line.partition(" ")
                    if k == "oom_kill":
                        return int(v)
        return -1

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unsafe": False,
            "image": self.image,
            "image_id": self.image_id,
            "container": self.container_name,
            "network": "none",
            "user": f"{NOBODY}:{NOBODY}",
            "helpers_user": "0:0",
            "helper_caps": CAPS,
            "model_code_caps": [],
            "seccomp": "default profile + ptrace, process_vm_*, kcmp, perf, bpf, "
            "userfaultfd, keys, io_uring denied",
            "read_only_root": True,
            "cap_drop": "ALL",
            "no_new_privileges": True,
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._discard()
        with contextlib.suppress(Exception):
            self.client.close()


__all__ = [
    "DEFAULT_IMAGE",
    "HOW_TO",
    "LABEL",
    "DockerChannel",
    "DockerSandbox",
    "default_image",
    "docker_ready",
    "reap_stale",
]
