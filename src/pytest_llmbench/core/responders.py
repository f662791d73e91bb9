"""Answers made from what a scenario holds: its reference (every scenario must pass)
and junk (every scenario must fail). These check packs, not models.

A :class:`Responder` is not an endpoint: it sees the scenario (or the test function)
and hands the runner an :class:`~.endpoint.Endpoint` for it, so the endpoint
protocol never carries a scenario.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from pydantic import TypeAdapter, ValidationError

from .endpoint import Endpoint, EndpointError, Params, Reply, Usage
from .junk import JUNK_KINDS, junk_answer, kind_for
from .schema import AnswerSpec, AssistantTurn, Scenario, answer_turns


class Responder:
    """Base class: ``for_scenario`` gives the endpoint that answers one scenario,
    ``for_function`` the one that answers a test function using the ``llm`` fixture
    (``reference`` is its ``@pytest.mark.llmbench(reference=...)``, if any)."""

    name: str = "responder"
    in_process = True  # no network: run one request at a time, never probed or cached

    def for_scenario(self, scenario: Scenario) -> Endpoint:
        raise NotImplementedError

    def for_function(self, test_id: str, reference: AnswerSpec | None) -> Endpoint:
        raise NotImplementedError

    def for_marked(self, test_id: str, reference: Any) -> Endpoint:
        """``for_function`` with a mark's raw ``reference=`` (checked here)."""
        if reference is None:
            return self.for_function(test_id, None)
        try:
            answer = _ANSWER.validate_python(reference)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise ValueError(
                f"{test_id}: llmbench(reference=...) is not an answer: {msg}"
            ) from None
        return self.for_function(test_id, answer)

    def probe(self) -> str | None:
        return None

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": type(self).__name__}


_ANSWER: TypeAdapter[AnswerSpec] = TypeAdapter(AnswerSpec)

# What the plugin runs against: a real endpoint or a responder.
Answerer: TypeAlias = Endpoint | Responder


def endpoint_for(answerer: Endpoint | Responder, scenario: Scenario) -> Endpoint:
    return answerer.for_scenario(scenario) if isinstance(answerer, Responder) else answerer


def _reply(turn: AssistantTurn) -> Reply:
    turn = turn.model_copy(update={"finish_reason": turn.finish_reason or "stop"})
    words = len((turn.content or "").split()) + sum(
        len(c.raw_arguments()) // 4 for c in turn.tool_calls
    )
    # instant by construction: a fixed latency keeps self-check run logs reproducible
    return Reply(turn, Usage(prompt_tokens=0, completion_tokens=words), latency_s=0.0)


class ReferenceEndpoint(Endpoint):
    """Answers turn after turn from a fixed answer (the last turn once past its end).
    ``skip`` messages at the head of the conversation are the scenario's own."""

    in_process = True

    def __init__(self, turns: list[AssistantTurn], skip: int = 0, name: str = "reference"):
        self.turns = turns
        self.skip = skip
        self.name = name

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        done = sum(1 for m in messages[self.skip :] if m.get("role") == "assistant")
        return _reply(self.turns[min(done, len(self.turns) - 1)])


class _NoReference(Endpoint):
    in_process = True
    name = "reference"

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        raise EndpointError(
            "http_error",
            "the reference endpoint only answers pack scenarios and test functions "
            "marked @pytest.mark.llmbench(reference=...)",
        )


class ReferenceResponder(Responder):
    """Answers each scenario with its own reference: every scenario must pass."""

    name = "reference"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "reference"}

    def for_scenario(self, scenario: Scenario) -> Endpoint:
        turns = answer_turns(scenario.reference)
        return ReferenceEndpoint(turns, len(scenario.initial_messages()))

    def for_function(self, test_id: str, reference: AnswerSpec | None) -> Endpoint:
        if reference is None:
            return _NoReference()
        return ReferenceEndpoint(answer_turns(reference))


class JunkEndpoint(Endpoint):
    """Answers every request with one junk answer of ``kind``, seeded by ``seed_id``;
    ``echo`` repeats ``user_text`` (the request's user messages when None)."""

    in_process = True

    def __init__(self, kind: str, seed_id: str, user_text: str | None = None, name: str = "junk"):
        self.kind = kind
        self.seed_id = seed_id
        self.user_text = user_text
        self.name = name

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        text = self.user_text
        if text is None:
            text = "\n".join(
                str(m["content"])
                for m in messages
                if m.get("role") == "user" and isinstance(m.get("content"), str) and m["content"]
            )
        return _reply(junk_answer(self.kind, self.seed_id, text, params.tools))


class JunkResponder(Responder):
    """Answers with junk (empty, ".", echo, refusal, random JSON, random tool call):
    every scenario must fail. ``kind`` None picks one per scenario, stably."""

    def __init__(self, kind: str | None = None):
        if kind is not None and kind not in JUNK_KINDS:
            raise ValueError(f"unknown junk kind {kind!r} (known: {', '.join(JUNK_KINDS)})")
        self.kind = kind
        self.name = f"junk:{kind}" if kind else "junk"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "junk", "junk_kind": self.kind}

    def for_scenario(self, scenario: Scenario) -> Endpoint:
        kind = self.kind or kind_for(scenario.id)
        return JunkEndpoint(kind, scenario.id, scenario.user_text(), self.name)

    def for_function(self, test_id: str, reference: AnswerSpec | None) -> Endpoint:
        # an unmarked function gets an empty answer (nothing to tell junk from)
        kind = self.kind or (kind_for(test_id) if reference is not None else "empty")
        return JunkEndpoint(kind, test_id, None, self.name)


def make_reference(arg: str, **http_options: Any) -> Responder:
    if arg:
        raise ValueError(f"--llm-endpoint reference:{arg}: 'reference' takes no argument")
    return ReferenceResponder()


def make_junk(arg: str, **http_options: Any) -> Responder:
    return JunkResponder(arg or None)
