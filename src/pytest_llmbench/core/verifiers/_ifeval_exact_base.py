"""IFEval's instruction ids and options, and its tokenisers and language identification
(nltk's Punkt, langdetect seeded), loaded lazily from the ``ifeval`` extra (see
ifeval_exact.py)."""

from __future__ import annotations

import collections
import re
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
