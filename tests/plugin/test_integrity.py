"""Run integrity against hostile servers and a hard kill, through real pytest runs and
real loopback HTTP servers: crashed runs resume, one writer per log, no secret written,
bounded time, wrong-shaped replies are ERRORs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fakeserver import FakeServer, Stream, chat_reply, stream_chunks

PACK_META = "id: cap\ntitle: Capacity\nversion: '1'\n"


def make_pack(root: Path, n: int, pack_id: str = "cap") -> None:
    d = root / "packs" / pack_id
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(f"id: {pack_id}\ntitle: T\nversion: '1'\n")
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


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_llmbench.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def records(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for ln in path.read_text().splitlines() if ln and '"header"' not in ln[:12])


def start_run(cwd: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "pytest", "packs", "-p", "no:cacheprovider"]
    args += [f"--llm-endpoint={url}", "--llm-probe=no", "--llm-concurrency=1", *extra]
    return subprocess.Popen(
        args,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def wait_for(cond: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def gated_server(fake_server: FakeServer, free: int) -> threading.Event:
    """The first ``free`` questions are answered at once; the rest wait for the event."""
    release = threading.Event()

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        text = str(body["messages"])
        if not any(f"Question {i}:" in text for i in range(free)):
            release.wait(60)
        return 200, chat_reply("ok"), {}

    fake_server.script = script
    return release


def crash_after(cwd: Path, fake_server: FakeServer, done: int, *extra: str) -> Path:
    """A run killed with SIGKILL once ``done`` scenarios are in its journal."""
    release = gated_server(fake_server, done)
    journal = cwd / "log.json.partial.jsonl"
    proc = start_run(cwd, fake_server.url, "--llm-log=log.json", *extra)
    try:
        wait_for(lambda: records(journal) >= done)
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert not (cwd / "log.json").exists()
    return journal


# -- item 1: a crashed run can be resumed, rescored and inspected ------------------


def test_killed_run_resumes_from_its_journal_and_drops_a_torn_line(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 6)
    journal = crash_after(pytester.path, fake_server, 3)
    with journal.open("a") as fh:
        fh.write('{"nodeid": "cap::q005", "pas')  # a write cut by the kill
    fake_server.script = lambda b: (200, chat_reply("ok"), {})
    before = len(fake_server.chat_requests())
    res = run(
        pytester,
        f"--llm-endpoint={fake_server.url}",
        "--llm-resume=log.json",
        "--llm-log=merged.json",
    )
    res.assert_outcomes(passed=3, deselected=3)
    res.stdout.fnmatch_lines(["*dropped a torn last line*"])
    assert len(fake_server.chat_requests()) - before == 3
    merged = json.loads((pytester.path / "merged.json").read_text())
    assert sorted(r["scenario"] for r in merged["results"]) == [f"q{i:03d}" for i in range(6)]
    assert merged["summary"]["total"] == 6
    # the journal itself is accepted too
    res = run(
        pytester,
        f"--llm-endpoint={fake_server.url}",
        f"--llm-resume={journal.name}",
        "--llm-log=merged2.json",
    )
    res.assert_outcomes(passed=3, deselected=3)


def test_inspect_and_rescore_read_a_killed_run(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 5)
    journal = crash_after(pytester.path, fake_server, 2)
    with journal.open("a") as fh:
        fh.write('{"torn')
    for target in ("log.json", journal.name):
        out = cli(pytester.path, "inspect", target)
        assert out.returncode == 0, out.stderr
        assert "INCOMPLETE" in out.stdout and "cap" in out.stdout
        assert "dropped a torn last line" in out.stderr
        assert out.stdout.count("\n") > 2
    out = cli(pytester.path, "rescore", journal.name, "--in-place")
    assert out.returncode == 0, out.stderr
    assert "rescored 2 scenario(s)" in out.stdout
    rescored = json.loads((pytester.path / "log.json").read_text())
    assert rescored["incomplete"] is True and len(rescored["results"]) == 2


def test_a_bad_line_inside_a_journal_is_an_error_not_silence(pytester: pytest.Pytester) -> None:
    j = pytester.path / "log.json.partial.jsonl"
    head = json.dumps({"header": {"format": "pytest-llmbench/runlog@1"}})
    rec = json.dumps({"nodeid": "p::a", "pack": "p", "scenario": "a", "passed": True})
    j.write_text(f"{head}\nnot json\n{rec}\n")
    out = cli(pytester.path, "inspect", "log.json")
    assert out.returncode == 2
    assert "log.json.partial.jsonl:2" in out.stderr and "Traceback" not in out.stderr


# -- item 2: one writer per log; a fresh journal per run -----------------------------


def test_second_run_on_the_same_log_is_refused_naming_the_other(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 4)
    release = gated_server(fake_server, 1)
    proc = start_run(pytester.path, fake_server.url, "--llm-log=log.json")
    try:
        wait_for(lambda: records(pytester.path / "log.json.partial.jsonl") >= 1)
        res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=log.json")
        assert res.ret == pytest.ExitCode.USAGE_ERROR
        err = res.stderr.str()
        assert f"pid {proc.pid}" in err and "another run is writing this log" in err
        assert records(pytester.path / "log.json.partial.jsonl") >= 1  # untouched
        release.set()
        assert proc.wait(60) == 0
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    data = json.loads((pytester.path / "log.json").read_text())
    assert len(data["results"]) == 4 and data["summary"]["passed"] == 4
    assert not (pytester.path / "log.json.lock").exists()


def test_rerun_after_a_crash_counts_every_scenario_once(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 5)
    crash_after(pytester.path, fake_server, 3)
    fake_server.script = lambda b: (200, chat_reply("ok"), {})
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=log.json")
    res.assert_outcomes(passed=5)
    res.stdout.fnmatch_lines(["*unfinished run's journal was kept as *crashed-*.partial.jsonl*"])
    data = json.loads((pytester.path / "log.json").read_text())
    assert len(data["results"]) == 5
    out = cli(pytester.path, "inspect", "log.json")
    assert "5/5" in out.stdout and "10/" not in out.stdout, out.stdout
    kept = list(pytester.path.glob("log.json.crashed-*.partial.jsonl"))
    assert len(kept) == 1
    out = cli(pytester.path, "inspect", kept[0].name)
    assert out.returncode == 0 and "3/3" in out.stdout, out.stdout + out.stderr


def test_resume_into_its_own_log_after_a_crash(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 5)
    crash_after(pytester.path, fake_server, 2)
    fake_server.script = lambda b: (200, chat_reply("ok"), {})
    res = run(
        pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=log.json", "--llm-resume=log.json"
    )
    res.assert_outcomes(passed=3, deselected=2)
    data = json.loads((pytester.path / "log.json").read_text())
    assert sorted(r["scenario"] for r in data["results"]) == [f"q{i:03d}" for i in range(5)]
    assert not list(pytester.path.glob("log.json*.partial.jsonl"))


# -- item 3: no key in any output -------------------------------------------------

SECRET = "sk-integrity-secret-9f8e7d"
OTHER = "proxy-key-5a4b3c2d1e"  # a key this process never read, in a header-shaped echo


def echoing_script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    """A server that echoes the request's credentials in every kind of reply."""
    text = str(body["messages"])
    echo = {"Authorization": f"Bearer {SECRET}", "api-key": OTHER}
    if "Question 0:" in text:
        return 500, {"error": "internal", "request_headers": echo}, {}
    if "Question 1:" in text:
        return 401, f"401 Unauthorized: Authorization: Bearer {SECRET}".encode(), {}
    if "Question 2:" in text and body.get("stream"):  # the key split across two chunks
        chunks = stream_chunks("x")
        chunks[0]["choices"][0]["delta"]["content"] = f"your key is {SECRET[:9]}"
        chunks.insert(1, {"choices": [{"index": 0, "delta": {"content": SECRET[9:]}}]})
        return 200, Stream(chunks), {}
    if "Question 2:" in text:
        return 200, chat_reply(f"your key is {SECRET}"), {}
    if "Question 3:" in text:
        return 200, f"<html>api_key={OTHER} Authorization: Bearer {SECRET}".encode(), {}
    if body.get("stream"):
        return 200, Stream(stream_chunks("ok")), {}
    return 200, chat_reply("ok"), {}


