"""Structured-output verifiers: json_output, yaml, csv, markdown_table, xml.

Each one separates three kinds of checks: *format* (the answer is the document and
nothing else: no prose, no code fence), *structure* (parses, schema, header, row
count...) and *content* (expected values taken from the prompt's facts). ``strict``
decides whether format checks count; both variants are recorded in
``Verdict.metrics`` as ``<fmt>_strict`` and ``<fmt>_loose`` so a summary can show how
much a model loses to fences and chatter alone.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..output import Output
from ._text import short, strip_fence
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .generic import parse_json_answer


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- helpers


def show(value: Any, limit: int = 60) -> str:
    """A value as a trace shows it: strings quoted (so '12' differs from 12), the rest as JSON."""
    if isinstance(value, str):
        return short(value, limit)
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def values_equal(got: Any, want: Any, ignore_case: bool = False) -> bool:
    """JSON-value equality that keeps bool apart from numbers and compares numbers
    with a tiny tolerance (12 == 12.0, True != 1)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(got, bool) and isinstance(want, bool) and got == want
    if isinstance(want, (int, float)):
        return isinstance(got, (int, float)) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(want, str):
        if not isinstance(got, str):
            return False
        return got.casefold() == want.casefold() if ignore_case else got == want
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(values_equal(g, w, ignore_case) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(want)
            and all(values_equal(got[k], want[k], ignore_case) for k in want)
        )
    return bool(got is None and want is None)


def resolve_path(value: Any, path: str) -> tuple[bool, Any]:
    """Follow a dotted path (``items.0.sku``); integers index lists (negative ok)."""
    cur = value
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return False, None
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                idx = int(part)
            except ValueError:
                return False, None
            if not -len(cur) <= idx < len(cur):
                return False, None
            cur = cur[idx]
        else:
            return False, None
    return True, cur


def expect_checks(value: Any, expect: dict[str, Any], ignore_case: bool) -> list[Check]:
    out = []
    for path, want in expect.items():
        ok, got = resolve_path(value, path)
        if not ok:
            out.append(Check(path, False, "missing", show(want)))
        else:
            out.append(Check(path, values_equal(got, want, ignore_case), show(got), show(want)))
    return out


def _path_key(err: jsonschema.ValidationError) -> list[tuple[int, Any]]:
    # ints and strs can meet at the same depth; tag them so sorting never compares the two
    return [(0, p) if isinstance(p, int) else (1, str(p)) for p in err.absolute_path]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def describe_schema_error(err: jsonschema.ValidationError) -> Check:
    """One jsonschema error as a found/wanted check named by the JSON path."""
    path = ".".join(str(p) for p in err.absolute_path) or "<root>"
    inst: Any = err.instance
    vv: Any = err.validator_value
    sub = err.schema if isinstance(err.schema, dict) else {}
    kind = str(err.validator)
    if kind == "type":
        wanted = " or ".join(vv) if isinstance(vv, list) else str(vv)
        return Check(path, False, show(inst), wanted)
    if kind == "enum":
        return Check(path, False, show(inst), "one of " + ", ".join(show(x) for x in vv))
    if kind == "const":
        return Check(path, False, show(inst), show(vv))
    if kind == "required" and isinstance(inst, dict):
        missing = [p for p in vv if p not in inst]
        name = (
            f"{path}.{missing[0]}"
            if path != "<root>" and missing
            else (missing[0] if missing else path)
        )
        return Check(name, False, "missing", "present (required)")
    if kind in ("minItems", "maxItems") and isinstance(inst, list):
        lo, hi = sub.get("minItems"), sub.get("maxItems")
        if lo is not None and lo == hi:
            wanted = f"exactly {_count(lo, 'item')}"
        else:
            op = ">=" if kind == "minItems" else "<="
            wanted = f"{op} {_count(vv, 'item')}"
        return Check(f"{path} length", False, _count(len(inst), "item"), wanted)
    if kind == "additionalProperties" and isinstance(inst, dict):
        known = set(sub.get("properties", {}))
        extra = sorted(k for k in inst if k not in known)
        found = "extra key(s) " + ", ".join(repr(k) for k in extra)
        return Check(path, False, found, "no other keys")
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if kind in bounds:
        return Check(path, False, show(inst), f"{bounds[kind]} {vv}")
    if kind in ("minLength", "maxLength") and isinstance(inst, str):
        op = ">=" if kind == "minLength" else "<="
        return Check(path, False, f"{len(inst)} chars", f"{op} {vv} chars")
    if kind == "pattern":
        return Check(path, False, show(inst), f"match /{vv}/")
    if kind == "format":
        return Check(path, False, show(inst), f"format {vv}")
    if kind == "uniqueItems":
        return Check(path, False, "duplicate items", "unique items")
    return Check(path, False, show(inst, 40), err.message[:100])


