"""Pack items get their sandbox and judge from the ``llm_sandbox`` / ``llm_judge``
fixtures, so a conftest.py override takes effect, and only items that need one ask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakeserver import FakeServer, chat_reply

PICK = "lis-fast or coin-change or edit-distance"  # three python-pack scenarios

# A sandbox that notes every run and channel it starts (in a file beside the conftest,
# read by the test), running them like unsafe-local.
RECORDING = """
import os

import pytest

from pytest_llmbench.core.sandbox.local import LocalSandbox

LOG = os.path.join(os.path.dirname(__file__), "sandbox-calls.txt")


def note(line):
    with open(LOG, "a") as fh:
        fh.write(line + "\\n")


class RecordingSandbox(LocalSandbox):
    name = "recording"

    def _execute(self, data, cmd, sin, timeout_s, lim):
        note("run " + " ".join(sorted(data)))
        return super()._execute(data, cmd, sin, timeout_s, lim)

    def _open(self, data, cmd, timeout_s, lim):
        note("open " + " ".join(sorted(data)))
        return super()._open(data, cmd, timeout_s, lim)

    def describe(self):
        return {**super().describe(), "name": self.name}


@pytest.fixture(scope="session")
def llm_sandbox():
    note("made")
    box = RecordingSandbox()
    yield box
    box.close()
"""

# An override that must never be asked for.
UNTOUCHABLE = """
import os

import pytest

LOG = os.path.join(os.path.dirname(__file__), "sandbox-calls.txt")


@pytest.fixture(scope="session")
def llm_sandbox():
    with open(LOG, "a") as fh:
        fh.write("made\\n")
    raise RuntimeError("this run needs no sandbox")


@pytest.fixture(scope="session")
def llm_judge():
    with open(LOG, "a") as fh:
        fh.write("judge\\n")
    raise RuntimeError("this run needs no judge")
"""

EXACT_PACK = """scenarios:
  - id: greet
    prompt: "Say the word hello and nothing else."
    verifier: {type: exact, value: hello, ignore_case: true, strip_punct: true}
    reference: hello
    counterexamples: ["goodbye", "hello world"]
"""

JUDGED_PACK = """scenarios:
  - id: dns
    prompt: Explain in one sentence what DNS does.
    verifier:
      type: judge
      rubric: "5 = says DNS maps names to IP addresses; 1 = wrong."
      samples: 1
      decides: true
    reference: DNS maps domain names to IP addresses.
    counterexamples: [DNS sends e-mail., DNS is a cable.]
"""

# A judge that does not decide: its deterministic check runs code, so the item needs the
# sandbox although the judge verifier itself runs none.
JUDGED_CODE_PACK = """scenarios:
  - id: add
    prompt: "Write add(a, b) in Python."
    verifier:
      type: judge
      rubric: "5 = correct and idiomatic; 1 = wrong."
      check:
        type: code_tests
        entry: [add]
        tests: ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
    reference: "```python\\ndef add(a, b):\\n    return a + b\\n```"
    counterexamples:
      - "```python\\ndef add(a, b):\\n    return a - b\\n```"
      - "no code"
"""

JUDGE_CONFTEST = """
import os

import pytest

from pytest_llmbench.core.http_endpoint import HTTPEndpoint
from pytest_llmbench.core.verifiers.context import Judge


@pytest.fixture(scope="session")
def llm_judge():
    ep = HTTPEndpoint(os.environ["TEST_JUDGE_URL"], retries=0)
    yield Judge(ep, "conftest-judge")
    ep.close()