@pytest.mark.parametrize("stream", [False, True])
def test_an_echoed_key_is_in_no_output(
    pytester: pytest.Pytester,
    fake_server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    stream: bool,
) -> None:
    make_pack(pytester.path, 6)
    fake_server.script = echoing_script
    monkeypatch.setenv("LLMBENCH_API_KEY", SECRET)
    args = [
        f"--llm-endpoint={fake_server.url}",
        "--llm-log=log.json",
        "--llm-report-md=report.md",
        "--junitxml=j.xml",
        "--json-report",
        "--json-report-file=r.json",
        "--llm-retries=0",
        "--llm-probe=no",
        "-rA",
        "-vv",
    ]
    if stream:
        args.append("--llm-stream")
    res = run(pytester, *args)
    out = res.stdout.str() + res.stderr.str()
    assert "INTERNALERROR" not in out
    assert fake_server.headers[-1]["Authorization"] == f"Bearer {SECRET}"  # it was sent
    data = json.loads((pytester.path / "log.json").read_text())
    modes = {r["scenario"]: r["failure_mode"] for r in data["results"]}
    assert modes["q000"] == "server_error" and modes["q001"] == "http_error"
    assert modes["q002"] == "verifier_fail"
    assert modes["q003"] == "malformed_response" and modes["q004"] is None
    html = cli(pytester.path, "report", "log.json", "-o", "report.html")
    assert html.returncode == 0, html.stderr
    outputs = {"terminal": out}
    for f in ("log.json", "j.xml", "r.json", "report.md", "report.html"):
        outputs[f] = (pytester.path / f).read_text()
    for argv in (
        ["inspect", "log.json"],
        ["inspect", "log.json", "--failed"],
        *(["inspect", "log.json", "--scenario", f"q00{i}", "--full"] for i in range(5)),
    ):
        got = cli(pytester.path, *argv)
        assert got.returncode == 0, got.stderr
        outputs[" ".join(argv)] = got.stdout + got.stderr
    for where, text in outputs.items():
        assert SECRET not in text, where
        assert OTHER not in text, where
    assert "[REDACTED]" in outputs["log.json"]


