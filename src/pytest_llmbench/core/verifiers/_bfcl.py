"""BFCL's AST-checker semantics, re-implemented (``match: bfcl`` of the toolcall verifier).

Written from a reading of bfcl-eval's ``ast_checker`` and its Java/JavaScript type
converters, and held to its verdicts by tests/data/bfcl_corpus.json (official labels).
The quirks are BFCL's and kept on purpose, so a score here is a score there:

* strings are compared after removing spaces and ``, . / - _ * ^``, lower-casing and
  turning ``'`` into ``"``; so are the top-level string items of lists and the string
  values of dicts (not strings nested deeper);
* a parameter's type is checked with ``type(value) == T`` (no int for an integer
  parameter given as ``5.0``, no bool for an int); a Python float parameter accepts an
  int; when the possible answers are of another type than the declared one (BFCL's
  "variable" answers) a value of the answers' type is accepted and compared exactly;
* ``""`` among a parameter's possible answers means "may be omitted" (and, through
  Python's ``in``, also accepts ``""``, or ``[]`` for a list);
* parallel calls are paired greedily in the possible answers' order: each expected
  call takes the first still-unpaired emitted call that matches it;
* Java and JavaScript parameters are strings in that language's syntax, converted
  with BFCL's regular expressions before the comparison.

Everything here is a pure function of plain JSON values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from ._bfcl_convert import _NESTED, _TYPES, _java, _js
from ._bfcl_convert import Unsupported as Unsupported  # raised from here too

Language = Literal["python", "java", "javascript"]
Checker = Literal["simple", "multiple", "parallel", "irrelevance", "relevance"]


@dataclass(frozen=True)
class Result:
    valid: bool
    error: str = ""
    kind: str = ""  # BFCL's error_type, e.g. "value_error:string"

    @staticmethod
    def ok() -> Result:
        return Result(True)


def checker_for(category: str) -> Checker:
    """BFCL picks the checker from the category name by substring, in this order."""
    if "irrelevance" in category:
        return "irrelevance"
    if "relevance" in category:
        return "relevance"
    if "parallel" in category:
        return "parallel"
    if "multiple" in category:
        return "multiple"
    return "simple"


def language_for(category: str) -> Language:
    if "javascript" in category:
        return "javascript"
    if "java" in category:
        return "java"
    return "python"


def standardize(s: str) -> str:
    return re.sub(r"[ ,./\-_*^]", "", s).lower().replace("'", '"')


def _std(v: Any) -> Any:
    return standardize(v) if type(v) is str else v


# --------------------------------------------------------------------------- decoding


def decode(calls: list[tuple[str, Any]]) -> list[dict[str, Any]] | None:
    """The emitted calls as BFCL's function-calling decoder sees them: each call's
    arguments parsed as JSON (a dict given as such is used as is). None when a call
    does not decode or its arguments are not an object."""
    out: list[dict[str, Any]] = []
    for name, raw in calls:
        if isinstance(raw, str):
            try:
                args = json.loads(raw)
            except (ValueError, RecursionError):  # BFCL's decoder fails on both
                return None
        else:
            args = raw
        if type(args) is not dict:
            return None
        out.append({name: args})
    return out


def has_call(calls: list[tuple[str, Any]]) -> bool:
    """BFCL's relevance test: the output decodes into at least one call."""
    decoded = decode(calls)
    return bool(decoded)


# --------------------------------------------------------------------------- value checks


def _answer_type(possible: Any) -> type | None:
    for a in possible:
        if a != "":
            return type(a)
    return None


def _type_ok(value: Any, possible: Any, want: type, nested: type | None) -> tuple[bool, bool]:
    """(valid, is_variable): BFCL's one-level type check."""
    ptype = _answer_type(possible)
    variable = ptype is not None and ptype is not want
    elements: Any = value  # `type(value) is want` narrows value to object for mypy
    if type(value) is want:
        if nested is None:
            return True, variable
        for item in possible:
            fine = True
            if type(item) is list:
                fine = all(_type_ok(v, item, nested, None)[0] for v in elements)
            if fine:
                return True, variable
        return False, variable
    if ptype is not None and type(value) is ptype:
        return True, True
    return False, variable


def _string_ok(value: str, possible: list[Any]) -> bool:
    return standardize(value) in [standardize(a) for a in possible if type(a) is str]


def _list_ok(value: list[Any], possible: list[Any]) -> bool:
    got = [_std(v) for v in value]
    options = []
    for a in possible:
        if not isinstance(a, (list, str)):
            raise Unsupported(f"a non-list possible answer {a!r} for a list parameter")
        options.append([_std(x) for x in a])
    return got in options


def _dict_ok(value: dict[str, Any], possible: list[Any]) -> bool:
    for a in possible:
        if a == "":
            continue
        if not isinstance(a, dict):
            raise Unsupported(f"a non-dict possible answer {a!r} for a dict parameter")
        fine = True
        for k, v in value.items():
            if k not in a or _std(v) not in [_std(x) for x in a[k]]:
                fine = False
                break
        if fine and any(k not in value and "" not in vals for k, vals in a.items()):
            fine = False
        if fine:
            return True
    return False


