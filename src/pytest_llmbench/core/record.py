"""The run record: what the run log keeps for one scenario (or marked test function).

One typed value, built in one place (:meth:`RunRecord.of_result` for a scenario,
:meth:`RunRecord.of_function` and :meth:`RunRecord.of_broken_pack` for the two special
kinds), written with :meth:`RunRecord.to_json` and read back from any run log, however
old, with :meth:`RunRecord.from_json`. The verdict and the calls stay the JSON the
verifier and the server produced (their shape is theirs); the record gives typed
access to what readers need from them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .endpoint import INFRA_MODES
from .runner import ChatResult, ScenarioResult

# Failure modes that are no verdict on the model: the infrastructure or the setup failed.
ERROR_MODES = frozenset(INFRA_MODES) | {
    "verifier_error",
    "setup_error",
    "pack_error",
    "sandbox_unavailable",
    "verifier_unavailable",
    "judge_unavailable",
}

Kind = Literal["scenario", "function", "pack_error"]
Property = tuple[str, str | bool | float | int]

# The keys each kind has always written, in the order it wrote them: a record written
# now is byte for byte what earlier versions wrote. Other fields follow when set.
_ALWAYS: dict[str, tuple[str, ...]] = {
    "scenario": (
        "pack",
        "scenario",
        "passed",
        "score",
        "failure_mode",
        "error",
        "verdict",
        "latency_s",
        "wall_s",
        "completion_tokens",
        "repeat",
        "calls",
        "retries",
        "messages",
        "events",
        "state",
        "nodeid",
        "pack_version",
        "tags",
        "model",
    ),
    "function": (
        "nodeid",
        "pack",
        "pack_version",
        "scenario",
        "passed",
        "score",
        "failure_mode",
        "error",
        "verdict",
        "latency_s",
        "completion_tokens",
        "calls",
        "kind",
    ),
    "pack_error": (
        "nodeid",
        "pack",
        "scenario",
        "passed",
        "score",
        "failure_mode",
        "error",
    ),
}


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def _int_or_none(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0


def _dicts(v: Any) -> tuple[dict[str, Any], ...]:
    return tuple(x for x in v if isinstance(x, dict)) if isinstance(v, list) else ()


@dataclass(frozen=True, slots=True)
class RunRecord:
    pack: str
    scenario: str
    passed: bool = False
    score: float = 0.0
    failure_mode: str | None = None
    error: str | None = None
    # the verifier's verdict as it wrote it (Verdict.to_dict), None without one
    verdict: Mapping[str, Any] | None = None
    latency_s: float = 0.0
    wall_s: float = 0.0
    completion_tokens: int | None = None
    repeat: int | None = None
    # each request and raw response as sent and received
    calls: tuple[dict[str, Any], ...] = ()
    retries: int = 0
    messages: list[Any] | None = None
    events: tuple[Any, ...] = ()
    state: dict[str, Any] | None = None
    nodeid: str | None = None
    pack_version: str | None = None
    tags: tuple[str, ...] = ()
    model: str | None = None
    model_label: str | None = None  # multi-model runs: the --llm-model name
    kind: Kind = "scenario"
    outcome: str | None = None  # pytest's: passed, failed or error
    resumed: bool = False  # carried over from the run log given to --llm-resume
    history: tuple[dict[str, Any], ...] = ()  # earlier verdicts (llmbench rescore)
    # keys this version does not know (a newer writer's): kept, so a rescore or a
    # resume of such a log loses nothing
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- building ---------------------------------------------------------------------
    @classmethod
    def of_result(
        cls,
        res: ScenarioResult,
        *,
        nodeid: str | None = None,
        pack_version: str | None = None,
        tags: Iterable[str] = (),
        model: str | None = None,
        model_label: str | None = None,
    ) -> RunRecord:
        """A scenario's record: its result plus what the item knows."""
        v = res.verdict
        ex = res.exchange
        return cls(
            pack=res.pack,
            scenario=res.scenario,
            passed=res.passed,
            score=round(v.score, 6) if v is not None and res.error is None else 0.0,
            failure_mode=res.failure_mode,
            error=str(res.error) if res.error else None,
            verdict=v.to_dict() if v is not None else None,
            latency_s=round(res.latency_s, 6),
            wall_s=round(res.wall_s, 6),
            completion_tokens=res.completion_tokens,
            repeat=res.repeat,
            calls=tuple(call_record(c) for c in res.calls),
            retries=sum(len(c.retries) for c in res.calls)
            + (len(res.error.retries) if res.error else 0),
            messages=ex.messages if ex else None,
            events=tuple(ex.events) if ex else (),
            state=ex.state if ex else None,
            nodeid=nodeid,
            pack_version=pack_version,
            tags=tuple(tags),
            model=model_label if model_label is not None else model,
            model_label=model_label,
        )

    @classmethod
    def of_function(
        cls,
        *,
        nodeid: str,
        pack: str,
        scenario: str,
        passed: bool,
        failure_mode: str | None,
        error: str | None,
        detail: str,
        calls: list[ChatResult],
    ) -> RunRecord:
        """A plain test marked ``@pytest.mark.llmbench(pack=...)``: its checks live in
        the test, so the record keeps the outcome and the raw calls."""
        toks = [c.completion_tokens for c in calls]
        return cls(
            nodeid=nodeid,
            pack=pack,
            scenario=scenario,
            passed=passed,
            score=1.0 if passed else 0.0,
            failure_mode=failure_mode,
            error=error,
            verdict={"passed": passed, "detail": detail},
            latency_s=round(sum(c.latency_s for c in calls), 6),
            completion_tokens=sum(t for t in toks if t) if toks and None not in toks else None,
            calls=tuple({"request": c.request, "response": c.response} for c in calls),
            kind="function",
        )

    @classmethod
    def of_broken_pack(cls, *, nodeid: str, pack: str, scenario: str, error: str) -> RunRecord:
        """A pack that failed to load: one ERROR record in its place."""
        return cls(
            nodeid=nodeid,
            pack=pack,
            scenario=scenario,
            failure_mode="pack_error",
            error=error,
            kind="pack_error",
            outcome="error",
        )

    def replace(self, **changes: Any) -> RunRecord:
        """A copy with ``changes`` (records are immutable)."""
        return dataclasses.replace(self, **changes)

    # -- what readers ask -------------------------------------------------------------
    @property
    def is_error(self) -> bool:
        """An infrastructure or setup error: no verdict on the model."""
        return self.failure_mode in ERROR_MODES

    @property
    def category(self) -> str | None:
        c = self.verdict.get("category") if self.verdict else None
        return None if c is None else str(c)

    @property
    def detail(self) -> str:
        """The verifier's one-line reason (empty without a verdict)."""
        d = self.verdict.get("detail") if self.verdict else None
        return "" if d is None else str(d)

    @property
    def reason(self) -> str:
        """Why it did not pass: the error, else the verifier's reason."""
        return self.error or self.detail

    @property
    def trace(self) -> list[str]:
        t = self.verdict.get("trace") if self.verdict else None
        return [str(x) for x in t] if isinstance(t, list) else []

    @property
    def metrics(self) -> dict[str, list[float]]:
        m = self.verdict.get("metrics") if self.verdict else None
        return dict(m) if isinstance(m, dict) else {}

    @property
    def label(self) -> str:
        """The node id, else ``pack::scenario``."""
        return self.nodeid or f"{self.pack}::{self.scenario}"

    # -- JSON -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The run log's form (builtins only), in the key order earlier versions wrote."""
        always = _ALWAYS[self.kind]
        out: dict[str, Any] = {k: _plain(getattr(self, k)) for k in always}
        for f in _FIELDS:
            if f.name in always or f.name == "extra" or f.name == "kind":
                continue
            value = getattr(self, f.name)
            if value != _DEFAULTS[f.name]:
                out[f.name] = _plain(value)
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunRecord:
        """A record from any run log this project wrote: missing keys get their
        defaults, values of the wrong type are read as missing, unknown keys go to
        ``extra`` (and back out with :meth:`to_json`)."""
        kind: Kind = "scenario"
        if d.get("kind") == "function":
            kind = "function"
        elif d.get("failure_mode") == "pack_error" and "verdict" not in d:
            kind = "pack_error"
        verdict = d.get("verdict")
        messages = d.get("messages")
        state = d.get("state")
        tags = d.get("tags")
        return cls(
            pack=str(d.get("pack") or ""),
            scenario=str(d.get("scenario") or ""),
            passed=bool(d.get("passed")),
            score=_float(d.get("score")),
            failure_mode=_str_or_none(d.get("failure_mode")),
            error=_str_or_none(d.get("error")),
            verdict=dict(verdict) if isinstance(verdict, dict) else None,
            latency_s=_float(d.get("latency_s")),
            wall_s=_float(d.get("wall_s")),
            completion_tokens=_int_or_none(d.get("completion_tokens")),
            repeat=_int_or_none(d.get("repeat")),
            calls=_dicts(d.get("calls")),
            retries=_int_or_none(d.get("retries")) or 0,
            messages=list(messages) if isinstance(messages, list) else None,
            events=tuple(d["events"]) if isinstance(d.get("events"), list) else (),
            state=dict(state) if isinstance(state, dict) else None,
            nodeid=_str_or_none(d.get("nodeid")),
            pack_version=_str_or_none(d.get("pack_version")),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            model=_str_or_none(d.get("model")),
            model_label=_str_or_none(d.get("model_label")),
            kind=kind,
            outcome=_str_or_none(d.get("outcome")),
            resumed=bool(d.get("resumed")),
            history=_dicts(d.get("history")),
            extra={k: v for k, v in d.items() if k not in _NAMES},
        )


