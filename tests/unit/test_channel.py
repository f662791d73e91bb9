"""Sandbox.open(): the interactive channel, on every backend (unsafe-local, bwrap, docker)."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_llmbench.core.sandbox import (
    ChannelClosed,
    ChannelTimeout,
    Limits,
    Sandbox,
    SandboxUnavailable,
    open_sandbox,
)

ECHO = """
import sys
for line in sys.stdin:
    sys.stdout.write(line.rstrip("\\n")[::-1] + "\\n")
    sys.stdout.flush()
print("bye", flush=True)
"""


@pytest.fixture(
    scope="module",
    params=[
        "unsafe-local",
        pytest.param("bwrap", marks=pytest.mark.bwrap),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def sb(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    try:
        box = open_sandbox(str(request.param))
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    yield box
    box.close()


def host_procs(marker: str) -> list[str]:
    """Host processes whose command line holds ``marker`` (container ones included)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append(f"{pid}: {cmd}")
    return found


def test_echo_round_trip_of_many_lines(sb: Sandbox) -> None:
    with sb.open({"echo.py": ECHO}, ["python3", "echo.py"], timeout_s=30) as ch:
        for i in range(500):
            msg = f"line {i} " + "x" * (i % 50)
            ch.send(msg.encode() + b"\n")
            assert ch.recv_line(10) == msg[::-1].encode()
        big = b"y" * 300_000
        ch.send(big + b"\n")  # larger than any pipe buffer, in one send
        assert ch.recv_line(10) == big
    res = ch.close()
    assert res.exit_code == 0 and res.failure_mode is None, res
    assert res.stdout == "bye\n"  # the unread rest comes back with the result
    assert ch.close() is res


def test_fresh_work_dir_holds_only_the_files(sb: Sandbox) -> None:
    code = "import os\nprint(sorted(os.listdir('.')), open('d/f').read())\nopen('new', 'w')"
    with sb.open({"m.py": code, "d/f": "data"}, ["python3", "m.py"]) as ch:
        assert ch.recv_line(10) == b"['d', 'm.py'] data"
        assert ch.recv_line(10) is None
    with sb.open({}, ["ls", "-A"]) as ch:
        assert ch.recv_line(10) is None


def test_read_timeout_leaves_the_process_running(sb: Sandbox) -> None:
    with sb.open({"echo.py": ECHO}, ["python3", "echo.py"], timeout_s=30) as ch:
        t0 = time.monotonic()
        with pytest.raises(ChannelTimeout):
            ch.recv_line(0.3)
        assert 0.25 <= time.monotonic() - t0 < 3
        ch.send(b"abc\n")
        assert ch.recv_line(10) == b"cba"
    assert ch.close().exit_code == 0


def test_eof_when_the_process_dies(sb: Sandbox) -> None:
    code = "import sys\nprint('one', flush=True)\nsys.stderr.write('why')\nsys.exit(7)"
    with sb.open({"m.py": code}, ["python3", "m.py"]) as ch:
        assert ch.recv_line(10) == b"one"
        assert ch.recv_line(10) is None
        assert ch.recv_line(10) is None
        with pytest.raises(ChannelClosed):
            for _ in range(100):  # the pipe may take a little data before it breaks
                ch.send(b"x" * 70_000 + b"\n")
    res = ch.close()
    assert (res.exit_code, res.stderr, res.failure_mode) == (7, "why", None), res
    with pytest.raises(ChannelClosed):
        ch.recv_line(1)
    with pytest.raises(ChannelClosed):
        ch.send(b"late\n")


def test_unterminated_last_line_is_returned(sb: Sandbox) -> None:
    with sb.open({}, ["printf", "a\\nb"]) as ch:
        assert (ch.recv_line(10), ch.recv_line(10), ch.recv_line(10)) == (b"a", b"b", None)


def test_overall_deadline_kills_it(sb: Sandbox) -> None:
    code = "import time\nprint('up', flush=True)\ntime.sleep(60)"
    t0 = time.monotonic()
    with sb.open({"m.py": code}, ["python3", "m.py"], timeout_s=1.5) as ch:
        assert ch.recv_line(10) == b"up"
        assert ch.recv_line(30) is None  # the deadline, not this timeout, ends it
        assert time.monotonic() - t0 < 6
    res = ch.close()
    assert res.failure_mode == "exec_timeout" and res.timed_out and res.killed, res


def test_deadline_also_ends_a_silent_writer_while_sending(sb: Sandbox) -> None:
    # The process never reads stdin: send() cannot finish; the deadline ends it.
    code = "import time\ntime.sleep(60)"
    with sb.open({"m.py": code}, ["python3", "m.py"], timeout_s=1.5) as ch:
        t0 = time.monotonic()
        with pytest.raises(ChannelClosed):
            ch.send(b"z" * (20 << 20))
        assert time.monotonic() - t0 < 20
    assert ch.close().failure_mode == "exec_timeout"


def test_over_long_line_ends_the_process(sb: Sandbox) -> None:
    code = "import sys, time\nsys.stdout.write('q' * 5000)\nsys.stdout.flush()\ntime.sleep(60)"
    with sb.open({"m.py": code}, ["python3", "m.py"], timeout_s=30) as ch:
        t0 = time.monotonic()
        with pytest.raises(ChannelClosed):
            ch.recv_line(10, max_bytes=1000)
    res = ch.close()
    assert res.failure_mode == "output_limit" and res.killed, res
    assert time.monotonic() - t0 < 10