# -- item 6: a dead endpoint stops the run with one line ----------------------------


def closed_port() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def test_a_closed_port_stops_the_run_after_five_errors(pytester: pytest.Pytester) -> None:
    make_pack(pytester.path, 40)
    res = run(pytester, f"--llm-endpoint={closed_port()}", "--llm-log=log.json", "-rE")
    res.assert_outcomes(errors=5)
    assert res.ret == pytest.ExitCode.TESTS_FAILED
    out = res.stdout.str()
    assert out.count("stopped early") == 1
    res.stdout.fnmatch_lines(
        [
            "*stopped early: the first 5 scenarios all failed with endpoint_unreachable"
            "*35 scenario(s) not run*"
        ]
    )
    assert out.count("ERROR cap::") == 5
    data = json.loads((pytester.path / "log.json").read_text())
    assert len(data["results"]) == 5
    assert data["stopped_early"]["not_run"] == 35
    assert data["stopped_early"]["failure_mode"] == "endpoint_unreachable"


def test_a_server_failing_every_request_stops_the_run(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 12)
    fake_server.script = lambda b: (503, {"error": "down"}, {})
    res = run(
        pytester,
        f"--llm-endpoint={fake_server.url}",
        "--llm-log=log.json",
        "--llm-retries=0",
        "--llm-give-up=3",
    )
    res.assert_outcomes(errors=3)
    res.stdout.fnmatch_lines(
        ["*stopped early: the first 3 scenarios all failed with server_error*"]
    )


def test_no_early_stop_once_the_endpoint_has_answered(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 8)
    fake_server.script = lambda b: (
        (200, chat_reply("ok"), {}) if "Question 0:" in str(b["messages"]) else (503, {}, {})
    )
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-retries=0")
    res.assert_outcomes(passed=1, errors=7)
    assert "stopped early" not in res.stdout.str()


# -- item 7: wrong-shaped replies are ERRORs that reach the run log -------------------


