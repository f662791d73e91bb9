"""The runner inside the Docker container (see docker.py): serves framed requests on
stdin, runs each command as uid 65534 under _supervise's supervision, cleans up, replies.

Never imported: docker.py sends _supervise.py's, _seccomp.py's and this file's source as
one script (``python3 -I -S -c``), minus the relative imports below (which are there for
the linters and the type checker) and the later ``__future__`` lines. Standard library
only.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import secrets
import signal
import struct
import time
from typing import Any

from ._seccomp import install_seccomp, seccomp_program
from ._supervise import serve_channel, set_rlimits, supervise

NOBODY = 65534
SCRATCH = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")
libc = ctypes.CDLL(None, use_errno=True)


def _read(n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(0, n - len(buf))
        if not chunk:
            raise SystemExit(3)
        buf += chunk
    return bytes(buf)


def _oom_kills() -> int:
    for path, key in (
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
    ):
        try:
            with open(path) as fh:
                for line in fh:
                    k, _, v = line.partition(" ")
                    if k == key:
                        return int(v)
        except (OSError, ValueError):
            pass
    return -1


def _model_pids() -> list[int]:
    # Every live process not ours: ours (init, runners) are root, model code is not.
    me, found = os.getpid(), []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            with open("/proc/" + p + "/status") as fh:
                st = dict(ln.split(":", 1) for ln in fh.read().splitlines() if ":" in ln)
        except (OSError, ValueError):
            continue
        if st.get("State", "").split()[:1] != ["Z"] and st.get("Uid", "0").split()[0] != "0":
            found.append(int(p))
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_rest() -> None:
    # SIGKILL model processes until none is left (a fork bomb needs a few rounds).
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        pids = _model_pids()
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _reap()
        time.sleep(0.001)
    _reap()


def _become_nobody() -> None:
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def _rm(path: str) -> None:
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


def _ipc_ids(kind: str) -> list[int]:
    try:
        with open("/proc/sysvipc/" + kind) as fh:
            return [int(line.split()[1]) for line in fh.readlines()[1:] if line.strip()]
    except (OSError, ValueError, IndexError):
        return []


def _clean_as_nobody() -> None:
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


def _dirt() -> str:
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


def _reply(fd: int, res: dict[str, Any], out: bytes, err: bytes) -> None:
    res["stdout_len"], res["stderr_len"] = len(out), len(err)
    meta = json.dumps(res).encode()
    reply = memoryview(b"LLMBENCH" + struct.pack(">I", len(meta)) + meta + out + err)
    os.set_blocking(fd, True)
    while reply:
        reply = reply[os.write(fd, reply) :]


def _main() -> None:
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


def _serve(req: dict[str, Any]) -> None:
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
    env.update(
        HOME=tmp,
        TMPDIR=tmp,
        GOCACHE=tmp + "/go-cache",
        GOPATH=tmp + "/go",
        CARGO_HOME=tmp + "/cargo",
    )
    lim = req["limits"]
    program = seccomp_program()

    def pre() -> None:
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
        res = serve_channel(
            req["cmd"],
            cwd=None,
            env=env,
            timeout_s=req["timeout_s"],
            output_bytes=lim["output_bytes"],
            preexec_fn=pre,
            cleanup=_kill_rest,
        )
    else:
        stdin = base64.b64decode(req["stdin"]) if req["stdin"] is not None else None
        res = supervise(
            req["cmd"],
            cwd=None,
            env=env,
            stdin=stdin,
            timeout_s=req["timeout_s"],
            output_bytes=lim["output_bytes"],
            preexec_fn=pre,
            cleanup=_kill_rest,
        )
    res["oom"] = _oom_kills() > oom0 >= 0
    _kill_rest()
    _clean_as_nobody()
    out, err = res.pop("stdout"), res.pop("stderr")
    _reply(reply_fd, res, out, err)


if __name__ == "__main__":
    _main()
