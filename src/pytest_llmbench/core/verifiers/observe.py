"""Observations: the values a program under test produced, compared on the host.

An observation program (see the polyglot verifier) calls the candidate's code on fixed
inputs and prints one JSON line per observation: ``{"key": K, "value": V}`` or
``{"key": K, "error": "..."}`` when the call threw or panicked. The expected values
never enter the sandbox: they live in the scenario (``expect:``) and are compared
here. Everything the run printed is treated as the candidate's words, so each expected
key must be observed exactly once (a duplicate or a missing key fails): a program that
prints lookalike lines passes only by printing the right values, which it cannot know.

An expectation about the submitted source itself (``source: FILE``, e.g. a size
limit) is judged here on that file's text as submitted, never on what the run
printed: code under test shares the observation program's process and can take over
its output (a child process inheriting stdout), so only values it must compute can
be trusted from the run.

Keys are grouped into tests by the part before the first ``/`` (``units/2h`` belongs to
test ``units``); a test passes when all its keys match.

An expected entry is a plain value (compared with ``equal``) or a mapping
``{cmp: KIND, value: V, tol: T}``, KIND one of:

- ``equal``: deep equality of JSON data; ``true`` is not ``1``; numbers compare by value.
- ``approx``: numbers (or lists of numbers) within ``tol`` (absolute, default 1e-9).
- ``set``: lists with the same elements, order and repeats ignored.
- ``unordered``: lists with the same elements and counts, order ignored.
- ``contains``: a string holding each of the texts in ``value`` (a text or a list).
  Predicates like this are decided here, not in the observation program, where code
  under test could patch them (``String.prototype.includes``).
- ``regex``: a string in which each pattern in ``value`` (one or a list) is found
  (Python ``re``, multiline).
- ``at_most``: a string in which ``pattern`` matches at most ``value`` times (e.g. code
  lines of a source file the observation program read before the code ran).
- ``error``: the call must have thrown or panicked; ``value`` (optional) is a text the
  error must contain.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

CmpKind = Literal["equal", "approx", "set", "unordered", "contains", "regex", "at_most", "error"]
_KINDS = ("equal", "approx", "set", "unordered", "contains", "regex", "at_most", "error")
GROUP_SEP = "/"


@dataclass(frozen=True)
class Expect:
    cmp: CmpKind
    value: Any = None
    tol: float = 1e-9
    pattern: str = ""
    source: str = ""  # judged on this submitted file's text, here (see module doc)


def parse_expect(raw: dict[str, Any]) -> dict[str, Expect]:
    """Expected observations from a scenario; raises ValueError naming the bad key."""
    if not raw:
        raise ValueError("expect: at least one expected observation is needed")
    out: dict[str, Expect] = {}
    for key, spec in raw.items():
        if not isinstance(key, str) or not key or key.startswith(GROUP_SEP):
            raise ValueError(f"expect: bad key {key!r}")
        if isinstance(spec, dict) and "cmp" in spec:
            extra = set(spec) - {"cmp", "value", "tol", "pattern", "source"}
            if extra or spec["cmp"] not in _KINDS:
                raise ValueError(
                    f"expect[{key!r}]: a comparison is {{cmp: {'|'.join(_KINDS)}, value, tol}}"
                    f" (got keys {sorted(spec)}, cmp {spec['cmp']!r})"
                )
            tol = spec.get("tol", 1e-9)
            if not isinstance(tol, (int, float)) or isinstance(tol, bool) or tol < 0:
                raise ValueError(f"expect[{key!r}]: tol must be a number >= 0")
            if spec["cmp"] in ("set", "unordered") and not isinstance(spec.get("value"), list):
                raise ValueError(f"expect[{key!r}]: {spec['cmp']} needs a list value")
            pats = spec.get("value") if spec["cmp"] == "regex" else spec.get("pattern")
            if spec["cmp"] == "at_most" and not (
                isinstance(spec.get("value"), int) and isinstance(pats, str)
            ):
                raise ValueError(f"expect[{key!r}]: at_most needs pattern: TEXT and value: N")
            if spec["cmp"] in ("regex", "at_most"):
                for p in [pats] if isinstance(pats, str) else pats or [None]:
                    try:
                        re.compile(str(p) if p is not None else "(")
                    except re.error as exc:
                        raise ValueError(f"expect[{key!r}]: bad pattern {p!r}: {exc}") from None
            if spec["cmp"] in ("contains", "regex") and not (
                isinstance(spec.get("value"), str)
                or (
                    isinstance(spec.get("value"), list)
                    and all(isinstance(x, str) for x in spec["value"])
                )
            ):
                raise ValueError(f"expect[{key!r}]: {spec['cmp']} needs a text or a list of texts")
            if not isinstance(spec.get("source", ""), str):
                raise ValueError(f"expect[{key!r}]: source must be a file name")
            if spec["cmp"] != "error" and "value" not in spec:
                raise ValueError(f"expect[{key!r}]: {spec['cmp']} needs a value")
            out[key] = Expect(
                spec["cmp"],
                spec.get("value"),
                float(tol),
                str(spec.get("pattern", "")),
                str(spec.get("source", "")),
            )
        else:
            out[key] = Expect("equal", spec)
    return out


def group_of(key: str) -> str:
    return key.split(GROUP_SEP, 1)[0]


def groups(expect: dict[str, Expect]) -> list[str]:
    """Test names in the order their first key appears."""
    return list(dict.fromkeys(group_of(k) for k in expect))


@dataclass
class Observed:
    value: Any = None
    error: str | None = None


def read_observations(stdout: str) -> dict[str, list[Observed]]:
    """Every line that is a JSON object ``{"key": str, "value"|"error": ...}``; other
    lines (the candidate's own prints, tool chatter) are ignored."""
    seen: dict[str, list[Observed]] = {}
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"key"' not in line:
            continue
        try:
            obj = json.loads(line, parse_constant=_no_constant)
        except ValueError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str):
            continue
        if set(obj) == {"key", "value"}:
            seen.setdefault(obj["key"], []).append(Observed(obj["value"]))
        elif set(obj) == {"key", "error"}:
            seen.setdefault(obj["key"], []).append(Observed(error=str(obj["error"])))
    return seen


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN/Infinity are not JSON; encoders tag them


