"""Every built-in pack, every scenario: the reference passes, every counterexample
fails, every junk answer fails. (Packs that execute code are checked in a real
sandbox by tests/integration.)"""

from __future__ import annotations

import pytest

from pytest_llmbench.core.exchange import check_answer, run_exchange, verify
from pytest_llmbench.core.junk import JUNK_KINDS, junk_turn
from pytest_llmbench.core.packs import Pack, builtin_packs_dir, iter_pack_dirs, load_pack
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.verifiers.base import get_verifier

# bfcl is BFCL's own data (fetched, not in the repository): tests/unit/test_bfcl_pack.py
# checks it, irrelevance scenarios included (any answer without a call passes those).
PACKS: dict[str, Pack] = {
    d.name: load_pack(d) for d in iter_pack_dirs(builtin_packs_dir()) if d.name != "bfcl"
}
CASES = [
    (pack_id, sc.id)
    for pack_id, pack in sorted(PACKS.items())
    for sc in pack.scenarios
    if not get_verifier(sc.verifier.type).needs_sandbox
]


def test_the_packs_are_there() -> None:
    expected = {"smoke", "toolcall", "instructfollow", "structoutput", "dataextract", "reasonmath"}
    assert expected <= set(PACKS)
    assert len(CASES) > 300


@pytest.mark.parametrize(("pack_id", "sid"), CASES)
def test_reference_counterexamples_and_junk(pack_id: str, sid: str) -> None:
    pack = PACKS[pack_id]
    sc = pack.scenario(sid)
    v = check_answer(sc, pack.meta, sc.reference)
    assert v.passed, f"reference fails: {v.detail}"
    for i, ce in enumerate(sc.counterexamples):
        v = check_answer(sc, pack.meta, ce)
        assert not v.passed, f"counterexample {i} passes: {v.detail}"
    for kind in JUNK_KINDS:

        def respond(messages: object, scenario: Scenario, kind: str = kind) -> object:
            return junk_turn(scenario, kind)

        v = verify(sc, pack.meta, run_exchange(sc, respond))  # type: ignore[arg-type]
        assert not v.passed, f"junk {kind} passes: {v.detail}"
        assert v.detail.strip(), "a verdict must say why"
