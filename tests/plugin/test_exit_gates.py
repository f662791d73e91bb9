"""The exit status when gates are given: scenario failures are results, the gates
decide (0 hold, 6 a score gate failed, 7 too many infrastructure errors), JUnit still
lists every failed scenario; without gates pytest's own rule stays. Also under -n 2."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from fakeserver import FakeServer, chat_reply
from pytest_llmbench.core.workflows.gates import (
    EXIT_GATE_FAILED,
    EXIT_TOO_MANY_ERRORS,
    decide_exit,
)

PACK = """scenarios:
  - id: greet
    prompt: "Say the word hello and nothing else."
    verifier: {type: exact, value: hello, ignore_case: true, strip_punct: true}
    reference: hello
    counterexamples: ["goodbye", "hello world"]
  - id: sum
    prompt: "What is 2 + 3? End with ANSWER: <number>."
    verifier: {type: number, value: 5}
    reference: "ANSWER: 5"
    counterexamples: ["ANSWER: 6", "5"]
  - id: capital
    prompt: "Capital of France? One word."
    verifier: {type: exact, value: Paris, ignore_case: true, strip_punct: true}
    reference: Paris
    counterexamples: ["Lyon", "Paris, France"]
"""


def half_right(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    """Right on greet and sum, wrong on capital (2/3 = 66.7%)."""
    text = str(body["messages"][-1]["content"])
    if "hello" in text:
        return 200, chat_reply("hello"), {}
    if "2 + 3" in text:
        return 200, chat_reply("ANSWER: 5"), {}
    return 200, chat_reply("Lyon"), {}


def server_error_on_capital(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    if "France" in str(body["messages"][-1]["content"]):
        return 500, {"error": "boom"}, {}
    return half_right(body)


def run(pytester: pytest.Pytester, url: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        "--llm-probe=no",
        "--llm-retries=0",
        f"--llm-endpoint={url}",
        "--junitxml=junit.xml",
        *args,
    )


def junit_failures(pytester: pytest.Pytester) -> tuple[list[str], list[str]]:
    root = ET.parse(pytester.path / "junit.xml").getroot()
    failed, errored = [], []
    for case in root.iter("testcase"):
        if case.find("failure") is not None:
            failed.append(str(case.get("name")))
        if case.find("error") is not None:
            errored.append(str(case.get("name")))
    return failed, errored


def test_without_gates_a_failed_scenario_fails_the_session(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = half_right
    res = run(pytester, fake_server.url)
    res.assert_outcomes(passed=2, failed=1)
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    assert "llmbench exit status" not in res.stdout.str()


def test_fail_under_holds_exit_0_and_junit_keeps_the_failure(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = half_right
    res = run(pytester, fake_server.url, "--llm-fail-under=demo=60")
    res.assert_outcomes(passed=2, failed=1)
    assert res.ret == 0, res.stdout.str()[-1500:]
    res.stdout.fnmatch_lines(["*llmbench exit status 0: every gate holds*"])
    failed, errored = junit_failures(pytester)
    assert failed == ["capital"] and errored == []


def test_fail_under_violated_exit_6(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = half_right
    res = run(pytester, fake_server.url, "--llm-fail-under=demo=70")
    assert res.ret == EXIT_GATE_FAILED == 6
    res.stdout.fnmatch_lines(
        [
            "*llmbench gates failed*",
            "demo: 66.7% is under the floor of 70%; failed: capital",
            "llmbench exit status 6: 1 gate(s) failed",
        ]
    )
    assert junit_failures(pytester)[0] == ["capital"]


def test_explicit_exit_scenarios_keeps_pytest_rule(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = half_right
    res = run(pytester, fake_server.url, "--llm-fail-under=demo=60", "--llm-exit=scenarios")
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    # and gates mode without a score gate: failures are results, errors still count
    res = run(pytester, fake_server.url, "--llm-exit=gates")
    assert res.ret == 0


def test_infrastructure_errors_exit_7_unless_allowed(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = server_error_on_capital
    # greet + sum pass: 100% of what was scored, but one scenario could not be measured
    res = run(pytester, fake_server.url, "--llm-fail-under=demo=60")
    res.assert_outcomes(passed=2, errors=1)
    assert res.ret == EXIT_TOO_MANY_ERRORS == 7
    res.stdout.fnmatch_lines(
        ["*llmbench exit status 7: 1 infrastructure error(s), more than --llm-max-errors=0*"]
    )
    assert junit_failures(pytester)[1] == ["capital"]
    res = run(pytester, fake_server.url, "--llm-fail-under=demo=60", "--llm-max-errors=1")
    assert res.ret == 0
    # --llm-max-errors alone is a gate too
    res = run(pytester, fake_server.url, "--llm-max-errors=0")
    assert res.ret == 7


def test_baseline_gate_exit_codes(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    from pytest_llmbench.cli import main as cli_main

    fake_server.script = half_right
    for i in range(3):
        run(pytester, fake_server.url, f"--llm-log=b{i}.json")
    base = pytester.path / "base.json"
    runs = [str(pytester.path / f"b{i}.json") for i in range(3)]
    assert cli_main(["baseline", "capture", *runs, "-o", str(base)]) == 0
    same = run(pytester, fake_server.url, f"--llm-baseline={base}", "--llm-max-drop=5")
    same.assert_outcomes(passed=2, failed=1)
    assert same.ret == 0, same.stdout.str()[-1500:]
    fake_server.script = lambda body: (200, chat_reply("no idea"), {})
    worse = run(pytester, fake_server.url, f"--llm-baseline={base}", "--llm-max-drop=5")
    assert worse.ret == 6
    worse.stdout.fnmatch_lines(["*demo: 0.0% vs baseline 66.7%*regressed: greet, sum*"])


def test_gates_decide_under_xdist(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    pytest.importorskip("xdist")
    fake_server.script = half_right
    ok = run(pytester, fake_server.url, "-n", "2", "--llm-fail-under=demo=60")
    ok.assert_outcomes(passed=2, failed=1)
    assert ok.ret == 0, ok.stdout.str()[-1500:]
    assert junit_failures(pytester)[0] == ["capital"]
    bad = run(pytester, fake_server.url, "-n", "2", "--llm-fail-under=demo=70")
    assert bad.ret == 6
    fake_server.script = server_error_on_capital
    err = run(pytester, fake_server.url, "-n", "2", "--llm-fail-under=demo=60")
    assert err.ret == 7


def test_a_plain_test_failure_still_fails_in_gates_mode(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = half_right
    pytester.makepyfile(test_plain="def test_broken():\n    assert 1 == 2\n")
    res = pytester.runpytest_subprocess(
        "packs",
        "test_plain.py",
        "-p",
        "no:cacheprovider",
        "--llm-probe=no",
        f"--llm-endpoint={fake_server.url}",
        "--llm-fail-under=demo=60",
    )
    res.assert_outcomes(passed=2, failed=2)
    assert res.ret == 1
    res.stdout.fnmatch_lines(["*exit status 1: 1 failure(s) that are not scenario results*"])


def test_max_drop_without_baseline_is_an_option_error(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_subprocess("--llm-endpoint=reference", "--llm-max-drop=3")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--llm-max-drop needs --llm-baseline*"])
    res = pytester.runpytest_subprocess("--llm-endpoint=reference", "--llm-exit=maybe")
    assert res.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize(
    ("status", "mode", "gates", "errors", "max_errors", "other", "expected"),
    [
        (1, "scenarios", [], 0, None, 0, 1),
        (0, "scenarios", [], 5, None, 0, 0),  # no gate: pytest's rule (errors fail it)
        (1, "scenarios", ["g"], 0, None, 0, 6),
        (1, "gates", [], 0, None, 0, 0),
        (1, "gates", ["g"], 0, None, 0, 6),
        (1, "gates", ["g"], 1, None, 0, 7),  # errors first: the scores are not trusted
        (1, "gates", [], 3, 3, 0, 0),
        (1, "gates", [], 0, None, 2, 1),
        (2, "gates", ["g"], 9, None, 0, 2),  # interrupted stays interrupted
        (5, "gates", ["g"], 0, None, 0, 5),
        (3, "gates", [], 0, None, 0, 3),
    ],
)
def test_decide_exit_table(
    status: int,
    mode: str,
    gates: list[str],
    errors: int,
    max_errors: int | None,
    other: int,
    expected: int,
) -> None:
    code, _ = decide_exit(
        status,
        mode=mode,
        gate_messages=gates,
        errors=errors,
        max_errors=max_errors,
        other_failures=other,
    )
    assert code == expected
