"""Fixed costs of a run: what is imported, the start-up requests, the speed measure,
garbage collection at exit. Against real loopback servers; the figures themselves are
measured by benchmarks/fixed_costs.py, never by timed tests."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import fakeserver
from fakeserver import FakeServer, Stream, chat_reply, stream_chunks
from pytest_llmbench.core.http_endpoint import HTTPEndpoint

PACK_META = "id: fc\ntitle: Fixed costs\nversion: '1'\n"


def make_pack(pytester: pytest.Pytester, n: int) -> None:
    d = pytester.path / "packs" / "fc"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(PACK_META)
    lines = ["scenarios:"]
    for i in range(n):
        lines += [
            f"  - id: q{i:02d}",
            f"    prompt: 'Question {i}: reply with the word ok.'",
            "    verifier: {type: exact, value: ok, ignore_case: true}",
            "    reference: ok",
            "    counterexamples: ['no', 'okay']",
        ]
    (d / "s.yaml").write_text("\n".join(lines) + "\n")


def log(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / "log.json").read_text())


def is_probe(body: dict[str, Any]) -> bool:
    return "Count from 1 to 30" in str(body.get("messages"))


def test_startup_gets_run_at_once(fake_server: FakeServer) -> None:
    """/v1/models and /api/version are in flight together: each waits for the other
    (serial requests would break the barrier and fail the probe)."""
    barrier = threading.Barrier(2, timeout=5)
    fake_server.api_version = {"version": "0.12.3"}
    fake_server.on_get = lambda path: barrier.wait()
    ep = HTTPEndpoint(fake_server.url, retries=0)
    try:
        assert ep.probe() == "fake-model"
    finally:
        ep.close()
    assert ep.dialect == "ollama"
    assert sorted(fake_server.gets) == ["/api/version", "/v1/models"]
    assert not barrier.broken


def test_endpoint_is_probed_while_pytest_collects(
    pytester: pytest.Pytester, fake_server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_pack(pytester, 2)
    monkeypatch.setattr(fakeserver, "CURRENT", fake_server, raising=False)
    # Holds collection until the server has seen the probe (or 5 s): without a
    # probe during collection, nothing reaches the server before the first item.
    pytester.makeconftest(
        """
        import json, time, fakeserver
        def pytest_collection_finish(session):
            srv = fakeserver.CURRENT
            deadline = time.monotonic() + 5
            while "/v1/models" not in srv.gets and time.monotonic() < deadline:
                time.sleep(0.01)
            with open("seen.json", "w") as fh:
                json.dump({"gets": list(srv.gets), "chats": len(srv.requests)}, fh)
        """
    )
    res = pytester.runpytest_inprocess(
        "packs", "-p", "no:cacheprovider", f"--llm-endpoint={fake_server.url}"
    )
    res.assert_outcomes(passed=2)
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert "/v1/models" in seen["gets"] and seen["chats"] == 0
    assert fake_server.gets.count("/v1/models") == 1  # once, not again for the items


def test_scenarios_do_not_wait_for_a_speed_probe(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    """A measurable reply sizes the timeouts: no probe request at all."""
    make_pack(pytester, 4)
    fake_server.script = lambda b: (
        200,
        chat_reply("ok", timings={"predicted_n": 5, "predicted_per_second": 50.0}),
        {},
    )
    res = pytester.runpytest_inprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "--llm-log=log.json",
    )
    res.assert_outcomes(passed=4)
    assert len(fake_server.requests) == 4
    assert not [b for b in fake_server.requests if is_probe(b)]
    speed = log(pytester)["speed_probe"]
    assert speed["tokens_per_s"] == 50.0 and speed["source"] == "scenario"
    res.stdout.fnmatch_lines(["*speed probe 50.0 tok/s*"])


def test_replies_too_short_to_measure_send_one_probe_in_the_background(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 4)
    probed = threading.Event()
    one_token = {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if is_probe(body):
            assert not probed.is_set(), "a second probe"
            probed.set()
            timings = {"predicted_n": 30, "predicted_per_second": 77.0}
            return 200, chat_reply("1 2 3", timings=timings), {}
        if "Question 0" not in str(body["messages"]):
            # the scenarios go on meanwhile; the last waits so the probe's answer lands
            assert probed.wait(5)
            if "Question 3" in str(body["messages"]):
                threading.Event().wait(0.3)
        return 200, chat_reply("ok", usage=one_token), {}

    fake_server.script = script
    res = pytester.runpytest_inprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "--llm-log=log.json",
        "--llm-concurrency=1",
    )
    res.assert_outcomes(passed=4)
    assert len([b for b in fake_server.requests if is_probe(b)]) == 1
    speed = log(pytester)["speed_probe"]
    assert speed["tokens_per_s"] == 77.0 and speed["source"] == "probe"


def test_no_speed_measure_with_a_fixed_timeout(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 2)
    fake_server.script = lambda b: (
        200,
        chat_reply("ok", usage={"completion_tokens": 1, "prompt_tokens": 1}),
        {},
    )
    res = pytester.runpytest_inprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "--llm-log=log.json",
        "--llm-timeout=20",
    )
    res.assert_outcomes(passed=2)
    assert len(fake_server.requests) == 2
    assert log(pytester)["speed_probe"] is None


def test_a_plain_pack_imports_only_what_it_needs(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    """httpx is for streams, jsonschema for JSON verifiers; agents, generators,
    templates and the other verifier families for the packs that use them."""
    make_pack(pytester, 2)
    pytester.makeconftest(
        """
        import json, sys
        def pytest_sessionfinish(session):
            mods = sorted(m for m in sys.modules if m.split(".")[0] in (
                "httpx", "httpcore", "jsonschema", "pytest_llmbench"))
            with open("modules.json", "w") as fh:
                json.dump(mods, fh)
        """
    )
    res = pytester.runpytest_subprocess(
        "packs", "-p", "no:cacheprovider", f"--llm-endpoint={fake_server.url}"
    )
    res.assert_outcomes(passed=2)
    mods = set(json.loads((pytester.path / "modules.json").read_text()))
    assert "pytest_llmbench.core.verifiers.generic" in mods  # the scan saw the run
    unwanted = {
        "httpx",
        "httpcore",
        "jsonschema",
        "pytest_llmbench.core.loop",
        "pytest_llmbench.core.envs",
        "pytest_llmbench.core.generators",
        "pytest_llmbench.core.templates",
        "pytest_llmbench.core.verifiers.code",
        "pytest_llmbench.core.verifiers.shell",
        "pytest_llmbench.core.verifiers.toolcall",
        "pytest_llmbench.core.verifiers.structure",
    }
    assert not unwanted & mods, sorted(unwanted & mods)


def test_streaming_needs_no_httpx(fake_server: FakeServer) -> None:
    """Streams go through the stdlib pool too: httpx is never imported for them."""
    code = (
        "import sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from pytest_llmbench.core.http_endpoint import HTTPEndpoint\n"
        f"ep = HTTPEndpoint({fake_server.url!r}, stream=True)\n"
        "res = ep.send({'messages': [{'role': 'user', 'content': 'hi'}]})\n"
        "assert res.turn.content == 'ok there', res.turn\n"
        "assert res.stream is not None\n"
        "assert 'httpx' not in sys.modules and 'httpcore' not in sys.modules\n"
        "print('ok')\n"
    )
    fake_server.script = lambda b: (200, Stream(stream_chunks("ok there")), {})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_in_process_runs_leave_nothing_frozen(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    """pytester's in-process runs skip pytest's exit collections: freezing there
    would keep every run's garbage for the rest of the process."""
    make_pack(pytester, 2)
    before = gc.get_freeze_count()
    pytester.runpytest_inprocess(
        "packs", "-p", "no:cacheprovider", f"--llm-endpoint={fake_server.url}"
    ).assert_outcomes(passed=2)
    assert gc.get_freeze_count() == before


