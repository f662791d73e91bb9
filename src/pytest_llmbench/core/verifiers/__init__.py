"""Verifiers: one module per family, found through the registry in ``base``."""

from .base import (
    Check,
    NoArgs,
    Verdict,
    Verifier,
    VerifierConfigError,
    build_verifier,
    get_verifier,
    register,
    registered,
)
from .context import NO_CONTEXT, Judge, VerifierContext

__all__ = [
    "NO_CONTEXT",
    "Check",
    "Judge",
    "NoArgs",
    "Verdict",
    "Verifier",
    "VerifierConfigError",
    "VerifierContext",
    "build_verifier",
    "get_verifier",
    "register",
    "registered",
]
