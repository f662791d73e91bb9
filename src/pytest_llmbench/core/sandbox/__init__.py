"""Sandboxes for model-written code.

``open_sandbox(name)`` returns a :class:`Sandbox`; the names (``auto``, ``docker``, ``bwrap``,
``unsafe-local`` and installed ones) are in core.registry.
"""

from __future__ import annotations

from .interface import (
    FAILURE_MODES,
    Channel,
    ChannelClosed,
    ChannelTimeout,
    ExecResult,
    Limits,
    Sandbox,
    SandboxUnavailable,
)

NO_SANDBOX = (
    "no sandbox: install bubblewrap (apt-get install bubblewrap) or Docker and run "
    "`llmbench sandbox build`"
)


def open_sandbox(kind: str = "auto", image: str | None = None) -> Sandbox:
    """Open a backend by name: a built-in or a ``pytest_llmbench.sandboxes`` entry point
    (see core.registry); ValueError for an unknown name."""
    from .. import registry

    try:
        factory = registry.load(registry.SANDBOXES, kind)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    except registry.ExtensionError as exc:
        raise SandboxUnavailable(str(exc)) from None
    box = factory(image)
    if not isinstance(box, Sandbox):
        raise TypeError(f"sandbox {kind!r} made {type(box).__name__}, not a Sandbox")
    return box


def open_docker(image: str | None) -> Sandbox:
    from .docker import DockerSandbox

    return DockerSandbox(image=image)


def open_bwrap(image: str | None) -> Sandbox:
    from .bwrap import BwrapSandbox

    return BwrapSandbox()


def open_local(image: str | None) -> Sandbox:
    from .local import LocalSandbox

    return LocalSandbox()


def open_auto(image: str | None) -> Sandbox:
    """docker when the daemon answers and the image exists, else bwrap when it works;
    never unsafe-local."""
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
