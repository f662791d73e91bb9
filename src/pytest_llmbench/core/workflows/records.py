"""Small helpers over run-log records shared by the workflows and reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..output import split_thinking
from ..record import RunHeader, RunRecord, records_of
from ..summary import Summary


class WorkflowError(ValueError):
    """Bad input to a workflow (unknown scenario, mismatched runs...): a one-line message."""


Key = tuple[str, str, str]  # (model or "", pack, scenario)


def key_of(rec: RunRecord, multi: bool = False) -> Key:
    """Identity of a scenario across runs: ``pack::scenario``, plus the model's label
    in a multi-model run (``multi``). Not a single model's id: llama.cpp reports the
    .gguf path as the id, so Q4 and Q8 of one model would otherwise share no scenario."""
    label = rec.model_label or (rec.model if multi else None)
    return (label or "", rec.pack, rec.scenario)


def is_multi_model(run: dict[str, Any]) -> bool:
    if RunHeader.from_json(run).models:
        return True
    return len({r.model for r in records_of(run) if r.model}) > 1


def models_label(run: dict[str, Any]) -> str:
    """The model (or side-by-side models) a run log measured, for messages."""
    head = RunHeader.from_json(run)
    if head.models:
        return ", ".join(head.models)
    return head.model or "?"


def label_of(key: Key) -> str:
    model, pack, sid = key
    return f"{pack}::{sid}" + (f" [{model}]" if model else "")


def is_canonical(sampling: Any) -> bool:
    if not isinstance(sampling, Mapping):
        return True  # older logs carry no sampling block: canonical was the only mode
    return str(sampling.get("mode", "canonical")) == "canonical"


def sampling_tag(sampling: Any) -> str:
    return "canonical" if is_canonical(sampling) else "non-canonical"


def pack_versions(runlog: dict[str, Any]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for pid, meta in RunHeader.from_json(runlog).packs.items():
        out[pid] = meta.get("version")
    for rec in records_of(runlog):
        if out.get(rec.pack) is None and rec.pack_version is not None:
            out[rec.pack] = rec.pack_version
    return out


def models_of(runlog: dict[str, Any]) -> list[str]:
    """Models of a run: per-record ones (multi-model runs) or the header's."""
    per = sorted({r.model for r in records_of(runlog) if r.model})
    if per:
        return per
    return [RunHeader.from_json(runlog).model or ""]


def summary_for(records: list[RunRecord]) -> Summary:
    s = Summary()
    for rec in records:
        s.add(rec)
    return s


def run_title(runlog: dict[str, Any]) -> str:
    head = RunHeader.from_json(runlog)
    parts = [f"model {head.model or '?'}", f"endpoint {head.endpoint or '?'}"]
    parts.append(f"thinking {head.thinking or 'pack'}")
    parts.append(f"sampling {sampling_tag(head.sampling)}")
    if head.started_at:
        parts.append(f"started {head.started_at}")
    if head.incomplete:
        parts.append("INCOMPLETE (recovered from the journal)")
    return ", ".join(parts)


def reasoning_of(response: Any) -> str:
    """Reasoning as the server sent it: the separate field and any inline think block."""
    try:
        msg = response["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return ""
    if not isinstance(msg, dict):
        return ""
    parts = []
    sep = msg.get("reasoning_content") or msg.get("reasoning")
    if isinstance(sep, str) and sep:
        parts.append(sep)
    content = msg.get("content")
    if isinstance(content, str):
        inline = split_thinking(content)[1]
        if inline:
            parts.append(inline)
    return "\n\n".join(parts)
