"""BFCL's own data as a pack: fetched once, read at collection time.

``llmbench datasets fetch bfcl`` downloads the ``bfcl-eval`` wheel (the data and the
possible answers; none of its dependencies) with pip into the data cache
(``LLMBENCH_DATA_DIR``, default ``~/.cache/pytest-llmbench/datasets``). The generator
``kind: bfcl`` (see core.generators) reads the wheel as a zip and yields one scenario
per entry of the single-turn categories:

* the request is BFCL's question, the tools are its functions as BFCL hands them to
  function-calling models (``.`` in names becomes ``_``, ``float`` becomes
  ``number``, Java/JavaScript parameters become strings in that language's syntax,
  with the language hint BFCL appends to descriptions);
* the verifier is ``toolcall`` with ``match: bfcl`` (core.verifiers._bfcl), carrying
  the possible answers and each function's BFCL types;
* the reference is built from the possible answers (first accepted value of each
  parameter, encoded as a Java/JavaScript literal where needed); the counterexamples
  are generated near misses (wrong value, missing required parameter, wrong function,
  an integer given as a float, an extra call), each one kept only if the checker
  rejects it.

Without the fetched data the generator raises DataMissing, which the collector turns
into one ERROR item naming the command.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .schema import Generation, Scenario
from .verifiers import _bfcl

# The release the fidelity corpus (tests/data/bfcl_corpus.json) was labelled with.
BFCL_VERSION = "2026.3.23"
FETCH_HINT = "llmbench datasets fetch bfcl"
ENV_DIR = "LLMBENCH_DATA_DIR"

# BFCL's single-turn categories: (name, live?)
CATEGORIES: dict[str, bool] = {
    "simple_python": False,
    "simple_java": False,
    "simple_javascript": False,
    "multiple": False,
    "parallel": False,
    "parallel_multiple": False,
    "irrelevance": False,
    "live_simple": True,
    "live_multiple": True,
    "live_parallel": True,
    "live_parallel_multiple": True,
    "live_irrelevance": True,
    "live_relevance": True,
}
Category = Literal[
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
]


# Entries of BFCL_VERSION for which no answer built from the possible answers passes,
# in BFCL's checker as in ours, nor any of the corpus's near misses (a required
# parameter whose only possible answer is "omit" or an empty list, a parameter the
# function does not declare, a list of Java strings holding numbers or booleans). The
# pack leaves them out; BFCL's aggregates in the summary count them as failed, as the
# leaderboard does. tests/unit/test_bfcl_pack.py checks this list against the data,
# tests/unit/test_bfcl_fidelity.py against the official verdicts.
UNSATISFIABLE: dict[str, tuple[str, ...]] = {
    "simple_java": ("simple_java_36", "simple_java_65"),
    "live_simple": ("live_simple_106-63-0", "live_simple_112-68-0"),
    "live_multiple": (
        "live_multiple_507-149-4",
        "live_multiple_862-181-3",
        "live_multiple_964-207-0",
    ),
}


class DataMissing(Exception):  # noqa: N818 - reads better in messages
    """The dataset has not been fetched (or the cache holds something unreadable)."""


# --------------------------------------------------------------------------- cache, fetch


def data_dir() -> Path:
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-llmbench" / "datasets"


def wheel_path(root: Path | None = None) -> Path | None:
    """The newest fetched bfcl-eval wheel, if any."""
    d = (root or data_dir()) / "bfcl"
    wheels = sorted(d.glob("bfcl_eval-*.whl"), key=lambda p: _version_key(p.name))
    return wheels[-1] if wheels else None


def _version_key(name: str) -> tuple[int, ...]:
    m = re.match(r"bfcl_eval-([0-9.]+)-", name)
    return tuple(int(x) for x in m.group(1).split(".") if x) if m else ()


def fetch(root: Path | None = None, version: str = BFCL_VERSION) -> Path:
    """Download the bfcl-eval wheel, without dependencies, into the cache (pip's own
    download, so its index settings, proxies and certificates apply)."""
    dest = (root or data_dir()) / "bfcl"
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            tmp,
            f"bfcl-eval=={version}" if version else "bfcl-eval",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataMissing(f"pip download bfcl-eval failed: {last[0]}")
        got = sorted(Path(tmp).glob("bfcl_eval-*.whl"))
        if not got:
            raise DataMissing("pip download left no bfcl_eval wheel")
        target = dest / got[0].name
        shutil.move(str(got[0]), target)
    _index(target)  # fails now rather than at collection when the wheel is unusable
    return target


# --------------------------------------------------------------------------- reading


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """category -> (entries, possible answers by id)."""
    out: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            for cat in CATEGORIES:
                data = _pick(names, rf"bfcl_eval/data/BFCL_v(\d+)_{cat}\.json")
                if data is None:
                    raise DataMissing(f"{path}: no data file for category {cat!r}")
                entries = _jsonl(zf.read(data).decode("utf-8"))
                answers: dict[str, Any] = {}
                ans = _pick(names, rf"bfcl_eval/data/possible_answer/BFCL_v(\d+)_{cat}\.json")
                if ans is not None:
                    answers = {a["id"]: a["ground_truth"] for a in _jsonl(zf.read(ans).decode())}
                out[cat] = (entries, answers)
    except (OSError, zipfile.BadZipFile, ValueError, KeyError) as exc:
        raise DataMissing(f"{path}: unreadable ({exc}); run {FETCH_HINT} again") from None
    return out


def _pick(names: list[str], pattern: str) -> str | None:
    found = [(int(m.group(1)), n) for n in names for m in [re.fullmatch(pattern, n)] if m]
    return max(found)[1] if found else None


def _jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _index(path: Path) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    return _read(str(path), path.stat().st_mtime)


def load(root: Path | None = None) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    path = wheel_path(root)
    if path is None:
        where = (root or data_dir()) / "bfcl"
        raise DataMissing(
            f"BFCL data not fetched (nothing in {where}): run `{FETCH_HINT}` "
            f"(or set {ENV_DIR} to where it was fetched)"
        )
    return _index(path)


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


# --------------------------------------------------------------------------- scenarios


def _all_categories() -> list[Category]:
    return list(CATEGORIES)  # type: ignore[arg-type]


class BfclSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["bfcl"]
    categories: list[Category] = Field(default_factory=lambda: _all_categories())
    # Entry ids to include (all when empty), for small runs and tests.
    only: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    generation: Generation | None = None


def _expected(
    cat: str, functions: list[dict[str, Any]], truth: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The expected calls (fc names) and their functions' signatures, as BFCL pairs
    them: the simple checker takes the first function whatever the answer names."""
    by_name = {f["name"]: f for f in functions}
    calls: list[dict[str, Any]] = []
    sigs: dict[str, Any] = {}
    for i, item in enumerate(truth):
        (raw_name, args), *_ = item.items()
        fn = functions[0] if _bfcl.checker_for(cat) == "simple" else by_name.get(raw_name)
        if fn is None:
            raise ValueError(f"possible answer names unknown function {raw_name!r}")
        name = fc_name(fn["name"])
        calls.append({"name": name, "args": dict(args)})
        sigs[name] = signature(fn)
        if _bfcl.checker_for(cat) == "simple" and i == 0:
            break
    return calls, sigs


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": args}]}


