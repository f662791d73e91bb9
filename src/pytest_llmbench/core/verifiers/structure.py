"""Structured-output verifiers: json_output, yaml, csv, markdown_table, xml.

Each one separates three kinds of checks: *format* (the answer is the document and
nothing else: no prose, no code fence), *structure* (parses, schema, header, row
count...) and *content* (expected values taken from the prompt's facts). ``strict``
decides whether format checks count; both variants are recorded in
``Verdict.metrics`` as ``<fmt>_strict`` and ``<fmt>_loose`` so a summary can show how
much a model loses to fences and chatter alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import xml.etree.ElementTree as ET
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


# --------------------------------------------------------------------------- tables

_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


class ColumnSpec(_Args):
    type: Literal["str", "int", "float", "date"] = "str"
    date_format: str = "%Y-%m-%d"
    pattern: str | None = None
    values: list[str] | None = None
    unique: bool = False
    nonempty: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"bad pattern {v!r}: {exc}") from None
        return v


def _type_ok(cell: str, spec: ColumnSpec) -> bool:
    if spec.type == "int":
        return _INT.fullmatch(cell) is not None
    if spec.type == "float":
        return _FLOAT.fullmatch(cell) is not None
    if spec.type == "date":
        try:
            dt.datetime.strptime(cell, spec.date_format)
        except ValueError:
            return False
        return True
    return True


def cell_equal(got: str, want: Any, ignore_case: bool) -> bool:
    """A text cell against an expected value: numbers compare as numbers."""
    got = got.strip()
    if isinstance(want, bool):
        return got.casefold() == str(want).casefold()
    if isinstance(want, (int, float)):
        if _FLOAT.fullmatch(got) is None:
            return False
        return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9)
    w = str(want).strip()
    return got.casefold() == w.casefold() if ignore_case else got == w


class TableArgs(_Args):
    header: list[str] = Field(min_length=1)
    rows: int | None = Field(default=None, ge=0)
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    cells: dict[str, Any] = Field(default_factory=dict)
    contains_rows: list[dict[str, Any]] = Field(default_factory=list)
    ignore_case: bool = False

    @model_validator(mode="after")
    def _names_known(self) -> TableArgs:
        cols = set(self.header)
        if len(cols) != len(self.header):
            raise ValueError("header has duplicate column names")
        for name in self.columns:
            if name not in cols:
                raise ValueError(f"columns: {name!r} is not in header")
        for key in self.cells:
            row, _, col = key.partition(".")
            if not row.isdigit() or int(row) < 1 or col not in cols:
                raise ValueError(f"cells: key {key!r} must be '<row from 1>.<header column>'")
            if self.rows is not None and int(row) > self.rows:
                raise ValueError(f"cells: row {row} is beyond rows={self.rows}")
        for partial in self.contains_rows:
            bad = [k for k in partial if k not in cols]
            if bad or not partial:
                raise ValueError(f"contains_rows: {partial!r} needs header columns only")
        return self


def _table_checks(a: TableArgs, header: list[str], rows: list[list[str]], res: _Result) -> None:
    """Header, row count, widths, column rules, expected cells and rows."""
    res.struct.append(Check("header", header == a.header, show(header, 100), show(a.header, 100)))
    if a.rows is not None:
        res.struct.append(Check("rows", len(rows) == a.rows, str(len(rows)), str(a.rows)))
    width = len(a.header)
    ragged = [(i + 1, len(r)) for i, r in enumerate(rows) if len(r) != width]
    if ragged:
        i, n = ragged[0]
        more = f" (+{len(ragged) - 1} more rows)" if len(ragged) > 1 else ""
        res.struct.append(Check("fields per row", False, f"row {i} has {n}{more}", str(width)))
    elif rows:
        res.struct.append(Check("fields per row", True, str(width), str(width)))

    def col_index(name: str) -> int | None:
        if name in header:
            return header.index(name)
        return None

    def column(name: str) -> list[tuple[int, str]] | None:
        idx = col_index(name)
        if idx is None:
            return None
        return [(i + 1, r[idx].strip() if idx < len(r) else "") for i, r in enumerate(rows)]

    for name, spec in a.columns.items():
        vals = column(name)
        if vals is None:
            res.struct.append(Check(f"column {name!r}", False, "missing", "present"))
            continue
        if spec.nonempty:
            bad: list[tuple[int, str]] = [(i, v) for i, v in vals if not v]
            res.struct.append(
                Check(
                    f"column {name!r} filled",
                    not bad,
                    f"row {bad[0][0]} empty" if bad else "all filled",
                    "no empty cells",
                )
            )
        if spec.type != "str":
            bad = [(i, v) for i, v in vals if v and not _type_ok(v, spec)]
            wanted = spec.type if spec.type != "date" else f"date {spec.date_format}"
            res.struct.append(
                Check(
                    f"column {name!r} type",
                    not bad,
                    f"row {bad[0][0]}: {show(bad[0][1])}" if bad else f"all {spec.type}",
                    wanted,
                )
            )
        if spec.pattern is not None:
            pat = re.compile(spec.pattern)
            bad = [(i, v) for i, v in vals if v and not pat.fullmatch(v)]
            res.struct.append(
                Check(
                    f"column {name!r} pattern",
                    not bad,
                    f"row {bad[0][0]}: {show(bad[0][1])}" if bad else "all match",
                    f"match /{spec.pattern}/",
                )
            )
        if spec.values is not None:
            allowed = spec.values

            def allowed_ok(v: str, allowed: list[str] = allowed) -> bool:
                return any(cell_equal(v, w, a.ignore_case) for w in allowed)

            bad = [(i, v) for i, v in vals if v and not allowed_ok(v)]
            res.struct.append(
                Check(
                    f"column {name!r} values",
                    not bad,
                    f"row {bad[0][0]}: {show(bad[0][1])}" if bad else "all allowed",
                    "one of " + ", ".join(show(w) for w in allowed),
                )
            )
        if spec.unique:
            seen: dict[str, int] = {}
            dup = None
            for i, v in vals:
                key = v.casefold() if a.ignore_case else v
                if key in seen:
                    dup = (seen[key], i, v)
                    break
                seen[key] = i
            res.struct.append(
                Check(
                    f"column {name!r} unique",
                    dup is None,
                    f"rows {dup[0]} and {dup[1]}: {show(dup[2])}" if dup else "all unique",
                    "unique values",
                )
            )

    for key, want in a.cells.items():
        row_s, _, name = key.partition(".")
        r = int(row_s)
        vals = column(name)
        if vals is None:
            res.content.append(Check(f"cell {key}", False, f"no column {name!r}", show(want)))
        elif r > len(vals):
            res.content.append(Check(f"cell {key}", False, f"no row {r}", show(want)))
        else:
            got = vals[r - 1][1]
            res.content.append(
                Check(f"cell {key}", cell_equal(got, want, a.ignore_case), show(got), show(want))
            )

    for partial in a.contains_rows:
        cols = {k: column(k) for k in partial}
        hit = None
        if all(v is not None for v in cols.values()):
            for i in range(len(rows)):
                if all(
                    cell_equal(cols[k][i][1], w, a.ignore_case)  # type: ignore[index]
                    for k, w in partial.items()
                ):
                    hit = i + 1
                    break
        desc = ", ".join(f"{k}={show(w, 30)}" for k, w in partial.items())
        res.content.append(
            Check(f"row with {desc}", hit is not None, f"row {hit}" if hit else "none", "a row")
        )


# --------------------------------------------------------------------------- CSV


class CsvArgs(TableArgs):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    strict: bool = True


@register("csv")
class Csv(Verifier):
    """CSV with an exact ``header``, exact ``rows`` count, per-column rules and
    expected ``cells`` (``"<row>.<column>"``, rows from 1). ``strict``: the CSV and
    nothing else (no fence, no prose, no blank lines)."""

    Args = CsvArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: CsvArgs = self.args  # type: ignore[assignment]
        res = _Result("csv", a.strict)
        body, fenced = strip_fence(output.text.strip())
        records = [
            [c.strip() for c in rec]
            for rec in csv.reader(io.StringIO(body), delimiter=a.delimiter, skipinitialspace=True)
        ]
        lines = body.splitlines()
        nonempty = [(i, r) for i, r in enumerate(records) if any(c for c in r)]
        if not nonempty:
            res.fmt.append(_fence_or_prose(fenced, "", "", "CSV"))
            res.parsed = False
            res.struct.append(Check("header", False, "empty answer", show(a.header, 100)))
            return res.verdict()
        # The header is where the required header is; anything above it is prose.
        start = next((k for k, (_, r) in enumerate(nonempty) if r == a.header), 0)
        before = [r for _, r in nonempty[:start]]
        header = nonempty[start][1]
        tail = nonempty[start + 1 :]
        after: list[list[str]] = []
        if len(a.header) > 1:
            # trailing one-field records are prose ("Hope this helps!"), not rows
            while tail and len(tail[-1][1]) == 1:
                after.insert(0, tail.pop()[1])
        rows = [r for _, r in tail]
        first, last = nonempty[start][0], (tail[-1][0] if tail else nonempty[start][0])
        blank_inside = any(not any(c for c in records[k]) for k in range(first, last))
        before_text = (lines[0] if lines else "") if before else ""
        after_text = ",".join(after[0]) if after else ""
        fmt = _fence_or_prose(fenced, before_text, after_text, "CSV")
        if fmt.passed and blank_inside:
            fmt = Check("CSV only", False, "blank line inside the table", "CSV only")
        res.fmt.append(fmt)
        _table_checks(a, header, rows, res)
        return res.verdict()


# --------------------------------------------------------------------------- markdown

_SEP_CELL = re.compile(r":?-+:?")
_MARKUP = re.compile(r"(\*\*|__|\*|_|`)(.+)\1", re.DOTALL)


def _md_cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def _unmark(cell: str) -> str:
    """Drop emphasis/code markup wrapped around a whole cell (**x**, `x`)."""
    while True:
        m = _MARKUP.fullmatch(cell)
        if not m:
            return cell
        cell = m.group(2).strip()


class MarkdownTableArgs(TableArgs):
    strict: bool = False
    strip_markup: bool = True


@register("markdown_table")
class MarkdownTable(Verifier):
    """A GitHub markdown table: exact ``header``, a separator row, exact ``rows``,
    column rules and expected ``cells``. ``strict``: the table and nothing else."""

    Args = MarkdownTableArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: MarkdownTableArgs = self.args  # type: ignore[assignment]
        res = _Result("md_table", a.strict)
        body, fenced = strip_fence(output.text.strip())
        lines = body.splitlines()
        blocks: list[tuple[int, int]] = []
        i = 0
        while i < len(lines):
            if "|" in lines[i]:
                j = i
                while j < len(lines) and "|" in lines[j]:
                    j += 1
                blocks.append((i, j))
                i = j
            else:
                i += 1
        if not blocks:
            res.fmt.append(_fence_or_prose(fenced, body, "", "table"))
            res.parsed = False
            res.struct.append(
                Check("markdown table", False, "no table lines", f"a table with header {a.header}")
            )
            return res.verdict()

        def clean(cells: list[str]) -> list[str]:
            return [_unmark(c) for c in cells] if a.strip_markup else cells

        start, end = next(
            (b for b in blocks if clean(_md_cells(lines[b[0]])) == a.header), blocks[0]
        )
        block = lines[start:end]
        header = clean(_md_cells(block[0]))
        sep = _md_cells(block[1]) if len(block) > 1 else None
        sep_ok = sep is not None and all(_SEP_CELL.fullmatch(c) for c in sep)
        wanted_sep = "|" + "---|" * len(a.header)
        if sep is not None and sep_ok and len(sep) != len(header):
            res.struct.append(
                Check("separator row", False, f"{len(sep)} cells", f"{len(header)} cells")
            )
        else:
            res.struct.append(
                Check(
                    "separator row",
                    sep_ok,
                    short(block[1].strip(), 50) if len(block) > 1 else "none",
                    wanted_sep,
                )
            )
        data = block[2:] if sep_ok else block[1:]
        rows = [clean(_md_cells(ln)) for ln in data]
        before = "\n".join(ln for ln in lines[:start] if ln.strip())
        after = "\n".join(ln for ln in lines[end:] if ln.strip())
        res.fmt.append(_fence_or_prose(fenced, before, after, "table"))
        _table_checks(a, header, rows, res)
        return res.verdict()


# --------------------------------------------------------------------------- XML

_NS = re.compile(r"^\{[^}]*\}")


def _check_xpath(path: str) -> None:
    try:
        ET.Element("probe").findall(path)
    except (SyntaxError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad ElementTree path {path!r}: {exc}") from None


def _split_attr(key: str) -> tuple[str, str | None]:
    """'item[2]/@sku' -> ('item[2]', 'sku'); '@version' -> ('.', 'version')."""
    path, sep, attr = key.rpartition("@")
    if not sep or "[" in attr or "/" in attr:
        return key, None
    path = path.rstrip("/") or "."
    return path, attr


class XmlArgs(_Args):
    root: str = Field(min_length=1)
    require: list[str] = Field(default_factory=list)
    count: dict[str, int] = Field(default_factory=dict)
    attrs: dict[str, list[str]] = Field(default_factory=dict)
    expect: dict[str, Any] = Field(default_factory=dict)
    strict: bool = True
    ignore_namespaces: bool = True
    ignore_case: bool = False

    @model_validator(mode="after")
    def _paths_compile(self) -> XmlArgs:
        for p in [*self.require, *self.count, *self.attrs]:
            _check_xpath(p)
        for key in self.expect:
            _check_xpath(_split_attr(key)[0])
        if any(n < 0 for n in self.count.values()):
            raise ValueError("count values must be >= 0")
        return self


@register("xml")
class Xml(Verifier):
    """Well-formed XML (DOCTYPE/entities rejected) with a ``root`` tag, ``require``d
    paths, exact element ``count``s, required ``attrs`` and expected texts/attributes
    (``expect``: ``{"item[2]/name": "Bolt", "item[1]/@sku": "A-1"}``; ElementTree paths)."""

    Args = XmlArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: XmlArgs = self.args  # type: ignore[assignment]
        res = _Result("xml", a.strict)
        body, fenced = strip_fence(output.text.strip())
        lo, hi = body.find("<"), body.rfind(">")
        if lo < 0 or hi < lo:
            res.fmt.append(_fence_or_prose(fenced, body, "", "XML"))
            res.parsed = False
            res.struct.append(Check("well-formed", False, "no XML element", "well-formed XML"))
            return res.verdict()
        doc = body[lo : hi + 1]
        res.fmt.append(_fence_or_prose(fenced, body[:lo].strip(), body[hi + 1 :].strip(), "XML"))
        if re.search(r"<!(DOCTYPE|ENTITY)", doc, re.IGNORECASE):
            # entity tricks (external entities, billion laughs) have no place in an answer
            res.parsed = False
            res.struct.append(Check("no DOCTYPE", False, "a DOCTYPE/ENTITY declaration", "none"))
            return res.verdict()
        try:
            root = ET.fromstring(doc)
        except ET.ParseError as exc:
            res.parsed = False
            res.struct.append(Check("well-formed", False, f"error: {exc}", "well-formed XML"))
            return res.verdict()
        except ValueError as exc:  # e.g. an unsupported encoding declaration
            res.parsed = False
            res.struct.append(Check("well-formed", False, str(exc)[:80], "well-formed XML"))
            return res.verdict()
        if a.ignore_namespaces:
            for el in root.iter():
                if isinstance(el.tag, str):
                    el.tag = _NS.sub("", el.tag)
        res.struct.append(Check("root", root.tag == a.root, f"<{root.tag}>", f"<{a.root}>"))
        for path in a.require:
            n = len(root.findall(path))
            res.struct.append(Check(path, n > 0, _count(n, "element"), ">= 1 element"))
        for path, want_n in a.count.items():
            n = len(root.findall(path))
            res.struct.append(Check(f"count {path}", n == want_n, str(n), str(want_n)))
        for path, names in a.attrs.items():
            els = root.findall(path)
            for name in names:
                lacking = sum(1 for el in els if name not in el.attrib)
                ok = bool(els) and lacking == 0
                found = (
                    "no elements"
                    if not els
                    else (
                        f"missing on {lacking} of {len(els)}" if lacking else f"on all {len(els)}"
                    )
                )
                label = f"@{name}" if path == "." else f"{path}/@{name}"
                res.struct.append(Check(label, ok, found, "on every element"))
        for key, want in a.expect.items():
            path, attr = _split_attr(key)
            found_el = root.find(path)
            if found_el is None:
                res.content.append(Check(key, False, "missing", show(want)))
                continue
            if attr is not None:
                got = found_el.attrib.get(attr)
                if got is None:
                    res.content.append(Check(key, False, "missing", show(want)))
                    continue
            else:
                got = " ".join("".join(found_el.itertext()).split())
            ok = cell_equal(got, want, a.ignore_case)
            res.content.append(Check(key, ok, show(got), show(want)))
        return res.verdict()
