"""The optional LLM judge, against the fake OpenAI-compatible server."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakeserver import FakeServer, chat_reply
from pytest_llmbench.core.exchange import check_answer, run_exchange, verify
from pytest_llmbench.core.http_endpoint import HTTPEndpoint
from pytest_llmbench.core.junk import JUNK_KINDS, junk_turn
from pytest_llmbench.core.packs import PackError, load_scenario_file
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.verifiers.context import Judge, VerifierContext
from pytest_llmbench.core.verifiers.judge import JudgeUnavailable, JudgeVerifier, parse_judgement

# One judge scenario, kept as test data: built-in packs carry none, since the
# reference endpoint has no judge.
JUDGE_SCENARIOS = """\
scenarios:
  - id: explain-dns
    prompt: Explain in two sentences what DNS does.
    verifier:
      type: judge
      rubric: >-
        5 = says DNS translates domain names into IP addresses and is clear and correct;
        3 = roughly right but vague; 1 = wrong or off topic.
      samples: 3
      check: {type: contains, any: [IP address, IP addresses]}
    reference: >-
      DNS translates human-readable domain names such as example.org into the IP
      addresses computers use to reach each other. It works like a phone book for the
      internet.
    counterexamples:
      - DNS is a protocol for sending e-mail between mail servers.
      - It is a naming thing on the internet.

  - id: explain-dns-judged
    prompt: Explain in two sentences what DNS does.
    verifier:
      type: judge
      rubric: "5 = correct and clear; 1 = wrong."
      samples: 2
      decides: true
      pass_at: 4
    reference: DNS maps domain names to IP addresses.
    counterexamples:
      - DNS sends e-mail.
      - DNS is a kind of cable.
