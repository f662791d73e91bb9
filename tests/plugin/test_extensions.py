"""Extension points: an installed package adds a verifier, a sandbox backend, an endpoint
kind and a generator through the four entry-point groups, and a pack uses all four.

The package is installed the cheap way: its source and a ``.dist-info`` holding
``entry_points.txt`` on the ``PYTHONPATH`` of a pytest subprocess, which is all
importlib.metadata reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

EXT_MODULE = '''
from pydantic import BaseModel, ConfigDict

from pytest_llmbench.core.endpoint import Endpoint, Reply, Usage
from pytest_llmbench.core.sandbox import ExecResult, Sandbox
from pytest_llmbench.core.schema import AssistantTurn, Scenario
from pytest_llmbench.core.verifiers import Check, Verdict, Verifier, register

RUNS = []


class WordArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    word: str


@register("ext_word")
class ExtWord(Verifier):
    """The answer is the word, and the ext_box sandbox echoed it back."""

    Args = WordArgs
    needs_sandbox = True

    def check(self, output, ctx):
        word = self.args.word
        res = ctx.sandbox.run(cmd=["echo", output.text.strip()])
        return Verdict.from_checks(
            [
                Check("word", output.text.strip() == word, output.text.strip()[:20], word),
                Check("ran in ext_box", res.stdout == "ext_box:" + output.text.strip(),
                      res.stdout[:40]),
            ]
        )


class ExtBox(Sandbox):
    name = "ext_box"

    def __init__(self, image):
        self.image = image

    def _execute(self, data, cmd, sin, timeout_s, lim):
        return ExecResult(0, "ext_box:" + " ".join(cmd[1:]), "")

    def _open(self, data, cmd, timeout_s, lim):
        raise NotImplementedError

    def describe(self):
        return {"backend": "ext_box", "image": self.image}


class Echo(Endpoint):
    """Answers every request with its argument."""

    in_process = True

    def __init__(self, arg, **http_options):
        self.word = arg
        self.name = "ext_echo:" + arg

    def chat(self, messages, params, *, timeout_s=None):
        turn = AssistantTurn(content=self.word, finish_reason="stop")
        return Reply(turn, Usage(prompt_tokens=0, completion_tokens=1))


class RepeatSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    words: list[str]


def expand(spec):
    return [
        Scenario.model_validate(
            {
                "id": "rep-" + w,
                "prompt": "Say " + w + " and nothing else.",
                "verifier": {"type": "ext_word", "word": w},
                "reference": w,
                "counterexamples": [w + "x", "", "say " + w],
            }
        )
        for w in spec.words
    ]


GENERATOR = (RepeatSpec, expand)
'''

ENTRY_POINTS = """\
[pytest_llmbench.verifiers]
ext_word = llmbench_ext

[pytest_llmbench.sandboxes]
ext_box = llmbench_ext:ExtBox
broken_box = llmbench_missing:Box

[pytest_llmbench.endpoints]
ext_echo = llmbench_ext:Echo