def schema_checks(value: Any, schema: dict[str, Any], max_errors: int = 6) -> list[Check]:
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(value), key=_path_key)
    if not errors:
        return [Check("schema", True, "valid", "valid")]
    out: list[Check] = []
    seen: set[tuple[str, str, str]] = set()
    for err in errors:
        c = describe_schema_error(err)
        key = (c.name, c.found, c.wanted)
        if key not in seen:
            seen.add(key)
            out.append(c)
    if len(out) > max_errors:
        more = len(out) - max_errors
        out = out[:max_errors] + [Check("schema", False, f"{more} more error(s)", "valid")]
    return out


def _check_schema(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if v is not None:
        try:
            jsonschema.Draft202012Validator.check_schema(v)
        except jsonschema.SchemaError as exc:  # pydantic only reports ValueError nicely
            raise ValueError(f"invalid JSON schema: {exc.message}") from None
    return v


def _check_expect(v: dict[str, Any]) -> dict[str, Any]:
    for k in v:
        if not k or any(not p for p in k.split(".")):
            raise ValueError(f"bad expect path {k!r} (dotted keys/indices, e.g. 'items.0.sku')")
    return v


@dataclass
class _Result:
    """Checks of one answer, grouped so the strict and loose outcomes can both be read."""

    prefix: str
    strict: bool
    fmt: list[Check] = field(default_factory=list)
    struct: list[Check] = field(default_factory=list)
    content: list[Check] = field(default_factory=list)
    parsed: bool = True
    data: dict[str, Any] = field(default_factory=dict)

    def verdict(self) -> Verdict:
        body = self.struct + self.content
        loose_ok = self.parsed and bool(body) and all(c.passed for c in body)
        strict_ok = loose_ok and all(c.passed for c in self.fmt)
        checks = (self.fmt if self.strict else []) + body
        metrics: dict[str, list[float]] = {
            f"{self.prefix}_strict": [float(strict_ok), 1.0],
            f"{self.prefix}_loose": [float(loose_ok), 1.0],
        }
        if not self.parsed:
            category = f"invalid_{self.prefix}"
        elif not all(c.passed for c in self.struct):
            category = "schema_violation"
        elif not all(c.passed for c in self.content):
            category = "wrong_content"
        else:
            category = "format_violation"
        if not self.strict and self.fmt and not all(c.passed for c in self.fmt):
            self.data["format_note"] = "; ".join(c.line() for c in self.fmt if not c.passed)
        return Verdict.from_checks(checks, category=category, metrics=metrics, data=self.data)


def _fence_or_prose(fenced: bool, before: str, after: str, what: str) -> Check:
    name = f"{what} only"
    if fenced:
        return Check(name, False, "a ``` code fence", f"{what} only, no fence")
    if before:
        return Check(name, False, f"prose before: {short(before, 50)}", f"{what} only")
    if after:
        return Check(name, False, f"text after: {short(after, 50)}", f"{what} only")
    return Check(name, True, "no fence, no prose", f"{what} only")


# --------------------------------------------------------------------------- JSON

_JSON_START = re.compile(r"[\[{]")


def loose_json(text: str) -> tuple[Any, str | None, bool, str, str]:
    """(value, error, fenced, prose_before, text_after): fence stripped, else the
    first JSON object/array found in the prose."""
    value, err, fenced = parse_json_answer(text, strict=False)
    if err is None:
        return value, None, fenced, "", ""
    body, _ = strip_fence(text.strip())
    dec = json.JSONDecoder()
    for m in _JSON_START.finditer(body):
        try:
            value, end = dec.raw_decode(body, m.start())
        except ValueError:
            continue
        return value, None, fenced, body[: m.start()].strip(), body[end:].strip()
    return None, err, fenced, "", ""


_NON_JSON_CONST = re.compile(r"NaN|Infinity")


def _python_only_constants(text: str) -> str | None:
    """Python's json accepts NaN/Infinity; other parsers do not, so strict mode refuses them."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError as exc:
        return str(exc)
    return None


class JsonOutputArgs(_Args):
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    expect: dict[str, Any] = Field(default_factory=dict)
    strict: bool = True
    ignore_case: bool = False

    schema_ok = field_validator("schema_")(_check_schema)
    expect_ok = field_validator("expect")(_check_expect)

    @model_validator(mode="after")
    def _something(self) -> JsonOutputArgs:
        if self.schema_ is None and not self.expect:
            raise ValueError("json_output needs 'schema' or 'expect'")
        return self


@register("json_output")
class JsonOutput(Verifier):
    """JSON validated by ``schema`` (draft 2020-12) plus ``expect`` path values.
    ``strict``: the answer is the JSON and nothing else; pass follows ``strict``,
    both variants go to metrics ``json_strict`` / ``json_loose``."""

    Args = JsonOutputArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: JsonOutputArgs = self.args  # type: ignore[assignment]
        res = _Result("json", a.strict)
        text = output.text
        _, strict_err, _ = parse_json_answer(text, strict=True)
        if strict_err is None and _NON_JSON_CONST.search(text):
            strict_err = _python_only_constants(text)
        value, err, fenced, before, after = loose_json(text)
        if strict_err is None:
            res.fmt.append(Check("JSON only", True, "no fence, no prose", "JSON only"))
        elif err is None:
            res.fmt.append(_fence_or_prose(fenced, before, after, "JSON"))
            if res.fmt[-1].passed:  # e.g. a fence around JSON that still has junk inside
                res.fmt[-1] = Check("JSON only", False, strict_err, "JSON only")
        else:
            res.fmt.append(Check("JSON only", False, strict_err, "JSON only"))
            res.parsed = False
            res.struct.append(Check("parses as JSON", False, err, "JSON"))
            return res.verdict()
        if a.schema_ is not None:
            res.struct += schema_checks(value, a.schema_)
        res.content += expect_checks(value, a.expect, a.ignore_case)
        return res.verdict()


# --------------------------------------------------------------------------- YAML


def _jsonable(value: Any) -> Any:
    """YAML extras made JSON-like: dates become ISO strings, keys become strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


class YamlArgs(_Args):
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    expect: dict[str, Any] = Field(default_factory=dict)
    root: Literal["mapping", "list"] | None = None
    strict: bool = True
    ignore_case: bool = False

    schema_ok = field_validator("schema_")(_check_schema)
    expect_ok = field_validator("expect")(_check_expect)

    @model_validator(mode="after")
    def _something(self) -> YamlArgs:
        if self.schema_ is None and not self.expect:
            raise ValueError("yaml needs 'schema' or 'expect'")
        return self


@register("yaml")
class Yaml(Verifier):
    """YAML (``yaml.safe_load``) with a root kind, a JSON ``schema`` and ``expect``
    paths. ``strict`` forbids a code fence."""

    Args = YamlArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: YamlArgs = self.args  # type: ignore[assignment]
        res = _Result("yaml", a.strict)
        body, fenced = strip_fence(output.text.strip())
        res.fmt.append(_fence_or_prose(fenced, "", "", "YAML"))
        if not body.strip():
            res.parsed = False
            res.struct.append(Check("parses as YAML", False, "empty answer", "YAML"))
            return res.verdict()
        try:
            value = _jsonable(yaml.safe_load(body))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            res.parsed = False
            res.struct.append(Check("parses as YAML", False, f"error: {problem}{where}", "YAML"))
            return res.verdict()
        if a.root is not None:
            if isinstance(value, (dict, list)):
                kind = "mapping" if isinstance(value, dict) else "list"
            else:
                kind = f"scalar {show(value, 40)}"
            res.struct.append(Check("root", kind == a.root, kind, a.root))
        if a.schema_ is not None:
            res.struct += schema_checks(value, a.schema_)
        res.content += expect_checks(value, a.expect, a.ignore_case)
        return res.verdict()
