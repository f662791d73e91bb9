"""The Docker backend's daemon side: the client, the image name, readiness, the container
settings shared by every run, the programs sent into the container, stale-container
reaping."""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import os
import socket
from pathlib import Path
from typing import Any

from . import _supervise
from .interface import (
    SandboxUnavailable,
)

DEFAULT_IMAGE = "llmbench-sandbox:latest"
LABEL = "org.llmbench.sandbox"
HOW_TO = "install Docker, start the daemon and run `llmbench sandbox build`"
_BACKSTOP_S = 15.0  # extra time the runner gets beyond the run's own timeout
_SLACK_MB = 48  # the runner and init live in the same memory cgroup
_SLACK_PIDS = 3  # the reaper (PID 1), the warm runner, a channel's runner

# PID 1 and the runner are root in the container (no user namespace; a few
# capabilities only); model code runs as 65534 with no capabilities, an empty bounding
# set and a stacked seccomp filter, so it can neither ptrace, signal nor read them.
NOBODY = 65534
CAPS = ["SETUID", "SETGID", "SETPCAP", "KILL"]
SCRATCH = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")


def _program(name: str) -> str:
    return (Path(__file__).parent / name).read_text(encoding="utf-8")


def _script_part(text: str) -> str:
    """A module's source without its ``__future__`` line and package imports, to follow
    another module's source in one script."""
    drop: set[int] = set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom) and (node.level or node.module == "__future__"):
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return "".join(ln for i, ln in enumerate(text.splitlines(keepends=True), 1) if i not in drop)


@functools.lru_cache(maxsize=1)
def _runner_source() -> str:
    """_supervise.py, _seccomp.py and _docker_runner.py as one script (the supervisor's
    source comes first and keeps the one ``__future__`` line)."""
    parts = [_program("_seccomp.py"), _program("_docker_runner.py")]
    return inspect.getsource(_supervise) + "".join("\n" + _script_part(p) for p in parts)


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
