"""Command-line options (``--llm-*``) and ini keys (``llm_*``), with validators, and
:class:`RunConfig`, the one place that reads them."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pytest

if TYPE_CHECKING:
    from .core.wrappers import ReplayEndpoint

DEFAULT_CONCURRENCY = 4
_V = TypeVar("_V")


def endpoint_arg(value: str) -> str:
    from .core.junk import JUNK_KINDS  # only when the option is used

    v = value.strip()
    if v in ("reference", "junk") or (v.startswith("junk:") and v[5:] in JUNK_KINDS):
        return v
    if re.match(r"^https?://[^\s/]+", v):
        return v
    if v.startswith("junk:"):
        raise argparse.ArgumentTypeError(
            f"unknown junk kind {v[5:]!r}; known: {', '.join(JUNK_KINDS)}"
        )
    from .core import registry

    kind = v.partition(":")[0]
    if kind not in ("http", "https", "reference") and registry.known(registry.ENDPOINTS, kind):
        return v
    others = [n for n in registry.names(registry.ENDPOINTS) if n not in registry.BUILTIN_ENDPOINTS]
    extra = "".join(f", '{n}[:ARG]'" for n in others)
    raise argparse.ArgumentTypeError(
        f"{value!r} is not an http(s) URL, 'reference', 'junk' or 'junk:<kind>'{extra}"
    )


def sandbox_arg(value: str) -> str:
    from .core import registry

    v = value.strip()
    if registry.known(registry.SANDBOXES, v):  # built-ins answer without a scan
        return v
    raise argparse.ArgumentTypeError(
        f"unknown sandbox {value!r}; choose one of {', '.join(registry.names(registry.SANDBOXES))}"
    )


def thinking_arg(value: str) -> str:
    v = value.strip().lower()
    if v not in ("on", "off", "pack"):
        raise argparse.ArgumentTypeError(f"{value!r}: expected on, off or pack")
    return v


def _number(kind: type[int] | type[float], low: float, strict: bool) -> Any:
    """An argparse type: a number of ``kind`` above ``low`` (or at least, unless strict)."""
    noun = "an integer" if kind is int else "a number"

    def parse(value: str) -> int | float:
        try:
            n = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not {noun}") from None
        if n < low or (strict and n == low):
            raise argparse.ArgumentTypeError(f"{value!r} must be {'>' if strict else '>='} {low:g}")
        return n

    parse.__name__ = f"{kind.__name__}_arg"
    return parse


positive_float = _number(float, 0, strict=True)
non_negative_float = _number(float, 0, strict=False)
positive_int = _number(int, 1, strict=False)
non_negative_int = _number(int, 0, strict=False)


def pack_floor_arg(value: str) -> tuple[str, float]:
    pack, sep, pct = value.partition("=")
    if not sep or not re.match(r"^[a-z][a-z0-9_\-]*$", pack):
        raise argparse.ArgumentTypeError(f"{value!r}: expected PACK=PERCENT, e.g. toolcall=80")
    try:
        f = float(pct.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: {pct!r} is not a number") from None
    if not 0 <= f <= 100:
        raise argparse.ArgumentTypeError(f"{value!r}: percent must be within 0..100")
    return pack, f


def model_arg(value: str) -> tuple[str, str | None]:
    label, sep, url = value.partition("=")
    label = label.strip()
    if not label:
        raise argparse.ArgumentTypeError(f"{value!r}: empty model name")
    if sep:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$", label):
            raise argparse.ArgumentTypeError(
                f"{value!r}: model name {label!r} may use letters, digits, '.', '_', ':', '-'"
            )
        try:
            url = endpoint_arg(url)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{value!r}: {exc}") from None
        return label, url
    return label, None


def model_size_arg(value: str) -> tuple[str, float]:
    name, sep, gb = value.partition("=")
    try:
        size = float(gb)
    except ValueError:
        size = -1.0
    if not sep or not name or size <= 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected NAME=GB, e.g. qwen-q4=4.7")
    return name, size


def pack_id_arg(value: str) -> str:
    if not re.match(r"^[a-z][a-z0-9_\-]*$", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a pack id")
    return value


def env_name_arg(value: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an environment variable name")
    return value


def yes_no(value: str) -> bool:
    v = value.strip().lower()
    if v in ("yes", "true", "1", "on"):
        return True
    if v in ("no", "false", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{value!r}: expected yes or no")


def addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("llmbench", "LLM benchmarks (pytest-llmbench)")
    g.addoption(
        "--llm-endpoint",
        type=endpoint_arg,
        action="append",
        default=[],
        metavar="URL",
        help="OpenAI-compatible server (http://host:port[/v1]), or 'reference' / 'junk' "
        "for the built-in self-check endpoints. Repeat it for replicas of one model "
        "(least outstanding requests). Without it no scenario is collected.",
    )
    g.addoption(
        "--llm-model",
        type=model_arg,
        action="append",
        default=[],
        metavar="ID|NAME=URL",
        help="model id to request (default: first id from /v1/models). Repeat it to "
        "compare models side by side; NAME=URL puts a model on its own server.",
    )
    g.addoption(
        "--llm-model-size",
        type=model_size_arg,
        action="append",
        default=[],
        metavar="NAME=GB",
        help="model size, for score per GB in multi-model tables",
    )
    g.addoption(
        "--llm-oracle",
        default=None,
        metavar="NAME",
        help="the model that should pass everything; its failures are SUSPECT SCENARIOS",
    )
    g.addoption(
        "--llm-pack",
        action="append",
        type=pack_id_arg,
        default=[],
        metavar="ID",
        help="run only this pack (repeatable)",
    )
    g.addoption(
        "--llm-thinking",
        type=thinking_arg,
        default="pack",
        metavar="on|off|pack",
        help="send chat_template_kwargs.enable_thinking (pack: as the pack says)",
    )
    g.addoption(
        "--llm-log",
        default=None,
        metavar="PATH",
        help="run log path (default .llmbench/runs/run-<UTC time>.json)",
    )
    g.addoption(
        "--llm-api-key-env",
        type=env_name_arg,
        default="LLMBENCH_API_KEY",
        metavar="NAME",
        help="environment variable holding the API key",
    )
    g.addoption(
        "--llm-timeout",
        type=positive_float,
        default=None,
        metavar="SECONDS",
        help="deadline for each whole request, streamed ones included "
        "(default: the scenario's, else sized by the speed probe, else 300)",
    )
    g.addoption(
        "--llm-concurrency",
        type=positive_int,
        default=None,
        metavar="N",
        help="requests in flight per process (default 4; in-process endpoints: 1)",
    )
    g.addoption(
        "--llm-retries",
        type=non_negative_int,
        default=2,
        metavar="N",
        help="retries of infrastructure failures (connection, 5xx, 429); never of answers",
    )
    g.addoption(
        "--llm-give-up",
        type=non_negative_int,
        default=5,
        metavar="N",
        help="stop the run when its first N scenarios all fail the same infrastructure way "
        "(a dead endpoint); 0 never stops (default 5)",
    )
    g.addoption(
        "--llm-repeat",
        type=positive_int,
        default=1,
        metavar="N",
        help="run each scenario N times (pass@k, pass^k, mean/std/CV in the summary)",
    )
    g.addoption(
        "--llm-cache",
        default=None,
        metavar="DIR",
        help="answer repeated identical requests from this cache directory",
    )
    g.addoption(
        "--llm-replay",
        default=None,
        metavar="RUNLOG",
        help="answer from a saved run log, no network; missing answers are errors",
    )
    g.addoption(
        "--llm-resume",
        default=None,
        metavar="RUNLOG",
        help="skip scenarios finished in RUNLOG and write one merged run log",
    )
    g.addoption(
        "--llm-stream",
        action="store_true",
        default=False,
        help="stream responses; records time to first token and decode tokens/s",
    )
    g.addoption(
        "--llm-probe",
        type=yes_no,
        default=True,
        metavar="yes|no",
        help="measure decode speed (from the first replies) to size per-request timeouts",
    )
    g.addoption(
        "--llm-sandbox",
        type=sandbox_arg,
        default="auto",
        metavar="NAME",
        help="where model-written code runs: auto, docker, bwrap, unsafe-local (never "
        "unless named) or an installed backend",
    )
    g.addoption(
        "--llm-sandbox-image",
        default=None,
        metavar="IMAGE",
        help="docker image for the sandbox (default: the one `llmbench sandbox build` makes)",
    )
    g.addoption(
        "--llm-judge-url",
        type=endpoint_arg,
        default=None,
        metavar="URL",
        help="OpenAI-compatible server for rubric (judge) verifiers",
    )
    g.addoption("--llm-judge-model", default=None, metavar="ID", help="judge model id")
    g.addoption(
        "--llm-baseline",
        default=None,
        metavar="FILE",
        help="baseline from `llmbench baseline capture`; regressions fail the session",
    )
    g.addoption(
        "--llm-max-drop",
        type=positive_float,
        default=None,
        metavar="PP",
        help="largest allowed drop of a pack's score against the baseline, in points",
    )
    g.addoption(
        "--llm-fail-under",
        type=pack_floor_arg,
        action="append",
        default=[],
        metavar="PACK=PCT",
        help="absolute floor for a pack's score (repeatable)",
    )
    g.addoption(
        "--llm-max-errors",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="infrastructure errors allowed before the session fails with status 7 "
        "(default with a gate: 0)",
    )
    g.addoption(
        "--llm-exit",
        choices=["scenarios", "gates"],
        default=None,
        help="what decides the exit status: failed scenarios (pytest's rule; the default "
        "without gates) or only the gates (the default with --llm-baseline, "
        "--llm-fail-under or --llm-max-errors)",
    )
    g.addoption(
        "--llm-allow-noncanonical",
        action="store_true",
        default=False,
        help="let gates compare a non-canonical run with a canonical baseline",
    )
    g.addoption(
        "--llm-report-md",
        default=None,
        metavar="PATH",
        help="write a Markdown report (table, Quality line, failure breakdown)",
    )
    for name, typ, what in (
        ("temperature", non_negative_float, "sampling temperature"),
        ("top-p", non_negative_float, "nucleus sampling top_p"),
        ("top-k", non_negative_int, "top_k (llama.cpp, vLLM)"),
        ("min-p", non_negative_float, "min_p (llama.cpp, vLLM)"),
        ("repeat-penalty", non_negative_float, "repeat_penalty (llama.cpp)"),
        ("seed", non_negative_int, "sampling seed"),
    ):
        g.addoption(
            f"--llm-{name}",
            type=typ,
            default=None,
            metavar="X",
            help=f"{what}; any of these makes the run non-canonical",
        )
    g.addoption(
        "--llm-max-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="cap every request's max_tokens (quick runs, small servers)",
    )
    g.addoption(
        "--llm-sampling-from-server",
        action="store_true",
        default=False,
        help="send no sampling fields; record what the server used (llama.cpp /props)",
    )
    g.addoption(
        "--llm-builtin-packs",
        type=yes_no,
        default=None,
        metavar="yes|no",
        help="collect the built-in packs (default: yes unless test paths are given)",
    )
    parser.addini("llm_endpoint", "default for --llm-endpoint", default=None)
    parser.addini("llm_model", "default for --llm-model", default=None)
    parser.addini("llm_log", "default for --llm-log", default=None)


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
