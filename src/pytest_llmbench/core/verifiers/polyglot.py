"""Hidden-test verifiers for code in Python, JavaScript, TypeScript, Go and Rust.

``polyglot``: the model writes or edits one file (whole file, SEARCH/REPLACE blocks or a
unified diff, see :mod:`..edits`); hidden tests then run in the sandbox and the score
is the weighted share of tests that pass (``metrics["tests"] = [passed, total]``).

How each language runs (all offline, standard library only):

- Python: ``test_*`` functions of the test module, run one by one by a small harness
  (the image has no pytest); plain ``assert`` statements.
- JavaScript: the test file calls a global ``test(name, fn)`` (``fn`` may be async);
  a harness runs them in order with a per-test timeout. CommonJS or ES modules.
- TypeScript: the model's ``.ts`` file becomes ``.mjs`` through ``tsc`` when the sandbox
  has it (the Docker image does; type errors are not graded), else through the type
  eraser at the end of this module (host side); valid TypeScript the eraser cannot take
  (enum, namespace, decorators) is then ``sandbox_unavailable``, not the model's fault.
  The tests are JavaScript modules importing the ``.mjs``.
- Go: ``go test -json`` on a module named ``solution`` (vet off: style is not graded).
- Rust: the tests are appended to the file as a ``#[cfg(test)]`` module and run with
  ``rustc --test``; or, with ``tests_language: python``, the file is built with
  ``rustc`` into ``./app`` and Python tests drive the binary.

The total number of tests is read from the test source (``def test_*``, ``test("..."``,
``func TestX(t *testing.T)``, ``#[test] fn x``), so a program that crashes before a test
reports anything still counts 0/N. Result lines carry a per-run nonce, so a program
printing "PASS" cannot pass a test.
"""

from __future__ import annotations

import json
import posixpath
import re
import secrets
import weakref
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..edits import EditApplyError, NoEdit, apply_edit, describe_format
from ..output import Output
from ._code import NoCode, code_blocks
from .base import Check, Verdict, Verifier, register

Language = Literal["python", "javascript", "typescript", "go", "rust"]
TOOLS = {
    "python": "python3",
    "javascript": "node",
    "typescript": "node",
    "go": "go",
    "rust": "rustc",
}

PY_HARNESS = r"""
import importlib, sys, traceback
nonce, modname = sys.argv[1], sys.argv[2]
sys.path.insert(0, ".")
real_out = sys.stdout
def out(s):
    real_out.write("@@" + nonce + " " + s.replace("\n", " | ")[:400] + "\n")
    real_out.flush()
def why(e, fname):
    msg = (type(e).__name__ + ": " + str(e)).strip().rstrip(":")
    if isinstance(e, AssertionError) and not str(e):
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.endswith(fname)]
        if frames:
            msg = "AssertionError: " + (frames[-1].line or "").strip()
    return msg
try:
    mod = importlib.import_module(modname)
except BaseException as e:
    last = traceback.format_exc().splitlines()[-2:][0].strip()
    out("LOADERROR " + why(e, modname + ".py") + " " + last)
    sys.exit(3)
tests = [(n, f) for n, f in list(vars(mod).items())
         if n.startswith("test") and callable(f) and getattr(f, "__module__", None) == mod.__name__]
for n, f in tests:
    try:
        f()
        out("PASS " + n)
    except BaseException as e:
        out("FAIL " + n + " " + why(e, modname + ".py"))
sys.exit(0)
"""

