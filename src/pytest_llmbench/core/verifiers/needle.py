"""The ``needle`` verifier for the long-context generator (``core/generators.py``): each
needle value must appear (one check each), near-duplicate values must not, and an
answer longer than ``max_chars`` is a copy of the document, not a retrieval."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..output import Output
from ._text import short
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext


class NeedleArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: list[str] = Field(min_length=1)
    forbidden: list[str] = Field(default_factory=list)
    max_chars: int = Field(default=400, ge=1)
    # Informational, copied into the verdict's data for per-length/depth analysis.
    context_tokens: int | None = None
    depths: list[int] = Field(default_factory=list)

    @field_validator("values", "forbidden")
    @classmethod
    def _non_blank(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("empty strings would match anything")
        return v


def _has(text: str, value: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE) is not None


@register("needle")
class Needle(Verifier):
    """Each needle value appears (one check each), no forbidden near-duplicate does,
    and the answer is short enough to be a retrieval rather than a copy."""

    Args = NeedleArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: NeedleArgs = self.args  # type: ignore[assignment]
        text = output.text
        found = [_has(text, v) for v in a.values]
        checks = [
            Check(f"needle {v!r}", ok, "present" if ok else "missing", v)
            for v, ok in zip(a.values, found, strict=True)
        ]
        checks += [
            Check(f"not the near-duplicate {v!r}", not _has(text, v), "present", "absent")
            if _has(text, v)
            else Check(f"not the near-duplicate {v!r}", True)
            for v in a.forbidden
        ]
        n = len(text.strip())
        checks.append(
            Check(
                "answer length",
                0 < n <= a.max_chars,
                f"{n} chars" + (f" {short(text, 40)}" if n > a.max_chars else ""),
                f"1..{a.max_chars} chars",
            )
        )
        data = {"context_tokens": a.context_tokens, "depths": a.depths, "found": found}
        return Verdict.from_checks(
            checks,
            category="needle_missed",
            metrics={"needles": [float(sum(found)), float(len(found))]},
            data=data,
        )
