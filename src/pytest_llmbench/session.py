"""Run state for one pytest session, kept in ``config.stash``.

The plugin's hooks call into :class:`LLMSession`; nothing here runs at import time
and nothing touches the network until an item is set up.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from .collect import BrokenPackItem, ScenarioItem, tag_marker
from .core import runner
from .core.endpoint import (
    DEAD_MODES,
    ChatParams,
    Endpoint,
    EndpointError,
    request_params,
)
from .core.endpoint_kinds import make_endpoint, make_http_endpoint
from .core.http_endpoint import HTTPEndpoint
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
from .core.runner import ChatResult, ScenarioResult, ask, generation_for
from .core.schema import PackMeta, Scenario
from .core.summary import Summary
from .core.verifiers.context import Judge
from .core.wrappers import CachingEndpoint, ReplayEndpoint, ReplicaSet
from .errors import InfraError
from .options import RunConfig
from .verdicts import RESULT_KEY, Verdicts
from .xdist import is_worker, upcoming_items

SESSION_KEY = pytest.StashKey["LLMSession"]()
RECORD_KEY = pytest.StashKey[RunRecord]()
CALLS_KEY = pytest.StashKey[list[Any]]()

TIMEOUT_FLOOR_S = 30.0
TIMEOUT_CEILING_S = 1800.0
ASSUMED_MAX_TOKENS = 4096


def get_session(config: pytest.Config) -> LLMSession:
    """The run's session, created on first use (runs without llmbench never pay for it)."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        session = config.stash[SESSION_KEY] = LLMSession(config, RunConfig.from_pytest(config))
    return session


