"""Endpoint wrappers: replicas (least outstanding requests), response cache, replay.

Each is an :class:`~.endpoint.Endpoint` itself; the cache and replay key on the
request body the HTTP endpoint would send (core.wire)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from .endpoint import Endpoint, EndpointError, Params, Reply, Usage
from .record import records_of
from .runlog import read_runlog
from .wire import build_body, parse_response

# Request fields that change the answer; the cache and replay key on these only.
_KEY_FIELDS = (
    "model",
    "messages",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "seed",
    "max_tokens",
    "stop",
    "response_format",
    "chat_template_kwargs",
)


def request_key(body: dict[str, Any], fields: tuple[str, ...] = _KEY_FIELDS) -> str:
    picked = {k: body[k] for k in fields if k in body}
    text = json.dumps(picked, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ReplicaSet(Endpoint):
    """Several servers with the same model: each request goes to the replica with the
    fewest requests in flight (ties rotate)."""

    def __init__(self, replicas: list[Endpoint]):
        if not replicas:
            raise ValueError("ReplicaSet needs at least one endpoint")
        self.replicas = replicas
        self.name = ",".join(r.name for r in replicas)
        self._outstanding = [0] * len(replicas)
        self._served = [0] * len(replicas)
        self._rr = itertools.count()
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "replicas",
            "replicas": [r.describe() for r in self.replicas],
            "served": list(self._served),
        }

    def probe(self) -> str | None:
        models = [r.probe() for r in self.replicas]
        distinct = {m for m in models if m}
        if len(distinct) > 1:
            raise EndpointError(
                "http_error", f"replicas serve different models: {sorted(distinct)}"
            )
        return next(iter(distinct), None)

    def _pick(self) -> int:
        with self._lock:
            low = min(self._outstanding)
            ties = [i for i, n in enumerate(self._outstanding) if n == low]
            i = ties[next(self._rr) % len(ties)]
            self._outstanding[i] += 1
            self._served[i] += 1
            return i

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        i = self._pick()
        try:
            res = self.replicas[i].chat(messages, params, timeout_s=timeout_s)
        finally:
            with self._lock:
                self._outstanding[i] -= 1
        res.replica = i
        return res

    def close(self) -> None:
        for r in self.replicas:
            r.close()


class CachingEndpoint(Endpoint):
    """Answers repeated requests from disk. Errors are never cached."""

    def __init__(self, inner: Endpoint, directory: Path):
        self.inner = inner
        self.dir = Path(directory)
        self.name = inner.name
        self.in_process = inner.in_process
        self.hits = 0
        self.misses = 0

    def describe(self) -> dict[str, Any]:
        d = dict(self.inner.describe())
        d["cache"] = {"dir": str(self.dir), "hits": self.hits, "misses": self.misses}
        return d

    def probe(self) -> str | None:
        return self.inner.probe()

    def _path(self, body: dict[str, Any]) -> Path:
        k = request_key(body)
        return self.dir / k[:2] / f"{k}.json"

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        body = build_body(messages, params)
        path = self._path(body)
        if path.exists():
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
                res = _stored_reply(entry, body)
                res.cached = True
                self.hits += 1
                return res
            except (ValueError, KeyError, TypeError, EndpointError):
                pass  # a damaged entry is refetched
        res = self.inner.chat(messages, params, timeout_s=timeout_s)
        self.misses += 1
        entry = {
            "response": res.response,
            "latency_s": res.latency_s,
            "usage": res.usage.to_record(),
            "timings": res.timings,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh)
        os.replace(tmp, path)
        return res

    def close(self) -> None:
        self.inner.close()


_REPLAY_FIELDS = ("messages", "tools")


class ReplayEndpoint(Endpoint):
    """Answers from a saved run log, with no network. A request the log does not hold
    is an error (``replay_missing``), never a silent pass. Keyed on messages and tools,
    so a changed prompt is caught."""

    in_process = True

    def __init__(self, runlog: Path | str):
        self.path = Path(runlog)
        data = read_runlog(self.path)
        self.name = f"replay:{self.path.name}"
        self.model = data.get("model")
        self._answers: dict[str, list[dict[str, Any]]] = {}
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()
        for rec in records_of(data):
            for call in rec.calls:
                req, resp = call.get("request"), call.get("response")
                if isinstance(req, dict) and isinstance(resp, dict):
                    self._answers.setdefault(request_key(req, _REPLAY_FIELDS), []).append(call)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "replay", "runlog": str(self.path)}

    def probe(self) -> str | None:
        return self.model if isinstance(self.model, str) else None

    def chat(
        self, messages: list[dict[str, Any]], params: Params, *, timeout_s: float | None = None
    ) -> Reply:
        body = build_body(messages, params)
        key = request_key(body, _REPLAY_FIELDS)
        with self._lock:
            calls = self._answers.get(key)
            if not calls:
                raise EndpointError(
                    "replay_missing",
                    f"{self.path.name} holds no answer for this request ({_first_user(messages)})",
                )
            i = self._next.get(key, 0)
            self._next[key] = i + 1
            call = calls[min(i, len(calls) - 1)]
        return _stored_reply(call, body)


def _stored_reply(entry: dict[str, Any], body: dict[str, Any]) -> Reply:
    """A reply saved by the cache or a run log (response, latency, usage, timings)."""
    resp = entry["response"]
    usage = entry.get("usage")
    timings = entry.get("timings")
    return Reply(
        parse_response(resp),
        Usage.from_openai(usage) if isinstance(usage, dict) else Usage(),
        request=body,
        response=resp,
        timings=timings if isinstance(timings, dict) else None,
        latency_s=float(entry.get("latency_s") or 0.0),
    )


def _first_user(messages: list[dict[str, Any]]) -> str:
    text = next((str(m.get("content")) for m in messages if m.get("role") == "user"), "?")
    return text if len(text) <= 60 else text[:57] + "..."
