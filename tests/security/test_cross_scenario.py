"""No state crosses scenarios: run A (model code) leaves something behind or attacks
the sandbox's long-lived processes; run B on the same sandbox must not be affected.
Runs on docker and bwrap (the `sandbox` fixture keeps one warm sandbox per backend,
as a pytest session does)."""

from __future__ import annotations

import os
import platform
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmbench.core.sandbox import (
    ExecResult,
    Limits,
    Sandbox,
    SandboxUnavailable,
    open_sandbox,
)

pytestmark = pytest.mark.security

SMALL = Limits(memory_mb=256, pids=32, cpus=1.0, output_bytes=100_000, disk_mb=64)
HONEST = "print('honest')\n"


def py(sb: Sandbox, code: str, timeout_s: float = 15.0, limits: Limits = SMALL) -> ExecResult:
    return sb.run(
        files={"main.py": code}, cmd=["python3", "main.py"], timeout_s=timeout_s, limits=limits
    )


def assert_next_runs_honest(sb: Sandbox, n: int = 3) -> None:
    """Run B: an honest program on the same sandbox, several times."""
    for _ in range(n):
        res = py(sb, HONEST)
        assert (res.stdout, res.exit_code, res.failure_mode) == ("honest\n", 0, None), res


# Attach to every process not ours with ptrace (via ctypes, x86-64) and, where that
# works, make it execve() a shell loop that rewrites every later run's main.py.
PTRACE_ATTACK = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PEEK, POKE, GETREGS, SETREGS, ATTACH, DETACH = 2, 5, 12, 13, 16, 17
NAMES = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs "
         "eflags rsp ss fs_base gs_base ds es fs gs").split()
class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in NAMES]
EVIL = ("W=/work; while :; do for f in $W/*/main.py $W/*$W/main.py $W/main.py; do "
        "[ -f \"$f\" ] && printf 'print(\"FORGED\")\\n' > \"$f\"; done; done")
mine = {os.getpid()}
def poke(pid, addr, data):
    data += b"\0" * (-len(data) % 8)
    for i in range(0, len(data), 8):
        word = int.from_bytes(data[i:i + 8], "little")
        if libc.ptrace(POKE, pid, addr + i, ctypes.c_void_p(word)) != 0:
            return False
    return True
def replace(pid):
    os.waitpid(pid, 0x40000000)  # __WALL
    regs = Regs()
    if libc.ptrace(GETREGS, pid, None, ctypes.byref(regs)) != 0:
        return "getregs failed"
    ctypes.set_errno(0)
    word = libc.ptrace(PEEK, pid, regs.rip - 2, None) & 0xFFFF
    if word != 0x050F:  # not stopped right after a `syscall` instruction
        return f"no syscall at rip ({word:#x})"
    base = regs.rsp & ~0xF
    strs = [b"/bin/sh\0", b"-c\0", EVIL.encode() + b"\0"]
    ptrs, blob = [], b""
    for s in strs:
        ptrs.append(base + 64 + len(blob))
        blob += s
    argv = b"".join(p.to_bytes(8, "little") for p in ptrs) + b"\0" * 8
    if not (poke(pid, base, argv) and poke(pid, base + 64, blob)):
        return "poke failed"
    regs.rax, regs.orig_rax = 59, (1 << 64) - 1
    regs.rdi, regs.rsi, regs.rdx = ptrs[0], base, 0
    regs.rip -= 2
    if libc.ptrace(SETREGS, pid, None, ctypes.byref(regs)) != 0:
        return "setregs failed"
    libc.ptrace(DETACH, pid, None, None)
    return "replaced"
for p in sorted(int(x) for x in os.listdir("/proc") if x.isdigit()):
    if p in mine:
        continue
    if libc.ptrace(ATTACH, p, None, None) != 0:
        print("denied", p, ctypes.get_errno())
        continue
    print("attached", p, replace(p), flush=True)
