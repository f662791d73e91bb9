"""The run log: one JSON file per run, written atomically, with a crash journal.

Each finished scenario is appended to ``<log>.partial.jsonl`` as it arrives, so a
killed run loses nothing (resume, rescore and inspect read a crashed run from it); the
final JSON is written with ``os.replace`` and the journal removed. One process writes
a log at a time (``<log>.lock``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .record import RunRecord
from .redact import redact_known
from .summary import Summary
from .workflows.migrate import FORMAT, RunLogError, migrate_runlog

__all__ = ["FORMAT", "RunLogError", "RunLogWriter", "load_runlog", "read_runlog"]


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
        return redact_known(json.dumps(v, ensure_ascii=False, default=str))

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


JOURNAL_SUFFIX = ".partial.jsonl"


def journal_of(path: Path) -> Path:
    """The crash journal that goes with a run log (the path itself if it is one)."""
    if path.name.endswith(JOURNAL_SUFFIX):
        return path
    return path.with_name(path.name + JOURNAL_SUFFIX)


class RunLogBusy(Exception):  # noqa: N818 - reads better in messages
    """Another live process writes this run log; ``str()`` names it."""


class _LogLock:
    """``<log>.lock``, held with ``flock`` for the whole run: one writer per log. The
    kernel drops the lock when its process dies, so a crash never leaves it stuck."""

    def __init__(self, log: Path):
        self.path = log.with_name(log.name + ".lock")
        self._fd: int | None = None

    def acquire(self, log: Path) -> None:
        import fcntl

        log.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                try:
                    who = os.read(fd, 200).decode("utf-8", "replace").strip() or "?"
                finally:
                    os.close(fd)
                raise RunLogBusy(
                    f"{log}: another run is writing this log ({who}); give another --llm-log"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file as we opened it: try the new one
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {stamp}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # unlinked while held: a waiter re-checks the inode
        os.close(self._fd)
        self._fd = None


class RunLogWriter:
    """One run's log. ``lock()`` first (one writer per log); the journal is fresh for
    each run: a journal left by a crashed run is renamed aside, never appended to."""

    def __init__(self, path: Path, header: dict[str, Any]):
        self.path = path
        self.journal_path = journal_of(path)
        self.header = {"format": FORMAT, **header}
        self.results: list[RunRecord] = []
        self._journal: TextIO | None = None
        self._lock = _LogLock(path)
        self.kept_aside: Path | None = None  # a crashed run's journal, renamed

    def lock(self) -> None:
        """Raises RunLogBusy when another live process holds the log."""
        self._lock.acquire(self.path)

    def _open_journal(self) -> TextIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.journal_path.exists():
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(self.journal_path.stat().st_mtime))
            aside = self.path.with_name(f"{self.path.name}.crashed-{stamp}{JOURNAL_SUFFIX}")
            os.replace(self.journal_path, aside)
            self.kept_aside = aside
        fh = open(self.journal_path, "x", encoding="utf-8")  # noqa: SIM115
        fh.write(redact_known(json.dumps({"header": self.header}, default=str)) + "\n")
        return fh

    def add(self, record: RunRecord) -> None:
        self.results.append(record)
        if self._journal is None:
            self._journal = self._open_journal()
        line = redact_known(json.dumps(record.to_json(), ensure_ascii=False, default=str))
        self._journal.write(line + "\n")
        self._journal.flush()

    def finish(self, extra: dict[str, Any]) -> Path:
        data = dict(self.header)
        data.update(extra)
        ordered = sorted(self.results, key=lambda r: str(r.nodeid or ""))
        data["results"] = [r.to_json() for r in ordered]
        atomic_write_json(self.path, data)
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self.journal_path.exists():
            self.journal_path.unlink()
        self._lock.release()
        return self.path

    def close(self) -> None:
        """Give up the log without writing it (the journal stays for recovery)."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._lock.release()


def read_journal(journal: Path) -> tuple[dict[str, Any], list[str]]:
    """A crashed run from its journal, and warnings. A torn last line (a hard kill
    mid-write) is dropped with a warning; a bad line before the last is an error. A
    scenario recorded twice counts once (the later record wins)."""
    out: dict[str, Any] = {"format": FORMAT, "results": [], "incomplete": True}
    warnings: list[str] = []
    lines = journal.read_text(encoding="utf-8").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    by_node: dict[str, int] = {}
    results: list[dict[str, Any]] = out["results"]
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict):
            if n == len(lines):
                warnings.append(
                    f"{journal}:{n}: dropped a torn last line ({len(line)} bytes, "
                    "written when the run was killed)"
                )
                break
            raise ValueError(f"{journal}:{n}: not a journal record")
        if "header" in rec:
            if isinstance(rec["header"], dict):
                out.update(rec["header"])
            continue
        node = rec.get("nodeid")
        if isinstance(node, str) and node in by_node:
            results[by_node[node]] = rec
            continue
        if isinstance(node, str):
            by_node[node] = len(results)
        results.append(rec)
    if out.get("format") != FORMAT:
        raise ValueError(f"{journal}: not a pytest-llmbench journal")
    out["recovered_from"] = str(journal)
    return out, warnings


def read_runlog_warn(path: Path | str) -> tuple[dict[str, Any], list[str]]:
    """A run log, or a crashed run's journal (given directly, or found next to the
    run log that was never written), with warnings."""
    p = Path(path)
    if p.name.endswith(JOURNAL_SUFFIX) or not p.exists():
        journal = journal_of(p)
        if not journal.exists():
            raise FileNotFoundError(f"no such run log or journal: {p}")
        return read_journal(journal)
    data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        fmt = data.get("format") if isinstance(data, dict) else None
        raise ValueError(f"{p}: not a pytest-llmbench run log (format {fmt!r})")
    return data, []


def read_runlog(path: Path | str) -> dict[str, Any]:
    """Read a run log, or recover one from its journal if the run was killed."""
    return read_runlog_warn(path)[0]


def runlog_exists(path: Path | str) -> bool:
    p = Path(path)
    return p.is_file() or journal_of(p).is_file()


def load_runlog(path: Path | str, warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Read a run log for the workflows: clear errors, older formats migrated.

    A crashed run (final file never written, or its ``.partial.jsonl`` given) is read
    from its journal; ``warn`` gets what was dropped from it."""
    p = Path(path)
    if p.name.endswith(JOURNAL_SUFFIX) or not p.exists():
        journal = journal_of(p)
        if journal.exists():
            try:
                data, notes = read_journal(journal)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise RunLogError(f"{journal}: cannot read this journal: {exc}") from None
            for note in notes:
                (warn or _stderr)(note)
            return migrate_runlog(data, p)
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


def _stderr(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def save_runlog(path: Path | str, data: dict[str, Any]) -> Path:
    """Write a (possibly rescored) run log atomically."""
    p = Path(path)
    atomic_write_json(p, data)
    return p


def summary_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary dict a run log carries, rebuilt from its records."""
    s = Summary()
    for rec in results:
        s.add(RunRecord.from_json(rec))
    return s.to_dict()
