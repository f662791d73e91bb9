"""BFCL's Java/JavaScript type converters, re-implemented: parameter values written as
strings in that language's syntax become plain values, with BFCL's regular expressions
and their quirks (see _bfcl.py)."""

from __future__ import annotations

import re
from typing import Any

_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_JAVA_TYPES: dict[str, type] = {
    "byte": int,
    "short": int,
    "integer": int,
    "float": float,
    "double": float,
    "long": int,
    "boolean": bool,
    "char": str,
    "Array": list,
    "ArrayList": list,
    "Set": set,
    "HashMap": dict,
    "Hashtable": dict,
    "Queue": list,
    "Stack": list,
    "String": str,
    "any": str,
}
_JS_TYPES: dict[str, type] = {
    "String": str,
    "integer": int,
    "float": float,
    "Bigint": int,
    "Boolean": bool,
    "dict": dict,
    "array": list,
    "any": str,
}
_TYPES: dict[str, dict[str, type]] = {
    "python": _PY_TYPES,
    "java": _JAVA_TYPES,
    "javascript": _JS_TYPES,
}
# Types whose items BFCL checks (one level deep).
_NESTED = {"python": ("array", "tuple"), "java": ("Array", "ArrayList"), "javascript": ("array",)}


class Unsupported(Exception):  # noqa: N818 - reads better in messages
    """A declared type BFCL's checker cannot handle (it raises there too)."""


# --------------------------------------------------------------------------- type conversion


def _java(value: str, t: str, nested: str | None = None) -> Any:
    if t not in _JAVA_TYPES:
        raise Unsupported(f"Java type {t!r}")
    if t in ("byte", "short", "integer"):
        return int(value) if re.match(r"^-?\d+$", value) else value
    if t == "float":
        if not re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$", value):
            return value
        return float(re.sub(r"[fF]$", "", value))
    if t == "double":
        if not re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$", value):
            return value
        return float(value)
    if t == "long":
        if not re.match(r"^-?\d+[lL]$", value):
            return value
        return int(re.sub(r"[lL]$", "", value))
    if t == "boolean":
        return value == "true" if value in ("true", "false") else value
    if t in ("char", "String", "any"):
        return value
    if t == "ArrayList":
        return _java_arraylist(value, nested)
    if t == "Array":
        return _java_array(value, nested)
    if t == "HashMap":
        return _java_hashmap(value)
    raise Unsupported(f"Java type {t!r} has no conversion")


def _java_element(text: str, nested: str | None) -> Any:
    if nested in ("char", "String"):
        return text[1:-1]
    return _java(text, nested) if nested else _java_literal(text)


def _java_arraylist(value: str, nested: str | None) -> Any:
    m = re.search(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)", value)
    if m:
        return [_java_element(e.strip(), nested) for e in m.group(1).split(",")]
    m = re.search(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", value, re.DOTALL)
    if m:
        return [_java_element(a.strip(), nested) for a in re.findall(r"add\((.+?)\)", m.group(1))]
    if re.search(r"new\s+ArrayList<\w*>\(\)", value):
        return []
    return value


def _java_array(value: str, nested: str | None) -> Any:
    m = re.search(r"new\s+\w+\[\]\s*\{(.*?)\}", value)
    if not m:
        return value
    parts = [x.strip() for x in m.group(1).split(",") if x.strip()]
    return [_java(x, nested) if nested else _java_literal(x) for x in parts]


def _java_hashmap(value: str) -> Any:
    m = re.search(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", value, re.DOTALL)
    if m:
        out: dict[str, Any] = {}
        if m.group(1).strip():
            for k, v in re.findall(r"put\(\"(.*?)\",\s*(.*?)\)", m.group(1)):
                out[k] = _java_literal(v.strip())
        return out
    if re.search(r"new\s+HashMap<.*?>\s*\(\)", value):
        return {}
    return value


def _java_literal(text: str) -> Any:
    """A Java literal of unknown type."""
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if re.match(r"^-?\d+[lL]$", text):
        return int(text[:-1])
    if re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$", text):
        return float(re.sub(r"[fF]$", "", text))
    return _number_or_text(text)


def _number_or_text(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _js(value: str, t: str, nested: str | None = None) -> Any:
    if t not in _JS_TYPES:
        raise Unsupported(f"JavaScript type {t!r}")
    if t == "String":
        quoted = (value.startswith('"') and value.endswith('"')) or (
            value.startswith("'") and value.endswith("'")
        )
        return value[1:-1] if quoted else value
    if t == "integer":
        return int(value) if re.match(r"^-?\d+$", value) else value
    if t == "float":
        return float(value) if re.match(r"^-?\d+(\.\d+)?$", value) else value
    if t == "Bigint":
        return int(value[:-1]) if re.match(r"^-?\d+n$", value) else value
    if t == "Boolean":
        return value == "true" if value in ("true", "false") else value
    if t == "dict":
        return _js_collection(value, "dict")
    if t == "array":
        return _js_collection(value, "array", nested)
    return value  # any


def _js_literal(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if (text.startswith('"') and text.endswith('"')) or (
        text.startswith("'") and text.endswith("'")
    ):
        return text[1:-1]
    return _number_or_text(text)


_JS_2D = r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)"
_JS_1D = r"\[(.*?)\]|\bnew\s+Array\((.*?)\)"


def _js_collection(code: str, kind: str, nested: str | None = None) -> Any:
    code = code.strip()
    if kind == "array":
        try:
            m2 = re.match(_JS_2D, code)
            if m2:
                rows = []
                for idx, inner in enumerate(re.findall(r"\[(.*?)\]", m2.group(0))):
                    inner = inner.strip()
                    if idx == 0 and inner.startswith("["):
                        inner = inner[1:]
                    rows.append([_js_literal(e.strip()) for e in inner.split(",")])
                return rows
            m = re.match(_JS_1D, code)
            if not m:
                return code
            body = m.group(1) if m.group(1) is not None else m.group(2)
            body = (body or "").strip()
            elems = body.split(",") if body else []
            if nested:
                return [
                    _js(e.strip(), nested, "String")
                    if e.strip().startswith(("'", '"'))
                    else _js(e.strip(), nested)
                    for e in elems
                ]
            return [_js_literal(e.strip()) for e in elems]
        except Exception:  # BFCL falls back to the raw text on any parse error
            return code
    if code == "{}":
        return {}
    m = re.match(r"\{(.*?)\}", code)
    if not m:
        return code
    try:
        out: dict[str, Any] = {}
        for key, val in re.findall(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)", m.group(1)):
            key = key.strip().strip("'\"")
            val = val.strip()
            if val.startswith("[") and val.endswith("]"):
                out[key] = _js_collection(val, "array")
            elif val.startswith("{") and val.endswith("}"):
                out[key] = _js_collection(val, "dict")
            else:
                out[key] = _js_literal(val.strip("'\""))
        return out
    except Exception:
        return code
