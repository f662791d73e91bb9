"""Instructions about content (keywords, language, length, placeholders), and the base
classes the format ones share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import ifeval_exact
from ._ifeval_text import (
    _PLACEHOLDER,
    LANGUAGES,
    _word_re,
    detect_language,
    has_content,
    sentences,
    split_paragraphs,
    words,
)

# --------------------------------------------------------------------------- comparisons

Relation = Literal["at_least", "at_most", "exactly", "less_than", "more_than", "around"]
_SYMBOL = {
    "at_least": ">=",
    "at_most": "<=",
    "exactly": "==",
    "less_than": "<",
    "more_than": ">",
}


@dataclass
class Result:
    passed: bool
    found: str
    wanted: str


Official = tuple[str, dict[str, Any]]


class _Instr(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: ClassVar[str] = ""
    kind: str

    def name(self) -> str:
        return self.label

    def evaluate(self, text: str) -> Result:  # pragma: no cover - abstract
        raise NotImplementedError

    def official(self) -> Official:
        """IFEval's instruction id and keyword arguments for this instruction."""
        raise ValueError(f"{self.kind} has no IFEval counterpart (use semantics: extended)")


class _Counted(_Instr):
    relation: Relation = "exactly"
    n: int = Field(ge=0)
    tolerance: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _sane(self) -> _Counted:
        if self.relation == "less_than" and self.n < 1:
            raise ValueError("'less_than 0' can never hold")
        if self.relation == "at_least" and self.n < 1:
            raise ValueError("'at_least 0' holds for any answer")
        if self.tolerance is not None and self.relation != "around":
            raise ValueError("tolerance only applies to relation 'around'")
        return self

    def _tol(self) -> int:
        return self.tolerance if self.tolerance is not None else max(1, round(self.n * 0.1))

    def holds(self, found: int) -> bool:
        n = self.n
        return {
            "at_least": found >= n,
            "at_most": found <= n,
            "exactly": found == n,
            "less_than": found < n,
            "more_than": found > n,
            "around": abs(found - n) <= self._tol(),
        }[self.relation]

    def wanted(self) -> str:
        if self.relation == "around":
            return f"{self.n} ± {self._tol()}"
        return f"{_SYMBOL[self.relation]} {self.n}"

    def counted(self, found: int) -> Result:
        return Result(self.holds(found), str(found), self.wanted())

    def official_relation(self) -> tuple[str, int]:
        """IFEval has "less than" and "at least"; at_most/more_than map onto them."""
        rel, n = self.relation, self.n
        mapped = {
            "at_least": ("at least", n),
            "more_than": ("at least", n + 1),
            "less_than": ("less than", n),
            "at_most": ("less than", n + 1),
        }
        if rel not in mapped:
            raise ValueError(
                f"{self.kind}: IFEval has no relation {rel!r} (at_least, more_than, "
                "less_than, at_most map onto IFEval's)"
            )
        return mapped[rel]

    def official_exactly(self) -> int:
        if self.relation != "exactly":
            raise ValueError(f"{self.kind}: IFEval counts these exactly (relation: exactly)")
        return self.n

    def official_at_least(self) -> int:
        rel, n = self.official_relation()
        if rel != "at least":
            raise ValueError(f"{self.kind}: IFEval only has 'at least' here")
        return n


def _non_blank(v: list[str]) -> list[str]:
    if not v or any(not s.strip() for s in v):
        raise ValueError("give at least one non-empty string")
    return v


# --------------------------------------------------------------------------- keywords


class KeywordsInclude(_Instr):
    """Every keyword appears as a whole word (case-insensitive)."""

    kind: Literal["keywords_include"]
    keywords: list[str]
    label = "keywords"
    _v = field_validator("keywords")(_non_blank)

    def evaluate(self, text: str) -> Result:
        missing = [k for k in self.keywords if not _word_re(k).search(text)]
        found = f"missing {missing!r}" if missing else "all present"
        return Result(not missing, found, f"all of {self.keywords!r}")

    def official(self) -> Official:
        return "keywords:existence", {"keywords": list(self.keywords)}


class KeywordFrequency(_Counted):
    kind: Literal["keyword_frequency"]
    keyword: str = Field(min_length=1)
    relation: Relation = "at_least"

    def name(self) -> str:
        return f"occurrences of {self.keyword!r}"

    def evaluate(self, text: str) -> Result:
        return self.counted(len(_word_re(self.keyword).findall(text)))

    def official(self) -> Official:
        rel, n = self.official_relation()
        return "keywords:frequency", {"keyword": self.keyword, "frequency": n, "relation": rel}


class ForbiddenWords(_Instr):
    kind: Literal["forbidden_words"]
    words: list[str]
    label = "forbidden words"
    _v = field_validator("words")(_non_blank)

    def evaluate(self, text: str) -> Result:
        hit = [w for w in self.words if _word_re(w).search(text)]
        return Result(not hit, f"used {hit!r}" if hit else "none", f"none of {self.words!r}")

    def official(self) -> Official:
        return "keywords:forbidden_words", {"forbidden_words": list(self.words)}


class LetterFrequency(_Counted):
    kind: Literal["letter_frequency"]
    letter: str = Field(min_length=1, max_length=1)
    relation: Relation = "at_least"

    @field_validator("letter")
    @classmethod
    def _alpha(cls, v: str) -> str:
        if not v.isalpha():
            raise ValueError("letter must be a letter")
        return v

    def name(self) -> str:
        return f"letter {self.letter!r} count"

    def evaluate(self, text: str) -> Result:
        return self.counted(text.casefold().count(self.letter.casefold()))

    def official(self) -> Official:
        rel, n = self.official_relation()
        kw = {"letter": self.letter, "let_frequency": n, "let_relation": rel}
        return "keywords:letter_frequency", kw


