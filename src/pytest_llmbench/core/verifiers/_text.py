"""Text helpers shared by verifier families."""

from __future__ import annotations

import re
import unicodedata

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_+-]*[ \t]*\n(.*?)\n?```\s*$", re.DOTALL)
_ANSWER_LINE = re.compile(r"^\s*\**\s*ANSWER\s*\**\s*:\s*\**\s*(.+?)\s*\**\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")


def strip_fence(text: str) -> tuple[str, bool]:
    """Remove one enclosing markdown code fence; report whether there was one."""
    m = _FENCE.match(text)
    if m:
        return m.group(1), True
    return text, False


def answer_line(text: str) -> str | None:
    """The value of the last ``ANSWER: ...`` line, or None."""
    found = None
    for line in text.splitlines():
        m = _ANSWER_LINE.match(line)
        if m:
            found = m.group(1)
    return found


def parse_number(text: str) -> float | None:
    """The first number in ``text`` ("1,234.5" -> 1234.5, "$42" -> 42, "-3e2" -> -300)."""
    m = _NUMBER.search(text)
    if not m:
        return None
    try:
        return float(m.group(0).replace(",", ""))
    except ValueError:
        return None


def normalize(
    text: str,
    *,
    ignore_case: bool = True,
    collapse_ws: bool = True,
    strip_accents: bool = False,
    strip_punct: bool = False,
) -> str:
    """Normalise text for comparison; each flag names what is ignored."""
    out = text
    if ignore_case:
        out = out.casefold()
    if strip_accents:
        out = "".join(
            ch for ch in unicodedata.normalize("NFKD", out) if not unicodedata.combining(ch)
        )
    if strip_punct:
        out = re.sub(r"[^\w\s]", "", out)
    if collapse_ws:
        out = " ".join(out.split())
    return out


def short(text: str, limit: int = 80) -> str:
    """A one-line, length-capped repr for traces."""
    flat = text.replace("\n", "\\n")
    if len(flat) > limit:
        flat = flat[: limit - 3] + "..."
    return repr(flat)
