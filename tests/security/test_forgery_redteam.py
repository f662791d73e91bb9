"""Forgery attempts on the host-decided paths (the proxy engine, the timed
perf call, observations): each wrong answer must fail, and the right answer with
the same noise must still pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.packs import Pack, load_pack
from pytest_llmbench.core.sandbox import Sandbox
from pytest_llmbench.core.verifiers._code import extract_code as _extract_code
from pytest_llmbench.core.verifiers.context import VerifierContext

pytestmark = pytest.mark.security


def extract_code(answer: object, language: str) -> str:
    """The code in one of the pack's text answers (a reference may also be turns)."""
    assert isinstance(answer, str), answer
    return _extract_code(answer, language)


PACKS = Path(__file__).resolve().parents[2] / "packs"


@pytest.fixture(scope="module")
def python_pack() -> Pack:
    return load_pack(PACKS / "python")


# The slow answer does its work while the host stores the timed input (untimed),
# hooked into the server's request handler, so the timed call is a lookup.
PUT_HOOK = """
import sys as _s
_slow = lis_length
_pre = {}
_srv = _s.modules["__main__"]
_orig_do = _srv.Server.do
def _do(self, msg):
    r = _orig_do(self, msg)
    if msg.get("op") == "put" and type(getattr(r, "v", None)) is list:
        _pre[id(r.v)] = _slow(r.v)
    return r
_srv.Server.do = _do
def lis_length(nums):
    if id(nums) in _pre:
        return _pre[id(nums)]
    return _slow(nums)
"""

# The slow answer caches its result on disk: the next process reads it.
DISK_CACHE = """
import os as _o, json as _j, hashlib as _h
_slow = lis_length
def lis_length(nums):
    k = _h.sha1(repr(nums).encode()).hexdigest()
    for d in ("/tmp", ".", "/dev/shm", _o.path.expanduser("~")):
        p = _o.path.join(d, "lis-" + k)
        try:
            with open(p) as f:
                return _j.load(f)
        except Exception:
            pass
    r = _slow(nums)
    for d in ("/tmp", ".", "/dev/shm", _o.path.expanduser("~")):
        try:
            with open(_o.path.join(d, "lis-" + k), "w") as f:
                _j.dump(r, f)
        except Exception:
            pass
    return r
"""

# The slow answer finds the stored input when its module loads and works on it in
# a thread, so the timed call only waits for what is left.
LOAD_PRECOMPUTE = """
import gc as _g, threading as _t
_slow = lis_length
_pre = {}
def _work():
    for o in list(_g.get_objects()):
        if type(o) is list and len(o) > 1000 and all(type(x) is int for x in o[:50]):
            _pre[id(o)] = _slow(o)
_th = _t.Thread(target=_work)
_th.start()
def lis_length(nums):
    _th.join()
    if id(nums) in _pre:
        return _pre[id(nums)]
    return _slow(nums)
"""

PERF_TRICKS = {
    "put_hook": PUT_HOOK,
    "disk_cache": DISK_CACHE,
    "load_precompute": LOAD_PRECOMPUTE,
}


@pytest.mark.parametrize("trick", sorted(PERF_TRICKS))
def test_perf_trick_on_a_slow_answer_fails(sandbox: Sandbox, python_pack: Pack, trick: str) -> None:
    sc = next(s for s in python_pack.scenarios if s.id == "lis-fast")
    quadratic = extract_code(sc.counterexamples[0], "python")
    answer = "```python\n" + quadratic + "\n" + PERF_TRICKS[trick] + "\n```\n"
    v = check_answer(sc, python_pack.meta, answer, VerifierContext(sandbox=sandbox))
    assert not v.passed and v.category == "too_slow", v.detail


@pytest.mark.parametrize("trick", sorted(PERF_TRICKS))
def test_perf_trick_on_the_fast_answer_passes(
    sandbox: Sandbox, python_pack: Pack, trick: str
) -> None:
    sc = next(s for s in python_pack.scenarios if s.id == "lis-fast")
    assert sc.reference
    fast = extract_code(sc.reference, "python")
    answer = "```python\n" + fast + "\n" + PERF_TRICKS[trick] + "\n```\n"
    v = check_answer(sc, python_pack.meta, answer, VerifierContext(sandbox=sandbox))
    assert v.passed, v.detail


# ---------------------------------------------------------------- observation programs

# The candidate's module defines Object.prototype.toJSON: JSON.stringify in the
# observation harness would call it on the harness's own lines, which could then
# claim the source-size observations (expected values that need no solving).
TOJSON_REWRITE = r"""
Object.defineProperty(Object.prototype, 'toJSON', {
  configurable: true,
  value: function (this: any) {
    if (this && typeof this.key === 'string' && 'value' in this
        && this.key.startsWith('duplication removed')) {
      return { key: this.key, value: '' };
    }
    return this;
  },
});
"""

