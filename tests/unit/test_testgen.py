"""Mutant generation (pure) and the testgen verifier (with a local stand-in sandbox)."""

from __future__ import annotations

import ast

from fakechannel import FakeSandbox, as_sandbox
from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.verifiers.context import VerifierContext
from pytest_llmbench.core.verifiers.mutation import mutants

CODE = '''def clamp(x, lo, hi):
    """Clamp x (a docstring with 1 number is never mutated)."""
    if lo > hi:
        raise ValueError("empty")
    return max(lo, min(x, hi))


def total(xs, scale: int = 2):
    s = 0
    for i in range(len(xs)):
        s += xs[i] * scale
    return s if xs and not False else 0


def head(xs):
    return xs[0:3]


if __name__ == "__main__":
    print(clamp(1, 2, 3) + 100)
'''


def test_mutants_cover_every_operator_and_are_deterministic() -> None:
    ms = mutants(CODE)
    assert [m.source for m in ms] == [m.source for m in mutants(CODE)]
    assert {m.operator for m in ms} == {
        "arith",
        "compare",
        "logic",
        "condition",
        "constant",
        "off_by_one",
    }
    changes = {m.change for m in ms}
    assert "`lo > hi` -> `lo >= hi`" in changes
    assert "`xs[i] * scale` -> `xs[i] / scale`" in changes
    assert "`range(len(xs))` -> `range(len(xs) + 1)`" in changes
    assert "`0:3` -> `0:3 + 1`" in changes
    assert any(c.startswith("`xs and") and "-> `xs or" in c for c in changes)
    assert [m.id for m in ms] == [f"m{i:03d}" for i in range(len(ms))]
    for m in ms:
        ast.parse(m.source)
        assert m.source != ast.unparse(ast.parse(CODE))
        # docstrings, annotations and the __main__ block stay as they are
        assert "a docstring with 1 number" in m.source
        assert "scale: int=" in m.source  # the annotation, not the default
        assert "+ 100" in m.source


def test_mutant_limit_spreads_evenly() -> None:
    ms = mutants(CODE, limit=4)
    assert len(ms) == 4 and len({m.operator for m in ms}) >= 2


CLAMP = """def clamp(x, lo, hi):
    if lo > hi:
        raise ValueError("empty range")
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x
"""

GOOD = """```python
from solution import clamp


def test_inside_and_outside():
    assert clamp(5, 0, 10) == 5
    assert clamp(-1, 0, 10) == 0
    assert clamp(11, 0, 10) == 10
    assert clamp(3, 3, 3) == 3


def test_empty_range():
    try:
        clamp(1, 2, 1)
    except ValueError:
        return
    assert False
```"""


def scenario(min_score: float = 0.6) -> Scenario:
    return Scenario.model_validate(
        {
            "id": "tg",
            "prompt": f"Write tests.\n\n```python\n{CLAMP}```\n",
            "verifier": {"type": "testgen", "min_score": min_score},
            "reference": "x",
            "counterexamples": ["a", "b"],
        }
    )


def test_good_tests_kill_mutants() -> None:
    v = check_answer(scenario(), None, GOOD, VerifierContext(sandbox=as_sandbox(FakeSandbox())))
    assert v.passed, v.detail
    killed, total = v.metrics["mutation"]
    assert total == len(mutants(CLAMP)) and killed >= total - 3
    assert any(c.found == "survived" for c in v.checks) or killed == total


def test_tests_failing_on_the_original_score_zero() -> None:
    bad = GOOD.replace("== 10\n", "== 11\n")
    v = check_answer(scenario(), None, bad, VerifierContext(sandbox=as_sandbox(FakeSandbox())))
    assert not v.passed and v.score == 0.0 and v.category == "tests_fail_on_original"
    assert "test_inside_and_outside" in v.detail


def test_weak_tests_fail_with_survivors_listed() -> None:
    weak = (
        "```python\nfrom solution import clamp\n\ndef test_a():\n"
        "    assert clamp(5, 0, 10) == 5\n```"
    )
    v = check_answer(scenario(), None, weak, VerifierContext(sandbox=as_sandbox(FakeSandbox())))
    assert not v.passed and v.category == "mutants_survive" and "survivors:" in v.detail
    assert 0 < v.score < 0.6


def test_answers_without_tests() -> None:
    class NoRun:
        def open(self, **kw: object) -> object:
            raise AssertionError("nothing may run")

    sb = NoRun()
    v = check_answer(
        scenario(), None, f"```python\n{CLAMP}```", VerifierContext(sandbox=as_sandbox(sb))
    )
    assert v.category == "no_tests"
    assert (
        check_answer(scenario(), None, "", VerifierContext(sandbox=as_sandbox(sb))).category
        == "no_code"
    )
    v = check_answer(
        scenario(), None, "```python\ndef test_x(:\n```", VerifierContext(sandbox=as_sandbox(sb))
    )
    assert v.category == "compile_error"


def test_a_looping_mutant_is_killed_by_time() -> None:
    code = "def count_up(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i\n"
    sc = Scenario.model_validate(
        {
            "id": "loop",
            "prompt": f"```python\n{code}```",
            "reference": "x",
            "counterexamples": ["a", "b"],
            "verifier": {"type": "testgen", "min_score": 0.5, "per_variant_s": 0.5},
        }
    )
    tests = (
        "```python\nfrom solution import count_up\n\ndef test_it():\n"
        "    assert count_up(3) == 3\n```"
    )
    v = check_answer(sc, None, tests, VerifierContext(sandbox=as_sandbox(FakeSandbox())))
    # `i += 1` -> `i -= 1` never ends: killed by the per-variant alarm
    assert v.passed, v.detail
    assert any("i -= 1" in c.name and c.passed for c in v.checks)
