"""Verifiers that execute model-written code in the sandbox.

- ``code_tests``: Python or JavaScript; hidden tests (never shown in the prompt) run
  in one sandboxed script that prints a JSON line of per-test results; the score is
  tests passed / total. Constraints are checked, not trusted: forbidden names by AST
  inspection on the host (no execution), speed by timing a large input against a
  reference solution inside the sandbox.
- ``no_bug``: trap scenarios of bug finding; the right answer says ``NO BUG`` on a
  line of its own and changes no code (no execution needed).
- ``shell``: a fixture directory is written into the sandbox, the model's command
  runs there under bash with a PATH holding only the allowlisted tools, and the
  resulting tree and stdout are checked on the host.

A missing code block is the failure category ``no_code``; sandbox failure modes
(``exec_timeout``, ``oom``, ``output_limit``, ``killed``) become the category too.
"""

from __future__ import annotations

import ast
import base64
import io
import posixpath
import re
import secrets
import tarfile
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..output import Output
from ._code import NoCode, code_blocks, extract_code
from ._text import short
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .pyremote import PYTHON
from .runners import source

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _no_sandbox() -> Verdict:
    return Verdict.fail(
        "this verifier runs code and was given no sandbox (pass --llm-sandbox, or "
        "--sandbox NAME to the selfcheck)",
        "no_sandbox",
    )


