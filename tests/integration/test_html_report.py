"""The HTML report: self-contained, escapes model text, renders in headless Chromium."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.runlog import load_runlog
from pytest_llmbench.report.html import render_html
from runlogs import make_log

HOSTILE = '<script>window.PWNED=1</script><img src=x onerror="alert(1)">&amp; </pre></details>'


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("html-runs")
    ref = load_runlog(make_log(tmp, "reference", "ref.json"))
    junk = load_runlog(make_log(tmp, "junk", "junk.json"))
    # untrusted model text in every place the report shows it
    rec = junk["results"][0]
    rec["calls"][0]["response"]["choices"][0]["message"]["content"] = HOSTILE
    rec["calls"][0]["response"]["choices"][0]["message"]["reasoning_content"] = HOSTILE
    rec["messages"][-1]["content"] = HOSTILE
    rec["verdict"]["detail"] = HOSTILE
    rec["verdict"]["trace"] = [HOSTILE]
    # a second model in one run (multi-model runs carry ``model`` per record)
    multi = copy.deepcopy(ref)
    extra = copy.deepcopy(ref["results"])
    for r in multi["results"]:
        r["model"] = "model-a"
    for r in extra:
        r.update(
            model="model-b",
            passed=False,
            score=0.0,
            failure_mode="timeout",
            error="timeout: read timed out",
            latency_s=3.5,
        )
    multi["results"] += extra
    return [("ref.json", ref), ("junk.json", junk), ("multi.json", multi)]


def test_report_is_self_contained_and_escaped(runs: list[tuple[str, dict[str, Any]]]) -> None:
    page = render_html(runs)
    assert "<script>window.PWNED" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.PWNED=1&lt;/script&gt;" in page
    assert "&amp;amp;" in page  # escaped once, shown as typed
    assert page.count("<script>") == 1  # ours only
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    for label in (
        "ref.json: reference",
        "junk.json: junk",
        "multi.json: model-a",
        "multi.json: model-b",
    ):
        assert label in page
    assert "timeout" in page and "Latency distribution" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _browser_args(exe: str, profile: Path) -> list[str]:
    return [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ]


@pytest.mark.browser
def test_report_renders_in_headless_chromium(
    runs: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    exe = _chromium()
    if exe is None:
        if os.environ.get("LLMBENCH_STRICT_BACKENDS") == "1":
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    report = tmp_path / "report.html"
    report.write_text(render_html(runs), encoding="utf-8")
    url = report.as_uri()

    dom = subprocess.run(
        [*_browser_args(exe, tmp_path / "p1"), "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "</html>" in html
    for pack_id in ("smoke",):
        assert f'data-pack="{pack_id}"' in html
    for sid in ("capital-exact", "weather-tool-call", "person-json", "iso-date-regex"):
        assert f"smoke::{sid}" in html
    # the hostile text is shown as text; none of it became an element
    assert "PWNED" in html and '<img src="x"' not in html and "<img src=x" not in html
    assert html.count("<script>") == 1
    assert len(re.findall(r'<details class="sc"', html)) == sum(len(d["results"]) for _, d in runs)

    shot = tmp_path / "report.png"
    res = subprocess.run(
        [
            *_browser_args(exe, tmp_path / "p2"),
            f"--screenshot={shot}",
            "--window-size=1280,1600",
            "--hide-scrollbars",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 1600)
    assert len(data) > 20_000  # a blank page compresses to a few kB
    keep = os.environ.get("LLMBENCH_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_drill_down_shows_the_raw_response(runs: list[tuple[str, dict[str, Any]]]) -> None:
    """The drill-down shows each call's raw response exactly (pretty JSON, escaped)."""
    page = render_html(runs[:1])
    rec = runs[0][1]["results"][0]
    content = rec["calls"][0]["response"]["choices"][0]["message"]["content"]
    assert json.dumps(content, ensure_ascii=False)[1:-1].replace('"', "&quot;") in page
