"""Build tests/data/bfcl_corpus.json.gz: BFCL cases, near-miss answers, official verdicts.

    PYTHONPATH=src python tools/bfcl_corpus.py [--venv DIR] [--out PATH] [--seed N]

1. makes a throwaway venv and installs ``bfcl-eval`` there with ``--no-deps`` plus
   ``filelock`` (all that its AST checker and ``bfcl_eval.utils`` import, once the
   model registry ``bfcl_eval.constants.model_config``, which pulls every provider
   SDK, is replaced by a stub saying "function-calling model: '.' in names becomes
   '_'");
2. samples entries of every single-turn category from the fetched wheel
   (``llmbench datasets fetch bfcl``) and makes many answers per entry: the
   reference, other accepted values, near misses per parameter (normalisation,
   types, omissions, extra keys, Java/JavaScript literal variants), wrong, missing,
   extra and reordered calls, undecodable arguments, no call;
3. labels each answer in the venv with BFCL's own code: the function-calling
   decoder's loop (``json.loads`` of each call's arguments), then ``ast_checker`` or,
   for (ir)relevance, ``is_empty_output`` as BFCL's eval runner uses them;
4. writes the corpus: the cases (functions without descriptions, possible answers),
   the answers and the official verdicts. No BFCL code goes into it.

tests/unit/test_bfcl_fidelity.py runs the ``match: bfcl`` verifier over it.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import random
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

from pytest_llmbench.core import bfcl
from pytest_llmbench.core.verifiers import _bfcl

# Entries sampled per category (all of the small ones).
SAMPLE = {
    "simple_python": 150,
    "simple_java": 100,
    "simple_javascript": 50,
    "multiple": 100,
    "parallel": 100,
    "parallel_multiple": 100,
    "irrelevance": 40,
    "live_simple": 120,
    "live_multiple": 150,
    "live_parallel": 16,
    "live_parallel_multiple": 24,
    "live_irrelevance": 40,
    "live_relevance": 16,
}

LABELLER = r"""
import collections, json, sys, types
stub = types.ModuleType("bfcl_eval.constants.model_config")
class _FC:
    underscore_to_dot = True
stub.MODEL_CONFIG_MAPPING = collections.defaultdict(_FC)
sys.modules["bfcl_eval.constants.model_config"] = stub
from bfcl_eval.constants.enums import Language
from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
from bfcl_eval.utils import is_empty_output, is_function_calling_format_output

LANG = {"python": Language.PYTHON, "java": Language.JAVA, "javascript": Language.JAVASCRIPT}

def decode(result):
    # the OpenAI-style function-calling handler's decode_ast
    out = []
    for invoked in result:
        name = list(invoked.keys())[0]
        out.append({name: json.loads(invoked[name])})
    return out

def label(case, cand):
    cat = case["category"]
    if cand["calls"]:
        result = [{n: a if isinstance(a, str) else json.dumps(a)} for n, a in cand["calls"]]
    else:
        result = "I cannot do that with the functions I have."
    try:
        decoded = decode(result)
        ok = True
    except Exception:
        decoded, ok = None, False
    if "relevance" in cat:
        contains = ok and not is_empty_output(decoded)
        return (not contains) if "irrelevance" in cat else contains
    if not ok or not is_function_calling_format_output(decoded):
        return False
    lang = "java" if "java" in cat and "javascript" not in cat else (
        "javascript" if "javascript" in cat else "python")
    res = ast_checker(case["functions"], decoded, case["ground_truth"], LANG[lang], cat, "gpt-4o")
    return bool(res["valid"])

cases = json.load(open(sys.argv[1]))
out = {}
for case in cases:
    for cand in case["candidates"]:
        try:
            out[cand["id"]] = label(case, cand)
        except Exception as exc:
            out[cand["id"]] = "crash: %s: %s" % (type(exc).__name__, exc)
