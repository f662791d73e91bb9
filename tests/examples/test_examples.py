"""Every folder under examples/ runs here, so the examples cannot rot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from fakeserver import FakeServer, chat_reply

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
WORKFLOW = EXAMPLES / "github-actions" / "llmbench.yml"


def copy_example(pytester: pytest.Pytester, name: str) -> Path:
    dest = pytester.path / name
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run_log(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_readme_lists_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for entry in EXAMPLES.iterdir():
        if entry.is_dir():
            assert f"`{entry.name}/" in readme, f"examples/README.md does not mention {entry.name}"


def test_function_scenarios(pytester: pytest.Pytester) -> None:
    copy_example(pytester, "test_functions")
    res = pytester.runpytest_subprocess(
        "test_functions", "--llm-endpoint=reference", "--llm-log=ref.json", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(passed=3)
    log = run_log(pytester.path / "ref.json")
    assert set(log["summary"]["packs"]) == {"geography", "arithmetic"}
    assert log["summary"]["passed"] == 3

    res = pytester.runpytest_subprocess(
        "test_functions", "--llm-endpoint=junk", "--llm-log=junk.json", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(failed=3)
    log = run_log(pytester.path / "junk.json")
    assert {r["failure_mode"] for r in log["results"]} == {"verifier_fail"}


def test_custom_pack_selfcheck_and_run(pytester: pytest.Pytester) -> None:
    copy_example(pytester, "custom_pack")
    pack = pytester.path / "custom_pack" / "packs" / "household"
    check = subprocess.run(
        [sys.executable, "-m", "pytest_llmbench.core.selfcheck", str(pack)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 problem(s)" in check.stdout

    res = pytester.runpytest_subprocess(
        "custom_pack/packs",
        "--llm-endpoint=reference",
        "--llm-log=ref.json",
        "-p",
        "no:cacheprovider",
    )
    res.assert_outcomes(passed=3)
    res.stdout.fnmatch_lines(["*household 3/3 100.0%*"])
    res = pytester.runpytest_subprocess(
        "custom_pack/packs", "--llm-endpoint=junk", "-m", "household", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(failed=3)


def test_custom_endpoint_fixture_answers(pytester: pytest.Pytester) -> None:
    copy_example(pytester, "custom_endpoint")
    # The fixture answers, whatever --llm-endpoint names: junk would fail everything.
    for spec in ("reference", "junk"):
        res = pytester.runpytest_subprocess(
            "custom_endpoint/packs",
            f"--llm-endpoint={spec}",
            f"--llm-log={spec}.json",
            "-p",
            "no:cacheprovider",
        )
        res.assert_outcomes(passed=2)
        log = run_log(pytester.path / f"{spec}.json")
        models = {c["response"]["model"] for r in log["results"] for c in r["calls"]}
        assert models == {"unit-converter-0.1"}


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def _steps() -> dict[str, dict[str, Any]]:
    """The job's steps by id (the ones the tests run carry an id)."""
    jobs = _workflow()["jobs"]
    assert len(jobs) == 1
    (job,) = jobs.values()
    return {str(s.get("id") or s.get("name") or s.get("uses")): s for s in job["steps"]}


