"""Running a scenario's Python tests here, against the candidate in the sandbox.

:func:`open_session` starts a :class:`~.pyremote.PySession` on the candidate's code;
:func:`host_namespace` builds the namespace the tests run in (the candidate's names
as proxies, the preamble's own); :func:`run_test` runs one test with a time limit;
:func:`perf_inputs` / :func:`time_call` time a call on an input built here.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import sys
import time
import traceback
from types import CodeType
from typing import TYPE_CHECKING, Any

from .pyremote import ChannelFailure, PySession
from .runners import py_serve

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox


# ---------------------------------------------------------------- host namespaces


def host_namespace(
    session: PySession, preamble: str = "", entry: list[str] | tuple[str, ...] = ()
) -> dict[str, Any]:
    """The namespace the tests run in: builtins, the scenario's ``preamble`` run
    here (its helpers are the trusted ones), then the candidate's names as proxies.
    The candidate cannot shadow a builtin or a preamble name (a remote ``abs`` or
    ``encode_cyclic`` would let it grade itself), except its ``entry`` names; a
    module it imported is the host's own module of that name."""
    ns: dict[str, Any] = {"__name__": "__llmbench_tests__", "__builtins__": builtins}
    exec(compile(preamble, "<preamble>", "exec"), ns)
    protected = set(ns) | set(dir(builtins))
    for name, mod in session.modules.items():
        if name in protected or name in entry:
            continue
        real = _stdlib_module(mod)
        if real is not None:
            ns[name] = real
    for name in session.names:
        if name in protected and name not in entry:
            continue
        ns[name] = session.value(name)
    return ns


# Stdlib modules that act when imported (print, open a browser, start a GUI, run a
# test suite or a CLI with our argv): the candidate names them, we import them here.
_ACTS_ON_IMPORT = frozenset(
    ["this", "antigravity", "idlelib", "turtledemo", "test", "ensurepip", "venv", "tkinter"]
)


def _stdlib_module(name: str) -> Any:
    parts = name.split(".")
    if (
        parts[0] not in sys.stdlib_module_names
        or parts[0] in _ACTS_ON_IMPORT
        or any(p.startswith("__") for p in parts)  # __main__, __hello__, __phello__
    ):
        return None
    try:
        return importlib.import_module(name)
    except (ImportError, SystemExit):
        return None


def open_session(
    sandbox: Sandbox,
    code: str,
    *,
    preamble: str = "",
    timeout_s: float = 20.0,
    memory_mb: int = 512,
    load_timeout_s: float = 10.0,
) -> PySession:
    """Start ``code`` (a Python module's source, after ``preamble``) in the sandbox
    and return the session; use ``host_namespace(session, preamble, entry)`` for the
    names tests see, set ``session.deadline`` per test, ``session.close()`` at the
    end. Raises :class:`SandboxError` (infrastructure) or :class:`ChannelFailure`
    (the candidate's process hung or died while loading); a candidate exception
    while loading is ``session.load_error``."""
    s = PySession(
        sandbox,
        code,
        preamble=preamble,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        load_timeout_s=load_timeout_s,
    )
    s.start()
    return s


# ---------------------------------------------------------------- running tests here


def _short(v: object, n: int = 200) -> str:
    try:
        s = repr(v)
    except Exception as e:
        s = f"<unrepresentable: {type(e).__name__}>"
    return s if len(s) <= n else s[: n - 3] + "..."


def _where(tb: Any, fname: str) -> str:
    for fr in reversed(traceback.extract_tb(tb)):
        if fr.filename == fname and fr.line:
            return fr.line.strip()
    return ""


def instrument(code: str) -> CodeType:
    """Top-level ``assert L == R`` keeps its two sides, so a failure shows both."""
    tree = ast.parse(code, "<test>")
    for node in tree.body:
        if (
            isinstance(node, ast.Assert)
            and isinstance(node.test, ast.Compare)
            and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)
        ):
            t = node.test
            t.left = ast.NamedExpr(ast.Name("_llm_got", ast.Store()), t.left)
            t.comparators = [ast.NamedExpr(ast.Name("_llm_want", ast.Store()), t.comparators[0])]
    ast.fix_missing_locations(tree)
    return compile(tree, "<test>", "exec")


