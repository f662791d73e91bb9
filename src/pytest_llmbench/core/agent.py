"""Multi-turn agent loop over stateful environments (to be built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .schema import Scenario

if TYPE_CHECKING:
    from .exchange import Exchange, Responder


def validate_environment(scenario: Scenario) -> None:
    """Raise ValueError naming the problem if the scenario's environment is invalid."""
    raise ValueError(f"scenario {scenario.id!r}: environments are not supported yet")


def run_agent_exchange(scenario: Scenario, respond: Responder) -> Exchange:
    raise NotImplementedError("agent environments are not supported yet")
