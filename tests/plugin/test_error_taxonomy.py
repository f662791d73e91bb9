"""One error taxonomy: what keeps a verdict from being reached (no sandbox, no
toolchain in the sandbox, no judge, a timeout, a bad replay file) is an ERROR with one
clear line, never a model's FAILED, never a traceback per item."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fakeserver import FakeServer, chat_reply

PACK = """scenarios:
  - id: greet
    prompt: "Say the word hello and nothing else."
    verifier: {type: exact, value: hello, ignore_case: true, strip_punct: true}
    reference: hello
    counterexamples: ["goodbye", "hello world"]
"""


def _no_tracebacks(out: str) -> None:
    assert "Traceback" not in out and "\nE   " not in out and "site-packages" not in out, out[
        -3000:
    ]


def test_no_sandbox_is_one_line_and_one_error_per_item(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-docker.sock")
    res = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--llm-endpoint=reference",
        "--llm-pack=python",
        "--llm-sandbox=docker",
        "--llm-log=log.json",
        "-k",
        "lis-fast or coin-change or edit-distance",
    )
    res.assert_outcomes(errors=3)
    out = res.stdout.str()
    _no_tracebacks(out)
    lines = [ln for ln in out.splitlines() if ln.startswith("ERROR sandbox_unavailable in ")]
    assert len(lines) == 1 and lines[0].startswith("ERROR sandbox_unavailable in 3 scenario(s): ")
    # each item's own report is that one line
    per_item = [ln for ln in out.splitlines() if ln.startswith("sandbox_unavailable: ")]
    assert len(per_item) == 3
    data = json.loads((pytester.path / "log.json").read_text())
    assert {r["failure_mode"] for r in data["results"]} == {"sandbox_unavailable"}
    assert data["summary"]["errors"] == 3


def test_a_toolchain_missing_in_the_sandbox_is_an_error(pytester: pytest.Pytester) -> None:
    """Go on a bubblewrap host without Go: the sandbox's shortcoming, an ERROR."""
    from pytest_llmbench.core.sandbox import SandboxUnavailable, open_sandbox

    try:
        open_sandbox("bwrap").close()
    except SandboxUnavailable as exc:
        pytest.skip(f"bubblewrap sandbox unavailable: {exc}")
    res = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--llm-endpoint=reference",
        "--llm-pack=polyglot",
        "--llm-sandbox=bwrap",
        "-k",
        "go-reverse-words",
    )
    out = res.stdout.str()
    outcomes = res.parseoutcomes()
    assert "failed" not in outcomes, out[-3000:]
    if shutil.which("go") is None:
        assert outcomes.get("errors") == 1, out[-3000:]
        res.stdout.fnmatch_lines(["ERROR sandbox_unavailable in 1 scenario(s): *no `go`*"])
        _no_tracebacks(out)
    else:  # a host with Go: the reference passes
        assert outcomes.get("passed") == 1


def test_judge_unavailable_is_an_error(pytester: pytest.Pytester) -> None:
    d = pytester.path / "packs" / "essay"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text("id: essay\ntitle: Essay\nversion: '1'\n")
    (d / "s.yaml").write_text(
        """scenarios:
  - id: haiku
    prompt: "Write a haiku about rain."
    verifier: {type: judge, rubric: "A haiku about rain: three lines, 5-7-5.", decides: true}
    reference: "soft rain on the roof\\nthe gutters sing all night long\\npuddles hold the moon"
    counterexamples: ["I like turtles.", "Rain."]
"""
    )
    res = pytester.runpytest_subprocess(
        "packs", "-p", "no:cacheprovider", "--llm-endpoint=reference", "--llm-log=log.json"
    )
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["ERROR judge_unavailable in 1 scenario(s): *"])
    _no_tracebacks(res.stdout.str())
    data = json.loads((pytester.path / "log.json").read_text())
    assert data["results"][0]["failure_mode"] == "judge_unavailable"


def test_timeout_names_the_limit_and_the_option(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.delay_s = 1.5
    fake_server.script = lambda body: (200, chat_reply("hello"), {})
    res = pytester.runpytest_subprocess(
        "packs",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "--llm-timeout=0.3",
        "--llm-retries=0",
    )
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["timeout: *(limit 0.3 s from --llm-timeout)*"])
    _no_tracebacks(res.stdout.str())


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"format": ', "not a readable run log"),
        ("\x00\x01binary", "not a readable run log"),
        ('{"format": "pytest-llmbench-baseline/1", "packs": {}}', "not a pytest-llmbench run log"),
        ("[1, 2, 3]", "not a pytest-llmbench run log"),
    ],
)
def test_replay_of_a_wrong_or_corrupt_file_is_one_line(
    pytester: pytest.Pytester, demo: Path, content: str, says: str
) -> None:
    (pytester.path / "bad.json").write_text(content)
    res = pytester.runpytest_subprocess("packs", "-p", "no:cacheprovider", "--llm-replay=bad.json")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = [ln for ln in res.stderr.lines if ln.strip()]
    assert len(err) == 1 and err[0].startswith("ERROR: --llm-replay: "), err
    assert says in err[0] and "bad.json" in err[0]
    assert not res.stdout.lines or "Traceback" not in res.stdout.str()


def test_a_dead_server_errors_a_test_function(pytester: pytest.Pytester) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pytester.makepyfile(
        test_fn="""
import pytest

@pytest.mark.llmbench(pack="geo")
def test_capital(llm):
    assert llm.ask("Capital of France?").strip() == "Paris"
"""
    )
    res = pytester.runpytest_subprocess(
        "test_fn.py",
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint=http://127.0.0.1:{port}",
        "--llm-retries=0",
        "--llm-log=log.json",
    )
    res.assert_outcomes(errors=1)
    data = json.loads((pytester.path / "log.json").read_text())
    assert data["summary"]["errors"] == 1
