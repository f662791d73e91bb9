"""The run's configuration: :class:`RunConfig`, the one place that reads the
``--llm-*`` options and ``llm_*`` ini keys (declared in :mod:`.option_defs`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pytest

from .option_defs import addoption, endpoint_arg

__all__ = ["RunConfig", "addoption", "llmbench_used"]

if TYPE_CHECKING:
    from .core.wrappers import ReplayEndpoint

DEFAULT_CONCURRENCY = 4
_V = TypeVar("_V")


# Any of these (from the command line, addopts or the ini file) makes a run use llmbench.
_ACTIVATING = (
    "llm_endpoint",
    "llm_replay",
    "llm_model",
    "llm_resume",
    "llm_baseline",
    "llm_fail_under",
    "llm_judge_url",
)


def llmbench_used(config: pytest.Config) -> bool:
    """Whether the run uses llmbench at all; cheap (a run without it imports nothing)."""
    opt = config.option
    return any(getattr(opt, name, None) for name in _ACTIVATING) or bool(
        config.getini("llm_endpoint")
    )


Thinking = Literal["on", "off", "pack"]
SamplingMode = Literal["canonical", "custom", "server"]
ExitMode = Literal["scenarios", "gates"]


def _frozen(d: Mapping[str, _V]) -> Mapping[str, _V]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class RunConfig:
    """Every ``--llm-*`` option and ``llm_*`` ini key of one run, parsed and
    cross-checked once by :meth:`from_pytest`; nothing else reads them raw."""

    endpoint_specs: tuple[str, ...] = ()
    replay: str | None = None
    # a single --llm-model ID (sent as the request's model)
    model: str | None = None
    # a multi-model run: the labels in order, and each one's own server (None: shared)
    model_labels: tuple[str, ...] = ()
    model_urls: Mapping[str, str | None] = field(default_factory=lambda: _frozen({}))
    model_sizes: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    oracle: str | None = None
    packs_filter: tuple[str, ...] = ()
    thinking_option: Thinking = "pack"
    log: str | None = None
    api_key_env: str = "LLMBENCH_API_KEY"
    timeout_s: float | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    retries: int = 2
    give_up: int = 5
    repeat: int = 1
    cache: str | None = None
    resume: str | None = None
    stream: bool = False
    probe: bool = True
    sandbox: str = "auto"
    sandbox_image: str | None = None
    judge_url: str | None = None
    judge_model: str | None = None
    baseline_path: str | None = None
    # the baseline file, read and checked here (a bad one is a usage error)
    baseline: Mapping[str, Any] | None = None
    max_drop: float | None = None
    fail_under: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    max_errors: int | None = None
    exit: ExitMode | None = None
    allow_noncanonical: bool = False
    report_md: str | None = None
    sampling: Mapping[str, float | int] = field(default_factory=lambda: _frozen({}))
    sampling_mode: SamplingMode = "canonical"
    max_tokens: int | None = None
    builtin_packs: bool | None = None
    # pytest's own options the plugin reads
    collectonly: bool = False
    workers: int = 0
    invocation_dir: Path = field(default_factory=Path.cwd)
    explicit_args: bool = False  # test paths were given on the command line
    # --llm-replay's run log, read once here: a wrong or corrupt file is one line
    replay_endpoint: ReplayEndpoint | None = field(default=None, compare=False, repr=False)

    @property
    def thinking(self) -> bool | None:
        """enable_thinking to send; None: as each pack says."""
        return {"on": True, "off": False, "pack": None}[self.thinking_option]

    @property
    def active(self) -> bool:
        """Whether there is anything to ask (else no scenario is collected)."""
        return bool(self.endpoint_specs) or self.replay is not None or any(self.model_urls.values())

    @property
    def endpoint_label(self) -> str:
        if self.replay:
            return f"replay:{self.replay}"
        per_model = [f"{k}={u}" for k, u in self.model_urls.items() if u]
        return ",".join(self.endpoint_specs + tuple(per_model))

    @property
    def has_gates(self) -> bool:
        return bool(self.baseline is not None or self.fail_under or self.max_errors is not None)

    @classmethod
    def from_pytest(cls, config: pytest.Config) -> RunConfig:
        """Parse and cross-check; every inconsistency is one ``pytest.UsageError`` line."""
        opt = config.option
        specs: list[str] = list(opt.llm_endpoint or [])
        ini = config.getini("llm_endpoint")
        if not specs and ini:
            try:
                specs = [endpoint_arg(str(ini))]
            except Exception as exc:
                raise pytest.UsageError(f"ini llm_endpoint: {exc}") from None
        replay: str | None = opt.llm_replay
        if replay and specs:
            raise pytest.UsageError("--llm-replay answers from a run log: drop --llm-endpoint")
        if replay and not Path(replay).exists():
            raise pytest.UsageError(f"--llm-replay: no such run log: {replay}")
        replay_endpoint = None
        if replay:
            from .core.wrappers import ReplayEndpoint

            try:  # read once here: a wrong or corrupt file is one line, not N tracebacks
                replay_endpoint = ReplayEndpoint(replay)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if replay not in msg:
                    msg = f"{replay}: not a readable run log ({msg})"
                raise pytest.UsageError(f"--llm-replay: {msg}") from None
        in_proc = [s for s in specs if not s.startswith("http")]
        if in_proc and len(specs) > 1:
            raise pytest.UsageError(
                f"--llm-endpoint {in_proc[0]} cannot be combined with other endpoints"
            )
        models: list[tuple[str, str | None]] = list(opt.llm_model or [])
        if not models and config.getini("llm_model"):
            models = [(str(config.getini("llm_model")), None)]
        model: str | None = None
        labels: list[str] = []
        urls: dict[str, str | None] = {}
        if len(models) == 1 and models[0][1] is None:
            model = models[0][0]
        elif models:
            labels = [m[0] for m in models]
            if len(set(labels)) != len(labels):
                raise pytest.UsageError(f"--llm-model: names must be unique: {labels}")
            if any(url is None for _, url in models) and not specs:
                raise pytest.UsageError(
                    "--llm-model NAME needs --llm-endpoint (or give NAME=URL for each model)"
                )
            urls = dict(models)
        sizes: dict[str, float] = dict(opt.llm_model_size)
        unknown_sizes = sorted(set(sizes) - set(labels))
        if unknown_sizes and labels:
            raise pytest.UsageError(
                f"--llm-model-size: {', '.join(unknown_sizes)} is not one of the --llm-model "
                f"names ({', '.join(labels)})"
            )
        oracle: str | None = opt.llm_oracle
        if oracle and oracle not in labels:
            raise pytest.UsageError(
                f"--llm-oracle {oracle!r} is not one of the --llm-model names "
                f"({', '.join(labels) or 'none'})"
            )
        resume: str | None = opt.llm_resume
        if resume:
            from .core.runlog import runlog_exists

            if not runlog_exists(resume):  # a crashed run: its journal
                raise pytest.UsageError(f"--llm-resume: no such run log or journal: {resume}")
        from .core.endpoint import SAMPLING_FIELDS

        sampling = {
            k: getattr(opt, "llm_" + k)
            for k in SAMPLING_FIELDS
            if getattr(opt, "llm_" + k, None) is not None
        }
        if opt.llm_sampling_from_server and sampling:
            raise pytest.UsageError(
                "--llm-sampling-from-server sends no sampling fields: drop "
                + ", ".join(f"--llm-{k.replace('_', '-')}" for k in sampling)
            )
        mode: SamplingMode = (
            "server" if opt.llm_sampling_from_server else ("custom" if sampling else "canonical")
        )
        baseline: dict[str, Any] | None = None
        if opt.llm_baseline:
            from .core.workflows.baseline import BaselineError, load_baseline

            try:
                baseline = load_baseline(opt.llm_baseline)
            except BaselineError as exc:
                raise pytest.UsageError(f"--llm-baseline: {exc}") from None
        if opt.llm_max_drop is not None and not opt.llm_baseline:
            raise pytest.UsageError("--llm-max-drop needs --llm-baseline FILE to compare with")
        workers = getattr(opt, "numprocesses", None)
        return cls(
            endpoint_specs=tuple(specs),
            replay=replay,
            model=model,
            model_labels=tuple(labels),
            model_urls=_frozen(urls),
            model_sizes=_frozen(sizes),
            oracle=oracle,
            packs_filter=tuple(opt.llm_pack),
            thinking_option=opt.llm_thinking,
            log=opt.llm_log or config.getini("llm_log") or None,
            api_key_env=opt.llm_api_key_env,
            timeout_s=opt.llm_timeout,
            concurrency=int(opt.llm_concurrency) if opt.llm_concurrency else DEFAULT_CONCURRENCY,
            retries=opt.llm_retries,
            give_up=opt.llm_give_up,
            repeat=opt.llm_repeat,
            cache=opt.llm_cache,
            resume=resume,
            stream=bool(opt.llm_stream),
            probe=bool(opt.llm_probe),
            sandbox=opt.llm_sandbox,
            sandbox_image=opt.llm_sandbox_image,
            judge_url=opt.llm_judge_url,
            judge_model=opt.llm_judge_model,
            baseline_path=opt.llm_baseline,
            baseline=None if baseline is None else MappingProxyType(baseline),
            max_drop=opt.llm_max_drop,
            fail_under=_frozen(dict(opt.llm_fail_under)),
            max_errors=opt.llm_max_errors,
            exit=opt.llm_exit,
            allow_noncanonical=bool(opt.llm_allow_noncanonical),
            report_md=opt.llm_report_md,
            sampling=_frozen(sampling),
            sampling_mode=mode,
            max_tokens=opt.llm_max_tokens,
            builtin_packs=opt.llm_builtin_packs,
            collectonly=bool(getattr(opt, "collectonly", False)),
            workers=workers if isinstance(workers, int) else 0,
            invocation_dir=Path(config.invocation_params.dir),
            explicit_args=config.args_source == pytest.Config.ArgsSource.ARGS,
            replay_endpoint=replay_endpoint,
        )
