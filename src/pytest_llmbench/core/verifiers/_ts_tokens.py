"""The TypeScript eraser's tokenizer and token cursor (see ts_erase.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass


class TypeEraseError(ValueError):
    """The source uses TypeScript this eraser does not handle, or does not tokenize."""


class TypeEraseUnsupported(TypeEraseError):
    """Valid TypeScript that only ``tsc`` handles (enum, namespace, decorators...): the
    sandbox's shortcoming, not the model's."""


@dataclass
class Tok:
    kind: str  # id num str tmpl regex punct
    text: str
    start: int
    end: int
    nl: bool  # a line break precedes it


_PUNCT = sorted(
    "=> ... ?. ??= ?? === !== == != <= &&= ||= && || ++ -- += -= *= /= %= ** << |= &= ^=".split(),  # noqa: SIM905
    key=len,
    reverse=True,
)
_KEYWORDS = set(
    "break case catch class const continue debugger default delete do else export extends "  # noqa: SIM905
    "finally for function if import in instanceof let new return super switch throw try "
    "typeof var void while with yield await of".split()
)
_VALUE_WORDS = {"this", "true", "false", "null", "undefined", "super"}
_MODIFIERS = {"public", "private", "protected", "readonly", "override"}
_ID_RE = re.compile(r"[A-Za-z_$\u0080-\uffff#][\w$\u0080-\uffff]*")
_NUM_RE = re.compile(
    r"(?:0[xXoObB][\da-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?"
)


def _skip_string(src: str, i: int) -> int:
    q = src[i]
    j = i + 1
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == q:
            return j + 1
        if c == "\n":
            break
        j += 1
    raise TypeEraseError(f"unterminated string at offset {i}")


def _skip_template(src: str, i: int) -> int:
    j = i + 1
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == "`":
            return j + 1
        if c == "$" and src.startswith("${", j):
            depth = 1
            j += 2
            while j < len(src) and depth:
                c = src[j]
                if c in "'\"":
                    j = _skip_string(src, j)
                    continue
                if c == "`":
                    j = _skip_template(src, j)
                    continue
                depth += {"{": 1, "}": -1}.get(c, 0)
                j += 1
            continue
        j += 1
    raise TypeEraseError(f"unterminated template literal at offset {i}")


def _regex_allowed(prev: Tok | None) -> bool:
    if prev is None:
        return True
    if prev.kind in ("num", "str", "tmpl", "regex"):
        return False
    if prev.kind == "id":
        return prev.text in _KEYWORDS and prev.text not in _VALUE_WORDS
    return prev.text not in (")", "]", "}")


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n, nl = 0, len(src), False
    while i < n:
        c = src[i]
        if c in " \t\r\n\f\v\ufeff":
            nl = nl or c in "\r\n"
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise TypeEraseError(f"unterminated comment at offset {i}")
            nl = nl or "\n" in src[i:j]
            i = j + 2
            continue
        start = i
        prev = toks[-1] if toks else None
        if c in "'\"":
            i, kind = _skip_string(src, i), "str"
        elif c == "`":
            i, kind = _skip_template(src, i), "tmpl"
        elif c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = _NUM_RE.match(src, i)
            assert m is not None
            i, kind = m.end(), "num"
        elif c == "/" and _regex_allowed(prev):
            j, in_class = i + 1, False
            while j < n and (src[j] != "/" or in_class):
                if src[j] == "\\":
                    j += 1
                elif src[j] == "[":
                    in_class = True
                elif src[j] == "]":
                    in_class = False
                elif src[j] == "\n":
                    raise TypeEraseError(f"unterminated regular expression at offset {i}")
                j += 1
            j += 1
            while j < n and (src[j].isalnum()):
                j += 1
            i, kind = j, "regex"
        else:
            m = _ID_RE.match(src, i)
            if m:
                i, kind = m.end(), "id"
            else:
                p = next((p for p in _PUNCT if src.startswith(p, i)), c)
                i, kind = i + len(p), "punct"
        toks.append(Tok(kind, src[start:i], start, i, nl))
        nl = False
    return toks


_OPEN = {"(": ")", "[": "]", "{": "}"}


def _match(toks: list[Tok]) -> dict[int, int]:
    out: dict[int, int] = {}
    stack: list[int] = []
    for i, t in enumerate(toks):
        if t.kind != "punct":
            continue
        if t.text in _OPEN:
            stack.append(i)
        elif t.text in (")", "]", "}"):
            if not stack or _OPEN[toks[stack[-1]].text] != t.text:
                raise TypeEraseError(f"unbalanced {t.text!r} at offset {t.start}")
            out[stack.pop()] = i
    if stack:
        raise TypeEraseError(f"unclosed {toks[stack[-1]].text!r} at offset {toks[stack[-1]].start}")
    return out


_TYPE_OK = {",", ".", "[", "]", "{", "}", "(", ")", "|", "&", "=>", ":", ";", "?", "<", ">"}
_TYPE_OK |= {"...", "-", "!"}


class _Cursor:
    """Tokens of one source, their bracket pairs, and the eraser's edits so far; reading
    helpers (the walk itself is _Eraser's, in ts_erase.py)."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.t = tokenize(src)
        self.m = _match(self.t)
        self.blank: list[tuple[int, int]] = []  # token index ranges [a, b)
        self.insert: list[tuple[int, str]] = []  # (char offset, text)
        # token index of an opener -> its kind: params, class, spec, pattern
        self.kind: dict[int, str] = {}
        self.ctor_props: dict[int, list[str]] = {}  # params '(' -> property names

    # -- helpers
    def tk(self, i: int) -> Tok | None:
        return self.t[i] if 0 <= i < len(self.t) else None

    def is_(self, i: int, *texts: str) -> bool:
        t = self.tk(i)
        return t is not None and t.text in texts

    def id_at(self, i: int) -> bool:
        t = self.tk(i)
        return t is not None and t.kind == "id"

    def expr_end(self, i: int) -> bool:
        t = self.tk(i)
        if t is None:
            return False
        if t.kind == "id":
            return t.text not in _KEYWORDS or t.text in _VALUE_WORDS
        return t.kind in ("num", "str", "tmpl", "regex") or t.text in (")", "]", "}")

    def stmt_start(self, i: int) -> bool:
        p = self.tk(i - 1)
        if p is None or p.text in (";", "{", "}"):
            return True
        if p.text in ("export", "default", "declare"):
            return True
        return self.t[i].nl and (self.expr_end(i - 1))

    def skip_balanced_angle(self, i: int, strict: bool) -> int | None:
        """From '<' at i, the index after its matching '>' (None if not a type list)."""
        depth = 0
        j = i
        while j < len(self.t):
            t = self.t[j]
            if t.text in _OPEN:
                j = self.m[j] + 1
                continue
            if t.text == "<":
                depth += 1
            elif t.text == ">":
                depth -= 1
                if depth == 0:
                    return j + 1
            elif t.kind == "punct" and strict and (t.text not in _TYPE_OK or t.text == ";"):
                return None
            j += 1
        return None

    def parse_type(self, i: int) -> int:
        """Index after the type starting at token i."""
        j = i
        if self.is_(j, "|", "&"):
            j += 1
        while True:
            j = self._primary(j)
            while self.is_(j, "[") and self.m.get(j) is not None:
                j = self.m[j] + 1
            if self.id_at(j) and self.t[j].text == "is" and not self.t[j].nl:
                j = self.parse_type(j + 1)
            if self.id_at(j) and self.t[j].text == "extends" and self.is_(j + 2, "?", "<", "["):
                # conditional type: A extends B ? C : D
                j = self.parse_type(j + 1)
                if self.is_(j, "?"):
                    j = self.parse_type(j + 1)
                    if self.is_(j, ":"):
                        j = self.parse_type(j + 1)
            if self.is_(j, "|", "&"):
                j += 1
                continue
            return j

    def _primary(self, j: int) -> int:
        t = self.tk(j)
        if t is None:
            return j
        if t.text in ("keyof", "readonly", "unique", "infer", "asserts") and self.id_at(j + 1):
            return self._primary(j + 1)
        if t.text in ("keyof", "readonly") and self.is_(j + 1, "(", "[", "{"):
            return self._primary(j + 1)
        if t.text == "typeof":
            j += 1
            while self.id_at(j) and self.is_(j + 1, "."):
                j += 2
            return j + 1
        if t.text == "new":
            return self._primary(j + 1)
        if t.text == "<":
            k = self.skip_balanced_angle(j, strict=False)
            return self._primary(k) if k is not None else j + 1
        if t.text == "(":
            k = self.m[j] + 1
            if self.is_(k, "=>"):
                return self.parse_type(k + 1)
            return k
        if t.text in ("{", "["):
            return self.m[j] + 1
        if t.text == "-" and self.tk(j + 1) is not None:
            return j + 2
        if t.kind in ("num", "str", "tmpl"):
            return j + 1
        if t.kind == "id":
            j += 1
            while self.is_(j, ".") and self.id_at(j + 1):
                j += 2
            if self.is_(j, "<") and not self.t[j].nl:
                k = self.skip_balanced_angle(j, strict=False)
                if k is not None:
                    j = k
            return j
        return j

    def stmt_end(self, i: int) -> int:
        """Index after a declaration-like statement starting at i (';' or line end)."""
        j = i
        while j < len(self.t):
            t = self.t[j]
            if t.text in _OPEN:
                j = self.m[j] + 1
                if self.t[j - 1].text == "}" and t.text == "{" and not self.is_(j, "|", "&", ";"):
                    nxt = self.tk(j)
                    if nxt is None or nxt.nl:
                        return j
                continue
            if t.text == ";":
                return j + 1
            if t.text in (")", "]", "}"):
                return j
            nxt = self.tk(j + 1)
            if (
                nxt is not None
                and nxt.nl
                and t.text not in ("=", "|", "&", "=>", ",", ":", "<", ".", "?", "extends")
                and nxt.text not in ("|", "&", "=>", ".", "?", ":", "extends", "=")
            ):
                return j + 1
            j += 1
        return j

    def blank_to(self, a: int, b: int) -> int:
        self.blank.append((a, b))
        return b
