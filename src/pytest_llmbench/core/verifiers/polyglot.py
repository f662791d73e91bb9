"""Hidden-test verifiers for code in Python, JavaScript, TypeScript, Go and Rust.

``polyglot``: the model writes or edits one file (whole file, SEARCH/REPLACE blocks or a
unified diff, see :mod:`..edits`); the hidden checks then run in the sandbox and the
score is the weighted share of tests that pass (``metrics["tests"] = [passed, total]``).

Where the verdict is decided: JavaScript, TypeScript, Go and Rust scenarios (and Python
ones driving a built program) give an *observation program* (``observe:``) that calls
the candidate's code on fixed inputs and prints the values it gets back as JSON lines,
and the expected values (``expect:``) that stay on the host (see :mod:`.observe`). The
sandbox never sees an expected value; whatever the run prints is the candidate's word,
so it can only pass by producing the right values. How each language runs (offline,
standard library only):

- JavaScript / TypeScript: ``node`` runs the observation module through a small runner
  (:file:`observers/run.mjs`) that calls each ``observe(key, fn)`` in order with a
  per-call timeout. TypeScript becomes ``.mjs`` through ``tsc`` when the sandbox has it
  (the Docker image does; type errors are not graded), else through the type eraser
  (:mod:`.ts_erase`, host side); valid TypeScript the eraser cannot take (enum,
  namespace, decorators) is then ``sandbox_unavailable``, not the model's fault.
- Go: the observation file (same package) defines ``llmbenchObservations()`` calling
  ``llmbenchObs(key, func() any {...})``; helpers add a ``TestMain`` running it; built
  with ``go test -c`` (vet off: style is not graded).
- Rust: the observation module is appended to the file (``use super::*``) and defines
  ``fn observations()`` calling ``obs(key, || value)``; built with ``rustc --test``.
  With ``tests_language: python`` the file is built into ``./app`` and a Python
  observation program drives it (``from llmbench_observe import observe``).
- Python (``tests:``, a module of ``test_*`` functions with plain asserts): the answer's
  module runs alone in the sandbox and the tests run on the host against proxies of
  its names (:mod:`.pyhost`), so they too are decided outside the sandbox.
"""

from __future__ import annotations

import json
import posixpath
import re
import weakref
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..edits import EditApplyError, NoEdit, apply_edit, describe_format
from ..output import Output
from ._code import NoCode, code_blocks
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .observe import Expect, groups, judge, parse_expect, read_observations
from .pyhost import run_python_tests, test_names
from .ts_erase import TypeEraseError, TypeEraseUnsupported, erase_types

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox

__all__ = [
    "PolyglotArgs",
    "PolyglotVerifier",
    "TypeEraseError",
    "TypeEraseUnsupported",
    "erase_types",
    "run_hidden_tests",
    "score_tests",
    "test_names",
]

Language = Literal["python", "javascript", "typescript", "go", "rust"]
TOOLS = {
    "python": "python3",
    "javascript": "node",
    "typescript": "node",
    "go": "go",
    "rust": "rustc",
}
# Languages whose scenarios must use observation programs (verdict on the host).
OBSERVED = ("javascript", "typescript", "go", "rust")


def _observer(name: str) -> str:
    return (resources.files(__package__) / "observers" / name).read_text(encoding="utf-8")


GO_MOD = "module solution\n\ngo 1.19\n"
BUILD_FAILED = 97

_GO_PACKAGE = re.compile(r"^package\s+(\w+)", re.M)


class PolyglotArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language
    edit_format: Literal["whole", "search_replace", "diff"] = "whole"
    # The file the model writes or edits, e.g. "stack.py", "queue.js", "lib.rs".
    file: str
    # The file before the edit; default: the first code block of the prompt.
    original: str | None = None
    tests: str | None = Field(
        default=None,
        description="Python only: a test module of test_* functions with plain asserts, "
        "run on the host against the answer's module served from the sandbox.",
    )
    observe: str | None = Field(
        default=None,
        description="JavaScript/TypeScript/Go/Rust: the observation program that calls the "
        "answer's code and prints what it returns, one key per value (no expected values).",
    )
    expect: dict[str, Any] = Field(
        default_factory=dict,
        description="Expected value per observed key, compared on the host: a plain value, "
        "or {cmp, value, tol, pattern} with cmp one of equal, approx, set, unordered, "
        "contains, regex, at_most, error; source: FILE judges the submitted file's text "
        "here instead of an observation. Keys group into tests by the part before the "
        "first '/'.",
    )
    tests_language: Language | None = None
    test_file: str | None = None
    # Fixed files beside the solution (helpers, fixtures); the model cannot change them.
    files: dict[str, str] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
    timeout_s: float = Field(default=90.0, gt=0, le=600)
    per_test_ms: int = Field(default=5000, ge=100, le=120_000)
    memory_mb: int = Field(default=1024, ge=64, le=8192)

    @model_validator(mode="after")
    def _check(self) -> PolyglotArgs:
        tl = self.runner_language()
        if self.observe is not None:
            if self.tests is not None:
                raise ValueError("give either tests (Python) or observe + expect, not both")
            self.expectations()  # raises on a bad entry
            if tl == "python" and self.language == "python":
                raise ValueError("Python code is checked with tests:, not observe:")
        elif self.tests is None:
            raise ValueError("hidden checks missing: give observe + expect (or tests for Python)")
        elif self.files and self.language == "python":
            raise ValueError(
                "files: is not supported for python (the answer's module is served alone)"
            )
        elif self.language in OBSERVED or tl in OBSERVED:
            raise ValueError(
                f"{self.language} scenarios give an observation program (observe:) and the "
                "expected values (expect:): test code that decides inside the sandbox can be "
                "forged by the code under test"
            )
        elif self.expect:
            raise ValueError("expect: goes with observe:")
        return self

    def runner_language(self) -> str:
        return self.tests_language or (
            "javascript" if self.language == "typescript" else self.language
        )

    def expectations(self) -> dict[str, Expect]:
        return parse_expect(self.expect)

    def test_list(self) -> list[str]:
        if self.observe is not None:
            return groups(self.expectations())
        return test_names(self.tests or "")


@dataclass
class TestRun:
    """The outcome of one hidden-test run."""

    names: list[str]
    results: dict[str, tuple[bool, str]] = field(default_factory=dict)
    build_error: str | None = None
    failure_mode: str | None = None
    needs_tool: str | None = None  # the code is fine; this sandbox cannot build it
    infra_error: str | None = None  # the sandbox could not run it at all
    stderr: str = ""
    duration_s: float = 0.0
    ran: bool = False  # anything at all came back from the program

    def passed(self, name: str) -> bool:
        return self.results.get(name, (False, ""))[0]


# Which sandboxes lack which tool (probed once, only after a run could not start it).
_MISSING: weakref.WeakKeyDictionary[Any, dict[str, bool]] = weakref.WeakKeyDictionary()


def tool_missing(sandbox: Sandbox, tool: str) -> bool:
    cache = _MISSING.setdefault(sandbox, {})
    if tool not in cache:
        res = sandbox.run({}, ["sh", "-c", f"command -v {tool} >/dev/null"], timeout_s=20.0)
        cache[tool] = res.exit_code != 0
    return cache[tool]


def _could_not_start(stderr: str, exit_code: int) -> bool:
    return exit_code == 127 or "execvp" in stderr or "executable file not found" in stderr


def _tsc_available(sandbox: Sandbox) -> bool:
    return not tool_missing(sandbox, "tsc")


