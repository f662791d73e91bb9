"""The endpoint protocol: whatever answers one chat request.

An :class:`Endpoint` gets the conversation and the request's :class:`Params` and
returns a :class:`Reply` (the assistant turn and token usage)::

    class Mine(Endpoint):
        def chat(self, messages, params, *, timeout_s=None):
            return Reply(AssistantTurn(content="..."), Usage(completion_tokens=1))

Infrastructure trouble raises :class:`EndpointError` with a failure mode, never a
model verdict. The OpenAI wire format lives in core.wire, the HTTP client in
core.http_endpoint, the answers made from a scenario (reference, junk) in
core.responders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .redact import redact
from .schema import AssistantTurn, Generation

INFRA_MODES = (
    "endpoint_unreachable",
    "connection_error",
    "timeout",
    "http_error",
    "server_error",
    "rate_limited",
    "malformed_response",
    "context_exceeded",
    "replay_missing",
)
# Failures that mean the endpoint is dead or unusable (they stop a run early).
DEAD_MODES = (
    "endpoint_unreachable",
    "connection_error",
    "timeout",
    "http_error",
    "server_error",
    "rate_limited",
)


class EndpointError(Exception):
    """The endpoint failed, not the model. ``failure_mode`` is one of INFRA_MODES."""

    def __init__(self, failure_mode: str, message: str, status: int | None = None):
        super().__init__(redact(message))  # a server may echo the key in its error body
        self.failure_mode = failure_mode
        self.status = status
        self.retry_after: float | None = None
        self.retries: list[dict[str, Any]] = []

    def __str__(self) -> str:
        return f"{self.failure_mode}: {self.args[0]}"


SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed")


@dataclass
class ChatParams:
    """Run-wide request settings (the CLI's), merged with pack/scenario generation by
    :func:`request_params`.

    ``sampling_mode``: ``canonical`` (temperature 0 unless the pack says otherwise),
    ``custom`` (explicit ``sampling`` overrides everything) or ``server`` (no sampling
    field is sent at all)."""

    model: str | None = None
    thinking: bool | None = None
    temperature: float | None = 0.0
    sampling: dict[str, Any] = field(default_factory=dict)
    sampling_mode: str = "canonical"
    max_tokens_cap: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Params:
    """One request's settings, resolved: None means "not sent, the server decides".
    ``extra`` holds fields sent as they are (last, so they win)."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    response_format: dict[str, Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    thinking: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def request_params(
    run: ChatParams,
    gen: Generation | None = None,
    tools: list[dict[str, Any]] | None = None,
) -> Params:
    """The run's settings merged with a pack's/scenario's generation and tools."""
    gen = gen or Generation()
    sampling: dict[str, Any] = {}
    if run.sampling_mode != "server":
        temperature = gen.temperature if gen.temperature is not None else run.temperature
        sampling = {"temperature": temperature, "top_p": gen.top_p, "seed": gen.seed}
        sampling.update({k: v for k, v in run.sampling.items() if v is not None})
    unknown = {k: v for k, v in sampling.items() if k not in SAMPLING_FIELDS}
    max_tokens = gen.max_tokens
    if run.max_tokens_cap is not None:
        cap = run.max_tokens_cap
        max_tokens = cap if max_tokens is None else min(max_tokens, cap)
    return Params(
        model=run.model or None,
        temperature=sampling.get("temperature"),
        top_p=sampling.get("top_p"),
        top_k=sampling.get("top_k"),
        min_p=sampling.get("min_p"),
        repeat_penalty=sampling.get("repeat_penalty"),
        seed=sampling.get("seed"),
        max_tokens=max_tokens,
        stop=gen.stop,
        response_format=gen.response_format,
        tool_choice=gen.tool_choice,
        tools=tools or None,
        thinking=run.thinking if run.thinking is not None else gen.thinking,
        extra={**unknown, **run.extra},
    )


@dataclass
class Usage:
    """Token counts of one reply. ``raw`` is the server's own usage object, kept as
    it came for the run log."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_openai(cls, data: Any) -> Usage:
        if not isinstance(data, dict):
            return cls()

        def count(key: str) -> int | None:
            v = data.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        return cls(count("prompt_tokens"), count("completion_tokens"), data)

    def to_record(self) -> dict[str, Any] | None:
        if self.raw is not None:
            return self.raw
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        out: dict[str, Any] = {}
        if self.completion_tokens is not None:
            out["completion_tokens"] = self.completion_tokens
        if self.prompt_tokens is not None:
            out["prompt_tokens"] = self.prompt_tokens
        return out


@dataclass
class Reply:
    """What an endpoint answers: the assistant turn and usage. The rest is optional,
    for endpoints that know it (the HTTP one fills it): the exact request and response
    (the run log otherwise stores an OpenAI-shaped record of the turn), the server's
    timings, the latency (otherwise measured by the caller), retries and stream facts."""

    turn: AssistantTurn
    usage: Usage = field(default_factory=Usage)
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    latency_s: float | None = None
    retries: list[dict[str, Any]] = field(default_factory=list)
    stream: dict[str, Any] | None = None
    cached: bool = False
    replica: int | None = None


class Endpoint:
    """Base class. ``name`` is what the report and run log show; ``in_process``
    endpoints are run one request at a time, never probed for speed or cached."""

    name: str = "endpoint"
    in_process: bool = False

    def probe(self) -> str | None:
        """Check reachability once; return the default model id if the server says."""
        return None

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": type(self).__name__}
