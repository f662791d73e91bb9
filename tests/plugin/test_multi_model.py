"""Comparisons across models: diff and the baseline gate by pack::scenario when the
model ids differ (llama.cpp reports the .gguf path), the HTML report and run log of a
multi-model run, score per GB."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

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


def answers(good_sum: bool) -> Any:
    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        text = str(body["messages"][-1]["content"])
        if "hello" in text:
            return 200, chat_reply("hello"), {}
        return 200, chat_reply("ANSWER: 5" if good_sum else "ANSWER: 7"), {}

    return script


def test_diff_compares_quantisations_by_scenario(
    pytester: pytest.Pytester, demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, good, gguf in (("q8", True, "/models/m-Q8_0.gguf"), ("q4", False, "/m/m-Q4.gguf")):
        with FakeServer() as srv:
            srv.script, srv.models = answers(good), [gguf]
            run(pytester, f"--llm-endpoint={srv.url}", f"--llm-log={name}.json")
    capsys.readouterr()
    assert cli_main(["diff", str(pytester.path / "q8.json"), str(pytester.path / "q4.json")]) == 0
    out = capsys.readouterr().out
    assert "note: models differ: /models/m-Q8_0.gguf (A) vs /m/m-Q4.gguf (B)" in out
    assert re.search(r"demo\s+2/2\s+100.0%\s+1/2\s+50.0%\s+-50.0 pp", out), out
    assert "demo::sum: passed -> failed" in out
    assert "no scenario in common" not in out
    # and the baseline gate, captured on Q8, judges Q4 by scenario and says so
    for i in range(3):
        with FakeServer() as srv:
            srv.script, srv.models = answers(True), ["/models/m-Q8_0.gguf"]
            run(pytester, f"--llm-endpoint={srv.url}", f"--llm-log=b{i}.json")
    runs = [str(pytester.path / f"b{i}.json") for i in range(3)]
    assert cli_main(["baseline", "capture", *runs, "-o", str(pytester.path / "base.json")]) == 0
    with FakeServer() as srv:
        srv.script, srv.models = answers(False), ["/m/m-Q4.gguf"]
        res = run(pytester, f"--llm-endpoint={srv.url}", "--llm-baseline=base.json")
    assert res.ret == 6
    res.stdout.fnmatch_lines(
        [
            "*demo: 50.0% vs baseline 100.0%*regressed: sum*",
            "llmbench baseline: models differ: the baseline measured /models/m-Q8_0.gguf, "
            "this run /m/m-Q4.gguf",
        ]
    )


def test_multi_model_run_log_and_html_show_every_model(
    pytester: pytest.Pytester, demo: Path
) -> None:
    with FakeServer() as good, FakeServer() as bad:
        good.script, bad.script = answers(True), answers(False)
        res = run(
            pytester,
            f"--llm-model=strong={good.url}",
            f"--llm-model=weak={bad.url}",
            "--llm-model-size=strong=4",
            "--llm-model-size=weak=2",
            "--llm-log=log.json",
        )
        res.assert_outcomes(passed=3, failed=1)
        urls = {"strong": good.url, "weak": bad.url}
    data = json.loads((pytester.path / "log.json").read_text())
    eps = data["model_endpoints"]
    assert set(eps) == {"strong", "weak"}
    for label, url in urls.items():
        assert url in json.dumps(eps[label])
    models = data["summary"]["models"]
    assert models["strong"]["score_per_gb"] == 25.0  # 100% / 4 GB
    assert models["weak"]["score_per_gb"] == 25.0  # 50% / 2 GB
    html_path = pytester.path / "r.html"
    assert cli_main(["report", str(pytester.path / "log.json"), "-o", str(html_path)]) == 0
    html = html_path.read_text()
    assert "not run" not in html
    assert "100.0% (2/2)" in html and "50.0% (1/2)" in html
    assert ">strong<" in html and ">weak<" in html


def test_model_size_names_a_model(pytester: pytest.Pytester, demo: Path) -> None:
    res = pytester.runpytest_subprocess(
        "--llm-endpoint=reference", "--llm-model=a", "--llm-model=b", "--llm-model-size=c=3"
    )
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--llm-model-size: c is not one of the --llm-model names*"])
