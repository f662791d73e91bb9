"""The plugin's own exception for infrastructure failures (a module of its own, so
every plugin module can raise it without importing the collector)."""

from __future__ import annotations


class InfraError(Exception):
    """The endpoint (not the model) failed: reported as a one-line pytest ERROR."""

    def __init__(self, failure_mode: str, message: str):
        super().__init__(message)
        self.failure_mode = failure_mode