def _list_of_dicts_ok(value: list[Any], possible: list[Any]) -> bool:
    for a in possible:
        if len(value) != len(a):
            continue
        if all(_dict_ok(value[i], [a[i]]) for i in range(len(value))):
            return True
    return False


@dataclass(frozen=True)
class Signature:
    """What BFCL's checker reads from a function's description."""

    required: tuple[str, ...]
    # parameter -> (type, item type or None), BFCL's own type names
    types: dict[str, tuple[str, str | None]]


def check_call(
    sig: Signature,
    name: str,
    emitted: dict[str, Any],
    answer: dict[str, list[Any]],
    language: Language,
) -> Result:
    """One emitted ``{name: args}`` against one expected call (BFCL's simple checker)."""
    if name not in emitted:
        return Result(False, f"function {name!r} not called", "wrong_func_name")
    params = emitted[name]
    for p in sig.required:
        if p not in params:
            return Result(False, f"missing required parameter {p!r}", "missing_required")
    table = _TYPES[language]
    for p, value in params.items():
        if p not in sig.types or p not in answer:
            return Result(False, f"unexpected parameter {p!r}", "unexpected_param")
        tname, item = sig.types[p]
        if tname not in table:
            raise Unsupported(f"{language} type {tname!r}")
        want = table[tname]
        nested: type | None = None
        if language in ("java", "javascript"):
            if type(value) is not str:
                return Result(
                    False,
                    f"{p}: {language} values are strings, got {type(value).__name__}",
                    f"type_error:{'java' if language == 'java' else 'js'}",
                )
            conv = _java if language == "java" else _js
            if tname in _NESTED[language]:
                if item is None or item not in table:
                    raise Unsupported(f"{language} item type {item!r}")
                nested = table[item]
                value = conv(value, tname, item)
            else:
                value = conv(value, tname)
        elif tname in _NESTED["python"]:
            if item is None or item not in table:
                raise Unsupported(f"python item type {item!r}")
            nested = table[item]
        if language == "python" and tname == "float" and type(value) is int:
            value = float(value)
        possible = answer[p]
        ok, variable = _type_ok(value, possible, want, nested)
        if not ok:
            return Result(False, f"{p}: wrong type {type(value).__name__}", "type_error")
        if not variable:
            if want is dict:
                if not _dict_ok(value, possible):
                    return Result(False, f"{p}: {_short(value)} not accepted", "value_error:dict")
                continue
            if want is list and nested is dict:
                if not _list_of_dicts_ok(value, possible):
                    return Result(
                        False, f"{p}: {_short(value)} not accepted", "value_error:list_dict"
                    )
                continue
            if want is str:
                if not _string_ok(value, possible):
                    return Result(False, f"{p}: {_short(value)} not accepted", "value_error:string")
                continue
            if want is list:
                if not _list_ok(value, possible):
                    return Result(False, f"{p}: {_short(value)} not accepted", "value_error:list")
                continue
        if value not in possible:
            return Result(False, f"{p}: {_short(value)} not accepted", "value_error:others")
    for p, possible in answer.items():
        if p not in params and "" not in possible:
            return Result(False, f"missing parameter {p!r}", "missing_optional")
    return Result.ok()


def _short(v: Any, limit: int = 60) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(
    checker: Checker,
    emitted: list[tuple[str, Any]],
    expected: list[tuple[str, dict[str, list[Any]]]],
    sigs: dict[str, Signature],
    language: Language,
) -> Result:
    """The whole single-turn verdict, as BFCL's AST and relevance checkers give it."""
    decoded = decode(emitted)
    if checker == "irrelevance":
        if decoded:
            return Result(False, f"{len(decoded)} call(s)", "irrelevance")
        return Result.ok()
    if checker == "relevance":
        return Result.ok() if decoded else Result(False, "no call", "relevance")
    if decoded is None:
        return Result(False, "a call's arguments are not a JSON object", "decoder_failed")
    if checker == "simple" and len(decoded) != 1:
        return Result(False, f"{len(decoded)} calls, wanted 1", "wrong_count")
    if len(decoded) != len(expected):
        return Result(False, f"{len(decoded)} calls, wanted {len(expected)}", "wrong_count")
    if checker in ("simple", "multiple"):
        name, answer = expected[0]
        return check_call(sigs[name], name, decoded[0], answer, language)
    used: set[int] = set()
    for k, (name, answer) in enumerate(expected):
        last = Result(False, "no emitted call left", "cannot_find_match")
        for i, got in enumerate(decoded):
            if i in used:
                continue
            last = check_call(sigs[name], name, got, answer, language)
            if last.valid:
                used.add(i)
                break
        if not last.valid:
            return Result(
                False,
                f"expected call {k + 1} {name}: no match ({last.error})",
                "cannot_find_match",
            )
    return Result.ok()
