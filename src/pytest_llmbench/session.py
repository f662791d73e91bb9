"""Run state for one pytest session, kept in ``config.stash``.

The plugin's hooks call into :class:`LLMSession`; nothing here runs at import time
and nothing touches the network until an item is set up.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from .collect import CONTROLLER_KEY, BrokenPackItem, ScenarioItem, tag_marker
from .connect import Endpoints
from .core import runner
from .core.endpoint import (
    DEAD_MODES,
    EndpointError,
)
from .core.packs import PACK_FILE, PackError, builtin_packs_dir, load_meta
from .core.record import RunRecord, records_of, user_properties
from .core.request_queue import Scheduler
from .core.responders import Answerer
from .core.runlog import (
    RunLogBusy,
    RunLogWriter,
    default_log_path,
    journal_of,
    read_runlog_warn,
)
from .core.runner import ScenarioResult
from .core.schema import PackMeta, Scenario
from .core.summary import Summary
from .errors import InfraError
from .options import RunConfig
from .verdicts import RESULT_KEY, Verdicts
from .xdist import is_worker, upcoming_items

SESSION_KEY = pytest.StashKey["LLMSession"]()
RECORD_KEY = pytest.StashKey[RunRecord]()
CALLS_KEY = pytest.StashKey[list[Any]]()


def get_session(config: pytest.Config) -> LLMSession:
    """The run's session, created on first use (runs without llmbench never pay for it)."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        session = config.stash[SESSION_KEY] = LLMSession(config, RunConfig.from_pytest(config))
        config.stash[CONTROLLER_KEY] = session  # what collect.py's items call
    return session


