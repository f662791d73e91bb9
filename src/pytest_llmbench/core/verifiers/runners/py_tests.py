"""Run the model's test module against a code under test it cannot see (in the sandbox).

``python3 -I -S _tests.py`` with ``_serve.py`` (for the codec) and the test module
beside it. The module under test is not here: ``import solution`` gives a proxy whose
every use is a request on stdout, answered on stdin by the host, which relays it to
the implementation (the original or one mutant) running elsewhere. So the tests can
tell the original from a mutant only by how it behaves. Per test one line
``{"r": name, "ok": bool, "msg": str}``, then ``{"done": true}``. These lines are the
model's own report: this process is the model's, and it decides nothing else.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import types
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves it out
import _serve as wire  # type: ignore[import-not-found]  # noqa: E402


class _Remote:
    """An object of the code under test (a handle)."""

    __slots__ = ("_h",)

    def __init__(self, h: int) -> None:
        object.__setattr__(self, "_h", h)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _ask({"op": "getattr", "h": self._h, "name": name})

    def __setattr__(self, name: str, value: Any) -> None:
        _ask({"op": "setattr", "h": self._h, "name": name, "v": _enc(value)})

    def __call__(self, *args: Any, **kw: Any) -> Any:
        msg = {"op": "call", "h": self._h, "args": [_enc(a) for a in args]}
        msg["kw"] = {k: _enc(v) for k, v in kw.items()}
        return _ask(msg)

    def __iter__(self) -> Any:
        return _ask({"op": "iter", "h": self._h})

    def __next__(self) -> Any:
        return _ask({"op": "next", "h": self._h})

    def __len__(self) -> int:
        n = _ask({"op": "len", "h": self._h})
        return int(n)

    def __getitem__(self, k: Any) -> Any:
        return _ask({"op": "getitem", "h": self._h, "k": _enc(k)})

    def __setitem__(self, k: Any, v: Any) -> None:
        _ask({"op": "setitem", "h": self._h, "k": _enc(k), "v": _enc(v)})

    def __repr__(self) -> str:
        return str(_ask({"op": "repr", "h": self._h}))


_STATE = {"next": 0}
_PROXIES: dict[int, _Remote] = {}


def _ref(obj: object) -> dict[str, Any]:
    if isinstance(obj, _Remote):
        return {"$": "ref", "id": obj._h}
    raise TypeError(f"only plain data can be passed to the code under test, not {type(obj)}")


def _deref(kind: str, n: int) -> object:
    if kind != "ref":
        raise wire.ProtocolError("unexpected handle")
    p = _PROXIES.get(n)
    if p is None:
        p = _PROXIES[n] = _Remote(n)
    return p


def _enc(v: object) -> Any:
    return wire.encode(v, _ref)


_OUT = 1
_IN = 0
_BUF = [b""]


def _send(msg: dict[str, Any]) -> None:
    data = wire.dumps(msg)
    while data:
        data = data[os.write(_OUT, data) :]


def _recv() -> dict[str, Any]:
    while b"\n" not in _BUF[0]:
        chunk = os.read(_IN, 1 << 16)
        if not chunk:
            os._exit(3)
        _BUF[0] += chunk
    line, _, _BUF[0] = _BUF[0].partition(b"\n")
    msg: dict[str, Any] = wire.loads(line)
    return msg


def _ask(msg: dict[str, Any]) -> Any:
    _STATE["next"] += 1
    msg["id"] = _STATE["next"]
    _send(msg)
    reply = _recv()
    if "err" in reply:
        err = reply["err"] if isinstance(reply["err"], dict) else {}
        name, text = str(err.get("type", "Exception")), str(err.get("msg", ""))
        t = getattr(__builtins__, name, None) if not isinstance(__builtins__, dict) else None
        if t is None and isinstance(__builtins__, dict):
            t = __builtins__.get(name)
        if isinstance(t, type) and issubclass(t, Exception):
            raise t(text)
        raise RuntimeError(f"{name}: {text}")
    return wire.decode(reply.get("v"), _deref)


class _Module(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _ask({"op": "getattr", "h": 1, "name": name})


def _why(e: BaseException, test_file: str) -> str:
    msg = (type(e).__name__ + ": " + str(e)).strip().rstrip(":")
    if isinstance(e, AssertionError) and not str(e):
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == test_file]
        if frames:
            msg = "AssertionError: " + (frames[-1].line or "").strip()
    return msg[:300]


def main() -> None:
    cfg = json.loads(sys.stdin.buffer.readline())
    module, test_mod = str(cfg["module"]), str(cfg["test_module"])
    sys.modules[module] = _Module(module)
    path = test_mod + ".py"
    with open(path, encoding="utf-8") as fh:
        src = fh.read()
    mod = types.ModuleType(test_mod)
    mod.__file__ = path
    sys.modules[test_mod] = mod
    sys.stdout = sys.stderr  # the tests' prints are not on the channel
    try:
        exec(compile(src, path, "exec"), mod.__dict__)
    except BaseException as e:
        _send({"load": _why(e, path)})
        _send({"done": True})
        return
    for name, fn in list(vars(mod).items()):
        if not (name.startswith("test") and callable(fn)):
            continue
        if getattr(fn, "__module__", None) != test_mod:
            continue
        try:
            fn()
            _send({"r": name, "ok": True})
        except BaseException as e:
            _send({"r": name, "ok": False, "msg": _why(e, path)})
    _send({"done": True})


if __name__ == "__main__":
    main()
    os._exit(0)