def test_stderr_is_capped(sb: Sandbox) -> None:
    code = "import sys, time\nsys.stderr.write('e' * 50_000)\nsys.stderr.flush()\ntime.sleep(60)"
    with sb.open({"m.py": code}, ["python3", "m.py"], limits=Limits(output_bytes=1000)) as ch:
        assert ch.recv_line(20) is None
    res = ch.close()
    assert res.failure_mode == "output_limit" and res.stderr_truncated, res
    assert len(res.stderr) == 1000


def test_memory_limit_is_oom(sb: Sandbox) -> None:
    code = "import sys\nsys.stdin.readline()\nx = b'm' * (1 << 30)\nprint(len(x))"
    lim = Limits(memory_mb=128)
    with sb.open({"m.py": code}, ["python3", "m.py"], timeout_s=20, limits=lim) as ch:
        ch.send(b"go\n")
        assert ch.recv_line(20) is None
    res = ch.close()
    assert res.exit_code != 0 and "1073741824" not in res.stdout, res
    if sb.name != "unsafe-local":  # rlimits only there: a MemoryError, not an OOM kill
        assert res.failure_mode == "oom" and res.oom, res


def test_closing_stdin_ends_the_process(sb: Sandbox) -> None:
    with sb.open({"echo.py": ECHO}, ["python3", "echo.py"], timeout_s=30) as ch:
        ch.send(b"ab\n")
        assert ch.recv_line(10) == b"ba"
        t0 = time.monotonic()
    res = ch.close()
    assert res.exit_code == 0 and res.failure_mode is None and res.stdout == "bye\n", res
    assert time.monotonic() - t0 < 3


def test_a_process_ignoring_eof_is_killed_after_a_grace(sb: Sandbox) -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)"
    with sb.open({"m.py": code}, ["python3", "m.py"], timeout_s=30) as ch:
        with pytest.raises(ChannelTimeout):
            ch.recv_line(0.5)
        t0 = time.monotonic()
    res = ch.close()
    assert res.exit_code == -9 and res.failure_mode == "killed", res
    assert time.monotonic() - t0 < 5


def test_run_lock_is_held_while_a_channel_is_open(sb: Sandbox) -> None:
    done = threading.Event()
    result: list[str] = []

    def other() -> None:
        result.append(sb.run({}, ["echo", "after"], timeout_s=20).stdout)
        done.set()

    with sb.open({"echo.py": ECHO}, ["python3", "echo.py"], timeout_s=30) as ch:
        t = threading.Thread(target=other, daemon=True)
        t.start()
        assert not done.wait(1.0), "a run went through while the channel was open"
        ch.send(b"still mine\n")
        assert ch.recv_line(10) == b"enim llits"
    assert done.wait(20) and result == ["after\n"]
    t.join()


def test_no_process_left_after_close(sb: Sandbox) -> None:
    marker = "llmbench-chan-" + secrets.token_hex(4)
    code = f"""
import os, subprocess, sys, time
subprocess.Popen(["python3", "-c", "import time; time.sleep(300)", {marker!r}],
                 start_new_session=True)
if os.fork() == 0:
    os.setsid()
    os.execvp("python3", ["python3", "-c", "import time; time.sleep(300)", {marker!r}])
print("spawned", flush=True)
for line in sys.stdin:
    pass
"""
    ch = sb.open({"m.py": code}, ["python3", "m.py"], timeout_s=30)
    assert ch.recv_line(20) == b"spawned"
    deadline = time.monotonic() + 5
    while len(host_procs(marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(host_procs(marker)) == 2  # both started (and are visible on the host)
    ch.close()
    if sb.name == "unsafe-local":
        # Not a sandbox: setsid() escapes it (documented); clean up after the test.
        for row in host_procs(marker):
            os.kill(int(row.split(":")[0]), 9)
        return
    deadline = time.monotonic() + 3
    while host_procs(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host_procs(marker) == []
    cg = getattr(sb, "cgroup", None)
    if cg is not None:
        assert cg.pids() == []
    container = getattr(sb, "_container", None)
    if container is not None:
        # Only the container's init (and a standby runner) may run.
        procs = container.top(ps_args="-eo pid,args")["Processes"]
        assert not [p for p in procs if marker in " ".join(p)], procs


def test_deleted_channel_releases_the_sandbox(sb: Sandbox) -> None:
    ch = sb.open({"echo.py": ECHO}, ["python3", "echo.py"], timeout_s=30)
    ch.send(b"x\n")
    assert ch.recv_line(10) == b"x"
    del ch  # dropped without close(): the process is ended and the lock released
    assert sb.run({}, ["echo", "ok"], timeout_s=20).stdout == "ok\n"


def test_open_needs_a_command_and_valid_files(sb: Sandbox) -> None:
    with pytest.raises(ValueError):
        sb.open({}, [])
    with pytest.raises(ValueError):
        sb.open({"../x": "1"}, ["true"])
    assert sb.run({}, ["true"]).ok  # nothing was left locked
