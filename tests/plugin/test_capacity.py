"""Concurrency, retries, fault injection, cache, replay, resume, repeats, streaming:
through pytest, against real loopback HTTP servers."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from fakeserver import FakeServer, Raw, Stream, chat_reply, stream_chunks
from pytest_llmbench.core.endpoint import EndpointError
from pytest_llmbench.core.http_endpoint import HTTPEndpoint
from pytest_llmbench.core.request_queue import DaemonPool, Scheduler

PACK_META = "id: cap\ntitle: Capacity\nversion: '1'\n"
SECRET = "sk-very-secret-key-1234"


def make_pack(pytester: pytest.Pytester, n: int) -> None:
    d = pytester.path / "packs" / "cap"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(PACK_META)
    lines = ["scenarios:"]
    for i in range(n):
        lines += [
            f"  - id: q{i:03d}",
            f"    prompt: 'Question {i}: reply with the word ok.'",
            "    verifier: {type: exact, value: ok, ignore_case: true}",
            "    reference: ok",
            "    counterexamples: ['no', 'okay']",
        ]
    (d / "s.yaml").write_text("\n".join(lines) + "\n")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("packs", "-p", "no:cacheprovider", *args)


def log(pytester: pytest.Pytester, name: str = "log.json") -> dict[str, Any]:
    return json.loads((pytester.path / name).read_text())


def ok_script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    return 200, chat_reply("ok"), {}


# -- scheduler --------------------------------------------------------------------


def test_scheduler_runs_ahead_and_keeps_order() -> None:
    import threading

    seen: list[int] = []
    gate = threading.Event()
    sched: Scheduler[int] = Scheduler(3, window=5)

    def job(i: int) -> Any:
        def fn() -> int:
            gate.wait(2)
            seen.append(i)
            return i * 10

        return fn

    sched.prefetch((i, None, job(i)) for i in range(10))
    assert sched.pending() == 5  # bounded window
    gate.set()
    assert [sched.take(i, None, job(i)) for i in range(10)] == [i * 10 for i in range(10)]
    assert sched.pending() == 0
    sched.close()


def test_daemon_pool_runs_jobs_skips_cancelled_and_passes_errors() -> None:
    pool = DaemonPool(2)
    gate = threading.Event()
    running = [pool.submit(lambda: gate.wait(5)) for _ in range(2)]
    queued = pool.submit(lambda: "never")
    assert queued.cancel()  # both threads busy: still queued
    boom = pool.submit(lambda: 1 / 0)
    gate.set()
    assert [f.result(5) for f in running] == [True, True]
    with pytest.raises(ZeroDivisionError):
        boom.result(5)
    assert queued.cancelled()
    assert all(t.daemon for t in pool._threads) and len(pool._threads) == 2
    pool.shutdown()


def test_scheduler_discards_prefetch_for_another_endpoint() -> None:
    sched: Scheduler[str] = Scheduler(2)
    a, b = object(), object()
    sched.prefetch([("k", a, lambda: "from a")])
    assert sched.take("k", b, lambda: "from b") == "from b"
    sched.close()


def test_requests_run_concurrently_and_reports_keep_order(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 24)
    fake_server.delay_s = 0.05
    fake_server.script = ok_script
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-concurrency=6", "-v")
    res.assert_outcomes(passed=24)
    assert fake_server.peak_in_flight >= 3
    order = [ln.split()[0] for ln in res.stdout.lines if ln.startswith("cap::q")]
    assert order == sorted(order) and len(order) == 24
    res.stdout.fnmatch_lines(["llmbench *concurrency=6*"])


def test_concurrency_one_is_sequential(pytester: pytest.Pytester, fake_server: FakeServer) -> None:
    make_pack(pytester, 6)
    fake_server.script = ok_script
    run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-concurrency=1").assert_outcomes(
        passed=6
    )
    assert fake_server.peak_in_flight == 1


def test_xdist_workers_schedule_their_own_items(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 20)
    fake_server.delay_s = 0.05
    fake_server.script = ok_script
    fake_server.api_version = {"version": "0.12.3"}
    res = run(
        pytester,
        f"--llm-endpoint={fake_server.url}",
        "--llm-concurrency=3",
        "-n",
        "2",
        "--llm-log=log.json",
    )
    res.assert_outcomes(passed=20)
    assert "INTERNALERROR" not in res.stdout.str()
    assert len(fake_server.chat_requests()) == 20  # nothing generated twice
    assert fake_server.peak_in_flight >= 3
    # what only the workers probed still reaches the controller's run log
    head = log(pytester)
    assert head["model"] == "fake-model"
    assert head["speed_probe"]["ok"] is True
    assert head["endpoint"]["url"] == fake_server.url
    assert head["endpoint"]["dialect"] == "ollama"


def test_replicas_share_the_load(pytester: pytest.Pytester) -> None:
    make_pack(pytester, 12)
    with FakeServer() as a, FakeServer() as b:
        for s in (a, b):
            s.delay_s = 0.03
            s.script = ok_script
        res = run(
            pytester, f"--llm-endpoint={a.url}", f"--llm-endpoint={b.url}", "--llm-log=log.json"
        )
        res.assert_outcomes(passed=12)
        assert a.chat_requests() and b.chat_requests()
        assert len(a.chat_requests()) + len(b.chat_requests()) == 12
    assert log(pytester)["endpoint"]["kind"] == "replicas"


# -- retries and faults -------------------------------------------------------------


def test_transient_5xx_is_retried_and_logged(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 1)
    calls = {"n": 0}

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if "Count from" in str(body["messages"]):
            return 200, chat_reply("1 2 3"), {}
        calls["n"] += 1
        if calls["n"] <= 2:
            return 503, {"error": "busy"}, {}
        return 200, chat_reply("ok"), {}

    fake_server.script = script
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=log.json")
    res.assert_outcomes(passed=1)
    rec = log(pytester)["results"][0]
    assert rec["retries"] == 2
    assert [r["failure_mode"] for r in rec["calls"][0]["retries"]] == ["server_error"] * 2


def test_429_honours_retry_after_and_throttles() -> None:
    with FakeServer() as srv:
        n = {"i": 0}

        def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
            n["i"] += 1
            if n["i"] == 1:
                return 429, {"error": "slow down"}, {"Retry-After": "0.2"}
            return 200, chat_reply("ok"), {}

        srv.script = script
        ep = HTTPEndpoint(srv.url, concurrency=8)
        t0 = time.perf_counter()
        res = ep.send({"messages": []})
        assert time.perf_counter() - t0 >= 0.2
        assert res.retries[0]["failure_mode"] == "rate_limited"
        assert res.retries[0]["wait_s"] == 0.2
        assert ep.limiter.limit == 4  # halved


def test_wrong_answers_are_never_retried(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 1)
    fake_server.script = lambda b: (200, chat_reply("nope"), {})
    run(pytester, f"--llm-endpoint={fake_server.url}").assert_outcomes(failed=1)
    assert len(fake_server.chat_requests()) == 1


def _http(status: str, body: bytes, headers: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


FAULTS: dict[str, tuple[Any, str]] = {
    "500": ((500, {"error": "boom"}, {}), "server_error"),
    "503": ((503, b"busy", {}), "server_error"),
    "429": ((429, {"error": "rate"}, {"Retry-After": "0"}), "rate_limited"),
    "reset_mid_body": (
        Raw(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
            b'{"choices": [{"mess'
        ),
        "connection_error",
    ),
    "malformed_json": ((200, b'{"choices": [ }', {}), "malformed_response"),
    "truncated_json": (
        Raw(_http("200 OK", b'{"choices": [{"message": {"content": "ok"')),
        "malformed_response",
    ),
    "wrong_content_type": (
        (200, b"<html><body>502 Bad Gateway</body></html>", {"Content-Type": "text/html"}),
        "malformed_response",
    ),
    "huge_body": ((200, b"x" * (50 * 1024 * 1024), {}), "malformed_response"),
    "stream_without_done": (
        Stream([{"choices": [{"index": 0, "delta": {"content": "o"}}]}], done=False),
        "malformed_response",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_becomes_labelled_infra_error(
    pytester: pytest.Pytester, fake_server: FakeServer, fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each fault: an ERROR with its failure mode, the run goes on, no INTERNALERROR,
    earlier results kept, and the API key appears nowhere."""
    make_pack(pytester, 3)
    reply, mode = FAULTS[fault]

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        text = str(body["messages"][-1]["content"])
        if "Question 1:" in text:
            if isinstance(reply, (Raw, Stream)):
                return 200, reply, {}
            return reply
        if body.get("stream"):
            return 200, Stream(stream_chunks("ok")), {}
        return 200, chat_reply("ok"), {}

    fake_server.script = script
    monkeypatch.setenv("LLMBENCH_API_KEY", SECRET)
    args = [
        f"--llm-endpoint={fake_server.url}",
        "--llm-log=log.json",
        "--junitxml=j.xml",
        "--json-report",
        "--json-report-file=r.json",
        "--llm-retries=1",
        "-rA",
    ]
    if fault == "stream_without_done":
        args.append("--llm-stream")
    res = run(pytester, *args)
    res.assert_outcomes(passed=2, errors=1)
    out = res.stdout.str() + res.stderr.str()
    assert "INTERNALERROR" not in out
    data = log(pytester)
    bad = next(r for r in data["results"] if r["scenario"] == "q001")
    assert bad["failure_mode"] == mode, bad["error"]
    for f in ("log.json", "j.xml", "r.json"):
        assert SECRET not in (pytester.path / f).read_text()
    assert SECRET not in out
    assert fake_server.headers[-1]["Authorization"] == f"Bearer {SECRET}"