class LLMSession:
    def __init__(self, config: pytest.Config, cfg: RunConfig):
        self.config = config
        self.cfg = cfg
        self.endpoints = Endpoints(config, cfg)
        self._resumed: dict[str, RunRecord] | None = None
        self._worker_facts: dict[str, Any] = {}  # merged from xdist workers
        self.gate_messages: list[str] = []
        self.exit_reason: str | None = None
        self.other_failures = 0  # failed reports that are not scenario results
        self.verdicts = Verdicts.of_run(cfg, self.endpoints, store=self._store)
        self.packs: dict[str, dict[str, Any]] = {}
        self.seen_pack_ids: set[str] = set()
        self._tags: set[str] = set()
        self._scenario_ids: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._warmed = False
        self._scheduler: Scheduler[ScenarioResult] | None = None
        self._index: dict[int, int] = {}
        self._cursor = 0
        self.summary = Summary(model_sizes=dict(self.cfg.model_sizes))
        self.gate_notes: list[str] = []
        self.started = time.time()
        self.writer: RunLogWriter | None = None
        self.active_log = True  # False when another run holds --llm-log
        self._dead_watch: list[EndpointError] | None = []  # None once decided
        self.stopped_early: dict[str, Any] | None = None
        self.log_path: Path | None = None
        self.interrupted = False

    # -- configuration ------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.cfg.active

    def builtin_dir(self) -> Path | None:
        if not self.active:
            return None
        wanted = self.cfg.builtin_packs
        if wanted is None:
            wanted = not self.cfg.explicit_args or bool(self.cfg.packs_filter)
        if not wanted:
            return None
        d = builtin_packs_dir()
        return d if d.is_dir() else None

    def add_builtin_args(self) -> None:
        """Collect the built-in packs by adding their folder to pytest's arguments."""
        d = self.builtin_dir()
        if d is not None and str(d) not in self.config.args:
            self.config.args.append(str(d))

    def concurrency(self) -> int:
        return self.cfg.concurrency

    def prefetch_reserve(self) -> int:
        """Items at the head of a worker's queue that it may have sent to the server
        (the prefetch window, the item running, one in transit): never stolen."""
        return Scheduler(self.concurrency()).window + self.concurrency() + 2

    def header(self) -> dict[str, Any]:
        return {
            "plugin_version": __version__,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "endpoint": self.endpoints.describe_endpoint(self._worker_facts),
            "model_endpoints": self.endpoints.model_endpoints_record(),
            "model": self.endpoints.model,
            "models": list(self.cfg.model_labels) or None,
            "model_sizes_gb": dict(self.cfg.model_sizes) or None,
            "oracle": self.cfg.oracle,
            "thinking": {True: "on", False: "off", None: "pack"}[self.cfg.thinking],
            "sampling": self.endpoints.sampling_record(),
            "sandbox": self.verdicts.describe_sandbox() or self._worker_facts.get("sandbox"),
            "concurrency": self.concurrency(),
            "repeat": self.cfg.repeat,
            "speed_probe": self.endpoints.speed,
            "resumed_from": self.cfg.resume,
            "stopped_early": self.stopped_early,
            "packs": self.packs,
        }

    # -- xdist: what only the workers learn ---------------------------------------
    def worker_facts(self) -> dict[str, Any]:
        """A worker's probe results, for the controller's run log (builtins only)."""
        eps = self.endpoints
        facts = {
            "endpoint": eps.used.describe() if eps.used is not None else None,
            "model": eps.model,
            "speed_probe": eps.speed,
            "server_settings": eps.server_settings,
            "sandbox": self.verdicts.describe_sandbox(),
            "stopped_early": self.stopped_early,
        }
        return json.loads(json.dumps(facts, default=str))  # type: ignore[no-any-return]

    def merge_worker_facts(self, facts: Any) -> None:
        """Controller: fill what it never probed itself from the first worker that did."""
        if not isinstance(facts, dict):
            return
        stop = facts.pop("stopped_early", None)
        if isinstance(stop, dict) and self.stopped_early is None:
            # each worker stops on its own; settle_stop counts what none ran
            self.stopped_early = {**stop, "not_run": None}
        for key, value in facts.items():
            if value is not None and self._worker_facts.get(key) is None:
                self._worker_facts[key] = value
        eps = self.endpoints
        if eps.model is None and not self.cfg.model_labels:
            eps.model = self._worker_facts.get("model")
        if eps.speed is None:
            eps.speed = self._worker_facts.get("speed_probe")
        if eps.server_settings is None:
            eps.server_settings = self._worker_facts.get("server_settings")

    def settle_stop(self, to_run: int) -> None:
        """Controller of an -n run stopped early: the scenarios none of the workers ran."""
        if self.stopped_early is not None and self.stopped_early.get("not_run") is None:
            done = sum(1 for r in self.writer.results if not r.resumed) if self.writer else 0
            self.stopped_early["not_run"] = max(0, to_run - done)

    def header_line(self) -> str:
        workers = self.cfg.workers
        conc = self.concurrency()
        total = f"{conc} x {workers} workers" if workers else str(conc)
        return (
            f"llmbench {__version__}: endpoint={self.cfg.endpoint_label} "
            f"model={','.join(self.cfg.model_labels) or self.endpoints.model or 'auto'} "
            f"thinking={self.cfg.thinking_option} "
            f"sampling={self.endpoints.sampling_label()} concurrency={total} "
            f"repeat={self.cfg.repeat} "
            f"sandbox={self.cfg.sandbox}"
        )

    # -- collection -----------------------------------------------------------
    def wants_pack(self, pack_id: str) -> bool:
        self.seen_pack_ids.add(pack_id)
        return not self.cfg.packs_filter or pack_id in self.cfg.packs_filter

    def pack_nodeid(self, path: Path) -> str:
        """The pack id when pack.yaml is readable; else the folder name (the error
        then surfaces when the pack is collected)."""
        try:
            return load_meta(path / PACK_FILE).id
        except PackError:
            return path.name

    def register_pack(self, meta: PackMeta, path: Path) -> None:
        with self._lock:
            self.packs.setdefault(
                meta.id, {"version": meta.version, "title": meta.title, "path": str(path)}
            )
        self.config.addinivalue_line("markers", f"{meta.marker_name}: scenarios of pack {meta.id}")

    def pack_clash(self, pack_id: str, path: Path) -> str | None:
        known = self.packs.get(pack_id)
        if known and Path(known["path"]).resolve() != path.resolve():
            return str(known["path"])
        return None

    def claim_scenario_id(self, pack_id: str, sc: Scenario) -> str | None:
        key = (pack_id, sc.id)
        where = f"{sc.source_file}:{sc.source_line}"
        prev = self._scenario_ids.get(key)
        if prev is not None and prev != where:
            return prev
        self._scenario_ids[key] = where
        for tag in sc.tags:
            if tag not in self._tags:
                self._tags.add(tag)
                self.config.addinivalue_line(
                    "markers", f"{tag_marker(tag)}: scenarios tagged {tag}"
                )
        return None

    def check_selection(self, items: list[pytest.Item]) -> None:
        unknown = [p for p in self.cfg.packs_filter if p not in self.seen_pack_ids]
        if unknown:
            known = ", ".join(sorted(self.seen_pack_ids)) or "none"
            raise pytest.UsageError(
                f"--llm-pack: unknown pack(s) {', '.join(unknown)} (collected: {known})"
            )
        if self.cfg.resume:
            done = self.resumed_records()
            keep: list[pytest.Item] = []
            skip: list[pytest.Item] = []
            for it in items:
                (skip if it.nodeid in done else keep).append(it)
            if skip:
                self.config.hook.pytest_deselected(items=skip)
                items[:] = keep

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

    # -- items ------------------------------------------------------------------
    def _job(self, item: ScenarioItem, endpoint: Answerer) -> Callable[[], ScenarioResult]:
        # Built for every upcoming item on every prefetch: keep it a bare closure.
        eps = self.endpoints

        def job() -> ScenarioResult:
            params = eps.params(eps.model_id_for(item, endpoint))
            res = runner.generate(
                item.scenario,
                item.pack,
                endpoint,
                params,
                timeout_s=eps.timeout_for(item),
                repeat=item.repeat,
            )
            if not eps.speed_known:
                eps.note_speed(res.calls, endpoint)
            return res

        return job

    def _scheduler_for(self) -> Scheduler[ScenarioResult]:
        with self._lock:
            if self._scheduler is None:
                self._scheduler = Scheduler(self.concurrency())
            return self._scheduler

    def warm_up_verifiers(self, items: list[pytest.Item]) -> None:
        """Once per process, before the first request: a verifier's start-up cost
        (loading the language detector takes seconds) then never lands in the latency
        of requests in flight while the first item is verified."""
        if self._warmed:
            return
        self._warmed = True
        from .core.verifiers.base import get_verifier

        kinds = {it.scenario.verifier.type for it in items if isinstance(it, ScenarioItem)}
        for kind in sorted(kinds):
            get_verifier(kind).warm_up()

    def generate(self, item: ScenarioItem, endpoint: Answerer) -> None:
        self.warm_up_verifiers(item.session.items)
        eps = self.endpoints
        endpoint = eps.endpoint_for(item, endpoint)
        eps.note_used(endpoint)
        try:
            eps.ensure_probed(endpoint)
        except InfraError as exc:
            self.setup_failed(item, exc)
            raise
        if endpoint.in_process or self.concurrency() == 1:
            res = self._job(item, endpoint)()
        else:
            sched = self._scheduler_for()
            if sched.pending() < sched.window:
                sched.prefetch(
                    (
                        (it.nodeid, ep, self._job(it, ep))
                        for it in self._upcoming(item, sched.window)
                        for ep in [eps.endpoint_for(it, endpoint)]
                        if eps.is_probed(ep)
                    ),
                    bounded=is_worker(self.config),
                )
            res = sched.take(item.nodeid, endpoint, self._job(item, endpoint))
        item.stash[RESULT_KEY] = res
        self._watch_dead(item, res.error)
        if res.error is not None:
            if res.error.failure_mode == "timeout" and "--llm-timeout" not in res.error.args[0]:
                res.error.args = (f"{res.error.args[0]} ({eps.timeout_hint(item)})",)
            self._store(item, res)
            raise InfraError(res.error.failure_mode, res.error.args[0])

    def setup_failed(self, item: ScenarioItem, exc: InfraError) -> None:
        """The record of an item that never asked the model (no sandbox, a dead server)."""
        res = ScenarioResult(item.pack.id, item.scenario.id, repeat=item.repeat)
        res.error = EndpointError(exc.failure_mode, str(exc))
        item.stash[RESULT_KEY] = res
        self._store(item, res)
        self._watch_dead(item, res.error)

    def _watch_dead(self, item: ScenarioItem, err: EndpointError | None) -> None:
        """Stop the run, with one line, when its first N scenarios all failed the same
        infrastructure way: a dead endpoint should not cost one ERROR (and one timeout)
        per scenario. The scenarios not run are counted in that line and the run log."""
        watch = self._dead_watch
        if watch is None:
            return
        if (
            err is None
            or err.failure_mode not in DEAD_MODES
            or (watch and err.failure_mode != watch[0].failure_mode)
        ):
            self._dead_watch = None  # the endpoint works (or fails in varied ways)
            return
        watch.append(err)
        limit = self.cfg.give_up
        if not limit or len(watch) < limit:
            return
        self._dead_watch = None
        items = item.session.items
        at = self._index.get(id(item))
        if at is None:
            at = next((i for i, it in enumerate(items) if it is item), len(items) - 1)
        not_run = len(items) - at - 1
        msg = str(err.args[0]).split(" (detected once")[0]
        reason = (
            f"llmbench: stopped early: the first {len(watch)} scenarios all failed with "
            f"{err.failure_mode} ({msg[:200]}); {not_run} scenario(s) not run "
            "(--llm-give-up 0 runs them anyway)"
        )
        self.stopped_early = {
            "reason": reason,
            "failure_mode": err.failure_mode,
            "not_run": not_run,
        }
        if not_run:
            item.session.shouldfail = reason

    def _upcoming(self, item: ScenarioItem, limit: int) -> list[ScenarioItem]:
        """Items to generate ahead. In pytest's own loop a cursor remembers how far
        prefetching got, so each item costs O(1) instead of a scan of the window."""
        items = item.session.items
        if len(self._index) != len(items):
            self._index = {id(it): i for i, it in enumerate(items)}
            self._cursor = 0
        if is_worker(self.config):
            ahead = upcoming_items(item, limit, self._index)
        else:
            at = self._index.get(id(item))
            if at is None:
                return [item]
            start = max(at, self._cursor)
            ahead = [item] + items[start : at + limit] if start > at else items[at : at + limit]
            self._cursor = at + limit
        return [it for it in ahead if isinstance(it, ScenarioItem)]

    def result_of(self, item: pytest.Item) -> ScenarioResult | None:
        return item.stash.get(RESULT_KEY, None)

    def _store(self, item: ScenarioItem, res: ScenarioResult) -> None:
        rec = RunRecord.of_result(
            res,
            nodeid=item.nodeid,
            pack_version=item.pack.version,
            tags=item.scenario.tags,
            model=self.endpoints.model,
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
        if isinstance(item, BrokenPackItem) and report.when == "setup":
            broken = RunRecord.of_broken_pack(
                nodeid=item.nodeid,
                pack=item.nodeid.split("/")[0].split("::")[0],
                scenario=item.name,
                error=item.error,
            )
            report.llmbench = broken.to_json()  # type: ignore[attr-defined]
            return
        if not isinstance(item, ScenarioItem):
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

    # -- controller -------------------------------------------------------------
    def start(self) -> None:
        """Controller only: take the run log (one writer per log), then carry over the
        finished scenarios of --llm-resume."""
        self._open_writer()
        for rec in self.resumed_records().values():
            self.fold(rec.replace(resumed=True))

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

    def _log_path(self) -> Path:
        if self.cfg.log:
            p = Path(self.cfg.log)
            return p if p.is_absolute() else self.cfg.invocation_dir / p
        return default_log_path(self.cfg.invocation_dir)  # where the user ran it

    def finish(self, exitstatus: int) -> list[str]:
        """Write the run log (and Markdown report); return gate violations."""
        if not self.active or self.cfg.collectonly:
            return []  # --collect-only ran nothing: no run log
        self.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if not self.active_log:
            return []  # another run holds the log: write nothing
        self._open_writer()
        assert self.writer is not None
        fresh = self.header()
        self.writer.header.update(
            {
                k: fresh[k]
                for k in (
                    "endpoint",
                    "model_endpoints",
                    "model",
                    "packs",
                    "speed_probe",
                    "sandbox",
                    "sampling",
                    "stopped_early",
                )
            }
        )
        self.writer.finish(
            {
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
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
                        **self.writer.header,
                        "results": [r.to_json() for r in self.writer.results],
                        "summary": self.summary.to_dict(),
                    }
                ),
                encoding="utf-8",
            )
        if self.writer.kept_aside is not None and self._resumes_own_log():
            self.writer.kept_aside.unlink(missing_ok=True)  # every record is in the new log
        self.gate_messages = self.gates()
        from .core.workflows.gates import gate_notes

        baseline = None if self.cfg.baseline is None else dict(self.cfg.baseline)
        self.gate_notes = gate_notes(baseline, self.writer.header)
        return self.gate_messages

    def gates(self) -> list[str]:
        cfg = self.cfg
        if cfg.baseline is None and not cfg.fail_under:
            return []
        from .core.workflows.gates import evaluate_gates

        results = self.writer.results if self.writer else []
        return evaluate_gates(
            self.summary.to_dict(),
            results,
            baseline=None if cfg.baseline is None else dict(cfg.baseline),
            max_drop_pp=cfg.max_drop,
            fail_under=dict(cfg.fail_under),
            sampling=self.endpoints.sampling_record(),
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
        self.verdicts.close()
        if self._scheduler is not None:
            self._scheduler.close()
        self.endpoints.close()
        if self.writer is not None:
            self.writer.close()
