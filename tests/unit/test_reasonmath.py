"""The reasonmath pack: references pass, near misses and junk fail; the number
verifier's ANSWER-line reading on hand-made outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.core.output import Output
from pytest_llmbench.core.packs import load_pack
from pytest_llmbench.core.schema import AssistantTurn, Scenario, VerifierSpec
from pytest_llmbench.core.verifiers.base import build_verifier
from pytest_llmbench.core.verifiers.context import NO_CONTEXT

PACK_DIR = Path(__file__).resolve().parents[2] / "packs" / "reasonmath"
PACK = load_pack(PACK_DIR)
IDS = [s.id for s in PACK.scenarios]


def _sc(sid: str) -> Scenario:
    return PACK.scenario(sid)


def test_pack_meta_and_counts() -> None:
    assert PACK.meta.id == "reasonmath"
    assert PACK.meta.version == "1.0.0"
    assert PACK.meta.generation.temperature == 0
    fixed = [s for s in PACK.scenarios if "template" not in s.tags]
    templated = [s for s in PACK.scenarios if "template" in s.tags]
    assert len(fixed) >= 30
    prefixes = {s.id.rsplit("-", 1)[0] for s in templated}
    assert len(prefixes) >= 3
    for p in prefixes:
        assert sum(s.id.rsplit("-", 1)[0] == p for s in templated) >= 5
    assert any(s.verifier.args.get("abs_tol") for s in fixed), "some decimals with tolerance"


def test_template_ids_are_stable() -> None:
    # Renaming these would break comparisons between runs.
    assert {"tm-bake-sale-1", "tm-fuel-cost-5", "tm-work-crew-3", "tm-ratio-share-2"} <= set(IDS)
    assert _sc("tm-bake-sale-1").verifier.args["value"] == 16
    assert _sc("tm-fuel-cost-1").verifier.args == {"value": 64.73, "abs_tol": 0.015}


@pytest.mark.parametrize("sid", IDS)
def test_prompt_asks_for_answer_line(sid: str) -> None:
    sc = _sc(sid)
    assert sc.prompt is not None and "`ANSWER: <number>`" in sc.prompt
    assert sc.verifier.type == "number"
    assert sc.verifier.args.get("source", "answer_line") == "answer_line"


# ---------------------------------------------------------------- the number verifier

_DUMMY = Scenario(
    id="x",
    prompt="p",
    verifier=VerifierSpec.model_validate({"type": "number", "value": 1}),
    reference="ANSWER: 1",
    counterexamples=["ANSWER: 2", "1"],
)


def _check(text: str, value: float, **args: float) -> tuple[bool, list[str]]:
    spec = VerifierSpec.model_validate({"type": "number", "value": value, **args})
    v = build_verifier(spec, _DUMMY, None).check(
        Output.from_turns([AssistantTurn(content=text)]), NO_CONTEXT
    )
    return v.passed, v.trace()


@pytest.mark.parametrize(
    "text",
    [
        "ANSWER: 1362",
        "work...\nANSWER: 1,362",
        "**ANSWER:** 1362",
        "answer: 1362 apples",
        "ANSWER: 1000\nno wait, redo\nANSWER: 1362",
        "<think>ANSWER: 7</think>It is 1362.\nANSWER: 1362",
        "ANSWER: $1362",
    ],
)
def test_number_accepts(text: str) -> None:
    assert _check(text, 1362)[0]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        ".",
        "1362",
        "The answer is 1362.",
        "ANSWER: 1361",
        "ANSWER: 1362\nANSWER: 1512",
        "<think>ANSWER: 1362</think>ANSWER: 1361",
        "ANSWER: <number>",
        "ANSWER:",
        "Final ANSWER: 1362",  # not a line of its own
    ],
)
def test_number_rejects(text: str) -> None:
    assert not _check(text, 1362)[0]


def test_number_tolerance_and_trace() -> None:
    assert _check("ANSWER: 64.80", 64.8, abs_tol=0.01)[0]
    assert _check("ANSWER: 64.809", 64.8, abs_tol=0.01)[0]
    ok, trace = _check("ANSWER: 64.82", 64.8, abs_tol=0.01)
    assert not ok
    assert trace == ["[FAIL] number in ANSWER line: found 64.82, wanted 64.8 ± 0.01"]
    ok, trace = _check("So 1362 apples are left.", 1362)
    assert not ok and trace == ["[FAIL] number in ANSWER line: found none, wanted 1362"]
