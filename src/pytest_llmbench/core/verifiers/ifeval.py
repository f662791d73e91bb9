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
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ..output import Output
from . import ifeval_exact
from ._text import short, strip_fence
from .base import Check, Verdict, Verifier, register

# --------------------------------------------------------------------------- text helpers

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+|(?<=\d)[.,]\d+)*")
_CONTENT = re.compile(r"[^\W_]")
_ABBREV = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|approx|No|Fig|e\.g|i\.e|a\.m|p\.m|"
    r"P\.S|P\.P\.S|U\.S|U\.K)\.",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"(?m)^[ \t]*(?:[*\-+•]|\d+[.)]|#+)[ \t]+")
_SENT_SPLIT = re.compile(r"(?<=[.!?…])[\"'”’)\]*_]*\s+|\n+")
_BULLET = re.compile(r"(?m)^[ \t]*[*\-+•][ \t]+\S")
_NUMBERED = re.compile(r"(?m)^[ \t]*\d+[.)][ \t]+\S")
_HIGHLIGHT = re.compile(r"\*\*(?=\S)([^\n*]+?)\*\*|\*(?=[^\s*])([^\n*]+?)\*")
_PLACEHOLDER = re.compile(r"\[([^\[\]\n]+)\](?!\()")
_TITLE = re.compile(r"<<([^\n<>]+)>>")
_STARS_SEP = re.compile(r"(?m)^[ \t]*\*\*\*[ \t]*$")
_BLANK_SEP = re.compile(r"\n[ \t]*\n\s*")


def has_content(text: str) -> bool:
    """True if the text holds at least one letter or digit."""
    return _CONTENT.search(text) is not None


def words(text: str) -> list[str]:
    """Words: runs of letters/digits; inner apostrophes and hyphens keep a word whole
    ("don't", "well-known", "3.5" count once)."""
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    """Sentences end at . ! ? (not after common abbreviations) or at a line break."""
    # List markers ("1. ", "- ") and headings would otherwise end or start sentences.
    unlisted = _LIST_MARKER.sub("", text)
    masked = _ABBREV.sub(lambda m: m.group(0).replace(".", "\u2024"), unlisted)
    return [s.strip() for s in _SENT_SPLIT.split(masked) if has_content(s)]


def split_paragraphs(text: str, separator: str) -> tuple[list[str], bool]:
    """(paragraphs, ok). ``ok`` is False if an empty paragraph sits between two
    separators; empty pieces at the very start or end are ignored (as in IFEval)."""
    pat = _STARS_SEP if separator == "stars" else _BLANK_SEP
    parts = pat.split(text.strip())
    out: list[str] = []
    ok = True
    for i, p in enumerate(parts):
        if not has_content(p):
            if 0 < i < len(parts) - 1:
                ok = False
            continue
        out.append(p.strip())
    return out, ok


def _word_re(needle: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)", re.IGNORECASE)


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


# --------------------------------------------------------------------------- language


def _set(words_: str) -> frozenset[str]:
    return frozenset(words_.split())


_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _set(
        "the and of to is in that it was for with are this be on as have not you they at by "
        "from but or we an which will would there their has been can more if what about when "
        "your my our its were do does these those than then into"
    ),
    "fr": _set(
        "le la les des du un une et est que qui dans pour pas sur au aux avec ce cette sont "
        "nous vous il elle ils elles mais ou très plus être été leur se ne je mon votre notre "
        "ces aussi comme tout bien fait peut"
    ),
    "de": _set(
        "der die das und ist nicht ein eine mit zu den dem von sich auf für im auch es sie wir "
        "ich werden wird sind bei oder aber noch nach wie einen einem dass über kann zum zur "
        "des sehr nur wenn"
    ),
    "es": _set(
        "el la los las de del y es que en un una por para con no se lo su sus al como más "
        "pero está son muy también hay este esta yo puede sobre cuando donde todo hasta "
        "porque entre"
    ),
    "it": _set(
        "il lo gli della delle dei degli e è che di un una per con non sono anche come più "
        "ma nel nella alla questo questa ci si molto essere ha hanno sul dal le la da "
        "quando perché tutto"
    ),
    "pt": _set(
        "o os as do da dos das e é que em um uma para com não no na nos nas por mais mas "
        "como ao seu sua muito também está são isso este esta você de se quando porque "
        "ou já"
    ),
    "nl": _set(
        "de het een en van is dat die in op te niet met voor zijn er maar ook als bij aan "
        "om dit wordt naar wij ik je hij zij heeft kan nog door worden deze"
    ),
}

