"""Self-check of packs: every reference passes, every counterexample and junk answer fails.

``python -m pytest_llmbench.core.selfcheck PACK_DIR...`` prints one line per problem.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exchange import check_answer, run_exchange, verify
from .junk import JUNK_KINDS, junk_turn
from .packs import Pack, load_pack
from .schema import AssistantTurn, Scenario
from .verifiers.context import NO_CONTEXT, VerifierContext


@dataclass
class Problem:
    pack: str
    scenario: str
    what: str
    detail: str
    skipped: bool = False  # not checkable here (e.g. judged, no judge): not a problem

    def __str__(self) -> str:
        return f"{self.pack}::{self.scenario}: {self.what}: {self.detail}"


def check_scenario(pack: Pack, sc: Scenario, ctx: VerifierContext = NO_CONTEXT) -> list[Problem]:
    """``ctx`` gives the verifiers a sandbox and a judge; without a judge a judged
    scenario is "not checked", not a problem."""
    from .verifiers.judge import JudgeUnavailable

    try:
        return _check_scenario(pack, sc, ctx)
    except JudgeUnavailable as exc:
        return [Problem(pack.meta.id, sc.id, "not checked", str(exc), skipped=True)]


def _check_scenario(pack: Pack, sc: Scenario, ctx: VerifierContext) -> list[Problem]:
    out: list[Problem] = []
    v = check_answer(sc, pack.meta, sc.reference, ctx)
    if not v.passed:
        out.append(Problem(pack.meta.id, sc.id, "reference fails", v.detail))
    for i, ce in enumerate(sc.counterexamples):
        v = check_answer(sc, pack.meta, ce, ctx)
        if v.passed:
            out.append(Problem(pack.meta.id, sc.id, f"counterexample {i} passes", v.detail))
    for kind in JUNK_KINDS:

        def respond(
            messages: list[dict[str, Any]], scenario: Scenario, kind: str = kind
        ) -> AssistantTurn:
            return junk_turn(scenario, kind)

        v = verify(sc, pack.meta, run_exchange(sc, respond), ctx)
        # A benchmark's own rule passes it (BFCL irrelevance: any text without a call)
        if v.passed and not v.data.get("passes_by_rule"):
            out.append(Problem(pack.meta.id, sc.id, f"junk {kind} scores {v.score:.2f}", v.detail))
    return out


def check_pack(pack: Pack, ctx: VerifierContext = NO_CONTEXT) -> list[Problem]:
    return [p for sc in pack.scenarios for p in check_scenario(pack, sc, ctx)]


def main(argv: list[str] | None = None) -> int:
    """``[--sandbox auto|docker|bwrap|unsafe-local] PACK_DIR...``"""
    args = list(argv if argv is not None else sys.argv[1:])
    ctx = NO_CONTEXT
    if "--sandbox" in args:
        i = args.index("--sandbox")
        from .sandbox import open_sandbox

        ctx = VerifierContext(sandbox=open_sandbox(args[i + 1]))
        del args[i : i + 2]
    bad = 0
    for d in args:
        pack = load_pack(Path(d))
        found = check_pack(pack, ctx)
        for p in found:
            print(p)
        problems = [p for p in found if not p.skipped]
        bad += len(problems)
        print(f"{pack.meta.id}: {len(pack.scenarios)} scenarios, {len(problems)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
