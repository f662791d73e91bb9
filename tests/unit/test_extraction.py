"""The `fields` extraction verifier and the `dataextract` pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.output import Output
from pytest_llmbench.core.packs import load_pack
from pytest_llmbench.core.schema import AssistantTurn, PackMeta, Scenario, ToolCall, VerifierSpec
from pytest_llmbench.core.verifiers.base import Verdict, VerifierConfigError, build_verifier
from pytest_llmbench.core.verifiers.context import NO_CONTEXT
from pytest_llmbench.core.verifiers.extraction import (
    currency_codes,
    parse_amount,
    parse_date,
    parse_time,
)

PACK_DIR = Path(__file__).resolve().parents[2] / "packs" / "dataextract"
PACK = load_pack(PACK_DIR)
IDS = [sc.id for sc in PACK.scenarios]
CE_CASES = [(sc.id, i) for sc in PACK.scenarios for i in range(len(sc.counterexamples))]


# --- the pack ----------------------------------------------------------------------------


def test_pack_meta_and_size() -> None:
    meta = PACK.meta
    assert meta.id == "dataextract"
    assert meta.version == "1.0.0"
    assert meta.pass_threshold == 0.85
    assert meta.summary_metrics == ["fields"]
    assert meta.generation.temperature == 0
    assert len(PACK.scenarios) >= 20
    for sc in PACK.scenarios:
        assert sc.verifier.type == "fields"
        assert 5 <= len(sc.verifier.args["fields"]) <= 10, sc.id


def test_pack_has_traps() -> None:
    tags = {t for sc in PACK.scenarios for t in sc.tags}
    assert {"null_field", "distractor", "date_formats", "thousands_separator"} <= tags
    nulls = [
        sc.id
        for sc in PACK.scenarios
        if any(
            isinstance(v, dict) and v.get("value", 0) is None
            for v in sc.verifier.args["fields"].values()
        )
    ]
    assert len(nulls) >= 8


# --- helpers to run the verifier on hand-made answers -------------------------------------

META = PackMeta(id="t", title="t", version="1", pass_threshold=0.85)


def run(fields: dict[str, Any], answer: str | AssistantTurn, **args: Any) -> Verdict:
    spec = {"type": "fields", "fields": fields, **args}
    sc = Scenario(
        id="t",
        prompt="p",
        verifier=VerifierSpec.model_validate(spec),
        reference="r",
        counterexamples=["a", "b"],
    )
    verifier = build_verifier(sc.verifier, sc, META)
    turn = answer if isinstance(answer, AssistantTurn) else AssistantTurn(content=answer)
    return verifier.check(Output.from_turns([turn]), NO_CONTEXT)


def ok(fields: dict[str, Any], answer: Any, **args: Any) -> bool:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return run(fields, text, **args).passed


INVOICE = {
    "invoice_number": {"value": "INV-7", "type": "code"},
    "buyer.name": "ACME GmbH",
    "date": {"value": "2024-03-05", "type": "date"},
    "items.0.qty": 3,
    "total": {"value": 1243.0, "type": "number", "tol": 0.01},
    "currency": {"value": "EUR", "type": "currency"},
    "po": {"value": None},
    "tags": {"value": ["a", "b"], "type": "set"},
}
GOOD = {
    "invoice_number": "INV-7",
    "buyer": {"name": "Acme GmbH."},
    "date": "5 March 2024",
    "items": [{"qty": 3}],
    "total": "€1,243.00",
    "currency": "€",
    "po": None,
    "tags": ["b", "a"],
}


# --- verifier features -------------------------------------------------------------------


def test_good_answer_scores_all_fields() -> None:
    v = run(INVOICE, json.dumps(GOOD))
    assert v.passed and v.score == 1.0
    assert v.metrics == {"fields": [8, 8]}


def test_trace_reads_like_a_test_failure() -> None:
    bad = dict(GOOD, total=1234.0)
    v = run(INVOICE, json.dumps(bad))
    assert "[FAIL] total: found 1234.0, wanted 1243.0 ± 0.01" in v.trace()
    assert v.metrics == {"fields": [7, 8]}
    assert v.passed  # 7/8 = 0.875 >= 0.85


def test_two_wrong_of_eight_fails_threshold() -> None:
    bad = dict(GOOD, total=1234.0, date="2024-05-03")
    v = run(INVOICE, json.dumps(bad))
    assert not v.passed
    assert v.score == pytest.approx(0.75)
    assert v.category == "wrong_fields"
    assert "date: found 2024-05-03, wanted 2024-03-05" in v.detail


def test_missing_nested_object_counts_each_field() -> None:
    bad = {k: val for k, val in GOOD.items() if k != "buyer"}
    v = run(INVOICE, json.dumps(bad))
    assert "[FAIL] buyer.name: found absent, wanted 'ACME GmbH'" in v.trace()


def test_code_fence_is_tolerated_in_strict_mode() -> None:
    assert ok(INVOICE, "```json\n" + json.dumps(GOOD) + "\n```")


def test_prose_only_allowed_when_not_strict() -> None:
    text = "Here is the data:\n" + json.dumps(GOOD) + "\nHope this helps."
    v = run(INVOICE, text)
    assert not v.passed and v.score == 0.0
    assert v.category == "invalid_json"
    assert v.metrics == {"fields": [0, 8]}
    assert ok(INVOICE, text, strict=False)
    fenced = "Sure.\n```json\n" + json.dumps(GOOD) + "\n```\nDone."
    assert ok(INVOICE, fenced, strict=False)


@pytest.mark.parametrize(
    "answer", ["", "   \n", ".", "[1, 2]", '"text"', "null", "I'm sorry, I can't.", "{not json"]
)
def test_non_object_answers_score_zero(answer: str) -> None:
    # a null-expected field must not earn credit when there is no object at all
    v = run(INVOICE, answer, strict=False)
    assert not v.passed and v.score == 0.0
    assert v.metrics["fields"] == [0, 8]


def test_random_object_scores_zero_even_with_null_fields() -> None:
    v = run(INVOICE, json.dumps({"alpha": 3, "beta": 7, "list": [0.1, 0.2]}))
    assert v.score == 0.0 and v.metrics == {"fields": [0, 8]}
    assert any("po: found absent (answer has none" in line for line in v.trace())


def test_empty_object_scores_zero() -> None:
    assert run(INVOICE, "{}").score == 0.0


def test_tool_call_only_answer_fails() -> None:
    turn = AssistantTurn(content=None, tool_calls=[ToolCall(name="search", arguments=GOOD)])
    v = run(INVOICE, turn)
    assert not v.passed and v.score == 0.0


def test_thinking_is_ignored() -> None:
    text = "<think>the total is 1234? no, 1243</think>" + json.dumps(GOOD)
    assert ok(INVOICE, text)


def test_null_field_present_with_value_is_wrong() -> None:
    fields = {"a": 1, "b": 2, "c": {"value": None}}
    assert ok(fields, {"a": 1, "b": 2})
    assert ok(fields, {"a": 1, "b": 2, "c": None})
    v = run(fields, json.dumps({"a": 1, "b": 2, "c": "N/A"}))
    assert "[FAIL] c: found 'N/A', wanted null or absent" in v.trace()
    assert not v.passed


def test_non_null_field_given_null_is_wrong() -> None:
    v = run({"a": 1, "b": "x"}, json.dumps({"a": None, "b": "x"}))
    assert "[FAIL] a: found null, wanted 1.0" in v.trace()


# --- normalisers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decimal", "want"),
    [
        ("1,234.50", "point", 1234.5),
        ("1.234,50", "point", 1234.5),
        ("$1,234.50", "point", 1234.5),
        ("€1.234,50", "point", 1234.5),
        ("1 234,50 EUR", "point", 1234.5),
        ("CHF 48'250.00", "point", 48250.0),
        ("USD 99", "point", 99.0),
        ("12,5", "point", 12.5),
        ("1,234", "point", 1234.0),
        ("1,234", "comma", 1.234),
        ("1.234", "comma", 1234.0),
        ("1.234.567", "point", 1234567.0),
        ("-3.5", "point", -3.5),
        (1243, "point", 1243.0),
        (12.5, "point", 12.5),
    ],
)
def test_parse_amount(raw: Any, decimal: Any, want: float) -> None:
    assert parse_amount(raw, decimal) == pytest.approx(want)


@pytest.mark.parametrize("raw", ["abc", "12 34", "1,23,4", "", True, None, [1], "12 kg apples"])
def test_parse_amount_rejects(raw: Any) -> None:
    assert parse_amount(raw) is None


def test_decimal_comma_option() -> None:
    fields = {"w": 1.5, "x": "X"}
    assert not ok(fields, {"w": "1,500", "x": "X"})  # read as 1500 by default
    assert ok(fields, {"w": "1,500", "x": "X"}, decimal="comma")
    assert ok({"w": {"value": 1.5, "decimal": "comma"}, "x": "X"}, {"w": "1,500", "x": "X"})


def test_number_tolerance_and_bool() -> None:
    fields = {"t": {"value": 10.0, "type": "number", "tol": 0.01}, "x": "X"}
    assert ok(fields, {"t": 10.009, "x": "X"})
    assert not ok(fields, {"t": 10.02, "x": "X"})
    assert not ok({"n": 1, "x": "X"}, {"n": True, "x": "X"})


@pytest.mark.parametrize(
    ("raw", "order", "want"),
    [
        ("2024-03-05", None, "2024-03-05"),
        ("2024-03-05T10:00:00Z", None, "2024-03-05"),
        ("5 March 2024", None, "2024-03-05"),
        ("5th of March, 2024", None, "2024-03-05"),
        ("Tuesday, 5 March 2024", None, "2024-03-05"),
        ("March 5, 2024", None, "2024-03-05"),
        ("Mar. 5 2024", None, "2024-03-05"),
        ("05/03/2024", "dmy", "2024-03-05"),
        ("03/05/2024", "mdy", "2024-03-05"),
        ("05.03.2024", "dmy", "2024-03-05"),
        ("25/03/2024", None, "2024-03-25"),
        ("03/25/2024", "dmy", "2024-03-25"),  # only one reading is a real date
    ],
)
def test_parse_date(raw: str, order: Any, want: str) -> None:
    got, why = parse_date(raw, order)
    assert got is not None, why
    assert got.isoformat() == want


@pytest.mark.parametrize("raw", ["05/03/2024", "5/3/24", "next Tuesday", "2024-02-30", 20240305])
def test_parse_date_rejects(raw: Any) -> None:
    assert parse_date(raw)[0] is None


def test_date_order_rule() -> None:
    fields = {"d": {"value": "2024-03-05", "type": "date"}, "x": "X"}
    v = run(fields, json.dumps({"d": "05/03/2024", "x": "X"}))
    assert "ambiguous day/month" in v.detail
    assert ok(fields, {"d": "05/03/2024", "x": "X"}, date_order="dmy")
    assert not ok(fields, {"d": "05/03/2024", "x": "X"}, date_order="mdy")
    swapped = run(fields, json.dumps({"d": "2024-05-03", "x": "X"}))
    assert "[FAIL] d: found 2024-05-03, wanted 2024-03-05" in swapped.trace()


def test_time_and_datetime() -> None:
    assert parse_time("2:30 PM") == (14, 30, 0)
    assert parse_time("14.30") == (14, 30, 0)
    assert parse_time("9:05 a.m.") == (9, 5, 0)
    assert parse_time("14") is None
    fields = {
        "t": {"value": "15:00", "type": "time"},
        "at": {"value": "2024-11-05T02:14:05.017Z", "type": "datetime"},
    }
    assert ok(fields, {"t": "3pm", "at": "2024-11-05T02:14:05.017+00:00"})
    assert ok(fields, {"t": "15:00:00", "at": "2024-11-05 02:14:05.017"})
    v = run(fields, json.dumps({"t": "15:00", "at": "2024-11-05T03:14:05.017+01:00"}))
    assert v.passed  # the same instant
    assert not ok(fields, {"t": "15:00", "at": "2024-11-05T02:14:05Z"})


def test_currency() -> None:
    assert currency_codes("€") == {"EUR"}
    assert currency_codes("$") == {"USD"}
    assert currency_codes("usd") == {"USD"}
    assert "JPY" in currency_codes("¥")
    fields = {"c": {"value": "EUR", "type": "currency"}, "x": "X"}
    for good in ("EUR", "eur", "€", "Euro"):
        assert ok(fields, {"c": good, "x": "X"}), good
    for bad in ("USD", "$", "E", ""):
        assert not ok(fields, {"c": bad, "x": "X"}), bad


def test_text_code_exact() -> None:
    fields = {"n": {"value": "ACME GmbH", "type": "text"}, "x": "X"}
    assert ok(fields, {"n": "  acme,  GMBH. ", "x": "X"})
    assert not ok(fields, {"n": "ACME AG", "x": "X"})
    code = {"c": {"value": "G12 8QQ", "type": "code"}, "x": "X"}
    assert ok(code, {"c": "g128qq", "x": "X"})
    assert not ok(code, {"c": "G12-8QQ", "x": "X"})
    exact = {"e": {"value": "Ab", "type": "exact"}, "x": "X"}
    assert ok(exact, {"e": " Ab ", "x": "X"})
    assert not ok(exact, {"e": "ab", "x": "X"})
    alts = {"n": {"value": "Keiko Tanaka", "alts": ["Ms. Keiko Tanaka"]}, "x": "X"}
    assert ok(alts, {"n": "Ms Keiko Tanaka", "x": "X"})


def test_set_and_list() -> None:
    fields = {"s": {"value": ["Go", "Python", 3], "type": "set"}, "x": "X"}
    assert ok(fields, {"s": ["python", "3", "go"], "x": "X"})
    v = run(fields, json.dumps({"s": ["Go", "Rust", 3], "x": "X"}))
    assert 'missing ["Python"], unexpected ["Rust"]' in v.detail
    assert not ok(fields, {"s": ["Go", "Python", 3, 3], "x": "X"})
    assert not ok(fields, {"s": "Go, Python, 3", "x": "X"})
    ordered = {"l": ["a", "b"], "x": "X"}
    assert ok(ordered, {"l": ["A", "b"], "x": "X"})
    assert not ok(ordered, {"l": ["b", "a"], "x": "X"})


def test_bool_field() -> None:
    fields = {"b": False, "x": "X"}
    assert ok(fields, {"b": False, "x": "X"})
    assert ok(fields, {"b": "no", "x": "X"})
    assert not ok(fields, {"b": 0, "x": "X"})
    assert not ok(fields, {"b": True, "x": "X"})


def test_nested_paths_and_indexes() -> None:
    fields = {"a.b.c": 1, "items.1.sku": {"value": "X-2", "type": "code"}}
    assert ok(fields, {"a": {"b": {"c": 1}}, "items": [{"sku": "X-1"}, {"sku": "x-2"}]})
    v = run(fields, json.dumps({"a": {"b": 1}, "items": [{"sku": "X-1"}]}))
    assert v.score == 0.0 and "absent" in v.detail


def test_threshold_comes_from_pack() -> None:
    fields = {f"f{i}": i for i in range(1, 11)}
    answer = {f"f{i}": i for i in range(1, 11)}
    answer["f1"] = 99
    assert run(fields, json.dumps(answer)).passed  # 0.9
    sc = Scenario(
        id="t",
        prompt="p",
        verifier=VerifierSpec.model_validate({"type": "fields", "fields": fields}),
        reference="r",
        counterexamples=["a", "b"],
    )
    strict_pack = PackMeta(id="t", title="t", version="1", pass_threshold=1.0)
    v = build_verifier(sc.verifier, sc, strict_pack).check(
        Output.from_turns([AssistantTurn(content=json.dumps(answer))]), NO_CONTEXT
    )
    assert not v.passed and v.score == pytest.approx(0.9)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"a": {"value": None}},
        {"a": {"value": "5 March 2024", "type": "date"}},
        {"a": {"value": "euro", "type": "currency"}},
        {"a": {"value": "abc", "type": "number"}},
        {"a": {"value": 1, "type": "bogus"}},
        {"a": {"value": 1, "unknown": True}},
        {"a": {"nested": 1}},
        {"a..b": 1},
        {"a": {"value": [], "type": "set"}},
        {"a": ""},
    ],
)
def test_bad_config_is_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(VerifierConfigError):
        run(fields, "{}")


def test_unquoted_yaml_date_is_accepted() -> None:
    import datetime as dt

    v = run({"d": dt.date(2024, 3, 5), "x": "X"}, json.dumps({"d": "March 5, 2024", "x": "X"}))
    assert v.passed
