"""Structured output, XML: ``xml`` (well-formed, the root, XPath expectations).

The format/structure/content split and the shared checks are structure.py's."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from pydantic import Field, model_validator

from ..output import Output
from ._text import strip_fence
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .structure import _Args, _count, _fence_or_prose, _Result, show
from .structure_tables import cell_equal

# --------------------------------------------------------------------------- XML

_NS = re.compile(r"^\{[^}]*\}")


def _check_xpath(path: str) -> None:
    try:
        ET.Element("probe").findall(path)
    except (SyntaxError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad ElementTree path {path!r}: {exc}") from None


def _split_attr(key: str) -> tuple[str, str | None]:
    """'item[2]/@sku' -> ('item[2]', 'sku'); '@version' -> ('.', 'version')."""
    path, sep, attr = key.rpartition("@")
    if not sep or "[" in attr or "/" in attr:
        return key, None
    path = path.rstrip("/") or "."
    return path, attr


class XmlArgs(_Args):
    root: str = Field(min_length=1)
    require: list[str] = Field(default_factory=list)
    count: dict[str, int] = Field(default_factory=dict)
    attrs: dict[str, list[str]] = Field(default_factory=dict)
    expect: dict[str, Any] = Field(default_factory=dict)
    strict: bool = True
    ignore_namespaces: bool = True
    ignore_case: bool = False

    @model_validator(mode="after")
    def _paths_compile(self) -> XmlArgs:
        for p in [*self.require, *self.count, *self.attrs]:
            _check_xpath(p)
        for key in self.expect:
            _check_xpath(_split_attr(key)[0])
        if any(n < 0 for n in self.count.values()):
            raise ValueError("count values must be >= 0")
        return self


@register("xml")
class Xml(Verifier):
    """Well-formed XML (DOCTYPE/entities rejected) with a ``root`` tag, ``require``d
    paths, exact element ``count``s, required ``attrs`` and expected texts/attributes
    (``expect``: ``{"item[2]/name": "Bolt", "item[1]/@sku": "A-1"}``; ElementTree paths)."""

    Args = XmlArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: XmlArgs = self.args  # type: ignore[assignment]
        res = _Result("xml", a.strict)
        body, fenced = strip_fence(output.text.strip())
        lo, hi = body.find("<"), body.rfind(">")
        if lo < 0 or hi < lo:
            res.fmt.append(_fence_or_prose(fenced, body, "", "XML"))
            res.parsed = False
            res.struct.append(Check("well-formed", False, "no XML element", "well-formed XML"))
            return res.verdict()
        doc = body[lo : hi + 1]
        res.fmt.append(_fence_or_prose(fenced, body[:lo].strip(), body[hi + 1 :].strip(), "XML"))
        if re.search(r"<!(DOCTYPE|ENTITY)", doc, re.IGNORECASE):
            # entity tricks (external entities, billion laughs) have no place in an answer
            res.parsed = False
            res.struct.append(Check("no DOCTYPE", False, "a DOCTYPE/ENTITY declaration", "none"))
            return res.verdict()
        try:
            root = ET.fromstring(doc)
        except ET.ParseError as exc:
            res.parsed = False
            res.struct.append(Check("well-formed", False, f"error: {exc}", "well-formed XML"))
            return res.verdict()
        except ValueError as exc:  # e.g. an unsupported encoding declaration
            res.parsed = False
            res.struct.append(Check("well-formed", False, str(exc)[:80], "well-formed XML"))
            return res.verdict()
        if a.ignore_namespaces:
            for el in root.iter():
                if isinstance(el.tag, str):
                    el.tag = _NS.sub("", el.tag)
        res.struct.append(Check("root", root.tag == a.root, f"<{root.tag}>", f"<{a.root}>"))
        for path in a.require:
            n = len(root.findall(path))
            res.struct.append(Check(path, n > 0, _count(n, "element"), ">= 1 element"))
        for path, want_n in a.count.items():
            n = len(root.findall(path))
            res.struct.append(Check(f"count {path}", n == want_n, str(n), str(want_n)))
        for path, names in a.attrs.items():
            els = root.findall(path)
            for name in names:
                lacking = sum(1 for el in els if name not in el.attrib)
                ok = bool(els) and lacking == 0
                found = (
                    "no elements"
                    if not els
                    else (
                        f"missing on {lacking} of {len(els)}" if lacking else f"on all {len(els)}"
                    )
                )
                label = f"@{name}" if path == "." else f"{path}/@{name}"
                res.struct.append(Check(label, ok, found, "on every element"))
        for key, want in a.expect.items():
            path, attr = _split_attr(key)
            found_el = root.find(path)
            if found_el is None:
                res.content.append(Check(key, False, "missing", show(want)))
                continue
            if attr is not None:
                got = found_el.attrib.get(attr)
                if got is None:
                    res.content.append(Check(key, False, "missing", show(want)))
                    continue
            else:
                got = " ".join("".join(found_el.itertext()).split())
            ok = cell_equal(got, want, a.ignore_case)
            res.content.append(Check(key, ok, show(got), show(want)))
        return res.verdict()
