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

import functools
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .bfcl_data import (
    BFCL_VERSION,
    CATEGORIES,
    ENV_DIR,
    FETCH_HINT,
    UNSATISFIABLE,
    Category,
    DataMissing,
    _read,
    data_dir,
    fetch,
    load,
    wheel_path,
)
from .bfcl_encode import _first, _plain, encode, fc_name, signature, tools_for
from .schema import Generation, Scenario
from .verifiers import _bfcl

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


__all__ = [
    "BFCL_VERSION",
    "CATEGORIES",
    "DROPPED",
    "ENV_DIR",
    "FETCH_HINT",
    "UNSATISFIABLE",
    "BfclSpec",
    "DataMissing",
    "aggregates",
    "aggregates_as_bfcl",
    "data_dir",
    "expand_bfcl",
    "fetch",
    "load",
    "scenario_data",
    "summary_lines",
    "tools_for",
    "wheel_path",
]
