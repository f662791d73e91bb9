"""Fixtures: ``llm_endpoint`` (override it in a conftest to bring your own), ``llm``."""

from __future__ import annotations

from typing import Any

import pytest

from .core.endpoint import Endpoint
from .session import LLM, get_session


@pytest.fixture(scope="session")
def llm_endpoint(pytestconfig: pytest.Config) -> Endpoint:
    """The model endpoint of this run (skips when no ``--llm-endpoint`` is given)."""
    return get_session(pytestconfig).endpoint()


@pytest.fixture
def llm(request: pytest.FixtureRequest, llm_endpoint: Endpoint) -> LLM:
    """A chat helper: ``llm.ask("prompt") -> str``, ``llm.chat(messages, tools=...)``."""
    return LLM(get_session(request.config), llm_endpoint, request.node)


@pytest.fixture(scope="session")
def llm_sandbox(pytestconfig: pytest.Config) -> Any:
    """The sandbox for model-written code (``--llm-sandbox``), opened on first use."""
    return get_session(pytestconfig).sandbox()