def run_test(
    session: PySession, base: dict[str, Any], name: str, code: str, limit: float
) -> dict[str, Any]:
    """Run one test's code here against the session's proxies, ``limit`` seconds
    for everything it asks of the sandbox. ``{"name", "ok", "msg"?, "channel"?}``;
    ``channel`` (timeout/died/protocol/limit) means the session must be restarted."""
    ns = dict(base)
    session.deadline = min(session.deadline_cap, time.monotonic() + limit)
    try:
        exec(instrument(code), ns)
    except ChannelFailure as e:
        return _channel_result(name, e, limit)
    except AssertionError as e:
        if session.broken is not None:
            return _channel_result(name, session.broken, limit)
        if "_llm_got" in ns and "_llm_want" in ns:
            msg = f"got {_short(ns['_llm_got'])}, wanted {_short(ns['_llm_want'])}"
        else:
            line = _where(e.__traceback__, "<test>")
            msg = "assertion failed" + (f": {line}" if line else "")
            if str(e):
                msg += f" ({_short(str(e), 120)})"
        return {"name": name, "ok": False, "msg": msg}
    except Exception as e:
        if session.broken is not None:
            return _channel_result(name, session.broken, limit)
        line = _where(e.__traceback__, "<test>")
        kind = getattr(e, "remote_type", type(e).__name__)
        msg = f"{kind}: {_short(str(e), 160)}" + (f" at {line}" if line else "")
        return {"name": name, "ok": False, "msg": msg}
    if session.broken is not None:  # swallowed by a bare except in the test
        return _channel_result(name, session.broken, limit)
    return {"name": name, "ok": True}


def _channel_result(name: str, e: ChannelFailure, limit: float) -> dict[str, Any]:
    msg = f"timed out after {limit:g} s" if e.reason == "timed out" else e.reason
    return {"name": name, "ok": False, "msg": msg, "channel": e.kind}


def _as_data(v: object) -> Any:
    """``v`` encoded when it is plain data through and through, else ``None``."""

    def no_ref(obj: object) -> dict[str, Any]:
        raise py_serve.Unencodable("not data")

    if v is None:
        return None
    try:
        return py_serve.encode(v, no_ref)
    except (py_serve.Unencodable, RecursionError):
        return None


def perf_inputs(preamble: str, setup: str, call: str) -> dict[str, Any]:
    """The plain data ``setup`` (run here, after ``preamble``) built for the names
    ``call`` uses, encoded, to be stored in a process before the candidate loads
    (:attr:`PySession.preload`)."""
    ns: dict[str, Any] = {"__name__": "__llmbench_perf__", "__builtins__": builtins}
    exec(compile(preamble, "<preamble>", "exec"), ns)
    before = set(ns)
    exec(compile(setup, "<setup>", "exec"), ns)
    used = {n.id for n in ast.walk(ast.parse(call, mode="eval")) if isinstance(n, ast.Name)}
    out: dict[str, Any] = {}
    for k in sorted(used):
        if k not in ns or k in before:
            continue
        data = _as_data(ns[k])
        if data is None:
            raise ValueError(f"perf: {k!r} from setup is not plain data")
        out[k] = data
    return out


def time_call(session: PySession, call: str, repeat: int, limit: float) -> tuple[list[float], Any]:
    """Wall time, measured here, of the expression ``call`` evaluated in the sandbox
    in the candidate's module over the data stored before it loaded
    (``session.preload``). The first repeat is timed from the load request: the
    candidate's code has seen the input since then, so all it did counts (the data
    was stored, untimed, before any of its code existed). Each repeat is one
    request, so the clock sees the computation, not round trips. Returns the times
    and the last result."""
    times: list[float] = []
    result: Any = None
    for i in range(repeat):
        session.deadline = min(session.deadline_cap, time.monotonic() + limit)
        t0 = session.load_t0 if i == 0 else time.perf_counter()
        result = session.request({"op": "eval", "expr": call, "names": session.preloaded})
        times.append(time.perf_counter() - t0)
    return times, result