[pytest_llmbench.generators]
ext_repeat = llmbench_ext:GENERATOR
broken = llmbench_missing:GENERATOR
"""

PACK = "id: ext\ntitle: Extension pack\nversion: '1'\n"
SCENARIOS = "generators:\n  - kind: ext_repeat\n    words: [alpha, beta]\n"


@pytest.fixture
def ext(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    site = pytester.path / "site"
    (site / "llmbench_ext").mkdir(parents=True)
    (site / "llmbench_ext" / "__init__.py").write_text(EXT_MODULE)
    info = site / "llmbench_ext-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: llmbench-ext\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), *sys.path]))
    packs = pytester.path / "packs" / "ext"
    packs.mkdir(parents=True)
    (packs / "pack.yaml").write_text(PACK)
    (packs / "scenarios.yaml").write_text(SCENARIOS)
    return pytester


def run(pt: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    log = pt.path / "log.json"
    log.unlink(missing_ok=True)
    res = pt.runpytest_subprocess(
        "-p", "no:cacheprovider", "--llm-log=log.json", "--llm-pack=ext", *args
    )
    data = json.loads(log.read_text()) if log.exists() else {}
    return res, data


def outcomes(log: dict[str, Any]) -> dict[str, str]:
    return {r["scenario"]: r["outcome"] for r in log["results"]}


def test_an_installed_package_adds_one_of_each(ext: pytest.Pytester) -> None:
    res, log = run(ext, "--llm-endpoint=ext_echo:alpha", "--llm-sandbox=ext_box")
    res.assert_outcomes(passed=1, failed=1)
    assert outcomes(log) == {"rep-alpha": "passed", "rep-beta": "failed"}
    assert log["sandbox"] == {"backend": "ext_box", "image": None}
    res.stdout.fnmatch_lines(["*ok ] ran in ext_box: found ext_box:alpha"])
    # The endpoint returned a turn and usage only: the run log still holds the call in
    # the OpenAI shape, so the run replays and rescores.
    call = next(r for r in log["results"] if r["scenario"] == "rep-alpha")["calls"][0]
    assert call["request"]["messages"][-1] == {
        "role": "user",
        "content": "Say alpha and nothing else.",
    }
    assert call["response"]["choices"][0]["message"]["content"] == "alpha"
    assert call["usage"] == {"completion_tokens": 1, "prompt_tokens": 0}

    # The generator's references pass and junk fails, through the external verifier.
    res, log = run(ext, "--llm-endpoint=reference", "--llm-sandbox=ext_box")
    res.assert_outcomes(passed=2)
    res, log = run(ext, "--llm-endpoint=junk", "--llm-sandbox=ext_box")
    res.assert_outcomes(failed=2)


def test_unknown_names_list_the_installed_ones(ext: pytest.Pytester) -> None:
    res, _ = run(ext, "--llm-endpoint=reference", "--llm-sandbox=nope")
    assert res.ret != 0
    res.stderr.fnmatch_lines(
        ["*unknown sandbox 'nope'; choose one of auto, docker, bwrap, unsafe-local, ext_box,*"]
    )
    res, _ = run(ext, "--llm-endpoint=nope:x")
    assert res.ret != 0
    res.stderr.fnmatch_lines(["*'nope:x' is not an http(s) URL*'ext_echo[[]:ARG[]]'*"])
    (ext.path / "packs" / "ext" / "scenarios.yaml").write_text(
        "generators:\n  - kind: ext_rpeat\n    words: [a]\n"
    )
    res, _ = run(ext, "--llm-endpoint=reference")
    res.stdout.fnmatch_lines(
        [
            "*scenarios.yaml:2*unknown generator 'ext_rpeat' (known: needle, humaneval, bfcl, "
            "ext_repeat, broken)*"
        ]
    )


def test_a_broken_extension_is_one_error_line(ext: pytest.Pytester) -> None:
    res, log = run(ext, "--llm-endpoint=reference", "--llm-sandbox=broken_box")
    res.assert_outcomes(errors=2)
    assert {r["failure_mode"] for r in log["results"]} == {"sandbox_unavailable"}
    res.stdout.fnmatch_lines(
        [
            "*sandbox 'broken_box' (llmbench_missing:Box, entry point in "
            "pytest_llmbench.sandboxes) does not load: ModuleNotFoundError*"
        ]
    )
    assert "INTERNALERROR" not in res.stdout.str()
    (ext.path / "packs" / "ext" / "scenarios.yaml").write_text(
        "generators:\n  - kind: broken\n    words: [a]\n"
    )
    res, _ = run(ext, "--llm-endpoint=reference")
    res.stdout.fnmatch_lines(["*scenarios.yaml:2*generator 'broken' (*) does not load*"])
    assert "INTERNALERROR" not in res.stdout.str()


def test_an_unrelated_suite_scans_no_entry_points(ext: pytest.Pytester) -> None:
    ext.makeconftest(
        "import sys\n"
        "def pytest_sessionfinish(session):\n"
        "    reg = sys.modules.get('pytest_llmbench.core.registry')\n"
        "    assert reg is None or not reg._found, reg._found\n"
        "    assert 'llmbench_ext' not in sys.modules\n"
    )
    ext.makepyfile(test_plain="def test_one():\n    pass\n")
    res = ext.runpytest_subprocess("-p", "no:cacheprovider", "test_plain.py")
    res.assert_outcomes(passed=1)
    assert res.ret == 0


def test_needle_is_registered_whatever_is_imported_first() -> None:
    code = (
        "from pytest_llmbench.core.verifiers import get_verifier, registered\n"
        "assert get_verifier('needle').name == 'needle'\n"
        "first = sorted(registered())\n"
        "import pytest_llmbench.core.packs\n"
        "assert sorted(registered()) == first, set(registered()) ^ set(first)\n"
        "assert 'needle' in first\n"
        "print(len(first))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 20
