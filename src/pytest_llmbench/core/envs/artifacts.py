"""An artifact store: named documents the agent creates, reads and updates."""

from __future__ import annotations

from typing import Any

from .service import Handler, Service, ToolError, need_str, opt_str


class ArtifactStore(Service):
    name = "artifacts"

    def __init__(self, items: dict[str, dict[str, str]]):
        self.items = {k: dict(v) for k, v in items.items()}

    def handlers(self) -> dict[str, Handler]:
        return {
            "create_artifact": self.create,
            "update_artifact": self.update,
            "read_artifact": self.read,
            "list_artifacts": self.list,
        }

    def snapshot(self) -> dict[str, dict[str, str]]:
        return {k: dict(v) for k, v in sorted(self.items.items())}

    def create(self, args: dict[str, Any]) -> Any:
        name = need_str(args, "name").strip()
        content = need_str(args, "content")
        kind = opt_str(args, "kind") or "text"
        if name in self.items:
            raise ToolError(f"artifact {name!r} exists; use update_artifact")
        self.items[name] = {"kind": kind, "content": content}
        return {"ok": True, "name": name, "kind": kind}

    def update(self, args: dict[str, Any]) -> Any:
        name = need_str(args, "name").strip()
        content = need_str(args, "content")
        if name not in self.items:
            raise ToolError(f"no artifact named {name!r}")
        self.items[name]["content"] = content
        return {"ok": True, "name": name}

    def read(self, args: dict[str, Any]) -> Any:
        name = need_str(args, "name").strip()
        if name not in self.items:
            raise ToolError(f"no artifact named {name!r}")
        return {"name": name, **self.items[name]}

    def list(self, args: dict[str, Any]) -> Any:
        return {
            "artifacts": [{"name": k, "kind": v["kind"]} for k, v in sorted(self.items.items())]
        }
