"""Stateful fake environments for agent scenarios.

A scenario's ``environment`` mapping switches services on by giving their data::

    environment:
      files: {src/app.py: "..."}      # virtual file system (read/edit/write/search)
      protected: ["vendor/*"]         # vfs paths that refuse writes
      memory: {user.city: Lyon}       # key/value memory
      jobs: []                        # scheduler (cron or one-off), ``now`` sets the clock
      artifacts: {}                   # artifact store
      site: {base: https://docs.example, pages: {/: "..."}}   # fixture web site
      search: [{match: [kw], results: [...]}]                  # canned web search
      tools: [read_file, edit_file]   # built-in tool schemas to offer (fills scenario.tools)
      inject: [{turn: 2, tool: read_file, error: "timeout"}]
      limits: {max_tokens: 4000, wall_s: 120}

``type: vfs`` (or a list of service names) switches a service on with empty data.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .artifacts import ArtifactStore
from .jobs import Scheduler, check_at
from .memory import MemoryStore
from .service import Handler, Service, ToolError
from .vfs import VirtualFS
from .web import CannedSearch, FixtureSite

__all__ = [
    "SERVICES",
    "TOOL_SCHEMAS",
    "EnvSpec",
    "Environment",
    "Injection",
    "ToolError",
]

SERVICES = ("vfs", "memory", "scheduler", "artifacts", "site", "search")
# Where each service's final state sits in ``Exchange.state``.
_STATE_KEYS = {
    "vfs": "files",
    "memory": "memory",
    "scheduler": "jobs",
    "artifacts": "artifacts",
    "site": "visited",
    "search": "searches",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Injection(_Strict):
    """A synthetic tool error: the first ``times`` calls of ``tool`` at or after
    ``turn`` (whose arguments contain ``when``) fail with ``error``."""

    tool: str
    error: str = Field(min_length=1)
    turn: int = Field(default=1, ge=1)
    when: dict[str, Any] | None = None
    times: int = Field(default=1, ge=1)


class Limits(_Strict):
    # Completion tokens over the whole loop (estimated at 4 characters a token).
    max_tokens: int | None = Field(default=None, ge=1)
    wall_s: float | None = Field(default=None, gt=0)


class SiteSpec(_Strict):
    base: str = "https://intranet.example"
    pages: dict[str, str] = Field(min_length=1)


class SearchEntry(_Strict):
    match: list[str] = Field(min_length=1)
    results: list[dict[str, Any]]


class ArtifactSpec(_Strict):
    kind: str = "text"
    content: str


class EnvSpec(_Strict):
    type: str | list[str] | None = None
    files: dict[str, str] | None = None
    protected: list[str] = Field(default_factory=list)
    memory: dict[str, str] | None = None
    jobs: list[dict[str, Any]] | None = None
    now: str | None = None
    artifacts: dict[str, ArtifactSpec] | None = None
    site: SiteSpec | None = None
    search: list[SearchEntry] | None = None
    tools: list[str] | None = None
    inject: list[Injection] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)

    @field_validator("type")
    @classmethod
    def _known(cls, v: str | list[str] | None) -> str | list[str] | None:
        for name in [v] if isinstance(v, str) else v or []:
            if name not in SERVICES:
                raise ValueError(f"unknown service {name!r} (known: {', '.join(SERVICES)})")
        return v

    @field_validator("now")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                return check_at(v)
            except ToolError as exc:
                raise ValueError(str(exc)) from None
        return v

    def enabled(self) -> list[str]:
        on = set([self.type] if isinstance(self.type, str) else self.type or [])
        data = {
            "vfs": self.files,
            "memory": self.memory,
            "scheduler": self.jobs,
            "artifacts": self.artifacts,
            "site": self.site,
            "search": self.search,
        }
        on |= {k for k, v in data.items() if v is not None}
        return [s for s in SERVICES if s in on]


def _fn(name: str, desc: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


_S = {"type": "string"}
TOOL_SCHEMAS: dict[str, dict[str, Any]] = {
    t["function"]["name"]: t
    for t in [
        _fn("read_file", "Read a whole text file.", {"path": _S}, ["path"]),
        _fn(
            "write_file",
            "Create a file or replace its whole content.",
            {"path": _S, "content": _S},
            ["path", "content"],
        ),
        _fn(
            "edit_file",
            "Apply exact text replacements to a file, in order. Each 'old' must occur "
            "exactly once; if one edit fails, none is applied.",
            {
                "path": _S,
                "edits": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {"old": _S, "new": _S},
                        "required": ["old", "new"],
                        "additionalProperties": False,
                    },
                },
            },
            ["path", "edits"],
        ),
        _fn(
            "search_code",
            "Case-insensitive text search over the files; optional folder.",
            {"query": _S, "path": _S},
            ["query"],
        ),
        _fn("list_files", "List file paths, optionally under a folder.", {"path": _S}, []),
        _fn("delete_file", "Delete a file.", {"path": _S}, ["path"]),
        _fn(
            "memory_save",
            "Remember a value under a key (replaces an existing value).",
            {"key": _S, "value": _S},
            ["key", "value"],
        ),
        _fn("memory_get", "Read the value stored under a key.", {"key": _S}, ["key"]),
        _fn(
            "memory_search",
            "Find memories whose key or value match words.",
            {"query": _S},
            ["query"],
        ),
        _fn("memory_list", "List all memory keys.", {}, []),
        _fn("memory_delete", "Forget a key.", {"key": _S}, ["key"]),
        _fn(
            "schedule_job",
            "Schedule an action: recurring with 'cron' (5 fields) or once with 'at' "
            "(YYYY-MM-DDTHH:MM). Give exactly one of them.",
            {"name": _S, "action": _S, "cron": _S, "at": _S},
            ["name", "action"],
        ),
        _fn("list_jobs", "List scheduled jobs and the current time.", {}, []),
        _fn("cancel_job", "Cancel a scheduled job by id.", {"id": _S}, ["id"]),
        _fn(
            "create_artifact",
            "Create a named document (kind e.g. markdown, csv, json).",
            {"name": _S, "kind": _S, "content": _S},
            ["name", "content"],
        ),
        _fn(
            "update_artifact",
            "Replace the content of an existing artifact.",
            {"name": _S, "content": _S},
            ["name", "content"],
        ),
        _fn("read_artifact", "Read an artifact.", {"name": _S}, ["name"]),
        _fn("list_artifacts", "List artifacts.", {}, []),
        _fn("fetch_page", "Fetch a page of the site by URL or path.", {"url": _S}, ["url"]),
        _fn(
            "web_search",
            "Search the web; returns titles, URLs and snippets.",
            {"query": _S},
            ["query"],
        ),
    ]
}


def parse_args(raw: str | dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(arguments, problem): the problem says why raw arguments are unusable."""
    if isinstance(raw, dict):
        return raw, None
    if not raw.strip():
        return {}, None
    try:
        val = json.loads(raw)
    except ValueError as exc:
        return None, f"arguments are not valid JSON ({str(exc).split(':')[0]})"
    if not isinstance(val, dict):
        return None, f"arguments must be a JSON object, got a {type(val).__name__}"
    return val, None


