"""The run log: one JSON file per run, written atomically, with a crash journal.

Each finished scenario is appended to ``<log>.partial.jsonl`` as it arrives, so a
killed run loses nothing; the final JSON is written with ``os.replace`` and the
journal removed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

FORMAT = "pytest-llmbench/runlog@1"


def default_log_path(root: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return root / ".llmbench" / "runs" / f"run-{stamp}-{os.getpid()}.json"


def atomic_write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            _write_readable(fh, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_readable(fh: TextIO, data: Any) -> None:
    """One top-level key per line and one result per line: greppable and diffable,
    and fast (``indent=`` would force the pure-Python encoder on every record)."""

    def dump(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, default=str)

    if not isinstance(data, dict):
        fh.write(dump(data) + "\n")
        return
    items = list(data.items())
    fh.write("{\n")
    for n, (k, v) in enumerate(items):
        sep = ",\n" if n < len(items) - 1 else "\n"
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            body = ",\n ".join(dump(x) for x in v)
            fh.write(f"{dump(k)}: [\n {body}\n]{sep}")
        else:
            fh.write(f"{dump(k)}: {dump(v)}{sep}")
    fh.write("}\n")


class RunLogWriter:
    def __init__(self, path: Path, header: dict[str, Any]):
        self.path = path
        self.journal_path = path.with_name(path.name + ".partial.jsonl")
        self.header = {"format": FORMAT, **header}
        self.results: list[dict[str, Any]] = []
        self._journal: TextIO | None = None

    def add(self, record: dict[str, Any]) -> None:
        self.results.append(record)
        if self._journal is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._journal = open(self.journal_path, "a", encoding="utf-8")  # noqa: SIM115
            self._journal.write(json.dumps({"header": self.header}, default=str) + "\n")
        self._journal.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._journal.flush()

    def finish(self, extra: dict[str, Any]) -> Path:
        data = dict(self.header)
        data.update(extra)
        data["results"] = sorted(self.results, key=lambda r: str(r.get("nodeid", "")))
        atomic_write_json(self.path, data)
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self.journal_path.exists():
            self.journal_path.unlink()
        return self.path


def read_runlog(path: Path | str) -> dict[str, Any]:
    """Read a run log, or recover one from its journal if the run was killed."""
    p = Path(path)
    if p.exists():
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"{p}: not a pytest-llmbench run log (format {data.get('format')!r})")
        return data
    journal = p.with_name(p.name + ".partial.jsonl")
    if not journal.exists():
        raise FileNotFoundError(str(p))
    out: dict[str, Any] = {"format": FORMAT, "results": [], "incomplete": True}
    for line in journal.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            break  # a torn last line from a hard kill
        if "header" in rec:
            out.update(rec["header"])
        else:
            out["results"].append(rec)
    return out


class RunLogError(ValueError):
    """A file is not a readable run log; ``str()`` is a one-line message for users."""


def load_runlog(path: Path | str) -> dict[str, Any]:
    """Read a run log for the workflows: clear errors, older formats migrated.

    Falls back to the crash journal when the final file was never written."""
    from .workflows.migrate import migrate_runlog

    p = Path(path)
    if not p.exists():
        journal = p.with_name(p.name + ".partial.jsonl")
        if journal.exists():
            try:
                return migrate_runlog(read_runlog(p), p)
            except (OSError, UnicodeDecodeError) as exc:
                raise RunLogError(f"{p}: cannot read its journal: {exc}") from None
        raise RunLogError(f"{p}: no such file")
    if p.is_dir():
        raise RunLogError(f"{p}: is a directory, not a run log")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunLogError(f"{p}: cannot read: {exc}") from None
    if not text.strip():
        raise RunLogError(f"{p}: empty file, not a run log")
    try:
        data = json.loads(text)
    except ValueError as exc:
        hint = " (truncated?)" if "Expecting" in str(exc) or "Unterminated" in str(exc) else ""
        raise RunLogError(f"{p}: not valid JSON{hint}: {exc}") from None
    return migrate_runlog(data, p)


def save_runlog(path: Path | str, data: dict[str, Any]) -> Path:
    """Write a (possibly rescored) run log atomically."""
    p = Path(path)
    atomic_write_json(p, data)
    return p


def summary_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary dict a run log carries, rebuilt from its records."""
    from .summary import Summary

    s = Summary()
    for rec in results:
        s.add(rec)
    return s.to_dict()