json.dump(out, open(sys.argv[2], "w"))
"""


def strip_functions(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the checker reads: names, required, types (no descriptions)."""

    def slim(schema: dict[str, Any]) -> dict[str, Any]:
        keep = {k: v for k, v in schema.items() if k in ("type", "required")}
        if isinstance(schema.get("items"), dict):
            keep["items"] = slim(schema["items"])
        if isinstance(schema.get("properties"), dict):
            keep["properties"] = {k: slim(v) for k, v in schema["properties"].items()}
        return keep

    return [{"name": f["name"], "parameters": slim(f.get("parameters") or {})} for f in functions]


# --------------------------------------------------------------------------- mutations


def str_variants(s: str, rng: random.Random) -> list[str]:
    out = [s.upper(), s.lower(), s + ".", s.replace(" ", "_"), s.replace(" ", "-"), " " + s + " "]
    out += [s + "#", s + "+", s + ":", s + "!", s.replace("'", '"'), "zz" + s, s[:-1], ""]
    out += [s.replace(",", ""), s.title(), s.replace(" ", ""), s + "s"]
    if s and s[-1] in "#+:":
        out.append(s[:-1])
    return rng.sample(out, min(6, len(out)))


def value_variants(v: Any, rng: random.Random) -> list[Any]:
    if isinstance(v, bool):
        return [not v, "true" if v else "false", int(v), None]
    if isinstance(v, int):
        return [float(v), str(v), v + 1, -v, True, None]
    if isinstance(v, float):
        out: list[Any] = [v + 0.1, str(v), None, -v]
        if v == int(v):
            out.append(int(v))
        return out
    if isinstance(v, str):
        return [*str_variants(v, rng), None, 0]
    if isinstance(v, list):
        out = [list(reversed(v)), v[:-1], [*v, *v[:1]], [], [str(x) for x in v], None]
        out.append([float(x) if type(x) is int else x for x in v])
        out.append([x.upper() if isinstance(x, str) else x for x in v])
        if v and isinstance(v[0], dict):
            out.append([{**v[0], "zz": 1}, *v[1:]])
            out.append([{k: x for k, x in list(v[0].items())[1:]}, *v[1:]])
        if v and isinstance(v[0], list):
            out.append([list(reversed(v[0])), *v[1:]])
        return out
    if isinstance(v, dict):
        out = [{**v, "zz": 1}, None, {}, json.dumps(v)]
        if v:
            k0 = next(iter(v))
            out.append({k: x for k, x in v.items() if k != k0})
            for alt in value_variants(v[k0], rng)[:4]:
                out.append({**v, k0: alt})
        return out
    return ["zz", 0]


def java_variants(text: str, t: str) -> list[str]:
    out = [text + " ", text.upper(), "", "null"]
    if t in ("integer", "long", "short", "byte"):
        out += [text.rstrip("lL") + ".0", text.rstrip("lL"), text + "L", text.rstrip("lL") + "l"]
    if t in ("float", "double"):
        out += [text.rstrip("fF"), text + "f", text + "d", text.rstrip("fF") + "F"]
    if t == "boolean":
        out += ["True", "1", "TRUE"]
    if t == "ArrayList":
        out += [
            text.replace("new ArrayList<>(Arrays.asList(", "Arrays.asList("),
            text.replace("Arrays.asList(", "List.of("),
            text.replace('"', ""),
            text.replace(", ", ","),
        ]
    if t == "Array":
        out += [text.replace("{", "[").replace("}", "]"), text.replace(", ", ","), text[:-1]]
    if t == "HashMap":
        out += [text.replace("{{", "{").replace("}}", "}"), text.replace('"', "'"), "{}"]
    if t in ("String", "any", "char"):
        out += [f'"{text}"', text.replace(" ", "_"), text + "#"]
    return out


