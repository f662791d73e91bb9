"""Verifiers of agent sessions (core.loop) and of thinking hygiene.

``agent`` is here; ``agent_brief`` in agent_brief.py, ``thinking_hygiene`` in
thinking.py, what they share in _agent_base.py.

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
from typing import Any

from pydantic import Field, model_validator

from ..output import Output
from ._agent_base import (
    AgentArgsBase,
    CallSpec,
    Fact,
    Session,
    TurnCheck,
    _AgentBase,
    _Args,
    _has_fact,
    _same,
    _show_fact,
    read_session,
)
from ._text import short
from .base import Check, Verdict, register
from .context import VerifierContext

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
