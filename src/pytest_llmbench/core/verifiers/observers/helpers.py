"""Observation helpers for Python observation programs (``from llmbench_observe import
observe``): ``observe(key, fn)`` prints fn()'s value as one JSON line, or the error.

Shipped into the sandbox as a file; it imports nothing from the package."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

_out = sys.stdout


def _enc(v: Any, depth: int = 0) -> Any:
    if depth > 32:
        return {"$cycle": True}
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"$float": repr(v)}
    if isinstance(v, (list, tuple)):
        return [_enc(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {str(k): _enc(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (set, frozenset)):
        return sorted((_enc(x, depth + 1) for x in v), key=json.dumps)
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    return {"$repr": repr(v)[:500]}


def observe(key: str, fn: Callable[[], Any]) -> None:
    try:
        line = json.dumps({"key": key, "value": _enc(fn())}, allow_nan=False)
    except BaseException as e:  # the call's failure is the observation
        line = json.dumps({"key": key, "error": f"{type(e).__name__}: {e}"[:500]})
    _out.write("\n" + line + "\n")
    _out.flush()
