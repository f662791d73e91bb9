"""The host side of Python execution: the candidate in the sandbox, the tests here.

:class:`PySession` starts ``runners/py_serve.py`` in the sandbox over a channel,
loads the candidate's code there, and hands out :class:`Remote` proxies: calling one
performs the call in the sandbox, and the result comes back as typed plain data
(or as another proxy when it is not data). The scenario's test code runs on the host
against those proxies (:func:`host_namespace`), so every comparison is made here
over plain values, and expected values never enter the sandbox.

A proxy's ``==``/``hash`` are identity and it has no truth value: an object of the
candidate's can never pass for a value. Remote exceptions are raised here as the
builtin exception of the same name (else :class:`RemoteError`). Arguments the call
mutated (a list sorted in place) are copied back into the host's objects. Host
objects that are not data (an iterator, a key function) cross as handles the
candidate may only call or iterate.

Public entry point for other verifiers: :func:`.pycheck.open_session`; running the
tests here against the proxies is in :mod:`.pycheck`.
"""

from __future__ import annotations

import builtins
import contextlib
import time
from typing import TYPE_CHECKING, Any, NoReturn

from .runners import py_serve, source

if TYPE_CHECKING:
    from ..sandbox.interface import Sandbox

PYTHON = "/usr/bin/python3"  # absolute: a pyenv shim on PATH costs ~20 ms per start
SERVE_FILE = "_serve.py"


class ChannelFailure(BaseException):  # noqa: N818 - a BaseException, see below
    """The sandbox process stopped answering: timeout, death, or a malformed reply.

    A BaseException so a test's ``except Exception`` cannot swallow it; the session
    also remembers it (:attr:`PySession.broken`) for a bare ``except:``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind  # timeout | died | protocol | limit
        self.reason = reason


class SandboxError(Exception):
    """The sandbox could not start the runner: an infrastructure problem."""


class RemoteError(Exception):
    """An exception raised by the candidate whose type is not a builtin one."""

    remote_type = "Exception"


_REMOTE_TYPES: dict[str, type[RemoteError]] = {}
# Builtins that must not be raised on the host as themselves.
_NOT_RERAISED = {"SystemExit", "KeyboardInterrupt", "GeneratorExit"}


def remote_exception(info: Any) -> BaseException:
    """The host-side exception for a remote one (``{"type", "msg", "where"}``)."""
    info = info if isinstance(info, dict) else {}
    name = str(info.get("type", "Exception"))[:100]
    msg = str(info.get("msg", ""))
    where = str(info.get("where", ""))
    t = getattr(builtins, name, None)
    if (
        isinstance(t, type)
        and issubclass(t, BaseException)
        and name not in _NOT_RERAISED
        and issubclass(t, Exception)
    ):
        try:
            exc: BaseException = t(msg)
        except Exception:  # UnicodeDecodeError & co. want more arguments: the type matters
            exc = t.__new__(t)
            exc.args = (msg,)
    else:
        cls = _REMOTE_TYPES.get(name)
        if cls is None:
            cls = type(name if name.isidentifier() else "RemoteError", (RemoteError,), {})
            cls.remote_type = name
            _REMOTE_TYPES[name] = cls
        exc = cls(msg)
    if where:
        exc.llm_where = where  # type: ignore[attr-defined]
    return exc


class Remote:
    """A handle on an object in the sandbox. Operations that only read the object
    are forwarded (attributes, calls, iteration, ``len``, indexing, ``repr``);
    comparisons and truth are the host's and never reach the candidate."""

    __slots__ = ("_s", "_h", "__weakref__")
    _s: PySession
    _h: int

    def __init__(self, session: PySession, h: int) -> None:
        object.__setattr__(self, "_s", session)
        object.__setattr__(self, "_h", h)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name not in ("__name__", "__qualname__", "__doc__"):
            raise AttributeError(name)
        return self._s.request({"op": "getattr", "h": self._h, "name": name})

    def __setattr__(self, name: str, value: Any) -> None:
        self._s.request({"op": "setattr", "h": self._h, "name": name, "v": self._s.enc(value)})

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self._s.call(self._h, args, kw)

    def __iter__(self) -> Any:
        return self._s.request({"op": "iter", "h": self._h})

    def __next__(self) -> Any:
        return self._s.request({"op": "next", "h": self._h})

    def __len__(self) -> int:
        n = self._s.request({"op": "len", "h": self._h})
        if type(n) is not int:
            raise TypeError("len() of a remote object did not return an int")
        return n

    def __getitem__(self, key: Any) -> Any:
        return self._s.request({"op": "getitem", "h": self._h, "k": self._s.enc(key)})

    def __setitem__(self, key: Any, value: Any) -> None:
        s = self._s
        s.request({"op": "setitem", "h": self._h, "k": s.enc(key), "v": s.enc(value)})

    def __delitem__(self, key: Any) -> None:
        self._s.request({"op": "delitem", "h": self._h, "k": self._s.enc(key)})

    def __repr__(self) -> str:
        try:
            text = self._s.request({"op": "repr", "h": self._h})
        except BaseException:  # a message must not fail the message's caller
            return f"<remote object #{self._h}>"
        return text if type(text) is str else f"<remote object #{self._h}>"

    def __str__(self) -> str:
        text = self._s.request({"op": "str", "h": self._h})
        if type(text) is not str:
            raise TypeError("str() of a remote object did not return a str")
        return text

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(
            "the candidate returned an object, not plain data: it has no truth value here"
        )


class PySession:
    """One candidate module served from one sandbox process (see module doc).

    ``deadline`` (a ``time.monotonic()`` value) bounds every wait for a reply; the
    caller sets it per test. After a :class:`ChannelFailure` the session is
    ``broken`` and must be replaced (:meth:`restart`)."""

    def __init__(
        self,
        sandbox: Sandbox,
        code: str,
        *,
        preamble: str = "",
        timeout_s: float = 20.0,
        memory_mb: int = 512,
        restricted: bool = False,
        module: str = "solution",
        load_timeout_s: float = 10.0,
    ) -> None:
        self.sandbox = sandbox
        self.code, self.preamble = code, preamble
        self.timeout_s, self.memory_mb = timeout_s, memory_mb
        self.restricted, self.module_name = restricted, module
        self.load_timeout_s = load_timeout_s
        self.channel: Any = None
        self.broken: ChannelFailure | None = None
        self.deadline = time.monotonic() + timeout_s
        # The process's own overall limit: no wait goes past it.
        self.deadline_cap = self.deadline
        self.stderr = ""
        self.exit_code: int | None = None
        self.failure_mode: str | None = None
        self._next = 0
        self._hosts: dict[int, object] = {}
        self._host_ids: dict[int, int] = {}
        self._proxies: dict[int, Remote] = {}
        self.names: dict[str, Any] = {}
        self.modules: dict[str, str] = {}
        self.load_error: BaseException | None = None
        # Data stored in the process before the candidate's code exists (a perf
        # input): name -> plain data; after start, name -> its handle.
        self.preload: dict[str, Any] = {}
        self.preloaded: dict[str, Any] = {}
        self.load_t0 = 0.0  # perf_counter() when the load request was sent

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Open the channel and load the code. Raises :class:`SandboxError` when the
        runner never started (infrastructure), :class:`ChannelFailure` when the
        process died or hung while loading the candidate; a load-time exception
        of the candidate's is kept in :attr:`load_error`."""
        from ..sandbox import Limits

        try:
            self.channel = self.sandbox.open(
                files={SERVE_FILE: source("py_serve.py")},
                cmd=[PYTHON, "-I", "-S", SERVE_FILE],
                timeout_s=self.timeout_s,
                limits=Limits(memory_mb=self.memory_mb, pids=32),
            )
        except Exception as exc:
            raise SandboxError(f"could not start the sandbox process: {exc}") from exc
        self.deadline_cap = time.monotonic() + self.timeout_s
        self.deadline = min(self.deadline_cap, time.monotonic() + 30.0)
        try:
            hello = self._read()
        except ChannelFailure as exc:
            self.close()
            raise SandboxError(f"the sandbox runner did not start ({exc.reason})") from None
        if "hello" not in hello:
            self._fail("protocol", "the runner's first message is not its greeting")
        self.preloaded = {
            k: self.enc(self.request({"op": "put", "v": data})) for k, data in self.preload.items()
        }
        self.load_t0 = time.perf_counter()
        self.deadline = min(self.deadline_cap, time.monotonic() + self.load_timeout_s)
        try:
            names = self.request(
                {
                    "op": "load",
                    "preamble": self.preamble,
                    "code": self.code,
                    "name": self.module_name,
                    "restricted": self.restricted,
                }
            )
        except ChannelFailure:
            raise
        except BaseException as exc:
            self.load_error = exc
            return
        if type(names) is not list:
            self._fail("protocol", "the load reply is not a list of names")
        for item in names:
            if type(item) is not list or len(item) != 3 or type(item[0]) is not str:
                self._fail("protocol", "malformed name in the load reply")
            name, kind, value = item
            if kind == "module":
                self.modules[name] = str(value)
            else:
                self.names[name] = value

    def restart(self) -> None:
        self.close()
        self.broken = None
        self._hosts.clear()
        self._host_ids.clear()
        self._proxies.clear()
        self.names.clear()
        self.modules.clear()
        self.load_error = None
        self.start()

    def close(self) -> None:
        ch, self.channel = self.channel, None
        if ch is None:
            return
        with contextlib.suppress(Exception):
            res = ch.close()
            self.stderr = (self.stderr + (res.stderr or ""))[-4000:]
            self.exit_code = res.exit_code
            self.failure_mode = res.failure_mode

    def __enter__(self) -> PySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ values
    def enc(self, v: object) -> Any:
        return py_serve.encode_value(v, self._host_ref)

    def dec(self, x: Any) -> Any:
        try:
            return py_serve.decode(x, self._deref)
        except py_serve.ProtocolError as exc:
            self._fail("protocol", f"the candidate's reply is not valid data: {exc}")

    def _host_ref(self, obj: object) -> dict[str, Any]:
        if isinstance(obj, Remote):
            if obj._s is not self:
                raise TypeError("a remote object of another session cannot cross")
            return {"$": "ref", "id": obj._h}
        n = self._host_ids.get(id(obj))
        if n is None or self._hosts.get(n) is not obj:
            n = len(self._hosts) + 1
            self._hosts[n] = obj
            self._host_ids[id(obj)] = n
        return {"$": "host", "id": n}

    def _deref(self, kind: str, n: int) -> object:
        if kind != "ref":
            raise py_serve.ProtocolError("the sandbox cannot name host objects")
        p = self._proxies.get(n)
        if p is None:
            p = self._proxies[n] = Remote(self, n)
        return p

    def value(self, name: str) -> Any:
        """A module-level name of the candidate (a proxy or plain data)."""
        return self.names[name]

    # ------------------------------------------------------------ requests
    def call(self, h: int, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        back = [i for i, a in enumerate(args) if type(a) in (list, dict, set, bytearray)]
        msg = {
            "op": "call",
            "h": h,
            "args": [self.enc(a) for a in args],
            "kw": {k: self.enc(v) for k, v in kw.items()},
            "back": back,
        }
        reply = self._exchange(msg)
        if "err" in reply:
            raise remote_exception(reply["err"])
        got = reply.get("back", [])
        if type(got) is not list or len(got) != len(back):
            self._fail("protocol", "malformed call reply")
        for i, new in zip(back, got, strict=True):
            _apply(args[i], self.dec(new))
        return self.dec(reply.get("v"))

    def request(self, msg: dict[str, Any]) -> Any:
        reply = self._exchange(msg)
        if "err" in reply:
            raise remote_exception(reply["err"])
        return self.dec(reply.get("v"))

    def _exchange(self, msg: dict[str, Any]) -> dict[str, Any]:
        if self.broken is not None:
            raise self.broken
        if self.channel is None:
            self._fail("died", "the sandbox process is not running")
        self._next += 1
        rid = msg["id"] = self._next
        self._send(msg)
        while True:
            got = self._read()
            if "re" in got:
                if got["re"] != rid:
                    self._fail("protocol", "a reply to a request that was not made")
                return got
            if "cb" in got:
                self._serve_callback(got)
                continue
            self._fail("protocol", "an unexpected message on the channel")

    def _serve_callback(self, msg: dict[str, Any]) -> None:
        k = msg.get("cb")
        try:
            n = msg.get("h")
            if type(n) is not int or n not in self._hosts:
                raise py_serve.ProtocolError("no such host object")
            obj = self._hosts[n]
            op = msg.get("op")
            args = [self.dec(a) for a in _as_list(msg.get("args"))]
            kw_raw = msg.get("kw") or {}
            if type(kw_raw) is not dict:
                raise py_serve.ProtocolError("kw must be an object")
            kw = {str(key): self.dec(v) for key, v in kw_raw.items()}
            # Only what a candidate may do with an argument: call it, iterate it.
            if op == "call" and callable(obj):
                value = obj(*args, **kw)
            elif op == "iter":
                value = iter(obj)  # type: ignore[call-overload]
            elif op == "next":
                value = next(obj)  # type: ignore[call-overload]
            else:
                raise TypeError(f"{op!r} is not allowed on a host object")
            reply: dict[str, Any] = {"cbre": k, "v": self.enc(value)}
        except ChannelFailure:
            raise
        except BaseException as exc:
            reply = {"cbre": k, "err": {"type": type(exc).__name__, "msg": str(exc)[:300]}}
        self._send(reply)

    def _send(self, msg: dict[str, Any]) -> None:
        try:
            self.channel.send(py_serve.dumps(msg))
        except Exception as exc:
            self._died(f"could not write to it ({type(exc).__name__})")

    def _read(self) -> dict[str, Any]:
        left = self.deadline - time.monotonic()
        if left <= 0:
            self._fail("timeout", "timed out")
        try:
            line = self.channel.recv_line(left, max_bytes=py_serve.MAX_MSG)
        except Exception as exc:
            if _is_timeout(exc):
                self._fail("timeout", "timed out")
            self._died(f"the channel closed ({type(exc).__name__}: {exc})")
        if line is None:
            self._died("it exited")
        try:
            return py_serve.loads(line)
        except py_serve.ProtocolError as exc:
            self._fail("protocol", f"the candidate wrote on the channel: {exc}")

    def _died(self, why: str) -> NoReturn:
        self.close()
        mode = self.failure_mode
        if mode == "exec_timeout":
            self._fail("timeout", "the run reached its overall time limit")
        if mode == "oom":
            self._fail("limit", f"the run ran out of memory ({self.memory_mb} MB)")
        if mode == "output_limit":
            self._fail("limit", "the run printed more than the output limit")
        code = f" (exit {self.exit_code})" if self.exit_code is not None else ""
        err = _tail(self.stderr)
        self._fail(
            "died", f"the sandbox process ended: {why}{code}" + (f"; stderr: {err}" if err else "")
        )

    def _fail(self, kind: str, reason: str) -> NoReturn:
        exc = ChannelFailure(kind, reason)
        self.broken = exc
        if kind != "died":
            self.close()
        raise exc

    def printed(self) -> str:
        try:
            text = self.request({"op": "printed"})
        except BaseException:
            return ""
        return text if type(text) is str else ""


def _is_timeout(exc: BaseException) -> bool:
    from ..sandbox.interface import ChannelTimeout

    return isinstance(exc, ChannelTimeout)


def _as_list(v: Any) -> list[Any]:
    if type(v) is not list:
        raise py_serve.ProtocolError("expected a list")
    return v


def _apply(host: Any, new: Any) -> None:
    """Copy the candidate's in-place change of an argument into the host object."""
    if type(host) is list and type(new) is list:
        if len(host) == len(new):
            for i, (h, n) in enumerate(zip(host, new, strict=True)):
                if type(h) in (list, dict, set, bytearray) and type(h) is type(n):
                    _apply(h, n)
                else:
                    host[i] = n
        else:
            host[:] = new
    elif type(host) is dict and type(new) is dict or type(host) is set and type(new) is set:
        host.clear()
        host.update(new)
    elif type(host) is bytearray and type(new) is bytearray:
        host[:] = new


def _tail(text: str, n: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]
