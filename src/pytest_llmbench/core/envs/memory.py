"""A key/value memory store the agent uses to remember things across turns."""

from __future__ import annotations

import re
from typing import Any

from .service import Handler, Service, ToolError, need_str


class MemoryStore(Service):
    name = "memory"

    def __init__(self, entries: dict[str, str]):
        self.entries = dict(entries)

    def handlers(self) -> dict[str, Handler]:
        return {
            "memory_save": self.save,
            "memory_get": self.get,
            "memory_search": self.search,
            "memory_list": self.list,
            "memory_delete": self.delete,
        }

    def snapshot(self) -> dict[str, str]:
        return dict(sorted(self.entries.items()))

    def save(self, args: dict[str, Any]) -> Any:
        key = need_str(args, "key").strip()
        value = need_str(args, "value")
        existed = key in self.entries
        self.entries[key] = value
        return {"ok": True, "key": key, "replaced": existed}

    def get(self, args: dict[str, Any]) -> Any:
        key = need_str(args, "key").strip()
        if key not in self.entries:
            raise ToolError(f"no memory under key {key!r}")
        return {"key": key, "value": self.entries[key]}

    def search(self, args: dict[str, Any]) -> Any:
        words = [w for w in re.findall(r"\w+", need_str(args, "query").casefold()) if len(w) > 2]
        hits = []
        for key, value in sorted(self.entries.items()):
            hay = f"{key} {value}".casefold()
            score = sum(w in hay for w in words)
            if score:
                hits.append((score, key, value))
        hits.sort(key=lambda h: (-h[0], h[1]))
        return {"results": [{"key": k, "value": v} for _, k, v in hits[:10]]}

    def list(self, args: dict[str, Any]) -> Any:
        return {"keys": sorted(self.entries)}

    def delete(self, args: dict[str, Any]) -> Any:
        key = need_str(args, "key").strip()
        if key not in self.entries:
            raise ToolError(f"no memory under key {key!r}")
        del self.entries[key]
        return {"ok": True, "deleted": key}