class LLMSession:
    def __init__(self, config: pytest.Config, cfg: RunConfig):
        self.config = config
        self.cfg = cfg
        self._replay_endpoint: ReplayEndpoint | None = cfg.replay_endpoint
        self.model: str | None = cfg.model
        self._model_endpoints: dict[str, Answerer] = {}
        self._endpoint_models: dict[int, str | None] = {}
        self._resumed: dict[str, RunRecord] | None = None
        self.server_settings: dict[str, Any] | None = None
        self._worker_facts: dict[str, Any] = {}  # merged from xdist workers
        self.gate_messages: list[str] = []
        self.exit_reason: str | None = None
        self.other_failures = 0  # failed reports that are not scenario results
        self.verdicts = Verdicts(
            sandbox=cfg.sandbox,
            sandbox_image=cfg.sandbox_image,
            judge=self.judge_model(),
            store=self._store,
        )
        self.packs: dict[str, dict[str, Any]] = {}
        self.seen_pack_ids: set[str] = set()
        self._tags: set[str] = set()
        self._scenario_ids: dict[tuple[str, str], str] = {}
        self._endpoint: Answerer | None = None
        self._used_endpoint: Answerer | None = None
        self._probed: dict[int, EndpointError | None] = {}
        self.speed: dict[str, Any] | None = None
        self._speed_known = False  # a usable tokens/s figure is in self.speed
        self._speed_probe_sent = False
        self._lock = threading.Lock()
        self._warmed = False
        self._probe_lock = threading.Lock()  # not _lock: collection goes on meanwhile
        self._warm: threading.Thread | None = None
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

    @property
    def endpoint_label(self) -> str:
        return self.cfg.endpoint_label

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
            "endpoint": self._describe_endpoint(),
            "model_endpoints": self._model_endpoints_record(),
            "model": self.model,
            "models": list(self.cfg.model_labels) or None,
            "model_sizes_gb": dict(self.cfg.model_sizes) or None,
            "oracle": self.cfg.oracle,
            "thinking": {True: "on", False: "off", None: "pack"}[self.cfg.thinking],
            "sampling": self.sampling_record(),
            "sandbox": self.verdicts.describe_sandbox() or self._worker_facts.get("sandbox"),
            "concurrency": self.concurrency(),
            "repeat": self.cfg.repeat,
            "speed_probe": self.speed,
            "resumed_from": self.cfg.resume,
            "stopped_early": self.stopped_early,
            "packs": self.packs,
        }

    def _model_endpoints_record(self) -> dict[str, Any] | None:
        """Multi-model runs: each model's own server (or the shared one), never a key."""
        if not self.cfg.model_labels:
            return None
        out: dict[str, Any] = {}
        for label in self.cfg.model_labels:
            ep = self._model_endpoints.get(label)
            if ep is not None:
                out[label] = ep.describe()
            else:
                out[label] = {"name": self.cfg.model_urls.get(label) or self.endpoint_label}
        return out

    def _describe_endpoint(self) -> dict[str, Any]:
        if self._used_endpoint is None and self._worker_facts.get("endpoint"):
            return dict(self._worker_facts["endpoint"])  # xdist: only workers used it
        ep = self._used_endpoint or self._endpoint
        return ep.describe() if ep is not None else {"name": self.endpoint_label}

    # -- xdist: what only the workers learn ---------------------------------------
    def worker_facts(self) -> dict[str, Any]:
        """A worker's probe results, for the controller's run log (builtins only)."""
        ep = self._used_endpoint
        facts = {
            "endpoint": ep.describe() if ep is not None else None,
            "model": self.model,
            "speed_probe": self.speed,
            "server_settings": self.server_settings,
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
        if self.model is None and not self.cfg.model_labels:
            self.model = self._worker_facts.get("model")
        if self.speed is None:
            self.speed = self._worker_facts.get("speed_probe")
        if self.server_settings is None:
            self.server_settings = self._worker_facts.get("server_settings")

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
            f"llmbench {__version__}: endpoint={self.endpoint_label} "
            f"model={','.join(self.cfg.model_labels) or self.model or 'auto'} "
            f"thinking={self.cfg.thinking_option} "
            f"sampling={self.sampling_label()} concurrency={total} repeat={self.cfg.repeat} "
            f"sandbox={self.cfg.sandbox}"
        )

    def sampling_record(self) -> dict[str, Any]:
        if self.cfg.sampling_mode == "canonical":
            return {"mode": "canonical", "temperature": 0.0}
        if self.cfg.sampling_mode == "custom":
            return {"mode": "custom", **self.cfg.sampling}
        return {"mode": "server", "server_settings": self.server_settings}

    def sampling_label(self) -> str:
        if self.cfg.sampling_mode == "canonical":
            return "canonical(t=0)"
        if self.cfg.sampling_mode == "server":
            return "from-server"
        return "NON-CANONICAL(" + ",".join(f"{k}={v}" for k, v in self.cfg.sampling.items()) + ")"

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

    # -- endpoint -------------------------------------------------------------
    def endpoint(self) -> Answerer:
        with self._lock:
            if self._endpoint is None:
                if not self.cfg.endpoint_specs and not self.cfg.replay and self.cfg.model_labels:
                    self._endpoint = self._make_model_endpoint(self.cfg.model_labels[0])
                else:
                    self._endpoint = self._make_endpoint()
            return self._endpoint

    def endpoint_for(self, item: ScenarioItem, fixture_endpoint: Answerer) -> Answerer:
        """The fixture's endpoint, or the model's own server in a multi-model run."""
        if item.model is None or not self.cfg.model_urls.get(item.model):
            return fixture_endpoint
        with self._lock:
            ep = self._model_endpoints.get(item.model)
            if ep is None:
                ep = self._model_endpoints[item.model] = self._make_model_endpoint(item.model)
            return ep

    def _make_model_endpoint(self, label: str) -> Answerer:
        url = self.cfg.model_urls.get(label)
        assert url is not None
        return make_endpoint(
            url,
            api_key_env=self.cfg.api_key_env,
            timeout_s=self.cfg.timeout_s or 300.0,
            retries=self.cfg.retries,
            concurrency=self.concurrency(),
            stream=self.cfg.stream,
        )

    def model_id_for(self, item: ScenarioItem, endpoint: Answerer) -> str | None:
        if item.model is None:
            return self.model
        if self.cfg.model_urls.get(item.model):
            return self._endpoint_models.get(id(endpoint))
        return item.model

    def _make_endpoint(self) -> Answerer:
        if self._replay_endpoint is not None:
            return self._replay_endpoint
        if not self.cfg.endpoint_specs:
            pytest.skip("no --llm-endpoint given")
        eps = [
            make_endpoint(
                spec,
                api_key_env=self.cfg.api_key_env,
                timeout_s=self.cfg.timeout_s or 300.0,
                retries=self.cfg.retries,
                concurrency=self.concurrency(),
                stream=self.cfg.stream,
            )
            for spec in self.cfg.endpoint_specs
        ]
        # several servers: only URLs can be combined (checked with the options)
        ep = eps[0] if len(eps) == 1 else ReplicaSet([e for e in eps if isinstance(e, Endpoint)])
        if self.cfg.cache and isinstance(ep, Endpoint) and not ep.in_process:
            ep = CachingEndpoint(ep, Path(self.cfg.cache))
        return ep

    def ensure_probed(self, endpoint: Answerer) -> None:
        """Probe each endpoint once; a dead endpoint gives the same one-line error to
        every item instead of a hundred tracebacks."""
        key = id(endpoint)
        if key not in self._probed:
            with self._probe_lock:
                if key not in self._probed:
                    self._probe(endpoint)
        err = self._probed[key]
        if err is not None:
            raise InfraError(err.failure_mode, f"{err.args[0]} (detected once at first use)")

    def _probe(self, endpoint: Answerer) -> None:
        key = id(endpoint)
        outcome: EndpointError | None = None
        try:
            model = endpoint.probe()
            self._endpoint_models[key] = model
            if self.model is None and model and not self.cfg.model_labels:
                self.model = model
        except EndpointError as exc:
            outcome = exc
            if self._model_known(key) and exc.failure_mode in ("http_error", "malformed_response"):
                outcome = None  # a server without /v1/models: the model was named anyway
                self._endpoint_models[key] = None
        if outcome is None and self.cfg.sampling_mode == "server" and self.server_settings is None:
            self.server_settings = _server_settings(endpoint)
        self._probed[key] = outcome  # last: generate() reads the key without the lock

    def _model_known(self, endpoint_key: int) -> bool:
        labels = self.cfg.model_labels
        if self.model or (labels and not self.cfg.model_urls.get(labels[0])):
            return True
        # a multi-model run's own server: its label is the model id
        return any(id(ep) == endpoint_key for ep in self._model_endpoints.values())

    def warm_up(self) -> None:
        """Probe the run's endpoint in the background while pytest collects, so the
        first scenario does not wait for the start-up requests."""
        if self.cfg.replay or not any(s.startswith("http") for s in self.cfg.endpoint_specs):
            return
        shared = getattr(self.config, "workerinput", {}).get("llmbench_probe")
        if isinstance(shared, dict) and self._adopt_probe(shared):
            return

        def probe() -> None:
            with contextlib.suppress(BaseException):  # the first item reports it
                self.ensure_probed(self.endpoint())

        self._warm = threading.Thread(target=probe, name="llmbench-probe", daemon=True)
        self._warm.start()

    # xdist: the controller probes once and hands the findings to every worker.
    def probe_facts(self) -> dict[str, Any] | None:
        """Controller: the probe's findings (or its failure) for the workers; None when
        there are none to share (each worker then probes itself)."""
        if self._warm is None:
            return None
        self._warm.join(120.0)
        ep = self._endpoint
        if not isinstance(ep, HTTPEndpoint) or id(ep) not in self._probed:
            return None
        err = self._probed[id(ep)]
        if err is not None:
            return {"url": ep.url, "error": [err.failure_mode, err.args[0]]}
        return {
            "url": ep.url,
            "dialect": ep.dialect,
            "model": self._endpoint_models.get(id(ep)),
            "server_settings": self.server_settings,
        }

    def _adopt_probe(self, facts: dict[str, Any]) -> bool:
        ep = self.endpoint()
        if not isinstance(ep, HTTPEndpoint) or facts.get("url") != ep.url:
            return False
        with self._probe_lock:
            error = facts.get("error")
            if id(ep) not in self._probed and isinstance(error, list) and len(error) == 2:
                self._probed[id(ep)] = EndpointError(str(error[0]), str(error[1]))
            elif id(ep) not in self._probed:
                ep.dialect = facts.get("dialect")
                model = facts.get("model")
                self._endpoint_models[id(ep)] = model
                if self.model is None and model and not self.cfg.model_labels:
                    self.model = model
                if self.server_settings is None:
                    self.server_settings = facts.get("server_settings")
                self._probed[id(ep)] = None
        return True

    def _wants_speed(self, endpoint: Answerer) -> bool:
        return not (endpoint.in_process or self.cfg.timeout_s or not self.cfg.probe)

    def note_speed(self, calls: list[ChatResult], endpoint: Answerer) -> None:
        """Decode speed, which sizes per-request timeouts, from the first reply that
        gives a usable figure. Until then requests use the client's default timeout, so
        no scenario waits for a measurement. A reply too short to measure sends one
        dedicated probe request, in the background."""
        if self._speed_known or not calls or calls[0].cached or not self._wants_speed(endpoint):
            return
        figure = speed_figure(calls[0])
        with self._lock:
            if self._speed_known:
                return
            if figure["tokens_per_s"] is not None or self.speed is None:
                self.speed = {**figure, "source": "scenario"}
                self._speed_known = figure["tokens_per_s"] is not None
            if self._speed_known or self._speed_probe_sent:
                return
            self._speed_probe_sent = True
        threading.Thread(
            target=self._speed_probe, args=(endpoint,), name="llmbench-speed", daemon=True
        ).start()

    def _speed_probe(self, endpoint: Answerer) -> None:
        """A short generation (30 tokens or so) whose speed is measurable."""
        if not isinstance(endpoint, Endpoint):
            return  # a responder answers from the scenario: no speed to measure
        params = replace(request_params(self.params()), max_tokens=32)
        ask_for = [{"role": "user", "content": "Count from 1 to 30, separated by spaces."}]
        try:
            out = {
                **speed_figure(ask(endpoint, ask_for, params, timeout_s=60.0)),
                "source": "probe",
            }
        except EndpointError as exc:
            out = {"ok": False, "error": str(exc), "source": "probe"}
        with self._lock:
            if not self._speed_known and (out.get("tokens_per_s") or not self.speed):
                self.speed = out
                self._speed_known = out.get("tokens_per_s") is not None

    def timeout_for(self, item: ScenarioItem) -> float | None:
        """--llm-timeout, else the scenario's, else sized from the measured speed."""
        if self.cfg.timeout_s:
            return self.cfg.timeout_s
        gen = generation_for(item.pack, item.scenario)
        if gen.timeout_s:
            return float(gen.timeout_s)
        tps = (self.speed or {}).get("tokens_per_s")
        if not isinstance(tps, (int, float)) or tps <= 0:
            return None
        max_tokens = gen.max_tokens or ASSUMED_MAX_TOKENS
        return max(TIMEOUT_FLOOR_S, min(TIMEOUT_CEILING_S, 10.0 + 3.0 * max_tokens / tps))

    def params(self, model: str | None = None) -> ChatParams:
        return ChatParams(
            model=model or self.model,
            thinking=self.cfg.thinking,
            sampling=dict(self.cfg.sampling),
            sampling_mode=self.cfg.sampling_mode,
            max_tokens_cap=self.cfg.max_tokens,
        )

    def judge_model(self) -> Judge | None:
        """The judge of ``--llm-judge-url``; every process (xdist workers too) has one."""
        if not self.cfg.judge_url:
            return None
        endpoint = make_http_endpoint(self.cfg.judge_url, api_key_env=self.cfg.api_key_env)
        return Judge(endpoint, self.cfg.judge_model)

    # -- items ------------------------------------------------------------------
    def _job(self, item: ScenarioItem, endpoint: Answerer) -> Callable[[], ScenarioResult]:
        # Built for every upcoming item on every prefetch: keep it a bare closure.
        def job() -> ScenarioResult:
            params = self.params(self.model_id_for(item, endpoint))
            res = runner.generate(
                item.scenario,
                item.pack,
                endpoint,
                params,
                timeout_s=self.timeout_for(item),
                repeat=item.repeat,
            )
            if not self._speed_known:
                self.note_speed(res.calls, endpoint)
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
        endpoint = self.endpoint_for(item, endpoint)
        if self._used_endpoint is None:
            self._used_endpoint = endpoint  # a conftest may have overridden the fixture
        try:
            self.ensure_probed(endpoint)
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
                        for ep in [self.endpoint_for(it, endpoint)]
                        if id(ep) in self._probed
                    ),
                    bounded=is_worker(self.config),
                )
            res = sched.take(item.nodeid, endpoint, self._job(item, endpoint))
        item.stash[RESULT_KEY] = res
        self._watch_dead(item, res.error)
        if res.error is not None:
            if res.error.failure_mode == "timeout" and "--llm-timeout" not in res.error.args[0]:
                res.error.args = (f"{res.error.args[0]} ({self.timeout_hint(item)})",)
            self._store(item, res)
            raise InfraError(res.error.failure_mode, res.error.args[0])

    def setup_failed(self, item: ScenarioItem, exc: InfraError) -> None:
        """The record of an item that never asked the model (no sandbox, a dead server)."""
        res = ScenarioResult(item.pack.id, item.scenario.id, repeat=item.repeat)
        res.error = EndpointError(exc.failure_mode, str(exc))
        item.stash[RESULT_KEY] = res
        self._store(item, res)
        self._watch_dead(item, res.error)

    def timeout_hint(self, item: ScenarioItem) -> str:
        """Which limit a timed-out request hit, and the option that raises it."""
        if self.cfg.timeout_s:
            return f"limit {self.cfg.timeout_s:g} s from --llm-timeout"
        gen = generation_for(item.pack, item.scenario)
        if gen.timeout_s:
            return f"limit {gen.timeout_s:g} s set by the scenario; --llm-timeout overrides it"
        limit = self.timeout_for(item)
        if limit is not None:
            return f"limit {limit:.0f} s sized from the measured speed; raise it with --llm-timeout"
        return "limit 300 s (the client default); raise it with --llm-timeout"

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
            model=self.model,
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
            sampling=self.sampling_record(),
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
        if self._endpoint is not None:
            self._endpoint.close()
        if self.writer is not None:
            self.writer.close()


