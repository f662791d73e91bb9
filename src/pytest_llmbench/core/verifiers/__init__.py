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

__all__ = [
    "Check",
    "NoArgs",
    "Verdict",
    "Verifier",
    "VerifierConfigError",
    "build_verifier",
    "get_verifier",
    "register",
    "registered",
]
