"""bubblewrap backend: fresh namespaces per run, uid 65534, cgroup limits.

As root, ``bwrap --unshare-all`` alone keeps uid 0 with every capability, so the
command line below also maps the user to 65534, drops all capabilities and clears the
environment. Only /usr, a few /etc files and toolchain dirs are mounted (read-only),
so what the mapped uid may read on the host is limited to those.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
from typing import Any

from . import _seccomp, _supervise
from ._host import (
    NOBODY,
    Cgroup,
    exit_code_from_wrapper,
    left_by_dead_process,
    owner_tag,
    sandbox_env,
    toolchains,
)
from .channel import PipeChannel
from .interface import (
    Channel,
    ExecResult,
    Limits,
    Sandbox,
    SandboxUnavailable,
    make_result,
    write_files,
)

HOW_TO = "install bubblewrap (apt-get install bubblewrap)"

_ETC_FILES = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
)
_ETC_DATA = {
    "passwd": f"root:x:0:0:root:/root:/bin/sh\nnobody:x:{NOBODY}:{NOBODY}:nobody:/tmp:/bin/sh\n",
    "group": f"root:x:0:\nnogroup:x:{NOBODY}:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost\n",
}


def _scratch_root() -> str:
    # /dev/shm is a tmpfs: work dirs cost no disk and vanish with the machine.
    for cand in ("/dev/shm", tempfile.gettempdir()):
        if os.path.isdir(cand) and os.access(cand, os.W_OK):
            return cand
    return tempfile.gettempdir()


def _reap_leftovers() -> None:
    """A killed process never reaches close(): remove the scratch dirs (on a tmpfs,
    so they hold memory) and cgroups that dead processes of this host left behind."""
    scratch = _scratch_root()
    try:
        names = os.listdir(scratch)
    except OSError:
        names = []
    for name in names:
        if left_by_dead_process(name, "llmbench-bwrap-"):
            shutil.rmtree(os.path.join(scratch, name), ignore_errors=True)
    if os.geteuid() == 0:
        Cgroup.reap("bwrap-")


class BwrapSandbox(Sandbox):
    name = "bwrap"
    _ids = itertools.count()

    def __init__(self, bwrap: str = "bwrap") -> None:
        exe = shutil.which(bwrap)
        if exe is None:
            raise SandboxUnavailable(f"bwrap sandbox: `{bwrap}` not found; {HOW_TO}")
        self.exe = exe
        self._help: str | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.is_root = os.geteuid() == 0
        self.tc = toolchains()
        _reap_leftovers()
        self._tag = owner_tag()
        uid = f"{self._tag}-{next(self._ids)}-{secrets.token_hex(3)}"
        self.root = tempfile.mkdtemp(prefix=f"llmbench-bwrap-{uid}-", dir=_scratch_root())
        os.chmod(self.root, 0o711)
        etc = os.path.join(self.root, "etc")
        os.mkdir(etc)
        for fname, text in _ETC_DATA.items():
            with open(os.path.join(etc, fname), "w") as fh:
                fh.write(text)
            os.chmod(os.path.join(etc, fname), 0o644)
        os.chmod(etc, 0o755)
        self.cgroup = Cgroup.create(f"bwrap-{uid}") if self.is_root else None
        self._stale_cgroups: list[Cgroup] = []
        self._runs = itertools.count()
        self.version = self._version()
        self.setpriv = shutil.which("setpriv")
        # bwrap has no profile of its own: ptrace, process_vm_*, new user namespaces
        # and the other calls in _supervise fail with EPERM.
        self.seccomp = _seccomp.seccomp_program() if self._supports("--seccomp") else None
        # As root: the command is made host uid 65534 by setpriv inside the sandbox
        # (bwrap's own --uid would map the sandbox user to root's uid); the filter is
        # what keeps it from making a user namespace, so both are needed.
        self.drop_uid = self.is_root and self.setpriv is not None and self.seccomp is not None
        self._base_args, self._inner_args = self._make_base_args()
        self._shm_args = ["--perms", "1777"] if self._supports("--size") else []
        probe = self.run({}, ["/bin/true"], timeout_s=10.0)
        if probe.exit_code != 0:
            self.close()
            raise SandboxUnavailable(
                f"bwrap sandbox: bubblewrap cannot create a sandbox here "
                f"(exit {probe.exit_code}: {probe.stderr.strip()[:300]})"
            )

    def _version(self) -> str:
        try:
            out = subprocess.run([self.exe, "--version"], capture_output=True, text=True)
            return out.stdout.strip()
        except OSError:
            return "?"

    def _supports(self, flag: str) -> bool:
        if self._help is None:
            try:
                out = subprocess.run([self.exe, "--help"], capture_output=True, text=True)
                self._help = out.stdout
            except OSError:
                self._help = ""
        return flag in self._help

    def _make_base_args(self) -> tuple[list[str], list[str]]:
        """The bwrap command line before the work binds, and the one between them and
        the command (empty unless two-layer)."""
        # No nested user namespaces (bwrap >= 0.8): they are kernel attack surface.
        no_userns = ["--disable-userns"] if self._supports("--disable-userns") else []
        drop_to_nobody = [
            "--unshare-user",
            "--uid",
            str(NOBODY),
            "--gid",
            str(NOBODY),
            *no_userns,
            "--cap-drop",
            "ALL",
            "--die-with-parent",
        ]
        if self.drop_uid:
            # Root sets up the namespaces and mounts (it can reach toolchains under
            # /root) without a user namespace; setpriv then makes the command host uid
            # 65534 with no capabilities, and the seccomp filter keeps it from making a
            # user namespace of its own. No sandbox uid is host root.
            unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
            unshare += ["--unshare-cgroup-try", "--die-with-parent"]
        else:
            unshare = ["--unshare-all", *drop_to_nobody]
        a = [self.exe, *unshare, "--new-session", "--clearenv", "--hostname", "sandbox"]
        # All of /usr but /usr/local (site software and configuration, not toolchains;
        # one found there is bound by itself below): an empty read-only dir over it.
        a += ["--dir", "/etc", "--ro-bind", "/usr", "/usr"]
        local = os.path.isdir("/usr/local")
        if local:
            a += ["--tmpfs", "/usr/local"]  # read-only once the toolchain binds are in
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                a += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                a += ["--ro-bind", top, top]
        for path in _ETC_FILES:
            a += ["--ro-bind-try", path, path]
        for fname in _ETC_DATA:
            a += ["--ro-bind", os.path.join(self.root, "etc", fname), f"/etc/{fname}"]
        made = {"/usr", "/etc", "/usr/local"}
        for path in self.tc.binds:
            # Parents a privileged bwrap creates are 0700: make them 0755 first.
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                parent = "/" + "/".join(parts[:i])
                if parent not in made:
                    made.add(parent)
                    a += ["--dir", parent]
            a += ["--ro-bind", path, path]
        if local:
            a += ["--remount-ro", "/usr/local"]
        a += ["--proc", "/proc", "--dev", "/dev", "--chdir", "/work"]
        inner: list[str] = []
        if self.drop_uid:
            inner = [
                self.setpriv or "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                "--clear-groups",
                "--bounding-set=-all",
                "--inh-caps=-all",
                "--no-new-privs",
            ]
        return a, inner

    def _execute(
        self,
        data: dict[str, bytes],
        cmd: list[str],
        sin: bytes | None,
        timeout_s: float,
        lim: Limits,
    ) -> ExecResult:
        with self._lock:
            return self._run(data, cmd, sin, timeout_s, lim)

    def _run(
        self,
        files: dict[str, bytes],
        cmd: list[str],
        stdin: bytes | None,
        timeout_s: float,
        lim: Limits,
    ) -> ExecResult:
        rundir, wrapped, cg, oom0, fds = self._prepare(files, cmd, timeout_s, lim)

        def cleanup() -> None:
            if cg is not None:
                cg.kill_all()

        try:
            raw = _supervise.supervise(
                wrapped,
                cwd=None,
                env={"PATH": "/usr/bin:/bin"},
                stdin=stdin,
                timeout_s=timeout_s,
                output_bytes=lim.output_bytes,
                cleanup=cleanup,
                pass_fds=fds,
            )
        finally:
            for fd in fds:
                os.close(fd)
            shutil.rmtree(rundir, ignore_errors=True)
        raw["exit_code"] = exit_code_from_wrapper(int(raw["exit_code"]))
        oom = cg is not None and cg.oom_kills() > oom0
        return make_result(raw, oom=oom)

    def _open(
        self, data: dict[str, bytes], cmd: list[str], timeout_s: float, lim: Limits
    ) -> Channel:
        self._lock.acquire()
        rundir = ""
        fds: tuple[int, ...] = ()
        try:
            rundir, wrapped, cg, oom0, fds = self._prepare(data, cmd, timeout_s, lim)
            proc = subprocess.Popen(
                wrapped,
                env={"PATH": "/usr/bin:/bin"},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=fds,
            )
        except BaseException:
            if rundir:
                shutil.rmtree(rundir, ignore_errors=True)
            self._lock.release()
            raise
        finally:
            for fd in fds:
                os.close(fd)

        def kill() -> None:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            if cg is not None:
                cg.kill_all()

        def finish(raw: dict[str, Any]) -> ExecResult:
            try:
                if cg is not None:
                    cg.kill_all()
                shutil.rmtree(rundir, ignore_errors=True)
                raw["exit_code"] = exit_code_from_wrapper(int(raw["exit_code"]))
                oom = cg is not None and cg.oom_kills() > oom0
                return make_result(raw, oom=oom)
            finally:
                self._lock.release()

        return PipeChannel(
            proc, timeout_s=timeout_s, output_bytes=lim.output_bytes, kill=kill, finish=finish
        )

    def _prepare(
        self, files: dict[str, bytes], cmd: list[str], timeout_s: float, lim: Limits
    ) -> tuple[str, list[str], Cgroup | None, int, tuple[int, ...]]:
        """Make the run's work dir and cgroup; return the wrapped bwrap command line."""
        rundir = os.path.join(self.root, f"r{next(self._runs)}")
        work, tmp = os.path.join(rundir, "work"), os.path.join(rundir, "tmp")
        os.makedirs(work)
        os.mkdir(tmp)
        write_files(work, files)
        env = sandbox_env("/tmp", self.tc.path)
        argv = [*self._base_args, "--bind", work, "/work", "--bind", tmp, "/tmp"]
        if self._shm_args:
            # POSIX shm and semaphores (multiprocessing) need a writable /dev/shm.
            argv += [*self._shm_args, "--size", str(lim.disk_mb << 20), "--tmpfs", "/dev/shm"]
        for k, v in env.items():
            argv += ["--setenv", k, v]
        # The root is bwrap's private tmpfs: make it read-only too, so only the work
        # dir and /tmp take writes.
        fds: tuple[int, ...] = ()
        if self.seccomp is not None:
            # bwrap reads the filter from a pipe (it fits the pipe buffer).
            r, w = os.pipe()
            os.write(w, self.seccomp)
            os.close(w)
            fds = (r,)
            argv += ["--seccomp", str(r)]
        argv += ["--remount-ro", "/", "--"]
        if self._inner_args:
            # The run's files are the command's to change (cli tasks edit fixtures).
            for top, dirs, names in os.walk(work):
                for name in (*dirs, *names):
                    os.lchown(os.path.join(top, name), NOBODY, NOBODY)
            os.chown(work, NOBODY, NOBODY)
            os.chown(tmp, NOBODY, NOBODY)
            argv += [*self._inner_args, "--"]
        argv += cmd
        cg = self.cgroup
        if cg is not None and not cg.kill_all():
            # Something of an earlier run will not die yet (a loaded machine, a task
            # in uninterruptible sleep): its cgroup may be full, so use a fresh one.
            fresh = Cgroup.create(f"bwrap-{self._tag}-x-{secrets.token_hex(4)}")
            if fresh is not None:
                self._stale_cgroups.append(cg)
                self.cgroup = cg = fresh
        if cg is not None:
            # bwrap's own two processes (outer + namespace init) count against pids.max,
            # and so do killed tasks of earlier runs until the kernel releases them
            # (seconds, on a busy machine): without that headroom the next run's first
            # fork fails with EAGAIN.
            stale = cg.pids_current()
            if stale:
                # Tasks of the last run not yet released: a fresh cgroup keeps the
                # limit exact (no headroom a fork bomb could use).
                fresh = Cgroup.create(f"bwrap-{self._tag}-x-{secrets.token_hex(4)}")
                if fresh is not None:
                    self._stale_cgroups.append(cg)
                    self.cgroup = cg = fresh
                    stale = 0
            self._stale_cgroups = [c for c in self._stale_cgroups if not c.try_remove()]
            own = 2  # bwrap and its namespace init
            cg.apply(lim.memory_mb, lim.pids + own + stale, lim.cpus)
        oom0 = cg.oom_kills() if cg is not None else 0
        cpu_s = int(timeout_s * max(lim.cpus, 1.0)) + 2
        # A shell joins the cgroups and sets rlimits, then execs bwrap: a Python
        # preexec_fn would force a full fork() of this process, ~5-10 ms per run.
        # ulimit -f counts 512-byte blocks in dash (1 KiB in bash: a looser cap there).
        steps = ["ulimit -c 0", f"ulimit -t {cpu_s}", f"ulimit -f {lim.disk_mb * 2048}"]
        if cg is None:
            n = lim.pids + 2
            steps += [f"ulimit -d {lim.memory_mb * 1024}", f"{{ ulimit -u {n} || ulimit -p {n}; }}"]
        steps.append("echo 1000 > /proc/self/oom_score_adj")
        fail = '{ echo "llmbench sandbox: setting limits failed" >&2; exit 125; }'
        script = (
            f'while [ "$1" != -- ]; do echo $$ > "$1" || {fail}; shift; done; shift\n'
            + " && ".join(steps)
            + f' || {fail}\nexec "$@"'
        )
        procs = cg.procs_files() if cg is not None else []
        wrapped = ["/bin/sh", "-c", script, "llmbench-sandbox", *procs, "--", *argv]
        return rundir, wrapped, cg, oom0, fds

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unsafe": False,
            "version": self.version,
            "uid": NOBODY,
            "host_uid": NOBODY if self.drop_uid else os.geteuid(),
            "network": "none (new net namespace)",
            "cgroup": f"v{self.cgroup.version}" if self.cgroup else None,
            "limits_via": "cgroup+rlimit" if self.cgroup else "rlimit",
            "seccomp": "ptrace, process_vm_*, kcmp, perf, bpf, userfaultfd, keys, io_uring denied"
            if self.seccomp
            else None,
            "toolchains": dict(self.tc.found),
        }

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for stale in self._stale_cgroups:
            stale.remove()
        if self.cgroup is not None:
            self.cgroup.remove()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root, ignore_errors=True)