def _server_settings(endpoint: Answerer) -> dict[str, Any] | None:
    """What the server says it samples with (llama.cpp ``/props``), if it says."""
    inner: Any = endpoint
    while not isinstance(inner, HTTPEndpoint):
        if isinstance(inner, ReplicaSet):
            inner = inner.replicas[0]
        elif isinstance(inner, CachingEndpoint):
            inner = inner.inner
        else:
            return None
    props = inner.props()
    if not props:
        return None
    settings = props.get("default_generation_settings")
    if isinstance(settings, dict) and isinstance(settings.get("params"), dict):
        settings = settings["params"]
    keep = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed", "n_predict")
    if isinstance(settings, dict):
        return {k: settings[k] for k in keep if k in settings}
    return None


PROBE_MIN_TOKENS = 4


def speed_figure(res: ChatResult) -> dict[str, Any]:
    """Decode tokens/s of one reply: the server's own figure (llama.cpp ``timings``),
    else completion tokens over latency; None when it cannot be measured."""
    timings = res.timings or {}
    n = timings.get("predicted_n")
    if not isinstance(n, int):
        n = res.completion_tokens
    tps = None
    if isinstance(n, int) and n < PROBE_MIN_TOKENS:
        pass  # one token has no decode interval (llama.cpp then says 0 tok/s)
    elif isinstance(timings.get("predicted_per_second"), (int, float)):
        tps = float(timings["predicted_per_second"])
    elif res.completion_tokens and res.latency_s > 0:
        tps = res.completion_tokens / res.latency_s
    if tps is not None and not 0 < tps < float("inf"):
        tps = None
    out: dict[str, Any] = {
        "ok": True,
        "tokens_per_s": None if tps is None else round(tps, 2),
        "latency_s": round(res.latency_s, 4),
        "tokens": n,
    }
    if tps is None:
        why = (
            "too few tokens to measure"
            if isinstance(n, int) and n < PROBE_MIN_TOKENS
            else "no usable speed figure"
        )
        out["note"] = f"{why}; timeouts use the client default"
    return out
