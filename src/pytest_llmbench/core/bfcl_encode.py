"""BFCL's functions and answers as a function-calling model sees them: tool schemas
(OpenAPI types, fc names, language hints) and Java/JavaScript literals (see core.bfcl)."""

from __future__ import annotations

import copy
import json
from typing import Any

from .verifiers import _bfcl

# --------------------------------------------------------------------------- tools


def fc_name(name: str) -> str:
    """BFCL's function name for function-calling models ('.' is not allowed)."""
    return name.replace(".", "_")


_OPENAPI = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "double": "number",
    "char": "string",
    "ArrayList": "array",
    "Array": "array",
    "HashMap": "object",
    "Hashtable": "object",
    "Queue": "array",
    "Stack": "array",
    "Any": "string",
    "String": "string",
    "Bigint": "integer",
}
_HINT = {
    "python": " Note that the provided function is in Python 3 syntax.",
    "java": " Note that the provided function is in Java 8 SDK syntax.",
    "javascript": " Note that the provided function is in JavaScript syntax.",
}


def _to_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """BFCL's types to JSON Schema, recursively (floats keep BFCL's description note)."""
    out = dict(schema)
    t = out.get("type")
    if t == "float":
        out["format"] = "float"
        out["description"] = str(out.get("description", "")) + " This is a float type value."
    if isinstance(t, str):
        out["type"] = _OPENAPI.get(t, "string")
    elif t is None:
        out["type"] = "string"
    if isinstance(out.get("properties"), dict):
        out["properties"] = {
            k: _to_openapi(v) if isinstance(v, dict) else v for k, v in out["properties"].items()
        }
    if isinstance(out.get("items"), dict):
        out["items"] = _to_openapi(out["items"])
    return out


def tools_for(functions: list[dict[str, Any]], language: _bfcl.Language) -> list[dict[str, Any]]:
    """The functions as BFCL gives them to a function-calling model."""
    tools = []
    for fn in copy.deepcopy(functions):
        params = fn.get("parameters") or {}
        props: dict[str, Any] = params.get("properties") or {}
        if language != "python":
            lang = "Java" if language == "java" else "JavaScript"
            for p in props.values():
                t = p.get("type")
                desc = str(p.get("description", ""))
                if t == "any":
                    desc += (
                        f" This parameter can be of any type of {lang} object"
                        " in string representation."
                    )
                else:
                    desc += f" This is {lang} {t} type parameter in string representation."
                if t in ("ArrayList", "Array", "array") and isinstance(p.get("items"), dict):
                    desc += (
                        f" The list elements are of type {p['items'].get('type')};"
                        " they are not in string representation."
                    )
                    del p["items"]
                if t == "dict" and language == "javascript" and "properties" in p:
                    desc += (
                        " The dictionary entries have the following schema; they are not in"
                        f" string representation. {json.dumps(p['properties'])}"
                    )
                    del p["properties"]
                p["description"] = desc
                p["type"] = "string"
        params = dict(params)
        params["type"] = "object"
        params["properties"] = {k: _to_openapi(v) for k, v in props.items()}
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": fc_name(fn["name"]),
                    "description": str(fn.get("description", "")) + _HINT[language],
                    "parameters": params,
                },
            }
        )
    return tools


def signature(fn: dict[str, Any]) -> dict[str, Any]:
    """What BFCL's checker reads from a function: required names and BFCL types."""
    params = fn.get("parameters") or {}
    types: dict[str, list[str]] = {}
    for p, d in (params.get("properties") or {}).items():
        t = [str(d.get("type"))]
        items = d.get("items")
        if isinstance(items, dict) and "type" in items:
            t.append(str(items["type"]))
        types[p] = t
    return {"required": list(params.get("required") or []), "types": types}


# --------------------------------------------------------------------------- answers


def _first(possible: list[Any]) -> tuple[bool, Any]:
    for v in possible:
        if v != "":
            return True, v
    return False, None


def _plain(value: Any) -> Any:
    """A concrete value from a possible-answer value (dicts hold lists of options)."""
    if isinstance(value, dict):
        out = {}
        for k, opts in value.items():
            if isinstance(opts, list):
                has, v = _first(opts)
                if has:
                    out[k] = _plain(v)
            else:
                out[k] = opts
        return out
    if isinstance(value, list):
        return [_plain(v) if isinstance(v, dict) else v for v in value]
    return value


def _java_lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _java_scalar(v: Any, t: str | None) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) or t is None:
        return v if isinstance(v, str) else _java_lit(v)
    if t == "long" and isinstance(v, int):
        return f"{v}L"
    if t == "float" and isinstance(v, (int, float)):
        return f"{v}f"
    return repr(v) if isinstance(v, float) else str(v)


def encode_java(v: Any, t: str, item: str | None) -> str:
    """A Java literal that BFCL's converter reads back as ``v``."""
    if isinstance(v, str):
        return v
    if t == "HashMap" and isinstance(v, dict):
        puts = " ".join(f'put("{k}", {_java_lit(x)});' for k, x in v.items())
        return f"new HashMap<String, Object>() {{{{ {puts} }}}}" if puts else "new HashMap<>()"
    if t == "ArrayList" and isinstance(v, list):
        if not v:
            return "new ArrayList<>()"
        if item == "String":
            parts = [json.dumps(x) if isinstance(x, str) else str(x) for x in v]
        elif item == "char":
            parts = [f"'{x}'" for x in v]
        else:
            parts = [_java_scalar(x, item) for x in v]
        return f"new ArrayList<>(Arrays.asList({', '.join(parts)}))"
    if t == "Array" and isinstance(v, list):
        kind = {"integer": "int", "long": "long", "double": "double", "float": "float"}
        parts = [_java_scalar(x, item) for x in v]
        return f"new {kind.get(item or '', 'Object')}[]{{{', '.join(parts)}}}"
    return _java_scalar(v, t)


def _js_lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + ", ".join(_js_lit(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_js_lit(x)}" for k, x in v.items()) + "}"
    return str(v)


def encode_js(v: Any, t: str, item: str | None) -> str:
    """A JavaScript literal that BFCL's converter reads back as ``v``."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if t == "Bigint" and isinstance(v, int):
        return f"{v}n"
    if t == "array" and isinstance(v, list):
        if item == "String":
            return "[" + ", ".join(json.dumps(x) if isinstance(x, str) else str(x) for x in v) + "]"
        return _js_lit(v)
    if t == "dict" and isinstance(v, dict):
        return _js_lit(v)
    return str(v)


def encode(v: Any, t: list[str], language: _bfcl.Language) -> Any:
    if language == "python":
        return v
    item = t[1] if len(t) > 1 else None
    return encode_java(v, t[0], item) if language == "java" else encode_js(v, t[0], item)
