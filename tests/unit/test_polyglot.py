"""polyglot verifier and the TypeScript eraser. Test runs use a local stand-in for the
sandbox (our own fixtures only, never model output), so no Docker is needed here."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from fakechannel import as_sandbox
from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.sandbox.interface import ExecResult, Limits
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.verifiers.context import VerifierContext
from pytest_llmbench.core.verifiers.polyglot import (
    TypeEraseError,
    TypeEraseUnsupported,
    erase_types,
    original_from_prompt,
)
from pytest_llmbench.core.verifiers.polyglot import (
    test_names as names_of,
)

NODE = shutil.which("node")


class HostRunner:
    """Runs trusted fixture commands in a temp dir, like Sandbox.run."""

    name = "host-test"

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, Any], list[str]]] = []

    def run(
        self,
        files: Mapping[str, str | bytes] | None = None,
        cmd: Sequence[str] = (),
        stdin: str | bytes | None = None,
        timeout_s: float = 10.0,
        limits: Limits | None = None,
    ) -> ExecResult:
        self.calls.append((dict(files or {}), list(cmd)))
        with tempfile.TemporaryDirectory() as d:
            for name, content in (files or {}).items():
                p = os.path.join(d, name)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                with open(p, "w" if isinstance(content, str) else "wb") as fh:
                    fh.write(content)
            argv = list(cmd)
            if argv and argv[0] == "sh" and "command -v tsc" in argv[-1]:
                return ExecResult(1, "", "")  # pretend tsc is missing: use the eraser
            p2 = subprocess.run(argv, cwd=d, capture_output=True, text=True, timeout=timeout_s)
            return ExecResult(p2.returncode, p2.stdout, p2.stderr)


PY_TESTS = """from calc import add


def test_one():
    assert add(1, 2) == 3


def test_two():
    assert add(-1, 1) == 0


def test_three():
    assert add(2, 2) == 4
