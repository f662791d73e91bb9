"""Run-log workflows: migrate/load, diff, rescore, baselines and gates (no CLI)."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.record import records_of
from pytest_llmbench.core.runlog import FORMAT, RunLogError, load_runlog, summary_of
from pytest_llmbench.core.workflows import migrate
from pytest_llmbench.core.workflows.baseline import (
    BaselineError,
    capture_baseline,
    load_baseline,
)
from pytest_llmbench.core.workflows.diff import diff_runs
from pytest_llmbench.core.workflows.gates import evaluate_gates
from pytest_llmbench.core.workflows.rescore import rescore
from pytest_llmbench.report.markdown import render_markdown
from runlogs import make_log

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    return {
        "ref": make_log(tmp, "reference", "ref.json"),
        "junk": make_log(tmp, "junk", "junk.json"),
    }


# -- hand-made records -------------------------------------------------------------------
def rec(pack: str, sid: str, passed: bool, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "nodeid": f"{pack}::{sid}",
        "pack": pack,
        "pack_version": "1.0.0",
        "scenario": sid,
        "passed": passed,
        "score": 1.0 if passed else 0.0,
        "failure_mode": None if passed else "verifier_fail",
        "error": None,
        "verdict": {"passed": passed, "score": 1.0 if passed else 0.0, "detail": "d"},
        "latency_s": 1.0,
        "wall_s": 1.0,
        "completion_tokens": 10,
    }
    r.update(kw)
    return r


def run_of(results: list[dict[str, Any]], **header: Any) -> dict[str, Any]:
    packs = {r["pack"]: {"version": r.get("pack_version"), "title": r["pack"]} for r in results}
    data = {
        "format": FORMAT,
        "model": "m",
        "thinking": "pack",
        "sampling": {"mode": "canonical", "temperature": 0.0},
        "packs": packs,
        "results": results,
    }
    data.update(header)
    data["summary"] = summary_of(results)
    return data


def pack_results(pack: str, n: int, failed: set[int], **kw: Any) -> list[dict[str, Any]]:
    return [rec(pack, f"s{i:02d}", i not in failed, **kw) for i in range(n)]


# -- loading and formats --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"format": "pytest-llmbench/runlog@1", "results": [', "not valid JSON (truncated?)"),
        ("", "empty file"),
        ('{"hello": 1}', "no 'format' key"),
        ("[1, 2]", "top level is a list"),
        ('{"format": "something/else@3"}', "format 'something/else@3'"),
        ('{"format": "pytest-llmbench/runlog@7", "results": []}', "reads runlog@1"),
        ('{"format": "pytest-llmbench/baseline@1", "packs": {}}', "baseline file"),
        ('{"llmbench": {"run_log": "x/run.json"}}', "pytest-json-report file; pass the run log"),
        ('{"format": "pytest-llmbench/runlog@1", "results": [3]}', "results[0]"),
    ],
)
def test_bad_run_logs_give_one_line(tmp_path: Path, content: str, words: str) -> None:
    p = tmp_path / "x.json"
    p.write_text(content)
    with pytest.raises(RunLogError) as exc:
        load_runlog(p)
    assert words in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(RunLogError, match="no such file"):
        load_runlog(tmp_path / "nope.json")
    with pytest.raises(RunLogError, match="directory"):
        load_runlog(tmp_path)


def test_journal_is_recovered(tmp_path: Path) -> None:
    p = tmp_path / "run.json"
    header = {"header": {"format": FORMAT, "model": "m"}}
    lines = [json.dumps(header), json.dumps(rec("smoke", "a", True)), '{"torn']
    (tmp_path / "run.json.partial.jsonl").write_text("\n".join(lines))
    data = load_runlog(p)
    assert data["incomplete"] is True and len(data["results"]) == 1


def test_older_format_is_migrated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(migrate, "CURRENT", 2)
    monkeypatch.setitem(migrate.MIGRATIONS, 1, lambda d: {**d, "migrated": True})
    out = migrate.migrate_runlog({"format": FORMAT, "results": []})
    assert out["migrated"] and out["format"] == "pytest-llmbench/runlog@2"
    monkeypatch.setattr(migrate, "CURRENT", 3)
    with pytest.raises(RunLogError, match="too old to migrate"):
        migrate.migrate_runlog({"format": FORMAT, "results": []})


# -- diff ---------------------------------------------------------------------------------
def test_diff_flips_both_ways() -> None:
    a = run_of(pack_results("p", 4, {1}) + pack_results("q", 2, set()))
    b = run_of(pack_results("p", 4, {2}) + pack_results("q", 2, {0}))
    d = diff_runs(a, b)
    assert [(f.key[1], f.key[2]) for f in d.regressed] == [("p", "s02"), ("q", "s00")]
    assert [(f.key[1], f.key[2]) for f in d.fixed] == [("p", "s01")]
    text = "\n".join(d.lines())
    assert "+0.0 pp" in text and "-50.0 pp" in text
    assert d.thinking is None and "score and time per pack" not in text


def test_diff_different_pack_versions_compares_common() -> None:
    a = run_of(pack_results("p", 4, set()))
    b_res = pack_results("p", 3, {0}, pack_version="2.0.0") + [
        rec("p", "new", True, pack_version="2.0.0")
    ]
    d = diff_runs(a, run_of(b_res))
    note = " ".join(d.notes)
    assert "versions differ (1.0.0 in A, 2.0.0 in B)" in note
    assert "3 common scenario(s)" in note and "1 only in A, 1 only in B" in note
    (p,) = d.packs
    assert (p.passed_a, p.scored_a, p.passed_b, p.scored_b) == (3, 3, 2, 3)


def test_diff_errors_and_thinking_table() -> None:
    a = run_of(pack_results("p", 3, set()), thinking="off")
    b_res = pack_results("p", 3, set(), wall_s=4.0)
    b_res[1].update(passed=False, failure_mode="timeout", error="timeout: slow")
    d = diff_runs(a, run_of(b_res, thinking="on"))
    assert [(f.before, f.after) for f in d.errors] == [("passed", "error")]
    assert not d.regressed
    assert d.thinking == ("off", "on")
    text = "\n".join(d.lines())
    assert "thinking off (A) vs on (B)" in text and "4.00" in text  # wall ratio 8 s / 2 s = 4


def test_diff_multi_model_keys_by_model() -> None:
    a = run_of([rec("p", "x", True, model="m1"), rec("p", "x", True, model="m2")])
    b = run_of([rec("p", "x", True, model="m1"), rec("p", "x", False, model="m2")])
    d = diff_runs(a, b)
    assert [f.key for f in d.regressed] == [("m2", "p", "x")]
    assert {p.name for p in d.packs} == {"p [m1]", "p [m2]"}


# -- rescore -----------------------------------------------------------------------------
def test_rescore_real_log_flips_and_keeps_history(logs: dict[str, Path]) -> None:
    data = load_runlog(logs["ref"])
    unchanged = rescore(copy.deepcopy(data))
    assert unchanged.checked == len(data["results"]) and not unchanged.changes
    target = next(r for r in data["results"] if r["scenario"] == "capital-exact")
    target["calls"][0]["response"]["choices"][0]["message"]["content"] = "Sydney"
    # and pretend an old verifier had wrongly failed another one
    other = next(r for r in data["results"] if r["scenario"] == "colours-contains")
    other.update(passed=False, score=0.0, failure_mode="verifier_fail")
    other["verdict"] = {**other["verdict"], "passed": False, "score": 0.0, "detail": "old bug"}
    res = rescore(data)
    flips = {c.label: c for c in res.changes}
    assert set(flips) == {"smoke::capital-exact", "smoke::colours-contains"}
    text = "\n".join(res.lines())
    assert "FLIP smoke::capital-exact: passed 1.00 -> failed 0.00" in text
    assert "Sydney" in text and "was: old bug" in text
    assert target["passed"] is False and target["failure_mode"] == "verifier_fail"
    assert target["history"][0]["verdict"]["passed"] is True
    assert other["passed"] is True
    assert data["summary"]["packs"]["smoke"]["passed"] == 5
    assert data["history"][-1]["action"] == "rescore"


def test_rescore_with_a_changed_pack_version(logs: dict[str, Path], tmp_path: Path) -> None:
    pack = tmp_path / "smoke"
    shutil.copytree(REPO / "packs" / "smoke", pack)
    meta = (pack / "pack.yaml").read_text().replace('version: "1.0.0"', 'version: "1.1.0"')
    (pack / "pack.yaml").write_text(meta)
    data = load_runlog(logs["ref"])
    res = rescore(data, pack_dirs=[tmp_path])
    assert any("version 1.1.0" in n for n in res.notes)
    assert data["packs"]["smoke"]["version"] == "1.1.0"
    assert all(r["pack_version"] == "1.1.0" for r in data["results"])


def test_rescore_skips_what_it_cannot_judge(logs: dict[str, Path]) -> None:
    data = load_runlog(logs["ref"])
    data["results"][0].update(failure_mode="timeout", passed=False)
    data["results"][1]["pack"] = "nosuchpack"
    data["results"][2]["scenario"] = "gone"
    data["results"][3]["calls"] = []
    res = rescore(data)
    skipped = "\n".join(res.skipped)
    assert "timeout, no response" in skipped
    assert "'nosuchpack' not found" in skipped
    assert "no such scenario" in skipped
    assert "no saved response" in skipped


def test_rescore_sandboxed_verifiers(
    logs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    from pytest_llmbench.core.workflows import rescore as rs
    from pytest_llmbench.core.workflows.records import WorkflowError

    monkeypatch.setattr(rs, "_needs_sandbox", lambda sc: sc.id == "capital-exact")
    res = rescore(load_runlog(logs["ref"]))
    assert any("capital-exact: its verifier runs code; give --sandbox" in s for s in res.skipped)

    monkeypatch.setitem(sys.modules, "pytest_llmbench.core.sandbox", None)
    with pytest.raises(WorkflowError, match="sandboxes are not available"):
        rescore(load_runlog(logs["ref"]), sandbox="docker")

    opened: list[str] = []

    class Box:
        closed = False

        def close(self) -> None:
            Box.closed = True

    fake = types.ModuleType("pytest_llmbench.core.sandbox")

    def open_sandbox(name: str) -> Box:
        opened.append(name)
        return Box()

    fake.open_sandbox = open_sandbox  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pytest_llmbench.core.sandbox", fake)
    res = rescore(load_runlog(logs["ref"]), sandbox="bwrap")
    assert opened == ["bwrap"] and Box.closed and res.checked == 6


# -- baselines and gates -------------------------------------------------------------------
def baseline_of(runs: list[list[dict[str, Any]]], **header: Any) -> dict[str, Any]:
    return capture_baseline([(f"r{i}", run_of(r, **header)) for i, r in enumerate(runs)])


def gates(run: dict[str, Any], baseline: dict[str, Any] | None, **kw: Any) -> list[str]:
    args: dict[str, Any] = {
        "baseline": baseline,
        "max_drop_pp": None,
        "fail_under": {},
        "sampling": run["sampling"],
        "allow_noncanonical": False,
    }
    args.update(kw)
    return evaluate_gates(run["summary"], records_of(run), **args)


def test_baseline_capture_statistics() -> None:
    b = baseline_of(
        [pack_results("p", 10, set()), pack_results("p", 10, {9}), pack_results("p", 10, {8, 9})]
    )
    p = b["packs"]["p"]
    assert p["score_pct"] == [100.0, 90.0, 80.0] and p["mean_pct"] == 90.0
    assert p["std_pct"] == pytest.approx(10.0)
    assert p["scenarios"]["s09"]["pass_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert p["scenarios"]["s00"]["pass_rate"] == 1.0 and p["version"] == "1.0.0"
    assert b["sampling"]["tag"] == "canonical"


@pytest.mark.parametrize(
    ("runs", "words"),
    [
        (2, "at least 3 runs"),
        ("versions", "different versions"),
        ("sampling", "mix canonical and non-canonical"),
        ("models", "multi-model run"),
    ],
)
def test_baseline_capture_refuses(runs: Any, words: str) -> None:
    good = [(f"r{i}", run_of(pack_results("p", 3, set()))) for i in range(3)]
    if runs == 2:
        good = good[:2]
    elif runs == "versions":
        good[2] = ("r2", run_of(pack_results("p", 3, set(), pack_version="2.0.0")))
    elif runs == "sampling":
        good[1][1]["sampling"] = {"mode": "custom", "temperature": 0.7}
    elif runs == "models":
        good[0] = ("r0", run_of([rec("p", "a", True, model="x"), rec("p", "a", True, model="y")]))
    with pytest.raises(BaselineError, match=words):
        capture_baseline(good)


def test_gate_passes_when_nothing_dropped() -> None:
    b = baseline_of([pack_results("p", 20, set())] * 3)
    assert gates(run_of(pack_results("p", 20, set())), b, max_drop_pp=5) == []
    assert gates(run_of(pack_results("p", 20, set())), b) == []


def test_gate_fails_on_a_drop_beyond_max_drop_and_names_scenarios() -> None:
    b = baseline_of([pack_results("p", 20, set())] * 3)
    msgs = gates(run_of(pack_results("p", 20, {3, 7})), b, max_drop_pp=5)
    assert len(msgs) == 1
    assert msgs[0].startswith("p: 90.0% vs baseline 100.0%: dropped 10.0 pp")
    assert "the allowed 5 pp" in msgs[0] and "regressed: s03, s07" in msgs[0]


def test_noise_gate_uses_measured_std_with_a_floor() -> None:
    noisy = baseline_of(
        [
            pack_results("p", 20, set()),
            pack_results("p", 20, {0, 1}),
            pack_results("p", 20, {0, 1, 2, 3}),
        ]
    )  # mean 90, std 10
    # 10 pp under the mean is inside 2 std (20 pp): passes without a max drop ...
    assert gates(run_of(pack_results("p", 20, set(range(4)))), noisy) == []
    # ... but the explicit max drop still caps it
    msgs = gates(run_of(pack_results("p", 20, set(range(4)))), noisy, max_drop_pp=5)
    assert len(msgs) == 1 and "the allowed 5 pp" in msgs[0] and "noise" not in msgs[0]
    # beyond 2 std fails even with a generous max drop
    msgs = gates(run_of(pack_results("p", 20, set(range(10)))), noisy, max_drop_pp=50)
    assert len(msgs) == 1 and "its noise (20.0 pp" in msgs[0]
    # s00/s01 failed in 2 of 3 baseline runs: not regressions; s04.. were stable
    assert "s00" not in msgs[0] and "s04" in msgs[0]
    # a stable baseline (std 0) still tolerates less than the floor of 2 pp
    stable = baseline_of([pack_results("p", 100, set())] * 3)
    assert gates(run_of(pack_results("p", 100, {5})), stable) == []
    assert len(gates(run_of(pack_results("p", 100, {5, 6, 7})), stable)) == 1


def test_gate_ignores_improvements_and_unknown_packs() -> None:
    b = baseline_of([pack_results("p", 10, {0, 1})] * 3)
    run = run_of(pack_results("p", 10, set()) + pack_results("other", 3, {0, 1, 2}))
    assert gates(run, b, max_drop_pp=0) == []


def test_fail_under_floors() -> None:
    run = run_of(pack_results("p", 10, {0, 1}) + pack_results("q", 4, set()))
    assert gates(run, None, fail_under={"p": 80, "q": 100}) == []
    msgs = gates(run, None, fail_under={"p": 80.5, "zz": 10})
    assert msgs == [
        "p: 80.0% is under the floor of 80.5%; failed: s00, s01",
        "zz: fail-under 10%: the pack did not run",
    ]
    errs = pack_results("e", 2, {0, 1}, failure_mode="timeout")
    assert gates(run_of(errs), None, fail_under={"e": 1}) == [
        "e: fail-under 1%: no scored scenario (all errored)"
    ]


def test_gate_refuses_non_canonical_against_canonical() -> None:
    b = baseline_of([pack_results("p", 10, set())] * 3)
    run = run_of(pack_results("p", 10, {0, 1, 2}), sampling={"mode": "custom", "temperature": 1})
    msgs = gates(run, b, max_drop_pp=5)
    assert len(msgs) == 1 and "refusing to compare a non-canonical run with a canonical" in msgs[0]
    allowed = gates(run, b, max_drop_pp=5, allow_noncanonical=True)
    assert len(allowed) == 1 and allowed[0].startswith("p: 70.0%")
    # floors still apply when the comparison is refused
    assert len(gates(run, b, max_drop_pp=5, fail_under={"p": 90})) == 2


def test_gate_refuses_another_pack_version() -> None:
    b = baseline_of([pack_results("p", 10, set())] * 3)
    run = run_of(pack_results("p", 10, set(), pack_version="1.1.0"))
    (msg,) = gates(run, b, max_drop_pp=5)
    assert "version 1.1.0 differs from the baseline's 1.0.0" in msg


def test_load_baseline(tmp_path: Path, logs: dict[str, Path]) -> None:
    b = baseline_of([pack_results("p", 3, set())] * 3)
    good = tmp_path / "b.json"
    good.write_text(json.dumps(b))
    assert load_baseline(good)["packs"]["p"]["mean_pct"] == 100.0
    cases = {
        "missing.json": None,
        "trunc.json": json.dumps(b)[:40],
        "other.json": '{"format": "pytest-llmbench/baseline@9", "packs": {}}',
        "damaged.json": '{"format": "pytest-llmbench/baseline@1", "packs": {"p": 1}}',
    }
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_text(content)
        with pytest.raises(BaselineError) as exc:
            load_baseline(tmp_path / name)
        assert name in str(exc.value)
    with pytest.raises(BaselineError, match="this is a run log"):
        load_baseline(logs["ref"])


def test_gates_on_real_runs(logs: dict[str, Path]) -> None:
    ref = load_runlog(logs["ref"])
    junk = load_runlog(logs["junk"])
    b = capture_baseline([("a", ref), ("b", ref), ("c", ref)])
    assert gates(ref, b, max_drop_pp=0) == []
    (msg,) = gates(junk, b, max_drop_pp=10)
    assert msg.startswith("smoke: 0.0% vs baseline 100.0%") and "capital-exact" in msg


# -- markdown ------------------------------------------------------------------------------
def test_markdown_report(logs: dict[str, Path]) -> None:
    junk = load_runlog(logs["junk"])
    junk["results"][0]["verdict"]["detail"] = "found `a|b` <b>x</b>\nnext"
    md = render_markdown(junk)
    assert "| smoke | 1.0.0 | 0/6 | 0.0% |" in md
    assert "**Quality: smoke 0/6 0.0% \\| overall 0/6 0.0%, 0 error(s)**" in md
    assert "## Failure breakdown" in md and "| smoke | verifier_fail |" in md
    assert "\\`a\\|b\\` \\<b\\>x\\</b\\> next" in md
    assert "Quality: smoke 6/6 100.0%" in render_markdown(load_runlog(logs["ref"]))