_FIELDS = dataclasses.fields(RunRecord)
_NAMES = frozenset(f.name for f in _FIELDS) - {"extra"}
_DEFAULTS: dict[str, Any] = {
    f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    for f in _FIELDS
    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
}


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, Mapping) and not isinstance(v, dict):
        return dict(v)
    return v


def call_record(c: ChatResult) -> dict[str, Any]:
    """One request and its raw response, as the run log keeps them."""
    rec: dict[str, Any] = {
        "request": c.request,
        "response": c.response,
        "latency_s": round(c.latency_s, 6),
        "usage": c.usage,
        "timings": c.timings,
    }
    if c.retries:
        rec["retries"] = c.retries
    if c.stream is not None:
        rec["stream"] = c.stream
    if c.cached:
        rec["cached"] = True
    if c.replica is not None:
        rec["replica"] = c.replica
    return rec


def records_of(runlog: Mapping[str, Any]) -> list[RunRecord]:
    """The records of a run log (already read and migrated)."""
    results = runlog.get("results")
    if not isinstance(results, list):
        return []
    return [RunRecord.from_json(r) for r in results if isinstance(r, dict)]


def user_properties(rec: RunRecord) -> list[Property]:
    """The ``llmbench.*`` properties JUnit shows for a record."""
    if rec.kind == "pack_error":
        return []
    props: list[Property] = [("llmbench.pack", rec.pack)]
    if rec.kind == "function":
        props += [
            ("llmbench.passed", bool(rec.passed)),
            ("llmbench.score", float(rec.score)),
            ("llmbench.failure_mode", rec.failure_mode or ""),
        ]
        return props
    props += [
        ("llmbench.scenario", rec.scenario),
        ("llmbench.passed", bool(rec.passed)),
        ("llmbench.score", float(rec.score)),
        ("llmbench.failure_mode", rec.failure_mode or ""),
    ]
    if rec.category:
        props.append(("llmbench.category", rec.category))
    props.append(("llmbench.latency_s", float(rec.latency_s)))
    if rec.completion_tokens is not None:
        props.append(("llmbench.completion_tokens", int(rec.completion_tokens)))
    if rec.repeat is not None:
        props.append(("llmbench.repeat", int(rec.repeat)))
    if rec.model_label is not None:
        props.append(("llmbench.model", rec.model_label))
    return props


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


