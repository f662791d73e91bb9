"""``llmbench rescore``: run today's verifiers over the raw responses a run log saved.

The exchange is rebuilt from the log (raw turns parsed from each call's response,
messages as recorded), so a verifier fix or a new pack version can be applied to an
old run without asking the model again. Old verdicts stay in the file: each changed
record gets a ``history`` entry and the log a top-level ``history`` event.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..endpoint import EndpointError
from ..exchange import Exchange, verify
from ..packs import (
    PACK_FILE,
    Pack,
    PackError,
    builtin_packs_dir,
    iter_pack_dirs,
    load_meta,
    load_pack,
)
from ..record import RunRecord
from ..runlog import summary_of
from ..schema import Scenario
from ..verifiers.base import VerifierConfigError, needs
from ..verifiers.context import VerifierContext
from ..wire import parse_response
from .records import WorkflowError


@dataclass
class Change:
    label: str
    old: dict[str, Any]
    new: dict[str, Any]

    @property
    def flipped(self) -> bool:
        return bool(self.old.get("passed")) != bool(self.new.get("passed"))

    def lines(self) -> list[str]:
        def state(v: dict[str, Any]) -> str:
            return f"{'passed' if v.get('passed') else 'failed'} {float(v.get('score') or 0):.2f}"

        tag = "FLIP" if self.flipped else "changed"
        return [
            f"{tag} {self.label}: {state(self.old)} -> {state(self.new)}",
            f"    was: {self.old.get('detail', '')}",
            f"    now: {self.new.get('detail', '')}",
        ]


@dataclass
class RescoreResult:
    checked: int = 0
    changes: list[Change] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "label: why"
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"note: {n}" for n in self.notes]
        for c in self.changes:
            out += c.lines()
        flips = sum(c.flipped for c in self.changes)
        out.append(
            f"rescored {self.checked} scenario(s): {len(self.changes)} verdict(s) changed, "
            f"{flips} flipped, {len(self.skipped)} skipped"
        )
        out += [f"  skipped {s}" for s in self.skipped[:50]]
        if len(self.skipped) > 50:
            out.append(f"  ... and {len(self.skipped) - 50} more skipped")
        return out


class PackFinder:
    """Packs by id: ``--packs`` folders first, then the path the run used, then built-ins."""

    def __init__(self, extra_dirs: list[Path], runlog: dict[str, Any]):
        self.dirs: list[Path] = []
        for d in extra_dirs:
            if not d.is_dir():
                raise WorkflowError(f"--packs {d}: no such directory")
            self.dirs += [d] if (d / PACK_FILE).is_file() else list(iter_pack_dirs(d))
        for meta in (runlog.get("packs") or {}).values():
            p = Path(str(meta.get("path"))) if isinstance(meta, dict) and meta.get("path") else None
            if p is not None and (p / PACK_FILE).is_file():
                self.dirs.append(p)
        self.dirs += list(iter_pack_dirs(builtin_packs_dir()))
        self._cache: dict[str, Pack | None] = {}
        self.errors: dict[str, str] = {}

    def get(self, pack_id: str) -> Pack | None:
        if pack_id in self._cache:
            return self._cache[pack_id]
        found: Pack | None = None
        for d in self.dirs:
            try:
                if load_meta(d / PACK_FILE).id != pack_id:
                    continue
                found = load_pack(d)
            except PackError as exc:
                self.errors[pack_id] = str(exc)
                continue
            break
        self._cache[pack_id] = found
        return found


def exchange_from_record(rec: RunRecord) -> Exchange:
    """The exchange as the verifier saw it, rebuilt from the log."""
    turns = []
    for i, call in enumerate(rec.calls):
        try:
            turns.append(parse_response(call.get("response")))
        except EndpointError as exc:
            raise WorkflowError(f"call {i + 1}: saved response unreadable: {exc}") from None
    if not turns:
        raise WorkflowError("no saved response")
    ex = Exchange(raw_turns=turns, messages=list(rec.messages or []))
    if rec.state is not None:
        ex.state = rec.state
    ex.events = list(rec.events)
    return ex


_RESCORED = ("history", "verdict", "passed", "score", "failure_mode", "pack_version", "outcome")


def _failure_mode(ex: Exchange, passed: bool) -> str | None:
    if passed:
        return None
    if any(t.finish_reason == "length" for t in ex.raw_turns):
        return "token_limit"
    return "verifier_fail"


@contextlib.contextmanager
def _open_sandbox(name: str) -> Iterator[Any]:
    try:
        from ..sandbox import open_sandbox  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise WorkflowError(
            f"--sandbox {name}: sandboxes are not available in this installation ({exc})"
        ) from None
    try:
        box = open_sandbox(name)
    except Exception as exc:  # a missing backend: one line, not a traceback
        raise WorkflowError(f"--sandbox {name}: cannot open the sandbox: {exc}") from None
    if hasattr(box, "__enter__"):
        with box as entered:
            yield entered
        return
    try:
        yield box
    finally:
        close = getattr(box, "close", None)
        if callable(close):
            close()


def _needs_sandbox(sc: Scenario) -> bool:
    try:
        return needs(sc.verifier)[0]
    except VerifierConfigError:
        return False


def rescore(
    runlog: dict[str, Any],
    *,
    pack_dirs: list[Path] | None = None,
    sandbox: str | None = None,
    plugin_version: str | None = None,
) -> RescoreResult:
    """Rescore ``runlog`` in place (the dict); the caller decides where to save it."""
    finder = PackFinder(pack_dirs or [], runlog)
    out = RescoreResult()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    versions: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        box: Any = None
        for raw in runlog.get("results") or []:
            rec = RunRecord.from_json(raw)
            label = rec.label
            if rec.kind == "function":
                out.skipped.append(f"{label}: a test function, its checks live in the test")
                continue
            if rec.is_error:
                out.skipped.append(f"{label}: {rec.failure_mode}, no response to rescore")
                continue
            pack = finder.get(rec.pack)
            if pack is None:
                why = finder.errors.get(rec.pack, "not found (give --packs DIR)")
                out.skipped.append(f"{label}: pack {rec.pack!r} {why}")
                continue
            try:
                sc = pack.scenario(rec.scenario)
            except KeyError:
                out.skipped.append(f"{label}: no such scenario in pack {pack.meta.version}")
                continue
            if sc.environment is not None and rec.state is None:
                out.skipped.append(f"{label}: agent scenario without a saved final state")
                continue
            try:
                ex = exchange_from_record(rec)
            except WorkflowError as exc:
                out.skipped.append(f"{label}: {exc}")
                continue
            if _needs_sandbox(sc):
                if sandbox is None:
                    out.skipped.append(f"{label}: its verifier runs code; give --sandbox NAME")
                    continue
                if box is None:
                    box = stack.enter_context(_open_sandbox(sandbox))
            try:
                verdict = verify(sc, pack.meta, ex, VerifierContext(sandbox=box))
            except Exception as exc:  # a broken verifier must not lose the other verdicts
                out.skipped.append(f"{label}: verifier raised {type(exc).__name__}: {exc}")
                continue
            out.checked += 1
            new = verdict.to_dict()
            old = dict(rec.verdict or {})
            if rec.pack_version != pack.meta.version:
                versions[pack.meta.id] = pack.meta.version
            same = (
                all(old.get(k) == new.get(k) for k in ("passed", "score", "detail", "category"))
                and rec.pack_version == pack.meta.version
            )
            if same:
                continue
            out.changes.append(Change(label, old, new))
            earlier = {
                "at": now,
                "action": "rescore",
                "pack_version": rec.pack_version,
                "passed": rec.passed,
                "score": rec.score,
                "failure_mode": rec.failure_mode,
                "verdict": old,
            }
            new_rec = rec.replace(
                history=(*rec.history, earlier),
                verdict=new,
                passed=verdict.passed,
                score=round(verdict.score, 6),
                failure_mode=_failure_mode(ex, verdict.passed),
                pack_version=pack.meta.version,
                outcome=None if rec.outcome is None else ("passed" if verdict.passed else "failed"),
            ).to_json()
            # in place, and only what a rescore decides: the record keeps its other keys
            for key in _RESCORED:
                if key in new_rec:
                    raw[key] = new_rec[key]
    for pid, ver in sorted(versions.items()):
        out.notes.append(f"pack {pid} rescored with version {ver} (the run used another)")
        meta = (runlog.get("packs") or {}).get(pid)
        if isinstance(meta, dict):
            meta["version"] = ver
    old_summary = runlog.get("summary")
    runlog["summary"] = summary_of(runlog.get("results") or [])
    runlog.setdefault("history", []).append(
        {
            "at": now,
            "action": "rescore",
            "plugin_version": plugin_version,
            "changed": [c.label for c in out.changes],
            "skipped": len(out.skipped),
            "previous_quality": (old_summary or {}).get("quality")
            if isinstance(old_summary, dict)
            else None,
        }
    )
    return out
