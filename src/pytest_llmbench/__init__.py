"""pytest-llmbench: LLM benchmarks as pytest test suites.

Importing this package has no side effects; the pytest plugin lives in
``pytest_llmbench.plugin`` and the pytest-free core in ``pytest_llmbench.core``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core.endpoint import ChatParams, Endpoint, EndpointError, Params, Reply, Usage
    from .core.http_endpoint import HTTPEndpoint
    from .core.output import Output
    from .core.responders import Responder
    from .core.runner import ChatResult
    from .core.schema import AssistantTurn, PackMeta, Scenario, ToolCall
    from .core.verifiers.base import Check, Verdict, Verifier, register

_EXPORTS = {
    "AssistantTurn": "core.schema",
    "ChatParams": "core.endpoint",
    "ChatResult": "core.runner",
    "Check": "core.verifiers.base",
    "Endpoint": "core.endpoint",
    "EndpointError": "core.endpoint",
    "HTTPEndpoint": "core.http_endpoint",
    "Output": "core.output",
    "PackMeta": "core.schema",
    "Params": "core.endpoint",
    "Reply": "core.endpoint",
    "Responder": "core.responders",
    "Usage": "core.endpoint",
    "Scenario": "core.schema",
    "ToolCall": "core.schema",
    "Verdict": "core.verifiers.base",
    "Verifier": "core.verifiers.base",
    "register": "core.verifiers.base",
}


def __getattr__(name: str) -> object:
    # Lazy, so that importing the plugin in an unrelated suite stays cheap.
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AssistantTurn",
    "ChatParams",
    "ChatResult",
    "Check",
    "Endpoint",
    "EndpointError",
    "HTTPEndpoint",
    "Output",
    "PackMeta",
    "Params",
    "Reply",
    "Responder",
    "Scenario",
    "ToolCall",
    "Verdict",
    "Usage",
    "Verifier",
    "__version__",
    "register",
]
