"""Host facts shared by the bwrap and unsafe-local backends: toolchains, cgroups."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

SYSTEM_PATH = ["/usr/local/bin", "/usr/bin", "/bin"]
NOBODY = 65534


@dataclass
class Toolchains:
    """Where the interpreters live. ``binds`` are host dirs outside /usr to mount
    read-only; ``path`` goes before the system PATH."""

    binds: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    found: dict[str, str] = field(default_factory=dict)


def _under_usr(path: str) -> bool:
    """Under /usr, which the sandbox mounts (all of it but /usr/local)."""
    if path == "/usr/local" or path.startswith("/usr/local/"):
        return False
    return path == "/usr" or path.startswith("/usr/")


def _local_binds(real: str) -> list[str]:
    """A toolchain under /usr/local: its binary and its own library dir, not the rest of
    /usr/local (site software and configuration)."""
    name = os.path.basename(real)
    binds = [real]
    for cand in (name, f"{name}-dist-packages"):
        lib = os.path.join("/usr/local/lib", cand)
        if cand and os.path.isdir(lib) and lib not in binds:
            binds.append(lib)
    if name.startswith("node"):
        mods = "/usr/local/lib/node_modules"
        if os.path.isdir(mods):
            binds.append(mods)
    return binds


def _probe(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


@functools.lru_cache(maxsize=1)
def toolchains() -> Toolchains:
    """Find python3, node, gcc, rustc/cargo and go; prefer system copies under /usr
    (pyenv shims add ~20 ms per start and live under a private home)."""
    tc = Toolchains()

    def add(name: str, binary: str | None, prefix: str | None = None) -> None:
        if not binary:
            return
        real = os.path.realpath(binary)
        tc.found[name] = real
        if _under_usr(real):
            return
        if prefix is None and real.startswith("/usr/local/"):
            for path in _local_binds(real):
                if path not in tc.binds:
                    tc.binds.append(path)
            if os.path.dirname(binary) not in tc.path:
                tc.path.append(os.path.dirname(binary))
            return
        root = prefix or os.path.dirname(os.path.dirname(real))
        if root not in tc.binds:
            tc.binds.append(root)
        bindir = os.path.dirname(real) if prefix is None else os.path.dirname(binary)
        if bindir not in tc.path:
            tc.path.append(bindir)

    for name in ("python3", "node", "gcc"):
        system = f"/usr/bin/{name}"
        found = system if os.path.exists(system) else shutil.which(name)
        if name == "python3" and found and not os.path.exists(system):
            # A pyenv shim is a script that needs pyenv; use the real interpreter.
            found = sys.executable
        add(name, found)
    # rustup proxies need RUSTUP_HOME; bind the real toolchain (sysroot) instead.
    rustc = "/usr/bin/rustc" if os.path.exists("/usr/bin/rustc") else shutil.which("rustc")
    if rustc:
        sysroot = _probe([rustc, "--print", "sysroot"])
        if sysroot and os.path.isdir(os.path.join(sysroot, "bin")):
            add("rustc", os.path.join(sysroot, "bin", "rustc"), prefix=sysroot)
            cargo = os.path.join(sysroot, "bin", "cargo")
            if os.path.exists(cargo):
                tc.found["cargo"] = cargo
    go = shutil.which("go") or next(
        (p for p in ("/usr/lib/go/bin/go", "/usr/local/go/bin/go") if os.path.exists(p)), None
    )
    if go:
        goroot = _probe([go, "env", "GOROOT"])
        if goroot:
            add("go", os.path.join(goroot, "bin", "go"), prefix=goroot)
            # Debian's /usr/bin/go is a symlink; keep GOROOT/bin on PATH either way.
            gobin = os.path.join(goroot, "bin")
            if gobin not in tc.path:
                tc.path.append(gobin)
    return tc


def sandbox_env(tmp: str, extra_path: list[str]) -> dict[str, str]:
    """The whole environment of a sandboxed command (nothing inherited)."""
    return {
        "PATH": ":".join([*extra_path, *SYSTEM_PATH]),
        "HOME": tmp,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "GOCACHE": f"{tmp}/go-cache",
        "GOPATH": f"{tmp}/go",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "CARGO_HOME": f"{tmp}/cargo",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def oom_score_max() -> None:
    """Make the command the OOM killer's first choice, not its supervisor."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
        fh.write("1000")


def exit_code_from_wrapper(code: int) -> int:
    """bwrap reports a child killed by signal N as 128+N: turn it back into -N."""
    if code > 128 and (code - 128) in {s.value for s in signal.Signals}:
        return -(code - 128)
    return code


def owner_tag() -> str:
    """``<host>-<pid>``: starts the names of what this process leaves on the host, so
    a later process can tell whose leftovers are whose."""
    return f"{socket.gethostname()}-{os.getpid()}"