# /proc/<pid>/mem is ptrace by another name.
for p in (1, os.getppid()):
    try:
        os.close(os.open(f"/proc/{p}/mem", os.O_RDWR))
        print("mem-open", p)
    except OSError as exc:
        print("mem-denied", p, exc.errno)
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the ptrace attack is x86-64 code")
def test_ptrace_cannot_take_over_long_lived_processes(sandbox: Sandbox) -> None:
    before = sandbox.run({}, ["cat", "/proc/1/cmdline"], timeout_s=10).stdout
    res = py(sandbox, PTRACE_ATTACK, timeout_s=20)
    assert res.exit_code == 0, res
    assert "replaced" not in res.stdout, res.stdout
    assert "mem-open" not in res.stdout, res.stdout
    if sandbox.name == "docker":
        # Nothing in the container may be attached to: PID 1, the runner, a standby.
        assert "attached" not in res.stdout, res.stdout
        assert "denied 1 " in res.stdout, res.stdout
    assert_next_runs_honest(sandbox)
    after = sandbox.run({}, ["cat", "/proc/1/cmdline"], timeout_s=10).stdout
    assert "FORGED" not in after and "while" not in after.split("\0")[0], after
    if sandbox.name == "docker":
        assert after == before  # still the container's own init


def test_seccomp_blocks_ptrace_and_process_vm(sandbox: Sandbox) -> None:
    res = py(
        sandbox,
        """
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
print("Seccomp", [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")])
child = os.fork()
if child == 0:
    time.sleep(5)
    os._exit(0)
print("attach-own-child", libc.ptrace(16, child, None, None), ctypes.get_errno())
class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(16)
iov = IoVec(ctypes.cast(buf, ctypes.c_void_p), 16)
libc.process_vm_readv.restype = ctypes.c_ssize_t
print("vm-read", libc.process_vm_readv(child, ctypes.byref(iov), 1, ctypes.byref(iov), 1, 0),
      ctypes.get_errno())
os.kill(child, 9)
""",
    )
    assert "Seccomp ['2']" in res.stdout, res
    assert "attach-own-child -1 1" in res.stdout, res.stdout  # EPERM, even for its own child
    assert "vm-read -1 1" in res.stdout, res.stdout


@pytest.mark.docker
def test_docker_model_code_has_another_uid_than_long_lived_processes() -> None:
    """bwrap keeps nothing between runs; its root-owned init is checked from the host
    in test_bwrap_as_root_cannot_read_root_only_files."""
    try:
        sandbox = open_sandbox("docker")
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    with sandbox:
        res = py(
            sandbox,
            """
import os
def uid(p):
    for line in open(f"/proc/{p}/status"):
        if line.startswith("Uid:"):
            return int(line.split()[1])
print("me", os.getuid(), "init", uid(1), "parent", uid(os.getppid()))
""",
        )
    me, init, parent = (int(x) for x in res.stdout.split()[1::2])
    assert me == 65534 and init != me and parent != me, res.stdout


def test_files_left_behind_do_not_reach_the_next_run(sandbox: Sandbox) -> None:
    tag = "left-" + secrets.token_hex(4)
    res = py(
        sandbox,
        f"""
import os
here = os.getcwd()
places = [here, os.path.dirname(here), os.path.dirname(os.path.dirname(here)), "/work",
          "/tmp", "/dev/shm", "/dev/mqueue", "/var/tmp", os.environ.get("HOME", "/tmp")]
done = []
for d in places:
    for name in ({tag!r}, "." + {tag!r}):
        try:
            with open(os.path.join(d, name), "w") as fh:
                fh.write("x")
            done.append(os.path.join(d, name))
        except OSError:
            pass
    try:
        os.makedirs(os.path.join(d, {tag!r} + "-dir", "sub"), exist_ok=True)
        os.chmod(os.path.join(d, {tag!r} + "-dir"), 0)  # harder to wipe
        done.append(d + "/dir")
    except OSError:
        pass
print("left", len(done), done)
""",
    )
    assert res.exit_code == 0 and "left" in res.stdout, res
    nxt = py(
        sandbox,
        f"""
import os
hits = []
for top in ("/work", "/tmp", "/dev/shm", "/dev/mqueue", "/var/tmp", os.getcwd(),
            os.environ.get("HOME", "/tmp")):
    for root, dirs, files in os.walk(top, onerror=lambda e: None):
        hits += [os.path.join(root, n) for n in dirs + files if {tag!r} in n]
print("found", sorted(set(hits)))
print("cwd", sorted(os.listdir(".")))
""",
    )
    assert "found []" in nxt.stdout, nxt.stdout + nxt.stderr
    assert "cwd ['main.py']" in nxt.stdout, nxt.stdout


