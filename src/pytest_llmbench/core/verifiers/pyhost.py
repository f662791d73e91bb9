"""Python scenarios of the polyglot verifier, decided on the host.

The answer's module runs alone in the sandbox (:mod:`.pyremote` serves its names over
a channel); the hidden test module runs here, where ``import <module>`` gives proxies
of those names, and each ``test_*`` function runs with a per-test time limit. Every
assertion is evaluated here over plain values: the answer's code never shares an
interpreter with the tests or sees their expected values. Tests that inspect the
answer's source read it with ``source(name)`` (the host's copy of the edited files).
"""

from __future__ import annotations

import builtins
import linecache
import posixpath
import re
import time
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox
    from .polyglot import PolyglotArgs
    from .polyglot_run import TestRun

_TEST_DEF = re.compile(r"^def (test\w*)\s*\(", re.M)


def test_names(source: str) -> list[str]:
    """The ``test_*`` functions a test module defines, in order."""
    return list(dict.fromkeys(_TEST_DEF.findall(source)))


def run_python_tests(sandbox: Sandbox, a: PolyglotArgs, files: dict[str, str], tr: TestRun) -> None:
    """Fill ``tr`` from a run of ``a.tests`` here against the answer in the sandbox."""
    from . import pycheck as pc
    from . import pyremote as pr

    modname = posixpath.splitext(posixpath.basename(a.file))[0]
    tests = a.tests or ""
    t0 = time.monotonic()
    try:
        session = pc.open_session(
            sandbox,
            files[a.file],
            timeout_s=a.timeout_s,
            memory_mb=a.memory_mb,
            load_timeout_s=min(a.timeout_s, 20.0),
        )
    except pr.SandboxError as exc:
        tr.infra_error = str(exc)
        return
    except pr.ChannelFailure as exc:
        tr.build_error = f"loading {a.file}: {exc.reason}"
        return
    try:
        if session.load_error is not None:
            e = session.load_error
            kind = getattr(e, "remote_type", type(e).__name__)
            tr.build_error = f"the tests could not load the code: {kind}: {e}"
            return
        try:
            base = _namespace(pc, session, modname, tests, files)
        except pr.ChannelFailure:
            raise
        except Exception as e:  # e.g. the tests' `from lru import LRUCache` finds no LRUCache
            kind = getattr(e, "remote_type", type(e).__name__)
            tr.build_error = f"the tests could not load the code: {kind}: {e}"
            return
        limit = a.per_test_ms / 1000
        for name in tr.names:
            if session.broken is not None:
                session.restart()
                base = _namespace(pc, session, modname, tests, files)
            r = pc.run_test(session, base, name, f"{name}()", limit)
            tr.results[name] = (bool(r["ok"]), str(r.get("msg", "")))
            tr.ran = True
    except pr.ChannelFailure as exc:
        for name in tr.names:
            tr.results.setdefault(name, (False, f"not run: {exc.reason}"))
    finally:
        session.close()
        tr.duration_s = time.monotonic() - t0


def _namespace(
    pc: Any, session: Any, modname: str, tests: str, files: dict[str, str]
) -> dict[str, Any]:
    """The test module executed here; ``import <modname>`` yields the proxies."""
    proxies = pc.host_namespace(session)
    mod = types.ModuleType(modname)
    for k, v in proxies.items():
        if not k.startswith("__"):
            setattr(mod, k, v)
    real_import = builtins.__import__

    def imp(
        name: str, globs: Any = None, locs: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if level == 0 and name == modname:
            return mod
        return real_import(name, globs, locs, fromlist, level)

    own = dict(vars(builtins))
    own["__import__"] = imp
    ns: dict[str, Any] = {
        "__name__": "__llmbench_tests__",
        "__builtins__": own,
        "source": lambda name: files[name],
    }
    # failure messages quote the failing line of the test module
    linecache.cache["<test>"] = (len(tests), None, tests.splitlines(True), "<test>")
    exec(compile(tests, "<test>", "exec"), ns)
    return ns