def _tail(text: str, n: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


class Runner:
    """Builds the sandbox files and command for a language, then reads the results."""

    def __init__(self, args: PolyglotArgs, sandbox: Sandbox):
        self.a = args
        self.sandbox = sandbox
        self.tests_lang: str = args.runner_language()
        self.observed = args.observe is not None
        self.sources: dict[str, str] = {}

    def test_file(self) -> str:
        if self.a.test_file:
            return self.a.test_file
        if self.tests_lang == "javascript":
            # Observations of TypeScript import the compiled ES module; JavaScript ones
            # may require().
            return (
                "llmbench_observe.mjs" if self.a.language == "typescript" else "llmbench_observe.js"
            )
        return {
            "python": "llmbench_observations.py",
            "go": "llmbench_observe_test.go",
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
        if tl == "python" and self.observed:
            files[self.test_file()] = a.observe or ""
            files["llmbench_observe.py"] = _observer("helpers.py")
            run = f"python3 -E -s -S {self.test_file()}"
        elif tl == "javascript":
            tf = self.test_file()
            files[tf] = a.observe or ""
            files["_llmbench_run.mjs"] = _observer("run.mjs")
            run = f"node _llmbench_run.mjs {tf} {a.per_test_ms}"
        elif tl == "go":
            obs = a.observe or ""
            m = _GO_PACKAGE.search(obs)
            pkg = m.group(1) if m else "solution"
            files.setdefault("go.mod", GO_MOD)
            files[self.test_file()] = obs
            files["llmbench_helpers_test.go"] = f"package {pkg}\n\n" + _observer("helpers.go")
            run = (
                "go test -c -vet=off -o llmbench_obs.test . >build.log 2>&1 || "
                f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; ./llmbench_obs.test"
            )
        else:  # rust: the observation module goes into the same crate
            files[a.file] = (
                files[a.file].rstrip("\n")
                + "\n\n#[cfg(test)]\n#[allow(unused_imports, dead_code, unused_variables)]\n"
                "mod llmbench_observe {\n    use super::*;\n"
                + _observer("helpers.rs")
                + "\n"
                + (a.observe or "")
                + "\n    #[test]\n    fn llmbench_observations() {\n        observations();\n"
                "    }\n}\n"
            )
            run = (
                f"rustc --edition 2021 --test -o llmbench_obs {a.file} 2>build.log || "
                f"{{ cat build.log >&2; exit {BUILD_FAILED}; }}; "
                "./llmbench_obs --test-threads=1 --nocapture"
            )
        return files, ["sh", "-c", pre + run]

    def run(self, files: dict[str, str]) -> TestRun:
        from ..sandbox.interface import Limits

        tr = TestRun(self.a.test_list())
        self.sources = dict(files)
        if not self.observed:  # Python: tests run here against the answer in the sandbox
            run_python_tests(self.sandbox, self.a, files, tr)
            return tr
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
        self._read_observations(res.stdout, res.stderr, res.exit_code, tr)
        if (
            not tr.ran
            and tr.build_error is None
            and res.exit_code != 0
            and not res.failure_mode
            and not _could_not_start(res.stderr, res.exit_code)
        ):
            tr.build_error = (res.stderr or res.stdout).strip()[-1500:] or (
                f"the test run exited with {res.exit_code} before any test"
            )
        return tr

    def _read_observations(self, stdout: str, stderr: str, code: int, tr: TestRun) -> None:
        seen = read_observations(stdout)
        tr.ran = bool(seen)
        for line in stdout.splitlines():
            if line.startswith('{"llmbench_load_error":') and not seen:
                try:
                    tr.build_error = "the code does not load: " + str(
                        json.loads(line)["llmbench_load_error"]
                    )
                except (ValueError, KeyError, TypeError):
                    tr.build_error = "the code does not load"
        tr.results = judge(self.a.expectations(), seen, self.sources)
        if tr.ran and (code != 0 or tr.failure_mode):
            # say why the missing keys are missing
            end = tr.failure_mode or f"exit {code}"
            err = _tail(stderr, 300)
            for name, (ok, why) in tr.results.items():
                if not ok and "not observed" in why:
                    tr.results[name] = (False, f"{why} (run ended: {end}; {err})")


class _BuildError(Exception):
    pass


class _NeedsTsc(Exception):
    pass


def _flat(text: str, limit: int) -> str:
    """Several output lines as one, for a trace line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    out = " | ".join(lines)
    return out if len(out) <= limit else out[: limit - 3] + "..."


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
    """Apply the model's edit, run the hidden checks (compared on the host), score the
    weighted share of tests passed."""

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

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: PolyglotArgs = self.args  # type: ignore[assignment]
        files = dict(a.files)
        files[a.file] = self._original()
        zero = {"tests": [0.0, float(len(a.test_list()))]}
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
        return run_hidden_tests(ctx.sandbox, a, files, self.threshold)


def run_hidden_tests(
    sandbox: Sandbox | None, a: PolyglotArgs, files: dict[str, str], threshold: float
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
    if tr.infra_error:
        return Verdict.fail(tr.infra_error, category="sandbox_unavailable")
    if not tr.ran and not tr.failure_mode:
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
