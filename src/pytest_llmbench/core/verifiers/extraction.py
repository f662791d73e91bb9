"""Field-level extraction verifier: the answer is a JSON object, fields are scored one by one.

``fields`` maps a dotted path (``buyer.name``, ``items.0.qty``) to an expected value,
either plain (``total: 1234.5``) or with a normaliser (``{value: .., type: date}``).
Score = share of fields right; passed = score >= the pack's threshold.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..output import Output
from ._extract_values import (
    ABSENT,
    DateOrder,
    DecimalMark,
    FieldType,
    _is_iso_date,
    _item_key,
    currency_codes,
    norm_text,
    parse_amount,
    parse_date,
    parse_datetime,
    parse_time,
)
from ._text import short, strip_fence
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext

# --- arguments ---------------------------------------------------------------------------


class FieldSpec(BaseModel):
    """One expected field. ``type`` defaults from the value: null, bool, number, text, list."""

    model_config = ConfigDict(extra="forbid")

    value: Any
    type: FieldType | None = None
    tol: float = Field(default=0.0, ge=0.0)
    decimal: DecimalMark | None = None
    date_order: DateOrder | None = None
    alts: list[Any] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _yaml_dates(cls, data: Any) -> Any:
        # Unquoted YAML dates arrive as date objects; keep them as ISO text.
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key in ("value", "alts"):
            items = out.get(key)
            many = items if isinstance(items, list) and key == "alts" else [items]
            kinds = {
                "datetime" if isinstance(x, dt.datetime) else "date"
                for x in many
                if isinstance(x, dt.date)
            }
            if kinds:
                conv = [x.isoformat() if isinstance(x, dt.date) else x for x in many]
                out[key] = conv if key == "alts" else conv[0]
                if key == "value" and out.get("type") is None:
                    out["type"] = kinds.pop()
        return out

    @model_validator(mode="after")
    def _settle_type(self) -> FieldSpec:
        v = self.value
        if self.type is None:
            if v is None:
                self.type = "null"
            elif isinstance(v, bool):
                self.type = "bool"
            elif isinstance(v, (int, float)):
                self.type = "number"
            elif isinstance(v, str):
                self.type = "text"
            elif isinstance(v, list):
                self.type = "list"
            else:
                raise ValueError("a nested object must be given as dotted paths")
        if v is None:
            self.type = "null"
        for cand in [v, *self.alts] if self.type != "null" else []:
            self._check_expected(cand)
        return self

    def _check_expected(self, v: Any) -> None:
        t = self.type
        bad = (
            (t == "number" and parse_amount(v) is None)
            or (t == "date" and not _is_iso_date(v))
            or (t == "time" and parse_time(v) is None)
            or (t == "datetime" and parse_datetime(v) is None)
            or (t == "currency" and not (isinstance(v, str) and re.fullmatch(r"[A-Z]{3}", v)))
            or (t == "bool" and not isinstance(v, bool))
            or (t in ("set", "list") and not (isinstance(v, list) and v))
            or (t == "text" and not (isinstance(v, (str, int, float)) and norm_text(str(v))))
            or (t in ("code", "exact") and not (isinstance(v, str) and v.strip()))
        )
        if bad:
            raise ValueError(f"expected value {v!r} does not fit type {t!r}")


class FieldsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, FieldSpec] = Field(min_length=1)
    strict: bool = True
    decimal: DecimalMark = "point"
    date_order: DateOrder | None = None

    @field_validator("fields", mode="before")
    @classmethod
    def _wrap_plain(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        out: dict[str, Any] = {}
        for path, exp in v.items():
            if not isinstance(path, str) or not path or any(p == "" for p in path.split(".")):
                raise ValueError(f"bad field path {path!r}")
            out[path] = exp if isinstance(exp, dict) and "value" in exp else {"value": exp}
        return out

    @field_validator("fields")
    @classmethod
    def _one_real_field(cls, v: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        # Only-null expectations would be met by an empty object.
        if all(f.type == "null" for f in v.values()):
            raise ValueError("at least one field must expect a non-null value")
        return v


# --- answer parsing ----------------------------------------------------------------------


def parse_object(text: str, strict: bool) -> tuple[dict[str, Any] | None, str]:
    """(object, why-not). A fence is always tolerated; prose around it only if not strict."""
    body, _ = strip_fence(text.strip())
    body = body.strip()
    if not body:
        return None, "empty answer"
    try:
        val = json.loads(body)
    except ValueError as exc:
        val = ABSENT
        err = f"not JSON ({exc.args[0] if exc.args else exc})"
    else:
        err = ""
    if isinstance(val, dict):
        return val, ""
    if val is not ABSENT:
        return None, f"JSON {type(val).__name__}, not an object"
    if strict:
        return None, err
    fenced = re.search(r"```[A-Za-z0-9_+-]*[ \t]*\n(.*?)\n?```", body, re.DOTALL)
    if fenced:
        try:
            inner = json.loads(fenced.group(1))
        except ValueError:
            inner = None
        if isinstance(inner, dict):
            return inner, ""
    dec = json.JSONDecoder()
    for m in re.finditer(r"\{", body):
        try:
            obj, _ = dec.raw_decode(body, m.start())
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj, ""
    return None, "no JSON object found"


def resolve(obj: Any, path: str) -> Any:
    """Follow ``a.b.0.c`` through objects and arrays; ABSENT where it breaks off."""
    cur = obj
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return ABSENT
            cur = cur[part]
        elif isinstance(cur, list) and re.fullmatch(r"-?\d+", part):
            i = int(part)
            if not -len(cur) <= i < len(cur):
                return ABSENT
            cur = cur[i]
        else:
            return ABSENT
    return cur


def _hms(t: tuple[int, int, int]) -> str:
    return f"{t[0]:02d}:{t[1]:02d}" + (f":{t[2]:02d}" if t[2] else "")


def _set_diff(raw: list[Any], want: list[Any]) -> str:
    """'missing [..], unexpected [..]' between two lists compared as multisets."""
    got_c = Counter(_item_key(x) for x in raw)
    want_c = Counter(_item_key(x) for x in want)
    missing = [x for x in want if (want_c - got_c)[_item_key(x)] > 0]
    extra = [x for x in raw if (got_c - want_c)[_item_key(x)] > 0]
    parts = [f"{len(raw)} items"]
    if missing:
        parts.append(f"missing {_show(missing)}")
    if extra:
        parts.append(f"unexpected {_show(extra)}")
    return ", ".join(parts)


def _show(raw: Any) -> str:
    if raw is ABSENT:
        return "absent"
    if isinstance(raw, str):
        return short(raw, 60)
    flat = json.dumps(raw, ensure_ascii=False)
    return flat if len(flat) <= 60 else flat[:57] + "..."


# --- the verifier ------------------------------------------------------------------------


@register("fields")
class Fields(Verifier):
    """The answer is a JSON object whose fields match, each under its own normaliser."""

    Args = FieldsArgs

    def _compare(self, spec: FieldSpec, raw: Any) -> tuple[bool, str, str]:
        """(ok, found, wanted) for one field."""
        a: FieldsArgs = self.args  # type: ignore[assignment]
        t = spec.type
        if t == "null":
            return raw is None or raw is ABSENT, _show(raw), "null or absent"
        cands = [spec.value, *spec.alts]
        if raw is ABSENT or raw is None:
            return False, _show(raw), self._wanted(spec)
        if t == "number":
            dec = spec.decimal or a.decimal
            got = parse_amount(raw, dec)
            if got is None:
                return False, f"{_show(raw)} (not a number)", self._wanted(spec)
            ok = any(
                math.isclose(
                    got,
                    float(parse_amount(c, dec) or 0.0),
                    rel_tol=0.0,
                    abs_tol=max(spec.tol, 1e-9),
                )
                for c in cands
            )
            found = repr(got) if isinstance(raw, (int, float)) else f"{got!r} (from {_show(raw)})"
            return ok, found, self._wanted(spec)
        if t == "date":
            order = spec.date_order or a.date_order
            got_d, why = parse_date(raw, order)
            if got_d is None:
                return False, f"{_show(raw)} ({why})", self._wanted(spec)
            want = {dt.date.fromisoformat(c) for c in cands}
            shown = got_d.isoformat()
            if not (isinstance(raw, str) and raw.strip() == shown):
                shown += f" (from {_show(raw)})"
            return got_d in want, shown, self._wanted(spec)
        if t == "time":
            got_t = parse_time(raw)
            if got_t is None:
                return False, f"{_show(raw)} (not a time)", self._wanted(spec)
            shown = _hms(got_t)
            return got_t in {parse_time(c) for c in cands}, shown, self._wanted(spec)
        if t == "datetime":
            got_dt = parse_datetime(raw)
            if got_dt is None:
                return False, f"{_show(raw)} (not an ISO date-time)", self._wanted(spec)
            ok = False
            for c in cands:
                want_dt = parse_datetime(c)
                assert want_dt is not None  # checked at load time
                g = got_dt
                if (g.tzinfo is None) != (want_dt.tzinfo is None):
                    # A missing offset is read as the expected one's wall clock.
                    g = g.replace(tzinfo=want_dt.tzinfo)
                ok = ok or g == want_dt
            shown = raw.strip() if isinstance(raw, str) else got_dt.isoformat()
            return ok, shown, self._wanted(spec)
        if t == "currency":
            if not isinstance(raw, str):
                return False, f"{_show(raw)} (not a currency)", self._wanted(spec)
            codes = currency_codes(raw)
            return any(c in codes for c in cands), _show(raw), self._wanted(spec)
        if t == "bool":
            got_b: bool | None = raw if isinstance(raw, bool) else None
            if isinstance(raw, str) and raw.strip().casefold() in ("yes", "true", "no", "false"):
                got_b = raw.strip().casefold() in ("yes", "true")
            return got_b is not None and got_b in cands, _show(raw), self._wanted(spec)
        if t in ("set", "list"):
            if not isinstance(raw, list):
                return False, f"{_show(raw)} (not a list)", self._wanted(spec)
            got_k = [_item_key(x) for x in raw]
            for c in cands:
                want_k = [_item_key(x) for x in c]
                if (Counter(got_k) == Counter(want_k)) if t == "set" else got_k == want_k:
                    return True, _show(raw), self._wanted(spec)
            found = _set_diff(raw, spec.value) if t == "set" else _show(raw)
            return False, found, self._wanted(spec)
        # text-like: text, code, exact
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            return False, f"{_show(raw)} (not a string)", self._wanted(spec)
        got_s = str(raw)
        if t == "text":
            ok = any(norm_text(got_s) == norm_text(str(c)) for c in cands)
        elif t == "code":
            ok = any(
                "".join(got_s.split()).casefold() == "".join(c.split()).casefold() for c in cands
            )
        else:
            ok = any(got_s.strip() == c.strip() for c in cands)
        return ok, _show(raw), self._wanted(spec)

    @staticmethod
    def _wanted(spec: FieldSpec) -> str:
        v = spec.value
        if spec.type == "number":
            num = parse_amount(v)
            out = repr(num)
            if spec.tol:
                out += f" ± {spec.tol:g}"
        elif spec.type == "set":
            out = f"{_show(v)} in any order"
        elif spec.type in ("date", "datetime"):
            out = str(v)
        elif spec.type == "time":
            hms = parse_time(v)
            out = _hms(hms) if hms else _show(v)
        else:
            out = _show(v)
        if spec.alts:
            out += f" (or {', '.join(_show(x) for x in spec.alts)})"
        return out

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: FieldsArgs = self.args  # type: ignore[assignment]
        total = len(a.fields)
        obj, why = parse_object(output.text, a.strict)
        if obj is None:
            wanted = "a JSON object" + ("" if not a.strict else " (fence allowed, no prose)")
            return Verdict(
                False,
                0.0,
                f"answer is not a JSON object: {why}",
                [Check("answer is a JSON object", False, why, wanted)],
                category="invalid_json",
                metrics={"fields": [0, total]},
            )
        found = {path: resolve(obj, path) for path in a.fields}
        # Absent-means-null earns nothing unless the answer took the requested shape.
        engaged = any(v is not ABSENT for v in found.values())
        checks: list[Check] = []
        for path, spec in a.fields.items():
            ok, got, want = self._compare(spec, found[path])
            if spec.type == "null" and not engaged:
                ok, got = False, "absent (answer has none of the requested fields)"
            checks.append(Check(path, ok, got, want))
        right = sum(c.passed for c in checks)
        verdict = Verdict.from_checks(
            checks,
            threshold=self.threshold,
            category="wrong_fields",
            metrics={"fields": [right, total]},
        )
        return verdict


__all__ = [
    "Fields",
    "FieldsArgs",
    "FieldSpec",
    "currency_codes",
    "parse_amount",
    "parse_date",
    "parse_datetime",
    "parse_object",
    "parse_time",
]
