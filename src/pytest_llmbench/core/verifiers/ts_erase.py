"""A small TypeScript type eraser, used when the sandbox has no ``tsc``.

It blanks type syntax out of the source (positions and line numbers are kept) and
leaves plain modern JavaScript that node 18 runs as an ES module. Covered: type
annotations on variables, parameters, returns and class fields; optional ``?`` and
definite ``!`` marks; interfaces; type aliases; ``import type``/``export type``;
``as``/``satisfies`` casts; non-null ``x!``; generics on functions, classes, methods
and calls; ``implements``; access modifiers, ``readonly`` and ``abstract``/``declare``
members; parameter properties (``constructor(private x: T)``, turned into
assignments); overload signatures. Not covered (a clear :class:`TypeEraseError`):
``enum``, ``namespace``/``module``, decorators, ``import x = require()``. Types inside
template-literal ``${}`` parts are left alone.

No type checking happens: a type error is not a failure here, only a runtime one.
"""

from __future__ import annotations

from ._ts_tokens import _KEYWORDS, _MODIFIERS, _OPEN, TypeEraseError, TypeEraseUnsupported, _Cursor


class _Eraser(_Cursor):
    # -- the walk
    def run(self) -> None:
        stack: list[int] = []  # token indexes of open brackets
        class_next = False
        spec_next = False
        decl: list[tuple[int, str]] = []  # (stack depth, state: bind|type|init)
        i = 0
        n = len(self.t)
        while i < n:
            t = self.t[i]
            top = stack[-1] if stack else -1
            top_kind = self.kind.get(top, "")
            if t.kind == "punct" and t.text == "@":
                raise TypeEraseUnsupported(
                    "decorators are not supported by the built-in type eraser"
                )
            # declarations ended by their bracket level closing or by ';'
            while decl and decl[-1][0] > len(stack):
                decl.pop()
            if t.text in _OPEN and t.kind == "punct":
                i = self._open(i, stack, class_next, spec_next, decl)
                class_next = spec_next = False
                continue
            if t.text in (")", "]", "}") and t.kind == "punct":
                if stack:
                    stack.pop()
                i += 1
                continue
            if t.kind == "id":
                j = self._word(i, stack, top_kind, decl)
                if j is not None:
                    if isinstance(j, tuple):
                        i, flag = j
                        class_next = class_next or flag == "class"
                        spec_next = spec_next or flag == "spec"
                    else:
                        i = j
                    continue
            if decl and decl[-1][0] == len(stack):
                depth, state = decl[-1]
                if t.text == ";":
                    decl.pop()
                elif t.text == "," and state == "init":
                    decl[-1] = (depth, "bind")
                elif state == "bind" and t.text == "!" and self.is_(i + 1, ":"):
                    self.blank_to(i, i + 1)
                elif state == "bind" and t.text == ":":
                    i = self.blank_to(i, self.parse_type(i + 1))
                    continue
                elif t.text == "=":
                    decl[-1] = (depth, "init")
            if top_kind == "params" or top_kind == "ctor":
                j2 = self._in_params(i, top)
                if j2 is not None:
                    i = j2
                    continue
            if top_kind == "class":
                j2 = self._in_class(i, top)
                if j2 is not None:
                    i = j2
                    continue
            # non-null assertion x! (but not x != y)
            if (
                t.text == "!"
                and self.expr_end(i - 1)
                and not t.nl
                and (not self.is_(i + 1, "=") or self.is_(i + 2, "="))
            ):
                self.blank_to(i, i + 1)
            if t.text == "<" and not self.expr_end(i - 1):
                # generic arrow function: <T>(x: T) => ...
                k = self.skip_balanced_angle(i, strict=False)
                if k is not None and self.is_(k, "(") and self.is_(self.m[k] + 1, "=>", ":"):
                    i = self.blank_to(i, k)
                    continue
            if t.text == "<" and (self.id_at(i - 1) or self.is_(i - 1, ">")):
                p = self.t[i - 1]
                if p.kind != "id" or p.text not in _KEYWORDS:
                    k = self.skip_balanced_angle(i, strict=True)
                    if k is not None and self.is_(k, "(", "`"):
                        i = self.blank_to(i, k)
                        continue
            i += 1

    def _open(
        self,
        i: int,
        stack: list[int],
        class_next: bool,
        spec_next: bool,
        decl: list[tuple[int, str]],
    ) -> int:
        t = self.t[i]
        close = self.m[i]
        kind = ""
        top_kind = self.kind.get(stack[-1], "") if stack else ""
        if t.text == "{" and class_next:
            kind = "class"
        elif t.text == "{" and spec_next:
            kind = "spec"
        elif t.text in "{[" and decl and decl[-1][0] == len(stack) and decl[-1][1] == "bind":
            # destructuring pattern of a declaration: no annotations inside
            kind = "pattern"
        elif t.text in "{[" and top_kind in ("params", "ctor") and self._param_start(i):
            kind = "pattern"
        elif t.text == "(":
            kind = self._paren_kind(i, close)
        self.kind[i] = kind
        stack.append(i)
        if kind in ("params", "ctor"):
            # return type after the parameter list
            k = close + 1
            if self.is_(k, ":"):
                e = self.parse_type(k + 1)
                self.blank_to(k, e)
                k = e
            if kind == "ctor" and self.is_(k, "{"):
                self.kind[k] = "ctorbody"
                self.ctor_props[k] = []
                self._ctor_body = k
        if t.text == "{" and self.kind.get(i) == "" and i in self.ctor_props:
            pass
        return i + 1

    def _paren_kind(self, i: int, close: int) -> str:
        p = self.tk(i - 1)
        after = close + 1
        ctor = p is not None and p.text == "constructor"
        if p is not None and p.kind == "id" and p.text in ("if", "while", "for", "switch", "with"):
            return ""
        if p is not None and p.text == "catch":
            return "params"
        if self.is_(after, "=>") or (
            self.is_(after, "{")
            and not self.t[after].nl
            or (self.is_(after, "{") and p is not None and (p.kind == "id" or p.text == ">"))
        ):
            return "ctor" if ctor else "params"
        if self.is_(after, ":"):
            e = self.parse_type(after + 1)
            if self.is_(e, "=>", "{"):
                return "params"
        # an overload signature or abstract method: handled by its declaration
        ends = self.is_(after, ";") or (self.tk(after) is not None and self.t[after].nl)
        if ends and p is not None and self._is_signature_head(i):
            return "params"
        return ""

    def _is_signature_head(self, i: int) -> bool:
        j = i - 1
        if self.is_(j, ">"):
            return True
        while j >= 0 and self.t[j].kind == "id":
            if self.t[j].text == "function":
                return True
            j -= 1
        return False

    def _param_start(self, i: int) -> bool:
        return self.is_(i - 1, "(", ",", "...") or (
            self.id_at(i - 1) and self.t[i - 1].text in _MODIFIERS
        )

    def _in_params(self, i: int, top: int) -> int | None:
        t = self.t[i]
        if t.text == "?" and self.is_(i + 1, ":", ",", ")", "="):
            return self.blank_to(i, i + 1)
        if t.text == ":" and not self._in_default(i, top):
            return self.blank_to(i, self.parse_type(i + 1))
        if t.kind == "id" and t.text in _MODIFIERS and self._param_start(i) and self.id_at(i + 1):
            if self.kind.get(top) == "ctor":
                self.ctor_props.setdefault(top, []).append(self.t[i + 1].text)
            j = i + 1
            while self.id_at(j) and self.t[j].text in _MODIFIERS and self.id_at(j + 1):
                j += 1
            return self.blank_to(i, j)
        if t.text == "this" and self._param_start(i) and self.is_(i + 1, ":"):
            e = self.parse_type(i + 2)
            if self.is_(e, ","):
                e += 1
            return self.blank_to(i, e)
        return None

    def _in_default(self, i: int, top: int) -> bool:
        j = i - 1
        while j > top:
            t = self.t[j]
            if t.text in (")", "]", "}") and t.kind == "punct":
                j = next(k for k, v in self.m.items() if v == j) - 1
                continue
            if t.text == ",":
                return False
            if t.text == "=":
                return True
            j -= 1
        return False

    def _member_start(self, i: int, top: int) -> bool:
        p = self.tk(i - 1)
        return p is not None and (p.text in (";", "}") or i - 1 == top or self.t[i].nl)

    def _in_class(self, i: int, top: int) -> int | None:
        t = self.t[i]
        if not self._member_start(i, top):
            if t.text in ("?", "!") and self.is_(i + 1, ":", ";", "=", "("):
                if self.is_(i + 1, ":"):
                    return self.blank_to(i, self.parse_type(i + 2))
                return self.blank_to(i, i + 1)
            if t.text == ":" and self._field_colon(i, top):
                return self.blank_to(i, self.parse_type(i + 1))
            if t.text == "<" and self._field_colon(i, top):
                k = self.skip_balanced_angle(i, strict=False)
                if k is not None and self.is_(k, "("):
                    return self.blank_to(i, k)
            return None
        j = i
        mods: list[str] = []
        while self.id_at(j) and self.id_at(j + 1) or (self.id_at(j) and self.is_(j + 1, "[", "#")):
            w = self.t[j].text
            if w not in (_MODIFIERS | {"abstract", "declare", "static", "async", "get", "set"}):
                break
            mods.append(w)
            j += 1
        if "abstract" in mods or "declare" in mods:
            return self.blank_to(i, self.stmt_end(i))
        if t.text == "[" and self.id_at(i + 1) and self.is_(i + 2, ":"):
            return self.blank_to(i, self.stmt_end(i))  # index signature
        # drop TS-only modifiers, keep static/async/get/set
        k = i
        while k < j:
            if self.t[k].text in _MODIFIERS:
                self.blank_to(k, k + 1)
            k += 1
        # overload signature: name(...)...; with no body
        name_end = j + 1
        if self.is_(name_end, "?"):
            name_end += 1
        if self.is_(name_end, "<"):
            e = self.skip_balanced_angle(name_end, strict=False)
            name_end = e if e is not None else name_end
        if self.is_(name_end, "("):
            e = self.m[name_end] + 1
            if self.is_(e, ":"):
                e = self.parse_type(e + 1)
            if not self.is_(e, "{"):
                return self.blank_to(i, e + 1 if self.is_(e, ";") else e)
        return j if j > i else None

    def _field_colon(self, i: int, top: int) -> bool:
        """A ':' or '<' right after a member name (with its modifiers) in a class body."""
        j = i - 1
        if self.is_(j, "?", "!"):
            j -= 1
        if not (self.id_at(j) or self.tk(j) is not None and self.t[j].kind in ("str", "num")):
            return False
        k = j - 1
        while self.id_at(k) and self.t[k].text in (
            _MODIFIERS | {"static", "declare", "abstract", "async", "get", "set"}
        ):
            k -= 1
        return self._member_start(k + 1, top)

    def _word(
        self, i: int, stack: list[int], top_kind: str, decl: list[tuple[int, str]]
    ) -> int | tuple[int, str] | None:
        t = self.t[i]
        w = t.text
        if top_kind == "spec" and w == "type" and self.id_at(i + 1):
            e = i + 2
            if self.is_(e, "as"):
                e += 2
            if self.is_(e, ","):
                e += 1
            return self.blank_to(i, e)
        if top_kind in ("class", "spec", "pattern"):
            return None
        if self.is_(i - 1, "."):
            return None
        start = self.stmt_start(i)
        if w == "export" and start:
            if self.is_(i + 1, "type") and self.is_(i + 2, "{", "*"):
                return self.blank_to(i, self.stmt_end(i))
            if self.is_(i + 1, "{"):
                return (i + 1, "spec")
            if self.is_(i + 1, "interface", "declare") or (
                self.is_(i + 1, "type") and self.id_at(i + 2) and self.is_(i + 3, "=", "<")
            ):
                return self.blank_to(i, self._decl_end(i + 1))
            if self.is_(i + 1, "enum", "namespace", "module"):
                raise TypeEraseUnsupported(
                    f"{self.t[i + 1].text} is not supported by the built-in type eraser"
                )
            return None
        if w == "import" and (start or self.is_(i - 1, "export")):
            if self.is_(i + 1, "type") and not self.is_(i + 2, "from", ","):
                return self.blank_to(i, self.stmt_end(i))
            if self.id_at(i + 1) and self.is_(i + 2, "="):
                raise TypeEraseUnsupported(
                    "import x = require() is not supported by the built-in type eraser"
                )
            k = i + 1
            while k < len(self.t) and not self.is_(k, "{", ";") and not self.is_(k, "from"):
                k += 1
            if self.is_(k, "{"):
                return (k, "spec")
            return None
        if start and w in ("interface", "declare") and (self.id_at(i + 1)):
            return self.blank_to(i, self._decl_end(i))
        if start and w == "type" and self.id_at(i + 1) and self.is_(i + 2, "=", "<"):
            return self.blank_to(i, self._decl_end(i))
        if (
            start
            and w in ("enum", "namespace", "module")
            and self.id_at(i + 1)
            and (self.is_(i + 2, "{") or w == "enum")
        ):
            raise TypeEraseUnsupported(f"{w} is not supported by the built-in type eraser")
        if w == "const" and self.is_(i + 1, "enum"):
            raise TypeEraseUnsupported("const enum is not supported by the built-in type eraser")
        if w == "abstract" and self.is_(i + 1, "class"):
            return self.blank_to(i, i + 1)
        if w == "class":
            j = i + 1
            if self.id_at(j) and self.t[j].text not in ("extends", "implements"):
                j += 1
            if self.is_(j, "<"):
                ge = self.skip_balanced_angle(j, strict=False)
                if ge is not None:
                    j = self.blank_to(j, ge)
            if self.is_(j, "extends"):
                j += 1
                while j < len(self.t) and not self.is_(j, "{", "implements"):
                    if self.is_(j, "<"):
                        ge = self.skip_balanced_angle(j, strict=False)
                        if ge is not None:
                            j = self.blank_to(j, ge)
                            continue
                    j = self.m[j] + 1 if self.is_(j, "(", "[") else j + 1
            if self.is_(j, "implements"):
                k = j
                while k < len(self.t) and not self.is_(k, "{"):
                    k += 1
                j = self.blank_to(j, k)
            return (j, "class")
        if w == "function":
            j = i + 1
            if self.is_(j, "*"):
                j += 1
            if self.id_at(j):
                j += 1
            if self.is_(j, "<"):
                ge = self.skip_balanced_angle(j, strict=False)
                if ge is not None:
                    self.blank_to(j, ge)
                    j = ge
            if self.is_(j, "("):
                e = self.m[j] + 1
                if self.is_(e, ":"):
                    e = self.parse_type(e + 1)
                if not self.is_(e, "{"):
                    s = i - 1 if self.is_(i - 1, "export") else i
                    s = s - 1 if self.is_(s - 1, "export") and self.is_(s, "default") else s
                    return self.blank_to(s, e + 1 if self.is_(e, ";") else e)
                self.kind[j] = "params"
            return j
        if w in ("let", "const", "var") and not self.is_(i + 1, "=", ".", ")", ";"):
            decl.append((len(stack), "bind"))
            return i + 1
        if w in ("as", "satisfies") and self.expr_end(i - 1) and not self.t[i].nl:
            if self.is_(i - 1, "*"):
                return None
            if w == "as" and self.is_(i + 1, "const"):
                return self.blank_to(i, i + 2)
            return self.blank_to(i, self.parse_type(i + 1))
        if w in ("private", "public", "protected") and self.is_(i + 1, "constructor"):
            return self.blank_to(i, i + 1)
        return None

    def _decl_end(self, i: int) -> int:
        """End of an interface / type alias / declare statement starting at token i."""
        if self.t[i].text == "interface" or (
            self.t[i].text == "declare"
            and self.is_(i + 1, "class", "interface", "module", "namespace", "global")
        ):
            k = i
            while k < len(self.t) and not self.is_(k, "{"):
                k += 1
            return self.m.get(k, k) + 1 if k < len(self.t) else k
        return self.stmt_end(i)

    def output(self) -> str:
        chars = list(self.src)
        for a, b in self.blank:
            if a >= b:
                continue
            lo, hi = self.t[a].start, self.t[b - 1].end
            for c in range(lo, hi):
                if chars[c] not in "\r\n":
                    chars[c] = " "
        inserts = sorted(self.insert)
        out: list[str] = []
        last = 0
        for off, text in inserts:
            out.append("".join(chars[last:off]))
            out.append(text)
            last = off
        out.append("".join(chars[last:]))
        return "".join(out)

    def finish_ctor_props(self) -> None:
        for paren, names in self.ctor_props.items():
            if not names or self.kind.get(paren) != "ctor":
                continue
            body = self.m[paren] + 1
            while body < len(self.t) and not self.is_(body, "{"):
                body += 1
            if body >= len(self.t):
                continue
            at = self.t[body].end
            close = self.m[body]
            k = body + 1
            while k < close:
                if self.is_(k, "super") and self.is_(k + 1, "(") and self.is_(k - 1, "{", ";"):
                    e = self.m[k + 1] + 1
                    at = self.t[e].end if self.is_(e, ";") else self.t[e - 1].end
                    break
                k += 1
            self.insert.append((at, " " + " ".join(f"this.{n} = {n};" for n in names)))


def erase_types(src: str) -> str:
    """JavaScript from TypeScript source (see the module doc for the subset)."""
    e = _Eraser(src)
    e.run()
    e.finish_ctor_props()
    return e.output()


__all__ = ["TypeEraseError", "TypeEraseUnsupported", "erase_types"]
