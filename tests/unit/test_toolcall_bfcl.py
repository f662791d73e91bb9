"""``match: bfcl`` of the toolcall verifier, one BFCL rule per test (the corpus test
holds it to the official checker at scale), and the default matcher's fixes."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.schema import AssistantTurn, Scenario, ToolCall
from pytest_llmbench.core.verifiers import _bfcl
from pytest_llmbench.core.verifiers.toolcall import ToolcallArgs


def tool(name: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


WEATHER = tool(
    "get_weather",
    {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "temp": {"type": "number"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    ["city"],
)


def scenario(verifier: dict[str, Any], tools: list[dict[str, Any]] | None = None) -> Scenario:
    return Scenario.model_validate(
        {
            "id": "t",
            "prompt": "q",
            "tools": tools or [WEATHER],
            "verifier": {"type": "toolcall", **verifier},
            "reference": "-",
            "counterexamples": ["-", "-"],
        }
    )


def calls(*pairs: tuple[str, Any]) -> AssistantTurn:
    return AssistantTurn(
        tool_calls=[ToolCall(name=n, arguments=a, id=f"c{i}") for i, (n, a) in enumerate(pairs)]
    )


def bfcl(args: dict[str, list[Any]], category: str = "simple", **extra: Any) -> Scenario:
    return scenario(
        {
            "match": "bfcl",
            "calls": [{"name": "get_weather", "args": args}],
            "bfcl": {"category": category, **extra},
        }
    )


def passes(sc: Scenario, answer: Any) -> bool:
    return check_answer(sc, None, answer).passed


@pytest.mark.parametrize(
    ("got", "ok"),
    [
        ("New York", True),
        ("new-york", True),  # spaces and , . / - _ * ^ are removed, case ignored
        ("NEW_YORK.", True),
        ("New York#", False),  # '#', '+', ':' are not removed
        ("New York:", False),
        ("Newark", False),
    ],
)
def test_strings_as_bfcl_normalises_them(got: str, ok: bool) -> None:
    sc = bfcl({"city": ["New York"]})
    assert passes(sc, calls(("get_weather", {"city": got}))) is ok


def test_c_sharp_is_not_c() -> None:
    sc = bfcl({"city": ["C#"]})
    assert passes(sc, calls(("get_weather", {"city": "c#"})))
    assert not passes(sc, calls(("get_weather", {"city": "C"})))
    # the default matcher's strip_punct keeps '#', '+' and ':' too
    default = scenario(
        {"calls": [{"name": "get_weather", "args": {"city": ["C#"]}}], "strip_punct": True}
    )
    assert passes(default, calls(("get_weather", {"city": "C#."})))
    assert not passes(default, calls(("get_weather", {"city": "C"})))


def test_list_items_and_dict_values_are_normalised() -> None:
    sc = bfcl({"city": ["x"], "tags": [["Rain Coat", "umbrella"]]})
    assert passes(sc, calls(("get_weather", {"city": "x", "tags": ["rain-coat", "UMBRELLA"]})))
    assert not passes(sc, calls(("get_weather", {"city": "x", "tags": ["umbrella", "raincoat"]})))


def test_integer_given_as_float_fails_float_accepts_int() -> None:
    sc = bfcl({"city": ["x"], "days": [5], "temp": [20.0]})
    assert passes(sc, calls(("get_weather", {"city": "x", "days": 5, "temp": 20})))
    assert not passes(sc, calls(("get_weather", {"city": "x", "days": 5.0, "temp": 20.0})))
    assert not passes(sc, calls(("get_weather", {"city": "x", "days": "5", "temp": 20.0})))
    assert not passes(sc, calls(("get_weather", {"city": "x", "days": True, "temp": 20.0})))


def test_empty_string_means_may_be_omitted() -> None:
    sc = bfcl({"city": ["x"], "days": ["", 3]})
    assert passes(sc, calls(("get_weather", {"city": "x"})))
    assert passes(sc, calls(("get_weather", {"city": "x", "days": 3})))
    assert not passes(sc, calls(("get_weather", {"city": "x", "days": 4})))
    strict = bfcl({"city": ["x"], "days": [3]})
    assert not passes(strict, calls(("get_weather", {"city": "x"})))


def test_enum_is_not_enforced_beyond_the_possible_answers() -> None:
    # BFCL checks the possible answers, not the schema's enum
    sc = bfcl({"city": ["x"], "unit": ["kelvin"]})
    assert passes(sc, calls(("get_weather", {"city": "x", "unit": "kelvin"})))


def test_unknown_parameter_and_missing_required_fail() -> None:
    sc = bfcl({"city": ["x"]})
    assert not passes(sc, calls(("get_weather", {"city": "x", "zz": 1})))
    assert not passes(sc, calls(("get_weather", {})))


def test_irrelevance_any_text_no_call() -> None:
    sc = scenario({"match": "bfcl", "calls": [], "bfcl": {"category": "irrelevance"}})
    assert passes(sc, "Sorry, none of my tools does that.")
    assert passes(sc, "")
    assert not passes(sc, calls(("get_weather", {"city": "x"})))
    # BFCL's decoder cannot read this call, so for BFCL no call was made
    assert passes(sc, calls(("get_weather", "{not json")))
    rel = scenario({"match": "bfcl", "calls": [], "bfcl": {"category": "live_relevance"}})
    assert passes(rel, calls(("get_weather", {})))
    assert not passes(rel, "text")


def test_abstain_in_the_default_matcher() -> None:
    sc = scenario({"calls": [], "abstain": True})
    assert passes(sc, "No tool fits.")
    assert not passes(sc, calls(("get_weather", {"city": "x"})))
    with pytest.raises(ValueError, match="final_contains"):
        ToolcallArgs.model_validate({"calls": []})


def test_parallel_pairing_is_greedy_like_bfcl() -> None:
    expected = [
        {"name": "get_weather", "args": {"city": ["a", "b"]}},
        {"name": "get_weather", "args": {"city": ["a"]}},
    ]
    answer = calls(("get_weather", {"city": "a"}), ("get_weather", {"city": "b"}))
    sc = scenario({"match": "bfcl", "calls": expected, "bfcl": {"category": "parallel"}})
    # BFCL pairs the first expected call with the first emitted one it accepts ("a"),
    # then finds nothing for the second: rejected, although a pairing exists
    assert not passes(sc, answer)
    assert passes(
        sc, calls(("get_weather", {"city": "b"}), ("get_weather", {"city": "a"}))
    )  # any order that greedy pairing can follow
    default = scenario({"calls": expected})
    assert passes(default, answer)  # the default matcher finds the pairing


def test_simple_category_wants_exactly_one_call() -> None:
    sc = bfcl({"city": ["x"]})
    assert not passes(sc, calls(("get_weather", {"city": "x"}), ("get_weather", {"city": "x"})))
    assert not passes(sc, "x")


def test_java_and_javascript_values_are_literals() -> None:
    props = {"n": {"type": "string"}, "xs": {"type": "string"}, "m": {"type": "string"}}
    java = scenario(
        {
            "match": "bfcl",
            "calls": [{"name": "f", "args": {"n": [42], "xs": [[1, 2]], "m": [{"k": ["v"]}]}}],
            "bfcl": {
                "category": "simple_java",
                "functions": {
                    "f": {
                        "required": ["n"],
                        "types": {"n": ["long"], "xs": ["ArrayList", "integer"], "m": ["HashMap"]},
                    }
                },
            },
        },
        [tool("f", props, ["n"])],
    )
    good = {
        "n": "42L",
        "xs": "new ArrayList<>(Arrays.asList(1, 2))",
        "m": 'new HashMap<String, String>() {{ put("k", "v"); }}',
    }
    assert passes(java, calls(("f", good)))
    assert not passes(java, calls(("f", {**good, "n": "42"})))  # a long needs its L
    assert not passes(java, calls(("f", {**good, "n": 42})))  # values are strings
    js = scenario(
        {
            "match": "bfcl",
            "calls": [{"name": "f", "args": {"n": [3.5], "xs": [["a", "b"]]}}],
            "bfcl": {
                "category": "simple_javascript",
                "functions": {
                    "f": {"required": ["n"], "types": {"n": ["float"], "xs": ["array", "String"]}}
                },
            },
        },
        [tool("f", props, ["n"])],
    )
    assert passes(js, calls(("f", {"n": "3.5", "xs": '["a", "b"]'})))
    assert not passes(js, calls(("f", {"n": "3.5", "xs": '["b", "a"]'})))


def test_types_come_from_the_schema_without_bfcl_functions() -> None:
    assert _bfcl.checker_for("live_parallel_multiple") == "parallel"
    assert _bfcl.checker_for("live_irrelevance") == "irrelevance"
    assert _bfcl.language_for("simple_javascript") == "javascript"
    sc = bfcl({"city": ["x"], "temp": [1.5]})
    assert passes(sc, calls(("get_weather", {"city": "x", "temp": 1.5})))
    assert not passes(sc, calls(("get_weather", {"city": "x", "temp": "1.5"})))


def test_bfcl_options_are_checked() -> None:
    def args(**kw: Any) -> ToolcallArgs:
        return ToolcallArgs.model_validate(kw)

    with pytest.raises(ValueError, match="takes 'calls: \\[\\]'"):
        args(match="bfcl", calls=[{"name": "f"}], bfcl={"category": "irrelevance"})
    with pytest.raises(ValueError, match="exactly one call"):
        args(match="bfcl", calls=[{"name": "f"}, {"name": "f"}], bfcl={"category": "simple"})
    with pytest.raises(ValueError, match="needs the expected calls"):
        args(match="bfcl", calls=[], bfcl={"category": "multiple"})
    with pytest.raises(ValueError, match="match: bfcl"):
        args(calls=[], abstain=True, bfcl={"category": "simple"})
    with pytest.raises(ValueError, match="not 'steps'"):
        args(match="bfcl", steps=[[{"name": "f"}]])
    # BFCL's possible answers are taken verbatim: a nested dict need not list options
    a = args(match="bfcl", calls=[{"name": "f", "args": {"d": [{"k": 1}]}}])
    assert a.bfcl_calls[0].args == {"d": [{"k": 1}]}


def test_hostile_shapes_fail_without_crashing() -> None:
    props = {"items": {"type": "array", "items": {"type": "object"}}}
    sc = scenario(
        {
            "match": "bfcl",
            "calls": [{"name": "f", "args": {"items": ["", [{"k": ["v"]}]]}}],
            "bfcl": {"functions": {"f": {"types": {"items": ["array", "dict"]}}}},
        },
        [tool("f", props, [])],
    )
    assert passes(sc, calls(("f", {"items": [{"k": "v"}]})))
    # "" among the possible answers skips BFCL's item type check: a string reaches
    # its dict comparison, where BFCL's checker raises
    v = check_answer(sc, None, calls(("f", {"items": ["x"]})))
    assert not v.passed and "raises" in v.detail
    deep = "[" * 100_000 + "]" * 100_000
    assert not passes(sc, calls(("f", '{"items": ' + deep + "}")))
