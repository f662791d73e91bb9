"""The host side of Python execution (core.verifiers.pyremote) and its wire format,
against the real runner in a plain subprocess behind the channel API."""

from __future__ import annotations

import datetime
import math
from collections import OrderedDict, namedtuple
from collections.abc import Iterator
from typing import Any

import pytest

from fakechannel import FakeSandbox, as_sandbox
from pytest_llmbench.core.verifiers import pycheck as pc
from pytest_llmbench.core.verifiers import pyremote as pr
from pytest_llmbench.core.verifiers.runners import py_serve


def _no_ref(obj: object) -> dict[str, Any]:
    return {"$": "ref", "id": 7}


def _roundtrip(v: object) -> Any:
    wire = py_serve.loads(py_serve.dumps({"v": py_serve.encode_value(v, _no_ref)}))
    return py_serve.decode(wire["v"], lambda kind, n: ("handle", kind, n))


@pytest.mark.parametrize(
    "value",
    [
        0,
        5,
        5.0,
        -0.0,
        True,
        None,
        "s",
        2**100,
        -(2**70),
        (1, 2),
        [1, (2, 3)],
        {1: "a", (2, 3): [4]},
        {1, 2},
        frozenset({"x"}),
        b"\x00\xff",
        bytearray(b"ab"),
        1 + 2j,
        datetime.date(2024, 2, 29),
        datetime.datetime(2024, 1, 1, 12, 30),
        datetime.timedelta(days=1, seconds=5),
        [[[[0]]]],
    ],
)
def test_values_keep_their_type(value: object) -> None:
    got = _roundtrip(value)
    assert got == value and type(got) is type(value)
    if isinstance(value, (list, tuple)) and value:
        assert isinstance(got, (list, tuple))
        assert [type(x) for x in got] == [type(x) for x in value]


def test_nan_inf_and_subclasses_cross_as_plain_values() -> None:
    got = _roundtrip([math.inf, -math.inf, math.nan])
    assert got[:2] == [math.inf, -math.inf] and math.isnan(got[2])
    point = namedtuple("point", "x y")  # noqa: PYI024
    assert type(_roundtrip(point(1, 2))) is tuple
    assert type(_roundtrip(OrderedDict(a=1))) is dict

    class Liar(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    got = _roundtrip(Liar(3))
    assert type(got) is int and got == 3 and got != 4


def test_other_objects_and_cycles_become_handles() -> None:
    assert _roundtrip(object()) == ("handle", "ref", 7)
    loop: list[Any] = []
    loop.append(loop)
    assert _roundtrip(loop) == ("handle", "ref", 7)


@pytest.mark.parametrize(
    "wire",
    [{"k": 1}, {"$": "nope"}, {"$": "float", "v": "1.5"}, 2**60, {"$": "tuple", "v": 3}],
)
def test_anything_the_encoder_never_emits_is_a_protocol_error(wire: object) -> None:
    with pytest.raises(py_serve.ProtocolError):
        py_serve.decode(wire, lambda kind, n: None)


CODE = """
class Box:
    def __init__(self, v):
        self.v = v
    def __eq__(self, other):
        return True
    def __bool__(self):
        return True

def make(v):
    return Box(v)

def half(x):
    if x < 0:
        raise ValueError("negative")
    return x / 2

def sort_in_place(xs):
    xs.sort()

def first_two(it):
    it = iter(it)
    return [next(it), next(it)]

def spin():
    while True:
        pass

def die():
    import os
    os._exit(4)

class Custom(Exception):
    pass

def custom():
    raise Custom("mine")
"""


@pytest.fixture
def session() -> Iterator[pr.PySession]:
    s = pc.open_session(as_sandbox(FakeSandbox()), CODE, timeout_s=30.0)
    s.deadline = s.deadline_cap
    yield s
    s.close()


def test_calls_come_back_as_data_and_objects_as_handles(session: pr.PySession) -> None:
    ns = pc.host_namespace(session, "", ["make", "half"])
    assert ns["half"](3) == 1.5 and type(ns["half"](4)) is float
    box = ns["make"](1)
    assert isinstance(box, pr.Remote)
    assert box != 1 and (box == 1) is False and box == box  # equality is the host's
    assert box.v == 1
    with pytest.raises(TypeError):
        bool(box)


def test_remote_exceptions_keep_builtin_types(session: pr.PySession) -> None:
    ns = pc.host_namespace(session, "", [])
    with pytest.raises(ValueError, match="negative"):
        ns["half"](-1)
    with pytest.raises(pr.RemoteError) as info:
        ns["custom"]()
    assert type(info.value).__name__ == "Custom"


def test_mutated_arguments_and_host_iterators(session: pr.PySession) -> None:
    ns = pc.host_namespace(session, "", [])
    xs = [3, 1, 2]
    ns["sort_in_place"](xs)
    assert xs == [1, 2, 3]
    it = iter(range(10))
    assert ns["first_two"](it) == [0, 1]
    assert next(it) == 2  # the candidate consumed only what it took


def test_builtins_and_preamble_names_stay_the_hosts() -> None:
    code = "def abs(x):\n    return 0\ndef helper(x):\n    return 0\ndef f(x):\n    return x\n"
    s = pc.open_session(as_sandbox(FakeSandbox()), code)
    try:
        ns = pc.host_namespace(s, "def helper(x):\n    return x + 1\n", ["f"])
        assert ns.get("abs", abs) is abs and "abs" not in ns
        assert ns["helper"](1) == 2
        assert isinstance(ns["f"], pr.Remote)
    finally:
        s.close()


def test_a_hung_call_times_out_and_a_dead_process_says_so(session: pr.PySession) -> None:
    ns = pc.host_namespace(session, "", [])
    r = pc.run_test(session, ns, "spin", "spin()", 0.3)
    assert not r["ok"] and r["channel"] == "timeout" and "timed out" in r["msg"]
    session.restart()
    ns = pc.host_namespace(session, "", [])
    r = pc.run_test(session, ns, "die", "die()", 5.0)
    assert not r["ok"] and r["channel"] == "died" and "exit 4" in r["msg"]


def test_a_test_that_swallows_the_failure_still_fails(session: pr.PySession) -> None:
    ns = pc.host_namespace(session, "", [])
    code = "try:\n    spin()\nexcept BaseException:\n    pass\n"
    r = pc.run_test(session, ns, "swallow", code, 0.3)
    assert not r["ok"] and r["channel"] == "timeout"