"""


def reply(content: str) -> tuple[int, Any, dict[str, str]]:
    return 200, chat_reply(content), {}


def scripted(server: FakeServer, contents: list[str]) -> None:
    """Answer the judge's requests in order with the given message contents."""
    queue = list(contents)

    def script(body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        item = queue.pop(0)
        if item.startswith("HTTP "):
            return int(item.split()[1]), {"error": "boom"}, {}
        return reply(item)

    server.script = script


def grade(score: int, reason: str = "fine") -> str:
    return json.dumps({"score": score, "reason": reason})


@pytest.fixture
def scenarios(tmp_path: Path) -> dict[str, Scenario]:
    p = tmp_path / "judge.yaml"
    p.write_text(JUDGE_SCENARIOS, encoding="utf-8")
    return {sc.id: sc for sc in load_scenario_file(p)}


@pytest.fixture
def judge(fake_server: FakeServer) -> FakeServer:
    return fake_server


@pytest.fixture
def ctx(judge: FakeServer) -> Iterator[VerifierContext]:
    """The verifier context with the fake server as the judge model."""
    ep = HTTPEndpoint(judge.url, retries=0)
    try:
        yield VerifierContext(judge=Judge(ep, "judge-model"))
    finally:
        ep.close()


def test_the_judge_comes_only_from_the_context(
    judge: FakeServer, ctx: VerifierContext, scenarios: dict[str, Scenario]
) -> None:
    """No process global: a verification without the judge in its context is graded
    without one, even right after one with it."""
    assert JudgeVerifier.needs_judge and not JudgeVerifier.needs_sandbox
    scripted(judge, [grade(5), grade(5), grade(5)])
    sc = scenarios["explain-dns"]
    assert check_answer(sc, None, sc.reference, ctx).data["judge"]["status"] == "ok"
    v = check_answer(sc, None, sc.reference)
    assert v.passed and v.data["judge"] == {"status": "not_configured"}
    assert len(judge.requests) == 3
    with pytest.raises(AttributeError):
        ctx.judge = None  # type: ignore[misc]


def test_requests_are_json_constrained_k_samples(
    judge: FakeServer, ctx: VerifierContext, scenarios: dict[str, Scenario]
) -> None:
    scripted(judge, [grade(4), grade(5), grade(3)])
    sc = scenarios["explain-dns"]
    v = check_answer(sc, None, sc.reference, ctx)
    assert len(judge.requests) == 3
    body = judge.requests[0]
    assert body["model"] == "judge-model"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["required"] == ["score", "reason"]
    assert [r["seed"] for r in judge.requests] == [0, 1, 2]
    assert all(r["temperature"] > 0 for r in judge.requests)
    user = body["messages"][-1]["content"]
    assert "what DNS does" in user and "<answer>\nDNS translates" in user and "## Rubric" in user
    # spread in data, mean in metrics
    j = v.data["judge"]
    assert j["scores"] == [4, 5, 3] and j["min"] == 3 and j["max"] == 5
    assert j["mean"] == 4.0 and j["stdev"] == pytest.approx(0.8165, abs=1e-4)
    assert v.metrics["judge"] == [pytest.approx(0.75 + 1.0 + 0.5), 3.0]
    assert v.metrics["judge_failures"] == [0.0, 3.0]
    assert v.passed and "judged 4.00/5 over 3 sample(s), not deciding" in v.detail


def test_judge_never_decides_unless_asked(
    judge: FakeServer, ctx: VerifierContext, scenarios: dict[str, Scenario]
) -> None:
    sc = scenarios["explain-dns"]
    # a low judged score does not fail an answer the deterministic check accepts
    scripted(judge, [grade(1), grade(1), grade(2)])
    assert check_answer(sc, None, sc.reference, ctx).passed
    # a high judged score does not pass an answer the check rejects
    scripted(judge, [grade(5), grade(5), grade(5)])
    v = check_answer(sc, None, sc.counterexamples[0], ctx)
    assert not v.passed and v.data["judge"]["mean"] == 5.0


def test_malformed_output_is_a_recorded_judge_failure(
    judge: FakeServer, ctx: VerifierContext, scenarios: dict[str, Scenario]
) -> None:
    scripted(judge, ["this is not json", grade(7), grade(2, "vague")])
    sc = scenarios["explain-dns"]
    v = check_answer(sc, None, sc.reference, ctx)
    j = v.data["judge"]
    assert j["scores"] == [2] and j["reasons"] == ["vague"]
    assert len(j["failures"]) == 2
    assert "sample 1: judge output is not JSON" in j["failures"][0]
    assert "sample 2: judge score 7 is not an integer 1..5" in j["failures"][1]
    assert v.metrics["judge"] == [0.25, 1.0] and v.metrics["judge_failures"] == [2.0, 3.0]
    assert v.passed  # the deterministic check still decides


def test_endpoint_errors_count_as_judge_failures(
    judge: FakeServer, ctx: VerifierContext, scenarios: dict[str, Scenario]
) -> None:
    scripted(judge, ["HTTP 500", "HTTP 500", "HTTP 500"])
    sc = scenarios["explain-dns"]
    v = check_answer(sc, None, sc.reference, ctx)
    assert v.passed and v.data["judge"]["status"] == "failed"
    assert "judge" not in v.metrics and v.metrics["judge_failures"] == [3.0, 3.0]
    assert "server_error" in v.data["judge"]["failures"][0]
    assert "judge failed" in v.detail


def test_deciding_judge_passes_and_fails_on_the_mean(
    judge: FakeServer, ctx: VerifierContext, scenarios: dict[str, Scenario]
) -> None:
    sc = scenarios["explain-dns-judged"]
    scripted(judge, [grade(4), grade(5)])
    v = check_answer(sc, None, sc.reference, ctx)
    assert v.passed and v.score == pytest.approx(0.875)
    scripted(judge, [grade(4), grade(3, "misses the point")])
    v = check_answer(sc, None, sc.counterexamples[0], ctx)
    assert not v.passed and v.category == "judged_low"
    assert v.detail == "judged 3.50/5 < 4 (min 3, max 4)"
    assert any(
        t.startswith("[FAIL] judged score (mean): found 3.50 (min 3, max 4; 'misses the point')")
        and t.endswith("wanted >= 4")
        for t in v.trace()
    )


def test_deciding_judge_with_no_valid_sample_is_an_error(
    judge: FakeServer, ctx: VerifierContext, scenarios: dict[str, Scenario]
) -> None:
    scripted(judge, ["{}", "[1, 2]"])
    with pytest.raises(JudgeUnavailable, match="no valid score in 2 sample"):
        check_answer(scenarios["explain-dns-judged"], None, "DNS maps names to IP addresses.", ctx)


def test_no_judge_configured(scenarios: dict[str, Scenario]) -> None:
    with pytest.raises(JudgeUnavailable, match="no judge is configured"):
        check_answer(scenarios["explain-dns-judged"], None, "DNS maps names to IP addresses.")
    sc = scenarios["explain-dns"]
    v = check_answer(sc, None, sc.reference)
    assert v.passed and v.data["judge"] == {"status": "not_configured"}
    assert not check_answer(sc, None, sc.counterexamples[0]).passed


@pytest.mark.parametrize(
    ("content", "want"),
    [
        ('{"score": 3, "reason": "ok"}', (3, "ok")),
        ('```json\n{"score": 5, "reason": "good"}\n```', (5, "good")),
        ('<think>hmm</think>{"score": 2.0, "reason": "x"}', (2, "x")),
        ('{"score": true, "reason": "x"}', "not an integer"),
        ('{"score": "4", "reason": "x"}', "not an integer"),
        ('{"score": 0, "reason": "x"}', "not an integer"),
        ("", "empty"),
        ("[]", "list, not an object"),
    ],
)
def test_parse_judgement(content: str, want: object) -> None:
    got = parse_judgement(content)
    if isinstance(want, tuple):
        assert got == want
    else:
        assert isinstance(got, str) and str(want) in got


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ("rubric: r", "needs a deterministic 'check'"),
        ("rubric: r, pass_at: 3, check: {type: contains, all: [a]}", "pass_at only applies"),
        ("rubric: r, check: {type: judge, rubric: r, decides: true}", "not another judge"),
        ("rubric: r, check: {type: nosuch}", "unknown verifier type 'nosuch'"),
        ("rubric: r, decides: true, samples: 0", "samples"),
    ],
)
def test_bad_arguments_fail_at_load(tmp_path: Path, args: str, msg: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        textwrap.dedent(
            f"""\
            scenarios:
              - id: a
                prompt: "Say a."
                verifier: {{type: judge, {args}}}
                reference: "a"
                counterexamples: [b, c]
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(PackError, match=msg):
        load_scenario_file(p)


def test_junk_fails_even_when_the_judge_loves_it(
    judge: FakeServer, ctx: VerifierContext, scenarios: dict[str, Scenario]
) -> None:
    """The junk floor holds with a judge that gives everything 5: a judge that does not
    decide cannot lift junk or a counterexample over the deterministic check."""
    judge.script = lambda body: reply(grade(5))
    sc = scenarios["explain-dns"]
    for kind in JUNK_KINDS:

        def respond(messages: object, scenario: Scenario, kind: str = kind) -> object:
            return junk_turn(scenario, kind)

        v = verify(sc, None, run_exchange(sc, respond), ctx)  # type: ignore[arg-type]
        assert not v.passed, kind
    assert check_answer(sc, None, sc.reference, ctx).passed
    for ce in sc.counterexamples:
        assert not check_answer(sc, None, ce, ctx).passed


def test_what_a_judge_needs_includes_its_check() -> None:
    """A judge whose deciding check runs code needs the sandbox too."""
    from pytest_llmbench.core.schema import VerifierSpec
    from pytest_llmbench.core.verifiers.base import needs

    code = {"type": "code_tests", "entry": ["add"], "tests": ["assert add(1, 2) == 3"]}
    assert needs(VerifierSpec.model_validate(code)) == (True, False)
    assert needs(VerifierSpec.model_validate({"type": "contains", "all": ["x"]})) == (False, False)
    judged = {"type": "judge", "rubric": "r", "check": {"type": "contains", "all": ["x"]}}
    assert needs(VerifierSpec.model_validate(judged)) == (False, True)
    judged["check"] = code
    assert needs(VerifierSpec.model_validate(judged)) == (True, True)
    assert needs(VerifierSpec.model_validate({"type": "judge", "rubric": "r"})) == (False, True)