def _tail(text: str, n: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


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


class TestSpec(_Strict):
    name: str
    code: str


class PerfSpec(_Strict):
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


class CodeTestsArgs(_Strict):
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
            return _no_sandbox()
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
    from . import pyremote as pr

    assert a.perf is not None
    ref = pr.PySession(sandbox, a.perf.reference, preamble=a.preamble, timeout_s=60.0)
    ref.preload = pr.perf_inputs(a.preamble, a.perf.setup, a.perf.call)
    try:
        ref.start()
        if ref.load_error is not None:
            raise pr.SandboxError(f"the perf reference does not load: {ref.load_error}")
        return pr.time_call(ref, a.perf.call, a.perf.repeat, 30.0)
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
    base = pr.host_namespace(session, a.preamble, a.entry)
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
            base = pr.host_namespace(session, a.preamble, a.entry)
        r = pr.run_test(session, base, t["name"], t["code"], limit)
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
    from . import pyremote as pr

    assert a.perf is not None
    ref_s = min(ref[0])
    allowed = max(a.perf.max_ratio * ref_s, a.perf.min_s)
    out: dict[str, Any] = {"ref_s": ref_s, "allowed_s": allowed, "max_ratio": a.perf.max_ratio}
    # Each repeat is the first call in a fresh process: no cache of the candidate's
    # can serve a repeat, so the fastest repeat is an honest (and noise-robust) time.
    times: list[float] = []
    session.preload = pr.perf_inputs(a.preamble, a.perf.setup, a.perf.call)
    for _ in range(a.perf.repeat):
        try:
            session.restart()
            if session.load_error is not None:
                raise session.load_error
            t, result = pr.time_call(session, a.perf.call, 1, allowed * 2 + 0.05)
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


class NoBugArgs(_Strict):
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


# ---------------------------------------------------------------- shell

# The pack's allowlist: coreutils-level tools, text tools, archives. No interpreter
# or shell is here: one on PATH would turn every task into a scripting task.
CLI_TOOLS = [
    "awk",
    "base64",
    "basename",
    "cat",
    "chmod",
    "cmp",
    "comm",
    "cp",
    "csplit",
    "cut",
    "date",
    "diff",
    "dirname",
    "du",
    "expand",
    "expr",
    "false",
    "find",
    "fold",
    "grep",
    "gunzip",
    "gzip",
    "head",
    "join",
    "ln",
    "ls",
    "md5sum",
    "mkdir",
    "mktemp",
    "mv",
    "nl",
    "od",
    "paste",
    "printf",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "sed",
    "seq",
    "sha1sum",
    "sha256sum",
    "shuf",
    "sleep",
    "sort",
    "split",
    "stat",
    "tac",
    "tail",
    "tar",
    "tee",
    "test",
    "touch",
    "tr",
    "true",
    "truncate",
    "uniq",
    "wc",
    "xargs",
    "zcat",
]

_DENY = re.compile(
    r"^(python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|node(js)?|deno|bun|ruby[0-9.]*|irb|php[0-9.]*|"
    r"lua[0-9.]*|luajit|tclsh[0-9.]*|wish|java|jshell|gcc(-[0-9]+)?|g\+\+|cc|c99|clang|tcc|"
    r"go|rustc|cargo|bash|sh|dash|zsh|ksh|mksh|csh|tcsh|fish|busybox|env|sudo|su|"
    r"gdb|expect|socat|nc|ncat|curl|wget|ssh)$"
)
_QUOTED = re.compile(r"'[^']*'|\"(?:\\.|[^\"\\])*\"")
_WORD_SEP = re.compile(r"[\s|;&()<>`$={}\\!]+")
_BIN_PATH = re.compile(r"(/(?:[\w.+-]+/)*(?:s?bin|libexec)/+([^\s'\"|;&()<>`/\\]+))")
_SNEAKY = re.compile(r"\b(command\s+-p|hash\s+-p|enable\s+-f|exec\s+-a|BASH_ENV|PATH\s*\+?=)")


def disallowed_tools(command: str, allowed: list[str]) -> list[str]:
    """Interpreters or tools outside the allowlist the command names. PATH holds only
    the allowlist at run time; this catches absolute paths and PATH tricks that
    would step around it, and names interpreters in the verdict."""
    hits: list[str] = []
    bare = _QUOTED.sub(" ", command)
    for word in _WORD_SEP.split(bare):
        base = word.rsplit("/", 1)[-1]
        if base and _DENY.match(base) and base not in hits:
            hits.append(base)
    for full, base in _BIN_PATH.findall(command):
        if (base not in allowed or _DENY.match(base)) and full not in hits:
            hits.append(full)
    for m in _SNEAKY.finditer(command):
        hits.append(m.group(1))
    for m in _QUOTED.finditer(command):
        for word in _WORD_SEP.split(m.group(0).strip("'\"")):
            base = word.rsplit("/", 1)[-1]
            if "/" in word and base and _DENY.match(base) and word not in hits:
                hits.append(word)
    return hits


_SHELL_WORDS = {
    "cd",
    "echo",
    "printf",
    "for",
    "while",
    "if",
    "test",
    "[",
    "[[",
    "read",
    "set",
    "export",
    "unset",
    "local",
    "shopt",
    "(",
    "{",
    "!",
    "until",
    "case",
}


def extract_command(text: str, tools: list[str]) -> str:
    """A ```bash / ```sh block (several are joined), or an unfenced single line that
    starts like a command."""
    blocks = code_blocks(text)
    if blocks:
        return extract_code(text, "bash", join=True)
    body = (text or "").strip()
    if body.startswith("`") and body.endswith("`") and "\n" not in body:
        body = body.strip("`").strip()
    body = re.sub(r"^\$\s+", "", body)
    if not body:
        raise NoCode("no bash command in the answer (empty answer)")
    if "\n" in body:
        raise NoCode("no bash code block, and the unfenced answer is more than one line")
    first = re.split(r"[\s;|&<>]", body, maxsplit=1)[0]
    if (
        first in tools
        or first in _SHELL_WORDS
        or re.match(r"^[A-Za-z_]\w*=", first)
        or _DENY.match(first)
    ):
        return body
    raise NoCode(
        f"no bash code block, and the answer does not start with a command: {short(body, 50)}"
    )


class FileExpect(_Strict):
    """What one path must look like after the command (relative to the fixture dir)."""

    path: str
    exists: bool = True
    is_dir: bool = False
    content: str | None = None  # exact, ignoring trailing whitespace at line ends
    lines: list[str] | None = None
    sorted_lines: list[str] | None = None  # same lines, any order
    contains: list[str] = Field(default_factory=list)
    not_contains: list[str] = Field(default_factory=list)
    executable: bool | None = None
    unchanged: bool = False  # same content as in the fixture
    gzip_of: str | None = None  # gzip stream whose content is this text
    is_gzip: bool | None = None  # starts with the gzip magic bytes
    members: list[str] | None = None  # tar archive (any compression) holding exactly these files
    symlink_to: str | None = None

    @field_validator("path")
    @classmethod
    def _rel(cls, v: str) -> str:
        n = posixpath.normpath(v)
        if posixpath.isabs(v) or n.startswith(".."):
            raise ValueError(f"expected path must be relative inside the fixture: {v!r}")
        return n


class StdoutExpect(_Strict):
    equals: str | None = None  # ignoring trailing whitespace at line ends / the end
    lines: list[str] | None = None
    sorted_lines: list[str] | None = None
    contains: list[str] = Field(default_factory=list)
    regex: str | None = None

    @model_validator(mode="after")
    def _some(self) -> StdoutExpect:
        if (
            self.equals is None
            and self.lines is None
            and self.sorted_lines is None
            and not self.contains
            and self.regex is None
        ):
            raise ValueError(
                "stdout: give at least one of equals, lines, sorted_lines, contains, regex"
            )
        if self.equals is not None and not self.equals.strip():
            raise ValueError("stdout.equals: empty output would match a command that does nothing")
        return self


class ShellArgs(_Strict):
    files: dict[str, str] = Field(default_factory=dict)
    expect: list[FileExpect] = Field(default_factory=list)
    stdout: StdoutExpect | None = None
    exit_zero: bool = True
    # Files of the fixture not named in ``expect`` must keep their content, and no
    # other file may appear: a command must do what was asked and nothing more.
    strict_tree: bool = True
    tools: list[str] | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _check(self) -> ShellArgs:
        if not self.expect and self.stdout is None:
            raise ValueError("give expect (files) or stdout: something must be checked")
        for t in self.tools or []:
            if _DENY.match(t) or t not in CLI_TOOLS:
                raise ValueError(f"tool {t!r} is not allowed (allowlist: CLI_TOOLS)")
        for name in self.files:
            n = posixpath.normpath(name)
            if posixpath.isabs(name) or n.startswith(".."):
                raise ValueError(f"fixture path must be relative: {name!r}")
        return self


def _norm_text(s: str) -> str:
    return "\n".join(ln.rstrip() for ln in s.rstrip().splitlines())


def _lines(s: str) -> list[str]:
    return [ln.rstrip() for ln in s.rstrip("\n").splitlines()] if s.strip() else []


class _Tree:
    """The fixture dir after the command, read from a tar in memory (never extracted)."""

    def __init__(self, data: bytes):
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, int] = {}
        self.dirs: set[str] = set()
        self.links: dict[str, str] = {}
        self.error = ""
        try:
            with tarfile.open(fileobj=io.BytesIO(data)) as tf:
                for m in tf:
                    name = posixpath.normpath(m.name)
                    if name == ".":
                        continue
                    if m.isdir():
                        self.dirs.add(name)
                    elif m.issym() or m.islnk():
                        self.links[name] = m.linkname
                    elif m.isfile():
                        fh = tf.extractfile(m)
                        self.files[name] = fh.read() if fh else b""
                        self.modes[name] = m.mode
        except (tarfile.TarError, EOFError, OSError) as exc:
            self.error = f"could not read the directory tree back: {exc}"

    def text(self, path: str) -> str | None:
        raw = self.files.get(path)
        return None if raw is None else raw.decode("utf-8", errors="replace")