# --------------------------------------------------------------------------- response language


class ResponseLanguage(_Instr):
    kind: Literal["response_language"]
    language: str
    label = "response language"

    @field_validator("language")
    @classmethod
    def _known(cls, v: str) -> str:
        # Which list applies depends on ``semantics`` (checked by InstructionsArgs).
        if v not in LANGUAGES | ifeval_exact.LANGDETECT_LANGUAGES:
            known = ", ".join(sorted(LANGUAGES | ifeval_exact.LANGDETECT_LANGUAGES))
            raise ValueError(f"unknown language {v!r} (known: {known})")
        return v

    def evaluate(self, text: str) -> Result:
        lang, why = detect_language(text)
        return Result(lang == self.language, f"{lang} ({why})", self.language)

    def official(self) -> Official:
        return "language:response_language", {"language": self.language}


# --------------------------------------------------------------------------- length


class SentenceCount(_Counted):
    kind: Literal["sentence_count"]
    label = "sentence count"

    def evaluate(self, text: str) -> Result:
        return self.counted(len(sentences(text)))

    def official(self) -> Official:
        rel, n = self.official_relation()
        return "length_constraints:number_sentences", {"num_sentences": n, "relation": rel}


class WordCount(_Counted):
    kind: Literal["word_count"]
    label = "word count"

    def evaluate(self, text: str) -> Result:
        return self.counted(len(words(text)))

    def official(self) -> Official:
        rel, n = self.official_relation()
        return "length_constraints:number_words", {"num_words": n, "relation": rel}


class ParagraphCount(_Counted):
    """Paragraphs split by lines of ``***`` (``stars``) or by blank lines (``blank``)."""

    kind: Literal["paragraph_count"]
    separator: Literal["stars", "blank"] = "stars"

    def name(self) -> str:
        return "paragraph count" + (" (*** separated)" if self.separator == "stars" else "")

    def evaluate(self, text: str) -> Result:
        paras, ok = split_paragraphs(text, self.separator)
        if not ok:
            return Result(False, "an empty paragraph between separators", self.wanted())
        return self.counted(len(paras))

    def official(self) -> Official:
        if self.separator != "stars":
            raise ValueError("paragraph_count: IFEval separates paragraphs by *** (stars)")
        return "length_constraints:number_paragraphs", {"num_paragraphs": self.official_exactly()}


class NthParagraphFirstWord(_Instr):
    kind: Literal["nth_paragraph_first_word"]
    n_paragraphs: int = Field(ge=1)
    nth: int = Field(ge=1)
    first_word: str = Field(min_length=1)
    separator: Literal["stars", "blank"] = "blank"

    @model_validator(mode="after")
    def _in_range(self) -> NthParagraphFirstWord:
        if self.nth > self.n_paragraphs:
            raise ValueError("nth must be <= n_paragraphs")
        return self

    def name(self) -> str:
        return f"paragraph {self.nth} first word"

    def evaluate(self, text: str) -> Result:
        want = f"{self.first_word.casefold()!r} in paragraph {self.nth} of {self.n_paragraphs}"
        paras, ok = split_paragraphs(text, self.separator)
        if not ok:
            return Result(False, "an empty paragraph between separators", want)
        if len(paras) != self.n_paragraphs:
            return Result(False, f"{len(paras)} paragraph(s)", want)
        ws = words(paras[self.nth - 1])
        first = ws[0].casefold() if ws else ""
        return Result(first == self.first_word.casefold(), repr(first), want)

    def official(self) -> Official:
        if self.separator != "blank":
            raise ValueError("nth_paragraph_first_word: IFEval separates by blank lines (blank)")
        kw = {
            "num_paragraphs": self.n_paragraphs,
            "nth_paragraph": self.nth,
            "first_word": self.first_word,
        }
        return "length_constraints:nth_paragraph_first_word", kw


# --------------------------------------------------------------------------- content


class Placeholders(_Counted):
    kind: Literal["placeholders"]
    relation: Relation = "at_least"
    label = "[placeholders]"

    def evaluate(self, text: str) -> Result:
        return self.counted(sum(1 for m in _PLACEHOLDER.finditer(text) if m.group(1).strip()))

    def official(self) -> Official:
        n = self.official_at_least()
        return "detectable_content:number_placeholders", {"num_placeholders": n}


class Postscript(_Instr):
    """A line starting with the marker (``P.S.`` by default), with text before it
    and after the marker."""

    kind: Literal["postscript"]
    marker: str = Field(default="P.S.", min_length=1)

    def name(self) -> str:
        return f"postscript {self.marker}"

    def evaluate(self, text: str) -> Result:
        core = re.escape(self.marker.rstrip(".")).replace(r"\.", r"\.\s?")
        pat = re.compile(rf"(?im)^[ \t]*[*_]*{core}\.?[*_]*:?(.*)$")
        want = f"a line starting with {self.marker!r} after the body"
        seen = False
        for m in pat.finditer(text):
            seen = True
            if has_content(text[: m.start()]) and has_content(m.group(1)):
                return Result(True, "present", want)
        return Result(False, "marker without body or text" if seen else "none", want)

    def official(self) -> Official:
        return "detectable_content:postscript", {"postscript_marker": self.marker}
