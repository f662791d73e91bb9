"""Text measures for the instructions verifier: words, sentences, paragraphs, language."""

from __future__ import annotations

import re

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
