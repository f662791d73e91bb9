"""IFEval-style verifiable instructions: ``instructions``.

Each scenario lists instructions (``{kind: ..., **params}``); every instruction is a
deterministic check on the final answer. Scoring follows IFEval: *strict* checks the
answer as given; *loose* also tries variants (first line dropped, last line dropped,
both, and each with markdown ``*`` removed) and passes if any variant passes.

``semantics`` chooses what a check means:

- ``extended`` (default): this project's checks. Stricter than IFEval where IFEval is
  easy to game (keywords are whole words; an answer with no letter or digit fails
  every instruction, so "no commas" is never met by saying nothing) and with kinds
  IFEval lacks (``starts_with``, ``numbered_list_count``, ``exactly``/``around``).
- ``ifeval``: each kind is mapped onto its IFEval instruction id and decided exactly
  as IFEval's own checker decides it (``ifeval_exact``; needs the ``ifeval`` extra).
  A kind or parameter IFEval cannot express is a configuration error.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from ..output import Output
from . import ifeval_exact
from ._ifeval_content import (
    ForbiddenWords,
    KeywordFrequency,
    KeywordsInclude,
    LetterFrequency,
    NthParagraphFirstWord,
    Official,
    ParagraphCount,
    Placeholders,
    Postscript,
    ResponseLanguage,
    Result,
    SentenceCount,
    WordCount,
    _Instr,
)
from ._ifeval_format import (
    AllLowercase,
    AllUppercase,
    BulletCount,
    CapitalWordFrequency,
    ConstrainedResponse,
    EndPhrase,
    HighlightedSections,
    JsonFormat,
    MultipleSections,
    NoCommas,
    NumberedListCount,
    Quotation,
    RepeatPrompt,
    StartsWith,
    Title,
    TwoResponses,
)
from ._ifeval_text import LANGUAGES, detect_language, has_content, sentences, words
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext

Instruction = Annotated[
    (
        KeywordsInclude
        | KeywordFrequency
        | ForbiddenWords
        | LetterFrequency
        | ResponseLanguage
        | SentenceCount
        | WordCount
        | ParagraphCount
        | NthParagraphFirstWord
        | Placeholders
        | Postscript
        | BulletCount
        | NumberedListCount
        | ConstrainedResponse
        | HighlightedSections
        | MultipleSections
        | JsonFormat
        | Title
        | TwoResponses
        | RepeatPrompt
        | StartsWith
        | EndPhrase
        | Quotation
        | AllUppercase
        | AllLowercase
        | CapitalWordFrequency
        | NoCommas
    ),
    Field(discriminator="kind"),
]


# --------------------------------------------------------------------------- verifier


def loose_variants(text: str) -> list[str]:
    """IFEval's loose variants: as is, without ``*``, first/last/both lines removed."""
    lines = text.split("\n")
    base = [
        text,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return base + [b.replace("*", "") for b in base]


def evaluate(instr: _Instr, text: str) -> Result:
    """One instruction on one text; nothing passes without a letter or digit."""
    if not has_content(text):
        return Result(False, "empty answer", "an answer")
    return instr.evaluate(text)


class InstructionsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instructions: list[Instruction] = Field(
        min_length=1, description="the instructions, each `{kind: ..., **params}`"
    )
    semantics: Literal["extended", "ifeval"] = Field(
        default="extended",
        description=(
            "`ifeval`: decide each instruction exactly as IFEval's checker does (needs the "
            "`ifeval` extra; docs/fidelity.md); `extended`: this project's stricter checks "
            "and kinds IFEval lacks"
        ),
    )
    _official: list[Official] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _semantics(self) -> InstructionsArgs:
        for i, ins in enumerate(self.instructions):
            if self.semantics == "ifeval":
                try:
                    iid, kw = ins.official()
                    self._official.append((iid, ifeval_exact.prepare(iid, kw)))
                except ValueError as exc:
                    raise ValueError(f"instructions.{i} (semantics: ifeval): {exc}") from None
            elif isinstance(ins, ResponseLanguage) and ins.language not in LANGUAGES:
                raise ValueError(
                    f"instructions.{i}: the extended language detector knows only "
                    f"{', '.join(sorted(LANGUAGES))}; semantics: ifeval uses langdetect, "
                    f"which knows {ins.language!r}"
                )
        return self

    @property
    def official(self) -> list[Official]:
        """(IFEval id, prepared arguments) per instruction; empty unless ifeval."""
        return list(self._official)


def official_answer(output: Output) -> str:
    """The answer IFEval would score: the final turn as received, not stripped (the
    loose variants depend on leading and trailing lines). With thinking in it, the
    answer after the thinking is removed (stripped, as every verifier sees it)."""
    raw = output.raw_turns[-1].content if output.raw_turns else None
    if raw is None or "<think>" in raw or "</think>" in raw:
        return output.text
    return raw


def _verdict(
    a: InstructionsArgs,
    checks: list[Check],
    strict: list[bool],
    loose: list[bool],
    extra: dict[str, Any],
) -> Verdict:
    n = len(checks)
    ks, kl = sum(strict), sum(loose)
    metrics: dict[str, list[float]] = {
        "prompt_strict": [float(ks == n), 1.0],
        "prompt_loose": [float(kl == n), 1.0],
        "instr_strict": [float(ks), float(n)],
        "instr_loose": [float(kl), float(n)],
    }
    data = {
        "semantics": a.semantics,
        "kinds": [i.kind for i in a.instructions],
        "strict": strict,
        "loose": loose,
        **extra,
    }
    return Verdict.from_checks(
        checks, threshold=1.0, category="instruction_violated", metrics=metrics, data=data
    )


@register("instructions")
class Instructions(Verifier):
    """IFEval-style instruction following. ``passed`` = every instruction holds
    strictly; ``score`` = share held strictly; metrics give prompt/instruction level
    strict and loose accuracy."""

    Args = InstructionsArgs

    @classmethod
    def warm_up(cls) -> None:
        # nltk's Punkt model and langdetect's profiles take seconds to load; without
        # the extra, the scenarios that need it say so when checked.
        with contextlib.suppress(ifeval_exact.IFEvalUnavailable):
            ifeval_exact.warm_up()

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: InstructionsArgs = self.args  # type: ignore[assignment]
        if a.semantics == "ifeval":
            return self._check_ifeval(a, output)
        text = output.text
        variants = loose_variants(text)
        checks: list[Check] = []
        strict: list[bool] = []
        loose: list[bool] = []
        for ins in a.instructions:
            r = evaluate(ins, text)
            lo = r.passed or any(evaluate(ins, v).passed for v in variants[1:])
            strict.append(r.passed)
            loose.append(lo)
            checks.append(Check(ins.name(), r.passed, r.found, r.wanted))
        return _verdict(a, checks, strict, loose, {})

    def _check_ifeval(self, a: InstructionsArgs, output: Output) -> Verdict:
        text = official_answer(output)
        checks: list[Check] = []
        strict: list[bool] = []
        loose: list[bool] = []
        try:
            for ins, (iid, kw) in zip(a.instructions, a.official, strict=True):
                ok, found = ifeval_exact.strict(iid, kw, text)
                strict.append(ok)
                # The strict text is the first loose variant: strict implies loose.
                loose.append(ok or ifeval_exact.loose(iid, kw, text))
                want = ifeval_exact.wanted(iid, kw)
                checks.append(Check(f"{ins.name()} [{iid}]", ok, found, want))
        except ifeval_exact.IFEvalUnavailable as exc:
            return Verdict.fail(str(exc), category="verifier_unavailable")
        return _verdict(a, checks, strict, loose, {"ifeval_ids": [i for i, _ in a.official]})


__all__ = [
    "Instructions",
    "InstructionsArgs",
    "detect_language",
    "has_content",
    "loose_variants",
    "official_answer",
    "sentences",
    "words",
]
