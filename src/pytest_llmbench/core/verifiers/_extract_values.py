"""Value normalisers of the ``fields`` verifier: amounts with currency and decimal marks,
dates in any common order or language, times, date-times, free text."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any, Literal

from ._text import normalize

FieldType = Literal[
    "text",
    "code",
    "exact",
    "number",
    "date",
    "time",
    "datetime",
    "currency",
    "bool",
    "set",
    "list",
    "null",
]
DecimalMark = Literal["point", "comma"]
DateOrder = Literal["dmy", "mdy"]


class _Absent:
    """Marks a path that does not exist in the answer (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()

# --- normalisers -------------------------------------------------------------------------

# Symbols and names map to every code they can stand for; a match needs the expected code.
_CURRENCY_WORDS: dict[str, set[str]] = {
    "€": {"EUR"},
    "euro": {"EUR"},
    "euros": {"EUR"},
    "$": {"USD"},
    "us$": {"USD"},
    "usd$": {"USD"},
    "dollar": {"USD"},
    "dollars": {"USD"},
    "us dollar": {"USD"},
    "us dollars": {"USD"},
    "£": {"GBP"},
    "pound": {"GBP"},
    "pounds": {"GBP"},
    "pound sterling": {"GBP"},
    "pounds sterling": {"GBP"},
    "sterling": {"GBP"},
    "¥": {"JPY", "CNY"},
    "yen": {"JPY"},
    "yuan": {"CNY"},
    "rmb": {"CNY"},
    "元": {"CNY"},
    "₹": {"INR"},
    "rupee": {"INR"},
    "rupees": {"INR"},
    "c$": {"CAD"},
    "ca$": {"CAD"},
    "a$": {"AUD"},
    "au$": {"AUD"},
    "nz$": {"NZD"},
    "r$": {"BRL"},
    "chf": {"CHF"},
    "fr.": {"CHF"},
    "swiss franc": {"CHF"},
    "swiss francs": {"CHF"},
    "kr": {"SEK", "NOK", "DKK"},
    "zł": {"PLN"},
    "zloty": {"PLN"},
    "₩": {"KRW"},
    "won": {"KRW"},
    "₺": {"TRY"},
    "₽": {"RUB"},
    "₪": {"ILS"},
}

_SYMBOLS = "€$£¥₹₩₺₽₪"
# Currency marks (or a short unit) allowed around a number: "$1,234.50", "1.234,50 EUR",
# "USD 99", "12,5 kg". The value itself must still match.
_CUR_AFFIX = re.compile(
    rf"^(?:[A-Za-z]{{2,3}}\.?|[A-Za-z]{{0,3}}[{_SYMBOLS}])\s*|\s*(?:[A-Za-z]{{2,3}}\.?|[{_SYMBOLS}])$"
)
_NUM_BODY = re.compile(r"^[-+]?\d[\d.,' \u00a0\u202f]*$|^[-+]?[.,]\d+$")


def currency_codes(raw: str) -> set[str]:
    """Every ISO code a currency mention can mean ("€" -> {EUR}, "usd" -> {USD})."""
    s = " ".join(raw.strip().casefold().split())
    if s in _CURRENCY_WORDS:
        return set(_CURRENCY_WORDS[s])
    if re.fullmatch(r"[a-z]{3}", s):
        return {s.upper()}
    return set()


def parse_amount(raw: Any, decimal: DecimalMark = "point") -> float | None:
    """A number from JSON or from text: "1,234.50", "1.234,50", "$1,234.50", "1 234,5 EUR".

    With both separators present the last one is the decimal mark; so is a lone
    separator after space grouping or not followed by exactly three digits. Only
    "1,234" / "1.234" is read by ``decimal``."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw) if math.isfinite(raw) else None
    if not isinstance(raw, str):
        return None
    s = raw.strip()
    for _ in range(2):  # a prefix and a suffix at most
        s = _CUR_AFFIX.sub("", s, count=1).strip()
    neg = s.startswith("-")
    s = s.lstrip("+-").strip()
    if not s or not _NUM_BODY.match(s):
        return None
    spaced = False
    if re.search(r"[' \u00a0\u202f]", s):
        if not re.fullmatch(r"\d{1,3}(?:[' \u00a0\u202f]\d{3})+(?:[.,]\d+)?", s):
            return None  # spaces only group thousands
        s = re.sub(r"[' \u00a0\u202f]", "", s)
        spaced = True
    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        dec = "." if s.rfind(".") > s.rfind(",") else ","
    elif has_dot or has_comma:
        mark = "." if has_dot else ","
        if s.count(mark) > 1:
            dec = "," if mark == "." else "."  # repeated mark: it groups thousands
        elif spaced or not re.fullmatch(rf"\d{{1,3}}{re.escape(mark)}\d{{3}}", s):
            dec = mark
        else:
            dec = "." if decimal == "point" else ","
    else:
        dec = "."
    thou = "," if dec == "." else "."
    whole, _, frac = s.partition(dec) if dec in s else (s, "", "")
    if thou in whole and not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(thou)}\d{{3}})+", whole):
        return None  # "1,23" is not a grouped number
    if not re.fullmatch(r"\d*", frac) or dec in frac:
        return None
    try:
        digits = whole.replace(thou, "")
        val = float(f"{digits}.{frac}" if frac else digits)
    except ValueError:
        return None
    return -val if neg else val


_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAYS = re.compile(
    r"\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|rsday|urday)?\b\.?",
    re.IGNORECASE,
)


def _mk_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def parse_date(raw: Any, order: DateOrder | None = None) -> tuple[dt.date | None, str]:
    """(date, why-not). ISO, "5 March 2024", "March 5, 2024", "05/03/2024" (by ``order``;
    without one, only unambiguous numeric dates are read). Two-digit years are refused."""
    if not isinstance(raw, str):
        return None, "not a string"
    s = raw.strip()
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]\d{1,2}:\d{2}.*)?", s)
    if m:
        got = _mk_date(int(m[1]), int(m[2]), int(m[3]))
        return got, "" if got else "no such day"
    m = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", s)
    if m:
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        use = order
        if use is not None and max(a, b) > 12 and min(a, b) <= 12:
            use = "dmy" if a > 12 else "mdy"  # only one reading is a real date
        if use is None:
            if a > 12 >= b:
                use = "dmy"
            elif b > 12 >= a:
                use = "mdy"
            elif a == b:
                use = "dmy"
            else:
                return None, "ambiguous day/month"
        got = _mk_date(y, b, a) if use == "dmy" else _mk_date(y, a, b)
        return got, "" if got else "no such day"
    words = _WEEKDAYS.sub(" ", s)
    words = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", words, flags=re.IGNORECASE)
    words = re.sub(r"\bof\b|[,.]", " ", words, flags=re.IGNORECASE)
    toks = words.split()
    if len(toks) == 3:
        low = [t.casefold() for t in toks]
        months = [i for i, t in enumerate(low) if t in _MONTHS]
        if len(months) == 1 and all(t.isdigit() for i, t in enumerate(toks) if i != months[0]):
            mi = months[0]
            month = _MONTHS[low[mi]]
            year_pos = [i for i, t in enumerate(toks) if i != mi and len(t) == 4]
            if len(year_pos) == 1:
                year = int(toks[year_pos[0]])
                day = next(int(t) for i, t in enumerate(toks) if i not in (mi, year_pos[0]))
                got = _mk_date(year, month, day)
                return got, "" if got else "no such day"
    return None, "not a date"


def parse_time(raw: Any) -> tuple[int, int, int] | None:
    """(h, m, s) from "14:30", "14:30:00", "2:30 PM", "2.30pm", "2 pm"."""
    if not isinstance(raw, str):
        return None
    s = raw.strip().casefold().replace(".m.", "m").replace(" ", "")
    m = re.fullmatch(r"(\d{1,2})(?:[:.h](\d{2}))?(?::(\d{2}))?(am|pm)?", s)
    if not m or (m[2] is None and m[4] is None):
        return None
    h, mi, sec = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if m[4]:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if m[4] == "pm" else 0)
    if h > 23 or mi > 59 or sec > 59:
        return None
    return h, mi, sec


def parse_datetime(raw: Any) -> dt.datetime | None:
    """ISO 8601 date-time ("2024-03-05T14:03:22Z", "2024-03-05 14:03", offsets allowed)."""
    if not isinstance(raw, str):
        return None
    s = raw.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", s):
        return None
    try:
        return dt.datetime.fromisoformat(s)
    except ValueError:
        return None


def norm_text(raw: str) -> str:
    """Case, whitespace and punctuation-insensitive form ("ACME, GmbH." == "acme gmbh")."""
    return normalize(re.sub(r"[^\w\s]", " ", raw), ignore_case=True, collapse_ws=True)


def _is_iso_date(v: Any) -> bool:
    try:
        dt.date.fromisoformat(v)
    except (TypeError, ValueError):
        return False
    return isinstance(v, str) and len(v) == 10


def _item_key(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return json.dumps(x)
    if isinstance(x, (int, float)):
        return f"{float(x):g}"
    if isinstance(x, str):
        num = parse_amount(x)
        return f"{num:g}" if num is not None and re.fullmatch(r"[\d.,\s-]+", x) else norm_text(x)
    return json.dumps(x, sort_keys=True)
