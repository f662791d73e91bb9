"""The ``llmbench`` command line, driven through ``main([...])``."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cli import main
from runlogs import make_log

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("cli-runs")
    ref = make_log(tmp, "reference", "ref.json")
    # the same answers with thinking on: only the header and the timings differ
    think = json.loads(ref.read_text())
    think["thinking"] = "on"
    for r in think["results"]:
        r["wall_s"] = 2.0
    (tmp / "think.json").write_text(json.dumps(think))
    return {"ref": ref, "junk": make_log(tmp, "junk", "junk.json"), "think": tmp / "think.json"}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    defs = set(json.loads(out)["$defs"])
    assert {"PackMeta", "ScenarioFile", "VerifierSpec", "verifier.exact"} <= defs


def test_packs_and_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "packs")
    assert code == 0
    smoke = next(line for line in out.splitlines() if line.startswith("smoke "))
    assert smoke.split()[:3] == ["smoke", "1.0.0", "6"] and "Smoke checks" in smoke
    code, out, _ = run(capsys, "packs", "--dir", str(REPO / "packs" / "smoke"))
    assert code == 0 and len(out.splitlines()) == 2
    code, out, _ = run(capsys, "check", str(REPO / "packs" / "smoke"))
    assert code == 0 and "smoke: 6 scenarios, 0 problem(s)" in out

    broken = tmp_path / "broken"
    shutil.copytree(REPO / "packs" / "smoke", broken)
    text = (broken / "basics.yaml").read_text()
    (broken / "basics.yaml").write_text(text.replace("verifier:", "verifierr:", 1))
    code, out, _ = run(capsys, "packs", "--dir", str(broken))
    assert code == 1 and out.startswith("BROKEN")
    code, out, _ = run(capsys, "check", str(broken))
    assert code == 1 and "basics.yaml" in out

    code, _, err = run(capsys, "check", str(tmp_path / "nope"))
    assert code == 2 and "no such directory" in err


def test_inspect(capsys: pytest.CaptureFixture[str], logs: dict[str, Path]) -> None:
    code, out, _ = run(capsys, "inspect", str(logs["junk"]))
    assert code == 0 and "Quality: smoke 0/6 0.0%" in out and "endpoint junk" in out
    code, out, _ = run(capsys, "inspect", str(logs["junk"]), "--failed")
    assert code == 0 and "6 failed scenario(s)" in out
    assert "smoke::capital-exact  verifier_fail" in out
    code, out, _ = run(capsys, "inspect", str(logs["ref"]), "--failed")
    assert out.strip() == "no failed scenarios"
    code, out, _ = run(capsys, "inspect", str(logs["junk"]), "--mode", "not_emitted")
    assert "smoke::weather-tool-call" in out and "1 'not_emitted' scenario(s)" in out
    code, out, _ = run(capsys, "inspect", str(logs["junk"]), "--mode", "timeout")
    assert out.strip() == "no 'timeout' scenarios"


def test_inspect_one_scenario(capsys: pytest.CaptureFixture[str], logs: dict[str, Path]) -> None:
    code, out, _ = run(capsys, "inspect", str(logs["ref"]), "--scenario", "capital-exact")
    assert code == 0
    assert "--- message 1 assistant ---\n    Canberra" in out
    assert "[ok ] answer equals" in out and "raw response" not in out
    code, full, _ = run(
        capsys, "inspect", str(logs["ref"]), "--scenario", "smoke::capital-exact", "--full"
    )
    assert "--- call 1 request ---" in full and "--- call 1 raw response ---" in full
    assert '"temperature": 0.0' in full
    code, _, err = run(capsys, "inspect", str(logs["ref"]), "--scenario", "nope")
    assert code == 2 and "no scenario 'nope'" in err
    code, _, err = run(capsys, "inspect", str(logs["ref"]), "--full")
    assert code == 2 and "--full goes with --scenario" in err


def test_inspect_shows_reasoning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]
) -> None:
    data = json.loads(logs["ref"].read_text())
    msg = data["results"][0]["calls"][0]["response"]["choices"][0]["message"]
    msg["reasoning_content"] = "first I add the numbers"
    msg["content"] = "<think>inline thought</think>" + msg["content"]
    p = tmp_path / "r.json"
    p.write_text(json.dumps(data))
    sid = data["results"][0]["scenario"]
    code, out, _ = run(capsys, "inspect", str(p), "--scenario", sid, "--full")
    assert "--- call 1 reasoning ---" in out
    assert "first I add the numbers" in out and "inline thought" in out


def test_inspect_multi_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]
) -> None:
    data = json.loads(logs["ref"].read_text())
    other = json.loads(logs["junk"].read_text())["results"]
    for r in data["results"]:
        r["model"] = "big"
    for r in other:
        r["model"] = "small"
    data["results"] += other
    p = tmp_path / "multi.json"
    p.write_text(json.dumps(data))
    code, out, _ = run(capsys, "inspect", str(p))
    assert "model big:" in out and "model small:" in out
    assert "Quality: smoke 6/6 100.0%" in out and "Quality: smoke 0/6 0.0%" in out
    code, out, _ = run(capsys, "inspect", str(p), "--failed")
    assert "smoke::capital-exact [small]" in out and "[big]" not in out


def test_ambiguous_scenario_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]
) -> None:
    data = json.loads(logs["ref"].read_text())
    twin = dict(data["results"][0], pack="other", nodeid="other::x")
    data["results"].append(twin)
    p = tmp_path / "r.json"
    p.write_text(json.dumps(data))
    code, _, err = run(capsys, "inspect", str(p), "--scenario", twin["scenario"])
    assert code == 2 and "ambiguous" in err and "other::x" in err


def test_diff(capsys: pytest.CaptureFixture[str], logs: dict[str, Path]) -> None:
    code, out, _ = run(capsys, "diff", str(logs["ref"]), str(logs["junk"]))
    assert code == 0
    assert "-100.0 pp" in out and "regressed (passed in A, failed in B): 6" in out
    assert "fixed (failed in A, passed in B): 0" in out
    code, out, _ = run(capsys, "diff", str(logs["junk"]), str(logs["ref"]), "--json")
    d = json.loads(out)
    assert len(d["fixed"]) == 6 and d["packs"][0]["delta_pp"] == 100.0


def test_diff_thinking_and_versions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]
) -> None:
    code, out, _ = run(capsys, "diff", str(logs["ref"]), str(logs["think"]))
    assert "thinking pack (A) vs on (B): score and time per pack" in out
    assert "wall A s" in out
    data = json.loads(logs["ref"].read_text())
    data["packs"]["smoke"]["version"] = "2.0.0"
    data["results"] = data["results"][1:]
    for r in data["results"]:
        r["pack_version"] = "2.0.0"
    p = tmp_path / "v2.json"
    p.write_text(json.dumps(data))
    code, out, _ = run(capsys, "diff", str(logs["ref"]), str(p))
    assert code == 0
    assert "pack versions differ (1.0.0 in A, 2.0.0 in B); comparing the 5 common" in out


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"format": "pytest-llmbench/runlog@1", "resu', "not valid JSON (truncated?)"),
        ('{"tests": []}', "not a pytest-llmbench run log"),
        ('{"format": "pytest-llmbench/runlog@2", "results": []}', "reads runlog@1"),
    ],
)
def test_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    logs: dict[str, Path],
    content: str,
    words: str,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    for argv in (
        ["inspect", str(bad)],
        ["diff", str(logs["ref"]), str(bad)],
        ["rescore", str(bad)],
        ["report", str(bad), "-o", str(tmp_path / "r.html")],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        assert words in err and len(err.strip().splitlines()) == 1


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "usage: llmbench" in err
    code, _, err = run(capsys, "inspect")
    assert code == 2
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "invalid choice" in err


def test_rescore(capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]) -> None:
    src = tmp_path / "run.json"
    data = json.loads(logs["ref"].read_text())
    rec = next(r for r in data["results"] if r["scenario"] == "capital-exact")
    rec["calls"][0]["response"]["choices"][0]["message"]["content"] = "Sydney"
    src.write_text(json.dumps(data))
    code, out, _ = run(capsys, "rescore", str(src))
    assert code == 0 and "FLIP smoke::capital-exact: passed 1.00 -> failed 0.00" in out
    assert "dry run" in out and json.loads(src.read_text()) == data

    new = tmp_path / "new.json"
    code, out, _ = run(capsys, "rescore", str(src), "--output", str(new))
    saved = json.loads(new.read_text())
    r = next(r for r in saved["results"] if r["scenario"] == "capital-exact")
    assert r["passed"] is False and r["history"][0]["verdict"]["passed"] is True
    assert saved["summary"]["passed"] == 5 and saved["history"][0]["changed"]

    code, out, _ = run(capsys, "rescore", str(src), "--in-place")
    assert code == 0 and "written" in out
    assert json.loads(src.read_text())["summary"]["passed"] == 5
    code, out, _ = run(capsys, "rescore", str(src), "--in-place")
    assert "0 verdict(s) changed" in out  # idempotent

    code, _, err = run(capsys, "rescore", str(src), "--in-place", "--output", str(new))
    assert code == 2 and "not both" in err
    code, _, err = run(capsys, "rescore", str(src), "--packs", str(tmp_path / "none"))
    assert code == 2 and "no such directory" in err


def test_rescore_sandbox_unavailable(
    capsys: pytest.CaptureFixture[str], logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llmbench.core.workflows import rescore as rs

    monkeypatch.setattr(rs, "_needs_sandbox", lambda sc: True)
    monkeypatch.setitem(sys.modules, "pytest_llmbench.core.sandbox", None)
    code, out, _ = run(capsys, "rescore", str(logs["ref"]))
    assert code == 0 and "6 skipped" in out and "give --sandbox NAME" in out
    code, _, err = run(capsys, "rescore", str(logs["ref"]), "--sandbox", "docker")
    assert code == 2 and "sandboxes are not available" in err


def test_baseline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]
) -> None:
    out_file = tmp_path / "base.json"
    ref = str(logs["ref"])
    code, _, err = run(capsys, "baseline", "capture", ref, ref, "-o", str(out_file))
    assert code == 2 and "at least 3 runs" in err
    code, _, err = run(capsys, "baseline", "capture", ref, ref, ref)
    assert code == 2 and "-o FILE" in err
    code, out, _ = run(
        capsys, "baseline", "capture", ref, ref, str(logs["junk"]), "-o", str(out_file)
    )
    assert code == 0 and "smoke 1.0.0: mean 66.7%" in out
    base = json.loads(out_file.read_text())
    assert base["format"] == "pytest-llmbench/baseline@1"
    assert base["packs"]["smoke"]["scenarios"]["capital-exact"]["pass_rate"] == pytest.approx(
        2 / 3, abs=1e-3
    )
    code, out, _ = run(capsys, "baseline", "show", str(out_file))
    assert code == 0 and "6 scenarios (6 unstable)" in out


def test_report(capsys: pytest.CaptureFixture[str], tmp_path: Path, logs: dict[str, Path]) -> None:
    html, md = tmp_path / "r.html", tmp_path / "r.md"
    code, _, err = run(capsys, "report", str(logs["ref"]))
    assert code == 2 and "-o report.html" in err
    code, out, _ = run(
        capsys, "report", str(logs["ref"]), str(logs["junk"]), "-o", str(html), "--md", str(md)
    )
    assert code == 0
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "smoke::capital-exact" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    text = md.read_text()
    assert "# pytest-llmbench: ref.json" in text and "# pytest-llmbench: junk.json" in text


def test_sandbox_commands(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytest_llmbench

    monkeypatch.setitem(sys.modules, "pytest_llmbench.sandbox_cli", None)
    monkeypatch.delattr(pytest_llmbench, "sandbox_cli", raising=False)
    code, _, err = run(capsys, "sandbox", "status")
    assert code == 2 and "not available" in err
    calls: list[str] = []
    fake = types.ModuleType("pytest_llmbench.sandbox_cli")

    def build_image(**kw: Any) -> int:
        calls.append(f"build {kw}")
        return 0

    def status(**kw: Any) -> str:
        calls.append("status")
        return "image: ready"

    fake.build_image = build_image  # type: ignore[attr-defined]
    fake.status = status  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pytest_llmbench.sandbox_cli", fake)
    monkeypatch.setattr(pytest_llmbench, "sandbox_cli", fake, raising=False)
    code, _, _ = run(capsys, "sandbox", "build", "--force", "--image", "img:1")
    assert code == 0
    code, out, _ = run(capsys, "sandbox", "status")
    assert code == 0 and out.strip() == "image: ready"
    assert calls == ["build {'image': 'img:1', 'force': True}", "status"]
    code, _, err = run(capsys, "sandbox", "status", "--force")
    assert code == 2 and "--force goes with" in err
