"""Latency measures the model: verifier start-up (the language detector loads its
models on first use, seconds) happens before the first request, not inside the
latency of the requests in flight while it loads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakeserver import FakeServer, chat_reply


def test_language_detector_load_is_not_in_latency(
    pytester: pytest.Pytester, fake_server: FakeServer
) -> None:
    pytest.importorskip("lingua", reason="lingua-language-detector is not installed")

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        return 200, chat_reply("Bonjour, voici une réponse assez longue en français."), {}

    fake_server.script = script
    res = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--llm-endpoint={fake_server.url}",
        "--llm-pack=language",
        "--llm-probe=no",
        "--llm-concurrency=4",
        "--llm-log=log.json",
        "-k",
        "fr- or de-",
    )
    assert res.ret in (0, 1), res.stdout.str()[-2000:]
    data = json.loads((pytester.path / "log.json").read_text())
    lat = [r["latency_s"] for r in data["results"]]
    assert len(lat) >= 8
    # the fake server answers at once; loading the detector takes seconds
    assert max(lat) < 0.5, sorted(lat)[-5:]
