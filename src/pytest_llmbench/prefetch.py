"""Prefetching: each scenario's request goes out before pytest reaches its item.

pytest runs items one by one; the server answers several requests at once. The
:class:`Prefetcher` keeps up to ``--llm-concurrency`` requests of the upcoming items
in flight (a window of pytest's order, or the xdist worker's own queue), warms the
verifiers up before the first request, and stops the run when its first scenarios all
fail the same infrastructure way (``--llm-give-up``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from .collect import ScenarioItem
from .core import runner
from .core.endpoint import DEAD_MODES, EndpointError
from .core.request_queue import Scheduler
from .core.runner import ScenarioResult
from .errors import InfraError
from .options import RunConfig
from .verdicts import RESULT_KEY
from .xdist import is_worker, upcoming_items

if TYPE_CHECKING:
    from .connect import Endpoints
    from .core.responders import Answerer


class Prefetcher:
    def __init__(
        self,
        cfg: RunConfig,
        config: pytest.Config,
        endpoints: Endpoints,
        store: Callable[[ScenarioItem, ScenarioResult], None],
    ):
        """``store`` records an item's result (its run log record and report
        properties) once its answer, or why there is none, is known."""
        self.cfg = cfg
        self.config = config
        self.endpoints = endpoints
        self.store = store
        self._lock = threading.Lock()
        self._scheduler: Scheduler[ScenarioResult] | None = None
        self._warmed = False
        self._index: dict[int, int] = {}  # id(item) -> its place in session.items
        self._cursor = 0
        self._dead_watch: list[EndpointError] | None = []  # None once decided
        self.stopped_early: dict[str, Any] | None = None

    def concurrency(self) -> int:
        return self.cfg.concurrency

    def reserve(self) -> int:
        """Items at the head of a worker's queue that it may have sent to the server
        (the prefetch window, the item running, one in transit): never stolen."""
        return Scheduler(self.concurrency()).window + self.concurrency() + 2

    def generate(self, item: ScenarioItem, endpoint: Answerer) -> None:
        """The item's answer (in ``item.stash[RESULT_KEY]``), asked ahead when it can
        be; an infrastructure failure is recorded and raised as :class:`InfraError`.
        ``endpoint`` is the ``llm_endpoint`` fixture's."""
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
        self.watch_dead(item, res.error)
        if res.error is not None:
            if res.error.failure_mode == "timeout" and "--llm-timeout" not in res.error.args[0]:
                res.error.args = (f"{res.error.args[0]} ({eps.timeout_hint(item)})",)
            self.store(item, res)
            raise InfraError(res.error.failure_mode, res.error.args[0])

    def setup_failed(self, item: ScenarioItem, exc: InfraError) -> None:
        """The record of an item that never asked the model (no sandbox, a dead server)."""
        res = ScenarioResult(item.pack.id, item.scenario.id, repeat=item.repeat)
        res.error = EndpointError(exc.failure_mode, str(exc))
        item.stash[RESULT_KEY] = res
        self.store(item, res)
        self.watch_dead(item, res.error)

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

    def watch_dead(self, item: ScenarioItem, err: EndpointError | None) -> None:
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

    def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.close()
