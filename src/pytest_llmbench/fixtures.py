"""Fixtures: ``llm_endpoint`` (override it in a conftest to bring your own), ``llm``,
``llm_sandbox`` and ``llm_judge`` (pack items use these two only when their verifier
runs code or asks a judge; override them in a conftest the same way). Heavy modules
are imported when a fixture is used, not before."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .core.exchange import Exchange
    from .core.responders import Answerer
    from .core.sandbox import Sandbox
    from .core.verifiers.context import Judge
    from .session import LLMSession


@pytest.fixture(scope="session")
def llm_endpoint(pytestconfig: pytest.Config) -> Answerer:
    """The model endpoint of this run (skips when no ``--llm-endpoint`` is given)."""
    from .session import get_session

    return get_session(pytestconfig).endpoints.endpoint()


@pytest.fixture
def llm(request: pytest.FixtureRequest, llm_endpoint: Answerer) -> LLM:
    """A chat helper: ``llm.ask("prompt") -> str``, ``llm.chat(messages, tools=...)``."""
    from .session import get_session

    session = get_session(request.config)
    # a dead server is the test's ERROR (at setup, one line), not its FAILED
    session.endpoints.ensure_probed(llm_endpoint)
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


class LLM:
    """The ``llm`` fixture: a small chat helper over the session's endpoint."""

    def __init__(self, session: LLMSession, endpoint: Answerer, item: pytest.Item):
        from .core.responders import Responder

        self._session = session
        self._answerer = endpoint
        self._item = item
        if isinstance(endpoint, Responder):
            # reference/junk answer a test function from its mark
            mark = item.get_closest_marker("llmbench")
            ref = mark.kwargs.get("reference") if mark else None
            test_id = item.name.replace("[", "-").replace("]", "") or "test"
            self._endpoint = endpoint.for_marked(test_id, ref)
        else:
            self._endpoint = endpoint

    @property
    def endpoint(self) -> Answerer:
        return self._answerer

    def chat(
        self,
        messages: str | list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        **extra: Any,
    ) -> Exchange:
        """Send one request; returns the exchange (``.output().text`` is the answer)."""
        from .core.endpoint import EndpointError, request_params
        from .core.exchange import Exchange
        from .core.runner import ask
        from .core.schema import Generation
        from .recorder import CALLS_KEY

        self._session.endpoints.ensure_probed(self._answerer)
        msgs = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        run = self._session.endpoints.params()
        params = request_params(run, Generation(max_tokens=max_tokens), tools)
        if extra:
            params = replace(params, extra={**params.extra, **extra})
        calls = self._item.stash.setdefault(CALLS_KEY, [])
        try:
            result = ask(self._endpoint, list(msgs), params)
        except EndpointError as exc:
            calls.append(exc)
            raise
        calls.append(result)
        self._session.endpoints.note_speed([result], self._answerer)
        return Exchange(raw_turns=[result.turn], messages=list(msgs) + [result.turn.to_openai()])

    def ask(self, prompt: str, **kw: Any) -> str:
        """The answer text (thinking removed) to one user prompt."""
        return self.chat(prompt, **kw).output().text