@pytest.mark.parametrize("stream", [False, True])
def test_wrong_shaped_replies_are_errors_in_the_log_and_summary(
    pytester: pytest.Pytester, fake_server: FakeServer, stream: bool
) -> None:
    make_pack(pytester.path, 4)

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        text = str(body["messages"])
        if stream:
            bad: list[dict[str, Any]] = [
                {"choices": 7},
                {"choices": [{"delta": {"tool_calls": 7}}]},
                {"choices": [{"delta": {}, "finish_reason": 5}]},
            ]
            for i, chunk in enumerate(bad):
                if f"Question {i}:" in text:
                    return 200, Stream([chunk]), {}
            return 200, Stream(stream_chunks("ok")), {}
        reply = chat_reply("ok")
        if "Question 0:" in text:
            reply["choices"][0]["finish_reason"] = 5
        if "Question 1:" in text:
            reply["choices"][0]["message"]["tool_calls"] = 7
        if "Question 2:" in text:
            reply["choices"] = ["x"]
        return 200, reply, {}

    fake_server.script = script
    args = [f"--llm-endpoint={fake_server.url}", "--llm-log=log.json", "--llm-retries=0"]
    res = run(pytester, *args, *(["--llm-stream"] if stream else []))
    res.assert_outcomes(passed=1, errors=3)
    out = res.stdout.str()
    assert "Traceback" not in out and "TypeError" not in out and "AttributeError" not in out
    res.stdout.fnmatch_lines(["*Quality: cap 1/1 100.0%*3 error(s)*"])
    data = json.loads((pytester.path / "log.json").read_text())
    modes = sorted(str(r["failure_mode"]) for r in data["results"])
    assert modes == ["None", "malformed_response", "malformed_response", "malformed_response"]


# -- item 9: servers without /v1/models; a reasoning-only answer -----------------------


def test_a_server_without_the_models_route_runs_when_the_model_is_named(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 2)
    fake_server.models = []  # and /v1/models answers 404 below
    fake_server.httpd.RequestHandlerClass.do_GET = lambda self: self._send(  # type: ignore[attr-defined]
        404, {"error": "no such route"}, {}
    )
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-model=m1", "--llm-probe=no")
    res.assert_outcomes(passed=2)
    assert all(r["model"] == "m1" for r in fake_server.chat_requests())
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-probe=no", "--llm-retries=0")
    res.assert_outcomes(errors=2)
    res.stdout.fnmatch_lines(["*http_error: HTTP 404 from /v1/models*"])


def test_a_reasoning_only_answer_says_so(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_pack(pytester.path, 1)
    fake_server.script = lambda b: (
        200,
        chat_reply("", reasoning="Let me think about ok " * 20, finish_reason="length"),
        {},
    )
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-probe=no")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*(empty: the model only reasoned, 440 chars of reasoning*"])


# -- item 4: -m <pack> never hides a broken file of that pack ---------------------------


def test_dash_m_pack_selects_its_broken_files_and_an_id_clash(
    pytester: pytest.Pytester,
) -> None:
    make_pack(pytester.path, 1, "tools")
    (pytester.path / "packs" / "tools" / "broken.yaml").write_text("scenarios: [\n")
    make_pack(pytester.path, 1, "other")
    make_pack(pytester.path, 1, "zclash")
    (pytester.path / "packs" / "zclash" / "pack.yaml").write_text(
        "id: tools\ntitle: T\nversion: '1'\n"
    )
    (pytester.path / "packs" / "badmeta").mkdir()
    (pytester.path / "packs" / "badmeta" / "pack.yaml").write_text("id: [\n")
    res = run(pytester, "--llm-endpoint=reference", "-m", "tools", "--strict-markers", "-rE")
    res.assert_outcomes(passed=1, errors=2)
    res.stdout.fnmatch_lines(["*pack_error*broken.yaml:*", "*pack id 'tools' is already used by*"])
    assert res.ret != 0
    res = run(pytester, "--llm-endpoint=reference", "-m", "badmeta", "--strict-markers")
    res.assert_outcomes(errors=1)
    res = run(pytester, "--llm-endpoint=reference", "-m", "other", "--strict-markers")
    res.assert_outcomes(passed=1)  # other packs' errors are deselected with their packs


