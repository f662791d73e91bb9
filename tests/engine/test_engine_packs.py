"""Built-in packs end to end through pytest against a real llama.cpp server.

The model has random weights, so this is a protocol test and a junk-floor test: every
item must either pass or fail with a recorded failure mode (no INTERNALERROR, no
crash), and random output must not pass any scenario (a pass is a verifier that
accepts junk). Requests are capped at 64 tokens by a conftest wrapping the plugin's own
endpoint: random text longer than that tests nothing more and costs time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.engine

MAX_TOKENS = int(os.environ.get("LLMBENCH_ENGINE_MAX_TOKENS", "64"))

CAP_CONFTEST = f'''
from dataclasses import replace

import pytest
from pytest_llmbench import Endpoint

MAX_TOKENS = {MAX_TOKENS}


class Capped(Endpoint):
    """The plugin's endpoint with max_tokens capped."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.in_process = inner.in_process

    def probe(self):
        return self.inner.probe()

    def describe(self):
        return {{**self.inner.describe(), "max_tokens_cap": MAX_TOKENS}}

    def close(self):
        self.inner.close()

    def chat(self, messages, params, *, timeout_s=None):
        cap = min(params.max_tokens or MAX_TOKENS, MAX_TOKENS)
        return self.inner.chat(messages, replace(params, max_tokens=cap), timeout_s=timeout_s)


@pytest.fixture(scope="session")
def llm_endpoint(llm_endpoint):
    return Capped(llm_endpoint)
'''


def run_pytest(cwd: Path, *args: str, timeout: float = 600) -> tuple[int, str, float]:
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "conftest.py").write_text(CAP_CONFTEST)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
    )
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0


def results_of(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    log: dict[str, Any] = json.loads(path.read_text())
    return log, log["results"]


def check_run(rc: int, out: str, log_path: Path) -> list[dict[str, Any]]:
    """Checks every engine run shares: a clean pytest run, a failure mode for every
    item that did not pass, and no pass from random output."""
    assert "INTERNALERROR" not in out, out[-3000:]
    assert rc in (0, 1), f"pytest exit code {rc}:\n{out[-3000:]}"
    _, results = results_of(log_path)
    assert results, "empty run log"
    unexplained = [r["nodeid"] for r in results if not r["passed"] and not r["failure_mode"]]
    assert not unexplained, f"failed without a failure mode: {unexplained}"
    passes: dict[str, list[str]] = defaultdict(list)
    for r in results:
        if r["passed"]:
            passes[r["pack"]].append(r["scenario"])
    assert not passes, f"random output passed (verifier accepts junk?): {dict(passes)}"
    return results


def builtin_packs() -> tuple[list[str], list[str]]:
    """Built-in pack ids split into (no sandbox needed, sandbox needed)."""
    from pytest_llmbench.core.packs import builtin_packs_dir, iter_pack_dirs, load_pack
    from pytest_llmbench.core.verifiers import get_verifier

    plain: list[str] = []
    sandboxed: list[str] = []
    for d in iter_pack_dirs(builtin_packs_dir()):
        if d.name == "bfcl":  # thousands of BFCL entries: not for a CPU model in CI
            continue
        pack = load_pack(d)
        needs = any(get_verifier(s.verifier.type).needs_sandbox for s in pack.scenarios)
        (sandboxed if needs else plain).append(pack.meta.id)
    return plain, sandboxed


def test_builtin_packs_against_llama_server(llama_server: Any, tmp_path: Path) -> None:
    plain, _ = builtin_packs()
    rc, out, took = run_pytest(
        tmp_path,
        f"--llm-endpoint={llama_server.url}",
        "--llm-log=log.json",
        *[a for p in plain for a in ("--llm-pack", p)],
    )
    results = check_run(rc, out, tmp_path / "log.json")
    log, _ = results_of(tmp_path / "log.json")
    sys.stderr.write(f"\nno-sandbox packs: {len(results)} items in {took:.1f} s\n")
    assert {r["pack"] for r in results} == set(plain)

    # /v1/models named the model; every request carried it.
    assert log["model"] == "tiny"
    calls = [c for r in results for c in r["calls"]]
    assert calls
    assert {c["request"].get("model") for c in calls} == {"tiny"}
    assert all(c["request"]["max_tokens"] <= MAX_TOKENS for c in calls)
    # llama.cpp reports usage and timings on every answer.
    for c in calls:
        assert isinstance(c["usage"], dict) and c["usage"]["completion_tokens"] >= 0, c
        assert isinstance(c["timings"], dict) and "predicted_per_second" in c["timings"], c

    # Random answers either stop on their own (judged by the verifier) or run into
    # max_tokens; prompts longer than the server's context are context_exceeded.
    modes = {r["failure_mode"] for r in results}
    assert {"verifier_fail", "token_limit"} <= modes, modes
    for r in results:
        if r["failure_mode"] == "context_exceeded":
            assert r["pack"] == "longctx" and "exceed_context_size" in r["error"], r
    assert modes <= {"verifier_fail", "token_limit", "context_exceeded"}, modes


def test_xdist_run_with_sandboxed_packs(llama_server: Any, tmp_path: Path) -> None:
    """-n 2 over the packs that execute code (sandbox from --llm-sandbox's default)
    plus two plain ones; humaneval trimmed to ten problems to keep the time down."""
    _, sandboxed = builtin_packs()
    packs = ["smoke", "toolcall", *sandboxed]
    rc, out, took = run_pytest(
        tmp_path,
        f"--llm-endpoint={llama_server.url}",
        "--llm-log=log.json",
        "-n",
        "2",
        "-k",
        "not humaneval or humaneval-00",
        *[a for p in packs for a in ("--llm-pack", p)],
    )
    results = check_run(rc, out, tmp_path / "log.json")
    sys.stderr.write(f"\n-n 2, sandboxed packs: {len(results)} items in {took:.1f} s\n")
    assert {"smoke", "toolcall"} <= {r["pack"] for r in results}


@pytest.mark.parametrize("flag, value", [("on", True), ("off", False)])
def test_thinking_flag_reaches_the_server(
    llama_server: Any, tmp_path: Path, flag: str, value: bool
) -> None:
    rc, out, _ = run_pytest(
        tmp_path,
        f"--llm-endpoint={llama_server.url}",
        f"--llm-thinking={flag}",
        "--llm-pack=smoke",
        "--llm-log=log.json",
    )
    results = check_run(rc, out, tmp_path / "log.json")
    kwargs = [c["request"].get("chat_template_kwargs") for r in results for c in r["calls"]]
    assert kwargs and all(k == {"enable_thinking": value} for k in kwargs), kwargs


def test_streaming_run(llama_server: Any, tmp_path: Path) -> None:
    rc, out, _ = run_pytest(
        tmp_path,
        f"--llm-endpoint={llama_server.url}",
        "--llm-stream",
        "--llm-pack=smoke",
        "--llm-log=log.json",
    )
    results = check_run(rc, out, tmp_path / "log.json")
    calls = [c for r in results for c in r["calls"]]
    assert calls and all(c["request"].get("stream") is True for c in calls)
    assert all(isinstance(c["usage"], dict) for c in calls), calls[0]
