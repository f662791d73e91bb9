"""Run-log format versions: recognise, migrate older ones, refuse newer or foreign files.

Each step in ``MIGRATIONS`` turns format ``@n`` into ``@n+1``; only ``@1`` exists so far,
so the table is empty, but every reader goes through :func:`migrate_runlog` and a
future ``@2`` only has to add its step here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMAT = "pytest-llmbench/runlog@1"


class RunLogError(ValueError):
    """A file is not a readable run log; ``str()`` is a one-line message for users."""


FORMAT_RE = re.compile(r"^pytest-llmbench/runlog@(\d+)$")
CURRENT = int(FORMAT.rsplit("@", 1)[1])

Migration = Callable[[dict[str, Any]], dict[str, Any]]
# version n -> function returning the same log at version n + 1
MIGRATIONS: dict[int, Migration] = {}


def format_version(data: dict[str, Any]) -> int | None:
    m = FORMAT_RE.match(str(data.get("format", "")))
    return int(m.group(1)) if m else None


def _foreign(data: Any, where: str) -> RunLogError:
    if isinstance(data, dict):
        fmt = data.get("format")
        if isinstance(fmt, str) and fmt.startswith("pytest-llmbench/baseline@"):
            return RunLogError(f"{where}: this is a baseline file, not a run log")
        if isinstance(data.get("llmbench"), dict):
            log = data["llmbench"].get("run_log")
            tip = f" ({log})" if log else ""
            return RunLogError(
                f"{where}: this is a pytest-json-report file; pass the run log it names{tip}"
            )
        if fmt is not None:
            return RunLogError(
                f"{where}: not a pytest-llmbench run log (format {fmt!r}, expected {FORMAT!r})"
            )
        return RunLogError(f"{where}: not a pytest-llmbench run log (no 'format' key)")
    return RunLogError(
        f"{where}: not a pytest-llmbench run log (top level is a {type(data).__name__})"
    )


def migrate_runlog(data: Any, path: Path | str = "<run log>") -> dict[str, Any]:
    """Return ``data`` at the current format version or raise :class:`RunLogError`."""
    where = str(path)
    if not isinstance(data, dict):
        raise _foreign(data, where)
    return _migrate(data, where)


def _migrate(data: dict[str, Any], where: str) -> dict[str, Any]:
    version = format_version(data)
    if version is None:
        raise _foreign(data, where)
    if version > CURRENT:
        raise RunLogError(
            f"{where}: written in format runlog@{version} by a newer pytest-llmbench; "
            f"this version reads runlog@{CURRENT} (upgrade pytest-llmbench)"
        )
    while version < CURRENT:
        step = MIGRATIONS.get(version)
        if step is None:
            raise RunLogError(
                f"{where}: format runlog@{version} is too old to migrate; "
                f"this version reads runlog@{CURRENT} (re-run the benchmark)"
            )
        data = step(data)
        version += 1
        data["format"] = f"pytest-llmbench/runlog@{version}"
    _check_shape(data, where)
    return data


def _check_shape(data: dict[str, Any], where: str) -> None:
    results = data.get("results")
    if not isinstance(results, list):
        raise RunLogError(f"{where}: run log has no 'results' list (damaged file?)")
    for i, rec in enumerate(results):
        if not isinstance(rec, dict) or not isinstance(rec.get("pack"), str):
            raise RunLogError(f"{where}: results[{i}] is not a scenario record (damaged file?)")
        if "scenario" not in rec:
            raise RunLogError(f"{where}: results[{i}] has no 'scenario' (damaged file?)")
