"""Verifiers of agent sessions (core.agent) and of thinking hygiene.

Verdicts come from the environment's final state (``Output.state``) and the call
sequence (``Output.events`` and the turns' tool calls), never from prose alone.
Every assistant turn gets one check, so a failure names the turn where the session
went wrong ("turn 4: edit_file edits collapsed to []").

``agent``            per-turn call checks, turn/token limits, loops, final-state
                     expectations, required/forbidden calls, recovery after an injected
                     error.
``agent_brief``      research through tools, a multi-section briefing written after
                     the tool turns, a secondary action (save) in the requested order.
``thinking_hygiene`` no think markup in the answer, a non-empty correct answer,
                     reasoning absent when thinking is off and present when it is on.

Failure categories: wrong_tool, invalid_json, truncated, empty_object,
schema_violation, repeated_failing_call, destructive_call, stuck_loop, turn_limit,
token_limit, gave_up, no_recovery, not_emitted, wrong_order, skipped_deliverable,
final_state, text_check; leaked_think, empty_answer, wrong_answer, reasoning_when_off,
no_reasoning (and config for a scenario the verifier cannot judge).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..envs import parse_args
from ..envs.vfs import norm_path
from ..output import Output
from ..schema import AssistantTurn, ToolCall
from ._text import short
from ._toolcall_match import _looks_truncated
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext

Fact = Union[str, list[str]]  # noqa: UP007 - pydantic needs a runtime union on 3.10


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _alts(fact: Fact) -> list[str]:
    return [fact] if isinstance(fact, str) else list(fact)


def _has_fact(text: str, fact: Fact) -> bool:
    low = text.casefold()
    return any(a.casefold() in low for a in _alts(fact))


def _show_fact(fact: Fact) -> str:
    alts = _alts(fact)
    return repr(alts[0]) if len(alts) == 1 else "one of " + repr(alts)


def _same(found: Any, wanted: Any) -> bool:
    if isinstance(found, str) and isinstance(wanted, str):
        return found.strip().casefold() == wanted.strip().casefold()
    return bool(found == wanted)


class CallSpec(_Args):
    """A call pattern: tool name, acceptable values per argument, facts in the arguments."""

    tool: str
    args: dict[str, list[Any]] = Field(default_factory=dict)
    contains: list[Fact] = Field(default_factory=list)

    def matches(self, name: str, args: dict[str, Any] | None, raw: str) -> bool:
        if name != self.tool:
            return False
        if self.args and args is None:
            return False
        for k, ok in self.args.items():
            val = (args or {}).get(k)
            if not any(_same(val, w) for w in ok):
                return False
        return all(_has_fact(raw, f) for f in self.contains)

    def show(self) -> str:
        parts = [f"{k}={v[0]!r}" for k, v in self.args.items()]
        parts += [f"~{_show_fact(f)}" for f in self.contains]
        return f"{self.tool}({', '.join(parts)})"


# --------------------------------------------------------------------------- per call


@dataclass
class CallView:
    """One emitted call with its outcome in the environment."""

    turn: int
    number: int  # 1-based over the exchange
    call: ToolCall
    args: dict[str, Any] | None
    raw: str
    ok: bool = False
    error: str | None = None
    injected: bool = False
    loop_of: int | None = None  # the earlier failed call it repeats

    def label(self) -> str:
        a = self.args or {}
        hint = a.get("path") or a.get("name") or a.get("key") or a.get("query") or a.get("url")
        if isinstance(hint, str) and hint:
            return f"{self.call.name}({short(hint, 40)})"
        return f"{self.call.name}(...)"


@dataclass
class Session:
    turns: list[AssistantTurn]
    calls: list[CallView] = field(default_factory=list)
    end: dict[str, Any] = field(default_factory=dict)
    injected: list[CallView] = field(default_factory=list)

    def by_turn(self, t: int) -> list[CallView]:
        return [c for c in self.calls if c.turn == t]


def read_session(output: Output) -> Session:
    """Pair the turns' calls with the loop's call events (same order)."""
    s = Session(list(output.turns))
    events = [e for e in output.events if e.get("type") == "call"]
    loops = {e.get("call"): e for e in output.events if e.get("type") == "loop"}
    injected = {e.get("call") for e in output.events if e.get("type") == "injected_error"}
    k = 0
    for t, turn in enumerate(output.turns, start=1):
        for call in turn.tool_calls:
            args, _ = parse_args(call.arguments)
            view = CallView(t, k + 1, call, args, call.raw_arguments())
            if k < len(events):
                ev = events[k]
                view.ok = bool(ev.get("ok"))
                view.error = ev.get("error")
                view.injected = ev.get("call") in injected
                loop = loops.get(ev.get("call"))
                view.loop_of = loop.get("repeats_call") if loop else None
            s.calls.append(view)
            if view.injected:
                s.injected.append(view)
            k += 1
    ends = [e for e in output.events if e.get("type") in ("end", "limit")]
    s.end = ends[-1] if ends else {"type": "end", "reason": "answer", "turn": len(output.turns)}
    return s


def _tool_params(tools: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in tools or []:
        fn = t.get("function", t) if isinstance(t, dict) else {}
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            params = fn.get("parameters")
            out[fn["name"]] = params if isinstance(params, dict) else {}
    return out


_EMPTY: tuple[Any, ...] = ({}, [], "[]", "{}", "")


def _empty_problem(args: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """The empty-object bug: arguments or a structured argument collapsed to nothing."""
    props = schema.get("properties") or {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    if not args and required:
        return "arguments collapsed to {}"
    for r in required:
        if r not in args:
            return f"required key {r!r} missing"
    for key, sub in props.items():
        if key not in args or not isinstance(sub, dict):
            continue
        val = args[key]
        if sub.get("type") in ("array", "object") and any(
            val == e and type(val) is type(e) for e in _EMPTY
        ):
            return f"{key} collapsed to {json.dumps(val)}"
        if sub.get("type") == "array" and isinstance(val, list):
            for i, item in enumerate(val):
                if item == {}:
                    return f"{key}[{i}] collapsed to {{}}"
    return None


@dataclass
class TurnCheck:
    check: Check
    category: str | None


class AgentArgsBase(_Args):
    # write_file over a file that existed at the start counts as the wrong tool.
    no_overwrite: bool = False
    forbid: list[CallSpec] = Field(default_factory=list)
    # Tool results that are errors the model caused (not injected) allowed in total.
    max_tool_errors: int | None = Field(default=None, ge=0)
    max_calls: int | None = Field(default=None, ge=1)


class _AgentBase(Verifier):
    """Per-turn checks shared by the agent verifiers."""

    _turns: list[AssistantTurn]

    def _initial(self, key: str) -> Any:
        return (self.scenario.environment or {}).get(key) or []

    def _initial_files(self) -> dict[str, str]:
        files = (self.scenario.environment or {}).get("files") or {}
        return {norm_path(str(k)): str(v) for k, v in files.items()}

    def call_problem(
        self, c: CallView, params: dict[str, dict[str, Any]]
    ) -> tuple[str, str] | None:
        """(category, text) of the first thing wrong with one call, or None."""
        a: AgentArgsBase = self.args  # type: ignore[assignment]
        name = c.call.name
        if name not in params:
            return "wrong_tool", f"called unknown tool {name!r}"
        for spec in a.forbid:
            if spec.matches(name, c.args, c.raw):
                return "destructive_call", f"{c.label()} is forbidden here ({spec.show()})"
        if c.args is None:
            turn_cut = (
                c.turn <= len(self._turns) and self._turns[c.turn - 1].finish_reason == "length"
            )
            if turn_cut or _looks_truncated(c.raw):
                return "truncated", f"{name} arguments cut off: {short(c.raw[-40:], 50)}"
            return "invalid_json", f"{name} arguments are not a JSON object: {short(c.raw, 60)}"
        schema = params[name]
        empty = _empty_problem(c.args, schema)
        if empty:
            return "empty_object", f"{name} {empty}"
        if schema:
            errs = sorted(
                jsonschema.Draft202012Validator(schema).iter_errors(c.args),
                key=lambda e: list(e.absolute_path),
            )
            if errs:
                where = "/".join(str(p) for p in errs[0].absolute_path) or "arguments"
                return "schema_violation", f"{name} {where}: {errs[0].message}"
        if a.no_overwrite and name == "write_file":
            path = norm_path(str(c.args.get("path", "")))
            if path in self._initial_files():
                return "wrong_tool", f"write_file rewrote existing {path} (use edit_file)"
        if c.loop_of is not None:
            return (
                "repeated_failing_call",
                f"re-issued {c.label()} after call {c.loop_of} failed with the same arguments",
            )
        return None

    def turn_checks(self, s: Session) -> list[TurnCheck]:
        a: AgentArgsBase = self.args  # type: ignore[assignment]
        self._turns = s.turns
        params = _tool_params(self.scenario.tools)
        out: list[TurnCheck] = []
        errors = 0
        for t, turn in enumerate(s.turns, start=1):
            calls = s.by_turn(t)
            if not calls:
                text = turn.content or ""
                found = f"answer {short(text, 50)}" if text else "empty answer"
                out.append(TurnCheck(Check(f"turn {t}", True, found), None))
                continue
            shown = ", ".join(c.label() for c in calls)
            problem: tuple[str, str] | None = None
            for c in calls:
                problem = self.call_problem(c, params)
                if problem:
                    break
                if c.error and not c.injected:
                    errors += 1
                    if a.max_tool_errors is not None and errors > a.max_tool_errors:
                        problem = (
                            "tool_errors",
                            f"{c.label()} failed ({short(c.error, 60)}); "
                            f"more than {a.max_tool_errors} tool error(s)",
                        )
                        break
            if problem:
                out.append(TurnCheck(Check(f"turn {t}", False, problem[1]), problem[0]))
            else:
                out.append(TurnCheck(Check(f"turn {t}", True, shown), None))
        if a.max_calls is not None and len(s.calls) > a.max_calls:
            out.append(
                TurnCheck(
                    Check("number of calls", False, str(len(s.calls)), f"at most {a.max_calls}"),
                    "stuck_loop",
                )
            )
        return out

    @staticmethod
    def end_check(s: Session) -> TurnCheck:
        end = s.end
        t = end.get("turn")
        if end.get("type") == "end":
            return TurnCheck(Check("session ends with an answer", True, f"turn {t}"), None)
        what = end.get("what", "turns")
        keys = [(c.call.name, c.raw) for c in s.calls[-3:]]
        if what == "turns":
            stuck = len(keys) == 3 and len(set(keys)) == 1
            cat = "stuck_loop" if stuck else "turn_limit"
            found = f"turn {t}: turn limit reached while still calling tools"
            if stuck:
                found += f" (same {s.calls[-1].label()} 3 times)"
            return TurnCheck(Check("session ends with an answer", False, found, "an answer"), cat)
        found = f"turn {t}: {what} budget spent while still calling tools"
        return TurnCheck(
            Check("session ends with an answer", False, found, "an answer"), "token_limit"
        )

    @staticmethod
    def finish(
        checks: list[TurnCheck], data: dict[str, Any], metrics: dict[str, list[float]] | None = None
    ) -> Verdict:
        cat = next((c.category for c in checks if not c.check.passed), None)
        bad = next((c.check.name for c in checks if not c.check.passed), None)
        if bad and bad.startswith("turn "):
            data["first_bad_turn"] = int(bad.split()[1])
        return Verdict.from_checks(
            [c.check for c in checks],
            threshold=1.0,
            category=cat or "final_state",
            metrics=metrics or {},
            data=data,
        )


# --------------------------------------------------------------------------- agent


class MemoryExpect(_Args):
    key: list[str] | None = None
    contains: list[Fact] = Field(default_factory=list)


class JobExpect(_Args):
    cron: list[str] | None = None
    at: list[str] | None = None
    contains: list[Fact] = Field(default_factory=list)


class ArtifactExpect(_Args):
    name: list[str] | None = None
    kind: list[str] | None = None
    contains: list[Fact] = Field(default_factory=list)


class RecoverSpec(_Args):
    # Turns after the error in which a corrective call must come.
    within: int = Field(default=3, ge=1, le=10)
    # The error to recover from: the first failed call of this tool; default: the
    # first injected error.
    tool: str | None = None
    corrective: list[CallSpec] = Field(min_length=1)


class AgentArgs(AgentArgsBase):
    files: dict[str, str] = Field(default_factory=dict)
    files_absent: list[str] = Field(default_factory=list)
    files_contain: dict[str, list[Fact]] = Field(default_factory=dict)
    files_not_contain: dict[str, list[str]] = Field(default_factory=dict)
    # Globs of files that must exist unchanged at the end.
    unchanged: list[str] = Field(default_factory=list)
    memory: list[MemoryExpect] = Field(default_factory=list)
    memory_absent: list[MemoryExpect] = Field(default_factory=list)
    jobs: list[JobExpect] = Field(default_factory=list)
    jobs_count: int | None = Field(default=None, ge=0)
    artifacts: list[ArtifactExpect] = Field(default_factory=list)
    artifacts_count: int | None = Field(default=None, ge=0)
    visited: list[str] = Field(default_factory=list)
    # Successful calls that must appear, in this order (other calls may come between).
    calls: list[CallSpec] = Field(default_factory=list)
    recover: RecoverSpec | None = None
    final_contains: list[Fact] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> AgentArgs:
        state = (
            self.files
            or self.files_absent
            or self.files_contain
            or self.memory
            or self.memory_absent
            or self.jobs
            or self.artifacts
            or self.calls
            or self.visited
            or self.recover
        )
        if not state:
            raise ValueError("an agent scenario needs a state or call expectation")
        return self


def _norm_text(text: str) -> str:
    return text.rstrip() + "\n"


def _first_diff(found: str, wanted: str) -> str:
    fl, wl = found.splitlines(), wanted.splitlines()
    for i in range(max(len(fl), len(wl))):
        a = fl[i] if i < len(fl) else "<end of file>"
        b = wl[i] if i < len(wl) else "<end of file>"
        if a != b:
            return f"line {i + 1} is {short(a, 50)} instead of {short(b, 50)}"
    return "whitespace differs"


@register("agent")
class AgentVerifier(_AgentBase):
    """A session over a stateful environment, judged by its calls and final state."""

    Args = AgentArgs

    @property
    def a(self) -> AgentArgs:
        assert isinstance(self.args, AgentArgs)
        return self.args

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        if output.state is None:
            return Verdict.fail("no environment state: the scenario has no environment", "config")
        s = read_session(output)
        checks = self.turn_checks(s)
        checks.append(self.end_check(s))
        if self.a.recover is not None:
            checks.append(self._recovery(s, self.a.recover))
        checks += self._call_order(s)
        state = self._state(output.state, s)
        last = s.calls[-1] if s.calls else None
        if (
            any(not c.check.passed for c in state)
            and s.end.get("type") == "end"
            and last is not None
            and not last.ok
        ):
            # The model read a tool error and stopped with the work unfinished.
            found = (
                f"turn {s.end.get('turn')}: stopped after {last.label()} failed at turn {last.turn}"
            )
            checks.append(TurnCheck(Check("keeps going after errors", False, found), "gave_up"))
        checks += state
        text = output.text
        for fact in self.a.final_contains:
            ok = _has_fact(text, fact)
            found = "it" if ok else (short(text, 60) if text else "empty text")
            checks.append(
                TurnCheck(
                    Check("final answer mentions", ok, found, _show_fact(fact)),
                    None if ok else "text_check",
                )
            )
        data = {"turns": len(s.turns), "calls": len(s.calls), "end": s.end}
        return self.finish(checks, data)

    def _recovery(self, s: Session, spec: RecoverSpec) -> TurnCheck:
        name = "recovers from the tool error"
        if spec.tool is None:
            anchor = s.injected[0] if s.injected else None
        else:
            anchor = next((c for c in s.calls if c.call.name == spec.tool and not c.ok), None)
        if anchor is None:
            return TurnCheck(
                Check(name, False, "the failing call never happened", "the call that fails"),
                "not_emitted",
            )
        bad = anchor
        last_turn = bad.turn + spec.within
        for c in s.calls:
            if c.number <= bad.number:
                continue
            if c.turn > last_turn:
                break
            if c.loop_of is not None or (c.call.name == bad.call.name and c.raw == bad.raw):
                found = f"turn {c.turn}: re-issued {c.label()} after it failed at turn {bad.turn}"
                return TurnCheck(
                    Check(name, False, found, "a corrective call"), "repeated_failing_call"
                )
            if c.ok and any(x.matches(c.call.name, c.args, c.raw) for x in spec.corrective):
                return TurnCheck(Check(name, True, f"turn {c.turn}: {c.label()}"), None)
        after = [
            t for t in range(bad.turn + 1, min(last_turn, len(s.turns)) + 1) if not s.by_turn(t)
        ]
        if after:
            found = f"turn {after[0]}: gave up after the error at turn {bad.turn}"
            return TurnCheck(Check(name, False, found, "a corrective call"), "gave_up")
        wanted = " or ".join(x.show() for x in spec.corrective)
        found = f"no corrective call in turns {bad.turn + 1}-{last_turn}"
        return TurnCheck(Check(name, False, found, wanted), "no_recovery")

    def _call_order(self, s: Session) -> list[TurnCheck]:
        out: list[TurnCheck] = []
        i = 0
        for spec in self.a.calls:
            hit = None
            for j in range(i, len(s.calls)):
                c = s.calls[j]
                if c.ok and spec.matches(c.call.name, c.args, c.raw):
                    hit = c
                    i = j + 1
                    break
            if hit is not None:
                out.append(TurnCheck(Check(f"call {spec.show()}", True, f"turn {hit.turn}"), None))
                continue
            anywhere = any(c.ok and spec.matches(c.call.name, c.args, c.raw) for c in s.calls)
            found = "only before an earlier required call" if anywhere else "no such call"
            out.append(
                TurnCheck(
                    Check(f"call {spec.show()}", False, found, "a successful call, in order"),
                    "wrong_order" if anywhere else "skipped_deliverable",
                )
            )
        return out

    def _state(self, state: dict[str, Any], s: Session) -> list[TurnCheck]:
        a = self.a
        out: list[TurnCheck] = []

        def add(name: str, ok: bool, found: str, wanted: str, cat: str) -> None:
            out.append(
                TurnCheck(
                    Check(name, ok, "" if ok else found, "" if ok else wanted), None if ok else cat
                )
            )

        files: dict[str, str] = state.get("files") or {}
        for path, want in a.files.items():
            if path not in files:
                add(f"file {path}", False, "missing", "the expected content", "skipped_deliverable")
            else:
                ok = _norm_text(files[path]) == _norm_text(want)
                diff = "" if ok else _first_diff(files[path], want)
                add(f"file {path}", ok, diff, "", "final_state")
        for path in a.files_absent:
            add(
                f"file {path} deleted",
                path not in files,
                "still there",
                "no such file",
                "final_state",
            )
        for path, facts in a.files_contain.items():
            text = files.get(path)
            if text is None:
                add(f"file {path}", False, "missing", "the file", "skipped_deliverable")
                continue
            for f in facts:
                add(
                    f"file {path} has {_show_fact(f)}",
                    _has_fact(text, f),
                    "not found",
                    "it",
                    "final_state",
                )
        for path, bads in a.files_not_contain.items():
            text = files.get(path, "")
            for b in bads:
                add(
                    f"file {path} lacks {b!r}",
                    b.casefold() not in text.casefold(),
                    "found",
                    "absent",
                    "final_state",
                )
        initial = self._initial_files()
        for pat in a.unchanged:
            for path, text in initial.items():
                if fnmatch.fnmatch(path, pat):
                    now = files.get(path)
                    found = "deleted" if now is None else "changed"
                    add(
                        f"file {path} untouched",
                        now == text,
                        found,
                        "unchanged",
                        "destructive_call",
                    )
        memory: dict[str, str] = state.get("memory") or {}
        for m in a.memory:
            ok = any(self._mem_match(k, v, m) for k, v in memory.items())
            near = [k for k in memory if m.key and any(_same(k, x) for x in m.key)]
            found = f"{len(memory)} entries, none match"
            if near:
                found = f"{near[0]!r}: {short(memory[near[0]], 50)}"
            cat = "final_state" if near else "skipped_deliverable"
            add(f"memory {self._mem_show(m)}", ok, found, "an entry", cat)
        for m in a.memory_absent:
            hit = next((k for k, v in memory.items() if self._mem_match(k, v, m)), None)
            add(
                f"no memory {self._mem_show(m)}", hit is None, f"key {hit!r}", "none", "final_state"
            )
        jobs: list[dict[str, Any]] = state.get("jobs") or []
        for j in a.jobs:
            ok = any(self._job_match(x, j) for x in jobs)
            # A job was made but is wrong, or none was made at all.
            made = len(jobs) >= len(self._initial("jobs")) and bool(s.calls)
            cat = "final_state" if made and any(c.ok for c in s.calls) else "skipped_deliverable"
            add(f"job {self._job_show(j)}", ok, self._jobs_show(jobs), "a matching job", cat)
        if a.jobs_count is not None:
            add(
                "number of jobs",
                len(jobs) == a.jobs_count,
                str(len(jobs)),
                str(a.jobs_count),
                "final_state",
            )
        arts: dict[str, dict[str, str]] = state.get("artifacts") or {}
        for x in a.artifacts:
            ok = any(self._art_match(n, v, x) for n, v in arts.items())
            shown = ", ".join(sorted(arts)) or "no artifacts"
            named = x.name is not None and any(_same(n, w) for n in arts for w in x.name)
            cat = "final_state" if named else "skipped_deliverable"
            add(f"artifact {self._art_show(x)}", ok, shown, "a matching artifact", cat)
        if a.artifacts_count is not None:
            add(
                "number of artifacts",
                len(arts) == a.artifacts_count,
                str(len(arts)),
                str(a.artifacts_count),
                "final_state",
            )
        visited: list[str] = state.get("visited") or []
        for page in a.visited:
            want = "/" + page.lstrip("/")
            add(
                f"page {want} read",
                want in visited,
                ", ".join(visited) or "none",
                "fetched",
                "skipped_deliverable",
            )
        return out

    @staticmethod
    def _mem_match(key: str, value: str, m: MemoryExpect) -> bool:
        if m.key is not None and not any(_same(key, k) for k in m.key):
            return False
        return all(_has_fact(f"{key} {value}", f) for f in m.contains)

    @staticmethod
    def _mem_show(m: MemoryExpect) -> str:
        parts = [f"key {m.key[0]!r}"] if m.key else []
        parts += [_show_fact(f) for f in m.contains]
        return " ".join(parts)

    @staticmethod
    def _job_match(job: dict[str, Any], j: JobExpect) -> bool:
        if j.cron is not None and not any(_same(job.get("cron"), c) for c in j.cron):
            return False
        if j.at is not None and not any(_same(job.get("at"), c) for c in j.at):
            return False
        text = f"{job.get('name', '')} {job.get('action', '')}"
        return all(_has_fact(text, f) for f in j.contains)

    @staticmethod
    def _job_show(j: JobExpect) -> str:
        parts = [f"cron {j.cron[0]!r}"] if j.cron else []
        parts += [f"at {j.at[0]}"] if j.at else []
        parts += [_show_fact(f) for f in j.contains]
        return " ".join(parts)

    @staticmethod
    def _jobs_show(jobs: list[dict[str, Any]]) -> str:
        if not jobs:
            return "no jobs"
        return "; ".join(f"{j.get('name')} {j.get('cron') or j.get('at')}" for j in jobs[:3])

    @staticmethod
    def _art_match(name: str, art: dict[str, str], x: ArtifactExpect) -> bool:
        if x.name is not None and not any(_same(name, n) for n in x.name):
            return False
        if x.kind is not None and not any(_same(art.get("kind"), k) for k in x.kind):
            return False
        return all(_has_fact(art.get("content", ""), f) for f in x.contains)

    @staticmethod
    def _art_show(x: ArtifactExpect) -> str:
        parts = [repr(x.name[0])] if x.name else []
        parts += [_show_fact(f) for f in x.contains[:3]]
        return " ".join(parts)


# --------------------------------------------------------------------------- brief


class BriefArgs(AgentArgsBase):
    # One call per topic: each must succeed before the briefing is written.
    research: list[CallSpec] = Field(min_length=1)
    sections: list[str] = Field(min_length=2)
    facts: list[Fact] = Field(default_factory=list)
    save: CallSpec
    order: Literal["brief_then_save", "save_then_brief"] = "brief_then_save"


def _has_section(text: str, title: str) -> bool:
    pat = rf"^[ \t]*(?:#+[ \t]*|\*\*|\d+[.)][ \t]*)*{re.escape(title)}"
    return re.search(pat, text, re.IGNORECASE | re.MULTILINE) is not None


@register("agent_brief")
class BriefVerifier(_AgentBase):
    """Research with tools, then a multi-section briefing in the reply and a save action,
    in the order the prompt asks."""

    Args = BriefArgs

    @property
    def a(self) -> BriefArgs:
        assert isinstance(self.args, BriefArgs)
        return self.args

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a = self.a
        s = read_session(output)
        checks = self.turn_checks(s)
        checks.append(self.end_check(s))
        last_research = 0
        for spec in a.research:
            hit = next(
                (c for c in s.calls if c.ok and spec.matches(c.call.name, c.args, c.raw)), None
            )
            ok = hit is not None
            found = f"turn {hit.turn}" if hit else "no such call"
            checks.append(
                TurnCheck(
                    Check(f"research {spec.show()}", ok, found),
                    None if ok else "skipped_deliverable",
                )
            )
            if hit is not None:
                last_research = max(last_research, hit.turn)
        brief_turn = next(
            (
                t
                for t, turn in enumerate(s.turns, start=1)
                if all(_has_section(turn.content or "", x) for x in a.sections)
            ),
            None,
        )
        saves = [c for c in s.calls if c.ok and c.call.name == a.save.tool]
        save = saves[-1] if saves else None
        name = "briefing with sections " + ", ".join(repr(x) for x in a.sections)
        if brief_turn is None:
            best = max(
                (sum(_has_section(t.content or "", x) for x in a.sections), i)
                for i, t in enumerate(s.turns, start=1)
            )
            found = "no reply has them" + (
                f" (turn {best[1]} has {best[0]} of {len(a.sections)})" if best[0] else ""
            )
            saved_text = "\n".join(str(v) for v in (save.args or {}).values()) if save else ""
            if saved_text and all(_has_section(saved_text, x) for x in a.sections):
                found += "; the briefing only went into the save call"
            checks.append(TurnCheck(Check(name, False, found, "in a reply"), "skipped_deliverable"))
        else:
            text = s.turns[brief_turn - 1].content or ""
            checks.append(TurnCheck(Check(name, True, f"turn {brief_turn}"), None))
            for f in a.facts:
                ok = _has_fact(text, f)
                checks.append(
                    TurnCheck(
                        Check(f"briefing states {_show_fact(f)}", ok, "" if ok else "missing"),
                        None if ok else "wrong_answer",
                    )
                )
            after = brief_turn > last_research
            found = f"turn {brief_turn}, research until turn {last_research}"
            checks.append(
                TurnCheck(
                    Check("briefing comes after the research", after, found),
                    None if after else "wrong_order",
                )
            )
        saved = save is not None and a.save.matches(save.call.name, save.args, save.raw)
        checks.append(
            TurnCheck(
                Check(
                    f"save {a.save.show()}",
                    saved,
                    f"turn {save.turn}" if save else "no successful save",
                ),
                None if saved else "skipped_deliverable",
            )
        )
        if save is not None and brief_turn is not None:
            if a.order == "brief_then_save":
                ok = brief_turn <= save.turn and s.calls[-1] is save
                found = f"briefing turn {brief_turn}, save turn {save.turn}"
                if s.calls[-1] is not save:
                    found += f", then {s.calls[-1].label()}"
                want = "the save as the last action, after the briefing"
            else:
                ok = save.turn < brief_turn and brief_turn == len(s.turns)
                found = f"save turn {save.turn}, briefing turn {brief_turn} of {len(s.turns)}"
                want = "the save first, the briefing as the final reply"
            checks.append(TurnCheck(Check("order", ok, found, want), None if ok else "wrong_order"))
        return self.finish(checks, {"turns": len(s.turns), "calls": len(s.calls)})


# --------------------------------------------------------------------------- thinking


def _has_word(text: str, needle: str) -> bool:
    """``needle`` as a whole token: "96" is not found in "0.961"."""
    pat = rf"(?<![\w.]){re.escape(needle.strip())}(?![\w]|\.\d)"
    return re.search(pat, text, re.IGNORECASE) is not None


_THINK_MARKUP = re.compile(r"</?(?:think|thinking|reasoning)>|<\|channel\|>analysis", re.I)


class ThinkingArgs(_Args):
    answer: list[Fact] = Field(min_length=1)
    answer_not: list[str] = Field(default_factory=list)
    # absent: thinking was requested off; present: thinking on must reason.
    reasoning: Literal["absent", "present", "any"] = "any"
    min_reasoning_words: int = Field(default=5, ge=1)
    max_answer_words: int | None = Field(default=None, ge=1)


@register("thinking_hygiene")
class ThinkingVerifier(Verifier):
    """Think markup never reaches the answer; the answer is there and right; reasoning
    follows the requested thinking mode."""

    Args = ThinkingArgs

    @property
    def a(self) -> ThinkingArgs:
        assert isinstance(self.args, ThinkingArgs)
        return self.args

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a = self.a
        prompt = self.scenario.user_text()
        # An echo of the prompt must not pass: a fact taken from the prompt needs an
        # ``answer_not`` word that the prompt also contains.
        echo_guard = any(_has_word(prompt, b) for b in a.answer_not)
        for f in a.answer:
            if not echo_guard and any(_has_word(prompt, x) for x in _alts(f)):
                return Verdict.fail(f"answer fact {_show_fact(f)} appears in the prompt", "config")
        checks: list[TurnCheck] = []
        raw = output.raw_turns or output.turns
        for t, turn in enumerate(raw, start=1):
            m = _THINK_MARKUP.search(turn.content or "")
            found = f"{m.group(0)!r} in the reply" if m else ""
            checks.append(
                TurnCheck(
                    Check(f"turn {t}: no think markup in the reply", m is None, found),
                    None if m is None else "leaked_think",
                )
            )
        text = output.text
        last = raw[-1] if raw else None
        cut = last is not None and last.finish_reason == "length"
        ok = bool(text.strip())
        found = "" if ok else "empty answer" + (" (cut off by max_tokens)" if cut else "")
        checks.append(
            TurnCheck(Check("answer not empty", ok, found), None if ok else "empty_answer")
        )
        if ok:
            for f in a.answer:
                hit = any(_has_word(text, x) for x in _alts(f))
                checks.append(
                    TurnCheck(
                        Check("answer states", hit, "" if hit else short(text, 60), _show_fact(f)),
                        None if hit else "wrong_answer",
                    )
                )
            for b in a.answer_not:
                hit = _has_word(text, b)
                checks.append(
                    TurnCheck(
                        Check(f"answer avoids {b!r}", not hit, "found" if hit else ""),
                        "wrong_answer" if hit else None,
                    )
                )
            if a.max_answer_words is not None:
                n = len(text.split())
                ok_len = n <= a.max_answer_words
                checks.append(
                    TurnCheck(
                        Check("answer length", ok_len, f"{n} words", f"<= {a.max_answer_words}"),
                        None if ok_len else "wrong_answer",
                    )
                )
        reasoning = output.reasoning
        words = len(reasoning.split())
        if a.reasoning == "absent":
            ok = not reasoning.strip()
            found = "" if ok else f"{words} words of reasoning"
            checks.append(
                TurnCheck(
                    Check("no reasoning (thinking off)", ok, found, "none"),
                    None if ok else "reasoning_when_off",
                )
            )
        elif a.reasoning == "present":
            ok = words >= a.min_reasoning_words
            checks.append(
                TurnCheck(
                    Check(
                        "reasoning present (thinking on)",
                        ok,
                        f"{words} words",
                        f">= {a.min_reasoning_words} words",
                    ),
                    None if ok else "no_reasoning",
                )
            )
        cat = next((c.category for c in checks if not c.check.passed), None)
        return Verdict.from_checks(
            [c.check for c in checks],
            threshold=1.0,
            category=cat,
            data={"reasoning_words": words, "reasoning_requested": a.reasoning},
        )