def test_stall_past_timeout(pytester: pytest.Pytester, fake_server: FakeServer) -> None:
    make_pack(pytester, 2)

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if "Question 0:" in str(body["messages"]):
            time.sleep(1.5)
        return 200, chat_reply("ok"), {}

    fake_server.script = script
    res = run(
        pytester, f"--llm-endpoint={fake_server.url}", "--llm-timeout=0.5", "--llm-log=log.json"
    )
    res.assert_outcomes(passed=1, errors=1)
    modes = {r["scenario"]: r["failure_mode"] for r in log(pytester)["results"]}
    assert modes == {"q000": "timeout", "q001": None}


@pytest.mark.parametrize("stream", [False, True])
def test_ctrl_c_does_not_wait_for_requests_in_flight(
    pytester: pytest.Pytester, fake_server: FakeServer, stream: bool
) -> None:
    """A slow model: after Ctrl-C the process ends at once with the finished results
    saved, instead of waiting for the generations still running."""
    make_pack(pytester, 12)
    release = threading.Event()

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if "Question 0:" not in str(body["messages"]):
            release.wait(120)  # generations that take minutes
        if body.get("stream"):
            return 200, Stream(stream_chunks("ok")), {}
        return 200, chat_reply("ok"), {}

    fake_server.script = script
    args = [sys.executable, "-m", "pytest", "packs", "-p", "no:cacheprovider"]
    args += [f"--llm-endpoint={fake_server.url}", "--llm-probe=no", "--llm-log=log.json"]
    if stream:
        args.append("--llm-stream")
    journal = pytester.path / "log.json.partial.jsonl"
    proc = subprocess.Popen(
        args,
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            journal.exists() and len(journal.read_text().splitlines()) >= 2
        ):
            time.sleep(0.05)
        time.sleep(0.3)  # the next requests are in flight now
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        waited = time.monotonic() - t0
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert code == pytest.ExitCode.INTERRUPTED
    assert waited < 20, f"waited {waited:.1f} s for requests in flight"
    data = log(pytester)
    assert data["interrupted"] is True
    assert [r["scenario"] for r in data["results"]] == ["q000"]


