"""Briefings researched through tools: ``agent_brief``.

Research through tools, a multi-section briefing written after the tool turns, a
secondary action (save) in the requested order. Judged like ``agent`` sessions
(verifiers/agent_session.py): per-turn call checks, then the briefing.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from ..output import Output
from ._agent_base import (
    AgentArgsBase,
    CallSpec,
    Fact,
    TurnCheck,
    _AgentBase,
    _has_fact,
    _show_fact,
    read_session,
)
from .base import Check, Verdict, register
from .context import VerifierContext

# --------------------------------------------------------------------------- brief


class BriefArgs(AgentArgsBase):
    # One call per topic: each must succeed before the briefing is written.
    research: list[CallSpec] = Field(min_length=1)
    sections: list[str] = Field(min_length=2)
    facts: list[Fact] = Field(default_factory=list)
    save: CallSpec
    order: Literal["brief_then_save", "save_then_brief"] = "brief_then_save"


def _has_section(text: str, title: str) -> bool:
    pat = rf"^[ \t]*(?:#+[ \t]*|\*\*|\d+[.)][ \t]*)*{re.escape(title)}"
    return re.search(pat, text, re.IGNORECASE | re.MULTILINE) is not None


@register("agent_brief")
class BriefVerifier(_AgentBase):
    """Research with tools, then a multi-section briefing in the reply and a save action,
    in the order the prompt asks."""

    Args = BriefArgs

    @property
    def a(self) -> BriefArgs:
        assert isinstance(self.args, BriefArgs)
        return self.args

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a = self.a
        s = read_session(output)
        checks = self.turn_checks(s)
        checks.append(self.end_check(s))
        last_research = 0
        for spec in a.research:
            hit = next(
                (c for c in s.calls if c.ok and spec.matches(c.call.name, c.args, c.raw)), None
            )
            ok = hit is not None
            found = f"turn {hit.turn}" if hit else "no such call"
            checks.append(
                TurnCheck(
                    Check(f"research {spec.show()}", ok, found),
                    None if ok else "skipped_deliverable",
                )
            )
            if hit is not None:
                last_research = max(last_research, hit.turn)
        brief_turn = next(
            (
                t
                for t, turn in enumerate(s.turns, start=1)
                if all(_has_section(turn.content or "", x) for x in a.sections)
            ),
            None,
        )
        saves = [c for c in s.calls if c.ok and c.call.name == a.save.tool]
        save = saves[-1] if saves else None
        name = "briefing with sections " + ", ".join(repr(x) for x in a.sections)
        if brief_turn is None:
            best = max(
                (sum(_has_section(t.content or "", x) for x in a.sections), i)
                for i, t in enumerate(s.turns, start=1)
            )
            found = "no reply has them" + (
                f" (turn {best[1]} has {best[0]} of {len(a.sections)})" if best[0] else ""
            )
            saved_text = "\n".join(str(v) for v in (save.args or {}).values()) if save else ""
            if saved_text and all(_has_section(saved_text, x) for x in a.sections):
                found += "; the briefing only went into the save call"
            checks.append(TurnCheck(Check(name, False, found, "in a reply"), "skipped_deliverable"))
        else:
            text = s.turns[brief_turn - 1].content or ""
            checks.append(TurnCheck(Check(name, True, f"turn {brief_turn}"), None))
            for f in a.facts:
                ok = _has_fact(text, f)
                checks.append(
                    TurnCheck(
                        Check(f"briefing states {_show_fact(f)}", ok, "" if ok else "missing"),
                        None if ok else "wrong_answer",
                    )
                )
            after = brief_turn > last_research
            found = f"turn {brief_turn}, research until turn {last_research}"
            checks.append(
                TurnCheck(
                    Check("briefing comes after the research", after, found),
                    None if after else "wrong_order",
                )
            )
        saved = save is not None and a.save.matches(save.call.name, save.args, save.raw)
        checks.append(
            TurnCheck(
                Check(
                    f"save {a.save.show()}",
                    saved,
                    f"turn {save.turn}" if save else "no successful save",
                ),
                None if saved else "skipped_deliverable",
            )
        )
        if save is not None and brief_turn is not None:
            if a.order == "brief_then_save":
                ok = brief_turn <= save.turn and s.calls[-1] is save
                found = f"briefing turn {brief_turn}, save turn {save.turn}"
                if s.calls[-1] is not save:
                    found += f", then {s.calls[-1].label()}"
                want = "the save as the last action, after the briefing"
            else:
                ok = save.turn < brief_turn and brief_turn == len(s.turns)
                found = f"save turn {save.turn}, briefing turn {brief_turn} of {len(s.turns)}"
                want = "the save first, the briefing as the final reply"
            checks.append(TurnCheck(Check("order", ok, found, want), None if ok else "wrong_order"))
        return self.finish(checks, {"turns": len(s.turns), "calls": len(s.calls)})
