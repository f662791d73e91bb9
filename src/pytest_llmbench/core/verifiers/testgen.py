"""Test-generation verifier: the model writes tests, mutation testing grades them.

``testgen``: the answer is a Python test module (``test_*`` functions with plain
``assert``) for the code given in the prompt. Mutants of that code are made on the
host with :mod:`ast`, deterministically (same code -> same mutants, same order):

- ``arith``: ``+ <-> -``, ``* <-> /``, ``// -> /``, ``% -> //`` (also in ``x op= y``);
- ``compare``: ``< -> <=``, ``<= -> <``, ``> -> >=``, ``>= -> >``, ``== <-> !=``,
  ``in <-> not in``, ``is <-> is not``;
- ``logic``: ``and <-> or``, ``not x -> x``;
- ``condition``: the test of ``if``/``while``/``x if c else y`` negated;
- ``constant``: an int ``n -> n + 1``, ``True <-> False``;
- ``off_by_one``: the stop of ``range(...)`` and the bounds of a slice ``+ 1``.

Each variant (the original twice, each mutant once, in a random order) gets a fresh
sandbox process for the model's tests (``runners/py_tests.py``) and a fresh host
process serving the implementation (``runners/py_serve.py``, restricted): the tests
reach the code only through calls relayed by the host, with plain data, so they can
tell a mutant from the original only by its behaviour, never by its source or
bytecode, and no state crosses from one variant's run to the next. A variant that
loops forever is "killed by timeout". Score = killed / mutants, ``metrics["mutation"]``;
tests that fail on the original score 0 (category ``tests_fail_on_original``).
Equivalent mutants exist, so a scenario's ``min_score`` sits below 1.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..output import Output
from ._code import NoCode, code_blocks, extract_code
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .mutation import Mutant, mutants
from .pyremote import PYTHON
from .runners import py_serve
from .runners import source as runner_source

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox


class TestgenArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The code under test; default: the first Python block of the prompt.
    code: str | None = None
    module: str = "solution"
    test_module: str = "test_generated"
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    # Every test the model writes must hold on the original within this time.
    per_variant_s: float = Field(default=2.0, gt=0, le=30)
    max_mutants: int = Field(default=120, ge=1, le=500)
    timeout_s: float = Field(default=120.0, gt=0, le=600)


@dataclass
class VariantResult:
    passed: list[str]
    failed: list[tuple[str, str]]
    load_error: str | None = None
    done: bool = False
    signal: str | None = None
    infra: bool = False

    @property
    def killed(self) -> bool:
        return bool(self.failed) or self.load_error is not None or not self.done


def _test_functions(tree: ast.Module) -> list[str]:
    return [
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test")
    ]


@register("testgen")
class TestgenVerifier(Verifier):
    """Run the model's tests on the original and on each mutant of the code."""

    Args = TestgenArgs
    needs_sandbox = True

    def code(self) -> str:
        a: TestgenArgs = self.args  # type: ignore[assignment]
        if a.code is not None:
            return a.code
        blocks = [b for b in code_blocks(self.scenario.user_text()) if b.language == "python"]
        if not blocks:
            raise ValueError(f"scenario {self.scenario.id!r}: no python block in the prompt")
        return blocks[0].code + "\n"

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: TestgenArgs = self.args  # type: ignore[assignment]
        threshold = a.min_score if a.min_score is not None else self.threshold
        try:
            tests = extract_code(output.text, "python")
        except NoCode as exc:
            return Verdict.fail(str(exc), category="no_code")
        try:
            tree = ast.parse(tests)
        except SyntaxError as exc:
            return Verdict.fail(
                f"the tests do not parse: line {exc.lineno}: {exc.msg}", category="compile_error"
            )
        names = _test_functions(tree)
        if not names:
            return Verdict.fail(
                "the answer defines no test function (def test_...())", category="no_tests"
            )
        if ctx.sandbox is None:
            return Verdict.fail(
                "no sandbox to run the tests in (give --llm-sandbox)",
                category="sandbox_unavailable",
            )
        code = self.code()
        muts = mutants(code, limit=a.max_mutants)
        results = self._run(ctx.sandbox, a, code, tests, muts)
        infra = next((r for r in results.values() if r.infra), None)
        if infra is not None:
            return Verdict.fail(str(infra.signal), category="sandbox_unavailable")
        orig = results.get("original")
        if orig is None or orig.load_error or not orig.done:
            why = (
                orig.load_error
                if orig and orig.load_error
                else f"the run ended early ({orig.signal})"
                if orig and orig.signal
                else "no result"
            )
            return Verdict.fail(
                f"the tests do not run on the original code: {why}",
                category="tests_fail_on_original",
                metrics={"mutation": [0.0, float(len(muts))]},
            )
        if orig.failed:
            shown = "; ".join(f"{n}: {m}" for n, m in orig.failed[:3])
            return Verdict(
                False,
                0.0,
                f"{len(orig.failed)}/{len(names)} tests fail on the original code: {shown}",
                [Check(f"{n} on the original", False, found=m) for n, m in orig.failed],
                "tests_fail_on_original",
                {"mutation": [0.0, float(len(muts))]},
            )
        checks = [Check(f"{len(orig.passed)} tests pass on the original", True)]
        killed = 0
        survivors: list[Mutant] = []
        for m in muts:
            r = results.get(m.id)
            k = r is not None and r.killed
            killed += k
            if not k:
                survivors.append(m)
            checks.append(
                Check(
                    f"mutant {m.id} ({m.operator}, line {m.line}: {m.change})",
                    k,
                    found="killed" if k else "survived",
                )
            )
        if not muts:
            return Verdict.fail("the code has no mutants", category="verifier_error")
        score = killed / len(muts)
        passed = score >= threshold
        detail = f"mutation score {killed}/{len(muts)} = {score:.2f} (need {threshold:.2f})"
        if survivors:
            detail += "; survivors: " + "; ".join(
                f"line {m.line} {m.change}" for m in survivors[:3]
            )
            if len(survivors) > 3:
                detail += f" (+{len(survivors) - 3} more)"
        return Verdict(
            passed,
            score,
            detail,
            checks,
            None if passed else "mutants_survive",
            {"mutation": [float(killed), float(len(muts))]},
            {"tests": names},
        )

    def _run(
        self, sandbox: Sandbox, a: TestgenArgs, code: str, tests: str, muts: list[Mutant]
    ) -> dict[str, VariantResult]:
        """Each variant in a fresh sandbox process for the tests and a fresh host
        process for the implementation (so no run knows about another, and the order
        tells the tests nothing; mutants still go in a random order). The original runs
        twice, first: both must pass, so tests that fail at random rarely look like
        killers, and tests that fail on it cost no mutant runs."""
        order = [(m.id, m.source) for m in muts]
        random.SystemRandom().shuffle(order)
        order = [("original", code), ("original", code), *order]
        out: dict[str, VariantResult] = {}
        deadline = time.monotonic() + a.timeout_s
        for vid, src in order:
            orig = out.get("original")
            if orig is not None and vid != "original" and (orig.killed or orig.infra):
                break
            if time.monotonic() > deadline:
                r = VariantResult([], [], signal="the overall time limit passed")
            else:
                r = run_variant(sandbox, a, src, tests)
            prev = out.get(vid)
            if prev is None or (r.killed and not prev.killed):
                out[vid] = r
        return out


