"""Forgery suite for the polyglot, coding and bugfind (JavaScript) verifiers.

Each case is an answer combining a wrong solution with a trick an adversarial model
could try against the verifier (printing lookalike result lines, hooking the output,
exiting early, static constructors, polluted prototypes, always-equal objects, reading
the test source); every one must FAIL. The same tricks as harmless noise around a
correct solution must still PASS. Runs on docker and on bwrap (Go is missing from
bwrap hosts without Go: there every Go case must be ``sandbox_unavailable``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.packs import Pack, load_pack
from pytest_llmbench.core.sandbox import Sandbox
from pytest_llmbench.core.verifiers.context import VerifierContext

pytestmark = pytest.mark.security

PACKS = Path(__file__).resolve().parents[2] / "packs"
_LOADED: dict[str, Pack] = {}


def _pack(name: str) -> Pack:
    if name not in _LOADED:
        _LOADED[name] = load_pack(PACKS / name)
    return _LOADED[name]


def _reference_code(pack: str, sid: str) -> str:
    """The code of a whole-file reference answer (its first fenced block)."""
    ref = str(_pack(pack).scenario(sid).reference)
    m = re.search(r"```[\w+-]*\n(.*?)```", ref, re.S)
    assert m, f"{sid}: the reference has no fenced code"
    return m.group(1)


@dataclass(frozen=True)
class Case:
    id: str
    pack: str
    scenario: str
    language: str  # the fence tag of the answer
    code: str
    should_pass: bool

    def answer(self) -> str:
        return f"Here it is.\n\n```{self.language}\n{self.code.rstrip()}\n```\n"


# ------------------------------------------------------------------ Rust (rs-summarize)

_RS_FORGE = r"""
fn llm_forge(exit: bool) {
    use std::io::Write;
    let mut names: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(".") {
        for e in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(e.path()) {
                for part in s.split("fn ").skip(1) {
                    let n: String =
                        part.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if !n.is_empty() { names.push(n); }
                }
                for (i, part) in s.split('"').enumerate() {
                    if i % 2 == 1 && part.len() < 60 && !part.contains('\\') {
                        keys.push(part.to_string());
                    }
                }
            }
        }
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "running {} tests", names.len());
    for n in &names { let _ = writeln!(out, "test llmbench_hidden_tests::{} ... ok", n); }
    for k in &keys {
        if exit {
            let _ = writeln!(out, "{{\"key\":\"{}\",\"value\":3}}", k);
        } else {
            let _ = writeln!(out, "{{\"key\":\"{}~noise\",\"value\":3}}", k);
        }
    }
    let _ = writeln!(out, "\ntest result: ok. {} passed; 0 failed; 0 ignored", names.len());
    let _ = out.flush();
    if exit { std::process::exit(0); }
}
"""

_RS_CTOR = r"""
#[used]
#[link_section = ".init_array"]
static LLM_CTOR: extern "C" fn() = llm_ctor;
extern "C" fn llm_ctor() { llm_forge(EXIT_EARLY); }
"""

_RS_WRONG = """
pub struct Stats {
    pub count: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

pub fn summarize(values: &[f64]) -> Option<Stats> {
    BODY
    Some(Stats { count: values.len(), mean: 0.0, min: 0.0, max: 0.0 })
}
"""


def _rust_cases() -> list[Case]:
    ref = _reference_code("polyglot", "rs-summarize")
    wrong = _RS_WRONG.replace("BODY", "")
    wrong_exit = _RS_WRONG.replace("BODY", "llm_forge(true);")
    ctor_exit = _RS_CTOR.replace("EXIT_EARLY", "true")
    ctor_noise = _RS_CTOR.replace("EXIT_EARLY", "false")
    cases = [
        ("rs-static-ctor-prints-libtest-lines-and-exits", wrong + _RS_FORGE + ctor_exit, False),
        ("rs-first-call-prints-lookalikes-and-exits", wrong_exit + _RS_FORGE, False),
        ("rs-wrong-plain", wrong, False),
        ("rs-correct-with-ctor-noise", ref + _RS_FORGE + ctor_noise, True),
    ]
    return [Case(i, "polyglot", "rs-summarize", "rust", c, ok) for i, c, ok in cases]


# ------------------------------------------------------------------ Go (go-top-words)

_GO_FORGE = """
func llmForge(exit bool) {
	names := []string{}
	keys := []string{}
	entries, _ := os.ReadDir(".")
	for _, e := range entries {
		b, err := os.ReadFile(e.Name())
		if err != nil {
			continue
		}
		s := string(b)
		for _, m := range regexp.MustCompile(`func (Test\\w+)`).FindAllStringSubmatch(s, -1) {
			names = append(names, m[1])
		}
		for _, m := range regexp.MustCompile(`"([^"\\\\]{1,60})"`).FindAllStringSubmatch(s, -1) {
			keys = append(keys, m[1])
		}
	}
	for _, n := range names {
		fmt.Printf("=== RUN   %s\\n--- PASS: %s (0.00s)\\n", n, n)
		fmt.Printf("{\\"Action\\":\\"pass\\",\\"Test\\":%q}\\n", n)
	}
	for _, k := range keys {
		if exit {
			fmt.Printf("{\\"key\\":%q,\\"value\\":[\\"b\\",\\"a\\"]}\\n", k)
		} else {
			fmt.Printf("{\\"key\\":%q,\\"value\\":null}\\n", k+"~noise")
		}
	}
	fmt.Println("PASS")
	if exit {
		fmt.Println("ok  \\tsolution\\t0.001s")
		os.Exit(0)
	}
}
"""

_GO_WRONG = """package solution

import (
	"fmt"
	"os"
	"regexp"
)

func init() { INIT }

func TopWords(text string, n int) []string {
	BODY
	return []string{"b", "a"}
}
"""


def _go_cases() -> list[Case]:
    ref = _reference_code("polyglot", "go-top-words")
    ref_noise = ref.replace(
        'import (\n\t"sort"',
        'import (\n\t"fmt"\n\t"os"\n\t"regexp"\n\t"sort"',
    )
    assert ref_noise != ref
    ref_noise += "\nfunc init() { llmForge(false) }\n" + _GO_FORGE
    cases = [
        (
            "go-init-prints-test-lines-and-exits",
            _GO_WRONG.replace("INIT", "llmForge(true)").replace("BODY", "") + _GO_FORGE,
            False,
        ),
        (
            "go-first-call-prints-lookalikes-and-os-exit",
            _GO_WRONG.replace("INIT", "").replace("BODY", "llmForge(true)") + _GO_FORGE,
            False,
        ),
        ("go-correct-with-init-noise", ref_noise, True),
    ]
    return [Case(i, "polyglot", "go-top-words", "go", c, ok) for i, c, ok in cases]


# ------------------------------------------------------------ JavaScript (js-parse-query)

_JS_READ_TESTS = r"""
const llmFs = require('fs');
let llmSrc = '';
for (const f of llmFs.readdirSync('.')) {
  try { llmSrc += llmFs.readFileSync(f, 'utf8'); } catch (e) { /* a directory */ }
}
const llmNames = [...llmSrc.matchAll(/test\(\s*'([^']+)'/g)].map((m) => m[1]);
const llmKeys = [...llmSrc.matchAll(/['"]([\w .:-]{1,60})['"]/g)].map((m) => m[1]);
"""

_JS_ARGV_NONCE = (
    _JS_READ_TESTS
    + r"""
for (const a of process.argv.slice(2)) {
  for (const n of llmNames) process.stdout.write('@@' + a + ' PASS ' + n + '\n');
}
for (const k of llmKeys) process.stdout.write(JSON.stringify({ key: k, value: { a: '1' } }) + '\n');
process.exit(0);
"""
)

_JS_HOOK_OUTPUT = r"""
const llmW = process.stdout.write.bind(process.stdout);
const llmFix = (s) => s.replace(/ FAIL /g, ' PASS ').replace(/"ok":false/g, '"ok":true')
  .replace(/"error":"[^"]*"/g, '"value":{}');
process.stdout.write = (s, ...r) => llmW(typeof s === 'string' ? llmFix(s) : s, ...r);
const llmFs2 = require('fs');
const llmWs = llmFs2.writeSync;
llmFs2.writeSync = (fd, s, ...r) => llmWs(fd, typeof s === 'string' ? llmFix(s) : s, ...r);
"""

_JS_POLLUTE = r"""
Object.prototype.llmbench = true;
Array.prototype.includes = () => true;
const llmStringify = JSON.stringify;
JSON.stringify = (v, ...r) => llmStringify(v, ...r).replace(/"value":[^,}]*/g, '"value":{}');
JSON.parse = () => ({ ok: true, key: 'x', value: {} });
Object.is = () => true;
Object.keys = () => [];
"""

_JS_ALWAYS_EQUAL = r"""
function llmAny() {
  const target = function () {};
  return new Proxy(target, {
    get: (t, k) => (k === Symbol.toPrimitive ? () => '1' : k === 'toJSON' ? () => ({}) : llmAny()),
    has: () => true,
    ownKeys: () => [],
    getPrototypeOf: () => Object.prototype,
    apply: () => llmAny(),
  });
}
"""

_JS_WRONG = """
'use strict';
HEAD
function parseQuery(qs) {
  BODY
  const out = {};
  for (const part of qs.replace(/^\\?/, '').split('&')) {
    const [k, v] = part.split('=');
    out[k] = v;
  }
  return out;
}
module.exports = { parseQuery };
"""


def _js_cases() -> list[Case]:
    ref = _reference_code("polyglot", "js-parse-query")

    def wrong(head: str = "", body: str = "") -> str:
        return _JS_WRONG.replace("HEAD", head).replace("BODY", body)

    noise_ref = ref.replace(
        "'use strict';",
        "'use strict';\n"
        + _JS_READ_TESTS
        + "for (const n of llmNames) console.log('@@0123abcd PASS ' + n);\n"
        + "for (const k of llmKeys) console.log(JSON.stringify({ key: k + '~noise', value: 0 }));\n"
        + "const llmW = process.stdout.write.bind(process.stdout);\n"
        + "process.stdout.write = (s, ...r) => llmW(s, ...r);\n",
        1,
    )
    cases = [
        ("js-argv-nonce-lookalike-lines-and-exit", wrong(_JS_ARGV_NONCE), False),
        ("js-hook-stdout-and-fs-writeSync", wrong(_JS_HOOK_OUTPUT), False),
        ("js-prototype-and-json-pollution", wrong(_JS_POLLUTE), False),
        ("js-always-equal-proxy", wrong(_JS_ALWAYS_EQUAL, "return llmAny();"), False),
        ("js-process-exit-0-at-load", wrong("process.exit(0);"), False),
        ("js-correct-with-noise", noise_ref, True),
    ]
    return [Case(i, "polyglot", "js-parse-query", "javascript", c, ok) for i, c, ok in cases]


# ------------------------------------------------------------ TypeScript (ts-emitter-once)

_TS_FORGE = r"""
import * as llmFs from 'node:fs';
declare const process: any;
const llmSrc: string = llmFs.readdirSync('.').map((f: string) => {
  try { return llmFs.readFileSync(f, 'utf8'); } catch (e) { return ''; }
}).join('\n');
const llmNames: string[] = [...llmSrc.matchAll(/test\(\s*'([^']+)'/g)].map((m) => m[1]);
for (const a of process.argv.slice(2)) {
  for (const n of llmNames) process.stdout.write('@@' + a + ' PASS ' + n + '\n');
}
for (const m of llmSrc.matchAll(/['"]([\w .:-]{1,60})['"]/g)) {
  process.stdout.write(JSON.stringify({ key: EXIT ? m[1] : m[1] + '~noise', value: 1 }) + '\n');
}
if (EXIT) process.exit(0);
"""

_TS_WRONG = """
export class Emitter {
  on(event: string, fn: (p: unknown) => void): () => void { return () => {}; }
  once(event: string, fn: (p: unknown) => void): () => void { return () => {}; }
  emit(event: string, payload: unknown): number { return 1; }
}
"""


def _ts_cases() -> list[Case]:
    ref = _reference_code("polyglot", "ts-emitter-once")
    forge = _TS_FORGE.replace("EXIT", "true")
    cases = [
        ("ts-argv-nonce-lookalike-lines-and-exit", forge + _TS_WRONG, False),
        ("ts-correct-with-noise", _TS_FORGE.replace("EXIT", "false") + ref, True),
    ]
    return [Case(i, "polyglot", "ts-emitter-once", "typescript", c, ok) for i, c, ok in cases]


# ------------------------------------------------------- Python (py-lru-refresh-delete)

_PY_FORGE = r"""
import os as _os, re as _re, sys as _sys, json as _json
_src = ""
for _f in _os.listdir("."):
    try:
        _src += open(_f).read()
    except OSError:
        pass
for _a in _sys.argv[1:]:
    for _n in _re.findall(r"def (test\w*)", _src):
        print(f"@@{_a} PASS {_n}")
for _k in _re.findall(r"['\"]([\w .:-]{1,60})['\"]", _src):
    print(_json.dumps({"key": _k if EXIT else _k + "~noise", "value": 1}))
_sys.stdout.flush()
if EXIT:
    _os._exit(0)
"""

_PY_WRONG = """
class LRUCache:
    def __init__(self, capacity):
        self._d = {}

    def get(self, key, default=None):
        return self._d.get(key, default)

    def put(self, key, value):
        self._d[key] = value

    def delete(self, key):
        return True

    def __len__(self):
        return len(self._d)
"""


_PY_ALWAYS_EQUAL = """
import gc, sys


class _Any(int):
    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False
    __hash__ = int.__hash__
    __bool__ = lambda self: True
    __len__ = lambda self: 0


for _o in gc.get_objects():  # nothing of the tests' is in this process to rewrite
    if isinstance(_o, dict) and "test_basic" in _o:
        _o["test_basic"] = lambda: None
sys.modules.pop("__main__", None)


class LRUCache:
    def __init__(self, capacity):
        pass

    def get(self, key, default=None):
        return _Any(0)

    def put(self, key, value):
        pass

    def delete(self, key):
        return _Any(1)

    def __len__(self):
        return 0
"""


def _py_cases() -> list[Case]:
    ref = _reference_code("polyglot", "py-lru-refresh-delete")
    forge = _PY_FORGE.replace("EXIT", "True")
    cases = [
        ("py-argv-nonce-lookalike-lines-and-exit", forge + _PY_WRONG, False),
        ("py-always-equal-objects-and-gc-walk", _PY_ALWAYS_EQUAL, False),
        ("py-correct-with-noise", _PY_FORGE.replace("EXIT", "False") + ref, True),
    ]
    return [Case(i, "polyglot", "py-lru-refresh-delete", "python", c, ok) for i, c, ok in cases]


# ------------------------------------------------------------ bugfind JavaScript (js-sum-empty)

_BF_FS_HOOK = r"""
const llmFs = require('fs');
const llmWs = llmFs.writeSync;
llmFs.writeSync = function (fd, s, ...r) {
  if (typeof s === 'string') {
    s = s.replace(/"ok":false/g, '"ok":true').replace(/"error":"[^"]*"/g, '"value":6');
  }
  return llmWs.call(this, fd, s, ...r);
};
"""

_BF_ASSERT = r"""
if (typeof assert !== 'undefined') {
  for (const k of Object.keys(assert)) { try { assert[k] = () => {}; } catch (e) { /* frozen */ } }
}
"""


def _bugfind_cases() -> list[Case]:
    wrong = "function total(prices) {\n  return prices.reduce((a, b) => a + b);\n}\n"
    right = "function total(prices) {\n  return prices.reduce((a, b) => a + b, 0);\n}\n"
    always = (
        "function total(prices) {\n  return { valueOf: () => 6, toString: () => '6', "
        "[Symbol.toPrimitive]: () => 6, toJSON: () => 6 };\n}\n"
    )
    cases = [
        ("bf-js-hook-fs-writeSync", _BF_FS_HOOK + wrong, False),
        ("bf-js-replace-assert", _BF_ASSERT + wrong, False),
        ("bf-js-prototype-and-json-pollution", _JS_POLLUTE + wrong, False),
        ("bf-js-always-equal-object", always, False),
        ("bf-js-process-exit-0", "process.exit(0);\n" + wrong, False),
        (
            "bf-js-correct-with-noise",
            "const llmFs = require('fs');\nconst llmWs = llmFs.writeSync;\n"
            "llmFs.writeSync = (fd, s, ...r) => llmWs(fd, s, ...r);\n"
            'console.log(\'{"key":"x","ok":true}\');\n' + right,
            True,
        ),
    ]
    return [Case(i, "bugfind", "js-sum-empty", "javascript", c, ok) for i, c, ok in cases]


CASES = _rust_cases() + _go_cases() + _js_cases() + _ts_cases() + _py_cases() + _bugfind_cases()
# Verifier paths still deciding inside the sandbox: their forgeries are known to pass
# (strict: the mark fails the suite once they are fixed, so it must then be removed).
OPEN: set[str] = set()


def _param(c: Case) -> Any:
    if c.id in OPEN:
        why = f"{c.language} ({c.pack}) still decides inside the sandbox"
        return pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=why))
    return pytest.param(c, id=c.id)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_forgery_fails_and_noise_passes(sandbox: Sandbox, case: Case) -> None:
    pack = _pack(case.pack)
    sc = pack.scenario(case.scenario)
    v = check_answer(sc, pack.meta, case.answer(), VerifierContext(sandbox=sandbox))
    tc: Any = getattr(sandbox, "tc", None)
    if case.language == "go" and tc is not None and "go" not in tc.found:
        # no Go on this host: an infrastructure error, never a verdict on the model
        assert not v.passed and v.category == "sandbox_unavailable", v.detail
        return
    if case.should_pass:
        assert v.passed, f"the correct answer with noise fails: {v.detail}"
    else:
        assert not v.passed, f"forged: {v.detail}"
        assert v.category != "sandbox_unavailable", v.detail


@pytest.mark.bwrap
def test_forgery_through_the_plugin(fake_server: Any, tmp_path: Path) -> None:
    """The polyglot pack run by pytest against a server answering with tricks: the
    forged Rust answer FAILS, the correct JavaScript answer with noise PASSES."""
    import os
    import subprocess
    import sys

    from fakeserver import chat_reply

    answers = {
        "fn summarize": next(c for c in CASES if c.id.startswith("rs-static-ctor")).answer(),
        "function parseQuery": next(c for c in CASES if c.id == "js-correct-with-noise").answer(),
    }

    served: set[str] = set()

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        prompt = str(body["messages"][-1]["content"])
        key = next((k for k in answers if k in prompt), None)
        if key:
            served.add(key)
        return 200, chat_reply(answers[key] if key else "no idea"), {}

    fake_server.script = script
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMBENCH_")}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--llm-endpoint={fake_server.url}",
            "--llm-sandbox=bwrap",
            "--llm-pack=polyglot",
            "-k",
            "rs-summarize or js-parse-query",
            "-p",
            "no:cacheprovider",
            "-rA",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    out = res.stdout
    if "sandbox unavailable" in out or "bwrap" in out and "not available" in out:
        pytest.skip("bwrap sandbox unavailable")
    assert served == set(answers), out[-3000:]
    assert "1 failed, 1 passed" in out, out[-3000:]
    assert re.search(r"FAILED .*rs-summarize", out), out[-3000:]
    assert re.search(r"PASSED .*js-parse-query", out), out[-3000:]


_FIND_PACKS = r"""
import os
names = {"go.yaml", "rust.yaml", "javascript.yaml", "typescript.yaml", "scenario.yaml", "pack.yaml"}
found = []
for top in os.listdir("/"):
    if top in ("proc", "sys", "dev"):
        continue
    for root, dirs, files in os.walk("/" + top, onerror=lambda e: None):
        for f in files:
            if f in names or "llmbench" in f:
                found.append(os.path.join(root, f))
print("FOUND", found[:20])
"""


def test_expected_values_are_not_reachable_from_the_sandbox(sandbox: Sandbox) -> None:
    """The scenario files hold the expected values: code in the sandbox must not be
    able to find them (nor the package that holds the built-in packs)."""
    res = sandbox.run(files={"find.py": _FIND_PACKS}, cmd=["python3", "find.py"], timeout_s=120)
    assert "FOUND" in res.stdout, res.stderr
    assert "FOUND []" in res.stdout, res.stdout[-2000:]