def _calls(pairs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {"tool_calls": [{"name": n, "arguments": a} for n, a in pairs]}


def reference_calls(
    calls: list[dict[str, Any]],
    sigs: dict[str, Any],
    language: _bfcl.Language,
    omit_optional: bool = False,
    empty_dicts: bool = False,
) -> list[tuple[str, dict[str, Any]]]:
    """Each call with the first accepted value of each parameter (or, with
    ``omit_optional``, without the parameters that may be omitted; with
    ``empty_dicts``, dict values left empty: BFCL accepts one whose possible answer
    lists no options for its keys)."""
    out = []
    for c in calls:
        types = sigs[c["name"]]["types"]
        args: dict[str, Any] = {}
        for p, possible in c["args"].items():
            has, v = _first(possible)
            if has and not (omit_optional and "" in possible):
                value = {} if empty_dicts and isinstance(v, dict) else _plain(v)
                args[p] = encode(value, types.get(p, ["any"]), language)
        out.append((c["name"], args))
    return out


def _mutate(v: Any) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + 7
    if isinstance(v, float):
        return v * 2 + 1.5
    if isinstance(v, str):
        return "zz" + v + "qq" if v else "zzqq"
    if isinstance(v, list):
        return [*v, v[0]] if v else ["zzqq"]
    if isinstance(v, dict):
        return {**v, "zzqq": 1}
    return "zzqq"


def counter_candidates(
    calls: list[dict[str, Any]],
    sigs: dict[str, Any],
    ref: list[tuple[str, dict[str, Any]]],
    tool_names: list[str],
    language: _bfcl.Language,
) -> list[list[tuple[str, dict[str, Any]]]]:
    """Near misses of the reference, most telling first."""
    out: list[list[tuple[str, dict[str, Any]]]] = []
    name0, args0 = ref[0]
    types0 = sigs[name0]["types"]
    rest = ref[1:]
    # wrong value
    for p, possible in calls[0]["args"].items():
        has, v = _first(possible)
        if has:
            bad = encode(_mutate(_plain(v)), types0.get(p, ["any"]), language)
            out.append([(name0, {**args0, p: bad}), *rest])
            break
    # missing required parameter
    for p in sigs[name0]["required"]:
        if p in args0:
            out.append([(name0, {k: x for k, x in args0.items() if k != p}), *rest])
            break
    # wrong function
    others = [n for n in tool_names if n not in {c["name"] for c in calls}]
    out.append([(others[0] if others else name0 + "_v2", args0), *rest])
    # an integer given as a float
    for p, t in types0.items():
        v = args0.get(p)
        if t[0] in ("integer", "long", "short", "byte") and v is not None:
            if language == "python" and type(v) is int:
                out.append([(name0, {**args0, p: float(v)}), *rest])
                break
            if language != "python" and isinstance(v, str) and re.fullmatch(r"-?\d+[lL]?", v):
                out.append([(name0, {**args0, p: v.rstrip("lL") + ".0"}), *rest])
                break
    # an extra call
    out.append([*ref, ref[0]])
    return out


def _judge(
    checker: _bfcl.Checker,
    answer: list[tuple[str, dict[str, Any]]],
    calls: list[dict[str, Any]],
    sigs: dict[str, Any],
    language: _bfcl.Language,
) -> bool:
    s = {
        n: _bfcl.Signature(
            tuple(d["required"]),
            {p: (t[0], t[1] if len(t) > 1 else None) for p, t in d["types"].items()},
        )
        for n, d in sigs.items()
    }
    expected = [(c["name"], c["args"]) for c in calls]
    try:
        return _bfcl.check(checker, list(answer), expected, s, language).valid
    except _bfcl.Unsupported:
        return False


def scenario_data(
    spec: BfclSpec, cat: str, entry: dict[str, Any], truth: Any
) -> dict[str, Any] | None:
    """One scenario, or None when no answer built from the possible answers passes
    BFCL's own checker (see docs/fidelity.md)."""
    language = _bfcl.language_for(cat)
    checker = _bfcl.checker_for(cat)
    functions = entry.get("function") or []
    turns = entry.get("question") or [[]]
    messages = [
        {"role": m["role"], "content": m.get("content")}
        for m in turns[0]
        if m.get("role") in ("system", "user", "assistant")
    ]
    tools = tools_for(functions, language)
    names = [t["function"]["name"] for t in tools]
    tags = [*spec.tags, cat, "bfcl_live" if CATEGORIES[cat] else "bfcl_non_live"]
    verifier: dict[str, Any] = {"type": "toolcall", "match": "bfcl"}
    reference: Any
    counter: list[Any]
    if checker in ("irrelevance", "relevance"):
        verifier["calls"] = []
        verifier["bfcl"] = {"category": cat}
        first: dict[str, Any] = functions[0] if functions else {"name": "tool"}
        req = (first.get("parameters") or {}).get("required") or []
        some_call = _call(fc_name(first["name"]), {p: "x" for p in req[:1]})
        empty_call = _call(fc_name(first["name"]), {})
        text = "None of the available functions can do this; I cannot answer it with them."
        if checker == "irrelevance":
            reference, counter = text, [some_call, empty_call]
        else:
            reference, counter = some_call, [text, ""]
    else:
        if not isinstance(truth, list) or not truth:
            return None
        calls, sigs = _expected(cat, functions, truth)
        refs = [
            reference_calls(calls, sigs, language, omit, empty)
            for omit, empty in ((False, False), (True, False), (False, True))
        ]
        ref = next((r for r in refs if _judge(checker, r, calls, sigs, language)), None)
        if ref is None:
            return None
        kept = [
            c
            for c in counter_candidates(calls, sigs, ref, names, language)
            if not _judge(checker, c, calls, sigs, language)
        ]
        if len(kept) < 2:
            return None
        verifier["calls"] = calls
        verifier["bfcl"] = {"category": cat, "functions": sigs}
        reference, counter = _calls(ref), [_calls(c) for c in kept]
    question = next((m["content"] for m in messages if m["role"] == "user" and m["content"]), "")
    title = " ".join(str(question).split())
    data: dict[str, Any] = {
        "id": entry["id"],
        "title": f"{cat}: {title[:70] + '...' if len(title) > 73 else title}",
        "messages": messages,
        "tools": tools,
        "verifier": verifier,
        "tags": tags,
        "reference": reference,
        "counterexamples": counter,
    }
    if spec.generation is not None:
        data["generation"] = spec.generation
    return data


# Entries left out because no answer built from their possible answers passes BFCL's
# checker, by category (filled by expand_bfcl, shown by tests and docs).
DROPPED: dict[str, list[str]] = {}


def expand_bfcl(spec: BfclSpec) -> list[Scenario]:
    path = wheel_path()
    if path is None:
        load()  # raises DataMissing with the command to run
        return []
    # In-process runs (pytester, several sessions) collect the pack more than once.
    return list(_expand(str(path), path.stat().st_mtime, spec.model_dump_json()))


@functools.lru_cache(maxsize=4)
def _expand(path: str, mtime: float, spec_json: str) -> tuple[Scenario, ...]:
    spec = BfclSpec.model_validate_json(spec_json)
    data = _read(path, mtime)
    wanted = set(spec.only)
    out: list[Scenario] = []
    DROPPED.clear()
    for cat in spec.categories:
        entries, answers = data[cat]
        for entry in entries:
            if wanted and entry["id"] not in wanted:
                continue
            made = scenario_data(spec, cat, entry, answers.get(entry["id"]))
            if made is None:
                DROPPED.setdefault(cat, []).append(entry["id"])
                continue
            out.append(Scenario.model_validate(made))
    return tuple(out)


# --------------------------------------------------------------------------- summary


def aggregates(per_cat: dict[str, tuple[float, float]]) -> dict[str, float | None]:
    """BFCL's own summary figures from per-category (passed, total): non-live is the
    unweighted mean of simple (itself the mean of python/java/javascript), multiple,
    parallel and parallel_multiple; live is their live versions weighted by size;
    hallucination figures: irrelevance (mean of both), relevance."""

    def acc(cat: str) -> float | None:
        p, n = per_cat.get(cat, (0.0, 0.0))
        return p / n if n else None

    def mean(xs: list[float | None]) -> float | None:
        return None if any(x is None for x in xs) else sum(x for x in xs if x is not None) / len(xs)

    simple = mean([acc("simple_python"), acc("simple_java"), acc("simple_javascript")])
    non_live = mean([simple, acc("multiple"), acc("parallel"), acc("parallel_multiple")])
    live_cats = ["live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"]
    have = [per_cat.get(c) for c in live_cats]
    live = None
    if all(h is not None and h[1] for h in have):
        live = sum(h[0] for h in have if h) / sum(h[1] for h in have if h)
    return {
        "non_live": non_live,
        "live": live,
        "irrelevance": mean([acc("irrelevance"), acc("live_irrelevance")]),
        "relevance": acc("live_relevance"),
    }


def _per_category(metrics: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    return {k.split(":", 1)[1]: (v[0], v[1]) for k, v in metrics.items() if k.startswith("bfcl:")}


def aggregates_as_bfcl(metrics: dict[str, list[float]]) -> dict[str, float | None]:
    """BFCL's aggregates in %, the unanswerable entries counted as failed."""
    per = {
        c: (p, n + len(UNSATISFIABLE.get(c, ()))) for c, (p, n) in _per_category(metrics).items()
    }
    return {k: None if v is None else round(100 * v, 3) for k, v in aggregates(per).items()}


def summary_lines(pack: str, metrics: dict[str, list[float]]) -> list[str]:
    """The per-category table and BFCL's aggregates for one pack's metrics."""
    per_cat = {
        k.split(":", 1)[1]: (v[0], v[1]) for k, v in metrics.items() if k.startswith("bfcl:")
    }
    if not per_cat:
        return []
    order = [c for c in CATEGORIES if c in per_cat] + sorted(set(per_cat) - set(CATEGORIES))
    width = max(len(c) for c in order)
    lines = [f"{pack}: BFCL per category (passed/scored)"]
    as_bfcl: dict[str, tuple[float, float]] = {}
    for c in order:
        p, n = per_cat[c]
        extra = len(UNSATISFIABLE.get(c, ()))
        as_bfcl[c] = (p, n + extra)
        note = f"  (+{extra} unanswerable entries: {100 * p / (n + extra):.1f}% as BFCL counts)"
        row = f"  {c.ljust(width)}  {p:>5g}/{n:<5g} {100 * p / n:6.1f}%"
        lines.append(row + (note if extra else ""))
    agg = aggregates(as_bfcl)
    shown = ", ".join(
        f"{name} {'n/a' if v is None else f'{100 * v:.2f}%'}"
        for name, v in (
            ("non-live AST", agg["non_live"]),
            ("live AST", agg["live"]),
            ("irrelevance", agg["irrelevance"]),
            ("relevance", agg["relevance"]),
        )
    )
    lines.append(f"{pack}: BFCL aggregates (as BFCL computes them): {shown}")
    nocall = metrics.get("bfcl_no_call_pass")
    if nocall:
        lines.append(
            f"{pack}: {nocall[0]:g} irrelevance scenario(s) passed by answering without a "
            "tool call (any text passes those, junk included)"
        )
    anycall = metrics.get("bfcl_any_call_pass")
    if anycall:
        lines.append(
            f"{pack}: {anycall[0]:g} relevance scenario(s) passed by making a tool call "
            "(BFCL checks only that one is made, so a random call passes too)"
        )
    return lines
