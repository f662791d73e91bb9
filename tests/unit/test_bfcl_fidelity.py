"""The ``match: bfcl`` toolcall verifier against BFCL's own checker.

tests/data/bfcl_corpus.json.gz holds BFCL cases and many answers per case labelled by
bfcl-eval's AST checker (tools/bfcl_corpus.py builds it in a throwaway venv). Here
the cases become scenarios the way the bfcl pack builds them (core.bfcl), and every
answer is judged by the verifier: at least 99.5 % must agree, and no answer the
official checker rejects may pass.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_llmbench.core import bfcl
from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.schema import AssistantTurn, Scenario, ToolCall
from pytest_llmbench.core.verifiers import _bfcl

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bfcl_corpus.json.gz"


def _corpus() -> dict[str, Any]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def scenario_for(case: dict[str, Any]) -> Scenario:
    cat = case["category"]
    language = _bfcl.language_for(cat)
    verifier: dict[str, Any] = {"type": "toolcall", "match": "bfcl", "bfcl": {"category": cat}}
    if _bfcl.checker_for(cat) in ("irrelevance", "relevance"):
        verifier["calls"] = []
    else:
        calls, sigs = bfcl._expected(cat, case["functions"], case["ground_truth"])
        verifier["calls"] = calls
        verifier["bfcl"]["functions"] = sigs
    return Scenario.model_validate(
        {
            "id": case["id"],
            "prompt": "corpus case",
            "tools": bfcl.tools_for(case["functions"], language),
            "verifier": verifier,
            "reference": "-",
            "counterexamples": ["-", "-"],
        }
    )


def answer_for(calls: list[list[Any]]) -> AssistantTurn:
    if not calls:
        return AssistantTurn(content="I cannot do that with the functions I have.")
    return AssistantTurn(
        content=None,
        tool_calls=[ToolCall(name=n, arguments=a, id=f"c{i}") for i, (n, a) in enumerate(calls)],
    )


def test_agreement_with_the_official_checker() -> None:
    data = _corpus()
    assert data["bfcl_eval"] == bfcl.BFCL_VERSION
    total = 0
    false_pass: list[str] = []
    false_fail: list[str] = []
    per_cat: Counter[str] = Counter()
    for case in data["cases"]:
        sc = scenario_for(case)
        for cand in case["candidates"]:
            total += 1
            per_cat[case["category"]] += 1
            ours = check_answer(sc, None, answer_for(cand["calls"])).passed
            if ours and not cand["official"]:
                false_pass.append(cand["id"])
            elif cand["official"] and not ours:
                false_fail.append(cand["id"])
    assert set(per_cat) == set(bfcl.CATEGORIES), "every category is in the corpus"
    assert total >= 10_000
    agree = 1 - (len(false_pass) + len(false_fail)) / total
    report = (
        f"{total} answers, agreement {100 * agree:.3f}%; "
        f"false passes {false_pass}; false fails {false_fail}"
    )
    assert not false_pass, report
    assert agree >= 0.995, report


def test_corpus_has_passes_and_fails_in_every_category() -> None:
    seen: dict[str, set[bool]] = {}
    for case in _corpus()["cases"]:
        for cand in case["candidates"]:
            seen.setdefault(case["category"], set()).add(cand["official"])
    assert all(v == {True, False} for v in seen.values()), seen


def test_entries_left_out_of_the_pack_fail_in_bfcl_too() -> None:
    """The pack leaves out the entries no answer can pass; BFCL's checker rejects every
    answer the corpus has for them, the reference built from the possible answers too."""
    cases = {c["id"]: c for c in _corpus()["cases"]}
    for cat, ids in bfcl.UNSATISFIABLE.items():
        for i in ids:
            case = cases[i]
            assert case["category"] == cat
            assert any(c["id"].endswith("/ref") for c in case["candidates"])
            assert not any(c["official"] for c in case["candidates"]), i
            entry = {"id": i, "function": case["functions"], "question": [[]]}
            spec = bfcl.BfclSpec(kind="bfcl")
            assert bfcl.scenario_data(spec, cat, entry, case["ground_truth"]) is None