def test_a_real_run_freezes_what_lives_until_exit(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 2)
    pytester.makeconftest(
        """
        import gc
        def pytest_sessionfinish(session):
            with open("frozen.txt", "w") as fh:
                fh.write(str(gc.get_freeze_count()))
        """
    )
    res = pytester.runpytest_subprocess(
        "packs", "-p", "no:cacheprovider", f"--llm-endpoint={fake_server.url}"
    )
    res.assert_outcomes(passed=2)
    # the collected items, packs and modules: tens of thousands of objects
    assert int((pytester.path / "frozen.txt").read_text()) > 10_000


def test_verifier_index_names_the_module_of_every_builtin() -> None:
    from pytest_llmbench.core.verifiers.base import _builtin_index, registered

    index = _builtin_index()
    builtins = {
        name: cls.__module__
        for name, cls in registered().items()
        if cls.__module__.startswith("pytest_llmbench.core.verifiers.")
    }
    assert len(builtins) >= 20
    assert index == builtins


def test_looking_up_one_verifier_loads_only_its_module(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pytest_llmbench.core.verifiers.base import get_verifier, VerifierConfigError\n"
        "assert get_verifier('exact').__name__ == 'Exact'\n"
        "pre = 'pytest_llmbench.core.verifiers.'\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(pre))\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema'\n"
        "print(loaded)\n"
        "try:\n"
        "    get_verifier('no-such-verifier')\n"
        "except VerifierConfigError as exc:\n"
        "    assert 'json_schema' in str(exc) or 'json' in str(exc), exc\n"
        "    print('unknown ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == str(
        [
            "pytest_llmbench.core.verifiers._text",
            "pytest_llmbench.core.verifiers.base",
            "pytest_llmbench.core.verifiers.context",  # what verifiers get: no family
            "pytest_llmbench.core.verifiers.generic",
        ]
    )
    assert "unknown ok" in out.stdout


