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

import json
from typing import Any

from ..junk import REFUSAL
from ..output import Output
from . import _bfcl
from ._toolcall_args import BfclOptions, ToolcallArgs, _fmt
from ._toolcall_match import Actual, CallMatcher, _has, _repeats_error, _schema_problem
from .base import Check, Verdict, register
from .context import VerifierContext

# --------------------------------------------------------------------------- verifier


@register("toolcall")
class Toolcall(CallMatcher):
    """Expected tool calls (acceptable values per argument, unordered groups, ordered
    steps), schema validation, no extra calls, and final-text facts. Passes only when
    every check passes; ``data["calls"]`` keeps a per-call status."""

    Args = ToolcallArgs

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


__all__ = ["Toolcall", "ToolcallArgs"]