def left_by_dead_process(name: str, prefix: str) -> bool:
    """True for ``<prefix><host>-<pid>-...`` of this host whose process is gone.
    Another host's names (a shared tree) and live or foreign processes are kept."""
    head = f"{prefix}{socket.gethostname()}-"
    if not name.startswith(head):
        return False
    pid_text = name[len(head) :].split("-", 1)[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, under another user
    return False


class Cgroup:
    """Memory/pids/cpu limits for one sandbox, cgroup v1 or v2, reused across runs.

    Created only when the process may write the cgroup tree (root, or a delegated v2
    subtree); otherwise :meth:`create` returns None and rlimits are the only limits."""

    V1_CTRL = ("memory", "pids", "cpu")

    def __init__(self, version: int, dirs: dict[str, str]):
        self.version = version
        self.dirs = dirs
        self._applied: tuple[int, int, float] | None = None

    @classmethod
    def create(cls, name: str) -> Cgroup | None:
        root = "/sys/fs/cgroup"
        try:
            if os.path.exists(os.path.join(root, "cgroup.controllers")):
                return cls._create_v2(root, name)
            if all(os.path.isdir(os.path.join(root, c)) for c in cls.V1_CTRL):
                dirs = {}
                for c in cls.V1_CTRL:
                    d = os.path.join(root, c, "llmbench", name)
                    os.makedirs(d, exist_ok=True)
                    dirs[c] = d
                return cls(1, dirs)
        except OSError:
            return None
        return None

    @classmethod
    def _create_v2(cls, root: str, name: str) -> Cgroup | None:
        with open(os.path.join(root, "cgroup.controllers")) as fh:
            avail = set(fh.read().split())
        if not {"memory", "pids"} <= avail:
            return None
        parent = os.path.join(root, "llmbench")
        os.makedirs(parent, exist_ok=True)
        want = " ".join(f"+{c}" for c in ("memory", "pids", "cpu") if c in avail)
        for d in (root, parent):
            with open(os.path.join(d, "cgroup.subtree_control"), "w") as fh:
                fh.write(want)
        leaf = os.path.join(parent, name)
        os.makedirs(leaf, exist_ok=True)
        return cls(2, {"memory": leaf, "pids": leaf, "cpu": leaf})

    @classmethod
    def reap(cls, prefix: str) -> int:
        """Remove the cgroups named ``<prefix><host>-<pid>-...`` whose process is gone
        (a killed process never reaches :meth:`remove`). Returns how many went."""
        root = "/sys/fs/cgroup"
        parents = [os.path.join(root, "llmbench")]
        parents += [os.path.join(root, c, "llmbench") for c in cls.V1_CTRL]
        gone = 0
        for parent in parents:
            try:
                names = os.listdir(parent)
            except OSError:
                continue
            for name in names:
                if not left_by_dead_process(name, prefix):
                    continue
                d = os.path.join(parent, name)
                with (
                    contextlib.suppress(OSError, ValueError),
                    open(os.path.join(d, "cgroup.procs")) as fh,
                ):
                    for pid in fh.read().split():
                        os.kill(int(pid), signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.rmdir(d)  # fails while killed tasks linger: the next reap gets it
                    gone += 1
        return gone

    def _write(self, ctrl: str, fname: str, value: str) -> bool:
        try:
            with open(os.path.join(self.dirs[ctrl], fname), "w") as fh:
                fh.write(value)
            return True
        except OSError:
            return False

    def apply(self, memory_mb: int, pids: int, cpus: float) -> None:
        key = (memory_mb, pids, cpus)
        if key == self._applied:
            return
        mem = str(memory_mb << 20)
        if self.version == 1:
            # memsw must stay >= limit: try both orders so raising and lowering work.
            for _ in range(2):
                self._write("memory", "memory.limit_in_bytes", mem)
                self._write("memory", "memory.memsw.limit_in_bytes", mem)
            self._write("pids", "pids.max", str(pids))
            self._write("cpu", "cpu.cfs_period_us", "100000")
            self._write("cpu", "cpu.cfs_quota_us", str(max(int(cpus * 100000), 1000)))
        else:
            self._write("memory", "memory.max", mem)
            self._write("memory", "memory.swap.max", "0")
            self._write("pids", "pids.max", str(pids))
            self._write("cpu", "cpu.max", f"{max(int(cpus * 100000), 1000)} 100000")
        self._applied = key

    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in sorted(set(self.dirs.values()))]

    def oom_kills(self) -> int:
        fname = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            with open(os.path.join(self.dirs["memory"], fname)) as fh:
                for line in fh:
                    k, _, v = line.partition(" ")
                    if k == "oom_kill":
                        return int(v)
        except (OSError, ValueError):
            pass
        return 0

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.dirs["pids"], "cgroup.procs")) as fh:
                return [int(x) for x in fh.read().split()]
        except (OSError, ValueError):
            return []

    def pids_current(self) -> int:
        try:
            with open(os.path.join(self.dirs["pids"], "pids.current")) as fh:
                return int(fh.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def kill_all(self, wait_s: float = 2.0) -> bool:
        """SIGKILL everything in the cgroup until it is empty; False if it never was."""
        deadline = time.monotonic() + wait_s
        while True:
            pids = self.pids()
            if not pids:
                return True
            if self.version == 2 and self._write("pids", "cgroup.kill", "1"):
                pass
            else:
                for pid in pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)

    def try_remove(self) -> bool:
        """Remove the cgroup if it is empty by now (never waits)."""
        if self.pids_current():
            return False
        gone = True
        for d in set(self.dirs.values()):
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError:
                gone = False
        return gone

    def remove(self) -> None:
        self.kill_all()
        for d in set(self.dirs.values()):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
