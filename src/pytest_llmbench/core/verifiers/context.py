"""What a verifier may use besides the answer: :class:`VerifierContext`.

The caller (the plugin, the self-check, rescoring) builds one per verification and
passes it to ``Verifier.check(output, ctx)``; no verifier reaches a process global or
gets an attribute set from outside. A verifier that executes code declares
``needs_sandbox`` and finds the sandbox in ``ctx.sandbox`` (``None``: say
``sandbox_unavailable``); the ``judge`` verifier finds its model in ``ctx.judge``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..endpoint import Endpoint
    from ..sandbox.interface import Sandbox


@dataclass(frozen=True)
class Judge:
    """The judge model: an endpoint and the model id to ask for (``None``: the
    server's default)."""

    endpoint: Endpoint
    model: str | None = None


@dataclass(frozen=True)
class VerifierContext:
    """The collaborators of one verification; each is ``None`` when not available."""

    sandbox: Sandbox | None = None
    judge: Judge | None = None


NO_CONTEXT = VerifierContext()

__all__ = ["NO_CONTEXT", "Judge", "VerifierContext"]