def _tar_members(raw: bytes) -> list[str] | None:
    try:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            return sorted(posixpath.normpath(m.name) for m in tf if m.isfile())
    except (tarfile.TarError, EOFError, OSError):
        return None


def _gunzip(raw: bytes) -> str | None:
    import gzip

    try:
        return gzip.decompress(raw).decode("utf-8", errors="replace")
    except (OSError, EOFError, ValueError):
        return None


def _file_checks(e: FileExpect, tree: _Tree, fixture: dict[str, str]) -> list[Check]:
    p = e.path
    exists = p in tree.files or p in tree.dirs or p in tree.links
    if not e.exists:
        return [Check(f"{p} removed", not exists, "still there" if exists else "", "absent")]
    if not exists:
        return [Check(f"{p} exists", False, "missing", "present")]
    if e.is_dir:
        return [Check(f"{p} is a directory", p in tree.dirs, "not a directory", "directory")]
    if e.symlink_to is not None:
        got = tree.links.get(p)
        return [Check(f"{p} links to {e.symlink_to}", got == e.symlink_to, repr(got))]
    if p not in tree.files:
        return [Check(f"{p} is a file", False, "a directory or link", "regular file")]
    text = tree.text(p) or ""
    out: list[Check] = []
    if e.content is not None:
        ok = _norm_text(text) == _norm_text(e.content)
        out.append(Check(f"{p} content", ok, "" if ok else short(text, 70), short(e.content, 70)))
    if e.lines is not None:
        ok = _lines(text) == e.lines
        out.append(
            Check(f"{p} lines", ok, "" if ok else short(text, 70), short("\n".join(e.lines), 70))
        )
    if e.sorted_lines is not None:
        ok = sorted(_lines(text)) == sorted(e.sorted_lines)
        out.append(
            Check(
                f"{p} lines (any order)",
                ok,
                "" if ok else short(text, 70),
                short("\n".join(e.sorted_lines), 70),
            )
        )
    for s in e.contains:
        out.append(Check(f"{p} contains {s!r}", s in text, "absent" if s not in text else ""))
    for s in e.not_contains:
        out.append(Check(f"{p} lacks {s!r}", s not in text, "present" if s in text else ""))
    if e.executable is not None:
        ex = bool(tree.modes.get(p, 0) & 0o100)
        out.append(
            Check(f"{p} executable={e.executable}", ex == e.executable, oct(tree.modes.get(p, 0)))
        )
    if e.unchanged:
        ok = text == fixture.get(p)
        out.append(Check(f"{p} unchanged", ok, "" if ok else short(text, 70)))
    if e.gzip_of is not None:
        got = _gunzip(tree.files[p])
        ok = got is not None and _norm_text(got) == _norm_text(e.gzip_of)
        out.append(
            Check(
                f"{p} is gzip of the expected text",
                ok,
                "not gzip" if got is None else ("" if ok else short(got, 60)),
            )
        )
    if e.is_gzip is not None:
        gz = tree.files[p][:2] == b"\x1f\x8b"
        out.append(
            Check(
                f"{p} gzip-compressed={e.is_gzip}",
                gz == e.is_gzip,
                "" if gz == e.is_gzip else repr(tree.files[p][:8]),
            )
        )
    if e.members is not None:
        mem = _tar_members(tree.files[p])
        want = sorted(posixpath.normpath(m) for m in e.members)
        out.append(
            Check(
                f"{p} archive members",
                mem == want,
                "not a tar archive" if mem is None else ", ".join(mem),
                ", ".join(want),
            )
        )
    if not out:
        out.append(Check(f"{p} exists", True))
    return out


