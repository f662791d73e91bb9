"""What the agent-session verifiers share: the session read from an output (calls, their
results, turns), per-turn call checks, and the argument base."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from ..envs import parse_args
from ..envs.vfs import norm_path
from ..output import Output
from ..schema import AssistantTurn, ToolCall
from ._text import short
from ._toolcall_match import _looks_truncated
from .base import Check, Verdict, Verifier

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
