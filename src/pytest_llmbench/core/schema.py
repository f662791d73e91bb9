"""Pydantic models of packs, scenarios and answers. No pytest here."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")  # \Z: "$" allows a trailing newline


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCall(_Strict):
    """One tool call. ``arguments`` may be a mapping or the raw string the model sent
    (kept verbatim, even when it is not valid JSON)."""

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None

    def raw_arguments(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)

    def to_openai(self, index: int = 0) -> dict[str, Any]:
        return {
            "id": self.id or f"call_{index}",
            "type": "function",
            "function": {"name": self.name, "arguments": self.raw_arguments()},
        }


class AssistantTurn(_Strict):
    """One assistant message: text, optional reasoning, optional tool calls."""

    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    # Completion tokens the server reported for this turn (not part of the wire message).
    usage_tokens: int | None = Field(default=None, exclude=True)

    def to_openai(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning:
            msg["reasoning_content"] = self.reasoning
        if self.tool_calls:
            msg["tool_calls"] = [c.to_openai(i) for i, c in enumerate(self.tool_calls)]
        return msg


# A reference or counterexample: plain text, one assistant message, or a list of
# assistant turns (for exchanges where mock tool results come in between).
AnswerSpec = str | AssistantTurn | list[AssistantTurn]


def answer_turns(answer: AnswerSpec) -> list[AssistantTurn]:
    if isinstance(answer, str):
        return [AssistantTurn(content=answer)]
    if isinstance(answer, AssistantTurn):
        return [answer]
    return list(answer)


class Message(_Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [c.to_openai(i) for i, c in enumerate(self.tool_calls)]
        if self.tool_call_id is not None:
            msg["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            msg["name"] = self.name
        return msg


class VerifierSpec(BaseModel):
    """``type`` names a verifier in the registry; every other key is its argument."""

    model_config = ConfigDict(extra="allow")
    type: str

    @property
    def args(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MockResult(_Strict):
    """A canned tool result. ``when`` matches a subset of the call's arguments;
    ``once`` entries are used up by the first call they answer."""

    when: dict[str, Any] | None = None
    result: Any = None
    error: bool = False
    once: bool = False

    def render(self) -> str:
        body = self.result if isinstance(self.result, str) else json.dumps(self.result)
        if self.error and isinstance(self.result, str):
            return json.dumps({"error": self.result})
        return body


class Generation(_Strict):
    """Request settings a pack sets as defaults and a scenario may override."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    thinking: bool | None = None
    timeout_s: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    response_format: dict[str, Any] | None = None
    tool_choice: str | dict[str, Any] | None = None

    def merged(self, over: Generation | None) -> Generation:
        if over is None:
            return self
        data = self.model_dump(exclude_none=True)
        data.update(over.model_dump(exclude_none=True))
        return Generation(**data)


class Scenario(_Strict):
    id: str
    title: str | None = None
    prompt: str | None = None
    system: str | None = None
    messages: list[Message] | None = None
    tools: list[dict[str, Any]] | None = None
    mock_tools: dict[str, list[MockResult]] | None = None
    # A stateful environment whose tools answer the model's calls (core.loop).
    environment: dict[str, Any] | None = None
    max_turns: int | None = Field(default=None, ge=1, le=50)
    generation: Generation | None = None
    verifier: VerifierSpec
    tags: list[str] = Field(default_factory=list)
    reference: AnswerSpec
    counterexamples: list[AnswerSpec] = Field(min_length=2)
    # Filled by the loader, not by authors.
    source_file: str | None = Field(default=None, exclude=True)
    source_line: int | None = Field(default=None, exclude=True)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"scenario id {v!r} must match {ID_RE.pattern}")
        return v

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, v: list[str]) -> list[str]:
        for t in v:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\Z", t):
                raise ValueError(f"tag {t!r} must be a valid marker name")
        return v

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> Scenario:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        return self

    def initial_messages(self) -> list[dict[str, Any]]:
        msgs: list[dict[str, Any]] = []
        if self.system is not None:
            msgs.append({"role": "system", "content": self.system})
        if self.prompt is not None:
            msgs.append({"role": "user", "content": self.prompt})
        else:
            msgs.extend(m.to_openai() for m in self.messages or [])
        return msgs

    def user_text(self) -> str:
        """All user-authored text, used for echo checks."""
        return "\n".join(
            m["content"] for m in self.initial_messages() if m["role"] == "user" and m["content"]
        )

    def turn_limit(self) -> int:
        if self.max_turns is not None:
            return self.max_turns
        return 6 if (self.mock_tools or self.environment) else 1


class PackMeta(_Strict):
    id: str
    title: str
    version: str
    marker: str | None = None
    description: str = ""
    generation: Generation = Field(default_factory=Generation)
    pass_threshold: float = Field(default=1.0, ge=0.0, le=1.0)
    summary_metrics: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not re.match(r"^[a-z][a-z0-9_\-]*\Z", v):
            raise ValueError(f"pack id {v!r} must be lower-case letters, digits, '-' or '_'")
        return v

    @property
    def marker_name(self) -> str:
        return (self.marker or self.id).replace("-", "_")


class ScenarioFile(_Strict):
    scenarios: list[Scenario] = Field(default_factory=list)
    # Parametric generators (e.g. GSM-Symbolic style); expanded by core.templates.
    templates: list[dict[str, Any]] = Field(default_factory=list)
    generators: list[dict[str, Any]] = Field(default_factory=list)


def json_schema() -> dict[str, Any]:
    """JSON Schema for pack.yaml and scenario files, for editors."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pytest-llmbench pack files",
        "oneOf": [
            {"$ref": "#/$defs/PackMeta"},
            {"$ref": "#/$defs/ScenarioFile"},
        ],
        "$defs": {
            "PackMeta": PackMeta.model_json_schema(),
            "ScenarioFile": ScenarioFile.model_json_schema(),
        },
    }
