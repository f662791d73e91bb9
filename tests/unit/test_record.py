"""The typed run record: written as before, read from any older run log, one source
of the ``llmbench.*`` properties."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.endpoint import ChatParams
from pytest_llmbench.core.endpoint_kinds import make_endpoint
from pytest_llmbench.core.record import RunHeader, RunRecord, records_of, user_properties
from pytest_llmbench.core.runlog import load_runlog, summary_of
from pytest_llmbench.core.runner import run_scenario
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.workflows import inspect as ins
from pytest_llmbench.core.workflows.diff import diff_runs
from pytest_llmbench.core.workflows.records import run_title
from pytest_llmbench.core.workflows.rescore import rescore
from pytest_llmbench.report.html import render_html
from pytest_llmbench.report.markdown import render_markdown
from runlogs import make_log

# Records exactly as earlier versions wrote them (key order included).
SCENARIO = {
    "pack": "smoke",
    "scenario": "capital",
    "passed": False,
    "score": 0.0,
    "failure_mode": "verifier_fail",
    "error": None,
    "verdict": {
        "passed": False,
        "score": 0.0,
        "detail": "expected Paris",
        "category": "wrong_answer",
        "trace": ["[FAIL] equals Paris"],
        "metrics": {"m": [1.0, 2.0]},
        "data": {},
    },
    "latency_s": 0.25,
    "wall_s": 0.3,
    "completion_tokens": 7,
    "repeat": 1,
    "calls": [{"request": {"model": "x"}, "response": {"choices": []}, "latency_s": 0.25}],
    "retries": 2,
    "messages": [{"role": "user", "content": "Capital of France?"}],
    "events": [],
    "state": None,
    "nodeid": "smoke::capital[m1]",
    "pack_version": "1.0",
    "tags": ["geo"],
    "model": "m1",
    "model_label": "m1",
    "outcome": "failed",
    "resumed": True,
}
FUNCTION: dict[str, Any] = {
    "nodeid": "test_fn.py::test_capital",
    "pack": "custom",
    "pack_version": None,
    "scenario": "test_capital",
    "passed": True,
    "score": 1.0,
    "failure_mode": None,
    "error": None,
    "verdict": {"passed": True, "detail": ""},
    "latency_s": 0.1,
    "completion_tokens": None,
    "calls": [{"request": {}, "response": {}}],
    "kind": "function",
    "outcome": "passed",
}
BROKEN = {
    "nodeid": "demo/zz_broken.yaml",
    "pack": "demo",
    "scenario": "zz_broken.yaml",
    "passed": False,
    "score": 0.0,
    "failure_mode": "pack_error",
    "error": "zz_broken.yaml:2: verifier missing",
    "outcome": "error",
}


@pytest.mark.parametrize("written", [SCENARIO, FUNCTION, BROKEN], ids=["scenario", "fn", "pack"])
def test_records_are_written_byte_for_byte_as_before(written: dict[str, Any]) -> None:
    rec = RunRecord.from_json(written)
    assert json.dumps(rec.to_json()) == json.dumps(written)


def test_a_new_scenario_record_has_the_keys_it_always_had() -> None:
    sc = Scenario(
        id="capital",
        prompt="Capital of France? One word.",
        verifier={"type": "exact", "value": "Paris"},  # type: ignore[arg-type]
        reference="Paris",
        counterexamples=["London", "Rome"],
    )
    res = run_scenario(sc, None, make_endpoint("reference"), ChatParams())
    out = RunRecord.of_result(res, nodeid="p::capital", pack_version="1", model="m").to_json()
    assert list(out) == list(SCENARIO)[:20]
    assert out["passed"] is True and out["verdict"]["passed"] is True
    assert out["calls"][0]["response"]["choices"][0]["message"]["content"] == "Paris"
    assert out["model"] == "m" and "model_label" not in out and "outcome" not in out
    label = RunRecord.of_result(res, model="m", model_label="big").to_json()
    assert (label["model"], label["model_label"]) == ("big", "big")


def test_kinds_are_recognised() -> None:
    assert RunRecord.from_json(SCENARIO).kind == "scenario"
    assert RunRecord.from_json(FUNCTION).kind == "function"
    assert RunRecord.from_json(BROKEN).kind == "pack_error"
    assert RunRecord.from_json(BROKEN).is_error
    assert not RunRecord.from_json(SCENARIO).is_error


def test_unknown_keys_are_kept_and_junk_values_read_as_missing() -> None:
    newer = {**SCENARIO, "judge_votes": [1, 2], "cost_usd": 0.01}
    out = RunRecord.from_json(newer).to_json()
    assert out["judge_votes"] == [1, 2] and out["cost_usd"] == 0.01
    junk = RunRecord.from_json(
        {
            "pack": "p",
            "scenario": "s",
            "score": None,
            "latency_s": "slow",
            "completion_tokens": True,
            "calls": "none",
            "tags": "a",
            "verdict": [1],
            "retries": "2",
            "history": [3, {"at": "x"}],
        }
    )
    assert (junk.score, junk.latency_s, junk.completion_tokens) == (0.0, 0.0, None)
    assert (junk.calls, junk.tags, junk.verdict, junk.retries) == ((), (), None, 0)
    assert junk.history == ({"at": "x"},)
    assert (junk.category, junk.detail, junk.trace, junk.metrics) == (None, "", [], {})


def test_typed_views_of_the_verdict() -> None:
    rec = RunRecord.from_json(SCENARIO)
    assert rec.category == "wrong_answer" and rec.detail == "expected Paris"
    assert rec.trace == ["[FAIL] equals Paris"] and rec.metrics == {"m": [1.0, 2.0]}
    assert rec.reason == "expected Paris"
    assert rec.replace(error="timeout: slow").reason == "timeout: slow"
    assert rec.label == "smoke::capital[m1]"
    assert rec.replace(nodeid=None).label == "smoke::capital"


def test_user_properties_per_kind() -> None:
    assert user_properties(RunRecord.from_json(SCENARIO)) == [
        ("llmbench.pack", "smoke"),
        ("llmbench.scenario", "capital"),
        ("llmbench.passed", False),
        ("llmbench.score", 0.0),
        ("llmbench.failure_mode", "verifier_fail"),
        ("llmbench.category", "wrong_answer"),
        ("llmbench.latency_s", 0.25),
        ("llmbench.completion_tokens", 7),
        ("llmbench.repeat", 1),
        ("llmbench.model", "m1"),
    ]
    assert user_properties(RunRecord.from_json(FUNCTION)) == [
        ("llmbench.pack", "custom"),
        ("llmbench.passed", True),
        ("llmbench.score", 1.0),
        ("llmbench.failure_mode", ""),
    ]
    assert user_properties(RunRecord.from_json(BROKEN)) == []


# -- older run logs, real ones made older ------------------------------------------------
# Keys each older version did not write yet (or wrote only sometimes).
BEFORE_REPEATS = ("repeat", "retries", "events", "state", "model", "model_label", "outcome")
BEFORE_TAGS = (*BEFORE_REPEATS, "tags", "wall_s", "messages")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    return {
        "ref": make_log(tmp, "reference", "ref.json"),
        "junk": make_log(tmp, "junk", "junk.json"),
    }


def _older(path: Path, drop: tuple[str, ...], tmp: Path, name: str) -> Path:
    data = json.loads(path.read_text())
    for rec in data["results"]:
        for key in drop:
            rec.pop(key, None)
    out = tmp / name
    out.write_text(json.dumps(data))
    return out


def _as_journal(path: Path, tmp: Path, name: str) -> Path:
    """The run killed before it wrote the log: only the journal, a last record torn."""
    data = json.loads(path.read_text())
    header = {k: v for k, v in data.items() if k not in ("results", "summary")}
    lines = [json.dumps({"header": header})] + [json.dumps(r) for r in data["results"]]
    journal = tmp / f"{name}.partial.jsonl"
    journal.write_text("\n".join(lines) + "\n" + lines[-1][:40])
    return tmp / name


@pytest.mark.parametrize("shape", ["current", "before-repeats", "before-tags", "journal"])
def test_older_run_logs_load_and_the_workflows_work(
    logs: dict[str, Path], tmp_path: Path, shape: str
) -> None:
    def older(which: str) -> Path:
        if shape == "before-repeats":
            return _older(logs[which], BEFORE_REPEATS, tmp_path, f"{which}.json")
        if shape == "before-tags":
            return _older(logs[which], BEFORE_TAGS, tmp_path, f"{which}.json")
        if shape == "journal":
            return _as_journal(logs[which], tmp_path, f"{which}.json")
        return logs[which]

    notes: list[str] = []
    ref = load_runlog(older("ref"), warn=notes.append)
    junk = load_runlog(older("junk"), warn=notes.append)
    recs = records_of(ref)
    n = len(json.loads(logs["ref"].read_text())["results"])
    # the journal's torn last line (a record being written) is dropped with a warning
    assert len(recs) == n and n >= 4
    assert bool(notes) == (shape == "journal")
    assert all(r.pack == "smoke" and r.passed and r.calls for r in recs)
    assert summary_of(ref["results"])["passed"] == len(recs)

    # inspect: the list, one record in full, the summary table
    listed = ins.list_lines(junk, failed=True)
    assert listed[-1].startswith(f"{len(records_of(junk))} failed scenario(s)")
    one = ins.find_record(ref, recs[0].nodeid or "")
    assert "--- verdict ---" in "\n".join(ins.detail_lines(one, full=True))
    assert any("smoke" in ln for ln in ins.summary_lines(ref))

    # diff: the junk run regressed every scenario the reference run passed
    d = diff_runs(ref, junk)
    assert len(d.regressed) == len(records_of(junk)) and not d.fixed

    # the reports
    page = render_html([("ref", ref), ("junk", junk)])
    assert all(f"{r.pack}::{r.scenario}" in page for r in recs)
    assert f"| smoke | 1.0.0 | {len(recs)}/{len(recs)} |" in render_markdown(ref)

    # rescore: today's verifiers agree with the recorded verdicts, nothing is lost
    before = copy.deepcopy(ref["results"])
    out = rescore(ref)
    assert out.checked == len(recs) and not out.changes, out.lines()
    for old, new in zip(before, ref["results"], strict=True):
        assert {k: v for k, v in new.items() if k in old} == old


def test_run_header_of_older_and_current_logs() -> None:
    old = RunHeader.from_json({"format": "x", "model": "m", "endpoint": "http://h", "results": []})
    assert (old.model, old.endpoint, old.thinking, old.sampling, old.models) == (
        "m",
        "http://h",
        None,
        None,
        (),
    )
    assert run_title({"model": "m", "endpoint": "http://h"}) == (
        "model m, endpoint http://h, thinking pack, sampling canonical"
    )
    now = RunHeader.from_json(
        {
            "model": None,
            "models": ["q4", "q8"],
            "endpoint": {"name": "a,b", "kind": "http"},
            "thinking": "off",
            "sampling": {"mode": "custom", "temperature": 0.7},
            "started_at": "2026-01-01T00:00:00Z",
            "duration_s": 12.5,
            "incomplete": True,
            "packs": {"smoke": {"version": "1.0.0"}, "junk": 3},
        }
    )
    assert now.models == ("q4", "q8") and now.endpoint == "a,b" and now.incomplete
    assert dict(now.packs) == {"smoke": {"version": "1.0.0"}} and now.duration_s == 12.5
    title = run_title(
        {
            "models": ["q4"],
            "endpoint": {"name": "a"},
            "thinking": "off",
            "sampling": {"mode": "custom"},
            "incomplete": True,
        }
    )
    assert "thinking off" in title and "sampling non-canonical" in title
    assert title.endswith("INCOMPLETE (recovered from the journal)")
