"""The error a malformed pack file raises, and the YAML line a pydantic error points at.

Its own module so the loaders the pack loader calls (templates, generators) raise it
without importing the pack loader back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class PackError(Exception):  # noqa: N818 - reads better in messages
    """A pack file is malformed. ``str()`` names the file and line."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {message}")


def _node_at(node: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """Walk a composed YAML node along a pydantic error location."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if getattr(k, "value", None) == str(key):
                    nxt = v
                    break
            if nxt is None:
                return node
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return node
            node = node.value[key]
        else:
            # pydantic adds union-branch names to locations; skip those
            continue
    return node


def line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    node = _node_at(root, loc)
    return node.start_mark.line + 1 if node is not None else None


__all__ = ["PackError", "line_of"]