_SCRIPTS: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    ("latin", ((0x41, 0x24F), (0x1E00, 0x1EFF))),
    ("greek", ((0x370, 0x3FF),)),
    ("cyrillic", ((0x400, 0x4FF),)),
    ("hebrew", ((0x590, 0x5FF),)),
    ("arabic", ((0x600, 0x6FF), (0x750, 0x77F))),
    ("devanagari", ((0x900, 0x97F),)),
    ("thai", ((0xE00, 0xE7F),)),
    ("hangul", ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))),
    ("kana", ((0x3040, 0x30FF),)),
    ("han", ((0x4E00, 0x9FFF), (0x3400, 0x4DBF))),
)
_SCRIPT_LANG = {
    "greek": "el",
    "hebrew": "he",
    "arabic": "ar",
    "devanagari": "hi",
    "thai": "th",
    "hangul": "ko",
}
LANGUAGES = _FUNCTION_WORDS.keys() | _set("ru uk el he ar hi th ko ja zh")


def _script_of(ch: str) -> str | None:
    cp = ord(ch)
    for name, ranges in _SCRIPTS:
        if any(lo <= cp <= hi for lo, hi in ranges):
            return name
    return None


def detect_language(text: str) -> tuple[str, str]:
    """(language code or "unknown", short explanation). Offline and crude on purpose:
    the dominant script decides non-Latin languages; for Latin script, the language
    whose function words make up the largest share of the words wins."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            s = _script_of(ch)
            if s is not None:
                counts[s] = counts.get(s, 0) + 1
    total = sum(counts.values())
    if not total:
        return "unknown", "no letters"
    script = max(counts, key=lambda k: counts[k])
    share = counts[script] / total
    if script in ("han", "kana"):
        cjk = counts.get("han", 0) + counts.get("kana", 0)
        # Japanese mixes kana into kanji; Chinese has none.
        lang = "ja" if counts.get("kana", 0) >= 0.1 * cjk else "zh"
        return lang, f"{lang} script {cjk / total:.0%}"
    if script == "cyrillic":
        uk = sum(text.count(c) for c in "іїєґІЇЄҐ")
        lang = "uk" if uk >= 0.01 * counts[script] else "ru"
        return lang, f"cyrillic script {share:.0%}"
    if script != "latin":
        return _SCRIPT_LANG[script], f"{script} script {share:.0%}"
    toks = re.findall(r"[^\W\d_]+", text.casefold())
    if not toks:
        return "unknown", "no words"
    scores = {lang: sum(t in fw for t in toks) / len(toks) for lang, fw in _FUNCTION_WORDS.items()}
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    (best, top), (second, runner) = ranked[0], ranked[1]
    why = f"function words {best} {top:.0%}, {second} {runner:.0%}"
    if top < 0.1 or top == runner:
        return "unknown", why
    return best, why


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


# --------------------------------------------------------------------------- format


class BulletCount(_Counted):
    """Markdown bullets: lines starting with ``*``, ``-`` or ``+`` and a space."""

    kind: Literal["bullet_count"]
    label = "bullet count"

    def evaluate(self, text: str) -> Result:
        return self.counted(len(_BULLET.findall(text)))

    def official(self) -> Official:
        n = self.official_exactly()
        return "detectable_format:number_bullet_lists", {"num_bullets": n}


class NumberedListCount(_Counted):
    kind: Literal["numbered_list_count"]
    label = "numbered items"

    def evaluate(self, text: str) -> Result:
        return self.counted(len(_NUMBERED.findall(text)))


class ConstrainedResponse(_Instr):
    """Exactly one of the options appears verbatim (an answer listing every
    option, like an echo of the question, does not count)."""

    kind: Literal["constrained_response"]
    options: list[str] = Field(min_length=2)
    label = "constrained response"
    _v = field_validator("options")(_non_blank)

    def evaluate(self, text: str) -> Result:
        hit = [o for o in self.options if o in text]
        return Result(len(hit) == 1, repr(hit), f"exactly one of {self.options!r}")

    def official(self) -> Official:
        if tuple(self.options) != ifeval_exact.CONSTRAINED_OPTIONS:
            raise ValueError(
                "constrained_response: IFEval's options are fixed: "
                f"{list(ifeval_exact.CONSTRAINED_OPTIONS)!r}"
            )
        return "detectable_format:constrained_response", {}


class HighlightedSections(_Counted):
    kind: Literal["highlighted_sections"]
    relation: Relation = "at_least"
    label = "*highlighted* sections"

    def evaluate(self, text: str) -> Result:
        n = sum(1 for m in _HIGHLIGHT.finditer(text) if (m.group(1) or m.group(2) or "").strip())
        return self.counted(n)

    def official(self) -> Official:
        n = self.official_at_least()
        return "detectable_format:number_highlighted_sections", {"num_highlights": n}


class MultipleSections(_Instr):
    """Exactly ``n`` sections headed ``<splitter> 1`` .. ``<splitter> n`` in order, each
    at the start of a line."""

    kind: Literal["multiple_sections"]
    n: int = Field(ge=1)
    splitter: str = Field(default="SECTION", min_length=1)

    def name(self) -> str:
        return f"{self.splitter} headers"

    def evaluate(self, text: str) -> Result:
        pat = re.compile(rf"(?m)^[ \t]*[#*_ ]*{re.escape(self.splitter)}[ \t]+(\d+)\b")
        nums = [int(m.group(1)) for m in pat.finditer(text)]
        want = f"{self.splitter} 1..{self.n} in order"
        ok = nums == list(range(1, self.n + 1))
        return Result(ok, f"{len(nums)} headers {nums}", want)

    def official(self) -> Official:
        # IFEval: at least n splits on "<splitter> <digits>" anywhere, in any order.
        kw = {"section_spliter": self.splitter, "num_sections": self.n}
        return "detectable_format:multiple_sections", kw


class JsonFormat(_Instr):
    """The whole answer is JSON (one enclosing code fence allowed, as in IFEval);
    ``required_keys`` makes it an object holding those keys."""

    kind: Literal["json_format"]
    required_keys: list[str] = Field(default_factory=list)
    label = "JSON only"

    def evaluate(self, text: str) -> Result:
        body, _ = strip_fence(text.strip())
        want = "JSON" + (f" object with keys {self.required_keys!r}" if self.required_keys else "")
        try:
            value: Any = json.loads(body)
        except ValueError as exc:
            msg = exc.args[0] if exc.args else str(exc)
            return Result(False, f"not JSON ({short(str(msg), 60)})", want)
        if not self.required_keys:
            return Result(True, "JSON", want)
        if not isinstance(value, dict):
            return Result(False, type(value).__name__, want)
        missing = [k for k in self.required_keys if k not in value]
        return Result(not missing, f"missing {missing!r}" if missing else "all keys", want)

    def official(self) -> Official:
        if self.required_keys:
            raise ValueError("json_format: IFEval checks only that the answer is JSON")
        return "detectable_format:json_format", {}


class Title(_Instr):
    kind: Literal["title"]
    label = "<<title>>"

    def evaluate(self, text: str) -> Result:
        hit = [t for t in _TITLE.findall(text) if has_content(t)]
        return Result(bool(hit), short(hit[0]) if hit else "none", "a title in <<...>>")

    def official(self) -> Official:
        return "detectable_format:title", {}


class TwoResponses(_Instr):
    kind: Literal["two_responses"]
    label = "two responses split by ******"

    def evaluate(self, text: str) -> Result:
        parts = text.split("******")
        valid: list[str] = []
        for i, p in enumerate(parts):
            if not has_content(p):
                if 0 < i < len(parts) - 1:
                    return Result(False, "an empty response between separators", "2 responses")
                continue
            valid.append(p.strip())
        if len(valid) != 2:
            return Result(False, f"{len(valid)} part(s)", "2 different responses")
        same = _fold(valid[0]) == _fold(valid[1])
        return Result(not same, "2 identical" if same else "2 different", "2 different responses")

    def official(self) -> Official:
        return "combination:two_responses", {}


class RepeatPrompt(_Instr):
    """The answer starts with the request repeated verbatim (case and spacing
    ignored), followed by an actual answer."""

    kind: Literal["repeat_prompt"]
    prompt_to_repeat: str = Field(min_length=1)
    label = "repeats the request first"

    def evaluate(self, text: str) -> Result:
        want = _fold(self.prompt_to_repeat)
        got = _fold(text)
        if not got.startswith(want):
            # Show where the answer departs from the request, not just its start.
            i = next(
                (k for k, (x, y) in enumerate(zip(got, want, strict=False)) if x != y), len(got)
            )
            lo = max(0, i - 20)
            return Result(
                False, f"...{short(got[lo : i + 20], 50)}", f"...{short(want[lo : i + 20], 50)}"
            )
        rest = got[len(want) :]
        return Result(
            has_content(rest),
            "answer follows" if has_content(rest) else "nothing after the repeat",
            "the request, then an answer",
        )

    def official(self) -> Official:
        return "combination:repeat_prompt", {"prompt_to_repeat": self.prompt_to_repeat}


class StartsWith(_Instr):
    kind: Literal["starts_with"]
    phrase: str = Field(min_length=1)

    def name(self) -> str:
        return "starts with"

    def evaluate(self, text: str) -> Result:
        got, want = _fold(text), _fold(self.phrase)
        ok = got.startswith(want) and has_content(got[len(want) :])
        return Result(ok, short(text.strip()[: len(self.phrase) + 10], 50), f"{want!r} then more")


class EndPhrase(_Instr):
    kind: Literal["end_phrase"]
    phrase: str = Field(min_length=1)

    def name(self) -> str:
        return "ends with"

    def evaluate(self, text: str) -> Result:
        got, want = _fold(text), _fold(self.phrase)
        ok = got.endswith(want) and has_content(got[: len(got) - len(want)])
        tail = text.strip()[-(len(self.phrase) + 10) :]
        return Result(ok, short(tail, 50), f"{want!r} as the last words")

    def official(self) -> Official:
        return "startend:end_checker", {"end_phrase": self.phrase}


class Quotation(_Instr):
    kind: Literal["quotation"]
    label = "wrapped in double quotes"

    def evaluate(self, text: str) -> Result:
        s = text.strip()
        ok = len(s) >= 2 and s[0] in '"“' and s[-1] in '"”' and has_content(s[1:-1])
        return Result(ok, repr(s[:1] + "..." + s[-1:]), '"..."')

    def official(self) -> Official:
        return "startend:quotation", {}


# --------------------------------------------------------------------------- case, punctuation


class AllUppercase(_Instr):
    kind: Literal["all_uppercase"]
    label = "all capitals"

    def evaluate(self, text: str) -> Result:
        bad = [w for w in words(text) if w != w.upper()]
        return Result(
            not bad,
            f"lower-case {short(' '.join(bad[:3]), 40)}" if bad else "ok",
            "no lower-case letters",
        )

    def official(self) -> Official:
        return "change_case:english_capital", {}


class AllLowercase(_Instr):
    kind: Literal["all_lowercase"]
    label = "all lower-case"

    def evaluate(self, text: str) -> Result:
        bad = [w for w in words(text) if w != w.lower()]
        return Result(
            not bad,
            f"capitals in {short(' '.join(bad[:3]), 40)}" if bad else "ok",
            "no capital letters",
        )

    def official(self) -> Official:
        return "change_case:english_lowercase", {}


class CapitalWordFrequency(_Counted):
    """Words of two or more letters written in capitals ("NEVER", "FAQ")."""

    kind: Literal["capital_word_frequency"]
    relation: Relation = "at_least"
    label = "ALL-CAPS words"

    def evaluate(self, text: str) -> Result:
        caps = [w for w in words(text) if sum(c.isalpha() for c in w) >= 2 and w.isupper()]
        return self.counted(len(caps))

    def official(self) -> Official:
        rel, n = self.official_relation()
        kw = {"capital_frequency": n, "capital_relation": rel}
        return "change_case:capital_word_frequency", kw


class NoCommas(_Instr):
    kind: Literal["no_commas"]
    label = "no commas"

    def evaluate(self, text: str) -> Result:
        n = sum(text.count(c) for c in ",，、")
        if not n:
            return Result(True, "0 commas", "0")
        at = min(i for i in (text.find(","), text.find("，"), text.find("、")) if i >= 0)
        return Result(False, f"{n} (first: {short(text[max(0, at - 20) : at + 5], 40)})", "0")

    def official(self) -> Official:
        return "punctuation:no_comma", {}


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

    def check(self, output: Output) -> Verdict:
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
    "loose_variants",
    "official_answer",
    "words",
]
