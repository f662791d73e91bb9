"""The toolcall verifier's arguments: expected calls, steps, final-text facts, BFCL options."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from . import _bfcl


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_acceptable(values: Any, where: str) -> None:
    """Every parameter (also inside expected objects) lists its acceptable values."""
    if not isinstance(values, list) or not values:
        raise ValueError(
            f"{where}: give a non-empty list of acceptable values "
            f"(an array value is written [[...]]), got {values!r}"
        )
    for v in values:
        _check_value(v, where)


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for k, sub in value.items():
            _check_acceptable(sub, f"{where}.{k}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, (list, dict)):
                _check_value(item, f"{where}[{i}]")


class ExpectedCall(_Args):
    name: str
    args: dict[str, list[Any]] = Field(default_factory=dict)
    # Parameters that may be left out, as an alternative to null in their list.
    optional: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> ExpectedCall:
        for k, vals in self.args.items():
            _check_acceptable(vals, f"{self.name}.{k}")
        unknown = [p for p in self.optional if p not in self.args]
        if unknown:
            raise ValueError(f"{self.name}: optional names unknown parameters {unknown}")
        return self

    def acceptable(self, param: str) -> list[Any]:
        vals = list(self.args[param])
        if param in self.optional and None not in vals:
            vals.append(None)
        return vals

    def signature(self) -> str:
        needed = [k for k in self.args if None not in self.acceptable(k)]
        parts = [f"{k}={_fmt(self.args[k][0])}" for k in needed]
        return f"{self.name}({', '.join(parts)})"


class BfclFunction(_Args):
    required: list[str] = Field(default_factory=list)
    # parameter -> [BFCL type] or [BFCL type, item type]
    types: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("types")
    @classmethod
    def _pairs(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for k, t in v.items():
            if not 1 <= len(t) <= 2:
                raise ValueError(f"{k}: give [type] or [type, item type]")
        return v


class BfclOptions(_Args):
    # BFCL's category name (simple_python, live_multiple, irrelevance, ...): picks the
    # checker and the language, and names the per-category score.
    category: str = "simple"
    language: Literal["python", "java", "javascript"] | None = None
    functions: dict[str, BfclFunction] = Field(default_factory=dict)

    @property
    def checker(self) -> _bfcl.Checker:
        return _bfcl.checker_for(self.category)

    @property
    def lang(self) -> _bfcl.Language:
        return self.language or _bfcl.language_for(self.category)


class BfclCall(_Args):
    """An expected call under ``match: bfcl``: BFCL's possible answers verbatim (a
    nested dict's keys need not list their values)."""

    name: str
    args: dict[str, list[Any]] = Field(default_factory=dict)
    optional: list[str] = Field(default_factory=list)


# A fact the final text must contain: one string, or a list of alternatives.
Fact = Union[str, list[str]]  # noqa: UP007 - pydantic needs a runtime union on 3.10


class ToolcallArgs(_Args):
    calls: list[ExpectedCall] | None = None
    steps: list[list[ExpectedCall]] | None = None
    # For ``calls``: ``any`` = one unordered group, ``strict`` = one step per call.
    order: Literal["any", "strict"] = "any"
    # A later step needs the previous step's tool results, so it must come in a later turn.
    steps_need_new_turn: bool = True
    final_contains: list[Fact] = Field(default_factory=list)
    final_not_contains: list[str] = Field(default_factory=list)
    # The final text must be a question: a '?' and every final_contains fact, none of
    # which may appear in the prompt (so an echo or a refusal cannot pass).
    ask: bool = False
    # Calls answered with a tool error that may precede the right calls (retries).
    max_failed_attempts: int = Field(default=0, ge=0, le=10)
    ignore_case: bool = True
    trim: bool = True
    collapse_ws: bool = False
    strip_punct: bool = False
    strip_accents: bool = False
    unordered_arrays: bool = False
    allow_extra_args: bool = False
    validate_schema: bool = True
    abstain: bool = Field(
        default=False, description="with `calls: []`: no tool call, any text passes"
    )
    match: Literal["default", "bfcl"] = Field(
        default="default",
        description="`bfcl`: judge one turn as BFCL's AST checker does (docs/fidelity.md)",
    )
    bfcl: BfclOptions | None = Field(
        default=None,
        description="with `match: bfcl`: `category` (BFCL's name: picks checker and "
        "language), `functions` (required parameters and BFCL types per tool)",
    )
    # `calls` under match: bfcl, moved here by _bfcl_calls (not an author's field)
    bfcl_calls: SkipJsonSchema[list[BfclCall]] = Field(default_factory=list, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _bfcl_calls(cls, data: Any) -> Any:
        # Under match: bfcl, `calls` are BFCL's possible answers verbatim (held apart:
        # the default matcher's shape rules do not apply to them).
        if isinstance(data, dict):
            if "bfcl_calls" in data:
                raise ValueError("unknown field 'bfcl_calls' (write 'calls')")
            calls = data.get("calls")
            if data.get("match") == "bfcl" and isinstance(calls, list):
                data = {**data, "calls": [], "bfcl_calls": calls}
        return data

    @field_validator("final_contains")
    @classmethod
    def _facts_non_empty(cls, v: list[Fact]) -> list[Fact]:
        for f in v:
            alts = [f] if isinstance(f, str) else f
            if not alts or any(not a.strip() for a in alts):
                raise ValueError("empty facts would match anything")
        return v

    @model_validator(mode="after")
    def _valid(self) -> ToolcallArgs:
        if (self.calls is None) == (self.steps is None):
            raise ValueError("give exactly one of 'calls' or 'steps'")
        if self.steps is not None and any(not s for s in self.steps):
            raise ValueError("a step needs at least one call")
        if self.match == "bfcl":
            return self._valid_bfcl()
        if self.bfcl is not None:
            raise ValueError("'bfcl' options need 'match: bfcl'")
        if self.abstain and self.groups():
            raise ValueError("'abstain' needs 'calls: []'")
        if not self.groups() and not self.final_contains and not self.abstain:
            raise ValueError("'calls: []' needs a text check ('final_contains') or 'abstain: true'")
        if self.ask and not self.final_contains:
            raise ValueError("'ask' needs 'final_contains' keywords absent from the prompt")
        return self

    def _valid_bfcl(self) -> ToolcallArgs:
        if self.steps is not None:
            raise ValueError("'match: bfcl' judges one turn: give 'calls', not 'steps'")
        opts = self.bfcl or BfclOptions()
        calls = self.bfcl_calls
        if opts.checker in ("irrelevance", "relevance"):
            if calls:
                raise ValueError(f"category {opts.category!r} takes 'calls: []'")
        elif not calls:
            raise ValueError(f"category {opts.category!r} needs the expected calls")
        elif opts.checker == "simple" and len(calls) != 1:
            raise ValueError(f"category {opts.category!r} expects exactly one call")
        return self

    def groups(self) -> list[list[ExpectedCall]]:
        if self.steps is not None:
            return [list(s) for s in self.steps]
        calls = self.calls or []
        if not calls:
            return []
        return [list(calls)] if self.order == "any" else [[c] for c in calls]


def _fmt(value: Any, limit: int = 80) -> str:
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