"""


def _calls(pytester: pytest.Pytester) -> list[str]:
    f = pytester.path / "sandbox-calls.txt"
    return f.read_text().splitlines() if f.exists() else []


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--llm-log=log.json", *args)


def _pack(pytester: pytest.Pytester, pack_id: str, text: str) -> Path:
    d = pytester.path / "packs" / pack_id
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(f"id: {pack_id}\ntitle: T\nversion: '1'\n")
    (d / "s.yaml").write_text(text)
    return d


def test_a_conftest_sandbox_runs_the_python_pack(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The override is used although the option names a sandbox that cannot open."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-docker.sock")
    pytester.makeconftest(RECORDING)
    res = _run(
        pytester,
        "--llm-endpoint=reference",
        "--llm-pack=python",
        "--llm-sandbox=docker",
        "-k",
        PICK,
    )
    res.assert_outcomes(passed=3)
    calls = _calls(pytester)
    assert calls.count("made") == 1  # one per process, like the default
    started = [c for c in calls if c.startswith(("run ", "open "))]
    assert len(started) >= 3, calls  # every scenario ran its candidate in it
    log = json.loads((pytester.path / "log.json").read_text())
    assert log["sandbox"]["name"] == "recording"

    # junk fails as the model's answer, not as an error of the sandbox
    (pytester.path / "sandbox-calls.txt").unlink()
    res = _run(
        pytester,
        "--llm-endpoint=junk:echo",
        "--llm-pack=python",
        "--llm-sandbox=docker",
        "-k",
        PICK,
    )
    outcomes = res.parseoutcomes()
    assert outcomes.get("failed") == 3 and "errors" not in outcomes, res.stdout.str()[-2000:]


def test_a_run_that_runs_no_code_asks_for_no_sandbox_and_no_judge(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(UNTOUCHABLE)
    _pack(pytester, "demo", EXACT_PACK)
    res = _run(pytester, "--llm-endpoint=reference", "packs/demo")
    res.assert_outcomes(passed=1)
    assert _calls(pytester) == []
    res = _run(pytester, "--llm-endpoint=junk", "packs/demo")
    res.assert_outcomes(failed=1)
    assert _calls(pytester) == []


def test_a_conftest_sandbox_that_fails_is_an_error_not_a_failure(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(UNTOUCHABLE)
    res = _run(pytester, "--llm-endpoint=reference", "--llm-pack=python", "-k", PICK)
    res.assert_outcomes(errors=3)
    assert _calls(pytester) == ["made"]  # a session fixture: tried once
    assert "this run needs no sandbox" in res.stdout.str()


def test_a_conftest_sandbox_of_the_wrong_type_is_named(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest\n\n"
        "@pytest.fixture(scope='session')\n"
        "def llm_sandbox():\n"
        "    return object()\n"
    )
    res = _run(pytester, "--llm-endpoint=reference", "--llm-pack=python", "-k", PICK)
    res.assert_outcomes(errors=3)
    res.stdout.fnmatch_lines(
        ["*the llm_sandbox fixture must return a *Sandbox or None, got object*"]
    )


def test_a_conftest_judge_grades_judged_scenarios(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --llm-judge-url: only the conftest's judge can make the item pass."""
    _pack(pytester, "essay", JUDGED_PACK)
    pytester.makeconftest(JUDGE_CONFTEST)
    with FakeServer() as judge:
        judge.script = lambda body: (200, chat_reply('{"score": 5, "reason": "right"}'), {})
        monkeypatch.setenv("TEST_JUDGE_URL", judge.url)
        res = _run(pytester, "--llm-endpoint=reference", "packs/essay")
        res.assert_outcomes(passed=1)
        assert [r["model"] for r in judge.requests] == ["conftest-judge"]
        judge.script = lambda body: (200, chat_reply('{"score": 1, "reason": "wrong"}'), {})
        res = _run(pytester, "--llm-endpoint=reference", "packs/essay")
        res.assert_outcomes(failed=1)


def test_each_xdist_worker_uses_the_conftest_sandbox(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers build their own (a session fixture per process); the controller's run
    log names the sandbox they ran in."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-docker.sock")
    pytester.makeconftest(RECORDING)
    res = _run(
        pytester,
        "-n",
        "2",
        "--llm-endpoint=reference",
        "--llm-pack=python",
        "--llm-sandbox=docker",
        "-k",
        PICK,
    )
    res.assert_outcomes(passed=3)
    calls = _calls(pytester)
    assert 1 <= calls.count("made") <= 2, calls
    assert len([c for c in calls if c.startswith(("run ", "open "))]) >= 3, calls
    log = json.loads((pytester.path / "log.json").read_text())
    assert log["sandbox"]["name"] == "recording"


def test_a_conftest_sandbox_of_none_is_sandbox_unavailable(pytester: pytest.Pytester) -> None:
    """No sandbox for a verifier that runs code: an ERROR with its record, no request."""
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture(scope='session')\ndef llm_sandbox():\n    return None\n"
    )
    res = _run(pytester, "--llm-endpoint=reference", "--llm-pack=python", "-k", PICK)
    res.assert_outcomes(errors=3)
    res.stdout.fnmatch_lines(["ERROR sandbox_unavailable in 3 scenario(s): *gave no sandbox*"])
    log = json.loads((pytester.path / "log.json").read_text())
    assert [r["failure_mode"] for r in log["results"]] == ["sandbox_unavailable"] * 3
    assert all(not r.get("calls") for r in log["results"]), log["results"][0]


def test_a_judge_whose_check_runs_code_gets_the_sandbox(pytester: pytest.Pytester) -> None:
    """No judge configured: the check decides alone, in the conftest's sandbox."""
    pytester.makeconftest(RECORDING)
    _pack(pytester, "judgedcode", JUDGED_CODE_PACK)
    res = _run(pytester, "--llm-endpoint=reference", "packs/judgedcode", "-m", "sandbox")
    res.assert_outcomes(passed=1)
    assert _calls(pytester)[0] == "made" and len(_calls(pytester)) > 1
    log = json.loads((pytester.path / "log.json").read_text())
    assert log["results"][0]["verdict"]["data"]["judge"] == {"status": "not_configured"}
    res = _run(pytester, "--llm-endpoint=junk:echo", "packs/judgedcode")
    res.assert_outcomes(failed=1)
