"""Thinking hygiene: ``thinking_hygiene``.

No think markup in the answer, a non-empty correct answer, reasoning absent when
thinking is off and present when it is on. Failure categories: leaked_think,
empty_answer, wrong_answer, reasoning_when_off, no_reasoning (and config).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from ..output import Output
from ._agent_base import Fact, TurnCheck, _alts, _Args, _show_fact
from ._text import short
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext

# --------------------------------------------------------------------------- thinking


def _has_word(text: str, needle: str) -> bool:
    """``needle`` as a whole token: "96" is not found in "0.961"."""
    pat = rf"(?<![\w.]){re.escape(needle.strip())}(?![\w]|\.\d)"
    return re.search(pat, text, re.IGNORECASE) is not None


_THINK_MARKUP = re.compile(r"</?(?:think|thinking|reasoning)>|<\|channel\|>analysis", re.I)


class ThinkingArgs(_Args):
    answer: list[Fact] = Field(min_length=1)
    answer_not: list[str] = Field(default_factory=list)
    # absent: thinking was requested off; present: thinking on must reason.
    reasoning: Literal["absent", "present", "any"] = "any"
    min_reasoning_words: int = Field(default=5, ge=1)
    max_answer_words: int | None = Field(default=None, ge=1)


@register("thinking_hygiene")
class ThinkingVerifier(Verifier):
    """Think markup never reaches the answer; the answer is there and right; reasoning
    follows the requested thinking mode."""

    Args = ThinkingArgs

    @property
    def a(self) -> ThinkingArgs:
        assert isinstance(self.args, ThinkingArgs)
        return self.args

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a = self.a
        prompt = self.scenario.user_text()
        # An echo of the prompt must not pass: a fact taken from the prompt needs an
        # ``answer_not`` word that the prompt also contains.
        echo_guard = any(_has_word(prompt, b) for b in a.answer_not)
        for f in a.answer:
            if not echo_guard and any(_has_word(prompt, x) for x in _alts(f)):
                return Verdict.fail(f"answer fact {_show_fact(f)} appears in the prompt", "config")
        checks: list[TurnCheck] = []
        raw = output.raw_turns or output.turns
        for t, turn in enumerate(raw, start=1):
            m = _THINK_MARKUP.search(turn.content or "")
            found = f"{m.group(0)!r} in the reply" if m else ""
            checks.append(
                TurnCheck(
                    Check(f"turn {t}: no think markup in the reply", m is None, found),
                    None if m is None else "leaked_think",
                )
            )
        text = output.text
        last = raw[-1] if raw else None
        cut = last is not None and last.finish_reason == "length"
        ok = bool(text.strip())
        found = "" if ok else "empty answer" + (" (cut off by max_tokens)" if cut else "")
        checks.append(
            TurnCheck(Check("answer not empty", ok, found), None if ok else "empty_answer")
        )
        if ok:
            for f in a.answer:
                hit = any(_has_word(text, x) for x in _alts(f))
                checks.append(
                    TurnCheck(
                        Check("answer states", hit, "" if hit else short(text, 60), _show_fact(f)),
                        None if hit else "wrong_answer",
                    )
                )
            for b in a.answer_not:
                hit = _has_word(text, b)
                checks.append(
                    TurnCheck(
                        Check(f"answer avoids {b!r}", not hit, "found" if hit else ""),
                        "wrong_answer" if hit else None,
                    )
                )
            if a.max_answer_words is not None:
                n = len(text.split())
                ok_len = n <= a.max_answer_words
                checks.append(
                    TurnCheck(
                        Check("answer length", ok_len, f"{n} words", f"<= {a.max_answer_words}"),
                        None if ok_len else "wrong_answer",
                    )
                )
        reasoning = output.reasoning
        words = len(reasoning.split())
        if a.reasoning == "absent":
            ok = not reasoning.strip()
            found = "" if ok else f"{words} words of reasoning"
            checks.append(
                TurnCheck(
                    Check("no reasoning (thinking off)", ok, found, "none"),
                    None if ok else "reasoning_when_off",
                )
            )
        elif a.reasoning == "present":
            ok = words >= a.min_reasoning_words
            checks.append(
                TurnCheck(
                    Check(
                        "reasoning present (thinking on)",
                        ok,
                        f"{words} words",
                        f">= {a.min_reasoning_words} words",
                    ),
                    None if ok else "no_reasoning",
                )
            )
        cat = next((c.category for c in checks if not c.check.passed), None)
        return Verdict.from_checks(
            [c.check for c in checks],
            threshold=1.0,
            category=cat,
            data={"reasoning_words": words, "reasoning_requested": a.reasoning},
        )
