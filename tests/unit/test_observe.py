"""Observations compared on the host: kinds, exactly-once keys, lookalike lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakechannel import as_sandbox
from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.verifiers.base import VerifierConfigError, build_verifier
from pytest_llmbench.core.verifiers.context import VerifierContext
from pytest_llmbench.core.verifiers.observe import (
    Expect,
    equal,
    groups,
    judge,
    parse_expect,
    read_observations,
)


def line(key: str, value: Any = None, error: str | None = None) -> str:
    return json.dumps({"key": key, "error": error} if error else {"key": key, "value": value})


EXPECT = parse_expect(
    {
        "sum/small": 3,
        "sum/big": 3000000000,
        "mean": {"cmp": "approx", "value": 2.5, "tol": 1e-6},
        "tags": {"cmp": "set", "value": ["a", "b"]},
        "bag": {"cmp": "unordered", "value": [1, 1, 2]},
        "log": {"cmp": "contains", "value": ["GET /a 200", "GET /b 404"]},
        "bad input": {"cmp": "error", "value": "ValueError"},
        "flag": True,
    }
)

GOOD = [
    line("sum/small", 3),
    line("sum/big", 3000000000),
    line("mean", 2.5000000001),
    line("tags", ["b", "a", "b"]),
    line("bag", [2, 1, 1]),
    line("log", "x GET /a 200 y GET /b 404"),
    line("bad input", error="ValueError: no"),
    line("flag", True),
]


def verdicts(lines: list[str]) -> dict[str, tuple[bool, str]]:
    return judge(EXPECT, read_observations("\n".join(lines)))


def test_groups_and_the_right_values_pass() -> None:
    assert groups(EXPECT) == ["sum", "mean", "tags", "bag", "log", "bad input", "flag"]
    got = verdicts(["noise", "test sum ... ok", *GOOD, "{not json"])
    assert all(ok for ok, _ in got.values()), got


@pytest.mark.parametrize(
    ("bad", "test", "why"),
    [
        (line("sum/small", 4), "sum", "small: got 4, wanted 3"),
        (line("flag", 1), "flag", "got 1, wanted true"),  # a bool is not a number
        (line("flag", "true"), "flag", "wanted true"),
        (line("mean", 2.6), "mean", "(approx)"),
        (line("tags", ["a"]), "tags", "(set)"),
        (line("bag", [1, 2, 2]), "bag", "(unordered)"),
        (line("log", "GET /a 200"), "log", "lacks"),
        (line("log", ["GET /a 200", "GET /b 404"]), "log", "lacks"),
        (line("bad input", 0), "bad input", "wanted an error"),
        (line("bad input", error="TypeError: x"), "bad input", "mentioning"),
        (line("sum/big", error="panic: overflow"), "sum", "panic: overflow"),
    ],
)
def test_a_wrong_value_fails_its_test(bad: str, test: str, why: str) -> None:
    key = json.loads(bad)["key"]
    lines = [g for g in GOOD if json.loads(g)["key"] != key] + [bad]
    got = verdicts(lines)
    assert not got[test][0] and why in got[test][1], got[test]
    assert sum(not ok for ok, _ in got.values()) == 1


def test_each_key_exactly_once() -> None:
    got = verdicts([*GOOD, line("flag", True)])
    assert got["flag"] == (False, "observed 2 times (each key must appear once)")
    got = verdicts([g for g in GOOD if '"mean"' not in g])
    assert got["mean"] == (False, "not observed")


def test_lookalike_lines_are_not_observations() -> None:
    seen = read_observations(
        "\n".join(
            [
                '{"key": "a", "value": 1, "ok": true}',  # extra field
                '{"key": "b"}',  # neither value nor error
                '{"key": 5, "value": 1}',  # key not a text
                '{"key": "c", "value": NaN}',  # not JSON
                '["key", "d"]',
                'prefix {"key": "e", "value": 1}',
            ]
        )
    )
    assert seen == {}


def test_equal_is_typed() -> None:
    assert equal(1, 1.0) and not equal(True, 1) and not equal(0, False) and not equal(None, 0)
    assert equal({"a": [1, "x"]}, {"a": [1, "x"]}) and not equal({"a": 1}, {"a": 1, "b": 2})
    assert not equal([1, 2], [2, 1]) and not equal("1", 1)


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"k": {"cmp": "nearly", "value": 1}},
        {"k": {"cmp": "approx"}},
        {"k": {"cmp": "set", "value": 1}},
        {"k": {"cmp": "contains", "value": 3}},
        {"k": {"cmp": "approx", "value": 1, "tol": -1}},
        {"k": {"cmp": "equal", "value": 1, "extra": 2}},
        {"/k": 1},
    ],
)
def test_bad_expectations_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="expect"):
        parse_expect(raw)


def test_a_plain_mapping_is_a_value() -> None:
    assert parse_expect({"k": {"a": 1}}) == {"k": Expect("equal", {"a": 1})}


def _scenario(verifier: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(
        {
            "id": "s",
            "prompt": "x",
            "reference": "x",
            "counterexamples": ["a", "b"],
            "verifier": {"type": "polyglot", "file": "a.go", **verifier},
        }
    )


@pytest.mark.parametrize(
    ("verifier", "message"),
    [
        ({"language": "go", "tests": "func TestA(t *testing.T) {}"}, "observation program"),
        ({"language": "rust", "tests": "#[test] fn a() {}"}, "observation program"),
        (
            {"language": "rust", "tests_language": "python", "tests": "def test_a(): pass"},
            "observation program",
        ),
        ({"language": "go"}, "hidden checks missing"),
        (
            {"language": "python", "tests": "def test_a(): pass", "files": {"h.py": "x = 1"}},
            "files: is not supported",
        ),
        ({"language": "go", "observe": "package solution"}, "at least one"),
        (
            {"language": "python", "tests": "def test_a(): pass", "expect": {"a": 1}},
            "expect: goes with observe",
        ),
    ],
)
def test_scenarios_that_would_decide_inside_the_sandbox_are_refused(
    verifier: dict[str, Any], message: str
) -> None:
    sc = _scenario(verifier)
    with pytest.raises((ValueError, VerifierConfigError), match=message):
        build_verifier(sc.verifier, sc, None)


def test_no_observation_means_not_run_not_a_crash() -> None:
    class Silent:
        name = "silent"

        def run(self, files: Any = None, cmd: Any = (), **kw: Any) -> Any:
            from pytest_llmbench.core.sandbox.interface import ExecResult

            if "command -v" in cmd[-1]:
                return ExecResult(0, "", "")
            return ExecResult(0, 'test a ... ok\n{"key": "b", "value": 2}\n', "")

    sc = _scenario(
        {
            "language": "go",
            "observe": "package solution\n\nfunc llmbenchObservations() {}\n",
            "expect": {"a": 1, "b": 2},
        }
    )
    v = check_answer(
        sc, None, "```go\npackage solution\n```", VerifierContext(sandbox=as_sandbox(Silent()))
    )
    assert not v.passed and v.metrics["tests"] == [1.0, 2.0]
    assert "a: not observed" in v.detail
