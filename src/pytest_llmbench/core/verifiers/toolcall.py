"""BFCL-grade tool-call verifier: expected calls with acceptable argument values,
matched over every assistant turn of the exchange, plus optional final-text checks.

Expected calls are written per parameter as a list of acceptable values::

    calls:
      - name: get_weather
        args: {city: [Paris, paris], unit: [celsius, null]}   # null: may be omitted

Inside an expected object (at any depth) each key again maps to a list of
acceptable values; array values are compared element by element. ``steps`` are
ordered groups (a chain, each step in a later turn); calls inside one group match
in any order. ``calls: []`` with ``final_contains`` (and ``ask``) checks restraint;
``abstain: true`` accepts any text without a call.

``match: bfcl`` judges as BFCL's AST checker does (core.verifiers._bfcl: its string
normalisation, type rules, ``""`` = may be omitted, greedy parallel pairing,
Java/JavaScript values as strings in that language). ``bfcl.category`` picks the
checker (simple, multiple, parallel, irrelevance: no call, relevance: some call) and
the language; ``bfcl.functions`` gives each tool's required parameters and BFCL types
(taken from the tool's JSON schema when absent). The default matcher is stricter:
the whole exchange, schema validation, optimal parallel pairing.

Failure categories (per call in ``data["calls"]``, the first one as
``Verdict.category``): not_emitted, invalid_json, truncated, wrong_tool,
schema_violation, empty_object, wrong_order, unexpected_call, wrong_value,
text_check (and config for a scenario the verifier cannot judge).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..junk import REFUSAL
from ..output import Output
from ..schema import ToolCall
from . import _bfcl
from ._text import normalize
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext

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


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_acceptable(values: Any, where: str) -> None:
    """Every parameter (also inside expected objects) lists its acceptable values."""
    if not isinstance(values, list) or not values:
        raise ValueError(
            f"{where}: give a non-empty list of acceptable values "
            f"(an array value is written [[...]]), got {values!r}"
        )
    for v in values:
        _check_value(v, where)


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for k, sub in value.items():
            _check_acceptable(sub, f"{where}.{k}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, (list, dict)):
                _check_value(item, f"{where}[{i}]")


class ExpectedCall(_Args):
    name: str
    args: dict[str, list[Any]] = Field(default_factory=dict)
    # Parameters that may be left out, as an alternative to null in their list.
    optional: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> ExpectedCall:
        for k, vals in self.args.items():
            _check_acceptable(vals, f"{self.name}.{k}")
        unknown = [p for p in self.optional if p not in self.args]
        if unknown:
            raise ValueError(f"{self.name}: optional names unknown parameters {unknown}")
        return self

    def acceptable(self, param: str) -> list[Any]:
        vals = list(self.args[param])
        if param in self.optional and None not in vals:
            vals.append(None)
        return vals

    def signature(self) -> str:
        needed = [k for k in self.args if None not in self.acceptable(k)]
        parts = [f"{k}={_fmt(self.args[k][0])}" for k in needed]
        return f"{self.name}({', '.join(parts)})"


class BfclFunction(_Args):
    required: list[str] = Field(default_factory=list)
    # parameter -> [BFCL type] or [BFCL type, item type]
    types: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("types")
    @classmethod
    def _pairs(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for k, t in v.items():
            if not 1 <= len(t) <= 2:
                raise ValueError(f"{k}: give [type] or [type, item type]")
        return v


class BfclOptions(_Args):
    # BFCL's category name (simple_python, live_multiple, irrelevance, ...): picks the
    # checker and the language, and names the per-category score.
    category: str = "simple"
    language: Literal["python", "java", "javascript"] | None = None
    functions: dict[str, BfclFunction] = Field(default_factory=dict)

    @property
    def checker(self) -> _bfcl.Checker:
        return _bfcl.checker_for(self.category)

    @property
    def lang(self) -> _bfcl.Language:
        return self.language or _bfcl.language_for(self.category)


class BfclCall(_Args):
    """An expected call under ``match: bfcl``: BFCL's possible answers verbatim (a
    nested dict's keys need not list their values)."""

    name: str
    args: dict[str, list[Any]] = Field(default_factory=dict)
    optional: list[str] = Field(default_factory=list)