# -- cache, replay, resume ---------------------------------------------------------


def test_cache_answers_repeated_requests(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 4)
    fake_server.script = ok_script
    args = [f"--llm-endpoint={fake_server.url}", "--llm-cache=cache", "--llm-probe=no"]
    run(pytester, *args).assert_outcomes(passed=4)
    assert len(fake_server.requests) == 4
    run(pytester, *args, "--llm-log=log.json").assert_outcomes(passed=4)
    assert len(fake_server.requests) == 4  # all from the cache
    assert all(r["calls"][0].get("cached") for r in log(pytester)["results"])


def test_errors_are_not_cached(pytester: pytest.Pytester, fake_server: FakeServer) -> None:
    make_pack(pytester, 1)
    fake_server.script = lambda b: (500, {"error": "x"}, {})
    args = [
        f"--llm-endpoint={fake_server.url}",
        "--llm-cache=cache",
        "--llm-probe=no",
        "--llm-retries=0",
    ]
    run(pytester, *args).assert_outcomes(errors=1)
    fake_server.script = ok_script
    run(pytester, *args).assert_outcomes(passed=1)


def test_replay_reproduces_verdicts_without_network(pytester: pytest.Pytester) -> None:
    make_pack(pytester, 5)
    with FakeServer() as srv:
        srv.script = lambda b: (
            200,
            chat_reply("ok" if "Question 2" not in str(b["messages"]) else "no"),
            {},
        )
        run(pytester, f"--llm-endpoint={srv.url}", "--llm-log=a.json").assert_outcomes(
            passed=4, failed=1
        )
    # server gone: a replay must not need it
    res = run(pytester, "--llm-replay=a.json", "--llm-log=b.json")
    res.assert_outcomes(passed=4, failed=1)
    a, b = log(pytester, "a.json"), log(pytester, "b.json")
    verdicts = [(r["nodeid"], r["passed"], r["verdict"]["detail"]) for r in a["results"]]
    assert verdicts == [(r["nodeid"], r["passed"], r["verdict"]["detail"]) for r in b["results"]]


def test_replay_missing_entry_is_an_error(pytester: pytest.Pytester) -> None:
    make_pack(pytester, 2)
    run(pytester, "--llm-endpoint=reference", "--llm-log=a.json").assert_outcomes(passed=2)
    prompt_file = pytester.path / "packs" / "cap" / "s.yaml"
    prompt_file.write_text(prompt_file.read_text().replace("Question 1:", "Question one:"))
    res = run(pytester, "--llm-replay=a.json", "--llm-log=b.json")
    res.assert_outcomes(passed=1, errors=1)
    res.stdout.fnmatch_lines(["*replay_missing*"])


def test_resume_skips_finished_and_merges(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester, 4)
    fake_server.script = lambda b: (
        (500, {"error": "x"}, {})
        if "Question 3" in str(b["messages"])
        else (200, chat_reply("ok"), {})
    )
    run(
        pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=a.json", "--llm-retries=0"
    ).assert_outcomes(passed=3, errors=1)
    fake_server.script = ok_script
    before = len(fake_server.chat_requests())
    res = run(
        pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=b.json", "--llm-resume=a.json"
    )
    res.assert_outcomes(passed=1, deselected=3)
    assert len(fake_server.chat_requests()) - before == 1  # only the errored one re-ran
    merged = log(pytester, "b.json")
    assert merged["summary"]["passed"] == 4 and merged["summary"]["errors"] == 0
    assert sorted(r["scenario"] for r in merged["results"]) == ["q000", "q001", "q002", "q003"]


# -- repeats, streaming, probe ------------------------------------------------------


def test_repeats_carry_index_and_pass_k(pytester: pytest.Pytester, fake_server: FakeServer) -> None:
    make_pack(pytester, 2)
    n = {"i": 0}

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if "Question 1" in str(body["messages"]):
            n["i"] += 1
            return 200, chat_reply("ok" if n["i"] % 2 else "no"), {}
        return 200, chat_reply("ok"), {}

    fake_server.script = script
    res = run(
        pytester,
        f"--llm-endpoint={fake_server.url}",
        "--llm-repeat=3",
        "--llm-log=log.json",
        "--llm-concurrency=1",
        "--junitxml=j.xml",
    )
    res.assert_outcomes(passed=5, failed=1)
    res.stdout.fnmatch_lines(["cap: repeats k=3: pass@k 100.0%, pass^k 50.0%*"])
    rs = log(pytester)["summary"]["packs"]["cap"]["repeat_stats"]
    assert rs["k"] == 3 and rs["pass_at_k_pct"] == 100.0 and rs["pass_hat_k_pct"] == 50.0
    ids = {r["nodeid"] for r in log(pytester)["results"]}
    assert "cap::q001[r2]" in ids and len(ids) == 6
    names = {c.get("name") for c in ET.parse(pytester.path / "j.xml").getroot().iter("testcase")}
    assert "q000[r3]" in names