# -- xdist ----------------------------------------------------------------------------


def question(body: dict[str, Any]) -> int:
    text = str(body["messages"])
    return int(text.split("Question ", 1)[1].split(":", 1)[0])


def test_xdist_workers_fill_the_server_at_once_and_share_one_probe(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    """Two workers x 4 in flight: the first 8 requests wait for each other (with
    xdist's default scheduling a worker holds two items at a time, and the barrier
    breaks). The controller probes the endpoint once for everyone."""
    make_pack(pytester, 16)
    barrier = threading.Barrier(8, timeout=10)
    fake_server.api_version = {"version": "0.12.3"}

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if question(body) >= 0 and len(fake_server.requests) <= 8:
            barrier.wait()
        return 200, chat_reply("ok"), {}

    fake_server.script = script
    res = pytester.runpytest_inprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "--llm-concurrency=4",
        "-n",
        "2",
        "--llm-log=log.json",
    )
    res.assert_outcomes(passed=16)
    assert not barrier.broken
    assert sorted(question(b) for b in fake_server.requests) == list(range(16))
    assert fake_server.gets.count("/v1/models") == 1
    assert fake_server.gets.count("/api/version") == 1
    head = log(pytester)
    assert head["model"] == "fake-model" and head["endpoint"]["dialect"] == "ollama"


def test_xdist_steals_only_items_never_sent(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    """One worker's share is slow: the other runs dry and takes part of it, from the
    far end of the queue, so no scenario is generated twice."""
    make_pack(pytester, 60)

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if question(body) < 30:
            threading.Event().wait(0.1)
        return 200, chat_reply("ok"), {}

    fake_server.script = script
    res = pytester.runpytest_inprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "--llm-concurrency=2",
        "-n",
        "2",
        "-v",
    )
    res.assert_outcomes(passed=60)
    assert sorted(question(b) for b in fake_server.requests) == list(range(60))
    ran_on: dict[int, str] = {}
    for line in res.stdout.lines:
        if "PASSED fc::q" in line:
            ran_on[int(line.split("fc::q")[1].split()[0])] = line.split("]")[0]
    assert len(ran_on) == 60
    slow_worker = ran_on[0]
    stolen = [q for q in range(30) if ran_on[q] != slow_worker]
    assert stolen and min(stolen) >= 10  # from the end, beyond what was prefetched


def test_an_explicit_dist_mode_is_left_to_xdist(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 6)
    res = pytester.runpytest_inprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "-n",
        "2",
        "--dist",
        "loadfile",
        "-v",
    )
    res.assert_outcomes(passed=6)
    workers = {ln.split("]")[0] for ln in res.stdout.lines if "PASSED fc::q" in ln}
    assert len(workers) == 1  # loadfile: the one scenario file goes to one worker


def test_xdist_workers_share_the_probe_failure_too(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 4)
    fake_server.models_status = 503
    res = pytester.runpytest_inprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "--llm-retries=0",
        "-n",
        "2",
    )
    res.assert_outcomes(errors=4)
    res.stdout.fnmatch_lines(["*server_error: HTTP 503 from /v1/models*detected once*"])
    assert fake_server.gets.count("/v1/models") == 1  # the controller's; no worker's
    assert fake_server.requests == []
