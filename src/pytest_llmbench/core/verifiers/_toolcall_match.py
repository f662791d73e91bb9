"""How the toolcall verifier matches calls: values against acceptable ones, one expected
call against one emitted call, the pairing over the exchange."""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema

from ..output import Output
from ..schema import ToolCall
from ._text import normalize
from ._toolcall_args import ExpectedCall, ToolcallArgs, _fmt
from .base import Check, Verifier

# When one call fails several ways, the most specific cause names it.
_CALL_PRECEDENCE = (
    "wrong_tool",
    "truncated",
    "invalid_json",
    "empty_object",
    "schema_violation",
    "wrong_order",
    "wrong_value",
)


# --------------------------------------------------------------------------- helpers


def _one_of(acceptable: list[Any]) -> str:
    vals = [v for v in acceptable if v is not None]
    text = f"one of {_fmt(vals, 120)}"
    return text + " or omitted" if None in acceptable else text


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_empty(v: Any) -> bool:
    return v == {} or v == [] or (isinstance(v, str) and not v.strip())


def _looks_truncated(raw: str) -> bool:
    """A JSON text cut off mid-way: an open string or unclosed brackets at the end."""
    stack: list[str] = []
    in_str = esc = False
    for ch in raw:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and (not stack or {"}": "{", "]": "["}[ch] != stack.pop()):
            return False
    return in_str or bool(stack)


@dataclass
class Issue:
    """One way an argument differs from what was expected."""

    path: str
    kind: Literal["missing", "empty", "value", "extra"]
    found: str
    wanted: str

    @property
    def category(self) -> str:
        return "empty_object" if self.kind in ("missing", "empty") else "wrong_value"


@dataclass
class Actual:
    """One emitted call with where it came from and how its tool answered."""

    call: ToolCall
    index: int  # 1-based over the whole exchange
    turn: int  # 1-based assistant turn
    errored: bool = False
    args: dict[str, Any] | None = None
    parse_error: str | None = None
    truncated: bool = False


@dataclass
class CallResult:
    checks: list[Check] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    def add(self, check: Check, category: str = "") -> None:
        self.checks.append(check)
        self.categories.append(category if not check.passed else "")

    @property
    def n_failed(self) -> int:
        return sum(not c.passed for c in self.checks)

    @property
    def category(self) -> str | None:
        failed = {c for c in self.categories if c}
        for cat in _CALL_PRECEDENCE:
            if cat in failed:
                return cat
        return None


# Schemas are checked once per distinct text: check_schema is slow.
@functools.lru_cache(maxsize=256)
def _schema_problem(schema_json: str) -> str | None:
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(schema_json))
    except jsonschema.SchemaError as exc:
        return exc.message
    return None


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_json))


def _repeats_error(act: Actual, actuals: list[Actual]) -> int | None:
    """Index of an earlier call with the same name and arguments that got a tool error."""
    for prev in actuals:
        if prev.index >= act.index:
            break
        if prev.errored and prev.call.name == act.call.name and prev.args == act.args:
            return prev.index
    return None


def _is_error_result(content: str | None) -> bool:
    if content is None:
        return False
    try:
        val = json.loads(content)
    except ValueError:
        return False
    return isinstance(val, dict) and "error" in val


def _has(text: str, needle: str) -> bool:
    pat = rf"(?<!\w){re.escape(needle.strip())}(?!\w)"
    return re.search(pat, text, re.IGNORECASE) is not None