"""


def scenario(fmt: str, tests: str = PY_TESTS, **extra: Any) -> Scenario:
    prompt = "Fix it.\n\n```python\ndef add(a, b):\n    return a - b\n```\n"
    ver = {
        "type": "polyglot",
        "language": "python",
        "edit_format": fmt,
        "file": "calc.py",
        "tests": tests,
        **extra,
    }
    return Scenario.model_validate(
        {
            "id": "t",
            "prompt": prompt,
            "verifier": ver,
            "reference": "x",
            "counterexamples": ["a", "b"],
        }
    )


def test_test_names_per_language() -> None:
    assert names_of(PY_TESTS) == ["test_one", "test_two", "test_three"]


def test_original_from_prompt() -> None:
    text = "Fix:\n```js\nconst a = 1;\n```\nand\n```python\nx = 1\n```"
    assert original_from_prompt(text, "python") == "x = 1\n"
    assert original_from_prompt(text, "go") == "const a = 1;\n"
    assert original_from_prompt("no code", "go") is None


@pytest.fixture(scope="module")
def local() -> Any:
    """Python scenarios need Sandbox.open (the answer is served over a channel)."""
    from pytest_llmbench.core.sandbox import open_sandbox

    sb = open_sandbox("unsafe-local")
    yield sb
    sb.close()


def test_partial_credit_and_metrics(local: Any) -> None:
    sb = local
    half = "```python\ndef add(a, b):\n    return abs(a) + b\n```"
    v = check_answer(scenario("whole"), None, half, VerifierContext(sandbox=sb))
    assert not v.passed and v.category == "tests_failed"
    assert v.metrics == {"tests": [2.0, 3.0]} and v.score == pytest.approx(2 / 3)
    assert "test_two: assertion failed: assert add(-1, 1) == 0" in v.detail
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    v = check_answer(scenario("whole"), None, good, VerifierContext(sandbox=sb))
    assert v.passed and v.score == 1.0 and v.metrics == {"tests": [3.0, 3.0]}


def test_weights(local: Any) -> None:
    sc = scenario("whole", weights={"test_two": 3})
    v = check_answer(
        sc,
        None,
        "```python\ndef add(a, b):\n    return abs(a) + b\n```",
        VerifierContext(sandbox=local),
    )
    assert v.score == pytest.approx(2 / 5)


def test_import_error_is_compile_error_with_zero_of_n(local: Any) -> None:
    v = check_answer(
        scenario("whole"),
        None,
        "```python\ndef add(a, b)\n    return a\n```",
        VerifierContext(sandbox=local),
    )
    assert v.category == "compile_error" and v.metrics == {"tests": [0.0, 3.0]}
    assert "SyntaxError" in v.detail


def test_a_missing_name_is_a_load_failure_not_an_error(local: Any) -> None:
    tests = "from calc import add\n\n\ndef test_one():\n    assert add(1, 2) == 3\n"
    v = check_answer(
        scenario("whole", tests=tests),
        None,
        "```python\ndef plus(a, b):\n    return a + b\n```",
        VerifierContext(sandbox=local),
    )
    assert not v.passed and v.category == "compile_error", v.detail
    assert "ImportError" in v.detail and v.metrics == {"tests": [0.0, 1.0]}


def test_printed_pass_lines_do_not_count(local: Any) -> None:
    fake = (
        "```python\nprint('@@0000 PASS test_one')\nprint('PASS test_two')\n"
        "def add(a, b):\n    return None\n```"
    )
    v = check_answer(scenario("whole"), None, fake, VerifierContext(sandbox=local))
    assert v.metrics == {"tests": [0.0, 3.0]}


def test_edit_formats_and_categories(local: Any) -> None:
    sb = local
    sr = "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
    assert check_answer(scenario("search_replace"), None, sr, VerifierContext(sandbox=sb)).passed
    bad = sr.replace("a - b\n=", "a * b\n=")
    v = check_answer(scenario("search_replace"), None, bad, VerifierContext(sandbox=sb))
    assert v.category == "edit_apply_error" and "SEARCH text is not in calc.py" in v.detail
    diff = (
        "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n"
        " def add(a, b):\n-    return a - b\n+    return a + b\n```"
    )
    assert check_answer(scenario("diff"), None, diff, VerifierContext(sandbox=sb)).passed
    v = check_answer(
        scenario("diff"), None, "I would change the minus to a plus.", VerifierContext(sandbox=sb)
    )
    assert v.category == "no_code"
    # no sandbox: a clear failure, not a crash
    v = check_answer(scenario("diff"), None, diff, VerifierContext(sandbox=None))
    assert v.category == "sandbox_unavailable"


def test_missing_toolchain_is_reported() -> None:
    class NoGo(HostRunner):
        def run(
            self,
            files: Mapping[str, str | bytes] | None = None,
            cmd: Sequence[str] = (),
            stdin: str | bytes | None = None,
            timeout_s: float = 10.0,
            limits: Limits | None = None,
        ) -> ExecResult:
            if "command -v" in cmd[-1]:
                return ExecResult(1, "", "")
            return ExecResult(1, "", "bwrap: execvp sh: No such file or directory\n")

    sc = Scenario.model_validate(
        {
            "id": "g",
            "prompt": "x",
            "reference": "x",
            "counterexamples": ["a", "b"],
            "verifier": {
                "type": "polyglot",
                "language": "go",
                "file": "a.go",
                "observe": "package solution\n\nfunc llmbenchObservations() {}\n",
                "expect": {"a": 1},
            },
        }
    )
    v = check_answer(
        sc, None, "```go\npackage solution\n```", VerifierContext(sandbox=as_sandbox(NoGo()))
    )
    assert v.category == "sandbox_unavailable" and "no `go`" in v.detail


# ---------------------------------------------------------------- TypeScript eraser

TS = """import type { Foo } from "./foo";
export interface Item<T = unknown> { id: number; tags?: string[] }
export type Pair<A, B> = [A, B];
type U =
  | "a"
  | "b";
let count: number = 0, label: string | null = null;
export function first<T extends object>(xs: T[], pred?: (x: T) => boolean): T | undefined {
  for (const x of xs) if (!pred || pred(x)) return x;
  return undefined;
}
export function over(a: string): string;
export function over(a: any): any { return a; }
export const add = (a: number, b: number = a > 1 ? 2 : 3): number => a + b;
const id = <T,>(x: T): T => x;
export abstract class Base<T> implements Iterable<T> {
  private readonly items: T[] = [];
  static created: number = 0;
  abstract kind(): string;
  constructor(private label: string, public size: number = 0) { Base.created++; }
  get length(): number { return this.items.length; }
  *[Symbol.iterator](): Iterator<T> { yield* this.items; }
}
class D extends Base<number> {
  kind(): string { return "d"; }
  constructor(readonly extra: number) { super("x", 1); }
}
const m = new Map<string, number>([["a", 1]]);
const v = m.get("a")!;
const w = (m.get("b") as number | undefined) ?? -1;
const obj = { a: 1, b: count ? "x" : "y" };
function isStr(x: unknown): x is string { return typeof x === "string"; }
const { a, b }: { a: number; b: string } = obj;
const d = new D(5);
console.log(JSON.stringify([first([1, 2], (n: number) => n > 1), add(1), id(3), over("o"), v, w,
  a, b, isStr("s"), d.extra, d.size, d.length, Base.created, count, label]));