SYSV = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT = 0o1000
shm = libc.shmget(0x4C4C4D42, 1 << 20, IPC_CREAT | 0o666)
priv = libc.shmget(0, 4096, IPC_CREAT | 0o600)
sem = libc.semget(0x4C4C4D43, 1, IPC_CREAT | 0o666)
msg = libc.msgget(0x4C4C4D44, IPC_CREAT | 0o666)
fd = os.open("/dev/shm/llmbench-posix-shm", os.O_CREAT | os.O_RDWR, 0o666)
os.ftruncate(fd, 1 << 20)
print("created", shm, priv, sem, msg)
"""

IPC_LIST = """
import os
for kind in ("shm", "sem", "msg"):
    try:
        rows = open(f"/proc/sysvipc/{kind}").read().splitlines()[1:]
    except OSError as exc:
        rows = [f"unreadable {exc}"]
    print(kind, len(rows), rows[:3])
print("posix", sorted(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else [])
"""


def test_ipc_objects_do_not_reach_the_next_run(sandbox: Sandbox) -> None:
    res = py(sandbox, SYSV)
    assert res.exit_code == 0 and "created" in res.stdout, res
    assert all(int(x) >= 0 for x in res.stdout.split()[1:]), res.stdout  # they were made
    nxt = py(sandbox, IPC_LIST)
    out = nxt.stdout
    for kind in ("shm", "sem", "msg"):
        assert f"{kind} 0 []" in out, out
    assert "posix []" in out, out


def test_a_filled_work_area_does_not_starve_the_next_run(sandbox: Sandbox) -> None:
    fill = """
import os
n = 0
block = b"f" * (1 << 20)
for d in ("/work", os.path.dirname(os.getcwd()), ".", "/tmp", "/dev/shm"):
    for i in range(400):
        try:
            with open(os.path.join(d, f"fill{i}"), "wb") as fh:
                for _ in range(8):
                    fh.write(block)
                    n += 1
        except OSError:
            break
print("wrote MB", n, flush=True)
"""
    res = py(sandbox, fill, timeout_s=30)
    assert res.failure_mode in (None, "oom"), res  # the memory cgroup may stop it first
    need = SMALL.disk_mb // 2
    nxt = py(
        sandbox,
        f"""
import os, shutil
with open("big", "wb") as fh:
    for _ in range({need}):
        fh.write(b"n" * (1 << 20))
print("free", shutil.disk_usage(".").free >> 20, "wrote", os.path.getsize("big") >> 20)
""",
        timeout_s=30,
    )
    assert nxt.exit_code == 0 and f"wrote {need}" in nxt.stdout, nxt


def test_pre_created_next_run_directories_do_not_break_it(sandbox: Sandbox) -> None:
    res = py(
        sandbox,
        """
import os, re
here = os.getcwd()
made = 0
for parent in {os.path.dirname(here), os.path.dirname(os.path.dirname(here)), "/work", "/tmp"}:
    name = os.path.basename(here if parent == os.path.dirname(here) else os.path.dirname(here))
    m = re.match(r"(\\D*)(\\d+)$", name)
    guesses = [f"r{i}" for i in range(300)]
    if m:
        guesses += [f"{m.group(1)}{int(m.group(2)) + k}" for k in range(1, 50)]
    for g in guesses:
        p = os.path.join(parent, g)
        try:
            os.makedirs(os.path.join(p, "work"))
            os.chmod(os.path.join(p, "work"), 0)
            os.chmod(p, 0o500)
            made += 1
        except OSError:
            try:
                open(p, "w").close()
                made += 1
            except OSError:
                pass
print("made", made)
""",
    )
    assert res.exit_code == 0, res
    assert_next_runs_honest(sandbox, n=5)


def test_background_process_cannot_rewrite_later_runs(sandbox: Sandbox) -> None:
    res = py(
        sandbox,
        """
import glob, os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        end = time.time() + 60
        while time.time() < end:
            for f in glob.glob("/work/**/main.py", recursive=True) + glob.glob("/tmp/**/*.py"):
                try:
                    with open(f, "w") as fh:
                        fh.write("print('FORGED')\\n")
                except OSError:
                    pass
    os._exit(0)
print("daemon started", flush=True)
time.sleep(0.5)
""",
    )
    assert "daemon started" in res.stdout, res
    assert_next_runs_honest(sandbox, n=5)


@pytest.fixture
def root_only_file() -> Iterator[tuple[Path, str]]:
    """A root-only 0600 file under a path the bwrap sandbox binds (/usr/lib)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the case is bwrap launched by root")
    token = "llmbench-root-only-" + secrets.token_hex(8)
    path = Path("/usr/lib") / f".{token}"
    path.write_text(token)
    path.chmod(0o600)
    try:
        yield path, token
    finally:
        path.unlink()


@pytest.mark.bwrap
def test_bwrap_as_root_cannot_read_root_only_files(root_only_file: tuple[Path, str]) -> None:
    path, token = root_only_file
    try:
        sb = open_sandbox("bwrap")
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    marker = "llmbench-uid-" + secrets.token_hex(4)
    uid_of = (
        "import os\nu = os.getuid()\n"
        "for line in open('/proc/self/uid_map'):\n"
        "    a, b, n = map(int, line.split())\n"
        "    if a <= u < a + n:\n"
        "        print('uid', u, 'outside', b + u - a)\n"
    )
    with sb:
        res = sb.run({}, ["sh", "-c", f"cat {path} || echo denied; ls /usr/local"], timeout_s=10)
        ids = sb.run({"u.py": uid_of}, ["python3", "u.py"], timeout_s=10)
        # And from the host: every process of the command is host uid 65534.
        with sb.open({}, ["sh", "-c", "echo up; cat; :", marker], timeout_s=20) as ch:
            assert ch.recv_line(10) == b"up"
            pids = [int(row.split(":")[0]) for row in _host_procs(marker)]
            assert pids
            for pid in pids:
                status = Path(f"/proc/{pid}/status").read_text()
                uids = next(ln for ln in status.splitlines() if ln.startswith("Uid:")).split()
                assert uids[1:] == ["65534"] * 4, status
    assert token not in res.stdout, res.stdout
    assert "denied" in res.stdout, res
    assert res.stdout.replace("denied", "").strip() == "", res.stdout  # /usr/local is empty
    # The sandbox user, mapped through /proc/self/uid_map, is not host root.
    assert ids.stdout.startswith("uid 65534 outside ") and "outside 0\n" not in ids.stdout, ids


def _host_procs(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmd and "bwrap" not in cmd.split(" ")[0]:
            found.append(f"{pid}: {cmd}")
    return found


@pytest.mark.docker
def test_docker_leftovers_the_runner_cannot_clear_mean_a_fresh_container() -> None:
    """Something no cleanup inside can remove (here: a root-owned file in /work, put
    there from the host) makes the runner refuse the container; the run is retried
    once on a fresh one and never reported against the model."""
    from pytest_llmbench.core.sandbox.docker import DockerSandbox

    try:
        sb = open_sandbox("docker")
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    with sb:
        assert isinstance(sb, DockerSandbox)
        assert py(sb, HONEST).stdout == "honest\n"
        first = sb._container.id
        sb._container.exec_run(
            ["sh", "-c", "mkdir -p /work/stuck && touch /work/stuck/f && chmod 0700 /work/stuck"],
            user="0:0",
        )
        res = py(sb, HONEST)
        assert (res.stdout, res.exit_code, res.failure_mode) == ("honest\n", 0, None), res
        assert sb._container.id != first
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                sb.client.containers.get(first)
            except Exception:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the refused container is still there")
