"""Command-line options (``--llm-*``) and ini keys (``llm_*``), with validators."""

from __future__ import annotations

import argparse
import re

import pytest

from .core.junk import JUNK_KINDS


def endpoint_arg(value: str) -> str:
    v = value.strip()
    if v in ("reference", "junk") or (v.startswith("junk:") and v[5:] in JUNK_KINDS):
        return v
    if re.match(r"^https?://[^\s/]+", v):
        return v
    if v.startswith("junk:"):
        raise argparse.ArgumentTypeError(
            f"unknown junk kind {v[5:]!r}; known: {', '.join(JUNK_KINDS)}"
        )
    raise argparse.ArgumentTypeError(
        f"{value!r} is not an http(s) URL, 'reference', 'junk' or 'junk:<kind>'"
    )


def thinking_arg(value: str) -> str:
    v = value.strip().lower()
    if v not in ("on", "off", "pack"):
        raise argparse.ArgumentTypeError(f"{value!r}: expected on, off or pack")
    return v


def positive_float(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if f <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be > 0")
    return f


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
        default=None,
        metavar="URL",
        help="OpenAI-compatible server (http://host:port[/v1]), or 'reference' / 'junk' "
        "for the built-in self-check endpoints. Without it no scenario is collected.",
    )
    g.addoption(
        "--llm-model",
        default=None,
        metavar="ID",
        help="model id to request (default: first id from /v1/models)",
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
        help="per-request timeout (default: the scenario's, else 300)",
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
