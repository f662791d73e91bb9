"""Recording a run: each scenario's record, the run log, resume, the Markdown report,
the gates and the exit status.

The session owns one :class:`Recorder`. Items hand it their results; reports carry
the records (builtins, so they cross xdist); the controller folds them into the
summary and the run log. Options are read only through the run's ``RunConfig``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import __version__
from .core.endpoint import EndpointError
from .core.record import RunRecord, records_of, user_properties
from .core.runlog import (
    RunLogBusy,
    RunLogWriter,
    default_log_path,
    journal_of,
    read_runlog_warn,
)
from .core.runner import ScenarioResult
from .core.summary import Summary
from .options import RunConfig
from .verdicts import RESULT_KEY

if TYPE_CHECKING:
    from .collect import ScenarioItem

RECORD_KEY = pytest.StashKey[RunRecord]()
CALLS_KEY = pytest.StashKey[list[Any]]()

# The run log's header, in the order it has always been written.
HEADER_KEYS = (
    "plugin_version",
    "started_at",
    "endpoint",
    "model_endpoints",
    "model",
    "models",
    "model_sizes_gb",
    "oracle",
    "thinking",
    "sampling",
    "sandbox",
    "concurrency",
    "repeat",
    "speed_probe",
    "resumed_from",
    "stopped_early",
    "packs",
)
# What is only known at the end (the probe, the sandbox, an early stop): written again
# into the header when the run finishes.
LATE_KEYS = (
    "endpoint",
    "model_endpoints",
    "model",
    "packs",
    "speed_probe",
    "sandbox",
    "sampling",
    "stopped_early",
)

Facts = Callable[[], dict[str, Any]]


def _utc(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Recorder:
    """``facts`` gives what the other parts of the session learned (endpoint, model,
    sandbox, speed, packs, an early stop...) for the run log's header."""

    def __init__(self, config: pytest.Config, cfg: RunConfig, facts: Facts):
        self.config = config
        self.cfg = cfg
        self._facts = facts
        self.summary = Summary(model_sizes=dict(cfg.model_sizes))
        self.started = time.time()
        self.writer: RunLogWriter | None = None
        self.active_log = True  # False when another run holds --llm-log
        self.log_path: Path | None = None
        self.interrupted = False
        self.gate_messages: list[str] = []
        self.gate_notes: list[str] = []
        self.exit_reason: str | None = None
        self.other_failures = 0  # failed reports that are not scenario results
        self._resumed: dict[str, RunRecord] | None = None

    def header(self) -> dict[str, Any]:
        facts = self._facts()
        fields = {
            **facts,
            "plugin_version": __version__,
            "started_at": _utc(self.started),
            "resumed_from": self.cfg.resume,
        }
        out = {k: fields.get(k) for k in HEADER_KEYS}
        out.update({k: v for k, v in facts.items() if k not in out})
        return out

    # -- items: building records ------------------------------------------------------
    def result_of(self, item: pytest.Item) -> ScenarioResult | None:
        return item.stash.get(RESULT_KEY, None)

    def store_broken_pack(self, item: pytest.Item, error: str) -> None:
        """A pack file that does not load: its ERROR record, sent with the setup report."""
        item.stash[RECORD_KEY] = RunRecord.of_broken_pack(
            nodeid=item.nodeid,
            pack=item.nodeid.split("/")[0].split("::")[0],
            scenario=item.name,
            error=error,
        )

    def store(self, item: ScenarioItem, res: ScenarioResult, model: str | None) -> None:
        """The scenario's record (``model``: the run's model id when the item has no
        model of its own), kept until the report that decides the item."""
        rec = RunRecord.of_result(
            res,
            nodeid=item.nodeid,
            pack_version=item.pack.version,
            tags=item.scenario.tags,
            model=model,
            model_label=item.model,
        )
        item.stash[RECORD_KEY] = rec
        item.user_properties.extend(user_properties(rec))

    def annotate_report(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Attach the scenario's record to the report that decided it, once; builtins
        only, so it survives xdist's report serialisation."""
        rec = item.stash.get(RECORD_KEY, None)
        # the verdict is reached in setup but reported by the call (unless setup failed)
        if rec is not None and (
            report.when == "call" or (report.when == "setup" and report.failed)
        ):
            del item.stash[RECORD_KEY]
            outcome = report.outcome if report.when == "call" else "error"
            report.llmbench = rec.replace(outcome=outcome).to_json()  # type: ignore[attr-defined]
            return
        # a pack item carries its scenario: its record was stored (or already sent)
        if getattr(item, "scenario", None) is None:
            frec = self.function_record(item, report)
            if frec is not None:
                frec = frec.replace(outcome=report.outcome)
                report.llmbench = frec.to_json()  # type: ignore[attr-defined]

    def function_record(self, item: pytest.Item, report: pytest.TestReport) -> RunRecord | None:
        """A plain test marked ``@pytest.mark.llmbench(pack=...)`` joins that pack's summary."""
        mark = item.get_closest_marker("llmbench")
        if mark is None or not mark.kwargs.get("pack"):
            return None
        if report.skipped or report.when == "teardown":
            return None
        if report.when == "setup" and report.passed:
            return None
        calls = item.stash.get(CALLS_KEY, [])
        infra = next((c for c in calls if isinstance(c, EndpointError)), None)
        mode = None
        if report.failed:
            if infra is not None:
                mode = infra.failure_mode
            else:
                mode = "setup_error" if report.when == "setup" else "verifier_fail"
        lines = report.longreprtext.strip().splitlines() if report.failed else []
        rec = RunRecord.of_function(
            nodeid=item.nodeid,
            pack=str(mark.kwargs["pack"]),
            scenario=item.name,
            passed=report.passed,
            failure_mode=mode,
            error=str(infra) if infra else None,
            detail=lines[-1] if lines else "",
            calls=[c for c in calls if not isinstance(c, EndpointError)],
        )
        item.user_properties.extend(user_properties(rec))
        return rec

    # -- controller: the run log ------------------------------------------------------
    def start(self) -> None:
        """Controller only: take the run log (one writer per log), then carry over the
        finished scenarios of --llm-resume."""
        self._open_writer()
        for rec in self.resumed_records().values():
            self.fold(rec.replace(resumed=True))

    def resumed_records(self) -> dict[str, RunRecord]:
        """Finished scenarios of the run log given to --llm-resume (errors re-run)."""
        if self._resumed is None:
            self._resumed = {}
            if self.cfg.resume:
                try:
                    data, notes = read_runlog_warn(self.cfg.resume)
                except (OSError, ValueError) as exc:
                    raise pytest.UsageError(f"--llm-resume: {exc}") from None
                for note in notes:
                    self._say(f"--llm-resume: {note}")
                for rec in records_of(data):
                    if rec.nodeid and not rec.is_error:
                        self._resumed[rec.nodeid] = rec
        return self._resumed

    def _open_writer(self) -> RunLogWriter:
        if self.writer is None:
            self.log_path = self._log_path()
            writer = RunLogWriter(self.log_path, self.header())
            try:
                writer.lock()
            except RunLogBusy as exc:
                self.active_log = False
                raise pytest.UsageError(f"--llm-log: {exc}") from None
            self.writer = writer
        return self.writer

    def _log_path(self) -> Path:
        if self.cfg.log:
            p = Path(self.cfg.log)
            return p if p.is_absolute() else self.cfg.invocation_dir / p
        return default_log_path(self.cfg.invocation_dir)  # where the user ran it

    def _resumes_own_log(self) -> bool:
        """--llm-resume names this run's own log: its old journal is folded in."""
        w = self.writer
        if not self.cfg.resume or w is None:
            return False
        return journal_of(Path(self.cfg.resume)).resolve() == w.journal_path.resolve()

    def _say(self, line: str) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(f"llmbench: {line}", yellow=True)

    def fold(self, record: RunRecord) -> None:
        self.summary.add(record)
        writer = self._open_writer()
        aside = writer.kept_aside
        writer.add(record)
        if aside is None and writer.kept_aside is not None and not self._resumes_own_log():
            self._say(
                f"an unfinished run's journal was kept as {writer.kept_aside} "
                "(--llm-resume or llmbench inspect read it)"
            )

    def settle_stop(self, stopped_early: dict[str, Any] | None, to_run: int) -> None:
        """Controller of an -n run stopped early: the scenarios none of the workers ran."""
        if stopped_early is not None and stopped_early.get("not_run") is None:
            done = sum(1 for r in self.writer.results if not r.resumed) if self.writer else 0
            stopped_early["not_run"] = max(0, to_run - done)

    def finish(self, exitstatus: int) -> list[str]:
        """Write the run log (and Markdown report); return gate violations."""
        if not self.cfg.active or self.cfg.collectonly:
            return []  # --collect-only ran nothing: no run log
        self.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if not self.active_log:
            return []  # another run holds the log: write nothing
        writer = self._open_writer()
        fresh = self.header()
        writer.header.update({k: fresh[k] for k in LATE_KEYS})
        writer.finish(
            {
                "finished_at": _utc(),
                "duration_s": round(time.time() - self.started, 3),
                "exitstatus": int(exitstatus),
                "interrupted": self.interrupted,
                "summary": self.summary.to_dict(),
            }
        )
        if self.cfg.report_md:
            from .report.markdown import render_markdown

            md_path = Path(self.cfg.report_md)
            md_path.parent.mkdir(parents=True, exist_ok=True)
            md_path.write_text(
                render_markdown(
                    {
                        **writer.header,
                        "results": [r.to_json() for r in writer.results],
                        "summary": self.summary.to_dict(),
                    }
                ),
                encoding="utf-8",
            )
        if writer.kept_aside is not None and self._resumes_own_log():
            writer.kept_aside.unlink(missing_ok=True)  # every record is in the new log
        self.gate_messages = self.gates(fresh["sampling"])
        from .core.workflows.gates import gate_notes

        baseline = None if self.cfg.baseline is None else dict(self.cfg.baseline)
        self.gate_notes = gate_notes(baseline, writer.header)
        return self.gate_messages

    def gates(self, sampling: dict[str, Any]) -> list[str]:
        cfg = self.cfg
        if cfg.baseline is None and not cfg.fail_under:
            return []
        from .core.workflows.gates import evaluate_gates

        return evaluate_gates(
            self.summary.to_dict(),
            self.writer.results if self.writer else [],
            baseline=None if cfg.baseline is None else dict(cfg.baseline),
            max_drop_pp=cfg.max_drop,
            fail_under=dict(cfg.fail_under),
            sampling=sampling,
            allow_noncanonical=cfg.allow_noncanonical,
        )

    def exit_status(self, pytest_status: int) -> int:
        """The session's exit status under the gates (see gates.decide_exit)."""
        from .core.workflows.gates import decide_exit, exit_mode

        status, self.exit_reason = decide_exit(
            pytest_status,
            mode=exit_mode(self.cfg.exit, has_gates=self.cfg.has_gates),
            gate_messages=self.gate_messages,
            errors=self.summary.errors,
            max_errors=self.cfg.max_errors,
            other_failures=self.other_failures,
        )
        if self.exit_reason is not None:
            self.exit_reason = f"exit status {status}: {self.exit_reason}"
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
