from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import Iterator

import pytest

from pytest_llmbench.core import sandbox as sbmod
from pytest_llmbench.core.sandbox import (
    ExecResult,
    Limits,
    Sandbox,
    SandboxUnavailable,
    _supervise,
    open_sandbox,
)
from pytest_llmbench.core.sandbox.interface import check_files, make_result

# -- pure helpers --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "", "."])
def test_check_files_rejects_paths_leaving_the_work_dir(name: str) -> None:
    with pytest.raises(ValueError, match="relative"):
        check_files({name: "x"})


def test_check_files_encodes_and_normalises() -> None:
    assert check_files({"./a/b.py": "é", "c": b"\x00"}) == {"a/b.py": "é".encode(), "c": b"\0"}


def _raw(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "exit_code": 0,
        "stdout": b"",
        "stderr": b"",
        "stdout_truncated": False,
        "stderr_truncated": False,
        "duration_s": 0.1,
        "timed_out": False,
        "output_limit": False,
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("raw", "oom", "mode", "killed"),
    [
        (_raw(), False, None, False),
        (_raw(exit_code=1), False, None, False),
        (_raw(exit_code=-11), False, None, False),  # a crash is the program's failure
        (_raw(exit_code=-9, timed_out=True), True, "exec_timeout", True),
        (_raw(exit_code=-9), True, "oom", True),
        (_raw(exit_code=-9, output_limit=True, stdout_truncated=True), False, "output_limit", True),
        (_raw(exit_code=-9), False, "killed", True),
    ],
)
def test_failure_mode(raw: dict[str, object], oom: bool, mode: str | None, killed: bool) -> None:
    res = make_result(raw, oom=oom)
    assert res.failure_mode == mode
    assert res.killed is killed
    assert res.failure_mode is None or res.failure_mode in sbmod.FAILURE_MODES


def test_output_is_decoded_with_replacement() -> None:
    res = make_result(_raw(stdout=b"ok \xff"), oom=False)
    assert res.stdout == "ok \ufffd" and res.ok


def test_supervise_caps_output_and_kills() -> None:
    raw = _supervise.supervise(
        ["yes"], cwd=None, env=None, stdin=None, timeout_s=10, output_bytes=1000
    )
    assert raw["output_limit"] and raw["stdout_truncated"] and len(raw["stdout"]) == 1000
    assert raw["exit_code"] == -9


def test_supervise_timeout_and_stdin() -> None:
    raw = _supervise.supervise(
        ["sleep", "5"], cwd=None, env=None, stdin=None, timeout_s=0.2, output_bytes=100
    )
    assert raw["timed_out"] and raw["duration_s"] < 2
    raw = _supervise.supervise(
        ["cat"], cwd=None, env=None, stdin=b"z" * 300_000, timeout_s=5, output_bytes=10**6
    )
    assert raw["exit_code"] == 0 and raw["stdout"] == b"z" * 300_000


def test_supervise_missing_program() -> None:
    raw = _supervise.supervise(
        ["/nonexistent/prog"], cwd=None, env=None, stdin=None, timeout_s=1, output_bytes=100
    )
    assert raw["exit_code"] == 127 and b"cannot start" in raw["stderr"]


def test_docker_runner_source_compiles() -> None:
    """The runner is _supervise.py + _docker_runner.py as one script: no package import
    and one ``__future__`` line (at the top) survive the joining."""
    import ast

    from pytest_llmbench.core.sandbox._docker_client import _program, _runner_source

    src = _runner_source()
    tree = ast.parse(src)
    compile(tree, "<runner>", "exec")
    froms = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in froms if n.level], "a relative import reached the container"
    assert [n.lineno for n in froms if n.module == "__future__"] == [tree.body[1].lineno]
    assert "def _serve(" in src and "def supervise(" in src and "def seccomp_program(" in src
    # the container's PID 1 is a program of its own; as a module it does nothing
    init = _program("_docker_init.py")
    compile(init, "<init>", "exec")
    assert 'if __name__ == "__main__":' in init


def test_docker_frame_demux() -> None:
    from pytest_llmbench.core.sandbox._docker_channel import _read_frames

    a, b = socket.socketpair()
    payload = b""
    for stream, data in ((1, b"out1"), (2, b"err"), (1, b"out2")):
        payload += bytes([stream, 0, 0, 0]) + struct.pack(">I", len(data)) + data
    a.sendall(payload)
    a.close()
    out, err = bytearray(), bytearray()
    _read_frames(b, out, err)
    b.close()
    assert (bytes(out), bytes(err)) == (b"out1out2", b"err")


