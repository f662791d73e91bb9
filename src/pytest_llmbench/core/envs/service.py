"""Shared pieces of the fake environments: the error type and argument helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A handler takes the parsed arguments and returns a JSON-able result, or raises ToolError.
Handler = Callable[[dict[str, Any]], Any]


class ToolError(Exception):
    """A tool failed the way a real tool would; the message goes back to the model."""


def need_str(args: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    val = args.get(key)
    if not isinstance(val, str):
        raise ToolError(f"'{key}' must be a string")
    if not allow_empty and not val.strip():
        raise ToolError(f"'{key}' must not be empty")
    return val


def opt_str(args: dict[str, Any], key: str) -> str | None:
    val = args.get(key)
    if val is None:
        return None
    if not isinstance(val, str):
        raise ToolError(f"'{key}' must be a string")
    return val


class Service:
    """One fake service: tool handlers over its own state."""

    name = ""

    def handlers(self) -> dict[str, Handler]:
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError
