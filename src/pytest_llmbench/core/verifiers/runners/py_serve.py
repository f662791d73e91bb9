# Long module: a self-contained program run alone as a file (python3 -I): no sibling imports.
"""Serve one Python module over a line channel: the only program in the sandbox.

Run as ``python3 -I -S _serve.py`` in the sandbox. It loads the candidate's code and
answers requests (one JSON object per line on stdin, replies on stdout): call a
function or method, get/set an attribute, iterate, index... Values cross as typed
plain data (:func:`encode`/:func:`decode`); any other object stays here and the
host gets a handle (``{"$": "ref", "id": N}``). The host runs the tests and compares;
nothing here decides a verdict, and no expected value is ever sent here.

The candidate runs in this process, so it can write on the channel too: whatever
arrives there is its answer, and the host treats anything malformed as a failure.
Its prints go to a capped buffer (fd 1 points to stderr), so they cannot be mistaken
for replies. The host imports this module for the codec; importing runs nothing.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import datetime
import io
import json
import math
import os
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 600  # nesting of one value (a test nests 200 lists deep)
MAX_MSG = 16_000_000  # bytes of one message line
PRINT_CAP = 20_000

# JSON the encoder emits: null, bool, str, int (|x| < 2**53), finite float, list of
# values, or an object tagged with "$". Nothing else is valid on the wire.
_SAFE_INT = 2**53


class Unencodable(Exception):
    """A value too deep (or cyclic) to cross as data: it crosses as a handle."""


class ProtocolError(Exception):
    """A message that is not valid for this protocol."""


Ref = Callable[[object], dict[str, Any]]
Deref = Callable[[str, int], object]


def encode(v: object, ref: Ref, depth: int = 0) -> Any:
    """``v`` as tagged JSON data. Exact builtin types (and their subclasses, read
    through the base type so an overridden ``__eq__``/``__iter__`` is never used)
    become data; anything else becomes ``ref(v)``."""
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deep")
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        assert isinstance(v, int)
        return v if -_SAFE_INT < v < _SAFE_INT else {"$": "int", "v": format(v, "x")}
    if t is float:
        assert isinstance(v, float)
        return v if math.isfinite(v) else {"$": "float", "v": repr(v)}
    d = depth + 1
    if t is list:
        assert isinstance(v, list)
        if _flat(v):
            return list(v)
        return [encode(x, ref, d) for x in v]
    if t is tuple:
        assert isinstance(v, tuple)
        return {"$": "tuple", "v": [encode(x, ref, d) for x in v]}
    if t is dict:
        assert isinstance(v, dict)
        return {"$": "dict", "v": [[encode(k, ref, d), encode(x, ref, d)] for k, x in v.items()]}
    if t is set or t is frozenset:
        assert isinstance(v, (set, frozenset))
        return {"$": t.__name__, "v": [encode(x, ref, d) for x in v]}
    if t is bytes or t is bytearray:
        assert isinstance(v, (bytes, bytearray))
        return {"$": t.__name__, "v": base64.b64encode(bytes(v)).decode("ascii")}
    if t is complex:
        assert isinstance(v, complex)
        return {"$": "complex", "v": [encode(v.real, ref, d), encode(v.imag, ref, d)]}
    if t is datetime.date:
        assert isinstance(v, datetime.date)
        return {"$": "date", "v": v.isoformat()}
    if t is datetime.datetime:
        assert isinstance(v, datetime.datetime)
        if v.tzinfo is None:
            return {"$": "datetime", "v": v.isoformat()}
        return ref(v)
    if t is datetime.time:
        assert isinstance(v, datetime.time)
        if v.tzinfo is None:
            return {"$": "time", "v": v.isoformat()}
        return ref(v)
    if t is datetime.timedelta:
        assert isinstance(v, datetime.timedelta)
        return {"$": "timedelta", "v": [v.days, v.seconds, v.microseconds]}
    # Subclasses of plain types (namedtuple, IntEnum, OrderedDict...): their base value.
    if isinstance(v, int) and not isinstance(v, bool):
        return encode(int.__int__(v), ref, depth)
    if isinstance(v, float):
        return encode(float.__float__(v), ref, depth)
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, tuple):
        return encode(tuple.__getitem__(v, slice(None)), ref, depth)
    if isinstance(v, list):
        return encode(list.copy(v), ref, depth)
    if isinstance(v, dict):
        return encode(dict.copy(v), ref, depth)
    if isinstance(v, frozenset):
        return encode(frozenset.copy(v), ref, depth)
    if isinstance(v, set):
        return encode(set.copy(v), ref, depth)
    return ref(v)


def _flat(v: list[Any]) -> bool:
    """All strs, or all ints a JSON reader keeps exact: the list is its own encoding
    (a fast path for large inputs)."""
    return all(type(x) is str for x in v) or all(
        type(x) is int and -_SAFE_INT < x < _SAFE_INT for x in v
    )


def encode_value(v: object, ref: Ref) -> Any:
    """Like :func:`encode`; a value too deep or cyclic becomes one handle."""
    try:
        return encode(v, ref)
    except (Unencodable, RecursionError):
        return ref(v)


def decode(x: Any, deref: Deref, depth: int = 0) -> Any:
    """The value :func:`encode` made; handles through ``deref(kind, id)``.
    Raises :class:`ProtocolError` on anything the encoder never emits."""
    if depth > MAX_DEPTH + 2:
        raise ProtocolError("value nested too deep")
    t = type(x)
    if x is None or t is bool or t is str or t is float:
        return x
    if t is int:
        if not -_SAFE_INT < x < _SAFE_INT:
            raise ProtocolError("untagged big int")
        return x
    d = depth + 1
    if t is list:
        if _flat(x):
            return list(x)
        return [decode(e, deref, d) for e in x]
    if t is not dict or not isinstance(x.get("$"), str):
        raise ProtocolError(f"not a value: {type(x).__name__}")
    tag, v = x["$"], x.get("v")
    try:
        if tag in ("ref", "host"):
            n = x.get("id")
            if type(n) is not int:
                raise ProtocolError("handle without id")
            return deref(tag, n)
        if tag == "int":
            return int(v, 16)
        if tag == "float":
            f = float(v)
            if math.isfinite(f):
                raise ProtocolError("tagged finite float")
            return f
        if tag in ("tuple", "set", "frozenset"):
            items = [decode(e, deref, d) for e in _list(v)]
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "dict":
            out: dict[Any, Any] = {}
            for pair in _list(v):
                k, val = _list(pair)
                out[decode(k, deref, d)] = decode(val, deref, d)
            return out
        if tag in ("bytes", "bytearray"):
            raw = base64.b64decode(str(v).encode("ascii"), validate=True)
            return raw if tag == "bytes" else bytearray(raw)
        if tag == "complex":
            re_, im = _list(v)
            return complex(float(re_), float(im))
        if tag == "date":
            return datetime.date.fromisoformat(str(v))
        if tag == "datetime":
            return datetime.datetime.fromisoformat(str(v))
        if tag == "time":
            return datetime.time.fromisoformat(str(v))
        if tag == "timedelta":
            days, secs, us = _list(v)
            return datetime.timedelta(days=int(days), seconds=int(secs), microseconds=int(us))
    except ProtocolError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise ProtocolError(f"bad {tag} value: {type(exc).__name__}") from None
    raise ProtocolError(f"unknown tag {tag!r}")


def _list(v: Any) -> list[Any]:
    if type(v) is not list:
        raise ProtocolError("expected a list")
    return v


def dumps(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, allow_nan=False, separators=(",", ":")).encode() + b"\n"


def loads(line: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(line.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError, ProtocolError) as exc:
        raise ProtocolError(f"unreadable message ({type(exc).__name__})") from None
    if type(msg) is not dict:
        raise ProtocolError("a message is a JSON object")
    return msg


def _no_constant(name: str) -> Any:
    raise ProtocolError(f"bare {name}")


def exc_info(e: BaseException, where_file: str = "<solution>") -> dict[str, Any]:
    """How an exception crosses: type name, message, and the candidate's line."""
    try:
        msg = str(e)
    except BaseException:  # a broken __str__ is the candidate's problem
        msg = "<unprintable>"
    where = ""
    for fr in reversed(traceback.extract_tb(e.__traceback__)):
        if fr.filename == where_file and fr.line:
            where = fr.line.strip()
            break
    return {"type": type(e).__name__, "msg": msg[:500], "where": where[:200]}


