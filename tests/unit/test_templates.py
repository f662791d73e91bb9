"""core.templates: seeded expansion, safe formulas, errors that name file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.packs import PackError, load_scenario_file
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.templates import Formula, FormulaError, expand_templates, fmt_number

BASE: dict[str, Any] = {
    "id": "t-sum",
    "instances": 4,
    "seed": 42,
    "vars": {"a": {"min": 1, "max": 50}, "b": {"min": 1, "max": 50}},
    "constraints": ["a > b"],
    "prompt": "Take {b} from {a}. End with a line `ANSWER: <number>`.",
    "answer": "a - b",
}


def expand(**over: Any) -> list[Scenario]:
    return expand_templates([{**BASE, **over}], Path("inline.yaml"), None)


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "scen.yaml"
    p.write_text(textwrap.dedent(body), encoding="utf-8")
    return p


# ---------------------------------------------------------------- expansion


def test_same_seed_same_instances() -> None:
    one = [s.model_dump() for s in expand()]
    two = [s.model_dump() for s in expand()]
    assert one == two


def test_pinned_values_are_stable_across_machines() -> None:
    # random.Random(seed) is specified to be reproducible; pin it so a change in
    # drawing order (which would silently rename benchmark items) is caught.
    got = [(s.id, s.verifier.args["value"]) for s in expand()]
    assert got == [("t-sum-1", 33.0), ("t-sum-2", 2.0), ("t-sum-3", 6.0), ("t-sum-4", 41.0)]
    assert (expand()[0].prompt or "").startswith("Take 8 from 41.")


def test_other_seed_other_instances() -> None:
    a = [s.prompt for s in expand()]
    b = [s.prompt for s in expand(seed=43)]
    assert a != b


def test_ids_unique_and_prefixed() -> None:
    scs = expand(instances=12)
    ids = [s.id for s in scs]
    assert ids == [f"t-sum-{i}" for i in range(1, 13)]
    # instances are distinct draws, not repeats
    assert len({s.prompt for s in scs}) == 12


def test_more_instances_keep_earlier_ones() -> None:
    # growing `instances` must not rename or change existing items
    few = [s.model_dump() for s in expand(instances=3)]
    many = [s.model_dump() for s in expand(instances=6)]
    assert many[:3] == few


def test_constraints_hold_and_answer_computed() -> None:
    for sc in expand(instances=10):
        # prompt is "Take {b} from {a}. ..."
        b, a = (int(w.rstrip(".")) for w in (sc.prompt or "").split()[1:4:2])
        assert a > b
        assert sc.verifier.type == "number"
        assert sc.verifier.args == {"value": a - b, "abs_tol": 0.0}


def test_reference_passes_and_near_misses_fail() -> None:
    for sc in expand(instances=6):
        assert check_answer(sc, None, sc.reference).passed, sc.id
        assert str(sc.reference).rstrip().splitlines()[-1].startswith("ANSWER: ")
        assert len(sc.counterexamples) >= 2
        for ce in sc.counterexamples:
            assert not check_answer(sc, None, ce).passed, (sc.id, ce)


def test_counterexample_kinds() -> None:
    sc = expand(
        derived={"twice": "2 * a"},
        answer="twice - b",
        steps="2 x {a} = {twice}; minus {b} is {answer}.",
    )[0]
    value = sc.verifier.args["value"]
    ces = [str(c) for c in sc.counterexamples]
    assert ces[0].endswith(f"ANSWER: {fmt_number(value - 1)}")  # one off
    assert "ANSWER" not in ces[1] and fmt_number(value) in ces[1]  # no ANSWER line
    assert ces[2].endswith("ANSWER: 82")  # the intermediate 2 * 41
    assert sc.reference == "2 x 41 = 82; minus 8 is 74.\nANSWER: 74"


def test_decimal_tolerance_and_step() -> None:
    sc = expand(
        vars={"p": {"choices": [1.25, 2.5]}, "n": {"min": 3, "max": 9}},
        constraints=[],
        prompt="{n} items at {p} each.",
        answer="n * p / 3",
        tolerance=0.01,
        instances=3,
    )
    for s in sc:
        assert s.verifier.args["abs_tol"] == 0.01
        assert check_answer(s, None, s.reference).passed
        assert not any(check_answer(s, None, c).passed for c in s.counterexamples)


def test_large_tolerance_step_is_beyond_it() -> None:
    for s in expand(tolerance=2.5):
        v = s.verifier.args["value"]
        assert str(s.counterexamples[0]).endswith(f"ANSWER: {fmt_number(v - 3)}")
        assert not check_answer(s, None, s.counterexamples[0]).passed


def test_names_and_string_constraints() -> None:
    scs = expand(
        vars={
            "x": {"choices": ["Ana", "Ben", "Cy"]},
            "y": {"choices": ["Ana", "Ben", "Cy"]},
            "n": {"min": 2, "max": 4},
        },
        constraints=["x != y", "not (x == 'Cy' and n == 4)"],
        prompt="{x} gives {y} {n} apples.",
        answer="n * 2",
        instances=5,
    )
    for s in scs:
        prompt = s.prompt or ""
        giver, _, taker = prompt.split()[:3]
        assert giver != taker
        assert not (giver == "Cy" and " 4 " in prompt)


def test_fmt_number() -> None:
    assert fmt_number(0.1 + 0.2) == "0.3"
    assert fmt_number(27.0) == "27"
    assert fmt_number(-0.0) == "0"
    assert fmt_number(2315.2500000000005) == "2315.25"
    assert fmt_number(12) == "12"


# ---------------------------------------------------------------- formulas


@pytest.mark.parametrize(
    "src",
    [
        "__import__('os').system('true')",
        "a.__class__",
        "a.real",
        "open('x')",
        "eval('1')",
        "(lambda: 1)()",
        "[a, b][0]",
        "a if b else 1",
        "a < b",  # comparisons only in constraints
        "'x' * 3",
        "min",
        "round(a, b, 1)",
        "max(a)",
        "abs(x=a)",
        "a @ b",
        "a +",
        "c + 1",
    ],
)
def test_formula_sandbox_rejects(src: str) -> None:
    with pytest.raises(FormulaError):
        Formula(src, {"a", "b"})


@pytest.mark.parametrize(
    "src,want",
    [
        ("a + b * 2", 13),
        ("(a + b) * 2", 16),
        ("-a + 10", 7),
        ("a / 2", 1.5),
        ("b // a", 1),
        ("b % a", 2),
        ("a ** 2", 9),
        ("min(a, b) + max(a, b, 1)", 8),
        ("abs(a - b)", 2),
        ("round(b / a, 2)", 1.67),
        ("round(b / a)", 2),
    ],
)
def test_formula_evaluates(src: str, want: float) -> None:
    assert Formula(src, {"a", "b"}).evaluate({"a": 3, "b": 5}) == want


def test_formula_runtime_errors() -> None:
    with pytest.raises(FormulaError, match="division by zero"):
        Formula("a / (b - b)", {"a", "b"}).evaluate({"a": 1, "b": 2})
    with pytest.raises(FormulaError, match="exponent"):
        Formula("a ** 1000", {"a"}).evaluate({"a": 2})
    with pytest.raises(FormulaError, match="out of range"):
        Formula("a ** 60 * a ** 60", {"a"}).evaluate({"a": 10})
    with pytest.raises(FormulaError, match="not a number"):
        Formula("a + 1", {"a"}).evaluate({"a": "Ana"})


def test_constraint_formulas() -> None:
    f = Formula("a < b <= 5 and not a == 0 or b == 99", {"a", "b"}, boolean=True)
    assert f.evaluate({"a": 1, "b": 5}) is True
    assert f.evaluate({"a": 0, "b": 5}) is False
    assert f.evaluate({"a": 0, "b": 99}) is True
    with pytest.raises(FormulaError):
        Formula("a.__class__ == 1", {"a"}, boolean=True)
    with pytest.raises(FormulaError):
        Formula("a in (1, 2)", {"a"}, boolean=True)


# ---------------------------------------------------------------- errors with file:line

GOOD_HEAD = """\
scenarios: []
templates:
  - id: ok
    instances: 2
    seed: 1
    vars: {a: {min: 1, max: 9}}
    prompt: "{a}?"
    answer: a + 1
