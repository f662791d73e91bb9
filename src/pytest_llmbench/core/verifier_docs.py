"""The pack-authoring reference: each verifier's arguments as a typed JSON Schema (a
union discriminated by ``type``, so an editor validates a scenario's ``verifier:``
block), the list behind ``llmbench verifiers``, and the text of docs/verifiers.md.

Everything here is derived from the verifier registry and the built-in packs, so the
reference cannot drift from the code: a test regenerates docs/verifiers.md and
compares.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .verifiers.base import Verifier, registered

# Verifiers no built-in pack uses get a hand-written example (validated by a test).
EXTRA_EXAMPLES: dict[str, dict[str, Any]] = {
    "judge": {
        "type": "judge",
        "rubric": "A haiku about rain: three lines of 5, 7 and 5 syllables, rain named.",
        "check": {"type": "contains", "all": ["rain"]},
        "samples": 3,
    },
}
EXAMPLE_MAX_LINES = 24
NOTES: dict[str, str] = {
    "judge": "Needs a judge model (`--llm-judge-url`, `--llm-judge-model`). Without one, "
    "a `decides: true` scenario is an ERROR (`judge_unavailable`) and any other is decided "
    "by its `check`; `llmbench check` reports a judge-decided scenario as not checked.",
}


def _doc(cls: type[Verifier]) -> str:
    return " ".join((cls.__doc__ or "").split())


def summary_line(cls: type[Verifier]) -> str:
    doc = _doc(cls)
    first = doc.split(". ")[0].rstrip(".")
    return first + "." if first else ""


def _inline_defs(schema: dict[str, Any], defs: dict[str, Any], owner: str) -> dict[str, Any]:
    """Move an Args schema's own ``$defs`` into the shared ones, renaming on clash."""
    own = schema.pop("$defs", {})
    renames: dict[str, str] = {}
    for name, body in own.items():
        target = name
        if target in defs and defs[target] != body:
            target = f"{owner}.{name}"
        defs[target] = body
        renames[name] = target

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = "#/$defs/" + renames.get(ref[8:], ref[8:])
            for v in node.values():
                fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)
        return node

    for name in renames.values():
        fix(defs[name])
    return fix(schema)  # type: ignore[no-any-return]


def verifier_defs() -> dict[str, Any]:
    """``$defs``: ``verifier.<type>`` per verifier plus ``VerifierSpec``, the union."""
    defs: dict[str, Any] = {}
    names = sorted(registered())
    for name in names:
        cls = registered()[name]
        schema = _inline_defs(copy.deepcopy(cls.Args.model_json_schema()), defs, name)
        props = {"type": {"const": name, "description": summary_line(cls)}}
        props.update(schema.get("properties") or {})
        schema["properties"] = props
        schema["required"] = ["type", *[r for r in schema.get("required") or [] if r != "type"]]
        schema["title"] = f"verifier {name}"
        if _doc(cls):
            schema["description"] = _doc(cls)
        schema.setdefault("additionalProperties", False)
        defs[f"verifier.{name}"] = schema
    defs["VerifierSpec"] = {
        "title": "verifier",
        "description": "A verifier: `type` picks one, the other keys are its arguments.",
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": names}},
        # if/then on the discriminator: an editor reports the one verifier's own errors
        "allOf": [
            {
                "if": {"properties": {"type": {"const": n}}, "required": ["type"]},
                "then": {"$ref": f"#/$defs/verifier.{n}"},
            }
            for n in names
        ],
    }
    return defs


INCLUDE = {
    "title": "include",
    "description": "Replaced by the text of a file beside the YAML (`fence`: wrap it in a "
    "fenced code block of that language).",
    "type": "object",
    "required": ["include"],
    "properties": {"include": {"type": "string"}, "fence": {"type": "string"}},
    "additionalProperties": False,
}


