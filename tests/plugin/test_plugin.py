"""The plugin end to end through pytester: collection, selection, reports, xdist."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from demopack import DEMO, write_pack
from fakeserver import FakeServer, chat_reply
from pytest_llmbench.core.packs import builtin_packs_dir, iter_pack_dirs, load_pack
from pytest_llmbench.core.verifiers.base import get_verifier

PACK_META = "id: demo\ntitle: Demo pack\nversion: '2.1'\n"


# bfcl (BFCL's fetched data) is run by tests/unit/test_bfcl_pack.py: thousands of items,
# and its irrelevance scenarios pass any answer without a tool call, junk included.
NO_SANDBOX = "not sandbox and not bfcl"


def builtin_scenarios() -> dict[str, int]:
    """Scenarios per built-in pack that need no sandbox (the sandboxed ones are run by
    tests/integration on real backends)."""
    counts = {}
    for d in iter_pack_dirs(builtin_packs_dir()):
        if d.name == "bfcl":  # fetched data, run by tests/unit/test_bfcl_pack.py
            continue
        n = sum(not get_verifier(sc.verifier.type).needs_sandbox for sc in load_pack(d).scenarios)
        if n:
            counts[d.name] = n
    return counts


def make_demo(pytester: pytest.Pytester, name: str = "demo", body: str = DEMO) -> Path:
    return write_pack(
        pytester.path, body, name=name, version="2.1", title="Demo pack", file="scenarios.yaml"
    )


def run_log(pytester: pytest.Pytester, name: str = "log.json") -> dict[str, Any]:
    return json.loads((pytester.path / name).read_text())


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


NO_NETWORK_CONFTEST = """
import socket
attempts = []
_orig = socket.socket.connect
def _guard(self, addr):
    attempts.append(addr)
    raise OSError("network used")
socket.socket.connect = _guard
def pytest_sessionfinish(session):
    if attempts:
        raise SystemExit("NETWORK ATTEMPTED: %r" % attempts)
