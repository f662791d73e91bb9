"""The run's endpoints (connect.py): speed figures, per-request timeouts, request
settings, and what the probe learns from a real loopback server."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from fakeserver import FakeServer
from pytest_llmbench.connect import Endpoints, server_settings, speed_figure
from pytest_llmbench.core.http_endpoint import HTTPEndpoint
from pytest_llmbench.core.runner import ChatResult
from pytest_llmbench.core.schema import AssistantTurn, PackMeta, Scenario
from pytest_llmbench.core.wrappers import CachingEndpoint
from pytest_llmbench.errors import InfraError
from pytest_llmbench.options import RunConfig


def _call(latency_s: float, tokens: int | None, timings: dict[str, Any] | None) -> ChatResult:
    usage = None if tokens is None else {"completion_tokens": tokens}
    return ChatResult(AssistantTurn(content="x"), {}, {}, latency_s, usage, timings)


def test_speed_figure_prefers_the_servers_own_and_refuses_what_it_cannot_measure() -> None:
    own = speed_figure(_call(2.0, 40, {"predicted_n": 40, "predicted_per_second": 55.5}))
    assert own["tokens_per_s"] == 55.5
    assert speed_figure(_call(2.0, 40, None))["tokens_per_s"] == 20.0
    short = speed_figure(_call(0.1, 1, {"predicted_n": 1, "predicted_per_second": 0.0}))
    assert short["tokens_per_s"] is None and "too few tokens" in short["note"]
    assert speed_figure(_call(0.0, 40, None))["tokens_per_s"] is None  # no interval
    bogus = speed_figure(_call(1.0, 40, {"predicted_n": 40, "predicted_per_second": -3}))
    assert bogus["tokens_per_s"] is None and "no usable speed" in bogus["note"]


def _item(gen: dict[str, Any] | None = None) -> Any:
    sc = Scenario.model_validate(
        {
            "id": "s",
            "prompt": "p",
            "generation": gen,
            "verifier": {"type": "exact", "value": "x"},
            "reference": "x",
            "counterexamples": ["a", "b"],
        }
    )
    return SimpleNamespace(model=None, pack=PackMeta(id="p", title="p", version="1"), scenario=sc)


def _endpoints(**cfg: Any) -> Endpoints:
    return Endpoints(None, replace(RunConfig(), **cfg))  # type: ignore[arg-type]


def test_timeouts_option_then_scenario_then_measured_speed() -> None:
    eps = _endpoints()
    assert eps.timeout_for(_item()) is None  # no figure yet: the client default
    assert "client default" in eps.timeout_hint(_item())
    eps.speed = {"tokens_per_s": 100.0}
    assert eps.timeout_for(_item({"max_tokens": 1000})) == 40.0  # 10 + 3 * 1000 / 100
    assert eps.timeout_for(_item({"max_tokens": 10})) == 30.0  # the floor
    eps.speed = {"tokens_per_s": 0.01}
    assert eps.timeout_for(_item()) == 1800.0  # the ceiling
    assert eps.timeout_for(_item({"timeout_s": 7})) == 7.0
    assert "set by the scenario" in eps.timeout_hint(_item({"timeout_s": 7}))
    fixed = _endpoints(timeout_s=12.0)
    assert fixed.timeout_for(_item({"timeout_s": 7})) == 12.0
    assert "--llm-timeout" in fixed.timeout_hint(_item())


def test_params_carry_the_run_settings() -> None:
    eps = _endpoints(
        model="m", thinking_option="off", sampling={"top_k": 5}, sampling_mode="custom"
    )
    p = eps.params()
    assert (p.model, p.thinking, p.sampling, p.sampling_mode) == (
        "m",
        False,
        {"top_k": 5},
        "custom",
    )
    assert eps.params("other").model == "other"
    assert eps.sampling_record() == {"mode": "custom", "top_k": 5}
    assert eps.sampling_label() == "NON-CANONICAL(top_k=5)"


def test_probe_learns_the_model_once_and_a_dead_server_is_one_error(
    fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_server.models = ["served-model"]
    eps = _endpoints(endpoint_specs=(fake_server.url,))
    ep = eps.endpoint()
    assert eps.endpoint() is ep
    probes: list[int] = []
    real = ep.probe

    def counted() -> str | None:
        probes.append(1)
        return real()

    monkeypatch.setattr(ep, "probe", counted)
    assert not eps.is_probed(ep)
    eps.ensure_probed(ep)
    eps.ensure_probed(ep)
    assert eps.model == "served-model" and eps.is_probed(ep) and probes == [1]
    eps.close()
    dead = _endpoints(endpoint_specs=("http://127.0.0.1:9",), retries=0)
    with pytest.raises(InfraError) as first:
        dead.ensure_probed(dead.endpoint())
    with pytest.raises(InfraError) as again:
        dead.ensure_probed(dead.endpoint())
    assert first.value.failure_mode == "endpoint_unreachable"
    assert "detected once at first use" in str(again.value)


def test_server_settings_are_read_through_the_cache(fake_server: FakeServer, tmp_path: Any) -> None:
    fake_server.props = {"default_generation_settings": {"params": {"temperature": 0.8, "x": 1}}}
    cached = CachingEndpoint(HTTPEndpoint(fake_server.url), tmp_path)
    assert server_settings(cached) == {"temperature": 0.8}
