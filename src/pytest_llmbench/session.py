"""Run state for one pytest session, kept in ``config.stash``.

The plugin's hooks call into :class:`LLMSession`; nothing here runs at import time
and nothing touches the network until an item is set up.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from .collect import BrokenPackItem, InfraError, ScenarioFailed, ScenarioItem
from .core.endpoint import ChatParams, Endpoint, EndpointError, build_body, make_endpoint
from .core.exchange import Exchange, run_exchange, verify
from .core.packs import PACK_FILE, PackError, builtin_packs_dir, load_meta
from .core.runlog import RunLogWriter, default_log_path
from .core.runner import ScenarioResult, generation_for
from .core.schema import AssistantTurn, PackMeta, Scenario
from .core.summary import Summary
from .options import endpoint_arg

SESSION_KEY = pytest.StashKey["LLMSession"]()
RESULT_KEY = pytest.StashKey[ScenarioResult]()
RECORD_KEY = pytest.StashKey[dict[str, Any]]()
CALLS_KEY = pytest.StashKey[list[Any]]()


def get_session(config: pytest.Config) -> LLMSession:
    return config.stash[SESSION_KEY]


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class LLMSession:
    def __init__(self, config: pytest.Config):
        self.config = config
        opt = config.option
        spec = opt.llm_endpoint or config.getini("llm_endpoint") or None
        if spec and not opt.llm_endpoint:
            try:
                spec = endpoint_arg(spec)
            except Exception as exc:
                raise pytest.UsageError(f"ini llm_endpoint: {exc}") from None
        self.endpoint_spec: str | None = spec
        self.model: str | None = opt.llm_model or config.getini("llm_model") or None
        self.thinking = {"on": True, "off": False, "pack": None}[opt.llm_thinking]
        self.packs_filter: list[str] = list(opt.llm_pack)
        self.timeout_s: float | None = opt.llm_timeout
        self.api_key_env: str = opt.llm_api_key_env
        self.packs: dict[str, dict[str, Any]] = {}
        self.seen_pack_ids: set[str] = set()
        self._scenario_ids: dict[tuple[str, str], str] = {}
        self._endpoint: Endpoint | None = None
        self._probed: dict[int, EndpointError | None] = {}
        self._lock = threading.Lock()
        self.summary = Summary()
        self.started = time.time()
        self.writer: RunLogWriter | None = None
        self.log_path: Path | None = None
        self.interrupted = False

    # -- configuration ------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.endpoint_spec is not None

    def builtin_dir(self) -> Path | None:
        if not self.active:
            return None
        wanted = self.config.option.llm_builtin_packs
        if wanted is None:
            explicit = self.config.args_source == pytest.Config.ArgsSource.ARGS
            wanted = not explicit or bool(self.packs_filter)
        if not wanted:
            return None
        d = builtin_packs_dir()
        return d if d.is_dir() else None

    def header(self) -> dict[str, Any]:
        return {
            "plugin_version": __version__,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "endpoint": self._endpoint.describe()
            if self._endpoint
            else {"name": self.endpoint_spec},
            "model": self.model,
            "thinking": {True: "on", False: "off", None: "pack"}[self.thinking],
            "sampling": {"mode": "canonical", "temperature": 0.0},
            "packs": self.packs,
        }

    def header_line(self) -> str:
        return (
            f"llmbench {__version__}: endpoint={self.endpoint_spec} model={self.model or 'auto'} "
            f"thinking={self.config.option.llm_thinking} sampling=canonical(t=0)"
        )

    def add_builtin_args(self) -> None:
        """Collect the built-in packs by adding their folder to pytest's arguments."""
        d = self.builtin_dir()
        if d is not None and str(d) not in self.config.args:
            self.config.args.append(str(d))

    # -- collection -----------------------------------------------------------
    def wants_pack(self, pack_id: str) -> bool:
        self.seen_pack_ids.add(pack_id)
        return not self.packs_filter or pack_id in self.packs_filter

    def pack_nodeid(self, path: Path) -> str:
        """The pack id when pack.yaml is readable; else the folder name (the error
        then surfaces when the pack is collected)."""
        try:
            return load_meta(path / PACK_FILE).id
        except PackError:
            return path.name

    def check_selection(self, items: list[pytest.Item]) -> None:
        unknown = [p for p in self.packs_filter if p not in self.seen_pack_ids]
        if unknown:
            known = ", ".join(sorted(self.seen_pack_ids)) or "none"
            raise pytest.UsageError(
                f"--llm-pack: unknown pack(s) {', '.join(unknown)} (collected: {known})"
            )

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
            self.config.addinivalue_line("markers", f"{tag}: scenario tag")
        return None

    # -- endpoint -------------------------------------------------------------
    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            if not self.endpoint_spec:
                pytest.skip("no --llm-endpoint given")
            self._endpoint = make_endpoint(
                self.endpoint_spec,
                api_key_env=self.api_key_env,
                timeout_s=self.timeout_s or 300.0,
            )
        return self._endpoint

    def ensure_probed(self, endpoint: Endpoint) -> None:
        """Probe each endpoint once; a dead endpoint gives the same one-line error to
        every item instead of a hundred tracebacks."""
        key = id(endpoint)
        with self._lock:
            if key not in self._probed:
                try:
                    model = endpoint.probe()
                    if self.model is None and model:
                        self.model = model
                    self._probed[key] = None
                except EndpointError as exc:
                    self._probed[key] = exc
            err = self._probed[key]
        if err is not None:
            raise InfraError(err.failure_mode, f"{err.args[0]} (detected once at first use)")

    def params(self) -> ChatParams:
        return ChatParams(model=self.model, thinking=self.thinking)

    # -- items ------------------------------------------------------------------
    def generate(self, item: ScenarioItem, endpoint: Endpoint) -> None:
        sc, pack = item.scenario, item.pack
        res = ScenarioResult(pack.id, sc.id)
        item.stash[RESULT_KEY] = res
        try:
            self.ensure_probed(endpoint)
        except InfraError as exc:
            res.error = EndpointError(exc.failure_mode, str(exc))
            self._store(item, res)
            raise
        gen = generation_for(pack, sc)
        if self.timeout_s is None and gen.timeout_s is not None:
            pass  # per-request timeouts arrive with the scheduler
        params = self.params()
        t0 = time.perf_counter()

        def respond(messages: list[dict[str, Any]], scenario: Scenario) -> AssistantTurn:
            result = endpoint.chat(build_body(messages, scenario, gen, params), scenario)
            res.calls.append(result)
            return result.turn

        try:
            res.exchange = run_exchange(sc, respond)
        except EndpointError as exc:
            res.error = exc
            res.wall_s = time.perf_counter() - t0
            self._store(item, res)
            raise InfraError(exc.failure_mode, exc.args[0]) from None
        res.wall_s = time.perf_counter() - t0

    def judge(self, item: ScenarioItem) -> None:
        res = item.stash[RESULT_KEY]
        assert res.exchange is not None
        try:
            res.verdict = verify(item.scenario, item.pack, res.exchange)
        finally:
            self._store(item, res)
        if not res.passed:
            raise ScenarioFailed(res.verdict.detail if res.verdict else "no verdict")

    def annotate_report(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Attach the scenario's record to the report that decided it, once; builtins
        only, so it survives xdist's report serialisation."""
        rec = item.stash.get(RECORD_KEY, None)
        if rec is not None and report.when in ("setup", "call"):
            del item.stash[RECORD_KEY]
            rec["outcome"] = report.outcome if report.when == "call" else "error"
            report.llmbench = rec  # type: ignore[attr-defined]
            return
        if isinstance(item, BrokenPackItem) and report.when == "setup":
            pack = item.nodeid.split("/")[0].split("::")[0]
            report.llmbench = {  # type: ignore[attr-defined]
                "nodeid": item.nodeid,
                "pack": pack,
                "scenario": item.name,
                "passed": False,
                "score": 0.0,
                "failure_mode": "pack_error",
                "error": item.error,
                "outcome": "error",
            }
            return
        if not isinstance(item, ScenarioItem):
            frec = self.function_record(item, report)
            if frec is not None:
                frec["outcome"] = report.outcome
                report.llmbench = frec  # type: ignore[attr-defined]

    def result_of(self, item: pytest.Item) -> ScenarioResult | None:
        return item.stash.get(RESULT_KEY, None)

    def _store(self, item: ScenarioItem, res: ScenarioResult) -> None:
        rec = res.to_record()
        rec["nodeid"] = item.nodeid
        rec["pack_version"] = item.pack.version
        rec["tags"] = list(item.scenario.tags)
        item.stash[RECORD_KEY] = rec
        props = item.user_properties
        props.append(("llmbench.pack", res.pack))
        props.append(("llmbench.scenario", res.scenario))
        props.append(("llmbench.passed", bool(rec["passed"])))
        props.append(("llmbench.score", float(rec["score"])))
        props.append(("llmbench.failure_mode", rec["failure_mode"] or ""))
        if res.verdict is not None and res.verdict.category:
            props.append(("llmbench.category", res.verdict.category))
        props.append(("llmbench.latency_s", float(rec["latency_s"])))
        if rec["completion_tokens"] is not None:
            props.append(("llmbench.completion_tokens", int(rec["completion_tokens"])))

    def function_record(
        self, item: pytest.Item, report: pytest.TestReport
    ) -> dict[str, Any] | None:
        """A plain test marked ``@pytest.mark.llmbench(pack=...)`` joins that pack's summary."""
        mark = item.get_closest_marker("llmbench")
        if mark is None or isinstance(item, ScenarioItem) or not mark.kwargs.get("pack"):
            return None
        if report.when == "setup" and report.passed:
            return None
        if report.when == "teardown":
            return None
        calls = item.stash.get(CALLS_KEY, [])
        infra = next((c for c in calls if isinstance(c, EndpointError)), None)
        ok_calls = [c for c in calls if not isinstance(c, EndpointError)]
        if report.skipped:
            return None
        mode = None
        if report.failed:
            mode = (
                infra.failure_mode
                if infra
                else ("setup_error" if report.when == "setup" else "verifier_fail")
            )
        toks = [c.completion_tokens for c in ok_calls]
        rec = {
            "nodeid": item.nodeid,
            "pack": str(mark.kwargs["pack"]),
            "pack_version": None,
            "scenario": item.name,
            "passed": report.passed,
            "score": 1.0 if report.passed else 0.0,
            "failure_mode": mode,
            "error": str(infra) if infra else None,
            "verdict": {
                "passed": report.passed,
                "detail": ""
                if report.passed
                else str(report.longreprtext).strip().splitlines()[-1:][0]
                if report.longreprtext
                else "",
            },
            "latency_s": round(sum(c.latency_s for c in ok_calls), 6),
            "completion_tokens": sum(t for t in toks if t) if toks and None not in toks else None,
            "calls": [{"request": c.request, "response": c.response} for c in ok_calls],
            "kind": "function",
        }
        item.user_properties.extend(
            [
                ("llmbench.pack", rec["pack"]),
                ("llmbench.passed", bool(report.passed)),
                ("llmbench.score", float(rec["score"])),
                ("llmbench.failure_mode", mode or ""),
            ]
        )
        return rec

    # -- controller -------------------------------------------------------------
    def fold(self, record: dict[str, Any]) -> None:
        self.summary.add(record)
        if self.writer is None:
            self.log_path = self._log_path()
            self.writer = RunLogWriter(self.log_path, self.header())
        self.writer.add(record)

    def _log_path(self) -> Path:
        opt = self.config.option.llm_log or self.config.getini("llm_log")
        if opt:
            p = Path(opt)
            return p if p.is_absolute() else self.config.invocation_params.dir / p
        return default_log_path(self.config.rootpath)

    def finish(self, exitstatus: int) -> None:
        if not self.active:
            return
        self.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if self.writer is None:
            self.log_path = self._log_path()
            self.writer = RunLogWriter(self.log_path, self.header())
        self.writer.header.update(
            {k: v for k, v in self.header().items() if k in ("endpoint", "model", "packs")}
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

    def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.close()


class LLM:
    """The ``llm`` fixture: a small chat helper over the session's endpoint."""

    def __init__(self, session: LLMSession, endpoint: Endpoint, item: pytest.Item):
        self._session = session
        self._endpoint = endpoint
        self._item = item
        mark = item.get_closest_marker("llmbench")
        ref = mark.kwargs.get("reference") if mark else None
        self._scenario: Scenario | None = None
        if ref is not None:
            self._scenario = Scenario(
                id="test-function",
                prompt="(test function)",
                reference=ref,
                counterexamples=["", "."],
                verifier={"type": "exact", "value": "-"},  # type: ignore[arg-type]
            )

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    def chat(
        self,
        messages: str | list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        **extra: Any,
    ) -> Exchange:
        """Send one request; returns the exchange (``.output().text`` is the answer)."""
        from .core.schema import Generation

        self._session.ensure_probed(self._endpoint)
        msgs = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        gen = Generation(max_tokens=max_tokens)
        body = build_body(list(msgs), None, gen, self._session.params())
        if tools:
            body["tools"] = tools
        body.update(extra)
        calls = self._item.stash.setdefault(CALLS_KEY, [])
        try:
            result = self._endpoint.chat(body, self._scenario)
        except EndpointError as exc:
            calls.append(exc)
            raise
        calls.append(result)
        ex = Exchange(raw_turns=[result.turn], messages=list(msgs) + [result.turn.to_openai()])
        return ex

    def ask(self, prompt: str, **kw: Any) -> str:
        """The answer text (thinking removed) to one user prompt."""
        return self.chat(prompt, **kw).output().text