JS_HARNESS = r"""
import { pathToFileURL } from 'node:url';
import path from 'node:path';
const [nonce, file, perTest] = process.argv.slice(2);
const limit = Number(perTest || 5000);
const tests = [];
globalThis.test = (name, fn) => { tests.push([String(name), fn]); };
const write = (s) =>
  process.stdout.write('@@' + nonce + ' ' + s.replace(/\n/g, ' | ').slice(0, 400) + '\n');
const why = (e) =>
  (e && e.message !== undefined ? (e.name || 'Error') + ': ' + e.message : String(e));
let stray = null;
process.on('unhandledRejection', (e) => { stray = e; });
process.on('uncaughtException', (e) => { stray = e; });
try {
  await import(pathToFileURL(path.resolve(file)).href);
} catch (e) {
  write('LOADERROR ' + why(e));
  process.exit(3);
}
for (const [name, fn] of tests) {
  let timer;
  stray = null;
  try {
    await Promise.race([
      Promise.resolve().then(() => fn()),
      new Promise((_, reject) => {
        const err = new Error('test timed out after ' + limit + ' ms');
        timer = setTimeout(() => reject(err), limit);
      }),
    ]);
    if (stray) throw stray;
    write('PASS ' + name);
  } catch (e) {
    write('FAIL ' + name + ' ' + why(e));
  } finally {
    clearTimeout(timer);
  }
}
process.exit(0);
"""

GO_MOD = "module solution\n\ngo 1.19\n"
BUILD_FAILED = 97

