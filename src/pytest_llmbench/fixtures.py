"""Fixtures: ``llm_endpoint`` (override it in a conftest to bring your own), ``llm``,
``llm_sandbox``. Heavy modules are imported when a fixture is used, not before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .core.responders import Answerer
    from .session import LLM


@pytest.fixture(scope="session")
def llm_endpoint(pytestconfig: pytest.Config) -> Answerer:
    """The model endpoint of this run (skips when no ``--llm-endpoint`` is given)."""
    from .session import get_session

    return get_session(pytestconfig).endpoint()


@pytest.fixture
def llm(request: pytest.FixtureRequest, llm_endpoint: Answerer) -> LLM:
    """A chat helper: ``llm.ask("prompt") -> str``, ``llm.chat(messages, tools=...)``."""
    from .session import LLM, get_session

    session = get_session(request.config)
    # a dead server is the test's ERROR (at setup, one line), not its FAILED
    session.ensure_probed(llm_endpoint)
    return LLM(session, llm_endpoint, request.node)


@pytest.fixture(scope="session")
def llm_sandbox(pytestconfig: pytest.Config) -> Any:
    """The sandbox for model-written code (``--llm-sandbox``), opened on first use."""
    from .session import get_session

    return get_session(pytestconfig).sandbox()