def js_variants(text: str, t: str) -> list[str]:
    out = [text + " ", text.upper(), "", "null", f"'{text}'", f'"{text}"']
    if t == "integer":
        out += [text + ".0", text + "n"]
    if t == "float":
        out += [text.rstrip("0").rstrip("."), text + "f", text + "e0"]
    if t == "Boolean":
        out += ["True", "1"]
    if t == "array":
        out += [text.replace('"', "'"), text.replace('"', ""), text.replace(", ", ","), "[]"]
        out += ["new Array(" + text[1:-1] + ")"]
    if t == "dict":
        out += [text.replace(": ", ":"), text.replace("{", "{'", 1), "{}"]
    return out


def make_candidates(
    case_id: str,
    cat: str,
    entry: dict[str, Any],
    truth: Any,
    rng: random.Random,
) -> list[dict[str, Any]]:
    language = _bfcl.language_for(cat)
    checker = _bfcl.checker_for(cat)
    functions = entry["function"]
    names = [bfcl.fc_name(f["name"]) for f in functions]
    cands: list[tuple[str, list[list[Any]]]] = []

    def add(tag: str, calls: list[tuple[str, Any]]) -> None:
        cands.append((tag, [[n, a] for n, a in calls]))

    if checker in ("irrelevance", "relevance"):
        f0 = functions[0]
        req = (f0.get("parameters") or {}).get("required") or []
        n0 = bfcl.fc_name(f0["name"])
        add("no-call", [])
        add("call-empty-args", [(n0, {})])
        add("call-some-args", [(n0, {p: "x" for p in req})])
        add("call-bad-json", [(n0, "{not json")])
        add("call-list-args", [(n0, "[1, 2]")])
        add("call-empty-string-args", [(n0, "")])
        add("two-calls", [(n0, {}), (names[-1], {"a": 1})])
        add("dotted-name", [(f0["name"], {})])
        return [{"id": f"{case_id}/{t}", "calls": c} for t, c in cands]

    calls, sigs = bfcl._expected(cat, functions, truth)
    ref = bfcl.reference_calls(calls, sigs, language)
    add("ref", ref)
    add("ref-omit-optional", bfcl.reference_calls(calls, sigs, language, omit_optional=True))
    # other accepted values
    alt = []
    for c in calls:
        args = {}
        for p, possible in c["args"].items():
            options = [v for v in possible if v != ""]
            if options:
                t = sigs[c["name"]]["types"].get(p, ["any"])
                args[p] = bfcl.encode(bfcl._plain(rng.choice(options)), t, language)
        alt.append((c["name"], args))
    add("alt-values", alt)
    # per-parameter near misses on the first expected call (and a random other one)
    targets = [0] + ([rng.randrange(1, len(ref))] if len(ref) > 1 else [])
    for ci in targets:
        name, args = ref[ci]
        types = sigs[name]["types"]
        for p in list(args)[:6]:
            t = types.get(p, ["any"])
            if language == "python":
                variants = value_variants(args[p], rng)
            elif language == "java":
                variants = java_variants(str(args[p]), t[0])
            else:
                variants = js_variants(str(args[p]), t[0])
            for k, v in enumerate(variants):
                new = dict(args)
                if v is None and rng.random() < 0.5:
                    del new[p]
                else:
                    new[p] = v
                calls_new = list(ref)
                calls_new[ci] = (name, new)
                add(f"c{ci}-{p}-v{k}", calls_new)
        # unknown parameter, dropped parameters
        add(f"c{ci}-extra-param", [*ref[:ci], (name, {**args, "zz_extra": 1}), *ref[ci + 1 :]])
        for p in sigs[name]["required"][:2]:
            if p in args:
                less = {k: v for k, v in args.items() if k != p}
                add(f"c{ci}-drop-{p}", [*ref[:ci], (name, less), *ref[ci + 1 :]])
        for p in [q for q in types if q not in args][:2]:
            more = {**args, p: "zz"}
            add(f"c{ci}-add-{p}", [*ref[:ci], (name, more), *ref[ci + 1 :]])
    # call-level near misses
    others = [n for n in names if n not in {c["name"] for c in calls}]
    add("wrong-function", [(others[0] if others else ref[0][0] + "_x", ref[0][1]), *ref[1:]])
    raw0 = functions[0]["name"]
    if "." in raw0:
        add("dotted-name", [(raw0, ref[0][1]), *ref[1:]])
    add("extra-call", [*ref, ref[0]])
    add("no-call", [])
    add("bad-json", [(ref[0][0], "{" + json.dumps(ref[0][1])[1:-1]), *ref[1:]])
    add("args-as-list", [(ref[0][0], "[]"), *ref[1:]])
    if len(ref) > 1:
        add("reversed", list(reversed(ref)))
        add("shuffled", rng.sample(ref, len(ref)))
        add("one-missing", ref[:-1])
        add("first-twice", [ref[0], *ref[:-1]])
    return [{"id": f"{case_id}/{t}", "calls": c} for t, c in cands]


