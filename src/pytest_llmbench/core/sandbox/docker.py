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
import inspect
import itertools
import json
import os
import secrets
import select
import socket
import struct
import threading
import time
import weakref
from typing import Any

from . import _supervise
from .channel import LineChannel
from .interface import (
    Channel,
    ChannelClosed,
    ExecResult,
    Limits,
    Sandbox,
    SandboxUnavailable,
    decode,
    make_result,
)

DEFAULT_IMAGE = "llmbench-sandbox:latest"
LABEL = "org.llmbench.sandbox"
HOW_TO = "install Docker, start the daemon and run `llmbench sandbox build`"
_BACKSTOP_S = 15.0  # extra time the runner gets beyond the run's own timeout
_SLACK_MB = 48  # the runner and init live in the same memory cgroup
_SLACK_PIDS = 3  # the reaper (PID 1), the warm runner, a channel's runner

_REAPER = """
import ctypes, os, time
try:
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/1/mem for anyone
except Exception:
    pass
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
"""

# PID 1 and the runner are root in the container (no user namespace; a few
# capabilities only); model code runs as 65534 with no capabilities, an empty bounding
# set and a stacked seccomp filter, so it can neither ptrace, signal nor read them.
NOBODY = 65534
CAPS = ["SETUID", "SETGID", "SETPCAP", "KILL"]
SCRATCH = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")

_RUNNER_MAIN = r"""
import ctypes, json, os, secrets, shutil, signal, struct, sys, time, base64

NOBODY = 65534
SCRATCH = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")
libc = ctypes.CDLL(None, use_errno=True)

def _read(n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(0, n - len(buf))
        if not chunk:
            raise SystemExit(3)
        buf += chunk
    return bytes(buf)

def _oom_kills():
    for path, key in (("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
                      ("/sys/fs/cgroup/memory.events", "oom_kill")):
        try:
            with open(path) as fh:
                for line in fh:
                    k, _, v = line.partition(" ")
                    if k == key:
                        return int(v)
        except (OSError, ValueError):
            pass
    return -1

def _model_pids():
    # Every live process not ours: ours (init, runners) are root, model code is not.
    me, found = os.getpid(), []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            with open("/proc/" + p + "/status") as fh:
                st = dict(l.split(":", 1) for l in fh.read().splitlines() if ":" in l)
        except (OSError, ValueError):
            continue
        if st.get("State", "").split()[:1] != ["Z"] and st.get("Uid", "0").split()[0] != "0":
            found.append(int(p))
    return found

def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

def _kill_rest():
    # SIGKILL model processes until none is left (a fork bomb needs a few rounds).
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        pids = _model_pids()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        time.sleep(0.001)
    _reap()

def _become_nobody():
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)

def _rm(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            for n in os.listdir(path):
                _rm(os.path.join(path, n))
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        pass

def _ipc_ids(kind):
    try:
        with open("/proc/sysvipc/" + kind) as fh:
            return [int(line.split()[1]) for line in fh.readlines()[1:] if line.strip()]
    except (OSError, ValueError, IndexError):
        return []

def _clean_as_nobody():
    # Model code owns what it left (files, IPC objects): its own uid removes them.
    pid = os.fork()
    if pid == 0:
        try:
            _become_nobody()
            for i in _ipc_ids("shm"):
                libc.shmctl(i, 0, None)  # IPC_RMID
            for i in _ipc_ids("sem"):
                libc.semctl(i, 0, 0)
            for i in _ipc_ids("msg"):
                libc.msgctl(i, 0, None)
            for top in SCRATCH:
                try:
                    names = os.listdir(top)
                except OSError:
                    continue
                for n in names:
                    _rm(os.path.join(top, n))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)

def _dirt():
    # What would let one run reach the next; "" when there is none.
    procs = _model_pids()
    if procs:
        return "processes " + " ".join(map(str, procs[:5]))
    for top in SCRATCH:
        try:
            left = os.listdir(top)
        except OSError:
            continue
        if left:
            return "files in " + top + ": " + " ".join(left[:5])
        st = os.statvfs(top)
        if st.f_blocks and st.f_bfree < st.f_blocks:
            return "space used in " + top
    for kind in ("shm", "sem", "msg"):
        if _ipc_ids(kind):
            return "SysV " + kind + " objects"
    return ""

def _reply(fd, res, out, err):
    res["stdout_len"], res["stderr_len"] = len(out), len(err)
    meta = json.dumps(res).encode()
    reply = memoryview(b"LLMBENCH" + struct.pack(">I", len(meta)) + meta + out + err)
    os.set_blocking(fd, True)
    while reply:
        reply = reply[os.write(fd, reply):]

def _main():
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back to us
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
    while True:
        try:
            head = _read(4)
        except SystemExit:
            return  # the host closed the stream
        req = json.loads(_read(struct.unpack(">I", head)[0]))
        _serve(req)
        if req.get("channel"):
            return

def _serve(req):
    reply_fd = 2 if req.get("channel") else 1
    _kill_rest()
    if _dirt():
        _clean_as_nobody()
        _kill_rest()
    dirt = _dirt()
    if dirt:
        # Not the model's doing (or not this model's): the host starts a fresh container.
        _reply(reply_fd, {"dirty": dirt}, b"", b"")
        return
    # An unpredictable name, made by the run itself: nothing can wait for it.
    base = "/work/" + secrets.token_hex(16)
    cwd, tmp = base + "/work", base + "/tmp"
    files = {name: base64.b64decode(b64) for name, b64 in req["files"].items()}
    env = req["env"]
    env.update(HOME=tmp, TMPDIR=tmp, GOCACHE=tmp + "/go-cache", GOPATH=tmp + "/go",
               CARGO_HOME=tmp + "/cargo")
    lim = req["limits"]
    program = seccomp_program()

    def pre():
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
        set_rlimits(lim["cpu_s"], lim["disk_mb"], None, None)
        _become_nobody()
        os.mkdir(base, 0o700)
        os.mkdir(cwd)
        os.mkdir(tmp)
        for name, data in files.items():
            path = os.path.join(cwd, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        os.chdir(cwd)
        if program is not None:
            install_seccomp(program)

    oom0 = _oom_kills()
    if req.get("channel"):
        os.write(2, b"+")  # set up: the host may hand out the channel
        # stdout goes straight to the host; the reply goes on stderr once all is dead.
        res = serve_channel(req["cmd"], cwd=None, env=env, timeout_s=req["timeout_s"],
                            output_bytes=lim["output_bytes"], preexec_fn=pre,
                            cleanup=_kill_rest)
    else:
        stdin = base64.b64decode(req["stdin"]) if req["stdin"] is not None else None
        res = supervise(req["cmd"], cwd=None, env=env, stdin=stdin, timeout_s=req["timeout_s"],
                        output_bytes=lim["output_bytes"], preexec_fn=pre, cleanup=_kill_rest)
    res["oom"] = _oom_kills() > oom0 >= 0
    _kill_rest()
    _clean_as_nobody()
    out, err = res.pop("stdout"), res.pop("stderr")
    _reply(reply_fd, res, out, err)

_main()
"""