# The harness's captured writeSync still writes to fd 1, but fd 1 is no longer the
# run's stdout: a child process inherits the real one, fd 1 becomes a file, and an
# exit handler relays the harness's lines, rewritten, through the child.
FD_RELAY = r"""
import * as _fs from 'node:fs'; import * as _cp from 'node:child_process'; let _relay: any = null;
try { _relay = _cp.spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], { stdio: ['pipe', 1, 2] }); _fs.closeSync(1); _fs.openSync('.obs', 'w+'); } catch (e) { _fs.writeSync(2, 'relay: ' + e + '\n'); }
process.on('exit', () => { const lines = _fs.readFileSync('.obs', 'utf8').split('\n').map((l: string) => l.startsWith('{"key":"duplication removed') ? l.replace(/"value":".*"\}$/, '"value":""}') : l); _fs.writeSync(_relay.stdin._handle.fd, lines.join('\n')); _fs.closeSync(_relay.stdin._handle.fd); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300); });
"""  # noqa: E501 - few lines: the noise must not break the reference's size limit

OBSERVE_TRICKS = {"tojson_rewrite": TOJSON_REWRITE, "fd_relay": FD_RELAY}
# Held since the source-size keys are judged on the host (``source:``).
_OPEN_HOLES: dict[str, str] = {}


def _money(sandbox: Sandbox, code: str) -> Any:
    pack = load_pack(PACKS / "coding")
    sc = next(s for s in pack.scenarios if s.id == "ts-refactor-money")
    v = check_answer(
        sc, pack.meta, "```typescript\n" + code + "\n```\n", VerifierContext(sandbox=sandbox)
    )
    assert v.category != "sandbox_unavailable", v.detail
    return v


@pytest.mark.parametrize(
    "trick",
    [
        pytest.param(t, marks=pytest.mark.xfail(strict=True, reason=_OPEN_HOLES[t]))
        if t in _OPEN_HOLES
        else t
        for t in sorted(OBSERVE_TRICKS)
    ],
)
def test_observation_trick_on_duplicated_code_fails(sandbox: Sandbox, trick: str) -> None:
    pack = load_pack(PACKS / "coding")
    sc = next(s for s in pack.scenarios if s.id == "ts-refactor-money")
    # the counterexample that is right but keeps the duplication
    dup = extract_code(sc.counterexamples[2], "typescript")
    v = _money(sandbox, dup + "\n" + OBSERVE_TRICKS[trick])
    assert not v.passed, f"forged: {v.detail}"
    assert "duplication removed" in v.detail


@pytest.mark.parametrize("trick", sorted(OBSERVE_TRICKS))
def test_observation_trick_on_the_reference_passes(sandbox: Sandbox, trick: str) -> None:
    pack = load_pack(PACKS / "coding")
    sc = next(s for s in pack.scenarios if s.id == "ts-refactor-money")
    assert sc.reference
    ref = extract_code(sc.reference, "typescript")
    v = _money(sandbox, ref + "\n" + OBSERVE_TRICKS[trick])
    assert v.passed, v.detail


def test_source_expectations_ignore_what_the_run_printed() -> None:
    from pytest_llmbench.core.verifiers.observe import Observed, judge, parse_expect

    exp = parse_expect(
        {"size/lines": {"cmp": "at_most", "pattern": r"^\S", "value": 2, "source": "a.js"}}
    )
    forged = {"size/lines": [Observed("")]}
    assert judge(exp, forged, {"a.js": "x\ny\nz\n"})["size"][0] is False
    assert judge(exp, {}, {"a.js": "x\ny\n"})["size"] == (True, "")
    assert judge(exp, forged, {})["size"][0] is False  # the file is missing: not observed
    with pytest.raises(ValueError, match="source"):
        parse_expect({"k": {"cmp": "regex", "value": "x", "source": 3}})


# ---------------------------------------------------------------- the host's namespace


def test_modules_the_candidate_names_do_not_act_on_the_host(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    """The load reply names the candidate's modules and the host imports the stdlib
    ones for the tests: those that act when imported must stay out."""
    import sys

    from pytest_llmbench.core.verifiers import pycheck as pc
    from pytest_llmbench.core.verifiers import pyremote as pr

    # a module object only needs the name (importing these in the sandbox would exit)
    code = (
        "import math, this, antigravity, types\n"
        "u = types.ModuleType('unittest.__main__')\nh = types.ModuleType('__hello__')\n"
        "def f(x): return x\n"
    )
    fresh = [
        m for m in ("this", "antigravity", "unittest.__main__", "__hello__") if m not in sys.modules
    ]
    s = pr.PySession(sandbox, code, timeout_s=20.0)
    try:
        s.start()
        assert s.load_error is None, s.load_error
        ns = pc.host_namespace(s, "", ["f"])
        assert ns["math"] is __import__("math")
        assert pc.run_test(s, ns, "t", "assert f(2) == 2", 5.0)["ok"]
    finally:
        s.close()
    assert [m for m in fresh if m in sys.modules] == []
    assert "Beautiful is better" not in capfd.readouterr().out


def test_a_builtin_exception_with_a_strict_constructor_keeps_its_type() -> None:
    from pytest_llmbench.core.verifiers.pyremote import remote_exception

    e = remote_exception({"type": "UnicodeDecodeError", "msg": "bad byte"})
    assert type(e) is UnicodeDecodeError and isinstance(e, ValueError)
    assert str(e) == "" or "bad" in str(e)  # printable, whatever CPython shows