# -- item 8: pack files cannot exhaust the machine ---------------------------------------

ALIAS_BOMB = (
    "scenarios:\n"
    "  - id: bomb\n"
    "    prompt: hi\n"
    "    verifier: {type: exact, value: ok}\n"
    "    reference: ok\n"
    "    counterexamples:\n"
    '      - &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "      - &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "      - &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "      - &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "      - &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "      - &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "      - &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "      - &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "      - &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)
DEEP = (
    "scenarios:\n  - id: deep\n    prompt: hi\n    reference: " + "[" * 20000 + "]" * 20000 + "\n"
)


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [(ALIAS_BOMB, 13, "alias bomb"), (DEEP, 4, "levels deep")],
    ids=["alias_bomb", "deep_nesting"],
)
def test_hostile_pack_files_are_one_pack_error(
    pytester: pytest.Pytester, content: str, line: int, words: str
) -> None:
    assert len(ALIAS_BOMB) < 800
    make_pack(pytester.path, 1, "good")
    make_pack(pytester.path, 1, "evil")
    (pytester.path / "packs" / "evil" / "hostile.yaml").write_text(content)
    out = cli(pytester.path, "check", "packs/evil")  # a subprocess: a bomb cannot hang us
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"hostile.yaml:{line}: " in out.stdout + out.stderr and words in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "packs", "-p", "no:cacheprovider"]
        + ["--llm-endpoint=reference", "-rE"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    text = proc.stdout + proc.stderr
    assert "INTERNALERROR" not in text and "RecursionError" not in text
    assert "MemoryError" not in text
    assert f"pack_error: {pytester.path}/packs/evil/hostile.yaml:{line}: " in text, text[-3000:]
    assert "2 passed, 1 error" in text
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "packs", "-p", "no:cacheprovider"]
        + ["--llm-endpoint=reference", "-m", "good"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-2000:]


def test_a_scenario_id_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    from pytest_llmbench.core.packs import PackError, load_scenario_file

    f = tmp_path / "s.yaml"
    f.write_text(
        'scenarios:\n  - id: "abc\\n"\n    prompt: hi\n'
        "    verifier: {type: exact, value: ok}\n    reference: ok\n"
        "    counterexamples: [a, b]\n"
    )
    with pytest.raises(PackError) as ei:
        load_scenario_file(f)
    assert f"{f}:2: " in str(ei.value) and "scenario id" in str(ei.value)


def test_a_dead_endpoint_stops_every_xdist_worker_and_the_log_counts_all(
    pytester: pytest.Pytester,
) -> None:
    make_pack(pytester.path, 40)
    res = run(pytester, f"--llm-endpoint={closed_port()}", "--llm-log=log.json", "-n", "2")
    assert "stopped early" in res.stdout.str() + res.stderr.str()
    data = json.loads((pytester.path / "log.json").read_text())
    ran = len(data["results"])
    assert ran == 10  # five per worker
    assert data["stopped_early"]["failure_mode"] == "endpoint_unreachable"
    assert data["stopped_early"]["not_run"] == 40 - ran


def test_a_stalled_server_costs_one_deadline_not_one_per_scenario(
    pytester: pytest.Pytester,
) -> None:
    """A server that accepts connections and never answers: the start-up probe hits
    its deadline once, five scenarios report it, the run stops."""
    import socket

    stalled = socket.socket()
    stalled.bind(("127.0.0.1", 0))
    stalled.listen(64)  # the kernel completes connections; nobody ever reads them
    try:
        make_pack(pytester.path, 30)
        url = f"http://127.0.0.1:{stalled.getsockname()[1]}"
        t0 = time.monotonic()
        res = run(pytester, f"--llm-endpoint={url}", "--llm-timeout=1", "--llm-log=log.json")
        took = time.monotonic() - t0
    finally:
        stalled.close()
    res.assert_outcomes(errors=5)
    res.stdout.fnmatch_lines(["*stopped early: the first 5 scenarios all failed with timeout*"])
    assert took < 20, f"{took:.0f} s"
    assert json.loads((pytester.path / "log.json").read_text())["stopped_early"]["not_run"] == 25
