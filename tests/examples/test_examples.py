"""Every folder under examples/ runs here, so the examples cannot rot."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def _steps() -> list[dict[str, Any]]:
    jobs = _workflow()["jobs"]
    assert len(jobs) == 1
    (job,) = jobs.values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def _pytest_args() -> list[str]:
    runs = [s["run"] for s in _steps() if "run" in s and s["run"].lstrip().startswith("pytest")]
    assert len(runs) == 1, "the workflow should run pytest exactly once"
    return shlex.split(runs[0].replace("$ENDPOINT", "reference"))[1:]


def test_workflow_is_valid_and_consistent() -> None:
    wf = _workflow()
    # PyYAML reads the bare key `on` as True.
    assert wf.get("on", wf.get(True)), "workflow has no trigger"
    args = _pytest_args()
    assert any(a.startswith("--llm-endpoint=") for a in args)
    assert args[args.index("-m") + 1] == "toolcall"
    junit = next(a.split("=", 1)[1] for a in args if a.startswith("--junitxml="))
    log = next(a.split("=", 1)[1] for a in args if a.startswith("--llm-log="))
    steps = _steps()
    publish = [s for s in steps if "publish-unit-test-result" in s.get("uses", "")]
    assert publish and publish[0]["with"]["files"] == junit
    upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload and log in upload[0]["with"]["path"]
    for s in publish + upload:
        assert "cancelled()" in s.get("if", ""), "reports must be published when tests fail"


def test_workflow_pytest_command_runs(pytester: pytest.Pytester) -> None:
    """The workflow's own pytest command, with the reference endpoint."""
    args = _pytest_args()
    res = pytester.runpytest_subprocess(*args)
    assert res.ret == 0, res.stdout.str()[-2000:]
    junit = next(a.split("=", 1)[1] for a in args if a.startswith("--junitxml="))
    log = next(a.split("=", 1)[1] for a in args if a.startswith("--llm-log="))
    cases = ET.parse(pytester.path / junit).getroot().iter("testcase")
    props = [
        {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in cases
        if not case.find("skipped")
    ]
    assert props and all(p.get("llmbench.pack") == "toolcall" for p in props)
    data = run_log(pytester.path / log)
    assert set(data["summary"]["packs"]) == {"toolcall"}
    assert data["summary"]["passed"] == len(props)
