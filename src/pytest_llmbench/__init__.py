"""pytest-llmbench: LLM benchmarks as pytest test suites.

Importing this package has no side effects; the pytest plugin lives in
``pytest_llmbench.plugin`` and the pytest-free core in ``pytest_llmbench.core``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .core.endpoint import Endpoint, EndpointError, HTTPEndpoint
from .core.output import Output
from .core.schema import AssistantTurn, PackMeta, Scenario, ToolCall
from .core.verifiers.base import Check, Verdict, Verifier, register

__all__ = [
    "AssistantTurn",
    "Check",
    "Endpoint",
    "EndpointError",
    "HTTPEndpoint",
    "Output",
    "PackMeta",
    "Scenario",
    "ToolCall",
    "Verdict",
    "Verifier",
    "__version__",
    "register",
]
