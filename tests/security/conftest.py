from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pytest_llmbench.core.sandbox import Sandbox, SandboxUnavailable, open_sandbox

_OPEN: dict[str, Sandbox] = {}


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("docker", marks=pytest.mark.docker),
        pytest.param("bwrap", marks=pytest.mark.bwrap),
    ],
)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """One warm sandbox per backend for the whole escape suite."""
    kind = str(request.param)
    try:
        sb = open_sandbox(kind)
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    yield sb
    sb.close()


@pytest.fixture
def host_procs() -> object:
    return _host_procs


def _host_procs(marker: str) -> list[str]:
    """Command lines of host processes whose argv contains ``marker`` (sandboxed
    processes, container ones included, are visible in the host's /proc)."""
    found = []
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append(f"{pid}: {cmd}")
    return found
