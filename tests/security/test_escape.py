"""Sandbox escape suite: each attempt must be contained, reported with the right
failure mode, and leave nothing running. Runs on docker and bwrap."""

from __future__ import annotations

import http.server
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.sandbox import ExecResult, Limits, Sandbox

pytestmark = pytest.mark.security

SMALL = Limits(memory_mb=256, pids=32, cpus=1.0, output_bytes=100_000)


def py(
    sb: Sandbox, code: str, timeout_s: float = 10.0, limits: Limits = SMALL, **kw: Any
) -> ExecResult:
    return sb.run(
        files={"main.py": code},
        cmd=["python3", "main.py"],
        timeout_s=timeout_s,
        limits=limits,
        **kw,
    )


@pytest.fixture
def secret_file(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    token = "llmbench-secret-" + secrets.token_hex(8)
    path = tmp_path / "secret.txt"
    path.write_text(token)
    yield path, token


def test_cannot_read_host_file(sandbox: Sandbox, secret_file: tuple[Path, str]) -> None:
    path, token = secret_file
    res = py(
        sandbox,
        f"""
import os
for p in [{str(path)!r}, {str(path.parent)!r}, "/etc/shadow", "/root/.bash_history"]:
    try:
        if os.path.isdir(p):
            print("LISTED", p, os.listdir(p))
        else:
            print("READ", p, open(p).read())
    except OSError as exc:
        print(p, "denied", type(exc).__name__)
""",
    )
    assert res.exit_code == 0, res.stderr
    assert token not in res.stdout
    assert "LISTED" not in res.stdout and "READ" not in res.stdout
    assert res.stdout.count("denied") == 4, res.stdout


def test_cannot_write_outside_work_dir(sandbox: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    res = py(
        sandbox,
        f"""
import os
ok = []
for p in [{str(target)!r}, "/usr/escaped", "/etc/escaped", "/escaped", "/bin/escaped"]:
    try:
        with open(p, "w") as fh:
            fh.write("x")
        ok.append(p)
    except OSError:
        pass
open("inside.txt", "w").write("fine")
print("written:", ok)
""",
    )
    assert res.exit_code == 0, res.stderr
    assert "written: []" in res.stdout
    assert not target.exists()
    # The next run starts from an empty work dir: nothing carries over.
    again = sandbox.run(files={}, cmd=["ls", "-A"], timeout_s=10.0)
    assert again.exit_code == 0 and again.stdout == "", again.stdout


class _Handler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"host-server-reached")

    def log_message(self, *args: object) -> None:
        pass


def test_cannot_reach_host_loopback(sandbox: Sandbox) -> None:
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        res = py(
            sandbox,
            f"""
import urllib.request
try:
    print(urllib.request.urlopen("http://127.0.0.1:{port}/", timeout=1).read())
except OSError as exc:
    print("blocked", type(exc).__name__)
""",
        )
    finally:
        srv.shutdown()
        srv.server_close()
    assert "blocked" in res.stdout, res.stdout + res.stderr
    assert "host-server-reached" not in res.stdout
    assert _Handler.hits == 0


def test_no_route_out(sandbox: Sandbox) -> None:
    # No traffic leaves even if this fails: 10.255.255.1:9 is unroutable by design.
    res = py(
        sandbox,
        """
import os, socket
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("10.255.255.1", 9))
    print("connected")
except OSError as exc:
    print("no route", exc.errno)
print("ifaces", sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]))
""",
    )
    assert "no route" in res.stdout, res.stdout + res.stderr
    assert "ifaces ['lo']" in res.stdout, res.stdout
    assert res.duration_s < 5


def test_pids_limit_then_fork_bomb(sandbox: Sandbox, host_procs: Any) -> None:
    marker = "llmbench-bomb-" + secrets.token_hex(4)
    # First a bounded fork loop: the pids limit must stop it well short of 500.
    res = py(
        sandbox,
        """
import os, sys, time
n = 0
for _ in range(500):
    try:
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        n += 1
    except OSError:
        break
print("forked", n)
""",
        timeout_s=8.0,
    )
    forked = int(res.stdout.split()[-1]) if res.stdout.startswith("forked") else -1
    assert 0 < forked <= SMALL.pids, res.stdout + res.stderr
    # Only with the limit proven, a real (endless, recursive) bomb.
    res = sandbox.run(
        files={
            "bomb.py": "import os\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        pass\n"
        },
        cmd=["python3", "bomb.py", marker],
        timeout_s=2.0,
        limits=SMALL,
    )
    assert res.timed_out and res.failure_mode == "exec_timeout", res
    time.sleep(0.3)
    assert host_procs(marker) == []
    ok = sandbox.run(files={}, cmd=["true"], timeout_s=10.0)
    assert ok.exit_code == 0, ok


def test_memory_bomb_is_oom(sandbox: Sandbox) -> None:
    res = py(sandbox, "s = b'x' * (4 << 30)\nprint(len(s))", timeout_s=20.0)
    assert res.oom and res.failure_mode == "oom", res
    assert res.killed and res.stdout == ""


def test_endless_loop_times_out(sandbox: Sandbox) -> None:
    res = py(sandbox, "while True:\n    pass", timeout_s=1.0)
    assert res.timed_out and res.failure_mode == "exec_timeout", res
    assert res.killed
    assert 0.9 <= res.duration_s < 4.0


def test_gigabyte_of_output_is_capped(sandbox: Sandbox) -> None:
    t0 = time.monotonic()
    res = py(
        sandbox,
        """
import sys
block = b"y" * (1 << 20)
for _ in range(1024):
    sys.stdout.buffer.write(block)
""",
        timeout_s=30.0,
    )
    assert res.failure_mode == "output_limit", res.failure_mode
    assert res.stdout_truncated and len(res.stdout) == SMALL.output_bytes
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("main_exits", [True, False], ids=["main-exits", "main-times-out"])
def test_background_process_does_not_survive(
    sandbox: Sandbox, main_exits: bool, host_procs: Any
) -> None:
    marker = "llmbench-bg-" + secrets.token_hex(4)
    tail = "print('started', flush=True)" if main_exits else "while True:\n    pass"
    res = py(
        sandbox,
        f"""
import os, subprocess
if os.fork() == 0:
    os.setsid()
    subprocess.Popen(["python3", "-c", "import time; time.sleep(300)", {marker!r}],
                     start_new_session=True)
    os.execvp("python3", ["python3", "-c", "import time; time.sleep(300)", {marker!r}])
{tail}
""",
        timeout_s=2.0,
    )
    if main_exits:
        assert res.failure_mode is None and "started" in res.stdout, res
    else:
        assert res.failure_mode == "exec_timeout", res
    deadline = time.monotonic() + 3
    while host_procs(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_procs(marker) == []


def test_no_privileges(sandbox: Sandbox) -> None:
    res = py(
        sandbox,
        """
import os, subprocess
st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
print("uid", os.getuid(), os.geteuid(), os.getgid())
for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
    print(k, st[k].strip())
for fn in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.chroot("/")):
    try:
        fn()
        print("privileged call succeeded")
    except OSError:
        pass
for cmd in (["unshare", "-r", "id"], ["mount", "-t", "tmpfs", "none", "/tmp"], ["su", "-c", "id"]):
    r = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, timeout=5)
    print(cmd[0], "rc", r.returncode, r.stdout.decode(errors="replace").strip())
""",
    )
    out = res.stdout
    assert res.exit_code == 0, res.stderr
    assert "uid 65534 65534 65534" in out
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert f"{k} 0000000000000000" in out, out
    assert "NoNewPrivs 1" in out
    assert "privileged call succeeded" not in out
    assert "uid=0" not in out
    for tool in ("unshare", "mount", "su"):
        assert f"{tool} rc 0" not in out, out


def test_killing_the_supervisor_is_contained(sandbox: Sandbox, host_procs: Any) -> None:
    marker = "llmbench-kill-" + secrets.token_hex(4)
    res = py(
        sandbox,
        f"""
import os, subprocess, time
subprocess.Popen(["python3", "-c", "import time; time.sleep(300)", {marker!r}],
                 start_new_session=True)
me = os.getpid()
forged = 0
for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me]:
    try:
        fd = os.open(f"/proc/{{pid}}/fd/1", os.O_WRONLY)
        cmd = open(f"/proc/{{pid}}/cmdline").read()
        if cmd.startswith("python3") and {marker!r} not in cmd and pid != "1":
            forged += 1
        os.close(fd)
    except OSError:
        pass
print("forgeable", forged, flush=True)
for target in (os.getppid(), 1, -1):
    try:
        os.kill(target, 9)
    except OSError:
        pass
time.sleep(2)
""",
        timeout_s=5.0,
    )
    # Either the kills are ignored (bwrap: the supervisor is outside the namespace) or
    # the run is reported as killed; never a hang, never a forged verdict.
    assert res.failure_mode in (None, "killed"), res
    assert "forgeable 0" in res.stdout or res.stdout == "", res.stdout
    deadline = time.monotonic() + 3
    while host_procs(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_procs(marker) == []
    nxt = sandbox.run(files={}, cmd=["echo", "next"], timeout_s=10.0)
    assert nxt.stdout == "next\n" and nxt.ok
