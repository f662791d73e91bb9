"""Fixtures: ``llm_endpoint`` (override it in a conftest to bring your own), ``llm``,
``llm_sandbox`` and ``llm_judge`` (pack items use these two only when their verifier
runs code or asks a judge; override them in a conftest the same way). Heavy modules
are imported when a fixture is used, not before."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .core.responders import Answerer
    from .core.sandbox import Sandbox
    from .core.verifiers.context import Judge
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
def llm_sandbox(pytestconfig: pytest.Config) -> Sandbox:
    """The sandbox for model-written code (``--llm-sandbox``), opened on first use; an
    unavailable one is an ERROR (``sandbox_unavailable``) of every test that needs it."""
    from .session import get_session

    return get_session(pytestconfig).verdicts.sandbox()


@pytest.fixture(scope="session")
def llm_judge(pytestconfig: pytest.Config) -> Judge | None:
    """The judge model of ``--llm-judge-url`` / ``--llm-judge-model``; None without one."""
    from .session import get_session

    return get_session(pytestconfig).verdicts.judge_model
