"""The toolcall pack (reference / counterexamples / junk) and the toolcall verifier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.output import Output
from pytest_llmbench.core.packs import load_pack
from pytest_llmbench.core.schema import AssistantTurn, Scenario, ToolCall, VerifierSpec
from pytest_llmbench.core.verifiers.base import Verdict, VerifierConfigError, build_verifier
from pytest_llmbench.core.verifiers.context import NO_CONTEXT

PACK_DIR = Path(__file__).resolve().parents[2] / "packs" / "toolcall"
PACK = load_pack(PACK_DIR)
IDS = [sc.id for sc in PACK.scenarios]
CE_CASES = [(sc.id, i) for sc in PACK.scenarios for i in range(len(sc.counterexamples))]


# --------------------------------------------------------------------------- the pack


def test_pack_shape() -> None:
    assert PACK.meta.id == "toolcall"
    assert PACK.meta.version == "1.0.0"
    assert len(PACK.scenarios) >= 30
    wanted = {
        "selection": 6,
        "precision": 6,
        "parallel": 4,
        "chain": 4,
        "restraint": 5,
        "recovery": 3,
        "escaping": 2,
    }
    for tag, n in wanted.items():
        got = sum(tag in sc.tags for sc in PACK.scenarios)
        assert got >= n, f"{tag}: {got} scenarios, wanted >= {n}"
    for sc in PACK.scenarios:
        assert sc.verifier.type == "toolcall"
        if "chain" in sc.tags or "recovery" in sc.tags:
            assert sc.mock_tools and isinstance(sc.reference, list)
        if "recovery" in sc.tags:
            first = [e for entries in sc.mock_tools.values() for e in entries][0]  # type: ignore[union-attr]
            assert first.error and first.once


# --------------------------------------------------------------------------- helpers

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "number"},
            },
            "required": ["city"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "filters": {
                    "type": "object",
                    "properties": {
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "price": {"type": "object"},
                    },
                },
            },
            "required": ["query"],
        },
    },
}
PING = {"type": "function", "function": {"name": "ping", "parameters": {"type": "object"}}}


def scenario(
    prompt: str = "Weather please.",
    tools: list[dict[str, Any]] | None = None,
    mock_tools: dict[str, Any] | None = None,
    **args: Any,
) -> Scenario:
    return Scenario(
        id="t",
        prompt=prompt,
        tools=tools if tools is not None else [WEATHER, SEARCH, PING],
        mock_tools=mock_tools,
        verifier=VerifierSpec(type="toolcall", **args),
        reference="x",
        counterexamples=["a", "b"],
    )


def run(sc: Scenario, *turns: AssistantTurn) -> Verdict:
    return build_verifier(sc.verifier, sc, None).check(Output.from_turns(list(turns)), NO_CONTEXT)


def call(name: str, arguments: dict[str, Any] | str) -> ToolCall:
    return ToolCall(name=name, arguments=arguments)


def calls(*cs: ToolCall, finish: str | None = None) -> AssistantTurn:
    return AssistantTurn(content=None, tool_calls=list(cs), finish_reason=finish)


def text(t: str) -> AssistantTurn:
    return AssistantTurn(content=t)


PARIS = [{"name": "get_weather", "args": {"city": ["Paris", "paris"], "unit": ["celsius", None]}}]


# --------------------------------------------------------------------------- values


def test_readable_wrong_value_check() -> None:
    sc = scenario(calls=[{"name": "get_weather", "args": {"city": ["Paris"]}}])
    v = run(sc, calls(call("get_weather", {"city": "Lyon"})))
    assert not v.passed and v.category == "wrong_value"
    assert "[FAIL] call 1 get_weather.city: found 'Lyon', wanted one of ['Paris']" in v.trace()
    assert v.data["calls"][0]["status"] == "wrong_value"


def test_optional_null_and_flag() -> None:
    sc = scenario(calls=PARIS)
    assert run(sc, calls(call("get_weather", {"city": "Paris"}))).passed
    assert run(sc, calls(call("get_weather", {"city": "Paris", "unit": None}))).passed
    assert run(sc, calls(call("get_weather", {"city": "Paris", "unit": "celsius"}))).passed
    v = run(sc, calls(call("get_weather", {"city": "Paris", "unit": "fahrenheit"})))
    assert not v.passed and "or omitted" in v.detail
    spec = {
        "name": "get_weather",
        "args": {"city": ["Paris"], "unit": ["celsius"]},
        "optional": ["unit"],
    }
    flagged = scenario(calls=[spec])
    assert run(flagged, calls(call("get_weather", {"city": "Paris"}))).passed


def test_missing_required_param_is_empty_object() -> None:
    sc = scenario(calls=[{"name": "get_weather", "args": {"city": ["Paris"], "unit": ["celsius"]}}])
    v = run(sc, calls(call("get_weather", {"city": "Paris"})))
    assert not v.passed and v.category == "empty_object"
    assert "found missing" in v.detail


def test_numbers_int_for_float_and_type_strictness() -> None:
    sc = scenario(calls=[{"name": "get_weather", "args": {"city": ["Oslo"], "days": [3.0]}}])
    assert run(sc, calls(call("get_weather", {"city": "Oslo", "days": 3}))).passed
    sc2 = scenario(calls=[{"name": "get_weather", "args": {"city": ["Oslo"], "days": [3]}}])
    assert run(sc2, calls(call("get_weather", {"city": "Oslo", "days": 3.0}))).passed
    assert not run(sc2, calls(call("get_weather", {"city": "Oslo", "days": 3.5}))).passed
    v = run(sc2, calls(call("get_weather", {"city": "Oslo", "days": "3"})))
    assert not v.passed and v.category == "schema_violation"
    v = run(sc2, calls(call("get_weather", {"city": "Oslo", "days": True})))
    assert not v.passed


def test_string_normalisation_options() -> None:
    sc = scenario(calls=[{"name": "search", "args": {"query": ["New York pizza"]}}])
    assert run(sc, calls(call("search", {"query": "  new york PIZZA "}))).passed
    assert not run(sc, calls(call("search", {"query": "new  york pizza"}))).passed
    assert not run(sc, calls(call("search", {"query": "New York pizza!"}))).passed
    loose = scenario(
        collapse_ws=True,
        strip_punct=True,
        calls=[{"name": "search", "args": {"query": ["New York pizza"]}}],
    )
    assert run(loose, calls(call("search", {"query": "new  york pizza!"}))).passed
    exact = scenario(
        ignore_case=False,
        trim=False,
        calls=[{"name": "search", "args": {"query": ["New York pizza"]}}],
    )
    assert not run(exact, calls(call("search", {"query": "new york pizza"}))).passed
    assert not run(exact, calls(call("search", {"query": "New York pizza "}))).passed


def test_nested_objects_and_arrays() -> None:
    spec = [
        {
            "name": "search",
            "args": {
                "query": ["hotels"],
                "filters": [
                    {
                        "tags": [["pool", "wifi"]],
                        "price": [{"max": [100], "currency": ["EUR", None]}],
                    }
                ],
            },
        }
    ]
    sc = scenario(calls=spec)
    good = {"query": "hotels", "filters": {"tags": ["POOL", "wifi"], "price": {"max": 100.0}}}
    assert run(sc, calls(call("search", good))).passed
    swapped = {"query": "hotels", "filters": {"tags": ["wifi", "pool"], "price": {"max": 100}}}
    assert not run(sc, calls(call("search", swapped))).passed
    assert run(scenario(calls=spec, unordered_arrays=True), calls(call("search", swapped))).passed
    deep = {"query": "hotels", "filters": {"tags": ["pool", "wifi"], "price": {"max": 120}}}
    v = run(sc, calls(call("search", deep)))
    assert not v.passed
    assert "call 1 search.filters.price.max: found 120, wanted one of [100]" in v.detail
    extra = {
        "query": "hotels",
        "filters": {"tags": ["pool", "wifi"], "price": {"max": 100, "min": 10}},
    }
    v = run(sc, calls(call("search", extra)))
    assert not v.passed and "filters.price.min" in v.detail
    collapsed = {"query": "hotels", "filters": {}}
    v = run(sc, calls(call("search", collapsed)))
    assert not v.passed and v.category == "empty_object"
    no_tags = {"query": "hotels", "filters": {"tags": [], "price": {"max": 100}}}
    v = run(sc, calls(call("search", no_tags)))
    assert v.category == "empty_object"


def test_extra_argument_fails_unless_allowed() -> None:
    v = run(scenario(calls=PARIS), calls(call("get_weather", {"city": "Paris", "days": 2})))
    assert not v.passed and "get_weather.days: found 2, wanted no such argument" in v.detail
    ok = scenario(calls=PARIS, allow_extra_args=True)
    assert run(ok, calls(call("get_weather", {"city": "Paris", "days": 2}))).passed


# --------------------------------------------------------------------------- call structure


def test_parallel_any_order_missing_and_extra() -> None:
    spec = [{"name": "get_weather", "args": {"city": [c]}} for c in ("Tokyo", "Oslo", "Lima")]
    sc = scenario(calls=spec)
    tokyo, oslo, lima = (call("get_weather", {"city": c}) for c in ("Tokyo", "Oslo", "Lima"))
    assert run(sc, calls(lima, tokyo, oslo)).passed
    v = run(sc, calls(lima, tokyo))
    assert not v.passed and v.category == "not_emitted" and "found no call" in v.detail
    v = run(sc, calls(lima, tokyo, oslo, call("get_weather", {"city": "Oslo"})))
    assert not v.passed and v.category == "unexpected_call"
    assert [c["status"] for c in v.data["calls"]].count("ok") == 3


def test_wrong_tool() -> None:
    v = run(scenario(calls=PARIS), calls(call("search", {"query": "Paris weather"})))
    assert not v.passed and v.category == "wrong_tool"
    assert "call 1 tool: found 'search', wanted 'get_weather'" in v.detail


def test_calls_checked_across_all_turns() -> None:
    sc = scenario(calls=PARIS)
    v = run(sc, text("Let me check."), calls(call("get_weather", {"city": "Paris"})))
    assert v.passed, v.detail
    v = run(sc, calls(call("get_weather", {"city": "Paris"})), calls(call("ping", {})))
    assert not v.passed and v.category == "unexpected_call"


def test_ordered_steps_and_new_turn_rule() -> None:
    steps = [
        [{"name": "search", "args": {"query": ["flights"]}}],
        [{"name": "get_weather", "args": {"city": ["Rome"]}}],
    ]
    sc = scenario(steps=steps)
    s, w = call("search", {"query": "flights"}), call("get_weather", {"city": "Rome"})
    assert run(sc, calls(s), calls(w), text("done")).passed
    assert not run(sc, calls(w), calls(s)).passed
    v = run(sc, calls(s, w))
    assert not v.passed and v.category == "wrong_order"
    assert run(scenario(steps=steps, steps_need_new_turn=False), calls(s, w)).passed
    strict = scenario(order="strict", calls=[steps[0][0], steps[1][0]])
    assert run(strict, calls(s), calls(w)).passed
    assert not run(strict, calls(w), calls(s)).passed


def test_no_argument_tool() -> None:
    sc = scenario(calls=[{"name": "ping"}])
    assert run(sc, calls(call("ping", {}))).passed
    assert run(sc, calls(call("ping", ""))).passed
    assert not run(sc, calls(call("ping", {"value": "x", "n": 3}))).passed


# --------------------------------------------------------------------------- JSON failures


def test_invalid_json_arguments() -> None:
    sc = scenario(calls=PARIS)
    v = run(sc, calls(call("get_weather", '{"city": "Paris",}')))
    assert not v.passed and v.category == "invalid_json"
    v = run(sc, calls(call("get_weather", '["Paris"]')))
    assert not v.passed and v.category == "invalid_json" and "not an object" in v.detail
    assert run(sc, calls(call("get_weather", '{"city": "Paris"}'))).passed


def test_truncated_arguments_and_finish_reason() -> None:
    sc = scenario(calls=PARIS)
    v = run(sc, calls(call("get_weather", '{"city": "Par')))
    assert not v.passed and v.category == "truncated"
    v = run(sc, calls(call("get_weather", {"city": "Paris"}), finish="length"))
    assert not v.passed and v.category == "truncated"


def test_escaped_and_unicode_arguments() -> None:
    want = 'Tab\there "q" \\ \u2615 caf\u00e9'
    sc = scenario(
        ignore_case=False, trim=False, calls=[{"name": "search", "args": {"query": [want]}}]
    )
    raw = '{"query": "Tab\\there \\"q\\" \\\\ \\u2615 caf\\u00e9"}'
    assert run(sc, calls(call("search", raw))).passed
    over = '{"query": "Tab\\\\there \\"q\\" \\\\ \\u2615 caf\\u00e9"}'
    assert not run(sc, calls(call("search", over))).passed


def test_schema_violation() -> None:
    sc = scenario(calls=[{"name": "get_weather", "args": {"city": ["Paris"], "unit": ["celsius"]}}])
    v = run(sc, calls(call("get_weather", {"city": "Paris", "unit": "kelvin"})))
    assert not v.passed and v.category == "schema_violation"
    assert "is not one of" in v.detail
    off = scenario(
        validate_schema=False,
        calls=[{"name": "get_weather", "args": {"city": ["Paris"], "days": ["3"]}}],
    )
    assert run(off, calls(call("get_weather", {"city": "Paris", "days": "3"}))).passed


# --------------------------------------------------------------------------- text and restraint


def test_restraint_direct_answer() -> None:
    sc = scenario(prompt="What is 6 times 7?", calls=[], final_contains=["42"])
    assert run(sc, text("6 x 7 = 42")).passed
    assert not run(sc, text("41")).passed
    v = run(sc, AssistantTurn(content="42", tool_calls=[call("search", {"query": "6*7"})]))
    assert not v.passed and v.category == "unexpected_call"
    refusal = "I'm sorry, but I can't help with that request."
    for junk in ("", "   ", ".", "What is 6 times 7?", refusal):
        assert not run(sc, text(junk)).passed, junk
    assert not run(sc).passed  # no turns at all


def test_restraint_ask_needs_question_and_new_keyword() -> None:
    sc = scenario(
        prompt="Book me a table for two.", calls=[], ask=True, final_contains=[["time", "when"]]
    )
    assert run(sc, text("Sure - what time should I book it for?")).passed
    v = run(sc, text("I'll book it at a good time."))
    assert not v.passed and v.category == "text_check" and "no '?'" in v.detail
    assert not run(sc, text("Which restaurant?")).passed
    assert not run(sc, text("Book me a table for two.")).passed
    bad = scenario(prompt="What time works?", calls=[], ask=True, final_contains=["time"])
    v = run(bad, text("What time?"))
    assert not v.passed and v.category == "config"


def test_final_contains_alternatives_and_not_contains() -> None:
    sc = scenario(calls=PARIS, final_contains=[["12 °C", "12°C"]], final_not_contains=["snow"])
    w = calls(call("get_weather", {"city": "Paris"}))
    assert run(sc, w, text("It is 12°C and cloudy.")).passed
    v = run(sc, w, text("It is 13°C."))
    assert not v.passed and v.category == "text_check"
    assert "final text mentions: found 'It is 13°C.'" in v.detail
    assert not run(sc, w, text("It is 12°C with snow.")).passed


# --------------------------------------------------------------------------- recovery


def _recovery_scenario(**args: Any) -> Scenario:
    mock = {
        "get_weather": [
            {"error": True, "once": True, "result": "city is ambiguous; add a country"},
            {"when": {"city": "Paris, FR"}, "result": {"temp_c": 17}},
        ]
    }
    expected = [{"name": "get_weather", "args": {"city": ["Paris, FR"]}}]
    return scenario(mock_tools=mock, calls=expected, final_contains=["17"], **args)


def _exchange(sc: Scenario, *turns: AssistantTurn) -> Verdict:
    return check_answer(sc, None, list(turns))


def test_failed_attempt_then_retry() -> None:
    sc = _recovery_scenario(max_failed_attempts=1)
    first = calls(call("get_weather", {"city": "Paris"}))
    retry = calls(call("get_weather", {"city": "Paris, FR"}))
    v = _exchange(sc, first, retry, text("It is 17 °C in Paris."))
    assert v.passed, v.detail
    assert v.data["calls"][0]["status"] == "failed_attempt"
    # same failing call again: uses up the budget and is compared as the real call
    v = _exchange(sc, first, first, text("It is 17 °C."))
    assert not v.passed and v.category == "wrong_value"
    assert "repeats call 1" in v.data["calls"][1]["detail"]
    # giving up after the error
    v = _exchange(sc, first, text("Sorry, the weather service failed."))
    assert not v.passed and v.category == "not_emitted"


def test_failed_attempt_counts_without_budget() -> None:
    sc = _recovery_scenario()
    v = _exchange(
        sc,
        calls(call("get_weather", {"city": "Paris"})),
        calls(call("get_weather", {"city": "Paris, FR"})),
        text("17 degrees."),
    )
    assert not v.passed


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "args",
    [
        {"calls": [{"name": "get_weather", "args": {"city": "Paris"}}]},
        {"calls": [{"name": "get_weather", "args": {"city": []}}]},
        {"calls": [], "steps": [[{"name": "ping"}]]},
        {},
        {"calls": []},
        {"steps": [[]]},
        {"calls": [], "final_contains": [""]},
        {"calls": [], "final_contains": ["x"], "bogus": 1},
        {"calls": [{"name": "search", "args": {"filters": [{"price": 3}]}}]},
        {"calls": [{"name": "ping", "optional": ["nope"]}]},
    ],
)
def test_bad_arguments_rejected(args: dict[str, Any]) -> None:
    sc = scenario(**args)
    with pytest.raises(VerifierConfigError):
        build_verifier(sc.verifier, sc, None)


def test_unknown_expected_tool_is_config_error() -> None:
    v = run(
        scenario(calls=[{"name": "teleport", "args": {"to": ["Mars"]}}]),
        calls(call("teleport", {"to": "Mars"})),
    )
    assert not v.passed and v.category == "config"