def _stdout_checks(s: StdoutExpect, out: str) -> list[Check]:
    checks: list[Check] = []
    if s.equals is not None:
        ok = _norm_text(out) == _norm_text(s.equals)
        checks.append(Check("stdout", ok, "" if ok else short(out, 70), short(s.equals, 70)))
    if s.lines is not None:
        ok = _lines(out) == s.lines
        checks.append(
            Check("stdout lines", ok, "" if ok else short(out, 70), short("\n".join(s.lines), 70))
        )
    if s.sorted_lines is not None:
        ok = sorted(_lines(out)) == sorted(s.sorted_lines)
        checks.append(
            Check(
                "stdout lines (any order)",
                ok,
                "" if ok else short(out, 70),
                short("\n".join(s.sorted_lines), 70),
            )
        )
    for c in s.contains:
        checks.append(Check(f"stdout contains {c!r}", c in out, "" if c in out else short(out, 60)))
    if s.regex is not None:
        ok = re.search(s.regex, out, re.MULTILINE) is not None
        checks.append(Check(f"stdout matches /{s.regex}/", ok, "" if ok else short(out, 60)))
    return checks


@register("shell")
class Shell(Verifier):
    """The model's shell command, run on a fixture dir with only allowlisted tools on
    PATH; the resulting files and stdout are checked."""

    Args = ShellArgs
    needs_sandbox = True

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: ShellArgs = self.args  # type: ignore[assignment]
        tools = list(a.tools or CLI_TOOLS)
        try:
            command = extract_command(output.text, tools)
        except NoCode as exc:
            return Verdict.fail(str(exc), "no_code")
        bad = disallowed_tools(command, tools)
        if bad:
            return Verdict.fail(
                f"the command uses tools outside the allowlist: {', '.join(bad)}",
                "disallowed_tool",
                checks=[Check("only allowlisted tools", False, ", ".join(bad), "allowlist")],
            )
        if ctx.sandbox is None:
            return _no_sandbox()
        return run_shell(ctx.sandbox, a, command, tools)


