"""The coding, polyglot and testgen packs end to end, with real toolchains in a sandbox.

Docker runs everything (the image has python3, node, tsc, gcc, rustc, go); bubblewrap runs
what the host has (no Go here: those scenarios must report ``sandbox_unavailable``).
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.packs import load_pack
from pytest_llmbench.core.sandbox import SandboxUnavailable, open_sandbox
from pytest_llmbench.core.verifiers.context import VerifierContext

PACKS = Path(__file__).resolve().parents[2] / "packs"
NAMES = ("coding", "polyglot", "testgen")


def _open(kind: str) -> Any:
    try:
        return open_sandbox(kind)
    except SandboxUnavailable as exc:
        pytest.skip(f"{kind} sandbox unavailable: {exc}")


@pytest.fixture(scope="module")
def bwrap() -> Iterator[Any]:
    sb = _open("bwrap")
    yield sb
    sb.close()


def _pytest(tmp_path: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    args = [
        sys.executable,
        "-m",
        "pytest",
        f"--llm-endpoint={endpoint}",
        "--llm-sandbox",
        "docker",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    for name in NAMES:
        args += ["--llm-pack", name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMBENCH_")}
    return subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.docker
def test_references_pass_and_junk_fails_in_docker(tmp_path: Path) -> None:
    sb = _open("docker")
    sb.close()
    total = sum(len(load_pack(PACKS / n).scenarios) for n in NAMES)
    ref = _pytest(tmp_path, "reference")
    assert ref.returncode == 0, ref.stdout[-3000:]
    assert f"{total} passed" in ref.stdout
    # partial credit and mutation scores reach the summary
    assert "polyglot: tests 100.0%" in ref.stdout and "testgen: mutation" in ref.stdout
    junk = _pytest(tmp_path, "junk")
    assert junk.returncode == 1
    assert f"{total} failed" in junk.stdout, junk.stdout[-3000:]


@pytest.mark.bwrap
def test_bwrap_runs_the_languages_the_host_has(bwrap: Any) -> None:
    pack = load_pack(PACKS / "polyglot")
    needed = {
        "lang_python": "python3",
        "lang_javascript": "node",
        "lang_typescript": "node",
        "lang_rust": "rustc",
    }
    ran = 0
    for sc in pack.scenarios:
        tag = next(t for t in sc.tags if t.startswith("lang_"))
        if tag == "lang_go" or not shutil.which(needed[tag]):
            continue
        v = check_answer(sc, pack.meta, sc.reference, VerifierContext(sandbox=bwrap))
        assert v.passed, f"{sc.id}: {v.detail}"
        v = check_answer(sc, pack.meta, sc.counterexamples[0], VerifierContext(sandbox=bwrap))
        assert not v.passed, sc.id
        ran += 1
    assert ran >= 8
    tg = load_pack(PACKS / "testgen")
    sc = tg.scenario("tg-clamp")
    assert check_answer(sc, tg.meta, sc.reference, VerifierContext(sandbox=bwrap)).passed


@pytest.mark.bwrap
def test_go_on_bwrap_runs_or_says_why(bwrap: Any) -> None:
    pack = load_pack(PACKS / "polyglot")
    sc = pack.scenario("go-reverse-words")
    v = check_answer(sc, pack.meta, sc.reference, VerifierContext(sandbox=bwrap))
    if "go" in bwrap.tc.found:  # a host with Go: the reference really builds and passes
        assert v.passed, v.detail
        return
    assert not v.passed and v.category == "sandbox_unavailable"
    assert "no `go`" in v.detail and "docker" in v.detail


@pytest.mark.docker
def test_every_counterexample_fails_in_docker() -> None:
    """References and junk run through pytest above; here every near miss runs for
    real too (3 warm containers in parallel)."""
    boxes = [_open("docker") for _ in range(3)]
    pool: queue.Queue[Any] = queue.Queue()
    for sb in boxes:
        pool.put(sb)
    cases = [
        (pack, sc, i)
        for pack in (load_pack(PACKS / n) for n in NAMES)
        for sc in pack.scenarios
        for i in range(len(sc.counterexamples))
    ]

    def one(case: tuple[Any, Any, int]) -> str | None:
        pack, sc, i = case
        sb = pool.get()
        try:
            v = check_answer(sc, pack.meta, sc.counterexamples[i], VerifierContext(sandbox=sb))
        finally:
            pool.put(sb)
        return None if not v.passed else f"{pack.meta.id}::{sc.id} counterexample {i} passes"

    try:
        with ThreadPoolExecutor(len(boxes)) as ex:
            passing = [msg for msg in ex.map(one, cases) if msg]
    finally:
        for sb in boxes:
            sb.close()
    assert len(cases) >= 60
    assert passing == []


def _with_enum(reference: str) -> str:
    """The reference whole-file answer plus an enum: valid TypeScript that only tsc takes."""
    head, _, code = reference.partition("```typescript\n")
    assert code, "expected a fenced whole-file reference"
    return f"{head}```typescript\nexport enum Mode {{ Fast, Safe }}\n{code}"


@pytest.mark.docker
def test_typescript_compiles_with_tsc_in_docker() -> None:
    pack = load_pack(PACKS / "polyglot")
    sc = pack.scenario("ts-emitter-once")
    sb = _open("docker")
    try:
        v = check_answer(sc, pack.meta, _with_enum(str(sc.reference)), VerifierContext(sandbox=sb))
    finally:
        sb.close()
    assert v.passed, v.detail


@pytest.mark.bwrap
def test_typescript_beyond_the_eraser_is_the_sandbox_s_shortcoming(bwrap: Any) -> None:
    pack = load_pack(PACKS / "polyglot")
    sc = pack.scenario("ts-emitter-once")
    v = check_answer(sc, pack.meta, _with_enum(str(sc.reference)), VerifierContext(sandbox=bwrap))
    if "tsc" in bwrap.tc.found:  # a host with tsc compiles it for real
        assert v.passed, v.detail
        return
    assert not v.passed and v.category == "sandbox_unavailable", v.detail
    assert "enum is not supported" in v.detail and "docker" in v.detail