# A fact the final text must contain: one string, or a list of alternatives.
Fact = Union[str, list[str]]  # noqa: UP007 - pydantic needs a runtime union on 3.10


class ToolcallArgs(_Args):
    calls: list[ExpectedCall] | None = None
    steps: list[list[ExpectedCall]] | None = None
    # For ``calls``: ``any`` = one unordered group, ``strict`` = one step per call.
    order: Literal["any", "strict"] = "any"
    # A later step needs the previous step's tool results, so it must come in a later turn.
    steps_need_new_turn: bool = True
    final_contains: list[Fact] = Field(default_factory=list)
    final_not_contains: list[str] = Field(default_factory=list)
    # The final text must be a question: a '?' and every final_contains fact, none of
    # which may appear in the prompt (so an echo or a refusal cannot pass).
    ask: bool = False
    # Calls answered with a tool error that may precede the right calls (retries).
    max_failed_attempts: int = Field(default=0, ge=0, le=10)
    ignore_case: bool = True
    trim: bool = True
    collapse_ws: bool = False
    strip_punct: bool = False
    strip_accents: bool = False
    unordered_arrays: bool = False
    allow_extra_args: bool = False
    validate_schema: bool = True
    abstain: bool = Field(
        default=False, description="with `calls: []`: no tool call, any text passes"
    )
    match: Literal["default", "bfcl"] = Field(
        default="default",
        description="`bfcl`: judge one turn as BFCL's AST checker does (docs/fidelity.md)",
    )
    bfcl: BfclOptions | None = Field(
        default=None,
        description="with `match: bfcl`: `category` (BFCL's name: picks checker and "
        "language), `functions` (required parameters and BFCL types per tool)",
    )
    # `calls` under match: bfcl, moved here by _bfcl_calls (not an author's field)
    bfcl_calls: SkipJsonSchema[list[BfclCall]] = Field(default_factory=list, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _bfcl_calls(cls, data: Any) -> Any:
        # Under match: bfcl, `calls` are BFCL's possible answers verbatim (held apart:
        # the default matcher's shape rules do not apply to them).
        if isinstance(data, dict):
            if "bfcl_calls" in data:
                raise ValueError("unknown field 'bfcl_calls' (write 'calls')")
            calls = data.get("calls")
            if data.get("match") == "bfcl" and isinstance(calls, list):
                data = {**data, "calls": [], "bfcl_calls": calls}
        return data

    @field_validator("final_contains")
    @classmethod
    def _facts_non_empty(cls, v: list[Fact]) -> list[Fact]:
        for f in v:
            alts = [f] if isinstance(f, str) else f
            if not alts or any(not a.strip() for a in alts):
                raise ValueError("empty facts would match anything")
        return v

    @model_validator(mode="after")
    def _valid(self) -> ToolcallArgs:
        if (self.calls is None) == (self.steps is None):
            raise ValueError("give exactly one of 'calls' or 'steps'")
        if self.steps is not None and any(not s for s in self.steps):
            raise ValueError("a step needs at least one call")
        if self.match == "bfcl":
            return self._valid_bfcl()
        if self.bfcl is not None:
            raise ValueError("'bfcl' options need 'match: bfcl'")
        if self.abstain and self.groups():
            raise ValueError("'abstain' needs 'calls: []'")
        if not self.groups() and not self.final_contains and not self.abstain:
            raise ValueError("'calls: []' needs a text check ('final_contains') or 'abstain: true'")
        if self.ask and not self.final_contains:
            raise ValueError("'ask' needs 'final_contains' keywords absent from the prompt")
        return self

    def _valid_bfcl(self) -> ToolcallArgs:
        if self.steps is not None:
            raise ValueError("'match: bfcl' judges one turn: give 'calls', not 'steps'")
        opts = self.bfcl or BfclOptions()
        calls = self.bfcl_calls
        if opts.checker in ("irrelevance", "relevance"):
            if calls:
                raise ValueError(f"category {opts.category!r} takes 'calls: []'")
        elif not calls:
            raise ValueError(f"category {opts.category!r} needs the expected calls")
        elif opts.checker == "simple" and len(calls) != 1:
            raise ValueError(f"category {opts.category!r} expects exactly one call")
        return self

    def groups(self) -> list[list[ExpectedCall]]:
        if self.steps is not None:
            return [list(s) for s in self.steps]
        calls = self.calls or []
        if not calls:
            return []
        return [list(calls)] if self.order == "any" else [[c] for c in calls]


# --------------------------------------------------------------------------- helpers


def _fmt(value: Any, limit: int = 80) -> str:
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


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


# --------------------------------------------------------------------------- verifier


@register("toolcall")
class Toolcall(Verifier):
    """Expected tool calls (acceptable values per argument, unordered groups, ordered
    steps), schema validation, no extra calls, and final-text facts. Passes only when
    every check passes; ``data["calls"]`` keeps a per-call status."""

    Args = ToolcallArgs

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

    def _config_error(self, output: Output) -> str | None:
        names = {
            (t.get("function", t) or {}).get("name")
            for t in self.scenario.tools or []
            if isinstance(t, dict)
        }
        for group in self.a.groups():
            for exp in group:
                if exp.name not in names:
                    return f"expected tool {exp.name!r} is not among the scenario's tools"
        if self.a.validate_schema:
            for t in self.scenario.tools or []:
                fn = t.get("function", t) if isinstance(t, dict) else {}
                params = fn.get("parameters") if isinstance(fn, dict) else None
                if isinstance(params, dict):
                    bad = _schema_problem(json.dumps(params, sort_keys=True))
                    if bad:
                        return f"tool {fn.get('name')!r} has an invalid schema: {bad}"
        if self.a.ask:
            prompt = self.scenario.user_text()
            for fact in self.a.final_contains:
                for alt in [fact] if isinstance(fact, str) else fact:
                    if _has(prompt, alt) or _has(REFUSAL, alt):
                        return f"'ask' keyword {alt!r} appears in the prompt or a refusal"
        return None

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a = self.a
        if a.match == "bfcl":
            return self._check_bfcl(output)
        problem = self._config_error(output)
        if problem:
            return Verdict.fail(problem, "config")
        checks: list[Check] = []
        cats: list[str] = []
        data_calls: list[dict[str, Any]] = []

        def add(check: Check, cat: str) -> None:
            checks.append(check)
            cats.append("" if check.passed else cat)

        for t, turn in enumerate(output.turns, start=1):
            if turn.finish_reason == "length":
                add(
                    Check(f"turn {t} finish_reason", False, "'length'", "a complete turn"),
                    "truncated",
                )

        actuals = self._actuals(output)
        budget = a.max_failed_attempts
        kept: list[Actual] = []
        for act in actuals:
            if act.errored and budget > 0:
                budget -= 1
                data_calls.append(self._entry(act, None, "failed_attempt", "tool error, retried"))
            else:
                kept.append(act)

        groups = a.groups()
        expected_total = sum(len(g) for g in groups)
        matched = 0
        pos = 0
        k = 1
        prev_turn = 0
        extras: list[Actual] = []
        for step, group in enumerate(groups, start=1):
            # The last group may pick from all remaining calls, so a stray call
            # there is reported as extra rather than shifting the pairing.
            last = step == len(groups)
            chunk = kept[pos:] if last else kept[pos : pos + len(group)]
            pos += len(chunk)
            pairs, left = self._assign(group, chunk, k)
            extras += left
            for kk, exp, hit, res in pairs:
                if hit is None or res is None:
                    add(
                        Check(f"call {kk} {exp.name}", False, "no call", exp.signature()),
                        "not_emitted",
                    )
                    data_calls.append(
                        {
                            "index": None,
                            "turn": None,
                            "step": step,
                            "name": exp.name,
                            "status": "not_emitted",
                            "detail": f"wanted {exp.signature()}",
                        }
                    )
                    continue
                if a.steps_need_new_turn and hit.turn <= prev_turn:
                    early = Check(
                        f"call {kk} {exp.name} turn",
                        False,
                        f"turn {hit.turn}",
                        f"after turn {prev_turn}, which holds step {step - 1}",
                    )
                    res.add(early, "wrong_order")
                for c in res.checks:  # the call's most specific cause names all its checks
                    add(c, res.category or "wrong_value")
                status = res.category or "ok"
                matched += status == "ok"
                first = next((c for c in res.checks if not c.passed), None)
                detail = first.line().replace("[FAIL] ", "") if first else "matched"
                again = _repeats_error(hit, actuals)
                if first and again:
                    detail += f" (repeats call {again}, which got a tool error)"
                data_calls.append(self._entry(hit, step, status, detail))
            k += len(group)
            prev_turn = max([prev_turn] + [c.turn for c in chunk])

        extras += kept[pos:]
        extras.sort(key=lambda c: c.index)
        for act in extras:
            raw = act.call.raw_arguments()
            shown = f"{act.call.name}({raw if len(raw) <= 60 else raw[:57] + '...'})"
            wanted = "no tool call" if not groups else f"only the {expected_total} expected call(s)"
            add(
                Check(f"extra call {act.index} {act.call.name}", False, shown, wanted),
                "unexpected_call",
            )
            data_calls.append(self._entry(act, None, "unexpected_call", f"wanted {wanted}"))

        if a.abstain:  # any text, and the extra calls above already failed
            add(Check("answered without a tool call", not actuals), "unexpected_call")
        text = output.text
        for fact in a.final_contains:
            alts = [fact] if isinstance(fact, str) else fact
            found_alts = [x for x in alts if _has(text, x)]
            wanted = _fmt(alts[0]) if len(alts) == 1 else f"one of {_fmt(alts)}"
            found = _fmt(text, 70) if text else "empty text"
            if found_alts:
                found = _fmt(found_alts[0])
            add(Check("final text mentions", bool(found_alts), found, wanted), "text_check")
        for bad in a.final_not_contains:
            clean = not _has(text, bad)
            add(Check(f"final text does not contain {_fmt(bad)}", clean), "text_check")
        if a.ask:
            add(
                Check(
                    "final text asks a question",
                    "?" in text,
                    "a '?'" if "?" in text else "no '?'",
                    "a question to the user",
                ),
                "text_check",
            )

        category = next((c for c in cats if c), None)
        verdict = Verdict.from_checks(
            checks,
            threshold=1.0,
            category=category,
            metrics={"calls_matched": [float(matched), float(expected_total)]},
            data={
                "calls": data_calls,
                "expected_calls": expected_total,
                "emitted_calls": len(actuals),
            },
        )
        return verdict

    # ---- match: bfcl

    def _signature(self, name: str, opts: BfclOptions) -> _bfcl.Signature | None:
        fn = opts.functions.get(name)
        if fn is not None:
            types = {p: (t[0], t[1] if len(t) > 1 else None) for p, t in fn.types.items()}
            return _bfcl.Signature(tuple(fn.required), types)
        schema = self._tool_schema(name)
        if schema is None:
            return None
        props = schema.get("properties") or {}
        return _bfcl.Signature(
            tuple(schema.get("required") or []),
            {p: _bfcl_type(d) for p, d in props.items() if isinstance(d, dict)},
        )

    def _check_bfcl(self, output: Output) -> Verdict:
        opts = self.a.bfcl or BfclOptions()
        expected: list[tuple[str, dict[str, list[Any]]]] = []
        sigs: dict[str, _bfcl.Signature] = {}
        for exp in self.a.bfcl_calls:
            sig = self._signature(exp.name, opts)
            if sig is None:
                problem = f"expected tool {exp.name!r} is not among the scenario's tools"
                return Verdict.fail(problem, "config")
            sigs[exp.name] = sig
            # values verbatim (BFCL's "" = may be omitted); `optional` adds that ""
            args = {
                k: [*v, ""] if k in exp.optional and "" not in v else list(v)
                for k, v in exp.args.items()
            }
            unknown = [p for p in exp.optional if p not in exp.args]
            if unknown:
                return Verdict.fail(f"{exp.name}: optional names unknown {unknown}", "config")
            expected.append((exp.name, args))
        emitted = [(c.name, c.arguments) for t in output.turns for c in t.tool_calls]
        try:
            res = _bfcl.check(opts.checker, emitted, expected, sigs, opts.lang)
        except _bfcl.Unsupported as exc:
            return Verdict.fail(f"BFCL's checker cannot judge this: {exc}", "config")
        except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as e:
            # An answer shaped so that BFCL's checker raises (a string where the possible
            # answers hold dicts, ...): BFCL gives it no pass, neither do we.
            detail = f"BFCL's checker raises on this answer ({type(e).__name__}: {e})"
            return Verdict.fail(detail[:300], "wrong_value")
        checker = opts.checker
        wanted = {
            "irrelevance": "no tool call (any text)",
            "relevance": "at least one tool call",
        }.get(checker, " + ".join(f"{n}(...)" for n, _ in expected))
        shown = ", ".join(f"{n}({_fmt(_raw(a), 50)})" for n, a in emitted) or "no call"
        check = Check(f"bfcl {opts.category}", res.valid, res.error or shown, wanted)
        metrics = {f"bfcl:{opts.category}": [float(res.valid), 1.0]}
        if checker == "irrelevance" and res.valid:
            metrics["bfcl_no_call_pass"] = [1.0, 1.0]
        if checker == "relevance" and res.valid:
            metrics["bfcl_any_call_pass"] = [1.0, 1.0]
        return Verdict.from_checks(
            [check],
            threshold=1.0,
            category=None
            if res.valid
            else "not_emitted"
            if not emitted
            else _BFCL_CATEGORY.get(res.kind, "wrong_value"),
            metrics=metrics,
            data={
                "bfcl_error_type": res.kind,
                "emitted_calls": len(emitted),
                # BFCL passes these on the call/no-call alone: junk can pass them too
                "passes_by_rule": checker in ("irrelevance", "relevance") and res.valid,
            },
        )

    @staticmethod
    def _entry(act: Actual, step: int | None, status: str, detail: str) -> dict[str, Any]:
        return {
            "index": act.index,
            "turn": act.turn,
            "step": step,
            "name": act.call.name,
            "status": status,
            "detail": detail,
        }


# BFCL's error types in this verifier's failure vocabulary.
_BFCL_CATEGORY = {
    "wrong_func_name": "wrong_tool",
    "missing_required": "empty_object",
    "missing_optional": "empty_object",
    "unexpected_param": "wrong_value",
    "type_error": "schema_violation",
    "type_error:java": "schema_violation",
    "type_error:js": "schema_violation",
    "decoder_failed": "invalid_json",
    "wrong_count": "unexpected_call",
    "cannot_find_match": "wrong_value",
    "irrelevance": "unexpected_call",
    "relevance": "not_emitted",
}
_JSON_TO_BFCL = {
    "string": "string",
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "array": "array",
    "object": "dict",
}


def _bfcl_type(schema: dict[str, Any]) -> tuple[str, str | None]:
    """A JSON-schema property as BFCL types it (for scenarios without ``bfcl.functions``)."""
    t = schema.get("type")
    name = _JSON_TO_BFCL.get(t, "any") if isinstance(t, str) else "any"
    if name != "array":
        return name, None
    items = schema.get("items")
    it = items.get("type") if isinstance(items, dict) else None
    return name, _JSON_TO_BFCL.get(it, "any") if isinstance(it, str) else "any"


def _raw(args: Any) -> str:
    return args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)


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
