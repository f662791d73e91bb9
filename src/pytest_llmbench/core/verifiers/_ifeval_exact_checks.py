"""One check per IFEval instruction id, deciding as IFEval's reference checker does,
quirks included (see ifeval_exact.py and docs/fidelity.md)."""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ._ifeval_exact_base import (
    CONSTRAINED_OPTIONS,
    IDS,
    count_words,
    detect,
    sentences,
    word_tokens,
)

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