def test_workflow_is_valid_and_consistent() -> None:
    wf = _workflow()
    # PyYAML reads the bare key `on` as True.
    assert wf.get("on", wf.get(True)), "workflow has no trigger"
    steps = _steps()
    install = steps["install"]["run"]
    assert 'pip install "git+${LLMBENCH_GIT}' in install, "install from the repository"
    gate = steps["gate"]["run"]
    assert "--llm-fail-under=" in gate and "--junitxml=reports/llmbench-junit.xml" in gate
    publish = [s for s in steps.values() if "publish-unit-test-result" in s.get("uses", "")]
    assert publish and publish[0]["with"]["files"] == "reports/llmbench-junit.xml"
    upload = [s for s in steps.values() if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload
    for f in ("llmbench-junit.xml", "llmbench-report.html", "llmbench-run.json"):
        assert f"reports/{f}" in upload[0]["with"]["path"]
    for s in [*publish, *upload, steps["report"]]:
        assert "cancelled()" in s.get("if", ""), "reports must be published when the gate fails"
    assert "${{" not in "".join(steps[k]["run"] for k in ("install", "gate", "report")), (
        "run scripts take expressions through env only (the test runs them verbatim)"
    )


def _half_right_server(srv: FakeServer) -> int:
    """Answer three toolcall scenarios in four with their reference, the rest wrongly
    (like a mediocre model); returns how many are answered right."""
    from pytest_llmbench.core.endpoint import Params
    from pytest_llmbench.core.packs import builtin_packs_dir, load_pack
    from pytest_llmbench.core.responders import ReferenceResponder
    from pytest_llmbench.core.wire import response_record

    scenarios = load_pack(builtin_packs_dir() / "toolcall").scenarios
    right = [sc for i, sc in enumerate(scenarios) if i % 4 != 0]
    ref = ReferenceResponder()

    def first_user(messages: list[dict[str, Any]]) -> str:
        return next((str(m.get("content")) for m in messages if m.get("role") == "user"), "")

    by_prompt = {first_user(sc.initial_messages()): sc for sc in right}

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        sc = by_prompt.get(first_user(body["messages"]))
        if sc is not None:
            reply = ref.for_scenario(sc).chat(body["messages"], Params())
            return 200, response_record(reply.turn, reply.usage), {}
        return 200, chat_reply("I cannot help with that."), {}

    srv.script = script
    return len(right)


@pytest.fixture(scope="module")
def workflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A git repository of this checkout, a fresh virtualenv, and the workflow's own
    install step run in it: pytest-llmbench installed from the repository."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pytest.importorskip("hatchling", reason="hatchling (the build backend) is not installed")
    root = tmp_path_factory.mktemp("wf")
    repo = root / "pytest-llmbench"
    repo.mkdir()
    for name in ("pyproject.toml", "README.md", "src", "packs"):
        src = EXAMPLES.parent / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, repo / name)
    git = ["git", "-C", str(repo), "-c", "user.name=ci", "-c", "user.email=ci@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], check=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "LLMBENCH_"))}
    env.update(
        PATH=f"{venv / 'bin'}:{env['PATH']}",
        VIRTUAL_ENV=str(venv),
        # offline: dependencies come from the system site-packages, the build backend too
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",
        WORKDIR=str(work),
    )
    step = _steps()["install"]
    run_env = {**env, "LLMBENCH_GIT": f"file://{repo}", "LLMBENCH_REF": "main"}
    assert set(step["env"]) == {"LLMBENCH_GIT", "LLMBENCH_REF"}
    res = _run_step(step, run_env, work)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "toolcall" in res.stdout  # `llmbench packs` of the installed copy
    where = subprocess.run(
        ["python", "-c", "import pytest_llmbench; print(pytest_llmbench.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), f"not the installed copy: {where}"
    return env


def _run_step(step: dict[str, Any], env: dict[str, str], cwd: Path) -> Any:
    # GitHub runs `run:` with bash -e -o pipefail
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(("floor", "status"), [(60, 0), (90, 6)])
def test_workflow_steps_gate(workflow_env: dict[str, str], floor: int, status: int) -> None:
    """The install, gate and report steps, verbatim, against a loopback server that
    gets 3 of 4 toolcall scenarios right: a floor of 60% holds (exit 0, the wrong
    answers still FAILED test cases in JUnit), 90% fails with the documented 6."""
    steps = _steps()
    work = Path(workflow_env["WORKDIR"]) / f"floor{floor}"
    work.mkdir()
    with FakeServer() as srv:
        right = _half_right_server(srv)
        assert set(steps["gate"]["env"]) == {"LLMBENCH_API_KEY", "ENDPOINT", "FAIL_UNDER"}
        env = {
            **workflow_env,
            "LLMBENCH_API_KEY": "",
            "ENDPOINT": srv.url,
            "FAIL_UNDER": str(floor),
        }
        gate = _run_step(steps["gate"], env, work)
    out = gate.stdout + gate.stderr
    assert gate.returncode == status, out[-3000:]
    assert f"exit status {status}" in out
    root = ET.parse(work / "reports" / "llmbench-junit.xml").getroot()
    cases = list(root.iter("testcase"))
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(cases) - len(failed) == right and failed, "JUnit lists every scenario"
    assert all(c.find("error") is None for c in cases)
    log = run_log(work / "reports" / "llmbench-run.json")
    assert set(log["summary"]["packs"]) == {"toolcall"}
    rep = _run_step(steps["report"], workflow_env, work)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    html = (work / "reports" / "llmbench-report.html").read_text()
    assert "toolcall" in html
