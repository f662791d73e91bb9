"""Response-language adherence and diacritic traps: ``language``.

Adherence is the share of the answer written in the target language: the answer is
cut into segments (sentences, lines, CJK sentence ends), each segment's language is
identified, and adherence = letters in target-language segments / letters in all
segments, a CJK character or Hangul syllable weighing as 3 letters. A segment too
short to identify takes the language of its neighbour (``OK.`` between two French
sentences is French); an answer where nothing can be identified has adherence 0.
The item passes at ``threshold`` (default 0.8: a sentence or two of English in a
five-sentence French answer fails).

Identification uses ``lingua-language-detector`` (offline, models in the wheel;
optional extra ``pytest-llmbench[language]``) when it is installed, else the
function-word / script-ratio detector of the ``instructions`` verifier. Set
``LLMBENCH_LANGUAGE_DETECTOR=builtin`` (or ``lingua``) to pin one; the verdict's
data names the detector used, since the two can disagree on borderline answers.

Diacritic traps list words that the right answer must contain spelled with their
accents (``all``): "foret" for "forêt" or "Grosse" for "Größe" fails. Matching is
case-insensitive on NFC-normalised text but keeps accents and ß.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..output import Output
from ._text import short
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .ifeval import detect_language, has_content

DEFAULT_THRESHOLD = 0.8

_SEGMENT = re.compile(r"(?<=[.!?…])[\"'”’»)\]*_]*\s+|(?<=[。！？])|\n+")
_LETTER = re.compile(r"[^\W\d_]")
_DENSE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
DENSE_WEIGHT = 3
_TOKEN = re.compile(_DENSE.pattern + r"|[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


def segments(text: str) -> list[str]:
    """Sentences and lines; CJK sentence ends split too (they take no space)."""
    return [s.strip() for s in _SEGMENT.split(text) if s and has_content(s)]


def letters(text: str) -> int:
    """Letters, a kana/han character or Hangul syllable counting as ``DENSE_WEIGHT``
    (about the Latin letters it stands for), so mixed CJK/English answers weigh fairly."""
    n = len(_LETTER.findall(text))
    return n + (DENSE_WEIGHT - 1) * len(_DENSE.findall(text))


# ---------------------------------------------------------------- detectors


def _builtin(text: str) -> str | None:
    lang, _ = detect_language(text)
    return lang if lang != "unknown" else None


_LINGUA_CODES = {
    "FRENCH": "fr",
    "GERMAN": "de",
    "SPANISH": "es",
    "ITALIAN": "it",
    "PORTUGUESE": "pt",
    "JAPANESE": "ja",
    "KOREAN": "ko",
    "CHINESE": "zh",
    "ENGLISH": "en",
    "DUTCH": "nl",
}


@lru_cache(maxsize=1)
def _lingua_detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    langs = [getattr(Language, n) for n in _LINGUA_CODES]
    # Too close to call -> None (unknown) rather than a guess; neighbours decide then.
    builder = LanguageDetectorBuilder.from_languages(*langs)
    return builder.with_minimum_relative_distance(0.1).build()


def _lingua(text: str) -> str | None:
    lang = _lingua_detector().detect_language_of(text)
    return None if lang is None else _LINGUA_CODES.get(lang.name)


def lingua_available() -> bool:
    try:
        import lingua  # noqa: F401
    except ImportError:
        return False
    return True


def detector_name() -> str:
    """The detector in use: ``lingua`` if installed (or pinned), else ``builtin``."""
    pinned = os.environ.get("LLMBENCH_LANGUAGE_DETECTOR", "auto").strip().lower()
    if pinned == "builtin":
        return "builtin"
    if pinned == "lingua" or lingua_available():
        return "lingua"
    return "builtin"


@dataclass
class Adherence:
    share: float
    detector: str
    # (language or None, letters, segment) per segment, after neighbour smoothing
    parts: list[tuple[str | None, int, str]]

    def languages(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for lang, n, _ in self.parts:
            key = lang or "unknown"
            out[key] = out.get(key, 0) + n
        return out


def adherence(text: str, target: str, detector: str | None = None) -> Adherence:
    """Share of the answer's letters in segments identified as ``target``."""
    name = detector or detector_name()
    detect = _lingua if name == "lingua" else _builtin
    segs = segments(text)
    found: list[str | None] = []
    for s in segs:
        # Very short segments are guesses for either detector: let neighbours decide.
        found.append(detect(s) if letters(s) >= 12 or len(segs) == 1 else None)
    # Unidentified segments take the previous identified language, else the next one.
    smoothed = list(found)
    last: str | None = None
    for i, lang in enumerate(found):
        if lang is None:
            smoothed[i] = last
        else:
            last = lang
    nxt: str | None = None
    for i in range(len(found) - 1, -1, -1):
        if found[i] is not None:
            nxt = found[i]
        elif smoothed[i] is None:
            smoothed[i] = nxt
    parts = [(lang, letters(s), s) for lang, s in zip(smoothed, segs, strict=True)]
    total = sum(n for _, n, _ in parts)
    hit = sum(n for lang, n, _ in parts if lang == target)
    return Adherence(hit / total if total else 0.0, name, parts)