class CallMatcher(Verifier):
    """The toolcall verifier's matching, apart from its verdicts."""

    @property
    def a(self) -> ToolcallArgs:
        return self.args  # type: ignore[return-value]

    # ---- value comparison

    def _norm(self, s: str) -> str:
        a = self.a
        out = normalize(
            s,
            ignore_case=a.ignore_case,
            collapse_ws=a.collapse_ws,
            strip_accents=a.strip_accents,
        )
        if a.strip_punct:
            # '#', '+' and ':' carry meaning in values (C#, C++, 10:30)
            out = re.sub(r"[^\w\s#+:]", "", out)
        return out.strip() if a.trim else out

    def _value_issues(self, path: str, got: Any, want: Any) -> list[Issue]:
        """Issues of ``got`` against one plain expected value (empty = equal)."""
        if isinstance(want, dict):
            if not isinstance(got, dict):
                return [Issue(path, "value", _fmt(got), "an object")]
            issues: list[Issue] = []
            for key, acceptable in want.items():
                issues += self._param_issues(f"{path}.{key}", key in got, got.get(key), acceptable)
            if not self.a.allow_extra_args:
                for key in got:
                    if key not in want:
                        issues.append(
                            Issue(f"{path}.{key}", "extra", _fmt(got[key]), "no such key")
                        )
            return issues
        if isinstance(want, list):
            if not isinstance(got, list):
                return [Issue(path, "value", _fmt(got), "an array")]
            if len(got) != len(want):
                return [
                    Issue(
                        path,
                        "value",
                        f"{len(got)} items {_fmt(got)}",
                        f"{len(want)} items {_fmt(want)}",
                    )
                ]
            if self.a.unordered_arrays:
                free = list(range(len(got)))
                for w in want:
                    hit = next((j for j in free if not self._value_issues(path, got[j], w)), None)
                    if hit is None:
                        return [Issue(path, "value", _fmt(got), f"{_fmt(want)} in any order")]
                    free.remove(hit)
                return []
            out: list[Issue] = []
            for i, (g, w) in enumerate(zip(got, want, strict=True)):
                out += self._value_issues(f"{path}[{i}]", g, w)
            return out
        ok: bool
        if isinstance(want, bool) or want is None:
            ok = got is want
        elif _is_number(want):
            # int where float is expected is fine, and 3.0 == 3
            ok = _is_number(got) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
        elif isinstance(want, str):
            ok = isinstance(got, str) and self._norm(got) == self._norm(want)
        else:
            ok = got == want
        return [] if ok else [Issue(path, "value", _fmt(got), _fmt(want))]

    def _param_issues(
        self, path: str, present: bool, got: Any, acceptable: list[Any]
    ) -> list[Issue]:
        """Issues of one parameter against its list of acceptable values."""
        if not present or got is None:
            if None in acceptable:
                return []
            return [Issue(path, "missing", "missing", _one_of(acceptable))]
        best: list[Issue] | None = None
        for want in acceptable:
            if want is None:
                continue
            issues = self._value_issues(path, got, want)
            if not issues:
                return []
            if best is None or len(issues) < len(best):
                best = issues
        wanted = [w for w in acceptable if w is not None]
        if _is_empty(got) and not any(_is_empty(w) for w in wanted):
            return [Issue(path, "empty", _fmt(got), _one_of(acceptable))]
        nested = any(isinstance(w, (dict, list)) for w in wanted)
        if nested and best is not None and len(wanted) == 1:
            return best  # point at the exact nested key that differs
        return [Issue(path, "value", _fmt(got), _one_of(acceptable))]

    # ---- one expected call against one actual call

    def _tool_schema(self, name: str) -> dict[str, Any] | None:
        for tool in self.scenario.tools or []:
            fn = tool.get("function", tool) if isinstance(tool, dict) else None
            if isinstance(fn, dict) and fn.get("name") == name:
                params = fn.get("parameters")
                return params if isinstance(params, dict) else {"type": "object"}
        return None

    def _schema_errors(self, name: str, args: dict[str, Any]) -> list[str]:
        schema = self._tool_schema(name)
        if schema is None or not self.a.validate_schema:
            return []
        # An explicit null for an optional property means "left out" (common in practice).
        required = set(schema.get("required") or [])
        args = {k: v for k, v in args.items() if v is not None or k in required}
        validator = _validator(json.dumps(schema, sort_keys=True))
        errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:120]}"
            for e in errors
        ]

    def _compare(self, k: int, exp: ExpectedCall, act: Actual) -> CallResult:
        res = CallResult()
        label = f"call {k}"
        if act.call.name != exp.name:
            wrong = Check(f"{label} tool", False, _fmt(act.call.name), _fmt(exp.name))
            res.add(wrong, "wrong_tool")
            return res
        label = f"call {k} {exp.name}"
        res.add(Check(f"call {k} tool", True, _fmt(act.call.name)))
        if act.args is None:
            cat = "truncated" if act.truncated else "invalid_json"
            what = "truncated JSON" if act.truncated else "invalid JSON"
            found = f"{what} {_fmt(act.call.raw_arguments(), 60)} ({act.parse_error})"
            res.add(Check(f"{label} arguments", False, found, "a JSON object"), cat)
            return res
        errors = self._schema_errors(exp.name, act.args)
        if errors:
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            res.add(
                Check(f"{label} schema", False, errors[0] + more, "valid per the tool's schema"),
                "schema_violation",
            )
        elif self._tool_schema(exp.name) is not None and self.a.validate_schema:
            res.add(Check(f"{label} schema", True))
        for param in exp.args:
            issues = self._param_issues(
                param, param in act.args, act.args.get(param), exp.acceptable(param)
            )
            if not issues:
                res.add(Check(f"{label}.{param}", True, _fmt(act.args.get(param))))
            for iss in issues:
                res.add(Check(f"{label}.{iss.path}", False, iss.found, iss.wanted), iss.category)
        if not self.a.allow_extra_args:
            for param, val in act.args.items():
                if param not in exp.args:
                    res.add(
                        Check(f"{label}.{param}", False, _fmt(val), "no such argument"),
                        "wrong_value",
                    )
        return res

    # ---- the exchange

    def _actuals(self, output: Output) -> list[Actual]:
        """All calls of all turns, each with whether its mock tool result was an error."""
        results = self._tool_results(output)
        out: list[Actual] = []
        for t, turn in enumerate(output.turns, start=1):
            for j, call in enumerate(turn.tool_calls):
                act = Actual(call, len(out) + 1, t)
                block = results[t - 1] if t - 1 < len(results) else []
                act.errored = _is_error_result(block[j] if j < len(block) else None)
                self._parse(act, cut=turn.finish_reason == "length")
                out.append(act)
        return out

    @staticmethod
    def _parse(act: Actual, cut: bool) -> None:
        raw = act.call.arguments
        if isinstance(raw, dict):
            act.args = raw
            return
        try:
            val = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            act.parse_error = str(exc).split(":")[0]
            act.truncated = cut or _looks_truncated(raw)
            return
        if isinstance(val, dict):
            act.args = val
        else:
            act.parse_error = f"a JSON {type(val).__name__}, not an object"

    @staticmethod
    def _tool_results(output: Output) -> list[list[str | None]]:
        """Tool-message contents that follow each of the exchange's assistant turns."""
        blocks: list[list[str | None]] = []
        current: list[str | None] | None = None
        for msg in output.messages:
            role = msg.get("role")
            if role == "assistant":
                current = []
                blocks.append(current)
            elif role == "tool" and current is not None:
                content = msg.get("content")
                current.append(content if isinstance(content, str) else None)
            else:
                current = None
        # Earlier assistant messages may come from the scenario's own history.
        return blocks[-len(output.turns) :] if output.turns else []

    def _assign(
        self, group: list[ExpectedCall], chunk: list[Actual], first_k: int
    ) -> tuple[list[tuple[int, ExpectedCall, Actual | None, CallResult | None]], list[Actual]]:
        """Best one-to-one pairing of a group's expected calls with a chunk of calls;
        also returns the chunk's calls left unpaired."""
        table = {
            (i, j): self._compare(first_k + i, e, a)
            for i, e in enumerate(group)
            for j, a in enumerate(chunk)
        }

        def score(perm: tuple[int, ...]) -> tuple[int, int, int]:
            pairs = [(i, j) for i, j in enumerate(perm) if j >= 0]
            return (
                sum(table[p].n_failed == 0 for p in pairs),
                sum(chunk[p[1]].call.name == group[p[0]].name for p in pairs),
                -sum(table[p].n_failed for p in pairs),
            )

        slots = list(range(len(chunk))) + [-1] * max(0, len(group) - len(chunk))
        best: tuple[int, ...] | None = None
        if math.perm(len(slots), len(group)) <= 5000:
            for perm in itertools.permutations(slots, len(group)):
                if best is None or score(perm) > score(best):
                    best = perm
        else:  # many calls: greedy pairing is good enough for diagnosis
            free, greedy = list(range(len(chunk))), []
            for i in range(len(group)):
                j = min(free, key=lambda j: (table[(i, j)].n_failed, j), default=-1)
                greedy.append(j)
                if j >= 0:
                    free.remove(j)
            best = tuple(greedy)
        assert best is not None
        pairs = [
            (first_k + i, group[i], chunk[j] if j >= 0 else None, table[(i, j)] if j >= 0 else None)
            for i, j in enumerate(best)
        ]
        left = [c for j, c in enumerate(chunk) if j not in best]
        return pairs, left
