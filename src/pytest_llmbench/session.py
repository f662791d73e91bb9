"""Run state for one pytest session, kept in ``config.stash``.

The plugin's hooks call into :class:`LLMSession`; nothing here runs at import time
and nothing touches the network until an item is set up.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from .collect import CONTROLLER_KEY, ScenarioItem, tag_marker
from .connect import Endpoints
from .core import runner
from .core.endpoint import (
    DEAD_MODES,
    EndpointError,
)
from .core.packs import PACK_FILE, PackError, builtin_packs_dir, load_meta
from .core.request_queue import Scheduler
from .core.responders import Answerer
from .core.runner import ScenarioResult
from .core.schema import PackMeta, Scenario
from .errors import InfraError
from .options import RunConfig
from .recorder import Recorder
from .verdicts import RESULT_KEY, Verdicts
from .xdist import is_worker, upcoming_items

SESSION_KEY = pytest.StashKey["LLMSession"]()


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
        self._worker_facts: dict[str, Any] = {}  # merged from xdist workers
        self.recorder = Recorder(config, cfg, self.run_facts)
        self.verdicts = Verdicts.of_run(cfg, self.endpoints, store=self._store_result)
        self.packs: dict[str, dict[str, Any]] = {}
        self.seen_pack_ids: set[str] = set()
        self._tags: set[str] = set()
        self._scenario_ids: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._warmed = False
        self._scheduler: Scheduler[ScenarioResult] | None = None
        self._index: dict[int, int] = {}
        self._cursor = 0
        self._dead_watch: list[EndpointError] | None = []  # None once decided
        self.stopped_early: dict[str, Any] | None = None

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

    def run_facts(self) -> dict[str, Any]:
        """What the run log's header says besides the recorder's own facts."""
        return {
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
            done = self.recorder.resumed_records()
            keep: list[pytest.Item] = []
            skip: list[pytest.Item] = []
            for it in items:
                (skip if it.nodeid in done else keep).append(it)
            if skip:
                self.config.hook.pytest_deselected(items=skip)
                items[:] = keep

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
            self._store_result(item, res)
            raise InfraError(res.error.failure_mode, res.error.args[0])

    def setup_failed(self, item: ScenarioItem, exc: InfraError) -> None:
        """The record of an item that never asked the model (no sandbox, a dead server)."""
        res = ScenarioResult(item.pack.id, item.scenario.id, repeat=item.repeat)
        res.error = EndpointError(exc.failure_mode, str(exc))
        item.stash[RESULT_KEY] = res
        self._store_result(item, res)
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

    def _store_result(self, item: ScenarioItem, res: ScenarioResult) -> None:
        self.recorder.store(item, res, self.endpoints.model)

    def close(self) -> None:
        self.verdicts.close()
        if self._scheduler is not None:
            self._scheduler.close()
        self.endpoints.close()
        self.recorder.close()
