"""A small fixture web site to browse and a search tool with canned results."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .service import Handler, Service, ToolError, need_str


class FixtureSite(Service):
    name = "site"

    def __init__(self, base: str, pages: dict[str, str]):
        self.base = base.rstrip("/")
        self.pages = {("/" + p.lstrip("/")): text for p, text in pages.items()}
        self.visited: list[str] = []

    def handlers(self) -> dict[str, Handler]:
        return {"fetch_page": self.fetch}

    def snapshot(self) -> list[str]:
        return list(self.visited)

    def _path(self, url: str) -> str:
        url = url.strip()
        if url.startswith(("http://", "https://")):
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != self.base:
                raise ToolError(f"cannot reach {parts.netloc}: only {self.base} is available")
            url = parts.path or "/"
        path = "/" + url.lstrip("/")
        return path.rstrip("/") or "/"

    def fetch(self, args: dict[str, Any]) -> Any:
        path = self._path(need_str(args, "url"))
        if path not in self.pages:
            raise ToolError(f"404 not found: {self.base}{path}")
        self.visited.append(path)
        text = self.pages[path]
        links = sorted(set(re.findall(r"\]\((/[^)\s]*)\)", text)))
        return {"url": f"{self.base}{path}", "content": text, "links": links}


class CannedSearch(Service):
    name = "search"

    def __init__(self, entries: list[dict[str, Any]]):
        self.entries = entries
        self.queries: list[str] = []

    def handlers(self) -> dict[str, Handler]:
        return {"web_search": self.search}

    def snapshot(self) -> list[str]:
        return list(self.queries)

    def search(self, args: dict[str, Any]) -> Any:
        query = need_str(args, "query")
        self.queries.append(query)
        q = query.casefold()
        best: tuple[int, list[Any]] = (0, [])
        # The entry with the most keyword hits answers; ties go to the first.
        for e in self.entries:
            hits = sum(str(k).casefold() in q for k in e.get("match", []))
            if hits > best[0]:
                best = (hits, list(e.get("results", [])))
        return {"query": query, "results": best[1]}
