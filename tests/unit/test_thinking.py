from __future__ import annotations

import pytest

from pytest_llmbench.core.output import Output, split_thinking
from pytest_llmbench.core.schema import AssistantTurn


@pytest.mark.parametrize(
    ("raw", "answer", "reasoning"),
    [
        ("plain", "plain", ""),
        ("<think>a</think>b", "b", "a"),
        ("<think>a</think> b <think>c</think>d", "b d", "a\n\nc"),
        ("<think>never closed", "", "never closed"),
        ("opened by the template</think>final", "final", "opened by the template"),
        ("", "", ""),
        (None, "", ""),
    ],
)
def test_split_thinking(raw: str | None, answer: str, reasoning: str) -> None:
    assert split_thinking(raw) == (answer, reasoning)


def test_output_keeps_reasoning_apart() -> None:
    out = Output.from_turns([AssistantTurn(content="<think>x</think>42", reasoning="r")])
    assert out.text == "42"
    assert out.reasoning == "r\n\nx"