def test_streaming_records_ttft(pytester: pytest.Pytester, fake_server: FakeServer) -> None:
    make_pack(pytester, 1)

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        assert body["stream"] is True
        return 200, Stream(stream_chunks("ok", reasoning="think about it"), delay_s=0.01), {}

    fake_server.script = script
    res = run(
        pytester,
        f"--llm-endpoint={fake_server.url}",
        "--llm-stream",
        "--llm-log=log.json",
        "--llm-probe=no",
    )
    res.assert_outcomes(passed=1)
    call = log(pytester)["results"][0]["calls"][0]
    assert call["stream"]["ttft_s"] > 0
    assert call["stream"]["reasoning_chunks"] == 3
    assert call["response"]["choices"][0]["message"]["reasoning_content"] == "think about it "
    pack = log(pytester)["summary"]["packs"]["cap"]
    assert pack["ttft_p50_s"] == call["stream"]["ttft_s"]
    assert pack["decode_tokens_per_s_p50"] == call["stream"]["decode_tokens_per_s"]
    res.stdout.re_match_lines([r"pack\s+passed.*tok/s\s+ttft p50 s\s+decode tok/s$"])


def test_speed_probe_sizes_timeouts(pytester: pytest.Pytester, fake_server: FakeServer) -> None:
    make_pack(pytester, 1)
    fake_server.script = lambda b: (
        200,
        chat_reply("ok", timings={"predicted_per_second": 123.0}),
        {},
    )
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=log.json")
    res.assert_outcomes(passed=1)
    assert log(pytester)["speed_probe"]["tokens_per_s"] == 123.0
    res.stdout.fnmatch_lines(["*speed probe 123.0 tok/s*"])
    assert "ttft" not in res.stdout.str()  # streaming columns only for --llm-stream


@pytest.mark.parametrize(
    ("timings", "usage_tokens", "want"),
    [
        ({"predicted_n": 1, "predicted_per_second": 0.0}, 1, None),  # llama.cpp, one token
        ({"predicted_n": 2, "predicted_per_second": 5e6}, 2, None),
        ({"predicted_n": 30, "predicted_per_second": 0.0}, 30, None),
        (None, 1, None),
        ({"predicted_n": 30, "predicted_per_second": 88.5}, 30, 88.5),
    ],
)
def test_speed_probe_refuses_figures_it_cannot_measure(
    pytester: pytest.Pytester,
    fake_server: FakeServer,
    timings: dict[str, Any] | None,
    usage_tokens: int,
    want: float | None,
) -> None:
    make_pack(pytester, 1)
    usage = {"prompt_tokens": 10, "completion_tokens": usage_tokens, "total_tokens": 11}
    fake_server.script = lambda b: (200, chat_reply("ok", usage=usage, timings=timings), {})
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=log.json")
    res.assert_outcomes(passed=1)
    probe = log(pytester)["speed_probe"]
    assert probe["tokens_per_s"] == want
    if want is None:
        assert probe["note"].startswith(
            "too few tokens" if probe["tokens"] < 4 else "no usable speed figure"
        )
        assert "speed probe" not in res.stdout.str()


def test_unreachable_endpoint_probe_is_retried_then_reported() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ep = HTTPEndpoint(f"http://127.0.0.1:{port}", retries=1, backoff_s=0.01)
    with pytest.raises(EndpointError) as ei:
        ep.probe()
    assert ei.value.failure_mode == "endpoint_unreachable"
    assert len(ei.value.retries) == 1


def test_options_validate(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_subprocess("--llm-endpoint=reference", "--llm-concurrency=0")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res = pytester.runpytest_subprocess("--llm-replay=nope.json")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--llm-replay: no such run log: nope.json*"])
    res = pytester.runpytest_subprocess("--llm-endpoint=reference", "--llm-endpoint=junk")
    assert res.ret == pytest.ExitCode.USAGE_ERROR


def test_paths_in_log_are_relative_friendly(pytester: pytest.Pytester) -> None:
    make_pack(pytester, 1)
    run(pytester, "--llm-endpoint=reference", "--llm-log=sub/dir/log.json").assert_outcomes(
        passed=1
    )
    assert Path(pytester.path / "sub" / "dir" / "log.json").exists()
