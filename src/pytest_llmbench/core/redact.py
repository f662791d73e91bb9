"""Secrets out of everything the harness writes.

A server may echo the request's ``Authorization`` header in an error body (or a
proxy may add its own key); that text becomes an error message, a stored response,
a JUnit property, the run log, the reports. Every API key this process read is
registered here and replaced wherever it appears; in error texts any value that
follows an ``Authorization``/``api-key`` style name is replaced too, whatever it is.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"
_secrets: set[str] = set()

# name, optional quotes/escapes, ':' or '=', an optional auth scheme, then the value
# (a value stops at whitespace, a quote, a backslash or a JSON/CSV/query separator,
# so a redacted JSON document still parses).
_HEADER = (
    r"((?:proxy-)?authorization|x-api-key|api[-_]?key|access[-_]token|x-goog-api-key)"
    r"([\\\"']*\s*[:=]\s*[\\\"']*)((?:bearer|basic|token)\s+)?([^\s\"'\\,;}&<>]+)"
)
_HEADER_RE = re.compile(_HEADER, re.IGNORECASE)
# The regex scans slowly (every position, case-folded alternation); these substrings
# of a lower-cased copy decide in a few microseconds that a body has no such header.
_NAMES = ("authorization", "api-key", "api_key", "apikey", "access-token", "access_token")


def register_secret(value: str | None) -> None:
    """Remember a key read in this process (short values would redact ordinary words)."""
    if value and len(value) >= 6:
        _secrets.add(value)


def _sub(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}"


def redact(text: str) -> str:
    """``text`` with every registered key and every auth header value replaced."""
    for s in _secrets:
        if s in text:
            text = text.replace(s, REDACTED)
    low = text.lower()
    if not any(n in low for n in _NAMES):
        return text
    return _HEADER_RE.sub(_sub, text)


def redact_bytes(data: bytes) -> bytes:
    """Registered keys out of a raw reply body before it is parsed and stored. Only
    those: a model's answer that names an ``api_key`` argument is what gets judged."""
    for s in _secrets:
        b = s.encode()
        if b in data:
            data = data.replace(b, REDACTED.encode())
    return data


def redact_known(text: str) -> str:
    """Registered keys only: the cheap last net over every line the run log gets."""
    for s in _secrets:
        if s in text:
            text = text.replace(s, REDACTED)
    return text