def build(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    data = bfcl.load()
    cases = []
    for cat, n in SAMPLE.items():
        entries, answers = data[cat]
        picked = entries if len(entries) <= n else rng.sample(entries, n)
        # the entries the pack leaves out as unanswerable: the corpus shows BFCL agrees
        forced = set(bfcl.UNSATISFIABLE.get(cat, ())) - {e["id"] for e in picked}
        picked += [e for e in entries if e["id"] in forced]
        for e in sorted(picked, key=lambda e: e["id"]):
            truth = answers.get(e["id"])
            try:
                cands = make_candidates(e["id"], cat, e, truth, rng)
            except (ValueError, KeyError, IndexError) as exc:
                print(f"skip {e['id']}: {exc}", file=sys.stderr)
                continue
            cases.append(
                {
                    "id": e["id"],
                    "category": cat,
                    "functions": strip_functions(copy.deepcopy(e["function"])),
                    "ground_truth": truth,
                    "candidates": cands,
                }
            )
    return cases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", type=Path, help="reuse this venv (made if missing)")
    ap.add_argument("--out", type=Path, default=Path("tests/data/bfcl_corpus.json.gz"))
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env_dir = args.venv or Path(tmp) / "venv"
        py = env_dir / "bin" / "python"
        if not py.exists():
            venv.create(env_dir, with_pip=True)
            subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "--no-deps",
                 f"bfcl-eval=={bfcl.BFCL_VERSION}", "filelock"],
                check=True,
            )  # fmt: skip
        cases = build(args.seed)
        src, dst, script = Path(tmp) / "cases.json", Path(tmp) / "verdicts.json", Path(tmp) / "l.py"
        src.write_text(json.dumps(cases))
        script.write_text(LABELLER)
        subprocess.run([str(py), str(script), str(src), str(dst)], check=True)
        verdicts = json.loads(dst.read_text())
    crashed = 0
    for case in cases:
        kept = []
        for cand in case["candidates"]:
            v = verdicts[cand["id"]]
            if isinstance(v, bool):
                kept.append({**cand, "official": v})
            else:
                crashed += 1  # the official checker raised: no verdict to compare with
        case["candidates"] = kept
    n = sum(len(c["candidates"]) for c in cases)
    passes = sum(x["official"] for c in cases for x in c["candidates"])
    corpus = {
        "about": "BFCL single-turn cases with answers labelled by bfcl-eval's own checker "
        "(tools/bfcl_corpus.py); read by tests/unit/test_bfcl_fidelity.py",
        "bfcl_eval": bfcl.BFCL_VERSION,
        "seed": args.seed,
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(corpus, separators=(",", ":"), ensure_ascii=False) + "\n"
    with (
        args.out.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
    ):
        gz.write(text.encode("utf-8"))  # mtime 0: the same corpus gives the same bytes
    print(
        f"{args.out}: {len(cases)} cases, {n} answers ({passes} official passes), "
        f"{crashed} answers dropped where the official checker raised"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
