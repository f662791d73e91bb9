"""Generic verifiers: exact, contains, regex, number, json."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..output import Output
from ._text import answer_line, normalize, parse_number, short, strip_fence
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExactArgs(_Args):
    value: str
    ignore_case: bool = False
    collapse_ws: bool = True
    strip_punct: bool = False


@register("exact")
class Exact(Verifier):
    """The whole answer equals ``value`` after the stated normalisation."""

    Args = ExactArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: ExactArgs = self.args  # type: ignore[assignment]

        def norm(s: str) -> str:
            return normalize(
                s, ignore_case=a.ignore_case, collapse_ws=a.collapse_ws, strip_punct=a.strip_punct
            ).strip()

        got = norm(output.text)
        ok = bool(got) and got == norm(a.value)
        return Verdict.from_checks([Check("answer equals", ok, short(output.text), short(a.value))])


class ContainsArgs(_Args):
    all: list[str] = Field(default_factory=list)
    any: list[str] = Field(default_factory=list)
    none: list[str] = Field(default_factory=list)
    ignore_case: bool = True
    word_boundary: bool = True

    @field_validator("all", "any")
    @classmethod
    def _non_empty_items(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("empty strings would match anything")
        return v


@register("contains")
class Contains(Verifier):
    """Every ``all`` string, at least one ``any`` string and no ``none`` string appear."""

    Args = ContainsArgs

    def _has(self, text: str, needle: str) -> bool:
        a: ContainsArgs = self.args  # type: ignore[assignment]
        flags = re.IGNORECASE if a.ignore_case else 0
        pat = re.escape(needle)
        if a.word_boundary:
            pat = rf"(?<!\w){pat}(?!\w)"
        return re.search(pat, text, flags) is not None

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: ContainsArgs = self.args  # type: ignore[assignment]
        if not (a.all or a.any):
            return Verdict.fail("contains needs 'all' or 'any'", "config")
        text = output.text
        checks = [Check(f"contains {n!r}", self._has(text, n)) for n in a.all]
        if a.any:
            hit = [n for n in a.any if self._has(text, n)]
            checks.append(Check("contains one of", bool(hit), repr(hit), repr(a.any)))
        checks += [Check(f"does not contain {n!r}", not self._has(text, n)) for n in a.none]
        return Verdict.from_checks(checks)


class RegexArgs(_Args):
    pattern: str
    mode: Literal["fullmatch", "line", "search"] = "fullmatch"
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:  # pydantic only reports ValueError nicely
            raise ValueError(f"invalid regex: {exc}") from None
        if re.fullmatch(v, "") is not None:
            raise ValueError("pattern matches the empty string")
        if re.fullmatch(v, "x") is not None and re.fullmatch(v, "I'm sorry.") is not None:
            raise ValueError("pattern accepts arbitrary text")
        return v


@register("regex")
class Regex(Verifier):
    """Anchored regex: the whole answer (``fullmatch``), one whole line (``line``),
    or anywhere (``search``)."""

    Args = RegexArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: RegexArgs = self.args  # type: ignore[assignment]
        flags = re.IGNORECASE if a.ignore_case else 0
        text = output.text.strip()
        if a.mode == "fullmatch":
            ok = re.fullmatch(a.pattern, text, flags | re.DOTALL) is not None
        elif a.mode == "line":
            ok = any(re.fullmatch(a.pattern, ln.strip(), flags) for ln in text.splitlines())
        else:
            ok = re.search(a.pattern, text, flags) is not None
        return Verdict.from_checks([Check(f"{a.mode} /{a.pattern}/", ok, short(text), "a match")])


class NumberArgs(_Args):
    value: float
    abs_tol: float = 0.0
    rel_tol: float = 0.0
    source: Literal["answer_line", "last_number", "whole"] = "answer_line"


@register("number")
class Number(Verifier):
    """A number equals ``value`` within tolerance. ``answer_line`` reads the last
    ``ANSWER: <number>`` line; ``whole`` needs the answer to be just the number."""

    Args = NumberArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: NumberArgs = self.args  # type: ignore[assignment]
        text = output.text.strip()
        got: float | None
        if a.source == "answer_line":
            line = answer_line(text)
            got = parse_number(line) if line is not None else None
            where = "ANSWER line"
        elif a.source == "whole":
            cleaned = text.replace(",", "").strip().rstrip(".")
            try:
                got = float(cleaned)
            except ValueError:
                got = None
            where = "whole answer"
        else:
            nums = re.findall(r"[-+]?\d[\d,]*(?:\.\d+)?", text)
            got = parse_number(nums[-1]) if nums else None
            where = "last number"
        if got is None:
            return Verdict.from_checks([Check(f"number in {where}", False, "none", f"{a.value:g}")])
        ok = math.isclose(got, a.value, rel_tol=a.rel_tol, abs_tol=a.abs_tol)
        tol = f" ± {a.abs_tol:g}" if a.abs_tol else (f" ± {a.rel_tol:.2%}" if a.rel_tol else "")
        return Verdict.from_checks(
            [Check(f"number in {where}", ok, f"{got:g}", f"{a.value:g}{tol}")]
        )


class JsonArgs(_Args):
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    equals: Any = None
    strict: bool = True

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            import jsonschema  # only packs with JSON verifiers pay for it (~0.1 s)

            try:
                jsonschema.Draft202012Validator.check_schema(v)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"invalid JSON Schema: {exc.message}") from None
        return v


def parse_json_answer(text: str, strict: bool) -> tuple[Any, str | None, bool]:
    """(value, error, was_fenced). Strict: the answer is JSON and nothing else."""
    body = text.strip()
    fenced = False
    if not strict:
        body, fenced = strip_fence(body)
    if not body:
        return None, "empty answer", fenced
    try:
        return json.loads(body), None, fenced
    except ValueError as exc:
        return None, f"not JSON ({exc.args[0] if exc.args else exc})", fenced


@register("json")
class Json(Verifier):
    """The answer parses as JSON, validates against ``schema`` (jsonschema, draft
    2020-12) and, if given, equals ``equals``. Strict forbids prose and fences."""

    Args = JsonArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: JsonArgs = self.args  # type: ignore[assignment]
        if a.schema_ is None and a.equals is None:
            return Verdict.fail("json needs 'schema' or 'equals'", "config")
        value, err, fenced = parse_json_answer(output.text, a.strict)
        if err is not None:
            loose_ok = False
            if a.strict:
                _, loose_err, _ = parse_json_answer(output.text, False)
                loose_ok = loose_err is None
            return Verdict.from_checks(
                [Check("parses as JSON", False, err, "JSON only" if a.strict else "JSON")],
                category="invalid_json",
                data={"loose_parse": loose_ok},
            )
        checks = [Check("parses as JSON", True, "fenced" if fenced else "")]
        if a.schema_ is not None:
            import jsonschema

            v = jsonschema.Draft202012Validator(a.schema_)
            errors = sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path))
            if errors:
                e = errors[0]
                path = "/".join(str(p) for p in e.absolute_path) or "<root>"
                checks.append(Check("matches schema", False, f"{path}: {e.message[:120]}", "valid"))
            else:
                checks.append(Check("matches schema", True))
        if a.equals is not None:
            checks.append(
                Check(
                    "equals expected",
                    value == a.equals,
                    short(json.dumps(value)),
                    short(json.dumps(a.equals)),
                )
            )
        return Verdict.from_checks(checks, category="schema_violation")