"""


def test_eraser_output_is_javascript() -> None:
    js = erase_types(TS)
    assert js.count("\n") == TS.count("\n")  # line numbers kept
    for gone in ("interface", ": number", "as number", "implements", "private", "<T>"):
        assert gone not in js, gone
    if NODE is None:
        pytest.skip("node is not installed")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.mjs")
        with open(path, "w") as fh:
            fh.write(js)
        out = subprocess.run([NODE, path], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[2,4,3,"o",1,-1,1,"y",true,5,1,0,1,0,null]'


@pytest.mark.parametrize(
    "src",
    [
        "enum Color { Red }\n",
        "namespace N { }\n",
        "@dec class A {}\n",
        "import fs = require('fs');\n",
    ],
)
def test_eraser_refuses_what_it_cannot_do(src: str) -> None:
    with pytest.raises(TypeEraseUnsupported, match="not supported|decorators"):
        erase_types(src)


def test_eraser_syntax_errors_are_not_unsupported_features() -> None:
    with pytest.raises(TypeEraseError) as ei:
        erase_types("const s = 'open;\n")
    assert not isinstance(ei.value, TypeEraseUnsupported)


def test_eraser_keeps_plain_javascript() -> None:
    js = "const re = /a\\/b/g;\nconst t = `x${1 + 2}y`;\nconst c = a ? b : { k: 1 };\n"
    assert erase_types(js) == js


def test_typescript_scenario_through_the_eraser() -> None:
    if NODE is None:
        pytest.skip("node is not installed")
    observe = "import { twice } from './m.mjs';\nobserve('twice', () => twice(2));\n"
    sc = Scenario.model_validate(
        {
            "id": "ts",
            "prompt": "x",
            "reference": "x",
            "counterexamples": ["a", "b"],
            "verifier": {
                "type": "polyglot",
                "language": "typescript",
                "file": "m.ts",
                "observe": observe,
                "expect": {"twice": 4},
            },
        }
    )
    ans = "```ts\nexport function twice(n: number): number {\n  return (n as number) * 2;\n}\n```"
    v = check_answer(sc, None, ans, VerifierContext(sandbox=as_sandbox(HostRunner())))
    assert v.passed, v.detail
    v = check_answer(
        sc,
        None,
        "```ts\nenum E { A }\nexport const twice = 1;\n```",
        VerifierContext(sandbox=as_sandbox(HostRunner())),
    )
    # valid TypeScript the eraser cannot take: the sandbox's shortcoming, not the model's
    assert v.category == "sandbox_unavailable" and "enum is not supported" in v.detail
    assert "--llm-sandbox docker" in v.detail
    # a real syntax error is still the model's
    v = check_answer(
        sc,
        None,
        "```ts\nexport const twice = 'oops;\n```",
        VerifierContext(sandbox=as_sandbox(HostRunner())),
    )
    assert v.category == "compile_error" and "unterminated string" in v.detail


def _js_scenario(observe: str, expect: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(
        {
            "id": "js",
            "prompt": "x",
            "reference": "x",
            "counterexamples": ["a", "b"],
            "verifier": {
                "type": "polyglot",
                "language": "javascript",
                "file": "m.js",
                "observe": observe,
                "expect": expect,
                "per_test_ms": 300,
            },
        }
    )


def test_javascript_observations_are_typed_and_judged_on_the_host() -> None:
    if NODE is None:
        pytest.skip("node is not installed")
    observe = """const m = require('./m.js');