# What the tests may ask of the code under test (relayed, never interpreted here).
_RELAYED = {"getattr", "setattr", "call", "iter", "next", "len", "getitem", "setitem", "repr"}
_SERVE = Path(__file__).parent / "runners" / "py_serve.py"


class _Impl:
    """The implementation (original or mutant: trusted code) in a plain host
    subprocess with limits, served by ``py_serve`` in restricted mode: plain data in,
    no private attributes, code objects, modules or source out."""

    def __init__(self, source: str, module: str, per_s: float) -> None:
        import resource

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
            cpu = int(per_s) + 2
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(_SERVE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=limits,
            cwd=tempfile.gettempdir(),
            env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
        )
        self.buf = b""
        self.load_error: str | None = None
        self.source, self.module = source, module

    def start(self, deadline: float) -> None:
        hello = self.read(deadline)
        if hello is None or "hello" not in hello:
            raise RuntimeError("the implementation server did not start")
        msg = {"op": "load", "id": 0, "code": self.source, "name": self.module}
        reply = self.ask({**msg, "restricted": True}, deadline)
        if reply is None:
            self.load_error = "the implementation did not load in time"
        elif "err" in reply:
            err = reply["err"] if isinstance(reply["err"], dict) else {}
            self.load_error = f"{err.get('type')}: {err.get('msg')}"

    def ask(self, msg: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(py_serve.dumps(msg))
            self.proc.stdin.flush()
        except OSError:
            return None
        return self.read(deadline)

    def read(self, deadline: float) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        try:
            return py_serve.loads(line)
        except py_serve.ProtocolError:
            return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if f is not None:
                    f.close()


def run_variant(sandbox: Sandbox, a: TestgenArgs, source: str, tests: str) -> VariantResult:
    """The model's tests (in the sandbox) against one implementation (on the host)."""
    from ..sandbox.interface import ChannelTimeout, Limits

    r = VariantResult([], [])
    deadline = time.monotonic() + a.per_variant_s
    impl = _Impl(source, a.module, a.per_variant_s)
    try:
        impl.start(time.monotonic() + 10.0)
        if impl.load_error:
            r.load_error = impl.load_error
            return r
        files = {
            "_tests.py": runner_source("py_tests.py"),
            "_serve.py": runner_source("py_serve.py"),
            f"{a.test_module}.py": tests,
        }
        with sandbox.open(
            files=files,
            cmd=[PYTHON, "-I", "-S", "_tests.py"],
            timeout_s=a.per_variant_s + 10.0,
            limits=Limits(memory_mb=512, pids=32),
        ) as ch:
            cfg = {"module": a.module, "test_module": a.test_module}
            try:
                ch.send(json.dumps(cfg).encode() + b"\n")
            except OSError:
                r.signal = "the test process exited early"
                return r
            while True:
                try:
                    line = ch.recv_line(max(deadline - time.monotonic(), 0.001), 16_000_000)
                except ChannelTimeout:
                    r.signal = f"timed out after {a.per_variant_s:g} s"
                    break
                if line is None:
                    r.signal = "the test process exited early"
                    break
                try:
                    msg = py_serve.loads(line)
                except py_serve.ProtocolError as exc:
                    r.signal = f"unreadable output: {exc}"
                    break
                if msg.get("done") is True:
                    r.done = True
                    break
                if "r" in msg:
                    name = str(msg["r"])[:200]
                    if msg.get("ok") is True:
                        r.passed.append(name)
                    else:
                        r.failed.append((name, str(msg.get("msg", ""))[:300]))
                elif "load" in msg:
                    r.load_error = str(msg["load"])[:300]
                elif msg.get("op") in _RELAYED:
                    reply = impl.ask(msg, deadline)
                    if reply is None:
                        r.signal = f"the code under test did not answer in {a.per_variant_s:g} s"
                        break
                    reply["re"] = msg.get("id")
                    try:
                        ch.send(py_serve.dumps(reply))
                    except OSError:
                        r.signal = "the test process exited early"
                        break
                else:
                    r.signal = "a request the tests may not make"
                    break
    except Exception as exc:  # the sandbox could not run the tests at all
        r.signal = f"sandbox error: {exc}"
        r.infra = True
    finally:
        impl.close()
    return r
