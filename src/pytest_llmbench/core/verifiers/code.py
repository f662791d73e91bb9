"""Verifiers that execute model-written code in the sandbox.

- ``code_tests``: Python or JavaScript; hidden tests (never shown in the prompt) run
  in one sandboxed script that prints a JSON line of per-test results; the score is
  tests passed / total. Constraints are checked, not trusted: forbidden names by AST
  inspection on the host (no execution), speed by timing a large input against a
  reference solution inside the sandbox.
- ``no_bug``: trap scenarios of bug finding; the right answer says ``NO BUG`` on a
  line of its own and changes no code (no execution needed).

The ``shell`` verifier (a command on a fixture directory) is in :mod:`.shell`.

A missing code block is the failure category ``no_code``; sandbox failure modes
(``exec_timeout``, ``oom``, ``output_limit``, ``killed``) become the category too.
"""

from __future__ import annotations

import ast
import re
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from ..output import Output
from ._code import NoCode, Strict, code_blocks, extract_code, no_sandbox
from ._text import short
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox


# ---------------------------------------------------------------- AST constraints

# Dynamic access that would let code dodge a name-based constraint.
_DYNAMIC = ("__import__", "importlib", "eval", "exec", "compile", "__builtins__", "builtins")


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def forbidden_uses(code: str, forbid: list[str]) -> list[str]:
    """Which of ``forbid`` the code uses. An entry is a dotted name
    (``collections.Counter``: imported, or reached as an attribute, under any alias),
    a builtin (``sorted``) or ``.name`` for any attribute/method (``.sort``)."""
    tree = ast.parse(code)
    aliases: dict[str, str] = {}
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                used.add(a.name)
                aliases[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else (a.name.split(".")[0])
                )
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                full = f"{node.module or ''}.{a.name}"
                used.update((node.module or "", full))
                aliases[a.asname or a.name] = full
    getattr_strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(aliases.get(node.id, node.id))
        elif isinstance(node, ast.Attribute):
            used.add("." + node.attr)
            dotted = _dotted(node, aliases)
            if dotted:
                used.add(dotted)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
        ):
            getattr_strings.update(
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
    hits: list[str] = []
    for f in forbid:
        last = f.rsplit(".", 1)[-1]
        if f in used or any(u.startswith(f + ".") for u in used) or last in getattr_strings:
            hits.append(f)
    if forbid:
        hits += [f"{d} (dynamic access defeats the check)" for d in _DYNAMIC if d in used]
    return hits


# ---------------------------------------------------------------- code_tests


class TestSpec(Strict):
    name: str
    code: str


class PerfSpec(Strict):
    """Time ``call`` (an expression) on data built by ``setup``, best of ``repeat``,
    with the candidate's namespace and with ``reference``'s; the candidate passes
    when its time is at most ``max(max_ratio * reference, min_s)``. Pick inputs where
    the complexity gap is orders of magnitude, so a generous ratio still separates."""

    setup: str = ""
    call: str
    reference: str
    max_ratio: float = Field(default=10.0, gt=1.0)
    min_s: float = Field(default=0.05, gt=0.0)
    repeat: int = Field(default=3, ge=1, le=10)
    label: str = "performance"


def _test_name(code: str) -> str:
    first = next((ln.strip() for ln in code.splitlines() if ln.strip()), "test")
    return first if len(first) <= 70 else first[:67] + "..."


class CodeTestsArgs(Strict):
    language: Literal["python", "javascript"] = "python"
    tests: list[str | TestSpec] = Field(min_length=1)
    # Run before the candidate's code, in its namespace (helpers, imports, stubs).
    preamble: str = ""
    # Names the solution must define (a clear failure instead of NameErrors).
    entry: list[str] = Field(default_factory=list)
    forbid: list[str] = Field(default_factory=list)
    perf: PerfSpec | None = None
    allow_unfenced: bool = True
    test_timeout_s: float = Field(default=3.0, gt=0, le=60)
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    memory_mb: int = Field(default=512, ge=64, le=4096)

    @model_validator(mode="after")
    def _check(self) -> CodeTestsArgs:
        if self.language == "javascript":
            # Assertions run next to the answer's code could be rewritten by it.
            raise ValueError(
                "code_tests runs python only; for javascript use the polyglot verifier with "
                "an observation program (observe:) and expected values (expect:)"
            )
        names = [t.name if isinstance(t, TestSpec) else _test_name(t) for t in self.tests]
        if len(set(names)) != len(names):
            raise ValueError("test names must be distinct (give duplicates a name:)")
        return self

    def test_list(self) -> list[dict[str, str]]:
        return [
            {"name": t.name, "code": t.code}
            if isinstance(t, TestSpec)
            else {"name": _test_name(t), "code": t}
            for t in self.tests
        ]


@register("code_tests")
class CodeTests(Verifier):
    """Hidden tests against the answer's code, in the sandbox. One check per test
    (plus the performance check and one per forbidden construct); pass at 100%."""

    Args = CodeTestsArgs
    needs_sandbox = True

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: CodeTestsArgs = self.args  # type: ignore[assignment]
        try:
            code = extract_code(output.text, a.language, allow_unfenced=a.allow_unfenced)
        except NoCode as exc:
            return Verdict.fail(str(exc), "no_code")
        checks: list[Check] = []
        category: str | None = None
        if a.language == "python":
            try:
                compile(code, "<solution>", "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                line = getattr(exc, "lineno", None)
                where = f" (line {line})" if line else ""
                return Verdict.fail(
                    f"the python code does not compile{where}: {exc}", "syntax_error"
                )
            if a.forbid:
                hits = forbidden_uses(code, a.forbid)
                checks.append(
                    Check(
                        "constraint: no " + ", ".join(a.forbid),
                        not hits,
                        "uses " + ", ".join(hits) if hits else "",
                        "none of them",
                    )
                )
                if hits:
                    category = "forbidden_construct"
        if ctx.sandbox is None:
            return no_sandbox()
        return run_tests(ctx.sandbox, a, code, checks, category)


def run_tests(
    sandbox: Sandbox, a: CodeTestsArgs, code: str, checks: list[Check], category: str | None
) -> Verdict:
    return run_py_tests(sandbox, a, code, checks, category)


def _session_failed(
    a: CodeTestsArgs, tests: list[dict[str, str]], checks: list[Check], why: str, mode: str
) -> Verdict:
    n_tests = len(tests) + (1 if a.perf else 0)
    checks += [Check(t["name"], False, "not run: " + why) for t in tests]
    return Verdict(False, 0.0, why, checks, mode, metrics={"tests": [0.0, float(n_tests)]})


_MODES = {"timeout": "exec_timeout", "limit": "crashed", "died": "crashed", "protocol": "crashed"}


def run_py_tests(
    sandbox: Sandbox, a: CodeTestsArgs, code: str, checks: list[Check], category: str | None
) -> Verdict:
    """Python: only the candidate runs in the sandbox (``runners/py_serve.py``); the
    tests run here against proxies of its names (see :mod:`.pyremote`)."""
    from . import pyremote as pr

    tests = a.test_list()
    n_tests = len(tests) + (1 if a.perf else 0)
    perf_ref: tuple[list[float], Any] | None = None
    try:
        if a.perf is not None:
            perf_ref = _reference_timing(sandbox, a)
        session = pr.PySession(
            sandbox,
            code,
            preamble=a.preamble,
            timeout_s=a.timeout_s,
            memory_mb=a.memory_mb,
            load_timeout_s=max(a.test_timeout_s, 5.0),  # the module body, under load too
        )
        session.start()
    except pr.SandboxError as exc:
        return Verdict.fail(str(exc), "sandbox_unavailable")
    except pr.ChannelFailure as exc:
        why = f"loading the solution: {exc.reason}"
        if exc.kind == "timeout":
            why = f"loading the solution timed out after {max(a.test_timeout_s, 5.0):g} s"
        checks.append(Check("the code loads", False, why))
        return _session_failed(a, tests, checks, why, _MODES.get(exc.kind, "crashed"))
    try:
        return _py_verdict(session, a, tests, checks, category, perf_ref, n_tests)
    except pr.SandboxError as exc:
        return Verdict.fail(str(exc), "sandbox_unavailable")
    finally:
        session.close()


def _reference_timing(sandbox: Sandbox, a: CodeTestsArgs) -> tuple[list[float], Any]:
    """The reference solution's times and result on the perf input (same sandbox,
    same channel, same clock as the candidate's)."""
    from . import pycheck as pc
    from . import pyremote as pr

    assert a.perf is not None
    ref = pr.PySession(sandbox, a.perf.reference, preamble=a.preamble, timeout_s=60.0)
    ref.preload = pc.perf_inputs(a.preamble, a.perf.setup, a.perf.call)
    try:
        ref.start()
        if ref.load_error is not None:
            raise pr.SandboxError(f"the perf reference does not load: {ref.load_error}")
        return pc.time_call(ref, a.perf.call, a.perf.repeat, 30.0)
    except pr.ChannelFailure as exc:
        raise pr.SandboxError(f"timing the perf reference: {exc.reason}") from None
    finally:
        ref.close()


def _py_verdict(
    session: Any,
    a: CodeTestsArgs,
    tests: list[dict[str, str]],
    checks: list[Check],
    category: str | None,
    perf_ref: tuple[list[float], Any] | None,
    n_tests: int,
) -> Verdict:
    from . import pycheck as pc
    from . import pyremote as pr

    if session.load_error is not None:
        e = session.load_error
        where = str(getattr(e, "llm_where", ""))
        kind = getattr(e, "remote_type", type(e).__name__)
        msg = f"{kind}: {short(str(e), 160)}" + (f" at {where}" if where else "")
        checks.append(Check("the code loads", False, msg))
        checks += [Check(t["name"], False, "not run: the code failed to load") for t in tests]
        return _finish(checks, category or "load_error", [], None, n_tests, "")
    missing = [n for n in a.entry if n not in session.names]
    if missing:
        names = ", ".join(missing)
        checks.append(Check("defines " + ", ".join(a.entry), False, f"missing {names}"))
        checks += [Check(t["name"], False, f"not run: {names} not defined") for t in tests]
        return _finish(checks, category or "missing_entry", [], None, n_tests, "")
    results: list[dict[str, Any]] = []
    limit = a.test_timeout_s
    base = pc.host_namespace(session, a.preamble, a.entry)
    for t in tests:
        if session.broken is not None:
            if time.monotonic() >= session.deadline_cap - 0.5:
                results.append({"name": t["name"], "ok": False, "msg": "not run: out of time"})
                continue
            try:
                session.restart()
            except pr.ChannelFailure as exc:
                results.append({"name": t["name"], "ok": False, "msg": exc.reason})
                continue
            base = pc.host_namespace(session, a.preamble, a.entry)
        r = pc.run_test(session, base, t["name"], t["code"], limit)
        results.append(r)
        if r.get("channel") == "timeout":
            # one endless loop should not cost the whole budget N times over
            limit = min(limit, 0.5)
    for r in results:
        checks.append(Check(str(r["name"]), bool(r["ok"]), "" if r["ok"] else r.get("msg", "")))
    if not all(r["ok"] for r in results):
        category = category or "tests_failed"
    perf: dict[str, Any] | None = None
    if a.perf is not None and perf_ref is not None:
        perf = _perf_run(session, a, base, perf_ref)
        checks.append(_perf_check(a.perf, perf))
        if not perf.get("ok"):
            category = category or "too_slow"
    printed = session.printed() if session.broken is None else ""
    return _finish(checks, category, results, perf, n_tests, printed)


def _perf_run(
    session: Any, a: CodeTestsArgs, base: dict[str, Any], ref: tuple[list[float], Any]
) -> dict[str, Any]:
    from . import pycheck as pc
    from . import pyremote as pr

    assert a.perf is not None
    ref_s = min(ref[0])
    allowed = max(a.perf.max_ratio * ref_s, a.perf.min_s)
    out: dict[str, Any] = {"ref_s": ref_s, "allowed_s": allowed, "max_ratio": a.perf.max_ratio}
    # Each repeat is the first call in a fresh process: no cache of the candidate's
    # can serve a repeat, so the fastest repeat is an honest (and noise-robust) time.
    times: list[float] = []
    session.preload = pc.perf_inputs(a.preamble, a.perf.setup, a.perf.call)
    for _ in range(a.perf.repeat):
        try:
            session.restart()
            if session.load_error is not None:
                raise session.load_error
            t, result = pc.time_call(session, a.perf.call, 1, allowed * 2 + 0.05)
        except pr.ChannelFailure as exc:
            msg = (
                f"still running after {allowed * 2:.3f} s" if exc.kind == "timeout" else exc.reason
            )
            return {**out, "ok": False, "cand_s": None, "msg": msg}
        except Exception as exc:
            kind = getattr(exc, "remote_type", type(exc).__name__)
            msg = f"{kind}: {short(str(exc), 160)}"
            return {**out, "ok": False, "cand_s": None, "msg": msg}
        if not _same(result, ref[1]):
            return {
                **out,
                "ok": False,
                "cand_s": None,
                "msg": f"wrong result on the timed input: {short(repr(result), 80)}",
            }
        times.append(t[0])
        if min(times) <= allowed:
            break  # within budget: more repeats cannot change the verdict
    cand = min(times)
    return {**out, "ok": cand <= allowed, "cand_s": cand}


def _same(got: Any, want: Any) -> bool:
    try:
        return type(got) is type(want) and bool(got == want)
    except Exception:
        return False


def _finish(
    checks: list[Check],
    category: str | None,
    results: list[dict[str, Any]],
    perf: dict[str, Any] | None,
    n_tests: int,
    printed: str,
) -> Verdict:
    passed = sum(1 for r in results if r["ok"]) + (1 if perf and perf.get("ok") else 0)
    verdict = Verdict.from_checks(checks, category=category)
    verdict.metrics["tests"] = [float(passed), float(n_tests)]
    verdict.data = {
        "tests": [{k: v for k, v in r.items() if k != "channel"} for r in results],
        "perf": perf,
        "printed": printed[:500],
    }
    return verdict


def _perf_check(spec: PerfSpec, perf: dict[str, Any]) -> Check:
    name = f"{spec.label}: within {spec.max_ratio:g}x the reference solution"
    if perf.get("cand_s") is None:
        return Check(name, False, perf.get("msg", "not measured"))
    cand, ref, allowed = perf["cand_s"], perf["ref_s"], perf["allowed_s"]
    found = f"{cand * 1000:.1f} ms vs reference {ref * 1000:.1f} ms"
    return Check(name, bool(perf.get("ok")), found, f"<= {allowed * 1000:.1f} ms")


# ---------------------------------------------------------------- no_bug

_NO_BUG_LINE = re.compile(r"^[\s*_`>#-]*NO BUG[\s*_`.!]*$", re.MULTILINE)


def _norm_code(code: str) -> str:
    return "\n".join(ln.rstrip() for ln in code.strip().splitlines() if ln.strip())


class NoBugArgs(Strict):
    original: str = Field(min_length=1)
    language: Literal["python", "javascript"] = "python"


@register("no_bug")
class NoBug(Verifier):
    """A trap: the code is correct. The answer must say ``NO BUG`` on a line of its
    own, and any code it shows must be the original (a "fix" is a change)."""

    Args = NoBugArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: NoBugArgs = self.args  # type: ignore[assignment]
        text = output.text
        said = bool(_NO_BUG_LINE.search(text))
        orig = _norm_code(a.original)
        changed = [b for b in code_blocks(text) if _norm_code(b.code) != orig]
        checks = [
            Check("a line `NO BUG`", said, "" if said else short(text, 60), "NO BUG"),
            Check(
                "no code change",
                not changed,
                f"{len(changed)} changed code block(s): {short(changed[0].code, 60)}"
                if changed
                else "",
                "the code as given (or none)",
            ),
        ]
        return Verdict.from_checks(checks, category="false_bug_report")
