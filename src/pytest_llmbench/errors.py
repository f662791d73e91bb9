"""How a pack item ends when it does not pass: the plugin's exceptions for
infrastructure failures and wrong answers (a module of its own, so every plugin module
can raise them without importing the collector)."""

from __future__ import annotations


class InfraError(Exception):
    """The endpoint (not the model) failed: reported as a one-line pytest ERROR."""

    def __init__(self, failure_mode: str, message: str):
        super().__init__(message)
        self.failure_mode = failure_mode


class ScenarioFailed(AssertionError):
    """The model's answer did not pass the verifier."""