# ---------------------------------------------------------------- the server

# Attributes an untrusted requester (testgen's tests) may not read: anything private
# and whatever exposes code, frames or globals (the source of a mutant).
_CODE_ATTRS = frozenset(
    [
        "gi_code",
        "gi_frame",
        "gi_yieldfrom",
        "cr_code",
        "cr_frame",
        "cr_await",
        "ag_code",
        "ag_frame",
        "ag_await",
        "f_code",
        "f_globals",
        "f_locals",
        "f_back",
        "f_builtins",
        "tb_frame",
        "tb_next",
        "func_code",
        "func_globals",
        "im_func",
        "im_self",
    ]
)


class _Sink(io.TextIOBase):
    """The candidate's ``sys.stdout``: kept (capped), never on the channel."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n = 0

    def write(self, s: str) -> int:
        if self.n < PRINT_CAP:
            self.parts.append(str(s)[: PRINT_CAP - self.n])
        self.n += len(s)
        return len(s)

    def writable(self) -> bool:
        return True


class _HostObject:
    """An object of the host's (an iterator or function a test passed in): the
    candidate may call it or iterate it, which the host serves."""

    __slots__ = ("_srv", "_n")

    def __init__(self, srv: Server, n: int) -> None:
        self._srv = srv
        self._n = n

    def __call__(self, *args: object, **kw: object) -> Any:
        return self._srv.callback("call", self._n, list(args), kw)

    def __iter__(self) -> Any:
        return self._srv.callback("iter", self._n, [], {})

    def __next__(self) -> Any:
        return self._srv.callback("next", self._n, [], {})

    def __repr__(self) -> str:
        return f"<host object {self._n}>"


class _Exit(Exception):
    pass


class Server:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.buf = b""
        self.objs: dict[int, object] = {}
        self.ids: dict[int, int] = {}
        self.hosts: dict[int, _HostObject] = {}
        self.restricted = False
        self.module: types.ModuleType | None = None
        self.sink = _Sink()
        self.cb_next = 0

    # -- wire
    def send(self, msg: dict[str, Any]) -> None:
        data = dumps(msg)
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]

    def recv(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = os.read(self.rfd, 1 << 16)
            if not chunk:
                raise _Exit()
            self.buf += chunk
            if len(self.buf) > MAX_MSG:
                raise _Exit()
        line, _, self.buf = self.buf.partition(b"\n")
        return loads(line)

    # -- values
    def ref(self, obj: object) -> dict[str, Any]:
        if isinstance(obj, _HostObject):
            return {"$": "host", "id": obj._n}
        key = id(obj)
        n = self.ids.get(key)
        if n is None or self.objs.get(n) is not obj:
            n = len(self.objs) + 1
            self.objs[n] = obj  # kept alive for the process's life: ids stay valid
            self.ids[key] = n
        return {"$": "ref", "id": n}

    def deref(self, kind: str, n: int) -> object:
        if kind == "host" and self.restricted:
            raise ProtocolError("only plain data can be passed here")
        if kind == "host":
            h = self.hosts.get(n)
            if h is None:
                h = self.hosts[n] = _HostObject(self, n)
            return h
        if n not in self.objs:
            raise ProtocolError(f"no object {n}")
        return self.objs[n]

    def enc(self, v: object) -> Any:
        return encode_value(v, self.ref)

    def dec(self, x: Any) -> Any:
        return decode(x, self.deref)

    # -- requests
    def serve(self, until: int | None = None) -> dict[str, Any]:
        """Answer requests; return the callback reply ``until`` when it comes."""
        while True:
            msg = self.recv()
            if "op" in msg:
                self.send(self.answer(msg))
            elif until is not None and msg.get("cbre") == until:
                return msg
            else:
                raise ProtocolError("unexpected message")

    def answer(self, msg: dict[str, Any]) -> dict[str, Any]:
        rid = msg.get("id")
        try:
            value = self.do(msg)
            if isinstance(value, _Raw):
                return {"re": rid, "v": value.data}
            if isinstance(value, _Boxed):
                return {"re": rid, "v": self.ref(value.v)}
            if isinstance(value, _WithArgs):
                back = [self.enc(a) for a in value.args]
                return {"re": rid, "v": self.enc(value.result), "back": back}
            return {"re": rid, "v": self.enc(value)}
        except _Exit:
            raise
        except ProtocolError as e:
            return {"re": rid, "err": {"type": "ProtocolError", "msg": str(e), "where": ""}}
        except BaseException as e:  # the candidate's exception, SystemExit included
            return {"re": rid, "err": exc_info(e)}

    def obj(self, msg: dict[str, Any]) -> Any:
        n = msg.get("h")
        if type(n) is not int or n not in self.objs:
            raise ProtocolError("no such handle")
        return self.objs[n]

    def attr(self, name: Any) -> str:
        if type(name) is not str:
            raise ProtocolError("attribute name must be a string")
        if self.restricted and (name.startswith("_") or name in _CODE_ATTRS):
            raise AttributeError(f"attribute {name!r} is not available to the tests")
        return name

    def do(self, msg: dict[str, Any]) -> Any:
        op = msg.get("op")
        if op == "load":
            return self.load(msg)
        if op == "printed":
            return "".join(self.sink.parts)
        if op == "put":
            return _Boxed(self.dec(msg.get("v")))
        if op == "eval":
            # The scenario's timed expression over data the host stored here: one
            # request, so the host's clock sees the computation, not round trips.
            if self.restricted or self.module is None:
                raise ProtocolError("eval is not available")
            names = msg.get("names")
            if type(names) is not dict:
                raise ProtocolError("names must be an object")
            env = dict(self.module.__dict__)
            env.update({str(k): self.dec(v) for k, v in names.items()})
            return eval(compile(str(msg.get("expr")), "<perf>", "eval"), env)
        o = self.obj(msg)
        if op == "call":
            args = [self.dec(x) for x in _list(msg.get("args", []))]
            kw_raw = msg.get("kw", {})
            if type(kw_raw) is not dict:
                raise ProtocolError("kw must be an object")
            kw = {str(k): self.dec(x) for k, x in kw_raw.items()}
            result = o(*args, **kw)
            back = msg.get("back") or []
            return _WithArgs(result, [args[i] for i in back if type(i) is int and i < len(args)])
        if op == "getattr":
            name = self.attr(msg.get("name"))
            if self.restricted and isinstance(o, types.ModuleType):
                got = getattr(o, name)
                if isinstance(got, types.ModuleType):
                    raise AttributeError(f"{name!r} is a module, not available to the tests")
                return got
            return getattr(o, name)
        if op == "setattr":
            setattr(o, self.attr(msg.get("name")), self.dec(msg.get("v")))
            return None
        if op == "iter":
            return iter(o)
        if op == "next":
            return next(o)
        if op == "len":
            return len(o)
        if op == "getitem":
            return o[self.dec(msg.get("k"))]
        if op == "setitem":
            o[self.dec(msg.get("k"))] = self.dec(msg.get("v"))
            return None
        if op == "delitem":
            del o[self.dec(msg.get("k"))]
            return None
        if op in ("repr", "str"):
            if self.restricted:
                return f"<{type(o).__name__} object>"
            return (repr if op == "repr" else str)(o)[:2000]
        raise ProtocolError(f"unknown op {op!r}")

    def load(self, msg: dict[str, Any]) -> Any:
        if self.module is not None:
            raise ProtocolError("already loaded")
        self.restricted = bool(msg.get("restricted"))
        mod = types.ModuleType(str(msg.get("name") or "solution"))
        mod.__file__ = "<solution>"
        sys.modules[mod.__name__] = mod
        self.module = mod
        self.ref(mod)  # handle 1: the module
        exec(compile(str(msg.get("preamble") or ""), "<preamble>", "exec"), mod.__dict__)
        exec(compile(str(msg.get("code") or ""), "<solution>", "exec"), mod.__dict__)
        names: list[list[Any]] = []
        for k, v in list(mod.__dict__.items()):
            if k.startswith("__") or (self.restricted and k.startswith("_")):
                continue
            if isinstance(v, types.ModuleType):
                names.append([k, "module", str(getattr(v, "__name__", ""))])
            else:
                names.append([k, "value", self.enc(v)])
        return _Raw(names)

    def callback(self, op: str, n: int, args: list[object], kw: dict[str, object]) -> Any:
        self.cb_next += 1
        k = self.cb_next
        self.send(
            {
                "cb": k,
                "op": op,
                "h": n,
                "args": [self.enc(a) for a in args],
                "kw": {key: self.enc(v) for key, v in kw.items()},
            }
        )
        reply = self.serve(until=k)
        if "err" in reply:
            err = reply["err"] if type(reply["err"]) is dict else {}
            raise _builtin_exc(str(err.get("type")), str(err.get("msg", "")))
        return self.dec(reply.get("v"))


class _Boxed:
    """A value the host stored here (``put``); it crosses back as a handle."""

    def __init__(self, v: object) -> None:
        self.v = v


class _WithArgs:
    def __init__(self, result: object, args: list[object]) -> None:
        self.result, self.args = result, args


class _Raw:
    def __init__(self, data: Any) -> None:
        self.data = data


def _builtin_exc(name: str, msg: str) -> BaseException:
    t = getattr(builtins, name, None)
    if isinstance(t, type) and issubclass(t, Exception):
        return t(msg)
    return RuntimeError(f"{name}: {msg}")


def main() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4000))
    # The channel moves off fds 0/1: the candidate's input() sees EOF and its
    # C-level writes to fd 1 land on stderr, not among the replies.
    rfd, wfd = os.dup(0), os.dup(1)
    r, w = os.pipe()  # an empty, closed pipe (/dev/null may not be openable)
    os.close(w)
    os.dup2(r, 0)
    os.close(r)
    os.dup2(2, 1)
    srv = Server(rfd, wfd)
    sys.stdout = srv.sink
    sys.stdin = io.StringIO("")
    srv.send({"hello": 1, "python": list(sys.version_info[:3])})
    with contextlib.suppress(_Exit, ProtocolError, OSError):
        srv.serve()
    os._exit(0)


if __name__ == "__main__":
    main()
