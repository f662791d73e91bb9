"""Server-sent events of a streamed chat completion, accumulated into one reply."""

from __future__ import annotations

import json
from typing import Any

from .endpoint import EndpointError, Reply, Usage
from .redact import redact_known
from .schema import AssistantTurn, ToolCall


class StreamAccumulator:
    """Builds one chat completion from SSE chunks; records time to first token."""

    def __init__(self) -> None:
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.timings: dict[str, Any] | None = None
        self.done = False
        self.ttft_s: float | None = None
        self.last_token_s: float | None = None
        self.content_chunks = 0
        self.reasoning_chunks = 0

    def feed_bytes(self, line: bytes, now_s: float) -> None:
        """One raw line: invalid UTF-8 is a malformed reply, never text repaired and
        then judged."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EndpointError(
                "malformed_response",
                f"stream is not valid UTF-8 ({exc.reason} at byte {exc.start} of a line)",
            ) from None
        self.feed_line(text, now_s)

    def feed_line(self, line: str, now_s: float) -> None:
        if not line.startswith("data:"):
            return  # comments, event names, blank separators
        payload = line[5:].strip()
        if payload == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise EndpointError(
                "malformed_response", f"bad stream chunk: {payload[:80]!r}"
            ) from None
        if not isinstance(chunk, dict):
            raise EndpointError("malformed_response", "stream chunk is not an object")
        try:
            self._feed_chunk(chunk, now_s)
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            raise EndpointError(
                "malformed_response", f"stream chunk of the wrong shape: {payload[:80]!r}"
            ) from exc

    def _feed_chunk(self, chunk: dict[str, Any], now_s: float) -> None:
        """Raises TypeError/AttributeError/ValueError on a chunk of the wrong shape."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if isinstance(chunk.get("timings"), dict):
            self.timings = chunk["timings"]
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise TypeError("choices")
        for choice in choices:
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise TypeError("delta")
            got = False
            content = delta.get("content")
            if content is not None and not isinstance(content, str):
                raise TypeError("content")
            if content:
                self.content.append(content)
                self.content_chunks += 1
                got = True
            r = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(r, str) and r:
                self.reasoning.append(r)
                self.reasoning_chunks += 1
                got = True
            tcs = delta.get("tool_calls") or []
            if not isinstance(tcs, list):
                raise TypeError("tool_calls")
            for tc in tcs:
                index = tc.get("index", 0)
                if not isinstance(index, int) or isinstance(index, bool):
                    raise TypeError("index")
                slot = self.calls.setdefault(index, {"name": "", "args": []})
                fn = tc.get("function") or {}
                name, args, call_id = fn.get("name"), fn.get("arguments"), tc.get("id")
                for v in (name, args, call_id):
                    if v is not None and not isinstance(v, str):
                        raise TypeError("tool call field")
                if call_id:
                    slot["id"] = call_id
                if name:
                    slot["name"] += name
                if args:
                    slot["args"].append(args)
                got = True
            finish = choice.get("finish_reason")
            if finish is not None and not isinstance(finish, str):
                raise TypeError("finish_reason")
            if finish:
                self.finish_reason = finish
            if got:
                if self.ttft_s is None:
                    self.ttft_s = now_s
                self.last_token_s = now_s

    def result(self, body: dict[str, Any], total_s: float) -> Reply:
        if not self.done and self.finish_reason is None:
            raise EndpointError("malformed_response", "stream ended without [DONE]")
        calls = [
            ToolCall(
                name=c["name"],
                arguments=redact_known("".join(c["args"])),
                id=c.get("id") or f"call_{i}",
            )
            for i, c in sorted(self.calls.items())
        ]
        turn = AssistantTurn(
            content=(
                redact_known("".join(self.content)) if self.content else (None if calls else "")
            ),
            reasoning=redact_known("".join(self.reasoning)) or None,
            tool_calls=calls,
            finish_reason=self.finish_reason,
        )
        response = {
            "object": "chat.completion",
            "choices": [
                {"index": 0, "message": turn.to_openai(), "finish_reason": self.finish_reason}
            ],
            "usage": self.usage,
            "streamed": True,
        }
        if self.timings is not None:
            response["timings"] = self.timings
        usage = Usage.from_openai(self.usage) if self.usage is not None else Usage()
        toks = usage.completion_tokens
        decode_s = (self.last_token_s or 0) - (self.ttft_s or 0)
        stream = {
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 6),
            "decode_tokens_per_s": round(toks / decode_s, 3) if toks and decode_s > 0 else None,
            "content_chunks": self.content_chunks,
            "reasoning_chunks": self.reasoning_chunks,
        }
        return Reply(
            turn,
            usage,
            request=body,
            response=response,
            timings=self.timings,
            latency_s=total_s,
            stream=stream,
        )
