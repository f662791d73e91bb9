"""A virtual file system: read, write, edit (exact old/new pairs), search, list, delete."""

from __future__ import annotations

import fnmatch
from typing import Any

from .service import Handler, Service, ToolError, need_str, opt_str


def norm_path(path: str) -> str:
    p = path.strip().replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p.lstrip("/")


class VirtualFS(Service):
    name = "vfs"

    def __init__(self, files: dict[str, str], protected: list[str] | None = None):
        self.files = {norm_path(k): v for k, v in files.items()}
        self.protected = list(protected or [])

    def handlers(self) -> dict[str, Handler]:
        return {
            "read_file": self.read_file,
            "write_file": self.write_file,
            "edit_file": self.edit_file,
            "search_code": self.search_code,
            "list_files": self.list_files,
            "delete_file": self.delete_file,
        }

    def snapshot(self) -> dict[str, str]:
        return dict(sorted(self.files.items()))

    def _path(self, args: dict[str, Any]) -> str:
        return norm_path(need_str(args, "path"))

    def _existing(self, args: dict[str, Any]) -> str:
        path = self._path(args)
        if path not in self.files:
            raise ToolError(f"file not found: {path}")
        return path

    def _writable(self, path: str) -> None:
        if any(fnmatch.fnmatch(path, pat) for pat in self.protected):
            raise ToolError(f"permission denied: {path} is read-only")

    def read_file(self, args: dict[str, Any]) -> Any:
        path = self._existing(args)
        return {"path": path, "content": self.files[path]}

    def write_file(self, args: dict[str, Any]) -> Any:
        path = self._path(args)
        content = need_str(args, "content", allow_empty=True)
        self._writable(path)
        created = path not in self.files
        self.files[path] = content
        return {"ok": True, "path": path, "created": created, "bytes": len(content.encode())}

    def edit_file(self, args: dict[str, Any]) -> Any:
        path = self._existing(args)
        edits = args.get("edits")
        if not isinstance(edits, list) or not edits:
            raise ToolError("'edits' must be a non-empty array of {old, new} objects")
        text = self.files[path]
        # All or nothing: a failing edit leaves the file as it was.
        for i, e in enumerate(edits, start=1):
            if not isinstance(e, dict) or not isinstance(e.get("old"), str):
                raise ToolError(f"edit {i}: needs string fields 'old' and 'new'")
            old, new = e["old"], e.get("new")
            if not isinstance(new, str):
                raise ToolError(f"edit {i}: needs string fields 'old' and 'new'")
            if not old:
                raise ToolError(f"edit {i}: 'old' must not be empty")
            n = text.count(old)
            if n == 0:
                raise ToolError(f"edit {i}: old text not found in {path}")
            if n > 1:
                raise ToolError(f"edit {i}: old text occurs {n} times in {path}; add context")
            text = text.replace(old, new, 1)
        self._writable(path)
        self.files[path] = text
        return {"ok": True, "path": path, "applied": len(edits)}

    def search_code(self, args: dict[str, Any]) -> Any:
        query = need_str(args, "query")
        under = norm_path(opt_str(args, "path") or "")
        q = query.casefold()
        hits: list[dict[str, Any]] = []
        for path in sorted(self.files):
            if under and not (path == under or path.startswith(under.rstrip("/") + "/")):
                continue
            for n, line in enumerate(self.files[path].splitlines(), start=1):
                if q in line.casefold():
                    hits.append({"path": path, "line": n, "text": line.strip()})
        return {"query": query, "matches": hits[:50], "total": len(hits)}

    def list_files(self, args: dict[str, Any]) -> Any:
        under = norm_path(opt_str(args, "path") or "")
        prefix = under.rstrip("/") + "/" if under else ""
        return {"files": [p for p in sorted(self.files) if p.startswith(prefix)]}

    def delete_file(self, args: dict[str, Any]) -> Any:
        path = self._existing(args)
        self._writable(path)
        del self.files[path]
        return {"ok": True, "deleted": path}
