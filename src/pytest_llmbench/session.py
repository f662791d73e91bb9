"""Run state for one pytest session, kept in ``config.stash``.

The plugin's hooks call into :class:`LLMSession`; nothing here runs at import time
and nothing touches the network until an item is set up.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from .collect import CONTROLLER_KEY, ScenarioItem, tag_marker
from .connect import Endpoints
from .core.packs import PACK_FILE, PackError, builtin_packs_dir, load_meta
from .core.responders import Answerer
from .core.runner import ScenarioResult
from .core.schema import PackMeta, Scenario
from .errors import InfraError
from .options import RunConfig
from .prefetch import Prefetcher
from .recorder import Recorder
from .verdicts import Verdicts

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
        self.prefetch = Prefetcher(cfg, config, self.endpoints, store=self._store_result)

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
        return self.prefetch.reserve()

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
    def generate(self, item: ScenarioItem, endpoint: Answerer) -> None:
        self.prefetch.generate(item, endpoint)

    def setup_failed(self, item: ScenarioItem, exc: InfraError) -> None:
        self.prefetch.setup_failed(item, exc)

    @property
    def stopped_early(self) -> dict[str, Any] | None:
        """Why the run stopped before its end (``--llm-give-up``), if it did."""
        return self.prefetch.stopped_early

    @stopped_early.setter
    def stopped_early(self, value: dict[str, Any] | None) -> None:
        self.prefetch.stopped_early = value

    def _store_result(self, item: ScenarioItem, res: ScenarioResult) -> None:
        self.recorder.store(item, res, self.endpoints.model)

    def close(self) -> None:
        self.verdicts.close()
        self.prefetch.close()
        self.endpoints.close()
        self.recorder.close()