class Environment:
    """The services of one scenario run, with their tools and the scenario's schemas."""

    def __init__(self, spec: EnvSpec, tools: list[dict[str, Any]] | None):
        self.spec = spec
        self.services: list[Service] = []
        on = spec.enabled()
        if "vfs" in on:
            self.services.append(VirtualFS(spec.files or {}, spec.protected))
        if "memory" in on:
            self.services.append(MemoryStore(spec.memory or {}))
        if "scheduler" in on:
            self.services.append(Scheduler(spec.jobs or [], spec.now))
        if "artifacts" in on:
            items = {k: v.model_dump() for k, v in (spec.artifacts or {}).items()}
            self.services.append(ArtifactStore(items))
        if "site" in on and spec.site is not None:
            self.services.append(FixtureSite(spec.site.base, spec.site.pages))
        if "search" in on:
            self.services.append(CannedSearch([e.model_dump() for e in spec.search or []]))
        self.handlers: dict[str, Handler] = {}
        for svc in self.services:
            self.handlers.update(svc.handlers())
        self.schemas: dict[str, dict[str, Any]] = {}
        for t in tools or []:
            fn = t.get("function", t) if isinstance(t, dict) else {}
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                params = fn.get("parameters")
                self.schemas[fn["name"]] = params if isinstance(params, dict) else {}

    def handles(self, name: str) -> bool:
        return name in self.handlers

    def call(self, name: str, args: dict[str, Any]) -> Any:
        """Run one tool; raises ToolError with the message the model will read."""
        schema = self.schemas.get(name)
        if schema:
            import jsonschema  # ~0.1 s: only for runs whose agents call tools

            err = jsonschema.Draft202012Validator(schema).iter_errors(args)
            first = min(err, key=lambda e: list(e.absolute_path), default=None)
            if first is not None:
                where = "/".join(str(p) for p in first.absolute_path) or "arguments"
                raise ToolError(f"schema error at {where}: {first.message}")
        return self.handlers[name](args)

    def snapshot(self) -> dict[str, Any]:
        return {_STATE_KEYS[svc.name]: svc.snapshot() for svc in self.services}