"""


def test_inactive_without_endpoint(pytester: pytest.Pytester) -> None:
    """An unrelated suite with the plugin installed: no items, no network, no files."""
    make_demo(pytester)
    pytester.makeconftest(NO_NETWORK_CONFTEST)
    pytester.makepyfile(test_plain="def test_one():\n    assert 1 + 1 == 2\n")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    out = res.stdout.str().replace("plugins: llmbench-", "plugins: ")
    assert "llmbench" not in out
    assert not (pytester.path / ".llmbench").exists()
    assert "NETWORK ATTEMPTED" not in res.stdout.str() + res.stderr.str()


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    res = pytester.runpytest_subprocess("-p", "no:llmbench", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)


def test_reference_endpoint_passes_every_builtin_scenario(pytester: pytest.Pytester) -> None:
    counts = builtin_scenarios()
    total = sum(counts.values())
    assert total >= 2
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference",
        "--llm-log=log.json",
        "-p",
        "no:cacheprovider",
        "-m",
        NO_SANDBOX,
    )
    res.assert_outcomes(passed=total)
    out = res.stdout.str()
    assert "llmbench summary" in out
    res.stdout.fnmatch_lines([f"Quality: *overall {total}/{total} 100.0%, 0 error(s)"])
    log = run_log(pytester)
    assert log["summary"]["passed"] == total
    assert set(log["summary"]["packs"]) == set(counts)
    for pack, n in counts.items():
        assert log["summary"]["packs"][pack]["total"] == n


def test_junk_endpoint_fails_every_builtin_scenario(pytester: pytest.Pytester) -> None:
    total = sum(builtin_scenarios().values())
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=junk",
        "--llm-log=log.json",
        "-p",
        "no:cacheprovider",
        "-m",
        NO_SANDBOX,
    )
    res.assert_outcomes(failed=total)
    log = run_log(pytester)
    assert {r["failure_mode"] for r in log["results"]} == {"verifier_fail"}
    assert log["summary"]["score_pct"] == 0.0


@pytest.mark.parametrize("kind", ["empty", "echo", "refusal", "random_tool_call"])
def test_each_junk_kind_fails_demo(pytester: pytest.Pytester, kind: str) -> None:
    make_demo(pytester)
    res = pytester.runpytest_inprocess(
        f"--llm-endpoint=junk:{kind}", "packs", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(failed=2)


def test_node_ids_and_collection(pytester: pytest.Pytester) -> None:
    make_demo(pytester)
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference", "--collect-only", "-q", "packs", "-p", "no:cacheprovider"
    )
    res.stdout.fnmatch_lines(["demo::greet", "demo::sum"])
    assert "smoke::" not in res.stdout.str()  # explicit paths: no built-in packs


def test_builtin_packs_collected_from_empty_folder(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    res.stdout.fnmatch_lines(["smoke::capital-exact"])


@pytest.mark.parametrize(
    ("args", "passed"),
    [
        (["-m", "demo"], 2),
        (["-m", "tag_words"], 1),
        (["-k", "demo and sum"], 1),
        (["--llm-pack", "demo"], 2),
        (["--llm-pack", "smoke", "-k", "capital"], 1),
    ],
)
def test_selection(pytester: pytest.Pytester, args: list[str], passed: int) -> None:
    make_demo(pytester)
    pytester.makeini("[pytest]\ntestpaths = packs\n")
    res = pytester.runpytest_inprocess("--llm-endpoint=reference", *args, "-p", "no:cacheprovider")
    res.assert_outcomes(passed=passed)


def test_unknown_pack_is_a_usage_error(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_inprocess("--llm-endpoint=reference", "--llm-pack", "nope")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--llm-pack: unknown pack(s) nope*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--llm-endpoint=ftp://x"], "*--llm-endpoint*not an http(s) URL*"),
        (["--llm-endpoint=junk:nonsense"], "*unknown junk kind*"),
        (["--llm-endpoint=reference", "--llm-thinking=maybe"], "*expected on, off or pack*"),
        (["--llm-endpoint=reference", "--llm-timeout=-1"], "*must be > 0*"),
    ],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    res = pytester.runpytest_inprocess(*args)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines([message])


def test_junit_carries_properties(pytester: pytest.Pytester) -> None:
    make_demo(pytester)
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference", "packs", "--junitxml=out.xml", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(passed=2)
    root = ET.parse(pytester.path / "out.xml").getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 2
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
        assert props["llmbench.pack"] == "demo"
        assert props["llmbench.passed"] == "True"
        assert props["llmbench.score"] == "1.0"
        assert props["llmbench.scenario"] in ("greet", "sum")


def test_json_report_key(pytester: pytest.Pytester) -> None:
    make_demo(pytester)
    pytester.runpytest_inprocess(
        "--llm-endpoint=junk:dot",
        "packs",
        "--json-report",
        "--json-report-file=r.json",
        "-p",
        "no:cacheprovider",
    )
    data = json.loads((pytester.path / "r.json").read_text())
    assert data["llmbench"]["packs"]["demo"]["total"] == 2
    assert data["llmbench"]["packs"]["demo"]["passed"] == 0
    assert data["llmbench"]["quality"].startswith("Quality: demo 0/2")


def _summary_without_timing(log: dict[str, Any]) -> dict[str, Any]:
    s = dict(log["summary"])
    for p in s["packs"].values():
        for k in ("latency_p50_s", "latency_p95_s", "tokens_per_s"):
            p.pop(k)
    return s


def test_same_summary_with_xdist(pytester: pytest.Pytester) -> None:
    make_demo(pytester)
    pytester.makeini("[pytest]\ntestpaths = packs\n")
    args = ["--llm-endpoint=junk", "-p", "no:cacheprovider", "-m", NO_SANDBOX]
    serial = pytester.runpytest_subprocess(
        *args, "--llm-log=serial.json", "--llm-builtin-packs=yes"
    )
    par = pytester.runpytest_subprocess(
        *args,
        "--llm-log=par.json",
        "--llm-builtin-packs=yes",
        "-n",
        "2",
        "--junitxml=par.xml",
    )
    assert "INTERNALERROR" not in par.stdout.str() + par.stderr.str()
    a, b = run_log(pytester, "serial.json"), run_log(pytester, "par.json")
    assert _summary_without_timing(a) == _summary_without_timing(b)
    assert [r["nodeid"] for r in a["results"]] == [r["nodeid"] for r in b["results"]]
    assert b["summary"]["total"] > 2
    quality = [ln for ln in par.stdout.lines if ln.startswith("Quality:")]
    assert quality == [ln for ln in serial.stdout.lines if ln.startswith("Quality:")]
    root = ET.parse(pytester.path / "par.xml").getroot()
    props = root.findall(".//testcase/properties/property[@name='llmbench.pack']")
    assert len(props) == b["summary"]["total"]


def test_broken_pack_file_fails_alone(pytester: pytest.Pytester) -> None:
    d = make_demo(pytester)
    (d / "zz_broken.yaml").write_text("scenarios:\n  - id: bad\n    prompt: x\n")
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference", "packs", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(passed=2, errors=1)
    res.stdout.fnmatch_lines(["*pack_error: *zz_broken.yaml:2: scenarios.0.*"])


def test_broken_pack_meta_and_duplicate_pack_ids(pytester: pytest.Pytester) -> None:
    make_demo(pytester, "demo")
    other = make_demo(pytester, "other")
    (other / "pack.yaml").write_text(PACK_META)  # same id 'demo' as the first pack
    bad = pytester.path / "packs" / "bad"
    bad.mkdir()
    (bad / "pack.yaml").write_text("id: bad\ntitle: [unclosed\n")
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference", "packs", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(passed=2, errors=2)
    res.stdout.fnmatch_lines(["*pack id 'demo' is already used by*"])
    res.stdout.fnmatch_lines(["*pack_error: *bad/pack.yaml:*invalid YAML*"])


def test_unreachable_endpoint_errors_in_one_line(pytester: pytest.Pytester) -> None:
    make_demo(pytester)
    res = pytester.runpytest_inprocess(
        f"--llm-endpoint=http://127.0.0.1:{closed_port()}",
        "packs",
        "--llm-log=log.json",
        "-p",
        "no:cacheprovider",
    )
    res.assert_outcomes(errors=2)
    out = res.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    assert out.count("endpoint_unreachable:") >= 2
    log = run_log(pytester)
    assert log["summary"]["errors"] == 2
    assert log["summary"]["score_pct"] is None
    res.stdout.fnmatch_lines(["Quality: demo 0/0 n/a | overall 0/0 n/a, 2 error(s)"])


def run_thinking_off(pytester: pytest.Pytester, url: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(
        f"--llm-endpoint={url}",
        "packs",
        "--llm-log=log.json",
        "--llm-thinking=off",
        "-p",
        "no:cacheprovider",
    )


def test_against_fake_server(pytester: pytest.Pytester, fake_server: FakeServer) -> None:
    make_demo(pytester)

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        text = body["messages"][-1]["content"]
        if "hello" in text:
            return 200, chat_reply("<think>easy</think>Hello!", timings={"predicted_n": 2}), {}
        return 500, {"error": "boom"}, {}

    fake_server.script = script
    res = run_thinking_off(pytester, fake_server.url)
    res.assert_outcomes(passed=1, errors=1)
    res.stdout.fnmatch_lines(["*server_error: HTTP 500*"])
    log = run_log(pytester)
    assert log["model"] == "fake-model"
    assert log["endpoint"]["url"] == fake_server.url
    assert "dialect" not in log["endpoint"]
    greet = next(r for r in log["results"] if r["scenario"] == "greet")
    call = greet["calls"][0]
    assert call["request"]["model"] == "fake-model"
    assert call["request"]["temperature"] == 0.0
    assert call["request"]["chat_template_kwargs"] == {"enable_thinking": False}
    raw = call["response"]["choices"][0]["message"]["content"]
    assert raw == "<think>easy</think>Hello!"  # raw text unmodified in the log
    assert call["timings"] == {"predicted_n": 2}
    assert greet["verdict"]["trace"] == ["[ok ] answer equals: found 'Hello!', wanted 'hello'"]
    assert fake_server.requests[0]["model"] == "fake-model"


def test_thinking_off_on_ollama_is_sent_in_its_spelling(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    make_demo(pytester)
    fake_server.api_version = {"version": "0.12.3"}
    fake_server.script = lambda body: (200, chat_reply("Hello!"), {})
    res = run_thinking_off(pytester, fake_server.url)
    res.assert_outcomes(passed=1, failed=1)  # greet passes, sum does not
    log = run_log(pytester)
    assert log["endpoint"]["dialect"] == "ollama"
    for rec in log["results"]:
        assert rec["calls"][0]["request"]["reasoning_effort"] == "none"
    assert all(r["reasoning_effort"] == "none" for r in fake_server.chat_requests())


def test_failure_report_reads_like_a_test_failure(pytester: pytest.Pytester) -> None:
    make_demo(pytester)
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=junk:echo", "packs", "-p", "no:cacheprovider"
    )
    res.stdout.fnmatch_lines(
        [
            "*verifier_fail: 0/1 checks passed: number in ANSWER line: found none, wanted 5*",
            "asked:",
            "*What is 2 + 3?*",
            "answer:",
        ]
    )
    res.stdout.fnmatch_lines(["demo greet: verifier_fail (*)"])


def test_function_tests_join_a_pack(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fn="""
        import pytest

        @pytest.mark.llmbench(pack="custom", reference="Paris")
        def test_capital(llm):
            assert llm.ask("Capital of France? One word.").strip() == "Paris"

        def test_unrelated():
            pass
    """
    )
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference", "test_fn.py", "--llm-log=log.json", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["Quality: custom 1/1 100.0%*"])
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=junk", "test_fn.py", "--llm-log=log.json", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(passed=1, failed=1)
    res.stdout.fnmatch_lines(["Quality: custom 0/1 0.0%*"])


def test_llm_fixture_skips_without_endpoint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fn="def test_x(llm):\n    llm.ask('hi')\n")
    res = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    res.assert_outcomes(skipped=1)


def test_ctrl_c_keeps_finished_results(pytester: pytest.Pytester) -> None:
    make_demo(pytester)
    pytester.makepyfile(test_zz_stop="def test_stop():\n    raise KeyboardInterrupt\n")
    res = pytester.runpytest_subprocess(
        "--llm-endpoint=reference",
        "packs",
        "test_zz_stop.py",
        "--llm-log=log.json",
        "-p",
        "no:cacheprovider",
    )
    assert res.ret == pytest.ExitCode.INTERRUPTED
    log = run_log(pytester)
    assert log["interrupted"] is True
    assert sorted(r["scenario"] for r in log["results"]) == ["greet", "sum"]
    assert not (pytester.path / "log.json.partial.jsonl").exists()