def test_apt_mirror_override(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_llmbench.core.sandbox.build import apt_mirror, dockerfile_digest

    monkeypatch.setenv("LLMBENCH_DEBIAN_MIRROR", "http://mirror.example/debian")
    assert apt_mirror() == "http://mirror.example/debian"
    monkeypatch.delenv("LLMBENCH_DEBIAN_MIRROR")
    assert apt_mirror().startswith("http")
    assert dockerfile_digest() == dockerfile_digest()


# -- choosing a backend --------------------------------------------------------------


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="unknown sandbox"):
        open_sandbox("chroot")


def test_auto_never_falls_back_to_unsafe_local(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_llmbench.core.sandbox import bwrap, docker

    def no_bwrap(*a: object, **k: object) -> None:
        raise SandboxUnavailable("bwrap sandbox: nope")

    monkeypatch.setattr(docker, "docker_ready", lambda image=None: False)
    monkeypatch.setattr(bwrap.BwrapSandbox, "__init__", no_bwrap)
    with pytest.raises(SandboxUnavailable) as exc:
        open_sandbox("auto")
    msg = str(exc.value)
    assert "apt-get install bubblewrap" in msg and "llmbench sandbox build" in msg


def test_unsafe_local_says_so() -> None:
    with open_sandbox("unsafe-local") as sb:
        assert sb.name == "unsafe-local"
        info = sb.describe()
        assert info["unsafe"] is True and "no file, network" in info["warning"]
        res = sb.run(files={"m.py": "print(input()[::-1])"}, cmd=["python3", "m.py"], stdin="abc")
        assert res.stdout == "cba\n" and res.ok


# -- the real backends (docker / bwrap) ----------------------------------------------


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("bwrap", marks=pytest.mark.bwrap),
    ],
)
def real(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    try:
        sb = open_sandbox(str(request.param))
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    yield sb
    sb.close()


def test_fresh_work_dir_with_files(real: Sandbox) -> None:
    res = real.run(
        files={
            "main.py": "import os\nprint(sorted(os.listdir('.')), open('d/x.txt').read())\n"
            "open('left.txt', 'w').write('1')",
            "d/x.txt": "data",
        },
        cmd=["python3", "main.py"],
    )
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "['d', 'main.py'] data\n"
    again = real.run(files={}, cmd=["ls", "-A"])
    assert again.stdout == "" and again.ok


def test_the_run_may_change_its_own_files(real: Sandbox) -> None:
    # Model code runs as an unprivileged uid: the files it was given are still its own.
    res = real.run(
        {"a/b.txt": "x", "c.txt": "y"},
        ["sh", "-c", "echo z >> a/b.txt && touch a/new && rm c.txt && mkdir a/d && cat a/b.txt"],
    )
    assert res.ok, res.stderr
    assert res.stdout == "xz\n"


def test_stdin_exit_code_and_stderr(real: Sandbox) -> None:
    res = real.run(
        files={
            "m.py": "import sys\nd = sys.stdin.read()\nprint(len(d))\n"
            "print('bad', file=sys.stderr)\nsys.exit(3)"
        },
        cmd=["python3", "m.py"],
        stdin="x" * 200_000,
    )
    assert (res.exit_code, res.stdout, res.stderr) == (3, "200000\n", "bad\n")
    assert res.failure_mode is None and not res.killed


def test_stderr_cap(real: Sandbox) -> None:
    res = real.run(
        files={"m.py": "import sys\nsys.stderr.write('e' * 5000)"},
        cmd=["python3", "m.py"],
        limits=Limits(output_bytes=100),
    )
    assert res.stderr_truncated and len(res.stderr) == 100
    assert res.failure_mode == "output_limit"


def test_missing_program_is_an_error_not_a_crash(real: Sandbox) -> None:
    res = real.run(files={}, cmd=["no-such-program-xyz"])
    assert res.exit_code != 0 and res.failure_mode is None


TOOLCHAINS = {
    "c": ({"a.c": '#include <stdio.h>\nint main(){puts("c ok");return 0;}\n'},
          ["sh", "-c", "gcc -o a a.c && ./a"], "c ok"),
    "rust": ({"m.rs": 'fn main(){println!("rust ok");}\n'},
             ["sh", "-c", "rustc -o m m.rs && ./m"], "rust ok"),
    "node": ({"a.js": "console.log('node ok')"}, ["node", "a.js"], "node ok"),
    "go": ({"main.go": 'package main\nimport "fmt"\nfunc main(){fmt.Println("go ok")}\n'},
           ["go", "run", "main.go"], "go ok"),
}  # fmt: skip


@pytest.mark.parametrize("lang", sorted(TOOLCHAINS))
def test_toolchains(real: Sandbox, lang: str) -> None:
    if lang == "go" and real.name == "bwrap" and "go" not in real.describe()["toolchains"]:
        return  # bwrap offers the host's toolchains; this host has no Go
    files, cmd, want = TOOLCHAINS[lang]
    res = real.run(files=files, cmd=cmd, timeout_s=60, limits=Limits(memory_mb=1024, pids=128))
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == want


def test_describe_and_name(real: Sandbox) -> None:
    info = real.describe()
    assert info["name"] == real.name and info["unsafe"] is False


def test_result_type(real: Sandbox) -> None:
    res = real.run(files={}, cmd=["true"], timeout_s=5)
    assert isinstance(res, ExecResult) and res.ok and res.duration_s < 5


def test_bad_file_name_rejected_before_running(real: Sandbox) -> None:
    with pytest.raises(ValueError):
        real.run(files={"../x": "1"}, cmd=["true"])


@pytest.mark.docker
def test_docker_backstop_kills_the_container(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the in-container runner never answers, the host kills and replaces the
    container (killing a client never stops a container by itself)."""
    from pytest_llmbench.core.sandbox import docker

    try:
        sb = open_sandbox("docker")
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    with sb:
        assert isinstance(sb, docker.DockerSandbox)
        sb.run(files={}, cmd=["true"])
        first = sb._container.id
        monkeypatch.setattr(docker, "_BACKSTOP_S", -1.5)  # host gives up before the runner
        res = sb.run(files={}, cmd=["sleep", "5"], timeout_s=2.0)
        assert res.failure_mode == "exec_timeout" and res.killed
        monkeypatch.setattr(docker, "_BACKSTOP_S", 15.0)
        nxt = sb.run(files={}, cmd=["echo", "ok"])
        assert nxt.stdout == "ok\n" and sb._container.id != first
        with pytest.raises(Exception):  # noqa: B017 - the old container is gone
            sb.client.containers.get(first)


def test_left_by_dead_process_reads_host_and_pid() -> None:
    from pytest_llmbench.core.sandbox._host import left_by_dead_process, owner_tag

    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    assert owner_tag() == f"{host}-{os.getpid()}"
    assert left_by_dead_process(f"p-{host}-{gone.pid}-0-ab", "p-")
    assert not left_by_dead_process(f"p-{host}-1-0-ab", "p-")  # pid 1 runs
    assert not left_by_dead_process(f"p-{host}-{os.getpid()}-0-ab", "p-")  # this process
    assert not left_by_dead_process(f"p-other-host-{gone.pid}-0-ab", "p-")
    assert not left_by_dead_process(f"p-{host}-x-0-ab", "p-")
    assert not left_by_dead_process(f"q-{host}-{gone.pid}-0-ab", "p-")


@pytest.mark.bwrap
def test_bwrap_reaps_what_killed_processes_left() -> None:
    """A killed worker never reaches close(): the next bwrap sandbox on this host
    removes its scratch dir and cgroup, and nothing of a live or foreign process."""
    from pytest_llmbench.core.sandbox import bwrap as bw
    from pytest_llmbench.core.sandbox._host import Cgroup

    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    scratch = bw._scratch_root()
    dead = os.path.join(scratch, f"llmbench-bwrap-{host}-{gone.pid}-0-abcdef-zz")
    live = os.path.join(scratch, f"llmbench-bwrap-{host}-1-0-abcdef-zz")
    foreign = os.path.join(scratch, f"llmbench-bwrap-elsewhere-{gone.pid}-0-abcdef-zz")
    for d in (dead, live, foreign):
        os.makedirs(os.path.join(d, "etc"))
    root = os.geteuid() == 0
    cg_dead = Cgroup.create(f"bwrap-{host}-{gone.pid}-0-abcdef") if root else None
    cg_live = Cgroup.create(f"bwrap-{host}-1-0-abcdef") if root else None
    try:
        try:
            sb = open_sandbox("bwrap")
        except SandboxUnavailable as exc:
            pytest.skip(str(exc))
        sb.close()
        assert not os.path.exists(dead)
        assert os.path.isdir(live) and os.path.isdir(foreign)
        if cg_dead is not None and cg_live is not None:
            assert not any(os.path.exists(d) for d in cg_dead.dirs.values())
            assert all(os.path.isdir(d) for d in cg_live.dirs.values())
    finally:
        for d in (dead, live, foreign):
            shutil.rmtree(d, ignore_errors=True)
        for cg in (cg_dead, cg_live):
            if cg is not None:
                cg.remove()


@pytest.mark.docker
def test_docker_runs_reuse_one_warm_runner() -> None:
    """Back-to-back runs go to the same runner process (no exec + Python start-up per
    run); it is root, model code is not, so it cannot be reached from a run."""
    try:
        sb = open_sandbox("docker")
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    code = "import os\nst = open(f'/proc/{os.getppid()}/status').read()\n"
    code += "print(os.getppid(), [l.split()[1] for l in st.splitlines() if l[:4] == 'Uid:'])"
    with sb:
        first = sb.run({"m.py": code}, ["python3", "m.py"])
        second = sb.run({"m.py": code}, ["python3", "m.py"])
    assert first.ok and first.stdout == second.stdout, (first, second)
    assert first.stdout.split(" ", 1)[1].strip() == "['0']", first.stdout


def test_docker_reply_reader_stops_at_a_whole_reply() -> None:
    from pytest_llmbench.core.sandbox._docker_channel import _read_reply

    meta = b'{"stdout_len": 3, "stderr_len": 2}'
    reply = b"LLMBENCH" + struct.pack(">I", len(meta)) + meta + b"out" + b"er"
    a, b = socket.socketpair()
    # Split across frames, with a stderr frame in between; no EOF after it.
    for stream, data in ((1, reply[:10]), (2, b"noise"), (1, reply[10:])):
        a.sendall(bytes([stream, 0, 0, 0]) + struct.pack(">I", len(data)) + data)
    out, err = bytearray(), bytearray()
    b.settimeout(5)
    assert _read_reply(b, out, err) is True
    assert bytes(out) == reply and bytes(err) == b"noise"
    a.close()
    out2, err2 = bytearray(), bytearray()
    assert _read_reply(b, out2, err2) is False  # EOF before any reply
    b.close()


@pytest.mark.bwrap
def test_bwrap_binds_a_toolchain_under_usr_local_alone(tmp_path: object) -> None:
    """/usr/local is an empty read-only dir in the sandbox; a toolchain found there is
    bound by itself (the order matters: the binds go in before it turns read-only)."""
    from pytest_llmbench.core.sandbox import bwrap as bw
    from pytest_llmbench.core.sandbox._host import toolchains

    if os.geteuid() != 0:
        pytest.skip("needs root to place a fake toolchain under /usr/local")
    fake = f"/usr/local/lib/llmbench-fake-tc-{os.getpid()}"
    os.makedirs(fake)
    with open(os.path.join(fake, "f"), "w") as fh:
        fh.write("tool")
    tc = toolchains()
    tc.binds.append(fake)
    try:
        try:
            sb = bw.BwrapSandbox()
        except SandboxUnavailable as exc:
            pytest.skip(str(exc))
        with sb:
            res = sb.run({}, ["sh", "-c", f"ls /usr/local/lib; cat {fake}/f; touch /usr/local/x"])
    finally:
        tc.binds.remove(fake)
        shutil.rmtree(fake)
    assert res.stdout == f"{os.path.basename(fake)}\ntool", res
    assert "Read-only file system" in res.stderr, res.stderr


def test_docker_reap_stale_survives_a_container_removed_meanwhile() -> None:
    """Another process (an xdist worker closing its sandbox) may remove a listed
    container before it is looked at: reaping must not fail on that (it did, with a
    404 from the per-container inspect of containers.list())."""
    from pytest_llmbench.core.sandbox.docker import LABEL, reap_stale

    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    removed: list[str] = []

    class Api:
        def containers(self, all: bool, filters: dict[str, str]) -> list[dict[str, object]]:
            assert all and filters == {"label": f"{LABEL}.host={host}"}
            return [
                {"Id": "gone", "Labels": {f"{LABEL}.pid": str(dead.pid)}},
                {"Id": "left", "Labels": {f"{LABEL}.pid": str(dead.pid)}},
                {"Id": "alive", "Labels": {f"{LABEL}.pid": str(os.getpid())}},
                {"Id": "nolabel", "Labels": None},
            ]

        def remove_container(self, cid: str, force: bool) -> None:
            if cid == "gone":
                raise RuntimeError("404 Client Error: Not Found")
            removed.append(cid)

    class Client:
        api = Api()

    assert reap_stale(Client()) == 1
    assert removed == ["left"]


@pytest.mark.docker
def test_docker_reap_stale_removes_a_dead_process_container() -> None:
    from pytest_llmbench.core.sandbox._docker_client import (
        LABEL,
        _client,
        default_image,
        reap_stale,
    )

    try:
        client = _client()
        client.images.get(default_image())
    except Exception as exc:  # noqa: BLE001 - any daemon/image problem means no docker
        pytest.skip(f"docker unavailable: {exc}")
    dead = subprocess.Popen(["true"])
    dead.wait()
    labels = {f"{LABEL}.host": socket.gethostname(), f"{LABEL}.pid": str(dead.pid)}
    c = client.containers.create(default_image(), ["true"], labels=labels, network_disabled=True)
    try:
        assert reap_stale(client) >= 1
        assert not client.api.containers(all=True, filters={"id": c.id})
    finally:
        with contextlib.suppress(Exception):
            c.remove(force=True)
        client.close()
