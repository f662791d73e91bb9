"""Structured-output verifiers and the ``structoutput`` pack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.junk import REFUSAL
from pytest_llmbench.core.output import Output
from pytest_llmbench.core.packs import load_pack
from pytest_llmbench.core.schema import AssistantTurn, Scenario, VerifierSpec
from pytest_llmbench.core.verifiers.base import Verdict, VerifierConfigError, build_verifier
from pytest_llmbench.core.verifiers.context import NO_CONTEXT
from pytest_llmbench.core.verifiers.structure import resolve_path, values_equal

PACK_DIR = Path(__file__).resolve().parents[2] / "packs" / "structoutput"
PACK = load_pack(PACK_DIR)
IDS = [sc.id for sc in PACK.scenarios]
CE_CASES = [(sc.id, i) for sc in PACK.scenarios for i in range(len(sc.counterexamples))]


# --------------------------------------------------------------------------- the pack


def test_pack_meta_and_size() -> None:
    assert PACK.meta.id == "structoutput"
    assert PACK.meta.version == "1.0.0"
    assert PACK.meta.generation.temperature == 0
    assert len(PACK.scenarios) >= 20
    types = {sc.verifier.type for sc in PACK.scenarios}
    assert {"json_output", "yaml", "csv", "markdown_table", "xml"} <= types
    strict_json = [
        sc
        for sc in PACK.scenarios
        if sc.verifier.type == "json_output" and sc.verifier.args.get("strict", True)
    ]
    assert len(strict_json) >= 4


def test_json_scenarios_report_strict_and_loose_metrics() -> None:
    sc = PACK.scenario("json-order-lines")
    fenced = check_answer(sc, PACK.meta, sc.counterexamples[0])
    assert fenced.metrics == {"json_strict": [0.0, 1.0], "json_loose": [1.0, 1.0]}
    ref = check_answer(sc, PACK.meta, sc.reference)
    assert ref.metrics == {"json_strict": [1.0, 1.0], "json_loose": [1.0, 1.0]}


# --------------------------------------------------------------------------- helpers


def run(spec: dict[str, Any], text: str | None) -> Verdict:
    sc = Scenario(
        id="t", prompt="p", verifier=VerifierSpec(**spec), reference="r", counterexamples=["a", "b"]
    )
    v = build_verifier(sc.verifier, sc, None)
    return v.check(Output.from_turns([AssistantTurn(content=text)]), NO_CONTEXT)


def lines(v: Verdict) -> str:
    return "\n".join(v.trace())


def config_error(spec: dict[str, Any]) -> None:
    sc = Scenario(
        id="t", prompt="p", verifier=VerifierSpec(**spec), reference="r", counterexamples=["a", "b"]
    )
    with pytest.raises(VerifierConfigError):
        build_verifier(sc.verifier, sc, None)


JUNK_TEXTS = ["", "   \n ", ".", REFUSAL, '{"alpha": 1, "list": [0.5, 0.2]}', "[]", "{}"]

ITEMS_SCHEMA = {
    "type": "object",
    "required": ["items"],
    "additionalProperties": False,
    "properties": {
        "items": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {
                "type": "object",
                "required": ["sku", "price"],
                "properties": {
                    "sku": {"type": "string"},
                    "price": {"type": "number"},
                    "tier": {"enum": ["a", "b"]},
                },
            },
        }
    },
}
JSON_SPEC = {"type": "json_output", "schema": ITEMS_SCHEMA, "expect": {"items.0.sku": "A-1"}}
GOOD_JSON = '{"items": [{"sku": "A-1", "price": 3}, {"sku": "B-2", "price": 12.5}]}'


# --------------------------------------------------------------------------- json_output


def test_json_output_good() -> None:
    v = run(JSON_SPEC, GOOD_JSON)
    assert v.passed and v.score == 1.0
    assert v.metrics["json_strict"] == [1.0, 1.0]


def test_json_output_type_trace_reads_like_a_test_failure() -> None:
    v = run(JSON_SPEC, GOOD_JSON.replace("12.5", '"12"'))
    assert not v.passed
    assert "items.1.price: found '12', wanted number" in lines(v)
    assert v.category == "schema_violation"


def test_json_output_array_one_short() -> None:
    v = run(JSON_SPEC, '{"items": [{"sku": "A-1", "price": 3}]}')
    assert not v.passed
    assert "items length: found 1 item, wanted exactly 2 items" in lines(v)


def test_json_output_enum_and_missing_key() -> None:
    text = '{"items": [{"sku": "A-1", "price": 3, "tier": "c"}, {"price": 1}]}'
    v = run(JSON_SPEC, text)
    t = lines(v)
    assert "items.0.tier: found 'c', wanted one of 'a', 'b'" in t
    assert "items.1.sku: found missing, wanted present (required)" in t


def test_json_output_fence_fails_strict_but_counts_loose() -> None:
    v = run(JSON_SPEC, f"```json\n{GOOD_JSON}\n```")
    assert not v.passed
    assert v.category == "format_violation"
    assert v.metrics == {"json_strict": [0.0, 1.0], "json_loose": [1.0, 1.0]}
    assert "JSON only: found a ``` code fence" in lines(v)


def test_json_output_non_strict_accepts_fence_and_prose() -> None:
    spec = {**JSON_SPEC, "strict": False}
    assert run(spec, f"```json\n{GOOD_JSON}\n```").passed
    v = run(spec, f"Sure! Here it is:\n{GOOD_JSON}\nAnything else?")
    assert v.passed
    assert v.metrics["json_strict"] == [0.0, 1.0]
    assert "format_note" in v.data


@pytest.mark.parametrize(
    "text",
    [
        GOOD_JSON + " // done",
        GOOD_JSON + "\n/* note */",
        "Here is the JSON: " + GOOD_JSON,
        GOOD_JSON + "\nThanks!",
        GOOD_JSON + ",",
    ],
)
def test_json_output_strict_rejects_extra_text(text: str) -> None:
    v = run(JSON_SPEC, text)
    assert not v.passed
    assert v.metrics["json_loose"] == [1.0, 1.0]


def test_json_output_wrong_value_is_content_failure() -> None:
    v = run(JSON_SPEC, GOOD_JSON.replace("A-1", "A-2"))
    assert not v.passed and v.category == "wrong_content"
    assert "items.0.sku: found 'A-2', wanted 'A-1'" in lines(v)


def test_json_output_expect_only_and_ignore_case() -> None:
    spec = {"type": "json_output", "expect": {"city": "Galway"}, "ignore_case": True}
    assert run(spec, '{"city": "GALWAY"}').passed
    assert not run({**spec, "ignore_case": False}, '{"city": "GALWAY"}').passed


@pytest.mark.parametrize("text", JUNK_TEXTS)
def test_json_output_junk_fails(text: str) -> None:
    v = run(JSON_SPEC, text)
    assert not v.passed


def test_json_output_unparseable() -> None:
    v = run(JSON_SPEC, '{"items": [')
    assert not v.passed and v.category == "invalid_json"
    assert v.metrics["json_loose"] == [0.0, 1.0]


def test_json_output_config_errors() -> None:
    config_error({"type": "json_output"})
    config_error({"type": "json_output", "schema": {"type": "nope"}})
    config_error({"type": "json_output", "expect": {"a..b": 1}})
    config_error({"type": "json_output", "expect": {"a": 1}, "bogus": True})


def test_values_equal_and_paths() -> None:
    assert values_equal(12.0, 12)
    assert not values_equal(True, 1)
    assert not values_equal(1, True)
    assert not values_equal("12", 12)
    assert values_equal([1, {"a": None}], [1.0, {"a": None}])
    assert not values_equal([1, 2], [1])
    assert resolve_path({"a": [{"b": 5}]}, "a.0.b") == (True, 5)
    assert resolve_path({"a": [1, 2]}, "a.-1") == (True, 2)
    assert resolve_path({"a": [1]}, "a.3") == (False, None)
    assert resolve_path({"a": [1]}, "a.x") == (False, None)
    assert resolve_path({"a": 1}, "a.b") == (False, None)


# --------------------------------------------------------------------------- yaml

YAML_SPEC = {
    "type": "yaml",
    "root": "mapping",
    "schema": {
        "type": "object",
        "required": ["name", "when", "ports"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "when": {"type": "string"},
            "ports": {"type": "array", "minItems": 2, "maxItems": 2},
        },
    },
    "expect": {"name": "svc", "when": "2024-05-01", "ports.1": 9090},
}
GOOD_YAML = "name: svc\nwhen: 2024-05-01\nports:\n  - 8080\n  - 9090\n"


def test_yaml_good_and_dates_become_strings() -> None:
    v = run(YAML_SPEC, GOOD_YAML)
    assert v.passed, v.detail


def test_yaml_fence_strict_and_loose() -> None:
    v = run(YAML_SPEC, f"```yaml\n{GOOD_YAML}```")
    assert not v.passed and v.metrics["yaml_loose"] == [1.0, 1.0]
    assert run({**YAML_SPEC, "strict": False}, f"```yaml\n{GOOD_YAML}```").passed


def test_yaml_wrong_root_and_prose() -> None:
    v = run(YAML_SPEC, "- name: svc\n- when: 2024-05-01\n")
    assert "root: found list, wanted mapping" in lines(v)
    # prose before YAML becomes an extra key, which the schema catches
    assert not run(YAML_SPEC, "Here is the YAML:\n" + GOOD_YAML).passed


def test_yaml_parse_error() -> None:
    v = run(YAML_SPEC, "name: [svc\nports: 1\n")
    assert not v.passed and v.category == "invalid_yaml"


@pytest.mark.parametrize("text", JUNK_TEXTS)
def test_yaml_junk_fails(text: str) -> None:
    assert not run(YAML_SPEC, text).passed


def test_yaml_config_error() -> None:
    config_error({"type": "yaml", "root": "mapping"})
    config_error({"type": "yaml", "expect": {"a": 1}, "root": "dict"})


# --------------------------------------------------------------------------- csv

CSV_SPEC = {
    "type": "csv",
    "header": ["name", "qty", "day"],
    "rows": 5,
    "columns": {
        "qty": {"type": "int"},
        "day": {"type": "date"},
        "name": {"values": ["a", "b", "c", "d", "e"], "unique": True},
    },
    "cells": {"2.qty": 20, "5.name": "e"},
}
GOOD_CSV = (
    "name,qty,day\na,10,2024-01-01\nb,20,2024-01-02\nc,30,2024-01-03\n"
    "d,40,2024-01-04\ne,50,2024-01-05"
)


def test_csv_good() -> None:
    v = run(CSV_SPEC, GOOD_CSV)
    assert v.passed, v.detail


def test_csv_four_rows_for_five() -> None:
    v = run(CSV_SPEC, GOOD_CSV.rsplit("\n", 1)[0])
    assert not v.passed
    assert "rows: found 4, wanted 5" in lines(v)
    assert "cell 5.name: found no row 5, wanted 'e'" in lines(v)


def test_csv_column_rules() -> None:
    text = GOOD_CSV.replace("b,20,2024-01-02", "b,2x,2024-13-02").replace("d,40", "a,40")
    t = lines(run(CSV_SPEC, text))
    assert "column 'qty' type: found row 2: '2x', wanted int" in t
    assert "column 'day' type: found row 2: '2024-13-02', wanted date %Y-%m-%d" in t
    assert "column 'name' unique: found rows 1 and 4: 'a', wanted unique values" in t


def test_csv_strict_prose_fence_and_blank_lines() -> None:
    for text in (
        "Here you go:\n" + GOOD_CSV,
        GOOD_CSV + "\nHope this helps!",
        f"```csv\n{GOOD_CSV}\n```",
        GOOD_CSV.replace("\nc,", "\n\nc,"),
    ):
        v = run(CSV_SPEC, text)
        assert not v.passed, text
        assert v.metrics["csv_loose"] == [1.0, 1.0], lines(v)
        assert run({**CSV_SPEC, "strict": False}, text).passed


def test_csv_header_exact_and_ragged_rows() -> None:
    v = run(CSV_SPEC, GOOD_CSV.replace("name,qty,day", "Name,qty,day"))
    assert not v.passed and "header: found" in lines(v)
    v = run(CSV_SPEC, GOOD_CSV.replace("c,30,2024-01-03", "c,30"))
    assert "fields per row: found row 3 has 2, wanted 3" in lines(v)


def test_csv_quotes_and_delimiter() -> None:
    spec = {
        "type": "csv",
        "header": ["city", "note"],
        "rows": 2,
        "delimiter": ";",
        "cells": {"1.note": "big; old", "2.city": "Oslo"},
    }
    assert run(spec, 'city;note\nRome;"big; old"\nOslo;cold').passed
    assert not run(spec, "city,note\nRome,big\nOslo,cold").passed


def test_csv_contains_rows() -> None:
    spec = {"type": "csv", "header": ["k", "v"], "contains_rows": [{"k": "x", "v": 2}]}
    assert run(spec, "k,v\ny,1\nx,2.0").passed
    assert "row with k='x', v=2: found none" in lines(run(spec, "k,v\nx,1\ny,2"))


@pytest.mark.parametrize("text", JUNK_TEXTS + ["name,qty,day"])
def test_csv_junk_fails(text: str) -> None:
    assert not run(CSV_SPEC, text).passed


def test_csv_config_errors() -> None:
    config_error({"type": "csv", "header": []})
    config_error({"type": "csv", "header": ["a"], "cells": {"1.b": 1}})
    config_error({"type": "csv", "header": ["a"], "rows": 2, "cells": {"3.a": 1}})
    config_error({"type": "csv", "header": ["a"], "columns": {"b": {"type": "int"}}})
    config_error({"type": "csv", "header": ["a", "a"]})
    config_error({"type": "csv", "header": ["a"], "columns": {"a": {"pattern": "("}}})


# --------------------------------------------------------------------------- markdown

MD_SPEC = {
    "type": "markdown_table",
    "header": ["City", "Pop"],
    "rows": 2,
    "columns": {"Pop": {"type": "int"}},
    "cells": {"1.City": "Oslo", "2.Pop": 700},
}
GOOD_MD = "| City | Pop |\n|:---|---:|\n| Oslo | 500 |\n| Bergen | 700 |"


def test_markdown_good_with_prose_and_markup() -> None:
    assert run(MD_SPEC, GOOD_MD).passed
    text = "Here:\n\n" + GOOD_MD.replace("Oslo", "**Oslo**") + "\n\nDone."
    v = run(MD_SPEC, text)
    assert v.passed, v.detail
    assert v.metrics["md_table_strict"] == [0.0, 1.0]
    assert not run({**MD_SPEC, "strict": True}, text).passed


def test_markdown_without_outer_pipes() -> None:
    assert run(MD_SPEC, "City | Pop\n--- | ---\nOslo | 500\nBergen | 700").passed


def test_markdown_missing_separator() -> None:
    v = run(MD_SPEC, "| City | Pop |\n| Oslo | 500 |\n| Bergen | 700 |")
    assert not v.passed
    assert "separator row: found '| Oslo | 500 |'" in lines(v)


def test_markdown_separator_width_and_rows() -> None:
    v = run(MD_SPEC, "| City | Pop |\n|---|\n| Oslo | 500 |\n| Bergen | 700 |")
    assert "separator row: found 1 cells, wanted 2 cells" in lines(v)
    v = run(MD_SPEC, "| City | Pop |\n|---|---|\n| Oslo | 500 |")
    assert "rows: found 1, wanted 2" in lines(v)


def test_markdown_escaped_pipe() -> None:
    spec = {"type": "markdown_table", "header": ["expr", "n"], "cells": {"1.expr": "a|b"}}
    assert run(spec, "| expr | n |\n|---|---|\n| a\\|b | 1 |").passed


def test_markdown_picks_table_with_required_header() -> None:
    other = "| x | y |\n|---|---|\n| 1 | 2 |\n\n"
    assert run(MD_SPEC, other + GOOD_MD).passed


@pytest.mark.parametrize("text", JUNK_TEXTS + ["| City | Pop |", "a | b"])
def test_markdown_junk_fails(text: str) -> None:
    assert not run(MD_SPEC, text).passed


# --------------------------------------------------------------------------- xml

XML_SPEC = {
    "type": "xml",
    "root": "order",
    "count": {"item": 2},
    "require": ["customer"],
    "attrs": {"item": ["sku"]},
    "expect": {"@id": "7", "item[2]/name": "Bolt", "item[1]/@sku": "A-1"},
}
GOOD_XML = (
    '<order id="7"><customer>X</customer><item sku="A-1"><name>Nut</name></item>'
    '<item sku="B"><name>Bolt</name></item></order>'
)


def test_xml_good_with_declaration_and_namespace() -> None:
    assert run(XML_SPEC, GOOD_XML).passed
    assert run(XML_SPEC, '<?xml version="1.0" encoding="UTF-8"?>\n' + GOOD_XML).passed
    ns = GOOD_XML.replace('<order id="7">', '<order xmlns="urn:x" id="7">')
    assert run(XML_SPEC, ns).passed
    assert not run({**XML_SPEC, "ignore_namespaces": False}, ns).passed


def test_xml_unclosed_tag() -> None:
    v = run(XML_SPEC, GOOD_XML.replace("<name>Nut</name>", "<name>Nut"))
    assert not v.passed and v.category == "invalid_xml"
    assert "well-formed: found error: mismatched tag" in lines(v)


def test_xml_rejects_doctype_and_entities() -> None:
    evil = '<!DOCTYPE order [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + GOOD_XML
    v = run(XML_SPEC, evil)
    assert not v.passed
    assert "no DOCTYPE: found a DOCTYPE/ENTITY declaration" in lines(v)


def test_xml_structure_and_content_traces() -> None:
    text = GOOD_XML.replace('<item sku="B">', "<item>").replace("Bolt", "Screw")
    t = lines(run(XML_SPEC, text))
    assert "item/@sku: found missing on 1 of 2, wanted on every element" in t
    assert "item[2]/name: found 'Screw', wanted 'Bolt'" in t
    t = lines(run(XML_SPEC, GOOD_XML.replace("order", "purchase")))
    assert "root: found <purchase>, wanted <order>" in t
    t = lines(run(XML_SPEC, GOOD_XML.replace("<customer>X</customer>", "")))
    assert "customer: found 0 elements, wanted >= 1 element" in t


def test_xml_strict_prose_and_fence() -> None:
    for text in ("Here you go:\n" + GOOD_XML, f"```xml\n{GOOD_XML}\n```", GOOD_XML + "\nDone."):
        v = run(XML_SPEC, text)
        assert not v.passed and v.metrics["xml_loose"] == [1.0, 1.0]
        assert run({**XML_SPEC, "strict": False}, text).passed


@pytest.mark.parametrize("text", JUNK_TEXTS + ["<order/>", "<order>"])
def test_xml_junk_fails(text: str) -> None:
    assert not run(XML_SPEC, text).passed


def test_xml_config_errors() -> None:
    config_error({"type": "xml", "root": "a", "require": ["/abs"]})
    config_error({"type": "xml", "root": "a", "expect": {"item[": "x"}})
    config_error({"type": "xml", "root": ""})
    config_error({"type": "xml", "root": "a", "count": {"b": -1}})


def test_json_output_strict_refuses_nan() -> None:
    spec = {"type": "json_output", "schema": {"type": "object"}, "expect": {"a": 1}}
    v = run(spec, '{"a": 1, "b": NaN}')
    assert not v.passed and "NaN is not valid JSON" in lines(v)
    assert run(spec, '{"a": 1, "b": "NaN"}').passed
