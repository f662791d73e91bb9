"""The bfcl pack on BFCL's fetched data (``llmbench datasets fetch bfcl``; .ci/run does
it): every generated scenario's reference passes, its counterexamples fail, junk fails
except where BFCL's own rules pass it (irrelevance: any answer without a call;
relevance: any call), and a run prints the per-category table. Without the data the
tests skip (a failure in CI, LLMBENCH_STRICT_BACKENDS=1) and the pack is one ERROR."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core import bfcl
from pytest_llmbench.core.exchange import check_answer, run_exchange, verify
from pytest_llmbench.core.junk import JUNK_KINDS, default_kind, junk_turn
from pytest_llmbench.core.packs import Pack, builtin_packs_dir, load_pack
from pytest_llmbench.core.schema import Scenario

PACK_DIR = builtin_packs_dir() / "bfcl"
DATA_DIR = bfcl.data_dir()


@pytest.fixture(scope="module")
def pack() -> Pack:
    if bfcl.wheel_path() is None:
        pytest.skip(f"BFCL data not fetched: {bfcl.FETCH_HINT}")
    return load_pack(PACK_DIR)


def _category(sc: Scenario) -> str:
    return next(t for t in sc.tags if t in bfcl.CATEGORIES)


def test_every_category_every_answerable_entry(pack: Pack) -> None:
    data = bfcl.load()
    got = Counter(_category(sc) for sc in pack.scenarios)
    for cat in bfcl.CATEGORIES:
        dropped = bfcl.UNSATISFIABLE.get(cat, ())
        assert got[cat] == len(data[cat][0]) - len(dropped), cat
    made = {sc.id for sc in pack.scenarios}
    assert not made & {i for ids in bfcl.UNSATISFIABLE.values() for i in ids}
    assert {k: tuple(v) for k, v in bfcl.DROPPED.items()} == bfcl.UNSATISFIABLE


def test_references_pass_counterexamples_and_junk_fail(pack: Pack) -> None:
    problems: list[str] = []
    junk_passes: Counter[str] = Counter()
    for sc in pack.scenarios:
        cat = _category(sc)
        if not check_answer(sc, pack.meta, sc.reference).passed:
            problems.append(f"{sc.id}: reference fails")
        for i, ce in enumerate(sc.counterexamples):
            if check_answer(sc, pack.meta, ce).passed:
                problems.append(f"{sc.id}: counterexample {i} passes")
        for kind in JUNK_KINDS:

            def respond(messages: object, scenario: Scenario, kind: str = kind) -> object:
                return junk_turn(scenario, kind)

            v = verify(sc, pack.meta, run_exchange(sc, respond))  # type: ignore[arg-type]
            if v.passed:
                junk_passes[f"{cat}:{kind}"] += 1
    assert not problems, problems[:50]
    n_irr = sum(_category(sc).endswith("irrelevance") for sc in pack.scenarios)
    n_rel = sum(_category(sc) == "live_relevance" for sc in pack.scenarios)
    # BFCL passes any answer without a call on irrelevance, any call on relevance
    text_kinds = [k for k in JUNK_KINDS if k != "random_tool_call"]
    expected: Counter[str] = Counter()
    for sc in pack.scenarios:
        cat = _category(sc)
        if cat.endswith("irrelevance"):
            for k in text_kinds:
                expected[f"{cat}:{k}"] += 1
        if cat == "live_relevance":
            expected[f"{cat}:random_tool_call"] += 1
    assert junk_passes == expected
    assert n_irr == 240 + 884 and n_rel == 16


def _run(
    pytester: pytest.Pytester, mp: pytest.MonkeyPatch, endpoint: str, *args: str
) -> tuple[pytest.RunResult, dict[str, Any]]:
    mp.setenv(bfcl.ENV_DIR, str(DATA_DIR))  # pytester moves HOME, and the default cache
    res = pytester.runpytest_inprocess(
        f"--llm-endpoint={endpoint}", "--llm-log=log.json", "-p", "no:cacheprovider", *args
    )
    return res, json.loads((pytester.path / "log.json").read_text())


SUBSET = (
    "bfcl and (tag_simple_javascript or tag_live_parallel or tag_live_relevance or tag_irrelevance)"
)


def test_reference_run_prints_the_category_table(
    pack: Pack, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = sum(
        _category(sc) in ("simple_javascript", "live_parallel", "live_relevance", "irrelevance")
        for sc in pack.scenarios
    )
    res, log = _run(pytester, monkeypatch, "reference", "-m", SUBSET)
    res.assert_outcomes(passed=n)
    res.stdout.fnmatch_lines(
        [
            "bfcl: BFCL per category (passed/scored)",
            "  simple_javascript * 50/50 * 100.0%",
            "  irrelevance * 240/240 * 100.0%",
            "  live_parallel * 16/16 * 100.0%",
            "  live_relevance * 16/16 * 100.0%",
            "bfcl: BFCL aggregates (as BFCL computes them): non-live AST n/a, live AST n/a,"
            " irrelevance n/a, relevance 100.00%",
            "bfcl: 240 irrelevance scenario(s) passed by answering without a tool call*",
        ]
    )
    assert log["summary"]["packs"]["bfcl"]["passed"] == n
    assert log["summary"]["packs"]["bfcl"]["bfcl_aggregates"] == {
        "non_live": None,
        "live": None,
        "irrelevance": None,
        "relevance": 100.0,
    }


def test_junk_run_passes_only_what_bfcl_passes(
    pack: Pack, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    res, log = _run(pytester, monkeypatch, "junk", "-m", SUBSET)
    by_id = {sc.id: sc for sc in pack.scenarios}
    passed = [r for r in log["results"] if r["passed"]]
    for r in passed:
        sc = by_id[r["scenario"]]
        kind = default_kind(sc)
        cat = _category(sc)
        assert (cat == "irrelevance" and kind != "random_tool_call") or (
            cat == "live_relevance" and kind == "random_tool_call"
        ), (r["scenario"], kind)
    no_call = sum(_category(by_id[r["scenario"]]) == "irrelevance" for r in passed)
    any_call = len(passed) - no_call
    assert no_call > 150
    lines = [f"bfcl: {no_call} irrelevance scenario(s) passed by answering without a tool call*"]
    if any_call:
        lines.append(f"bfcl: {any_call} relevance scenario(s) passed by making a tool call*")
    res.stdout.fnmatch_lines(lines)


def test_without_data_one_error_names_the_command(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(bfcl.ENV_DIR, str(tmp_path / "empty"))
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference", "-p", "no:cacheprovider", "-m", "bfcl"
    )
    res.assert_outcomes(errors=1)
    res.stdout.fnmatch_lines(["*pack_error: *BFCL data not fetched*llmbench datasets fetch bfcl*"])


def test_aggregates_as_bfcl_computes_them() -> None:
    per = {
        "simple_python": (300.0, 400.0),  # 0.75
        "simple_java": (50.0, 100.0),  # 0.5
        "simple_javascript": (50.0, 50.0),  # 1.0 -> simple 0.75
        "multiple": (100.0, 200.0),  # 0.5
        "parallel": (200.0, 200.0),  # 1.0
        "parallel_multiple": (0.0, 200.0),  # 0.0
        "live_simple": (10.0, 10.0),
        "live_multiple": (0.0, 30.0),
        "live_parallel": (0.0, 0.0),
        "live_parallel_multiple": (0.0, 0.0),
        "irrelevance": (1.0, 2.0),
        "live_irrelevance": (1.0, 1.0),
    }
    agg = bfcl.aggregates(per)
    assert agg["non_live"] == pytest.approx((0.75 + 0.5 + 1.0 + 0.0) / 4)  # unweighted
    assert agg["live"] is None  # a live category with no scored entry
    per["live_parallel"] = (0.0, 10.0)
    per["live_parallel_multiple"] = (5.0, 10.0)
    agg = bfcl.aggregates(per)
    assert agg["live"] == pytest.approx(15 / 60)  # weighted by size
    assert agg["irrelevance"] == pytest.approx(0.75)
    assert agg["relevance"] is None


def test_datasets_command_and_packs_listing_without_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llmbench.cli import main

    monkeypatch.setenv(bfcl.ENV_DIR, str(tmp_path / "none"))
    assert main(["datasets", "status", "bfcl"]) == 1
    assert "not fetched (llmbench datasets fetch bfcl)" in capsys.readouterr().out
    assert main(["packs"]) == 0  # not fetched is not broken
    row = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("bfcl "))
    assert row.split()[:3] == ["bfcl", "1.0.0", "-"] and "data not fetched" in row
    (tmp_path / "bad" / "bfcl").mkdir(parents=True)
    (tmp_path / "bad" / "bfcl" / "bfcl_eval-1.0-py3-none-any.whl").write_text("not a zip")
    monkeypatch.setenv(bfcl.ENV_DIR, str(tmp_path / "bad"))
    with pytest.raises(bfcl.DataMissing, match="unreadable"):
        bfcl.load()


def test_datasets_status_with_data(pack: Pack, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_llmbench.cli import main

    assert main(["datasets", "status", "bfcl", "--dir", str(DATA_DIR)]) == 0
    assert f"bfcl_eval-{bfcl.BFCL_VERSION}" in capsys.readouterr().out


def test_selfcheck_excuses_only_what_bfcl_passes_by_rule(pack: Pack) -> None:
    from pytest_llmbench.core.selfcheck import check_scenario

    picked = [sc for sc in pack.scenarios if sc.id.startswith(("irrelevance_1", "live_relevance"))]
    picked += [sc for sc in pack.scenarios if sc.id.startswith("simple_javascript")]
    assert {_category(sc) for sc in picked} == {
        "irrelevance",
        "live_relevance",
        "simple_javascript",
    }
    assert [p for sc in picked for p in check_scenario(pack, sc)] == []