# ---------------------------------------------------------------- verifier


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _has_word(text: str, word: str) -> bool:
    # lower(), not casefold(): casefold turns ß into ss and would accept "Grosse".
    w = _nfc(word).lower()
    # CJK text has no spaces between words: no boundary next to a CJK character.
    head = "" if _DENSE.match(w[0]) else r"(?<!\w)"
    tail = "" if _DENSE.match(w[-1]) else r"(?!\w)"
    return re.search(head + re.escape(w) + tail, _nfc(text).lower()) is not None


def ascii_fold(text: str) -> str:
    """The text with accents stripped and ß written ss: what an ASCII-only model writes."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("ẞ", "SS"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class LanguageArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: Literal["fr", "de", "es", "it", "pt", "ja", "ko", "zh", "en", "nl"]
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0.0, le=1.0)
    # Words the answer must contain, accents included (diacritic traps, key terms).
    all: list[str] = Field(default_factory=list)
    # At least one of these must appear (keeps the answer on topic).
    any: list[str] = Field(default_factory=list)
    min_letters: int = Field(default=20, ge=1)
    max_echo: float = Field(default=0.5, gt=0.0, le=1.0)

    @field_validator("all", "any")
    @classmethod
    def _non_blank(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("empty strings would match anything")
        return v


def _echo_share(answer: str, prompt: str) -> float:
    """Share of the answer's 4-grams of words (CJK: characters) that the prompt has."""

    def grams(t: str) -> list[tuple[str, ...]]:
        ws = _TOKEN.findall(t.lower())
        return [tuple(ws[i : i + 4]) for i in range(len(ws) - 3)]

    mine = grams(answer)
    if not mine:
        return 0.0
    theirs = set(grams(prompt))
    return sum(g in theirs for g in mine) / len(mine)


@register("language")
class Language(Verifier):
    """The answer is in ``language`` (adherence >= ``threshold``), long enough, not a
    copy of the prompt, and contains the required words with their accents."""

    Args = LanguageArgs

    @classmethod
    def warm_up(cls) -> None:
        if detector_name() == "lingua":
            _lingua("warm up: the first detection loads every language model (seconds)")

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: LanguageArgs = self.args  # type: ignore[assignment]
        text = output.text
        adh = adherence(text, a.language)
        langs = adh.languages()
        total = sum(langs.values()) or 1
        mix = ", ".join(
            f"{k} {v / total:.0%}" for k, v in sorted(langs.items(), key=lambda kv: -kv[1])
        )
        n_letters = letters(text)
        checks = [
            Check(
                f"written in {a.language}",
                adh.share >= a.threshold,
                f"{adh.share:.0%} ({mix or 'no text'}; {adh.detector})",
                f">= {a.threshold:.0%}",
            ),
            Check(
                "length",
                n_letters >= a.min_letters,
                f"{n_letters} letters",
                f">= {a.min_letters}",
            ),
        ]
        echo = _echo_share(text, self.scenario.user_text())
        if echo > a.max_echo:
            checks.append(Check("not a copy of the prompt", False, f"{echo:.0%} copied"))
        missing = [w for w in a.all if not _has_word(text, w)]
        for w in a.all:
            if w not in missing:
                checks.append(Check(f"contains {w!r}", True))
                continue
            folded = ascii_fold(w)
            lost = folded != w and _has_word(text, folded)
            found = f"{folded!r} (accents lost)" if lost else "missing"
            checks.append(Check(f"contains {w!r}", False, found, repr(w)))
        if a.any:
            hit = [w for w in a.any if _has_word(text, w)]
            checks.append(Check("on topic", bool(hit), repr(hit), f"one of {a.any!r}"))
        metrics: dict[str, list[float]] = {"adherence": [adh.share, 1.0]}
        if a.all:
            metrics["diacritics"] = [float(len(a.all) - len(missing)), float(len(a.all))]
        data = {
            "adherence": round(adh.share, 4),
            "detector": adh.detector,
            "languages": langs,
            "threshold": a.threshold,
        }
        if not checks[0].passed:
            category = "wrong_language"
        elif any("accents lost" in c.found for c in checks):
            category = "diacritics_lost"
        else:
            category = "off_target"
        verdict = Verdict.from_checks(checks, category=category, metrics=metrics, data=data)
        if not has_content(text):
            verdict.detail = f"empty answer: {short(text)}"
        return verdict


__all__ = ["DEFAULT_THRESHOLD", "Language", "LanguageArgs", "adherence", "ascii_fold", "segments"]
