"""The run's endpoints: built from the run configuration, probed once, their decode
speed measured; per-request timeouts, request settings and model ids.

One :class:`Endpoints` per pytest process, owned by the session. Nothing touches the
network before the first item (or the background probe started during collection).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .core.endpoint import ChatParams, Endpoint, EndpointError, request_params
from .core.endpoint_kinds import make_endpoint, make_http_endpoint
from .core.http_endpoint import HTTPEndpoint
from .core.responders import Answerer
from .core.runner import ChatResult, ask, generation_for
from .core.wrappers import CachingEndpoint, ReplicaSet
from .errors import InfraError

if TYPE_CHECKING:
    from .collect import ScenarioItem
    from .options import RunConfig

TIMEOUT_FLOOR_S = 30.0
TIMEOUT_CEILING_S = 1800.0
ASSUMED_MAX_TOKENS = 4096
DEFAULT_TIMEOUT_S = 300.0  # the client's, until the speed is known
PROBE_MIN_TOKENS = 4


class Endpoints:
    def __init__(self, config: pytest.Config, cfg: RunConfig):
        self.config = config
        self.cfg = cfg
        # the model id requests name: --llm-model, else what the server lists first
        self.model: str | None = cfg.model
        self.speed: dict[str, Any] | None = None
        self.speed_known = False  # a usable tokens/s figure is in self.speed
        self.server_settings: dict[str, Any] | None = None
        self.used: Answerer | None = None  # what the first item asked
        self._endpoint: Answerer | None = None
        self._model_endpoints: dict[str, Answerer] = {}
        self._endpoint_models: dict[int, str | None] = {}
        self._probed: dict[int, EndpointError | None] = {}
        self._speed_probe_sent = False
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()  # not _lock: collection goes on meanwhile
        self._warm: threading.Thread | None = None

    # -- what the run asks ----------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.cfg.active

    @property
    def endpoint_label(self) -> str:
        return self.cfg.endpoint_label

    def endpoint(self) -> Answerer:
        with self._lock:
            if self._endpoint is None:
                cfg = self.cfg
                if not cfg.endpoint_specs and not cfg.replay and cfg.model_labels:
                    self._endpoint = self._make_model_endpoint(cfg.model_labels[0])
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

    def _http_options(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "api_key_env": cfg.api_key_env,
            "timeout_s": cfg.timeout_s or DEFAULT_TIMEOUT_S,
            "retries": cfg.retries,
            "concurrency": cfg.concurrency,
            "stream": cfg.stream,
        }

    def _make_model_endpoint(self, label: str) -> Answerer:
        url = self.cfg.model_urls.get(label)
        assert url is not None
        return make_endpoint(url, **self._http_options())

    def _make_endpoint(self) -> Answerer:
        if self.cfg.replay_endpoint is not None:
            return self.cfg.replay_endpoint
        if not self.cfg.endpoint_specs:
            pytest.skip("no --llm-endpoint given")
        eps = [make_endpoint(spec, **self._http_options()) for spec in self.cfg.endpoint_specs]
        # several servers: only URLs can be combined (checked with the options)
        ep = eps[0] if len(eps) == 1 else ReplicaSet([e for e in eps if isinstance(e, Endpoint)])
        if self.cfg.cache and isinstance(ep, Endpoint) and not ep.in_process:
            ep = CachingEndpoint(ep, Path(self.cfg.cache))
        return ep

    def judge_endpoint(self) -> Endpoint:
        """The judge model's server (--llm-judge-url)."""
        assert self.cfg.judge_url is not None
        return make_http_endpoint(self.cfg.judge_url, api_key_env=self.cfg.api_key_env)

    def model_id_for(self, item: ScenarioItem, endpoint: Answerer) -> str | None:
        if item.model is None:
            return self.model
        if self.cfg.model_urls.get(item.model):
            return self._endpoint_models.get(id(endpoint))
        return item.model

    def params(self, model: str | None = None) -> ChatParams:
        cfg = self.cfg
        return ChatParams(
            model=model or self.model,
            thinking=cfg.thinking,
            sampling=dict(cfg.sampling),
            sampling_mode=cfg.sampling_mode,
            max_tokens_cap=cfg.max_tokens,
        )

    def note_used(self, endpoint: Answerer) -> None:
        if self.used is None:
            self.used = endpoint  # a conftest may have overridden the fixture

    # -- probing -----------------------------------------------------------------
    def is_probed(self, endpoint: Answerer) -> bool:
        return id(endpoint) in self._probed

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
            self.server_settings = server_settings(endpoint)
        self._probed[key] = outcome  # last: readers check the key without the lock

    def _model_known(self, endpoint_key: int) -> bool:
        labels, urls = self.cfg.model_labels, self.cfg.model_urls
        if self.model or (labels and not urls.get(labels[0])):
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

    # -- speed and timeouts ----------------------------------------------------------
    def _wants_speed(self, endpoint: Answerer) -> bool:
        return not (endpoint.in_process or self.cfg.timeout_s or not self.cfg.probe)

    def note_speed(self, calls: list[ChatResult], endpoint: Answerer) -> None:
        """Decode speed, which sizes per-request timeouts, from the first reply that
        gives a usable figure. Until then requests use the client's default timeout, so
        no scenario waits for a measurement. A reply too short to measure sends one
        dedicated probe request, in the background."""
        if self.speed_known or not calls or calls[0].cached or not self._wants_speed(endpoint):
            return
        figure = speed_figure(calls[0])
        with self._lock:
            if self.speed_known:
                return
            if figure["tokens_per_s"] is not None or self.speed is None:
                self.speed = {**figure, "source": "scenario"}
                self.speed_known = figure["tokens_per_s"] is not None
            if self.speed_known or self._speed_probe_sent:
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
            res = ask(endpoint, ask_for, params, timeout_s=60.0)
            out = {**speed_figure(res), "source": "probe"}
        except EndpointError as exc:
            out = {"ok": False, "error": str(exc), "source": "probe"}
        with self._lock:
            if not self.speed_known and (out.get("tokens_per_s") or not self.speed):
                self.speed = out
                self.speed_known = out.get("tokens_per_s") is not None

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

    # -- what the run log says ---------------------------------------------------------
    def describe_endpoint(self, worker_facts: dict[str, Any]) -> dict[str, Any]:
        if self.used is None and worker_facts.get("endpoint"):
            return dict(worker_facts["endpoint"])  # xdist: only workers used it
        ep = self.used or self._endpoint
        return ep.describe() if ep is not None else {"name": self.endpoint_label}

    def model_endpoints_record(self) -> dict[str, Any] | None:
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

    def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.close()


def server_settings(endpoint: Answerer) -> dict[str, Any] | None:
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