observe('values/undefined', () => m.f(0));
observe('values/nan', () => m.f(1));
observe('values/big', () => m.f(2));
observe('values/map', () => m.f(3));
observe('async', async () => m.g());
observe('throws', () => m.f(4));
observe('hangs', () => new Promise(() => {}));
observe('clock', async ({ now, record }) => {
  const t0 = now();
  const log = record();
  log.add(1);
  Date.now = () => 0;
  Array.prototype.push = () => 0;
  log.add(2);
  return [now() >= t0, log];
});
"""
    code = """```javascript
module.exports = {
  f: (i) => {
    if (i > 3) throw new TypeError('bad ' + i);
    return [undefined, NaN, 10n, new Map([['a', [1, new Set([2])]]])][i];
  },
  g: async () => 1.5,
};
```"""
    expect: dict[str, Any] = {
        "values/undefined": {"$undefined": True},
        "values/nan": {"$num": "NaN"},
        "values/big": {"$bigint": "10"},
        "values/map": {"$map": [["a", [1, {"$set": [2]}]]]},
        "async": 1.5,
        "throws": {"cmp": "error", "value": "TypeError: bad 4"},
        "hangs": {"cmp": "error", "value": "timed out"},
        "clock": [True, [1, 2]],
    }
    v = check_answer(
        _js_scenario(observe, expect), None, code, VerifierContext(sandbox=as_sandbox(HostRunner()))
    )
    assert v.passed, v.detail
    # the same run with one expectation changed fails on exactly that key
    v = check_answer(
        _js_scenario(observe, {**expect, "async": 1}),
        None,
        code,
        VerifierContext(sandbox=as_sandbox(HostRunner())),
    )
    assert not v.passed and v.metrics["tests"] == [4.0, 5.0]
    assert "async: got 1.5, wanted 1" in v.detail


def test_javascript_that_does_not_load_is_a_build_error() -> None:
    if NODE is None:
        pytest.skip("node is not installed")
    sc = _js_scenario("const m = require('./m.js');\nobserve('a', () => m.a);\n", {"a": 1})
    v = check_answer(
        sc,
        None,
        "```javascript\nmodule.exports = {a: 1\n```",
        VerifierContext(sandbox=as_sandbox(HostRunner())),
    )
    assert v.category == "compile_error" and "SyntaxError" in v.detail, v.detail
    assert v.metrics["tests"] == [0.0, 1.0]


RUSTC = shutil.which("rustc")


def test_rust_observations_are_typed_and_a_panic_is_an_error() -> None:
    if RUSTC is None:
        pytest.skip("rustc is not installed")
    observe = r"""fn observations() {
    obs("text", || String::from("a\"b\\c\n\u{e9}"));
    obs("ints", || vec![1u8, 2, 3]);
    obs("float", || 2.5f64);
    obs("nan", || f64::NAN);
    obs("none", || None::<i32>);
    obs("result", || (Ok::<i32, String>(1), Err::<i32, String>("bad".into())));
    obs("map", || {
        let mut m = std::collections::HashMap::new();
        m.insert("b", 2);
        m.insert("a", 1);
        m
    });
    obs("debug", || dbg_text(Some((1, 'x'))));
    obs("panics", || -> i32 { panic!("boom {}", 7) });
    obs("after the panic", || true);
}
"""
    expect: dict[str, Any] = {
        "text": 'a"b\\c\né',
        "ints": [1, 2, 3],
        "float": 2.5,
        "nan": {"$float": "NaN"},
        "none": None,
        "result": [{"ok": 1}, {"err": '"bad"'}],
        "map": {"a": 1, "b": 2},
        "debug": "Some((1, 'x'))",
        "panics": {"cmp": "error", "value": "panic: boom 7"},
        "after the panic": True,
    }
    sc = Scenario.model_validate(
        {
            "id": "rs",
            "prompt": "x",
            "reference": "x",
            "counterexamples": ["a", "b"],
            "verifier": {
                "type": "polyglot",
                "language": "rust",
                "file": "lib.rs",
                "observe": observe,
                "expect": expect,
            },
        }
    )
    v = check_answer(
        sc,
        None,
        "```rust\npub fn unused() {}\n```",
        VerifierContext(sandbox=as_sandbox(HostRunner())),
    )
    assert v.passed, v.detail
    v = check_answer(
        sc,
        None,
        "```rust\npub fn broken( {}\n```",
        VerifierContext(sandbox=as_sandbox(HostRunner())),
    )
    assert v.category == "compile_error" and v.metrics["tests"] == [0.0, 10.0]
