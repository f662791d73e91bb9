"""What the README promises about running: --collect-only writes no run log, the
default run log lands under the current directory, the test command warns before
building llama.cpp (and only when the engine tests are selected), -rs is on."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine_select import REPO, engine_tests_selected

PACK = """scenarios:
  - id: greet
    prompt: "Say the word hello and nothing else."
    verifier: {type: exact, value: hello, ignore_case: true, strip_punct: true}
    reference: hello
    counterexamples: ["goodbye", "hello world"]
"""


def test_collect_only_writes_no_run_log(pytester: pytest.Pytester, demo: Path) -> None:
    res = pytester.runpytest_subprocess(
        "packs", "-p", "no:cacheprovider", "--llm-endpoint=reference", "--collect-only"
    )
    assert res.ret == 0
    assert not (pytester.path / ".llmbench").exists()
    assert "run log:" not in res.stdout.str()


def test_default_run_log_is_under_the_current_directory(
    pytester: pytest.Pytester, demo: Path
) -> None:
    elsewhere = pytester.path / "elsewhere"
    elsewhere.mkdir()
    res = pytester.runpytest_subprocess(
        "packs", "-p", "no:cacheprovider", "--llm-endpoint=reference", f"--rootdir={elsewhere}"
    )
    res.assert_outcomes(passed=1)
    logs = list((pytester.path / ".llmbench" / "runs").glob("run-*.json"))
    assert len(logs) == 1 and not (elsewhere / ".llmbench").exists()
    res.stdout.fnmatch_lines([f"run log: {logs[0]}"])


def _config(markexpr: str, *args: str) -> pytest.Config:
    return SimpleNamespace(  # type: ignore[return-value]
        option=SimpleNamespace(markexpr=markexpr),
        args=list(args),
        invocation_params=SimpleNamespace(dir=REPO),
    )


def test_llama_build_warning_only_when_engine_tests_run() -> None:
    assert engine_tests_selected(_config("", "tests"))
    assert engine_tests_selected(_config("", "tests/engine/test_engine_packs.py::test_x"))
    assert engine_tests_selected(_config("engine", "."))
    assert not engine_tests_selected(_config("not engine", "tests"))
    assert not engine_tests_selected(_config("", "tests/unit"))
    assert not engine_tests_selected(_config("", "tests/plugin/test_readme_truth.py"))


def test_skip_reasons_show_and_the_readme_says_how_to_skip_the_build() -> None:
    addopts = re.search(r'^addopts = "([^"]*)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert addopts and "-rs" in addopts.group(1).split()
    readme = (REPO / "README.md").read_text()
    assert "LLMBENCH_LLAMA_BUILD=0" in readme and "-rs" in readme
    assert "under the current directory" in readme


def test_the_readme_demo_command_passes_every_scenario(tmp_path: Path) -> None:
    # The first command of the README, run as written (after its install and fetch steps,
    # which .ci/run has done): every selected built-in scenario passes, nothing errors.
    import shlex
    import subprocess
    import sys

    readme = (REPO / "README.md").read_text()
    block = re.search(r"Run the demo.*?```\n(.*?)\n```", readme, re.S)
    assert block, "README has no demo command"
    steps = [s.strip() for s in block.group(1).split("&&")]
    assert steps[0].startswith("pip install") and steps[1] == "llmbench datasets fetch bfcl"
    argv = shlex.split(steps[2])
    assert argv[0] == "pytest"
    log = tmp_path / "demo.json"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *argv[1:],
            "-p",
            "no:cacheprovider",
            "-q",
            f"--llm-log={log}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = res.stdout[-2000:]
    assert res.returncode == 0, tail
    last = res.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, \d+ deselected in [\d.]+s(?: \(.*\))?", last), tail
