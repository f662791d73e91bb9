"""Sandboxes for model-written code.

``open_sandbox("auto" | "docker" | "bwrap" | "unsafe-local")`` returns a :class:`Sandbox`.
"""

from __future__ import annotations

from .base import (
    FAILURE_MODES,
    Channel,
    ChannelClosed,
    ChannelTimeout,
    ExecResult,
    Limits,
    Sandbox,
    SandboxUnavailable,
)

BACKENDS = ("auto", "docker", "bwrap", "unsafe-local")
NO_SANDBOX = (
    "no sandbox: install bubblewrap (apt-get install bubblewrap) or Docker and run "
    "`llmbench sandbox build`"
)


def open_sandbox(kind: str = "auto", image: str | None = None) -> Sandbox:
    """Open a backend by name. ``auto`` is docker when the daemon answers and the image
    exists, else bwrap when it works; it never falls back to unsafe-local."""
    if kind == "docker":
        from .docker import DockerSandbox

        return DockerSandbox(image=image)
    if kind == "bwrap":
        from .bwrap import BwrapSandbox

        return BwrapSandbox()
    if kind == "unsafe-local":
        from .local import LocalSandbox

        return LocalSandbox()
    if kind != "auto":
        raise ValueError(f"unknown sandbox {kind!r}; choose one of {', '.join(BACKENDS)}")
    from .docker import DockerSandbox, docker_ready

    if docker_ready(image):
        try:
            return DockerSandbox(image=image)
        except SandboxUnavailable:
            pass
    from .bwrap import BwrapSandbox

    try:
        return BwrapSandbox()
    except SandboxUnavailable:
        pass
    raise SandboxUnavailable(NO_SANDBOX)


__all__ = [
    "BACKENDS",
    "FAILURE_MODES",
    "Channel",
    "ChannelClosed",
    "ChannelTimeout",
    "ExecResult",
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "open_sandbox",
]