@dataclass(frozen=True, slots=True)
class RunHeader:
    """What the readers use from a run log's header (the log itself stays as written)."""

    model: str | None = None
    models: tuple[str, ...] = ()  # a multi-model run's labels
    endpoint: str | None = None  # its name
    thinking: str | None = None  # on, off or pack (None in logs that did not say)
    sampling: Mapping[str, Any] | None = None  # None: older logs, canonical only
    started_at: str | None = None
    duration_s: float | None = None
    incomplete: bool = False  # recovered from the crash journal
    packs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunHeader:
        ep = d.get("endpoint")
        models = d.get("models")
        sampling = d.get("sampling")
        packs = d.get("packs")
        duration = d.get("duration_s")
        return cls(
            model=_opt_str(d.get("model")),
            models=tuple(str(m) for m in models) if isinstance(models, list) else (),
            endpoint=_opt_str(ep.get("name") if isinstance(ep, dict) else ep),
            thinking=_opt_str(d.get("thinking")),
            sampling=dict(sampling) if isinstance(sampling, dict) else None,
            started_at=_opt_str(d.get("started_at")),
            duration_s=float(duration) if isinstance(duration, (int, float)) else None,
            incomplete=bool(d.get("incomplete")),
            packs={str(k): dict(v) for k, v in packs.items() if isinstance(v, dict)}
            if isinstance(packs, dict)
            else {},
        )
