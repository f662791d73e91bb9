"""The ``--llm-*`` options and ``llm_*`` ini keys, declared, with their argparse types
(each parses one value or raises a one-line ``argparse.ArgumentTypeError``). Only
:class:`pytest_llmbench.options.RunConfig` reads them."""

from __future__ import annotations

import argparse
import re
from typing import Any

import pytest


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
