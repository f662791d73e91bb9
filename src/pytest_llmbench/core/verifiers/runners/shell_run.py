"""Run the model's shell command on a fixture dir, then report the tree (in the sandbox).

``python3 -I -S _shell.py TOOL...`` with the nonce on stdin. The command runs under
bash in ``data/`` with a PATH holding only symlinks to the allowlisted tools, stdin
empty, stdout captured (capped), stderr to a file. Then every process it left is
killed, and only then the results are printed between nonce lines: the exit status,
the command's stdout (base64), the ``data/`` tree as a tar (base64), its stderr.

The verdict is decided on the host from that tree. The command must not be able to
print lookalike results: it never sees the nonce (read here before it starts; this
process is made non-dumpable, so a process of the same uid cannot read its memory
or open its descriptors), and nothing of it is alive when the results are written.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import io
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time

OUT_CAP = 200_000
ERR_CAP = 2000


def _harden() -> None:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/<us>/mem, fd, ptrace
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back to us


def _descendants(me: int) -> list[int]:
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read().rsplit(b")", 1)[1].split()
            parent[int(name)] = int(stat[1])
        except (OSError, IndexError, ValueError):
            continue
    out = []
    for pid in parent:
        p, seen = pid, 0
        while p in parent and p != me and seen < 1000:
            p, seen = parent[p], seen + 1
        if p == me and pid != me:
            out.append(pid)
    return out


def _kill_all() -> None:
    """Kill everything the command started (subreaper: escapees are ours too)."""
    me = os.getpid()
    for _ in range(50):
        pids = _descendants(me)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.01)


def _drain(proc: subprocess.Popen[bytes], chunks: list[bytes]) -> None:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    n = 0
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        if n < OUT_CAP:
            chunks.append(chunk[: OUT_CAP - n])
        n += len(chunk)


def _tools(names: list[str]) -> list[str]:
    found = []
    for t in names:
        for d in ("/usr/local/bin", "/usr/bin", "/bin"):
            p = os.path.join(d, t)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                found.append(p)
                break
    return found


def _tar(path: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name in sorted(os.listdir(path)):
            with contextlib.suppress(OSError):
                tf.add(os.path.join(path, name), arcname=name, recursive=True)
    return buf.getvalue()


def main() -> None:
    _harden()
    nonce = sys.stdin.readline().strip()
    if not nonce:
        sys.exit(96)
    work = os.getcwd()
    bin_dir = os.path.join(work, ".bin")
    os.makedirs(bin_dir, exist_ok=True)
    os.makedirs("data", exist_ok=True)
    for p in _tools(sys.argv[1:]):
        os.symlink(p, os.path.join(bin_dir, os.path.basename(p)))
    env = {k: v for k, v in os.environ.items() if k not in ("PATH", "BASH_ENV", "ENV")}
    env["PATH"] = bin_dir
    chunks: list[bytes] = []
    with open(os.path.join(work, ".err"), "wb") as err:
        proc = subprocess.Popen(
            ["/bin/bash", "--noprofile", "--norc", "../.cmd.sh"],
            cwd=os.path.join(work, "data"),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            close_fds=True,
        )
        reader = threading.Thread(target=_drain, args=(proc, chunks), daemon=True)
        reader.start()
        rc = proc.wait()
        _kill_all()  # a background job still holding stdout ends here
        reader.join()
    rc = 128 - rc if rc < 0 else rc  # like bash's $? for a signal
    out = b"".join(chunks).rstrip(b"\n")  # as a shell's $(...) would
    tree = _tar(os.path.join(work, "data"))
    with open(os.path.join(work, ".err"), "rb") as fh:
        err_text = fh.read(ERR_CAP)
    w = sys.stdout.buffer
    w.write(b"\n" + nonce.encode() + b" " + str(rc).encode() + b"\n")
    w.write(base64.b64encode(out))
    w.write(b"\n" + nonce.encode() + b"\n")
    w.write(base64.b64encode(tree))
    w.write(b"\n" + nonce.encode() + b"\n")
    w.write(err_text)
    w.flush()


if __name__ == "__main__":
    main()
