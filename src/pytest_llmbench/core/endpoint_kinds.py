"""``--llm-endpoint KIND[:ARG]``: the endpoint kinds of core.registry, made by name."""

from __future__ import annotations

from typing import Any

from . import registry
from .endpoint import Endpoint
from .responders import Answerer, Responder


def make_endpoint(spec: str, **http_options: Any) -> Answerer:
    """``KIND`` or ``KIND:ARG``: ``reference``, ``junk``, ``junk:<kind>`` (responders),
    an http(s) URL (options go to :class:`~.http_endpoint.HTTPEndpoint`) or a
    ``pytest_llmbench.endpoints`` entry point, called with ``ARG`` and the options."""
    kind, _, arg = spec.partition(":")
    if not registry.known(registry.ENDPOINTS, kind):
        raise ValueError(
            f"--llm-endpoint {spec!r}: expected an http(s) URL or one of "
            f"{', '.join(registry.names(registry.ENDPOINTS))}"
        )
    made = registry.load(registry.ENDPOINTS, kind)(arg, **http_options)
    if not isinstance(made, (Endpoint, Responder)):
        raise TypeError(
            f"endpoint kind {kind!r} made {type(made).__name__}, not an Endpoint or a Responder"
        )
    return made


def make_http_endpoint(spec: str, **http_options: Any) -> Endpoint:
    """An endpoint that answers any conversation (the judge's): no responder."""
    made = make_endpoint(spec, **http_options)
    if not isinstance(made, Endpoint):
        raise ValueError(f"{spec!r} answers pack scenarios only: give a server URL")
    return made