def show(value: Any, limit: int = 120) -> str:
    try:
        s = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        s = repr(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def equal(a: Any, b: Any) -> bool:
    """Deep equality of JSON data with JSON's types: a bool is not a number."""
    if _num(a) and _num(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _approx(a: Any, b: Any, tol: float) -> bool:
    if _num(a) and _num(b):
        if math.isinf(a) or math.isinf(b):
            return bool(a == b)
        return bool(abs(a - b) <= tol)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_approx(x, y, tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_approx(a[k], b[k], tol) for k in a)
    return equal(a, b)


def _canon(x: Any) -> str:
    if _num(x):
        x = float(x)  # 2 and 2.0 are one element
    if isinstance(x, list):
        return "[" + ",".join(_canon(y) for y in x) + "]"
    if isinstance(x, dict):
        return "{" + ",".join(json.dumps(k) + ":" + _canon(x[k]) for k in sorted(x)) + "}"
    return json.dumps(x)


def compare(exp: Expect, got: Observed) -> tuple[bool, str]:
    """(matches, why not) for one observation."""
    if exp.cmp == "error":
        if got.error is None:
            return False, f"returned {show(got.value)}, wanted an error"
        if exp.value is not None and str(exp.value) not in got.error:
            return False, f"error {got.error[:120]!r}, wanted one mentioning {exp.value!r}"
        return True, ""
    if got.error is not None:
        return False, f"error: {got.error[:200]}"
    v = got.value
    if exp.cmp == "equal":
        ok = equal(v, exp.value)
    elif exp.cmp == "approx":
        ok = _approx(v, exp.value, exp.tol)
    elif exp.cmp == "contains":
        parts = [exp.value] if isinstance(exp.value, str) else list(exp.value)
        missing = [p for p in parts if not (isinstance(v, str) and p in v)]
        if missing:
            return False, f"got {show(v)}, which lacks {show(missing)}"
        return True, ""
    elif exp.cmp == "regex":
        pats = [exp.value] if isinstance(exp.value, str) else list(exp.value)
        missing = [p for p in pats if not (isinstance(v, str) and re.search(p, v, re.M))]
        if missing:
            return False, f"got {show(v)}, where {show(missing)} is not found"
        return True, ""
    elif exp.cmp == "at_most":
        if not isinstance(v, str):
            return False, f"got {show(v)}, wanted a text"
        n = len(re.findall(exp.pattern, v, re.M))
        if n > exp.value:
            return False, f"{n} matches of {exp.pattern!r}, wanted at most {exp.value}"
        return True, ""
    elif exp.cmp == "set":
        ok = isinstance(v, list) and {_canon(x) for x in v} == {_canon(x) for x in exp.value}
    else:  # unordered
        ok = isinstance(v, list) and sorted(map(_canon, v)) == sorted(map(_canon, exp.value))
    if ok:
        return True, ""
    how = "" if exp.cmp == "equal" else f" ({exp.cmp})"
    return False, f"got {show(v)}, wanted {show(exp.value)}{how}"


def judge(
    expect: dict[str, Expect],
    seen: dict[str, list[Observed]],
    sources: dict[str, str] | None = None,
) -> dict[str, tuple[bool, str]]:
    """Per test (key group): passed, and the first reason it did not. ``sources``:
    the submitted files, for expectations with ``source``."""
    out: dict[str, tuple[bool, str]] = {}
    for key, exp in expect.items():
        g = group_of(key)
        got = seen.get(key, [])
        if exp.source:
            text = (sources or {}).get(exp.source)
            got = [Observed(text)] if text is not None else []
        if not got:
            ok, why = False, "not observed"
        elif len(got) > 1:
            ok, why = False, f"observed {len(got)} times (each key must appear once)"
        else:
            ok, why = compare(exp, got[0])
        label = key[len(g) + 1 :] if key != g else ""
        why = f"{label}: {why}" if label and why else why
        prev = out.get(g)
        if prev is None:
            out[g] = (ok, why)
        elif prev[0] and not ok:
            out[g] = (False, why)
    return out