def _allow_includes(node: Any) -> Any:
    """Any string of a scenario file may be an ``{include: FILE}`` mapping (resolved
    before validation, see core.includes)."""
    if isinstance(node, list):
        return [_allow_includes(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _allow_includes(v) for k, v in node.items()}
    if out.get("type") == "string":
        return {"anyOf": [out, {"$ref": "#/$defs/Include"}]}
    return out


def _shorthands(defs: dict[str, Any]) -> None:
    """Arguments whose validators accept a shorter spelling than the model's type."""
    fields = defs.get("verifier.fields", {}).get("properties", {}).get("fields")
    if isinstance(fields, dict) and isinstance(fields.get("additionalProperties"), dict):
        # `name: value` stands for `name: {value: value}`
        spec = fields["additionalProperties"]
        fields["additionalProperties"] = {
            "anyOf": [spec, {"not": {"type": "object", "required": ["value"]}}]
        }


def full_schema() -> dict[str, Any]:
    """JSON Schema for pack files with every verifier's arguments typed."""
    from .schema import json_schema

    schema = json_schema()
    defs: dict[str, Any] = schema["$defs"]
    # pydantic nests each model's defs; hoist them so every "#/$defs/VerifierSpec" resolves
    for top in list(defs):
        nested = defs[top].pop("$defs", None)
        for name, body in (nested or {}).items():
            defs.setdefault(name, body)
    defs.update(verifier_defs())
    _shorthands(defs)
    schema["$defs"] = {k: _allow_includes(v) for k, v in defs.items()}
    schema["$defs"]["Include"] = INCLUDE
    return schema


# Built-in packs generated from data outside the repository (llmbench datasets fetch).
FETCHED_DATA_PACKS = {"bfcl"}


def _first_uses(packs_dir: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Verifier type -> (where, verifier block) of its first use in the built-in packs."""
    from .packs import PackError, iter_pack_dirs, load_pack

    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for d in iter_pack_dirs(packs_dir):
        if d.name in FETCHED_DATA_PACKS:  # absent until fetched: the docs would vary
            continue
        try:
            pack = load_pack(d)
        except PackError:
            continue
        for sc in pack.scenarios:
            kind = sc.verifier.type
            if kind not in found:
                block = {"type": kind, **sc.verifier.args}
                found[kind] = (f"{pack.meta.id}::{sc.id}", block)
    return found


def examples(packs_dir: Path | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
    from .packs import builtin_packs_dir

    out = _first_uses(packs_dir or builtin_packs_dir())
    for kind, block in EXTRA_EXAMPLES.items():
        out.setdefault(kind, ("example", block))
    return out


def _yaml_block(block: dict[str, Any]) -> str:
    text = yaml.safe_dump({"verifier": block}, sort_keys=False, allow_unicode=True, width=88)
    lines = text.rstrip("\n").splitlines()
    if len(lines) > EXAMPLE_MAX_LINES:
        lines = lines[:EXAMPLE_MAX_LINES] + ["# ... (cut here; the whole block is in the pack)"]
    return "\n".join(lines)


def _type_of(prop: dict[str, Any]) -> str:
    if "const" in prop:
        return repr(prop["const"])
    if "enum" in prop:
        return " or ".join(repr(v) for v in prop["enum"])
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " or ".join(_type_of(p) for p in prop["anyOf"])
    t = prop.get("type", "any")
    if t == "array" and isinstance(prop.get("items"), dict):
        return f"list[{_type_of(prop['items'])}]"
    return str(t)


def rows() -> list[dict[str, Any]]:
    """One row per verifier, for ``llmbench verifiers``."""
    defs = verifier_defs()
    out = []
    for name, cls in sorted(registered().items()):
        schema = defs[f"verifier.{name}"]
        args = [k for k in schema["properties"] if k != "type"]
        out.append(
            {
                "type": name,
                "sandbox": cls.needs_sandbox,
                "summary": summary_line(cls),
                "required": [r for r in schema["required"] if r != "type"],
                "arguments": args,
            }
        )
    return out


def render_markdown(packs_dir: Path | None = None) -> str:
    """docs/verifiers.md (generated: ``llmbench verifiers --markdown``)."""
    defs = verifier_defs()
    ex = examples(packs_dir)
    out = [
        "# Verifiers",
        "",
        "<!-- Generated by `llmbench verifiers --markdown > docs/verifiers.md`; "
        "a test checks that it is current. -->",
        "",
        "A scenario's `verifier:` block names a verifier by `type`; the other keys are its "
        "arguments. `llmbench schema` prints the JSON Schema of pack files with every "
        "verifier's arguments typed (a union discriminated by `type`), so an editor with a "
        "YAML language server validates them. `llmbench verifiers` lists them; `llmbench "
        "check PACK_DIR` runs every reference, counterexample and junk answer through them.",
        "",
        "| type | runs code in the sandbox | what it checks |",
        "|---|---|---|",
    ]
    for r in rows():
        out.append(
            f"| [`{r['type']}`](#{r['type'].replace('_', '')}) | "
            f"{'yes' if r['sandbox'] else 'no'} | {r['summary']} |"
        )
    for name, cls in sorted(registered().items()):
        schema = defs[f"verifier.{name}"]
        required = set(schema["required"])
        out += ["", f"## {name}", "", _doc(cls) or "(no description)", ""]
        if cls.needs_sandbox:
            out += ["Runs model-written code: needs a sandbox (`--llm-sandbox`).", ""]
        if name in NOTES:
            out += [NOTES[name], ""]
        out += ["| argument | type | required | default | description |", "|---|---|---|---|---|"]
        for key, prop in schema["properties"].items():
            if key == "type":
                continue
            default = prop.get("default", "")
            desc = " ".join(str(prop.get("description", "")).split())
            out.append(
                f"| `{key}` | {_type_of(prop)} | {'yes' if key in required else ''} | "
                f"{'' if default == '' else '`' + repr(default) + '`'} | {desc} |"
            )
        where, block = ex[name]
        src = f" (from `{where}`)" if where != "example" else ""
        out += ["", f"Example{src}:", "", "```yaml", _yaml_block(block), "```"]
    return "\n".join(out) + "\n"
