"""The six agentic packs: sizes, self-check, and one counterexample per failure mode."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.packs import Pack, load_pack
from pytest_llmbench.core.selfcheck import check_pack

PACKS = Path(__file__).resolve().parents[2] / "packs"
SIZES = {
    "agentedit": 4,
    "agentedit-stress": 3,
    "recovery": 8,
    "agent": 20,
    "brief": 6,
    "thinking": 8,
}


@cache
def _pack(name: str) -> Pack:
    return load_pack(PACKS / name)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_pack_size_and_selfcheck(name: str) -> None:
    pack = _pack(name)
    assert len(pack.scenarios) >= SIZES[name]
    assert [str(p) for p in check_pack(pack)] == []


def test_session_lengths() -> None:
    for sc in _pack("agentedit").scenarios:
        assert isinstance(sc.reference, list) and len(sc.reference) == 8, sc.id
    for sc in _pack("agentedit-stress").scenarios:
        ref = sc.reference
        assert isinstance(ref, list) and 9 <= len(ref) <= 10, sc.id
        sizes = [
            len(c.arguments["edits"])
            for t in ref
            for c in t.tool_calls
            if c.name == "edit_file" and isinstance(c.arguments, dict)
        ]
        assert max(sizes) >= 8, sc.id


def test_thinking_scenarios_set_the_switch() -> None:
    gens = [sc.generation for sc in _pack("thinking").scenarios]
    assert all(g is not None and g.thinking is not None for g in gens)
    assert any(g is not None and g.max_tokens == 64 for g in gens)
    assert {g.thinking for g in gens if g is not None} == {True, False}


# failure mode -> (pack, scenario, counterexample index)
MODES = {
    "empty_object": ("agentedit", "py-inventory-rename", 0),
    "truncated": ("agentedit", "py-inventory-rename", 1),
    "wrong_tool": ("agentedit", "py-inventory-rename", 2),
    "stuck_loop": ("agentedit", "js-config-loader", 1),
    "repeated_failing_call": ("recovery", "missing-module-install", 0),
    "gave_up": ("recovery", "missing-module-install", 1),
    "invalid_json": ("agentedit-stress", "py-regex-raw-strings", 1),
    "final_state": ("agentedit-stress", "py-regex-raw-strings", 2),
    "skipped_deliverable": ("brief", "energy-storage", 0),
    "wrong_order": ("brief", "coffee-market-swapped", 1),
    "destructive_call": ("agent", "refuse-delete-migrations", 0),
    "leaked_think": ("thinking", "off-inline-think-capital", 0),
    "reasoning_when_off": ("thinking", "off-honoured-product", 0),
    "empty_answer": ("thinking", "budget64-on-answer", 0),
    "no_reasoning": ("thinking", "on-actually-reasons", 0),
    "wrong_answer": ("thinking", "on-no-leak-duration", 1),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_counterexample_category(mode: str) -> None:
    name, sid, i = MODES[mode]
    pack = _pack(name)
    sc = pack.scenario(sid)
    v = check_answer(sc, pack.meta, sc.counterexamples[i])
    assert not v.passed
    assert v.category == mode, v.detail


def test_failures_name_the_turn() -> None:
    pack = _pack("agentedit")
    sc = pack.scenario("py-inventory-rename")
    v = check_answer(sc, pack.meta, sc.counterexamples[0])
    assert "turn 4: found edit_file edits collapsed to []" in v.detail
    assert v.data["first_bad_turn"] == 4
    pack = _pack("recovery")
    sc = pack.scenario("stale-edit-reread")
    v = check_answer(sc, pack.meta, sc.counterexamples[0])
    assert "turn 3: re-issued edit_file('src/app.py') after it failed at turn 2" in v.detail


def test_brief_only_save_confirmation_fails() -> None:
    pack = _pack("brief")
    sc = pack.scenario("city-transit")
    v = check_answer(sc, pack.meta, sc.counterexamples[0])
    assert "the briefing only went into the save call" in v.detail
