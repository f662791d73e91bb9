"""What the README promises about running: --collect-only writes no run log, the
default run log lands under the current directory, the test command warns before
building llama.cpp (and only when the engine tests are selected), -rs is on."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import REPO, engine_tests_selected

PACK = """scenarios:
  - id: greet
    prompt: "Say the word hello and nothing else."
    verifier: {type: exact, value: hello, ignore_case: true, strip_punct: true}
    reference: hello
    counterexamples: ["goodbye", "hello world"]
"""


@pytest.fixture
def demo(pytester: pytest.Pytester) -> Path:
    d = pytester.path / "packs" / "demo"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text("id: demo\ntitle: Demo\nversion: '1'\n")
    (d / "s.yaml").write_text(PACK)
    return d


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
