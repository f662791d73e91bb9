"""Multi-model runs, oracle, gates, sampling modes, judge and Markdown report,
through pytest against loopback servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demopack import read_log as log
from demopack import run_packs as run
from fakeserver import FakeServer, chat_reply
from pytest_llmbench.cli import main as cli_main

PACK = """scenarios:
  - id: greet
    prompt: "Say the word hello and nothing else."
    verifier: {type: exact, value: hello, ignore_case: true, strip_punct: true}
    reference: hello
    counterexamples: ["goodbye", "hello world"]
  - id: sum
    prompt: "What is 2 + 3? End with ANSWER: <number>."
    verifier: {type: number, value: 5}
    reference: "ANSWER: 5"
    counterexamples: ["ANSWER: 6", "5"]
"""


def answers(good: bool) -> Any:
    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        text = str(body["messages"][-1]["content"])
        if not good:
            return 200, chat_reply("no idea"), {}
        return 200, chat_reply("hello" if "hello" in text else "ANSWER: 5"), {}

    return script


def test_multi_model_side_by_side_and_oracle(pytester: pytest.Pytester, demo: Path) -> None:
    with FakeServer() as good, FakeServer() as bad:
        good.script, bad.script = answers(True), answers(False)
        good.models, bad.models = ["good-id"], ["bad-id"]
        res = run(
            pytester,
            f"--llm-model=strong={good.url}",
            f"--llm-model=weak={bad.url}",
            "--llm-model-size=strong=4.5",
            "--llm-oracle=weak",
            "--llm-log=log.json",
            "-v",
        )
        assert good.requests[0]["model"] == "good-id"  # each server's own model id
        assert bad.requests[0]["model"] == "bad-id"
    res.assert_outcomes(passed=2, failed=2)
    out = res.stdout.str()
    assert "demo::greet[strong] PASSED" in out and "demo::greet[weak] FAILED" in out
    res.stdout.fnmatch_lines(
        [
            "*models side by side*",
            "model *passed *score*score/GB",
            "strong *2/2 *100.0%*22.2",
            "weak *0/2 *0.0%*",
        ]
    )
    res.stdout.fnmatch_lines(
        [
            "*SUSPECT SCENARIO(S): the oracle weak failed 2*",
            "SUSPECT SCENARIO demo::greet",
            "SUSPECT SCENARIO demo::sum",
        ]
    )
    data = log(pytester)
    assert {r["model"] for r in data["results"]} == {"strong", "weak"}
    assert data["summary"]["models"]["strong"]["score_pct"] == 100.0
    assert set(data["summary"]["packs"]) == {"demo [strong]", "demo [weak]"}


def test_models_on_one_endpoint(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = answers(True)
    res = run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-model=m1", "--llm-model=m2")
    res.assert_outcomes(passed=4)
    assert {r["model"] for r in fake_server.requests} == {"m1", "m2"}


def test_model_options_validate(pytester: pytest.Pytester, demo: Path) -> None:
    res = pytester.runpytest_subprocess("--llm-model=a", "--llm-model=b")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--llm-model NAME needs --llm-endpoint*"])
    res = pytester.runpytest_subprocess(
        "--llm-endpoint=reference", "--llm-model=a", "--llm-model=b", "--llm-oracle=c"
    )
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res = pytester.runpytest_subprocess("--llm-endpoint=reference", "--llm-fail-under=demo")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*expected PACK=PERCENT*"])


def _baseline(pytester: pytest.Pytester) -> Path:
    for i in range(3):
        run(pytester, "--llm-endpoint=reference", f"--llm-log=b{i}.json").assert_outcomes(passed=2)
    out = pytester.path / "baseline.json"
    runs = [str(pytester.path / f"b{i}.json") for i in range(3)]
    assert cli_main(["baseline", "capture", *runs, "-o", str(out)]) == 0
    return out


def test_baseline_gate_fails_exactly_on_regression(pytester: pytest.Pytester, demo: Path) -> None:
    base = _baseline(pytester)
    ok = run(pytester, "--llm-endpoint=reference", f"--llm-baseline={base}", "--llm-max-drop=5")
    assert ok.ret == pytest.ExitCode.OK
    assert "gates failed" not in ok.stdout.str()
    bad = run(pytester, "--llm-endpoint=junk", f"--llm-baseline={base}", "--llm-max-drop=5")
    assert bad.ret == 6  # a gate failed (README: exit status)
    bad.stdout.fnmatch_lines(["*llmbench gates failed*", "*demo*"])
    out = bad.stdout.str()
    assert "greet" in out and "sum" in out


def test_gate_refuses_noncanonical_against_canonical(pytester: pytest.Pytester, demo: Path) -> None:
    base = _baseline(pytester)
    res = run(
        pytester, "--llm-endpoint=reference", f"--llm-baseline={base}", "--llm-temperature=0.7"
    )
    assert res.ret == 6
    res.stdout.fnmatch_lines(["*non-canonical*"])
    res = run(
        pytester,
        "--llm-endpoint=reference",
        f"--llm-baseline={base}",
        "--llm-temperature=0.7",
        "--llm-allow-noncanonical",
    )
    assert res.ret == pytest.ExitCode.OK


def test_fail_under_floor(pytester: pytest.Pytester, demo: Path) -> None:
    assert run(pytester, "--llm-endpoint=reference", "--llm-fail-under=demo=90").ret == 0
    res = run(pytester, "--llm-endpoint=junk", "--llm-fail-under=demo=50")
    assert res.ret == 6
    res.stdout.fnmatch_lines(["*demo*"])


def test_bad_baseline_is_a_usage_error(pytester: pytest.Pytester, demo: Path) -> None:
    (pytester.path / "broken.json").write_text('{"format": ')
    res = pytester.runpytest_subprocess("--llm-endpoint=reference", "--llm-baseline=broken.json")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--llm-baseline:*"])


def test_explicit_sampling_is_non_canonical(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = answers(True)
    res = run(
        pytester,
        f"--llm-endpoint={fake_server.url}",
        "--llm-temperature=0.6",
        "--llm-top-k=20",
        "--llm-seed=7",
        "--llm-log=log.json",
    )
    res.assert_outcomes(passed=2)
    body = fake_server.requests[0]
    assert (body["temperature"], body["top_k"], body["seed"]) == (0.6, 20, 7)
    assert log(pytester)["sampling"] == {
        "mode": "custom",
        "temperature": 0.6,
        "top_k": 20,
        "seed": 7,
    }
    res.stdout.fnmatch_lines(["*sampling=NON-CANONICAL(temperature=0.6,top_k=20,seed=7)*"])


def test_canonical_by_default(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = answers(True)
    run(pytester, f"--llm-endpoint={fake_server.url}", "--llm-log=log.json")
    assert fake_server.requests[0]["temperature"] == 0.0
    assert log(pytester)["sampling"] == {"mode": "canonical", "temperature": 0.0}


def test_sampling_from_server_reads_props(
    pytester: pytest.Pytester, demo: Path, fake_server: FakeServer
) -> None:
    fake_server.script = answers(True)
    fake_server.props = {
        "default_generation_settings": {
            "params": {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "n_probs": 0}
        }
    }
    res = run(
        pytester,
        f"--llm-endpoint={fake_server.url}",
        "--llm-sampling-from-server",
        "--llm-log=log.json",
    )
    res.assert_outcomes(passed=2)
    for body in fake_server.requests:
        assert not {"temperature", "top_p", "top_k", "seed"} & set(body)
    assert log(pytester)["sampling"] == {
        "mode": "server",
        "server_settings": {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05},
    }


def test_markdown_report(pytester: pytest.Pytester, demo: Path) -> None:
    run(pytester, "--llm-endpoint=junk", "--llm-report-md=out/report.md")
    md = (pytester.path / "out" / "report.md").read_text()
    assert "Quality: demo 0/2" in md
    assert "greet" in md and "verifier_fail" in md


JUDGE_PACK = """scenarios:
  - id: dns
    prompt: Explain in two sentences what DNS does.
    verifier:
      type: judge
      rubric: "5 = correct and clear; 1 = wrong."
      samples: 1
      decides: true
      pass_at: 4
    reference: DNS maps domain names to IP addresses.
    counterexamples: ["DNS sends e-mail.", "DNS is a kind of cable."]
"""


def test_judge_option_and_missing_judge(pytester: pytest.Pytester) -> None:
    d = pytester.path / "packs" / "judged"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text("id: judged\ntitle: J\nversion: '1'\n")
    (d / "s.yaml").write_text(JUDGE_PACK)
    with FakeServer() as judge:
        judge.script = lambda b: (200, chat_reply('{"score": 5, "reason": "correct"}'), {})
        res = run(
            pytester,
            "--llm-endpoint=reference",
            f"--llm-judge-url={judge.url}",
            "--llm-judge-model=judge-1",
            "--llm-log=log.json",
        )
        res.assert_outcomes(passed=1)
        assert judge.requests[0]["model"] == "judge-1"
    res = run(pytester, "--llm-endpoint=reference", "--llm-log=log2.json")
    res.assert_outcomes(errors=1)  # infrastructure: an ERROR, never the model's FAILED
    assert log(pytester, "log2.json")["results"][0]["failure_mode"] == "judge_unavailable"
    assert log(pytester, "log2.json")["summary"]["errors"] == 1