_TEST_NAMES = {
    "python": re.compile(r"^def (test\w*)\s*\(", re.M),
    "javascript": re.compile(r"""\btest\(\s*(['"`])(.+?)\1""", re.S),
    "go": re.compile(r"^func (Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.M),
    "rust": re.compile(r"#\[test\]\s*(?:#\[[^\]]*\]\s*)*fn\s+(\w+)"),
}


def test_names(source: str, language: str) -> list[str]:
    """The tests a hidden test file defines, in order (duplicates kept once)."""
    rx = _TEST_NAMES["javascript" if language == "typescript" else language]
    names = [m.group(m.lastindex or 0) for m in rx.finditer(source)]
    return list(dict.fromkeys(names))


class PolyglotArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language
    edit_format: Literal["whole", "search_replace", "diff"] = "whole"
    # The file the model writes or edits, e.g. "stack.py", "queue.js", "lib.rs".
    file: str
    # The file before the edit; default: the first code block of the prompt.
    original: str | None = None
    tests: str
    tests_language: Language | None = None
    test_file: str | None = None
    # Fixed files beside the solution (helpers, fixtures); the model cannot change them.
    files: dict[str, str] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
    timeout_s: float = Field(default=90.0, gt=0, le=600)
    per_test_ms: int = Field(default=5000, ge=100, le=120_000)
    memory_mb: int = Field(default=1024, ge=64, le=8192)


@dataclass
class TestRun:
    """The outcome of one hidden-test run."""

    names: list[str]
    results: dict[str, tuple[bool, str]] = field(default_factory=dict)
    build_error: str | None = None
    failure_mode: str | None = None
    needs_tool: str | None = None  # the code is fine; this sandbox cannot build it
    stderr: str = ""
    duration_s: float = 0.0

    def passed(self, name: str) -> bool:
        return self.results.get(name, (False, ""))[0]


# Which sandboxes lack which tool (probed once, only after a run could not start it).
_MISSING: weakref.WeakKeyDictionary[Any, dict[str, bool]] = weakref.WeakKeyDictionary()


def tool_missing(sandbox: Any, tool: str) -> bool:
    cache = _MISSING.setdefault(sandbox, {})
    if tool not in cache:
        res = sandbox.run({}, ["sh", "-c", f"command -v {tool} >/dev/null"], timeout_s=20.0)
        cache[tool] = res.exit_code != 0
    return cache[tool]


def _could_not_start(stderr: str, exit_code: int) -> bool:
    return exit_code == 127 or "execvp" in stderr or "executable file not found" in stderr


def _tsc_available(sandbox: Any) -> bool:
    return not tool_missing(sandbox, "tsc")


class Runner:
    """Builds the sandbox files and command for a language, then reads the results."""

    def __init__(self, args: PolyglotArgs, sandbox: Any):
        self.a = args
        self.sandbox = sandbox
        self.tests_lang: str = args.tests_language or (
            "javascript" if args.language == "typescript" else args.language
        )
        self.nonce = secrets.token_hex(8)

    def test_file(self) -> str:
        if self.a.test_file:
            return self.a.test_file
        if self.tests_lang == "javascript":
            # Tests of TypeScript import the compiled ES module; JavaScript ones may require().
            return "solution.test.mjs" if self.a.language == "typescript" else "solution.test.js"
        return {
            "python": "test_solution.py",
            "go": "solution_test.go",
            "rust": "",
        }[self.tests_lang]

    def plan(self, files: dict[str, str]) -> tuple[dict[str, str], list[str]]:
        a, lang = self.a, self.a.language
        files = dict(files)
        pre = ""
        if lang == "typescript":
            stem = posixpath.splitext(a.file)[0]
            if _tsc_available(self.sandbox):
                # tsc emits despite type errors (types are not graded); no JS means the
                # source does not parse. One call: --noCheck would need TypeScript 5.5+.
                out_js = f".tsout/{posixpath.basename(stem)}.js"
                pre = (
                    f"tsc --target es2022 --module es2022 --skipLibCheck --outDir .tsout "
                    f"{a.file} >build.log 2>&1; [ -f {out_js} ] || "
                    f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; cp {out_js} {stem}.mjs; "
                )
            else:
                try:
                    files[f"{stem}.mjs"] = erase_types(files[a.file])
                except TypeEraseUnsupported as exc:
                    raise _NeedsTsc(str(exc)) from None
                except TypeEraseError as exc:
                    raise _BuildError(f"TypeScript: {exc}") from None
        if lang == "rust" and self.tests_lang == "python":
            pre = (
                f"rustc --edition 2021 -o app {a.file} 2>build.log || "
                f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; "
            )
        tl = self.tests_lang
        if tl == "python":
            tf = self.test_file()
            files[tf] = a.tests
            files["_llmbench_run.py"] = PY_HARNESS
            mod = posixpath.splitext(tf)[0].replace("/", ".")
            run = f"python3 _llmbench_run.py {self.nonce} {mod}"
        elif tl == "javascript":
            tf = self.test_file()
            files[tf] = a.tests
            files["_llmbench_run.mjs"] = JS_HARNESS
            run = f"node _llmbench_run.mjs {self.nonce} {tf} {a.per_test_ms}"
        elif tl == "go":
            files.setdefault("go.mod", GO_MOD)
            files[self.test_file()] = a.tests
            run = (
                "go build ./... >build.log 2>&1 || "
                f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; "
                f"go test -json -vet=off -count=1 -timeout {int(a.timeout_s)}s ."
            )
        else:  # rust, tests in the same crate
            files[a.file] = (
                files[a.file].rstrip("\n")
                + "\n\n#[cfg(test)]\nmod llmbench_hidden_tests {\n    #[allow(unused_imports)]\n"
                "    use super::*;\n" + a.tests + "\n}\n"
            )
            run = (
                f"rustc --edition 2021 --test -o tests_bin {a.file} 2>build.log || "
                f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; ./tests_bin --test-threads=1"
            )
        return files, ["sh", "-c", pre + run]

    def run(self, files: dict[str, str]) -> TestRun:
        from ..sandbox.base import Limits

        names = test_names(self.a.tests, self.tests_lang)
        tr = TestRun(names)
        try:
            sb_files, cmd = self.plan(files)
        except _BuildError as exc:
            tr.build_error = str(exc)
            return tr
        except _NeedsTsc as exc:
            tr.needs_tool = str(exc)
            return tr
        res = self.sandbox.run(
            files=sb_files,
            cmd=cmd,
            timeout_s=self.a.timeout_s,
            limits=Limits(memory_mb=self.a.memory_mb, pids=256),
        )
        tr.stderr, tr.duration_s, tr.failure_mode = res.stderr, res.duration_s, res.failure_mode
        if res.exit_code == BUILD_FAILED:
            tr.build_error = res.stderr.strip() or "build failed"
            return tr
        if self.tests_lang == "go":
            self._read_go(res.stdout, tr)
            if (
                not tr.results
                and res.exit_code != 0
                and not res.failure_mode
                and not _could_not_start(res.stderr, res.exit_code)
            ):
                errs = [ln for ln in res.stdout.splitlines() if not ln.startswith("{")]
                tr.build_error = "\n".join(errs) + res.stderr or "go test failed to build"
        elif self.tests_lang == "rust":
            for m in re.finditer(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", res.stdout, re.M):
                name = m.group(1).rsplit("::", 1)[-1]
                tr.results[name] = (m.group(2) == "ok", "" if m.group(2) == "ok" else "failed")
            for m in re.finditer(
                r"^---- (\S+) stdout ----\n(.*?)(?:\n\n|\Z)", res.stdout, re.M | re.S
            ):
                name = m.group(1).rsplit("::", 1)[-1]
                if name in tr.results and not tr.results[name][0]:
                    tr.results[name] = (False, " ".join(m.group(2).split())[:300])
        else:
            tag = f"@@{self.nonce} "
            for line in res.stdout.splitlines():
                if not line.startswith(tag):
                    continue
                verb, _, rest = line[len(tag) :].partition(" ")
                if verb == "LOADERROR":
                    tr.build_error = "the tests could not load the code: " + rest
                elif verb in ("PASS", "FAIL"):
                    name, _, msg = rest.partition(" ")
                    if self.tests_lang == "javascript":
                        name, msg = _js_name(rest, names)
                    tr.results[name] = (verb == "PASS", msg)
        if (
            not tr.results
            and tr.build_error is None
            and res.exit_code != 0
            and not res.failure_mode
            and not _could_not_start(res.stderr, res.exit_code)
        ):
            tr.build_error = (res.stderr or res.stdout).strip()[-1500:] or (
                f"the test run exited with {res.exit_code} before any test"
            )
        return tr

    def _read_go(self, stdout: str, tr: TestRun) -> None:
        outputs: dict[str, list[str]] = {}
        for line in stdout.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if not isinstance(ev, dict) or not ev.get("Test"):
                continue
            name = str(ev["Test"]).split("/")[0]
            if ev.get("Action") == "output":
                text = str(ev.get("Output", "")).strip()
                if text and not text.startswith(("=== RUN", "--- ", "=== PAUSE", "=== CONT")):
                    outputs.setdefault(name, []).append(text)
            elif ev.get("Action") in ("pass", "fail") and "/" not in str(ev["Test"]):
                ok = ev["Action"] == "pass"
                tr.results[name] = (ok, "" if ok else " ".join(outputs.get(name, []))[:300])


class _BuildError(Exception):
    pass


class _NeedsTsc(Exception):
    pass


def _flat(text: str, limit: int) -> str:
    """Several output lines as one, for a trace line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    out = " | ".join(lines)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _js_name(rest: str, names: list[str]) -> tuple[str, str]:
    """Test names may hold spaces: take the longest known name the line starts with."""
    for n in sorted(names, key=len, reverse=True):
        if rest == n or rest.startswith(n + " "):
            return n, rest[len(n) + 1 :]
    name, _, msg = rest.partition(" ")
    return name, msg


def original_from_prompt(text: str, language: str) -> str | None:
    """The first code block of the prompt in the scenario's language (else the first)."""
    blocks = code_blocks(text)
    want = [b for b in blocks if b.language == language] or blocks
    if not want:
        return None
    code = want[0].code
    return code if code.endswith("\n") else code + "\n"


def score_tests(
    tr: TestRun, weights: dict[str, float], threshold: float, *, head: str = ""
) -> Verdict:
    """A verdict from a test run: weighted share passed; the trace lists each test."""
    names = tr.names
    total_w = sum(weights.get(n, 1.0) for n in names)
    if not names or total_w <= 0:
        return Verdict.fail("the hidden tests define no test", category="verifier_error")
    checks = [
        Check(
            f"test {n}" + (f" (weight {weights[n]:g})" if n in weights else ""),
            tr.passed(n),
            found=(
                ""
                if tr.passed(n)
                else (tr.results[n][1] or "failed")
                if n in tr.results
                else "did not run"
            ),
        )
        for n in names
    ]
    got_w = sum(weights.get(n, 1.0) for n in names if tr.passed(n))
    n_pass = sum(tr.passed(n) for n in names)
    score = got_w / total_w
    metrics = {"tests": [float(n_pass), float(len(names))]}
    data: dict[str, Any] = {"duration_s": round(tr.duration_s, 3)}
    if tr.failure_mode:
        data["sandbox_failure"] = tr.failure_mode
    if tr.build_error is not None:
        checks.insert(0, Check("build", False, found=_flat(tr.build_error, 600)))
        return Verdict(
            False,
            0.0,
            f"{head}does not build or load: {_flat(tr.build_error, 600)}",
            checks,
            "compile_error",
            metrics,
            data,
        )
    passed = score >= threshold and n_pass > 0
    failed = [c for c in checks if not c.passed]
    if tr.failure_mode and n_pass < len(names):
        category: str | None = tr.failure_mode
    else:
        category = None if passed else "tests_failed"
    if not failed:
        detail = f"{head}all {len(names)} hidden tests passed"
    else:
        shown = "; ".join(
            f"{c.name.removeprefix('test ')}: {_flat(c.found, 160)}" for c in failed[:3]
        )
        more = f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""
        stopped = f" [run ended: {tr.failure_mode}]" if tr.failure_mode else ""
        detail = (
            f"{head}{n_pass}/{len(names)} hidden tests passed (score {score:.2f}): "
            f"{shown}{more}{stopped}"
        )
    return Verdict(passed, score, detail, checks, category, metrics, data)


@register("polyglot")
class PolyglotVerifier(Verifier):
    """Apply the model's edit, run the hidden tests, score the weighted share passed."""

    Args = PolyglotArgs
    needs_sandbox = True

    def _original(self) -> str:
        a: PolyglotArgs = self.args  # type: ignore[assignment]
        if a.original is not None:
            return a.original
        if a.edit_format == "whole":
            return ""
        code = original_from_prompt(self.scenario.user_text(), a.language)
        if code is None:
            raise ValueError(f"scenario {self.scenario.id!r}: no code block in the prompt")
        return code

    def check(self, output: Output) -> Verdict:
        a: PolyglotArgs = self.args  # type: ignore[assignment]
        files = dict(a.files)
        files[a.file] = self._original()
        tl = a.tests_language or ("javascript" if a.language == "typescript" else a.language)
        zero = {"tests": [0.0, float(len(test_names(a.tests, tl)))]}
        fmt = describe_format(a.edit_format)
        try:
            files = apply_edit(
                a.edit_format, files, output.text, target=a.file, language=a.language
            )
        except NoEdit as exc:
            return Verdict.fail(f"wanted {fmt}: {exc}", category="no_code", metrics=zero)
        except NoCode as exc:
            return Verdict.fail(str(exc), category="no_code", metrics=zero)
        except EditApplyError as exc:
            return Verdict.fail(
                f"the edit ({fmt}) does not apply: {exc}",
                category="edit_apply_error",
                metrics=zero,
            )
        if a.file not in files:
            return Verdict.fail(
                f"the edit deleted {a.file}", category="edit_apply_error", metrics=zero
            )
        return run_hidden_tests(self.sandbox, a, files, self.threshold)


def run_hidden_tests(
    sandbox: Any, a: PolyglotArgs, files: dict[str, str], threshold: float
) -> Verdict:
    if sandbox is None:
        return Verdict.fail(
            "no sandbox to run the hidden tests in (give --llm-sandbox)",
            category="sandbox_unavailable",
        )
    runner = Runner(a, sandbox)
    tr = runner.run(files)
    if tr.needs_tool:
        return Verdict.fail(
            f"the {getattr(sandbox, 'name', '?')} sandbox has no `tsc`, which this TypeScript "
            f"needs ({tr.needs_tool}); use a sandbox that has it (--llm-sandbox docker)",
            category="sandbox_unavailable",
        )
    if not tr.results and not tr.failure_mode:
        # Nothing ran: tell a missing toolchain (the sandbox's fault) from bad code.
        tool = TOOLS[a.language]
        for t in {tool, TOOLS[runner.tests_lang]}:
            if tool_missing(sandbox, t):
                return Verdict.fail(
                    f"the {getattr(sandbox, 'name', '?')} sandbox has no `{t}`, needed for "
                    f"{a.language}; use a sandbox that has it (--llm-sandbox docker)",
                    category="sandbox_unavailable",
                )
    return score_tests(tr, a.weights, threshold)


# ================================================================ TypeScript type eraser
# A small TypeScript type eraser, used when the sandbox has no ``tsc``.
#
# It blanks type syntax out of the source (positions and line numbers are kept) and
# leaves plain modern JavaScript that node 18 runs as an ES module. Covered: type
# annotations on variables, parameters, returns and class fields; optional ``?`` and
# definite ``!`` marks; interfaces; type aliases; ``import type``/``export type``;
# ``as``/``satisfies`` casts; non-null ``x!``; generics on functions, classes, methods
# and calls; ``implements``; access modifiers, ``readonly`` and ``abstract``/``declare``
# members; parameter properties (``constructor(private x: T)``, turned into
# assignments); overload signatures. Not covered (a clear :class:`TypeEraseError`):
# ``enum``, ``namespace``/``module``, decorators, ``import x = require()``. Types inside
# template-literal ``${}`` parts are left alone.
#
# No type checking happens: a type error is not a failure here, only a runtime one.


class TypeEraseError(ValueError):
    """The source uses TypeScript this eraser does not handle, or does not tokenize."""


class TypeEraseUnsupported(TypeEraseError):
    """Valid TypeScript that only ``tsc`` handles (enum, namespace, decorators...): the
    sandbox's shortcoming, not the model's."""


@dataclass
class Tok:
    kind: str  # id num str tmpl regex punct
    text: str
    start: int
    end: int
    nl: bool  # a line break precedes it


_PUNCT = sorted(
    "=> ... ?. ??= ?? === !== == != <= &&= ||= && || ++ -- += -= *= /= %= ** << |= &= ^=".split(),  # noqa: SIM905
    key=len,
    reverse=True,
)
_KEYWORDS = set(
    "break case catch class const continue debugger default delete do else export extends "  # noqa: SIM905
    "finally for function if import in instanceof let new return super switch throw try "
    "typeof var void while with yield await of".split()
)
_VALUE_WORDS = {"this", "true", "false", "null", "undefined", "super"}
_MODIFIERS = {"public", "private", "protected", "readonly", "override"}
_ID_RE = re.compile(r"[A-Za-z_$\u0080-\uffff#][\w$\u0080-\uffff]*")
_NUM_RE = re.compile(
    r"(?:0[xXoObB][\da-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?"
)


def _skip_string(src: str, i: int) -> int:
    q = src[i]
    j = i + 1
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == q:
            return j + 1
        if c == "\n":
            break
        j += 1
    raise TypeEraseError(f"unterminated string at offset {i}")


def _skip_template(src: str, i: int) -> int:
    j = i + 1
    while j < len(src):
        c = src[j]
        if c == "\\":
            j += 2
            continue
        if c == "`":
            return j + 1
        if c == "$" and src.startswith("${", j):
            depth = 1
            j += 2
            while j < len(src) and depth:
                c = src[j]
                if c in "'\"":
                    j = _skip_string(src, j)
                    continue
                if c == "`":
                    j = _skip_template(src, j)
                    continue
                depth += {"{": 1, "}": -1}.get(c, 0)
                j += 1
            continue
        j += 1
    raise TypeEraseError(f"unterminated template literal at offset {i}")


def _regex_allowed(prev: Tok | None) -> bool:
    if prev is None:
        return True
    if prev.kind in ("num", "str", "tmpl", "regex"):
        return False
    if prev.kind == "id":
        return prev.text in _KEYWORDS and prev.text not in _VALUE_WORDS
    return prev.text not in (")", "]", "}")


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n, nl = 0, len(src), False
    while i < n:
        c = src[i]
        if c in " \t\r\n\f\v\ufeff":
            nl = nl or c in "\r\n"
            i += 1
            continue
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise TypeEraseError(f"unterminated comment at offset {i}")
            nl = nl or "\n" in src[i:j]
            i = j + 2
            continue
        start = i
        prev = toks[-1] if toks else None
        if c in "'\"":
            i, kind = _skip_string(src, i), "str"
        elif c == "`":
            i, kind = _skip_template(src, i), "tmpl"
        elif c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = _NUM_RE.match(src, i)
            assert m is not None
            i, kind = m.end(), "num"
        elif c == "/" and _regex_allowed(prev):
            j, in_class = i + 1, False
            while j < n and (src[j] != "/" or in_class):
                if src[j] == "\\":
                    j += 1
                elif src[j] == "[":
                    in_class = True
                elif src[j] == "]":
                    in_class = False
                elif src[j] == "\n":
                    raise TypeEraseError(f"unterminated regular expression at offset {i}")
                j += 1
            j += 1
            while j < n and (src[j].isalnum()):
                j += 1
            i, kind = j, "regex"
        else:
            m = _ID_RE.match(src, i)
            if m:
                i, kind = m.end(), "id"
            else:
                p = next((p for p in _PUNCT if src.startswith(p, i)), c)
                i, kind = i + len(p), "punct"
        toks.append(Tok(kind, src[start:i], start, i, nl))
        nl = False
    return toks


_OPEN = {"(": ")", "[": "]", "{": "}"}


def _match(toks: list[Tok]) -> dict[int, int]:
    out: dict[int, int] = {}
    stack: list[int] = []
    for i, t in enumerate(toks):
        if t.kind != "punct":
            continue
        if t.text in _OPEN:
            stack.append(i)
        elif t.text in (")", "]", "}"):
            if not stack or _OPEN[toks[stack[-1]].text] != t.text:
                raise TypeEraseError(f"unbalanced {t.text!r} at offset {t.start}")
            out[stack.pop()] = i
    if stack:
        raise TypeEraseError(f"unclosed {toks[stack[-1]].text!r} at offset {toks[stack[-1]].start}")
    return out


_TYPE_OK = {",", ".", "[", "]", "{", "}", "(", ")", "|", "&", "=>", ":", ";", "?", "<", ">"}
_TYPE_OK |= {"...", "-", "!"}


class _Eraser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.t = tokenize(src)
        self.m = _match(self.t)
        self.blank: list[tuple[int, int]] = []  # token index ranges [a, b)
        self.insert: list[tuple[int, str]] = []  # (char offset, text)
        # token index of an opener -> its kind: params, class, spec, pattern
        self.kind: dict[int, str] = {}
        self.ctor_props: dict[int, list[str]] = {}  # params '(' -> property names

    # -- helpers
    def tk(self, i: int) -> Tok | None:
        return self.t[i] if 0 <= i < len(self.t) else None

    def is_(self, i: int, *texts: str) -> bool:
        t = self.tk(i)
        return t is not None and t.text in texts

    def id_at(self, i: int) -> bool:
        t = self.tk(i)
        return t is not None and t.kind == "id"

    def expr_end(self, i: int) -> bool:
        t = self.tk(i)
        if t is None:
            return False
        if t.kind == "id":
            return t.text not in _KEYWORDS or t.text in _VALUE_WORDS
        return t.kind in ("num", "str", "tmpl", "regex") or t.text in (")", "]", "}")

    def stmt_start(self, i: int) -> bool:
        p = self.tk(i - 1)
        if p is None or p.text in (";", "{", "}"):
            return True
        if p.text in ("export", "default", "declare"):
            return True
        return self.t[i].nl and (self.expr_end(i - 1))

    def skip_balanced_angle(self, i: int, strict: bool) -> int | None:
        """From '<' at i, the index after its matching '>' (None if not a type list)."""
        depth = 0
        j = i
        while j < len(self.t):
            t = self.t[j]
            if t.text in _OPEN:
                j = self.m[j] + 1
                continue
            if t.text == "<":
                depth += 1
            elif t.text == ">":
                depth -= 1
                if depth == 0:
                    return j + 1
            elif t.kind == "punct" and strict and (t.text not in _TYPE_OK or t.text == ";"):
                return None
            j += 1
        return None

    def parse_type(self, i: int) -> int:
        """Index after the type starting at token i."""
        j = i
        if self.is_(j, "|", "&"):
            j += 1
        while True:
            j = self._primary(j)
            while self.is_(j, "[") and self.m.get(j) is not None:
                j = self.m[j] + 1
            if self.id_at(j) and self.t[j].text == "is" and not self.t[j].nl:
                j = self.parse_type(j + 1)
            if self.id_at(j) and self.t[j].text == "extends" and self.is_(j + 2, "?", "<", "["):
                # conditional type: A extends B ? C : D
                j = self.parse_type(j + 1)
                if self.is_(j, "?"):
                    j = self.parse_type(j + 1)
                    if self.is_(j, ":"):
                        j = self.parse_type(j + 1)
            if self.is_(j, "|", "&"):
                j += 1
                continue
            return j

    def _primary(self, j: int) -> int:
        t = self.tk(j)
        if t is None:
            return j
        if t.text in ("keyof", "readonly", "unique", "infer", "asserts") and self.id_at(j + 1):
            return self._primary(j + 1)
        if t.text in ("keyof", "readonly") and self.is_(j + 1, "(", "[", "{"):
            return self._primary(j + 1)
        if t.text == "typeof":
            j += 1
            while self.id_at(j) and self.is_(j + 1, "."):
                j += 2
            return j + 1
        if t.text == "new":
            return self._primary(j + 1)
        if t.text == "<":
            k = self.skip_balanced_angle(j, strict=False)
            return self._primary(k) if k is not None else j + 1
        if t.text == "(":
            k = self.m[j] + 1
            if self.is_(k, "=>"):
                return self.parse_type(k + 1)
            return k
        if t.text in ("{", "["):
            return self.m[j] + 1
        if t.text == "-" and self.tk(j + 1) is not None:
            return j + 2
        if t.kind in ("num", "str", "tmpl"):
            return j + 1
        if t.kind == "id":
            j += 1
            while self.is_(j, ".") and self.id_at(j + 1):
                j += 2
            if self.is_(j, "<") and not self.t[j].nl:
                k = self.skip_balanced_angle(j, strict=False)
                if k is not None:
                    j = k
            return j
        return j

    def stmt_end(self, i: int) -> int:
        """Index after a declaration-like statement starting at i (';' or line end)."""
        j = i
        while j < len(self.t):
            t = self.t[j]
            if t.text in _OPEN:
                j = self.m[j] + 1
                if self.t[j - 1].text == "}" and t.text == "{" and not self.is_(j, "|", "&", ";"):
                    nxt = self.tk(j)
                    if nxt is None or nxt.nl:
                        return j
                continue
            if t.text == ";":
                return j + 1
            if t.text in (")", "]", "}"):
                return j
            nxt = self.tk(j + 1)
            if (
                nxt is not None
                and nxt.nl
                and t.text not in ("=", "|", "&", "=>", ",", ":", "<", ".", "?", "extends")
                and nxt.text not in ("|", "&", "=>", ".", "?", ":", "extends", "=")
            ):
                return j + 1
            j += 1
        return j

    def blank_to(self, a: int, b: int) -> int:
        self.blank.append((a, b))
        return b

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
