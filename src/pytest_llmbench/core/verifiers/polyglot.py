"""Hidden-test verifiers for code in Python, JavaScript, TypeScript, Go and Rust.

``polyglot``: the model writes or edits one file (whole file, SEARCH/REPLACE blocks or a
unified diff, see :mod:`..edits`); the hidden checks then run in the sandbox and the
score is the weighted share of tests that pass (``metrics["tests"] = [passed, total]``).

Where the verdict is decided: JavaScript, TypeScript, Go and Rust scenarios (and Python
ones driving a built program) give an *observation program* (``observe:``) that calls
the candidate's code on fixed inputs and prints the values it gets back as JSON lines
(:mod:`.polyglot_run` builds and runs it),
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

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..edits import EditApplyError, NoEdit, apply_edit, describe_format
from ..output import Output
from ._code import NoCode, code_blocks
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .observe import Expect, groups, parse_expect
from .polyglot_run import Runner, TestRun, tool_missing
from .pyhost import test_names
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