def run_shell(sandbox: Sandbox, a: ShellArgs, command: str, tools: list[str]) -> Verdict:
    from ..sandbox import Limits

    nonce = secrets.token_hex(12)
    files: dict[str, str] = {f"data/{k}": v for k, v in a.files.items()}
    # runners/shell_run.py: the command's processes are all dead, and never saw the
    # nonce, when the results are printed (see its docstring).
    files["_shell.py"] = source("shell_run.py")
    files[".cmd.sh"] = "readonly PATH\n" + command + "\n"
    res = sandbox.run(
        files=files,
        cmd=[PYTHON, "-I", "-S", "_shell.py", *tools],
        stdin=nonce + "\n",
        timeout_s=a.timeout_s,
        limits=Limits(memory_mb=256, pids=32, output_bytes=2_000_000, disk_mb=64),
    )
    parts = res.stdout.split("\n" + nonce)
    if res.failure_mode or len(parts) != 4:
        mode = res.failure_mode or "crashed"
        why = {
            "exec_timeout": f"the command timed out after {a.timeout_s:g} s",
            "oom": "the command ran out of memory",
            "output_limit": "the command produced more output than the limit",
            "killed": "the command was killed",
        }.get(mode, f"the run ended without results (exit {res.exit_code})")
        err = _tail(res.stderr)
        return Verdict.fail(why + (f"; stderr: {err}" if err else ""), mode)
    head, out_b64, tree_b64, err = parts
    try:
        rc = int(out_b64.split("\n", 1)[0].strip())
        out = base64.b64decode(out_b64.split("\n", 1)[1].strip() or b"").decode(
            "utf-8", errors="replace"
        )
        tree = _Tree(base64.b64decode(tree_b64.strip()))
    except (ValueError, IndexError):
        return Verdict.fail("the shell runner printed unreadable results", "crashed")
    err = err.strip()
    checks: list[Check] = []
    if a.exit_zero:
        checks.append(
            Check(
                "exit status 0",
                rc == 0,
                f"{rc}" + (f" ({short(err, 80)})" if err and rc else ""),
                "0",
            )
        )
    if tree.error:
        checks.append(Check("directory readable", False, tree.error))
    for e in a.expect:
        checks += _file_checks(e, tree, a.files)
    if a.stdout is not None:
        checks += _stdout_checks(a.stdout, out)
    if a.strict_tree and not tree.error:
        named = {e.path for e in a.expect}
        touched = [
            p
            for p, txt in a.files.items()
            if posixpath.normpath(p) not in named and tree.text(posixpath.normpath(p)) != txt
        ]
        extra = [
            p
            for p in sorted(tree.files) + sorted(tree.links)
            if p not in named and p not in {posixpath.normpath(k) for k in a.files}
        ]
        checks.append(Check("other fixture files untouched", not touched, ", ".join(touched[:5])))
        checks.append(Check("no unexpected files", not extra, ", ".join(extra[:5])))
    for c in checks:
        if c.passed:  # a passing line needs no found/wanted
            c.found = c.wanted = ""
    verdict = Verdict.from_checks(checks, category="checks_failed")
    verdict.data = {
        "command": command[:2000],
        "exit_code": rc,
        "stdout": out[:1000],
        "stderr": err[:1000],
    }
    return verdict
