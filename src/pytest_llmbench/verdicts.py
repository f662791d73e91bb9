"""The verdict phase of pack items, and what their verifiers may use.

A pack item requests the ``llm_sandbox`` fixture only when its verifier (or one nested
in it, a judge's check) ``needs_sandbox`` and the ``llm_judge`` fixture only when it
``needs_judge`` (``core.verifiers.base.needs``), so a
``conftest.py`` override of either takes effect and a run of packs that execute no code
opens no sandbox. The default fixtures come from :class:`Verdicts`: one sandbox per
process (``--llm-sandbox``), opened on first need, and the judge model
(``--llm-judge-url``). The item's verifier gets both in a
:class:`~pytest_llmbench.core.verifiers.context.VerifierContext`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from .core import runner
from .core.endpoint import EndpointError
from .core.runner import ScenarioResult
from .core.sandbox.interface import Sandbox
from .core.verifiers.context import Judge, VerifierContext
from .errors import InfraError, ScenarioFailed

if TYPE_CHECKING:
    from .collect import ScenarioItem
    from .connect import Endpoints
    from .options import RunConfig

RESULT_KEY = pytest.StashKey[ScenarioResult]()
# Verdict categories that mean the check could not run here (an ERROR, not a FAIL).
_UNAVAILABLE = ("sandbox_unavailable", "verifier_unavailable")
SANDBOX_FIXTURE = "llm_sandbox"
JUDGE_FIXTURE = "llm_judge"


class Verdicts:
    """This process's sandbox and judge, and the verdict of each pack item.

    ``store`` records an item's result (the run log record and its report
    properties); it is called once the verdict, or why there is none, is known."""

    def __init__(
        self,
        *,
        sandbox: str,
        sandbox_image: str | None,
        judge: Judge | None,
        store: Callable[[ScenarioItem, ScenarioResult], None],
    ) -> None:
        self.sandbox_name = sandbox
        self.sandbox_image = sandbox_image
        self.judge_model = judge
        self.store = store
        self._lock = threading.Lock()
        self._sandbox: Sandbox | None = None  # the one this process opened
        self._sandbox_error: str | None = None
        self._used: Sandbox | None = None  # what items got (maybe a conftest's)

    @classmethod
    def of_run(
        cls,
        cfg: RunConfig,
        endpoints: Endpoints,
        *,
        store: Callable[[ScenarioItem, ScenarioResult], None],
    ) -> Verdicts:
        """From the run's options: every process (xdist workers too) has the judge of
        ``--llm-judge-url``."""
        judge = Judge(endpoints.judge_endpoint(), cfg.judge_model) if cfg.judge_url else None
        return cls(sandbox=cfg.sandbox, sandbox_image=cfg.sandbox_image, judge=judge, store=store)

    # -- the default fixtures -----------------------------------------------------
    def sandbox(self) -> Sandbox:
        """The ``--llm-sandbox`` backend, opened once per process; an unavailable one
        is an ERROR with one how-to line, for every item that needs it."""
        with self._lock:
            if self._sandbox is None and self._sandbox_error is None:
                from .core.sandbox import SandboxUnavailable, open_sandbox

                try:
                    self._sandbox = open_sandbox(self.sandbox_name, image=self.sandbox_image)
                except SandboxUnavailable as exc:
                    self._sandbox_error = str(exc)
            if self._sandbox_error is not None:
                raise InfraError("sandbox_unavailable", self._sandbox_error)
            assert self._sandbox is not None
            return self._sandbox

    # -- items --------------------------------------------------------------------
    def context(self, item: ScenarioItem) -> VerifierContext:
        """What the item's fixtures gave: the sandbox only for verifiers that run code,
        the judge only for judged ones. Called before the model is asked, so a
        conftest fixture returning something else costs no request."""
        sandbox = item.funcargs.get(SANDBOX_FIXTURE)
        if sandbox is None and SANDBOX_FIXTURE in item.funcargs:
            # the verifier runs code: no sandbox is the run's ERROR, never a FAIL
            raise InfraError(
                "sandbox_unavailable", f"the {SANDBOX_FIXTURE} fixture gave no sandbox (None)"
            )
        if sandbox is not None and not isinstance(sandbox, Sandbox):
            raise TypeError(
                f"the {SANDBOX_FIXTURE} fixture must return a "
                f"pytest_llmbench.core.sandbox.Sandbox or None, got {type(sandbox).__name__}"
            )
        judge = item.funcargs.get(JUDGE_FIXTURE)
        if judge is not None and not isinstance(judge, Judge):
            raise TypeError(
                f"the {JUDGE_FIXTURE} fixture must return a "
                f"pytest_llmbench.core.verifiers.Judge or None, got {type(judge).__name__}"
            )
        if sandbox is not None and self._used is None:
            self._used = sandbox
        return VerifierContext(sandbox=sandbox, judge=judge)

    def judge(self, item: ScenarioItem, ctx: VerifierContext) -> None:
        """The verdict, in the item's setup: whatever keeps a verdict from being
        reached (no judge, no toolchain in the sandbox, a verifier crash) is then a
        pytest ERROR, never the model's FAILED. :meth:`check` reports the verdict."""
        from .core.verifiers.judge import JudgeUnavailable

        res = item.stash[RESULT_KEY]
        assert res.exchange is not None
        try:
            runner.judge(res, item.scenario, item.pack, ctx)
        except JudgeUnavailable as exc:
            res.error = EndpointError("judge_unavailable", str(exc))
        except InfraError:
            raise
        except Exception as exc:
            # a verifier crash still leaves a record; the traceback shows where
            res.error = EndpointError("verifier_error", f"{type(exc).__name__}: {exc}")
            self.store(item, res)
            raise
        v = res.verdict
        if res.error is None and v is not None and v.category in _UNAVAILABLE:
            # e.g. no Go toolchain in this sandbox, a verifier's extra not installed:
            # not the model's fault
            res.error = EndpointError(v.category, v.detail)
        self.store(item, res)
        if res.error is not None:
            raise InfraError(res.error.failure_mode, res.error.args[0])

    @staticmethod
    def check(item: ScenarioItem) -> None:
        """The item's call phase: a wrong answer is a FAIL."""
        res = item.stash[RESULT_KEY]
        if not res.passed:
            raise ScenarioFailed(res.verdict.detail if res.verdict else "no verdict")

    # -- facts and teardown -------------------------------------------------------
    def describe_sandbox(self) -> dict[str, Any] | None:
        """The sandbox items ran in (a conftest's override too), for the run log."""
        box = self._used or self._sandbox
        return box.describe() if box is not None else None

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
        if self.judge_model is not None:
            self.judge_model.endpoint.close()
