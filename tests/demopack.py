"""A small demo pack and the helpers the plugin tests share to write and run it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# Two scenarios with a reference and counterexamples each; "greet" is tagged.
DEMO = """scenarios:
  - id: greet
    prompt: "Say the word hello and nothing else."
    verifier: {type: exact, value: hello, ignore_case: true, strip_punct: true}
    tags: [words]
    reference: hello
    counterexamples: ["goodbye", "hello world"]
  - id: sum
    prompt: "What is 2 + 3? End with ANSWER: <number>."
    verifier: {type: number, value: 5}
    reference: "ANSWER: 5"
    counterexamples: ["ANSWER: 6", "5"]
"""


def write_pack(
    root: Path,
    scenarios: str = DEMO,
    *,
    name: str = "demo",
    version: str = "1",
    title: str = "Demo",
    file: str = "s.yaml",
) -> Path:
    """``root/packs/<name>/`` with its pack.yaml and one scenario file."""
    d = root / "packs" / name
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(f"id: {name}\ntitle: {title}\nversion: '{version}'\n")
    (d / file).write_text(scenarios)
    return d


def run_packs(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The packs folder in process, no probe request (tests script every reply)."""
    return pytester.runpytest_inprocess("packs", "-p", "no:cacheprovider", "--llm-probe=no", *args)


def read_log(pytester: pytest.Pytester, name: str = "log.json") -> dict[str, Any]:
    return json.loads((pytester.path / name).read_text())  # type: ignore[no-any-return]