"""


def test_file_expansion_sets_source(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD_HEAD)
    scs = load_scenario_file(p)
    assert [s.id for s in scs] == ["ok-1", "ok-2"]
    assert all(s.source_file == str(p) and s.source_line == 3 for s in scs)


def test_constraint_never_satisfied_names_file_and_line(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        GOOD_HEAD
        + """\
  - id: never
    instances: 3
    seed: 5
    max_attempts: 200
    vars: {a: {min: 1, max: 9}, b: {min: 1, max: 9}}
    constraints: ["a > 0", "a + b > 100"]
    prompt: "{a} and {b}"
    answer: a + b
""",
    )
    with pytest.raises(PackError) as info:
        load_scenario_file(p)
    err = info.value
    assert err.path == p and err.line == 9
    assert str(err).startswith(f"{p}:9: ")
    assert "only 0 of 3 instances found in 200 attempts" in err.message
    assert "constraint 'a + b > 100' was false in 200 draws" in err.message


def test_too_few_distinct_combinations(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD_HEAD.replace("instances: 2", "instances: 20"))
    with pytest.raises(PackError, match="too few distinct") as info:
        load_scenario_file(p)
    assert info.value.line == 3


@pytest.mark.parametrize(
    "old,new,match",
    [
        ("answer: a + 1", "answer: a.__class__", "Attribute is not allowed"),
        ("answer: a + 1", "answer: __import__('os')", "call of __import__ is not allowed"),
        ("answer: a + 1", "answer: b + 1", "unknown name 'b'"),
        ("answer: a + 1", "answer: a +* 1", "cannot parse"),
        ('prompt: "{a}?"', 'prompt: "{b}?"', r"placeholder \{b\} is not a var"),
        ('prompt: "{a}?"', 'prompt: "{a.__class__}?"', "must be a plain name"),
        ("answer: a + 1", "answer: a / (a - a)", "division by zero"),
    ],
)
def test_bad_template_names_file_and_line(tmp_path: Path, old: str, new: str, match: str) -> None:
    p = write(tmp_path, GOOD_HEAD.replace(old, new))
    with pytest.raises(PackError, match=match) as info:
        load_scenario_file(p)
    assert info.value.path == p and info.value.line == 3
    assert "template 'ok'" in info.value.message


@pytest.mark.parametrize(
    "old,new,line,match",
    [
        ("seed: 1", "seed: 1\n    colour: red", 6, "Extra inputs are not permitted"),
        ("{a: {min: 1, max: 9}}", "{a: {min: 9, max: 1}}", 6, "greater than max"),
        ("{a: {min: 1, max: 9}}", "{a: {min: 1, max: 9, choices: [1]}}", 6, "either"),
        ("{a: {min: 1, max: 9}}", "{answer: {min: 1, max: 9}}", 6, "reserved"),
        ("instances: 2", "instances: 0", 4, "greater than or equal to 1"),
        ("id: ok", "id: 'bad id'", 3, "must match"),
    ],
)
def test_schema_errors_point_at_the_field(
    tmp_path: Path, old: str, new: str, line: int, match: str
) -> None:
    p = write(tmp_path, GOOD_HEAD.replace(old, new))
    with pytest.raises(PackError, match=match) as info:
        load_scenario_file(p)
    assert info.value.line == line


def test_bad_tag_in_template(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD_HEAD + "    tags: [not-a-marker]\n")
    with pytest.raises(PackError, match="tag") as info:
        load_scenario_file(p)
    assert info.value.line == 3


def test_duplicate_ids_with_fixed_scenarios(tmp_path: Path) -> None:
    body = GOOD_HEAD.replace(
        "scenarios: []",
        """scenarios:
  - id: ok-1
    prompt: hi
    verifier: {type: number, value: 1}
    reference: "ANSWER: 1"
    counterexamples: ["ANSWER: 2", "1"]""",
    )
    with pytest.raises(PackError, match="duplicate scenario id 'ok-1'"):
        load_scenario_file(write(tmp_path, body))