def _runner_source() -> str:
    return inspect.getsource(_supervise) + _RUNNER_MAIN


def _client(timeout: float = 30.0) -> Any:
    try:
        import docker  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise SandboxUnavailable(f"docker sandbox: the docker SDK is missing ({exc})") from exc
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except Exception as exc:
        raise SandboxUnavailable(
            f"docker sandbox: no Docker daemon answers ({type(exc).__name__}); {HOW_TO}"
        ) from exc
    return client


def default_image() -> str:
    return os.environ.get("LLMBENCH_SANDBOX_IMAGE") or DEFAULT_IMAGE


def docker_ready(image: str | None = None) -> bool:
    """True when a daemon answers and the sandbox image exists (quick, for ``auto``)."""
    sock = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if sock.startswith("unix://") and not os.path.exists(sock[len("unix://") :]):
        return False
    try:
        client = _client(timeout=5)
    except SandboxUnavailable:
        return False
    try:
        client.images.get(image or default_image())
        return True
    except Exception:
        return False
    finally:
        client.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale(client: Any) -> int:
    """Remove sandbox containers left by dead processes of this host (a SIGKILLed
    worker runs no atexit hook)."""
    host = socket.gethostname()
    n = 0
    # The low-level list: containers.list() inspects each one, and another process
    # (an xdist worker closing its sandbox) may remove it in between (404).
    for c in client.api.containers(all=True, filters={"label": f"{LABEL}.host={host}"}):
        try:
            pid = int((c.get("Labels") or {}).get(f"{LABEL}.pid", "0"))
        except ValueError:
            pid = 0
        if pid and not _pid_alive(pid):
            with contextlib.suppress(Exception):
                client.api.remove_container(c["Id"], force=True)
                n += 1
    return n


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
            command=["python3", "-I", "-S", "-c", _REAPER],
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


class _ContainerGone(Exception):
    pass


def _read_frames(sock: socket.socket, out: bytearray, err: bytearray) -> None:
    """Demultiplex a non-TTY exec stream (8-byte headers) until EOF."""
    buf = bytearray()
    while True:
        chunk = sock.recv(262144)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            stream, size = buf[0], struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + size:
                break
            (out if stream == 1 else err).extend(buf[8 : 8 + size])
            del buf[: 8 + size]


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
        while len(buf) >= 8:
            stream, size = buf[0], struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + size:
                break
            (out if stream == 1 else err).extend(buf[8 : 8 + size])
            del buf[: 8 + size]
