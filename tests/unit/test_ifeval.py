"""The ``instructions`` verifier (IFEval style) and the ``instructfollow`` pack."""

from __future__ import annotations

import contextlib
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.junk import REFUSAL
from pytest_llmbench.core.output import Output
from pytest_llmbench.core.packs import load_pack
from pytest_llmbench.core.schema import AssistantTurn, Scenario, VerifierSpec
from pytest_llmbench.core.verifiers import (
    VerifierConfigError,
    _ifeval_exact_base,
    build_verifier,
    ifeval_exact,
)
from pytest_llmbench.core.verifiers.base import Verdict
from pytest_llmbench.core.verifiers.context import NO_CONTEXT
from pytest_llmbench.core.verifiers.ifeval import (
    InstructionsArgs,
    detect_language,
    loose_variants,
    sentences,
    words,
)

PACK_DIR = Path(__file__).resolve().parents[2] / "packs" / "instructfollow"
PACK = load_pack(PACK_DIR)
IDS = [sc.id for sc in PACK.scenarios]
CE_CASES = [(sc.id, i) for sc in PACK.scenarios for i in range(len(sc.counterexamples))]


# --------------------------------------------------------------------------- the pack


def test_pack_meta_and_coverage() -> None:
    meta = PACK.meta
    assert meta.id == "instructfollow"
    assert meta.version == "1.0.0"
    assert meta.generation.temperature == 0
    assert meta.summary_metrics == ["prompt_strict", "instr_strict", "prompt_loose", "instr_loose"]
    assert len(PACK.scenarios) >= 30
    kinds = {i["kind"] for sc in PACK.scenarios for i in sc.verifier.args["instructions"]}
    assert len(kinds) >= 25
    multi = [sc for sc in PACK.scenarios if len(sc.verifier.args["instructions"]) >= 2]
    assert len(multi) >= 20


# --------------------------------------------------------------------------- helpers


def _scenario(instructions: list[dict[str, Any]], prompt: str = "Write something.") -> Scenario:
    spec = {"type": "instructions", "instructions": instructions}
    return Scenario(
        id="t",
        prompt=prompt,
        verifier=VerifierSpec.model_validate(spec),
        reference="x",
        counterexamples=["a", "b"],
    )


def run(instructions: list[dict[str, Any]] | dict[str, Any], text: str | None) -> Verdict:
    ins = instructions if isinstance(instructions, list) else [instructions]
    sc = _scenario(ins)
    verifier = build_verifier(sc.verifier, sc, None)
    return verifier.check(Output.from_turns([AssistantTurn(content=text)]), NO_CONTEXT)


def ok(ins: dict[str, Any], text: str) -> bool:
    return run(ins, text).passed


def loose_ok(ins: dict[str, Any], text: str) -> bool:
    return run(ins, text).metrics["prompt_loose"][0] == 1.0


# One satisfiable configuration per kind, with an answer that meets it.
KIND_EXAMPLES: list[tuple[dict[str, Any], str]] = [
    ({"kind": "keywords_include", "keywords": ["tide"]}, "The tide came in."),
    ({"kind": "keyword_frequency", "keyword": "tide", "n": 2}, "Tide, tide."),
    ({"kind": "forbidden_words", "words": ["very"]}, "A calm sea."),
    ({"kind": "letter_frequency", "letter": "q", "n": 1}, "A quiet quay."),
    ({"kind": "response_language", "language": "en"}, "The boat is in the harbour."),
    ({"kind": "sentence_count", "relation": "at_most", "n": 2}, "One sentence."),
    ({"kind": "word_count", "relation": "at_most", "n": 10}, "Few words here."),
    ({"kind": "paragraph_count", "n": 1}, "A single paragraph."),
    (
        {"kind": "nth_paragraph_first_word", "n_paragraphs": 1, "nth": 1, "first_word": "so"},
        "So it begins.",
    ),
    ({"kind": "placeholders", "n": 1}, "Dear [name]."),
    ({"kind": "postscript"}, "Hello.\nP.S. Bye."),
    ({"kind": "bullet_count", "relation": "at_most", "n": 3}, "No bullets here."),
    ({"kind": "numbered_list_count", "relation": "at_most", "n": 3}, "No list."),
    ({"kind": "constrained_response", "options": ["Yes.", "No."]}, "No."),
    ({"kind": "highlighted_sections", "n": 1}, "A *key* word."),
    ({"kind": "multiple_sections", "n": 1}, "SECTION 1\nText."),
    ({"kind": "json_format"}, '{"a": 1}'),
    ({"kind": "title"}, "<<t>>\nBody."),
    ({"kind": "two_responses"}, "A.\n******\nB."),
    ({"kind": "repeat_prompt", "prompt_to_repeat": "Say hi."}, "Say hi. Hi!"),
    ({"kind": "starts_with", "phrase": "Hello"}, "Hello there."),
    ({"kind": "end_phrase", "phrase": "The end."}, "Story. The end."),
    ({"kind": "quotation"}, '"Quoted."'),
    ({"kind": "all_uppercase"}, "LOUD."),
    ({"kind": "all_lowercase"}, "quiet."),
    ({"kind": "capital_word_frequency", "relation": "at_most", "n": 5}, "Calm words."),
    ({"kind": "no_commas"}, "No commas here."),
]


def test_at_least_25_kinds_registered() -> None:
    kinds = {ins["kind"] for ins, _ in KIND_EXAMPLES}
    assert len(kinds) == len(KIND_EXAMPLES) >= 25


@pytest.mark.parametrize(("ins", "text"), KIND_EXAMPLES, ids=[i["kind"] for i, _ in KIND_EXAMPLES])
def test_each_kind_passes_its_example(ins: dict[str, Any], text: str) -> None:
    v = run(ins, text)
    assert v.passed, v.detail


@pytest.mark.parametrize("blank", ["", "   \n\t ", ".", None, "***", "******", "<<>>", '""'])
@pytest.mark.parametrize(("ins", "text"), KIND_EXAMPLES, ids=[i["kind"] for i, _ in KIND_EXAMPLES])
def test_empty_answer_never_passes_any_kind(
    ins: dict[str, Any], text: str, blank: str | None
) -> None:
    v = run(ins, blank)
    assert not v.passed
    assert v.metrics["instr_loose"] == [0.0, 1.0]
    assert v.checks[0].found in ("empty answer",)


def test_refusal_fails_positive_instructions() -> None:
    for ins in (
        {"kind": "word_count", "n": 50, "relation": "at_least"},
        {"kind": "postscript"},
        {"kind": "no_commas"},
        {"kind": "all_lowercase"},
        {"kind": "title"},
    ):
        assert not ok(ins, REFUSAL), ins


# --------------------------------------------------------------------------- per kind


def test_word_count_trace_reads_like_a_test_failure() -> None:
    text = " ".join(["word"] * 247)
    v = run({"kind": "word_count", "relation": "at_least", "n": 250}, text)
    assert not v.passed
    assert v.trace() == ["[FAIL] word count: found 247, wanted >= 250"]
    assert "word count: found 247, wanted >= 250" in v.detail
    assert v.category == "instruction_violated"


@pytest.mark.parametrize(
    ("relation", "n", "count", "expected"),
    [
        ("at_least", 250, 250, True),
        ("at_least", 250, 249, False),
        ("at_most", 50, 50, True),
        ("at_most", 50, 51, False),
        ("less_than", 150, 149, True),
        ("less_than", 150, 150, False),
        ("more_than", 10, 11, True),
        ("more_than", 10, 10, False),
        ("exactly", 7, 7, True),
        ("exactly", 7, 8, False),
        ("around", 100, 90, True),
        ("around", 100, 110, True),
        ("around", 100, 111, False),
    ],
)
def test_word_count_relations(relation: str, n: int, count: int, expected: bool) -> None:
    assert ok({"kind": "word_count", "relation": relation, "n": n}, " ".join(["w"] * count)) is (
        expected
    )


def test_around_tolerance_and_trace() -> None:
    ins = {"kind": "word_count", "relation": "around", "n": 20, "tolerance": 2}
    assert ok(ins, " ".join(["w"] * 22))
    v = run(ins, " ".join(["w"] * 23))
    assert v.trace() == ["[FAIL] word count: found 23, wanted 20 ± 2"]


def test_words_and_sentences_helpers() -> None:
    assert words("Don't stop the well-known 3.5 km run, 1,000 times.") == [
        "Don't",
        "stop",
        "the",
        "well-known",
        "3.5",
        "km",
        "run",
        "1,000",
        "times",
    ]
    text = "Dr. Lee left at 5 p.m. today. It rained! Why?\n1. First step\n- a bullet"
    assert len(sentences(text)) == 5


def test_sentence_count() -> None:
    ins = {"kind": "sentence_count", "relation": "exactly", "n": 3}
    assert ok(ins, "One. Two! Three?")
    assert not ok(ins, "One. Two! Three? Four.")
    assert not ok(ins, "One. Two.")


def test_keywords_whole_word_case_insensitive() -> None:
    ins = {"kind": "keywords_include", "keywords": ["fog", "lantern"]}
    assert ok(ins, "The FOG hid the Lantern.")
    v = run(ins, "The foggy night hid the lantern.")
    assert not v.passed
    assert "missing ['fog']" in v.checks[0].found


def test_keyword_frequency_and_forbidden_words() -> None:
    ins = {"kind": "keyword_frequency", "keyword": "river", "relation": "at_least", "n": 3}
    assert ok(ins, "River, river, river.")
    assert not ok(ins, "River, river, rivers.")
    fw = {"kind": "forbidden_words", "words": ["very", "just"]}
    assert ok(fw, "Everything adjusts.")  # substrings are not words
    v = run(fw, "It is just fine.")
    assert not v.passed and "just" in v.checks[0].found


def test_letter_frequency() -> None:
    ins = {"kind": "letter_frequency", "letter": "z", "relation": "at_least", "n": 3}
    assert ok(ins, "Zig zag zoo.")
    assert not ok(ins, "Zig zag.")


def test_letter_frequency_counts_case_insensitively() -> None:
    ins = {"kind": "letter_frequency", "letter": "z", "relation": "exactly", "n": 3}
    assert ok(ins, "Zoe's jazz.")
    assert not ok(ins, "Zoe's jaz.")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("The weather will be sunny in the morning and rainy in the evening.", "en"),
        ("Le temps sera ensoleillé le matin et pluvieux dans la soirée avec du vent.", "fr"),
        ("El tiempo será soleado por la mañana y lluvioso por la tarde con viento.", "es"),
        ("O tempo vai estar ensolarado de manhã e chuvoso à tarde com muito vento.", "pt"),
        ("Il tempo sarà soleggiato al mattino e piovoso nel pomeriggio con vento.", "it"),
        ("Das Wetter ist am Morgen sonnig und am Abend regnerisch, mit viel Wind.", "de"),
        ("Het weer is in de ochtend zonnig en in de avond regenachtig met veel wind.", "nl"),
        ("Погода утром будет солнечной, а вечером дождливой.", "ru"),
        ("Ο καιρός θα είναι ηλιόλουστος το πρωί.", "el"),
        ("今日は朝から晴れていますが、夕方には雨が降ります。", "ja"),
        ("今天早上天气晴朗，晚上会下雨。", "zh"),
        ("오늘 아침은 맑고 저녁에는 비가 옵니다.", "ko"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text)[0] == lang
    assert ok({"kind": "response_language", "language": lang}, text)


def test_language_trace_and_unknown() -> None:
    v = run({"kind": "response_language", "language": "fr"}, "The cat is on the mat.")
    assert not v.passed
    assert v.checks[0].found.startswith("en (")
    assert detect_language("12345 !!!")[0] == "unknown"


def test_paragraph_count_stars_and_blank() -> None:
    stars = {"kind": "paragraph_count", "n": 3, "separator": "stars"}
    assert ok(stars, "One.\n***\nTwo.\n***\nThree.")
    assert not ok(stars, "One.\n\nTwo.\n\nThree.")  # blank lines are not *** separators
    v = run(stars, "One.\n***\n***\nThree.")
    assert v.checks[0].found == "an empty paragraph between separators"
    blank = {"kind": "paragraph_count", "n": 2, "separator": "blank"}
    assert ok(blank, "One.\n\n\nTwo.")
    assert not ok(blank, "One.\nTwo.")


def test_nth_paragraph_first_word() -> None:
    ins = {"kind": "nth_paragraph_first_word", "n_paragraphs": 3, "nth": 2, "first_word": "Then"}
    assert ok(ins, "First.\n\n**Then** more.\n\nLast.")
    v = run(ins, "First.\n\nNext more.\n\nLast.")
    assert v.trace() == [
        "[FAIL] paragraph 2 first word: found 'next', wanted 'then' in paragraph 2 of 3"
    ]
    assert not ok(ins, "First.\n\nThen more.")


def test_placeholders() -> None:
    ins = {"kind": "placeholders", "relation": "at_least", "n": 2}
    assert ok(ins, "Dear [name], see you at [address].")
    assert not ok(ins, "Dear [name], see you at {address}.")
    assert not ok(ins, "Dear [name], see [the docs](http://x).")  # a link, not a placeholder
    assert not ok(ins, "Dear [name] and [ ].")


def test_postscript() -> None:
    ins = {"kind": "postscript", "marker": "P.S."}
    assert ok(ins, "Body text.\n\nP.S. One more thing.")
    assert ok(ins, "Body text.\n\n**P.S.** One more thing.")
    assert not ok(ins, "P.S. only a postscript")  # needs a body before it
    assert not ok(ins, "Body. Add a postscript starting with P.S. at the end.")  # not a line start
    assert not ok(ins, "Body.\n\nP.S.")  # nothing after the marker
    pps = {"kind": "postscript", "marker": "P.P.S"}
    assert ok(pps, "Body.\nP.P.S. And another.")
    assert not ok(pps, "Body.\nP.S. Only one.")


def test_bullets_and_numbered() -> None:
    ins = {"kind": "bullet_count", "n": 3}
    assert ok(ins, "Intro:\n- a\n* b\n+ c")
    assert not ok(ins, "- a\n- b\n- c\n- d")
    assert not ok(ins, "*a* and *b* and *c*")  # emphasis is not a bullet
    num = {"kind": "numbered_list_count", "n": 2}
    assert ok(num, "1. a\n2) b")
    assert not ok(num, "1. a")


def test_constrained_response() -> None:
    ins = {"kind": "constrained_response", "options": ["My answer is yes.", "My answer is no."]}
    assert ok(ins, "My answer is no. Because.")
    assert not ok(ins, "My answer is no, because.")
    assert not ok(ins, "Options: My answer is yes., My answer is no.")  # listing both


def test_highlights() -> None:
    ins = {"kind": "highlighted_sections", "n": 2}
    assert ok(ins, "A *first* and a **second** one.")
    assert not ok(ins, "Only *one* here.")
    assert not ok(ins, "* a bullet * with spaces")
    assert not ok(ins, "***\n***")


def test_multiple_sections() -> None:
    ins = {"kind": "multiple_sections", "n": 2, "splitter": "SECTION"}
    assert ok(ins, "SECTION 1\nA.\n## SECTION 2\nB.")
    assert not ok(ins, "Section 1\nA.\nSection 2\nB.")
    assert not ok(ins, "SECTION 1\nA.\nSECTION 3\nB.")
    assert not ok(ins, "Mark each with SECTION X.")


def test_json_format() -> None:
    ins = {"kind": "json_format", "required_keys": ["name"]}
    assert ok(ins, '{"name": "x"}')
    assert ok(ins, '```json\n{"name": "x"}\n```')
    assert not ok(ins, 'Here it is: {"name": "x"}')
    assert not ok(ins, '{"name": "x",}')
    assert not ok(ins, '["name"]')
    assert not ok(ins, '{"title": "x"}')
    assert ok({"kind": "json_format"}, "[1, 2]")


def test_title() -> None:
    assert ok({"kind": "title"}, "<<A Title>>\nText.")
    assert not ok({"kind": "title"}, "<A Title>\nText.")
    assert not ok({"kind": "title"}, "<< >>\nText.")


def test_two_responses() -> None:
    ins = {"kind": "two_responses"}
    assert ok(ins, "First answer.\n******\nSecond answer.")
    assert not ok(ins, "First answer.\n*****\nSecond answer.")
    assert not ok(ins, "Same.\n******\nsame.")
    assert not ok(ins, "A.\n******\nB.\n******\nC.")
    assert not ok(ins, "A.\n******\n******\nB.")


def test_repeat_prompt() -> None:
    ins = {"kind": "repeat_prompt", "prompt_to_repeat": "Name a grey cat."}
    assert ok(ins, "Name a  grey cat.\n\nAsh.")
    assert not ok(ins, "Name a gray cat.\n\nAsh.")
    assert not ok(ins, "Name a grey cat.")  # no answer after the repeat
    v = run(ins, "Name a gray cat. Ash.")
    assert "gray" in v.checks[0].found and "grey" in v.checks[0].wanted


def test_start_and_end() -> None:
    st = {"kind": "starts_with", "phrase": "Dear neighbours"}
    assert ok(st, "Dear neighbours, hello.")
    assert not ok(st, "Dear neighbors, hello.")
    assert not ok(st, "Dear neighbours")  # nothing follows
    end = {"kind": "end_phrase", "phrase": "Any other questions?"}
    assert ok(end, "Steps.\nAny other questions?  ")
    assert not ok(end, "Steps.\nAny other questions? Bye.")
    assert not ok(end, "Any other questions?")  # the phrase alone is not an answer


def test_quotation() -> None:
    assert ok({"kind": "quotation"}, '"Hello there."')
    assert ok({"kind": "quotation"}, "“Hello there.”")
    assert not ok({"kind": "quotation"}, '"Hello there.')
    assert not ok({"kind": "quotation"}, "'Hello there.'")


def test_case_instructions() -> None:
    up = {"kind": "all_uppercase"}
    assert ok(up, "BRING GLOVES AT 9 AM!")
    assert not ok(up, "BRING GLOVES at 9 AM!")
    low = {"kind": "all_lowercase"}
    assert ok(low, "a quiet sunday at 3 pm.")
    assert not ok(low, "a quiet Sunday.")
    caps = {"kind": "capital_word_frequency", "relation": "at_least", "n": 2}
    assert ok(caps, "Please LABEL food and do NOT leave it.")
    assert not ok(caps, "Please LABEL food. I am A person.")  # single letters do not count
    fewer = {"kind": "capital_word_frequency", "relation": "less_than", "n": 2}
    assert ok(fewer, "A WATERPROOF boot with grip.")
    assert not ok(fewer, "A WATERPROOF boot with GRIP.")


def test_no_commas() -> None:
    ins = {"kind": "no_commas"}
    assert ok(ins, "No commas here at all.")
    v = run(ins, "One comma, here.")
    assert not v.passed
    assert v.checks[0].found.startswith("1 (first:")
    assert not ok(ins, "全角，逗号")


# --------------------------------------------------------------------------- scoring


def test_loose_variants_match_ifeval() -> None:
    vs = loose_variants("Sure!\n*Body* text.\nHope it helps.")
    assert vs[0] == "Sure!\n*Body* text.\nHope it helps."
    assert "*Body* text." in vs  # first and last line removed
    assert "Body text." in vs  # ...and emphasis stripped
    assert len(vs) == 8


def test_loose_passes_when_a_chatty_first_line_breaks_strict() -> None:
    ins = {"kind": "starts_with", "phrase": "Dear team"}
    v = run(ins, "Here is your note:\nDear team, see you soon.")
    assert not v.passed
    assert v.metrics == {
        "prompt_strict": [0.0, 1.0],
        "prompt_loose": [1.0, 1.0],
        "instr_strict": [0.0, 1.0],
        "instr_loose": [1.0, 1.0],
    }


def test_loose_strips_markdown_emphasis() -> None:
    ins = {"kind": "end_phrase", "phrase": "The end."}
    v = run(ins, "Story.\n**The end.**")
    assert not v.passed
    assert v.metrics["prompt_loose"] == [1.0, 1.0]


def test_prompt_and_instruction_level_metrics() -> None:
    ins: list[dict[str, Any]] = [
        {"kind": "no_commas"},
        {"kind": "word_count", "relation": "at_least", "n": 5},
        {"kind": "keywords_include", "keywords": ["tide"]},
        {"kind": "title"},
    ]
    v = run(ins, "The tide came in, slowly and calmly.")
    assert not v.passed
    assert v.score == pytest.approx(0.5)
    assert v.metrics["instr_strict"] == [2.0, 4.0]
    assert v.metrics["prompt_strict"] == [0.0, 1.0]
    assert v.data["strict"] == [False, True, True, False]
    assert v.data["kinds"] == ["no_commas", "word_count", "keywords_include", "title"]
    assert len(v.checks) == 4
    assert "2/4 checks passed" in v.detail


def test_all_pass_metrics() -> None:
    v = run([{"kind": "no_commas"}, {"kind": "all_lowercase"}], "all quiet here.")
    assert v.passed and v.score == 1.0
    assert v.metrics["prompt_strict"] == [1.0, 1.0]
    assert v.metrics["instr_loose"] == [2.0, 2.0]


def test_thinking_is_ignored() -> None:
    ins = {"kind": "no_commas"}
    v = run(ins, "<think>Hmm, commas, commas.</think>No commas here.")
    assert v.passed
    assert not run(ins, "<think>plan</think>").passed


def test_tool_call_only_answer_fails() -> None:
    sc = _scenario([{"kind": "all_lowercase"}])
    verifier = build_verifier(sc.verifier, sc, None)
    out = Output.from_turns([AssistantTurn(content=None)])
    assert not verifier.check(out, NO_CONTEXT).passed


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [{"kind": "nope"}],
        [{"kind": "word_count", "n": 5, "extra": 1}],
        [{"kind": "word_count", "n": -1}],
        [{"kind": "word_count", "relation": "at_least", "n": 0}],
        [{"kind": "word_count", "relation": "less_than", "n": 0}],
        [{"kind": "word_count", "relation": "exactly", "n": 5, "tolerance": 1}],
        [{"kind": "keywords_include", "keywords": []}],
        [{"kind": "keywords_include", "keywords": [" "]}],
        [{"kind": "forbidden_words", "words": [""]}],
        [{"kind": "letter_frequency", "letter": "ab", "n": 1}],
        [{"kind": "letter_frequency", "letter": "1", "n": 1}],
        [{"kind": "response_language", "language": "xx"}],
        [{"kind": "constrained_response", "options": ["only one"]}],
        [{"kind": "nth_paragraph_first_word", "n_paragraphs": 2, "nth": 3, "first_word": "a"}],
        [{"kind": "paragraph_count", "n": 2, "separator": "***"}],
    ],
)
def test_bad_config_is_rejected(bad: list[dict[str, Any]]) -> None:
    sc = Scenario(
        id="t",
        prompt="p",
        verifier=VerifierSpec.model_validate({"type": "instructions", "instructions": bad}),
        reference="x",
        counterexamples=["a", "b"],
    )
    with pytest.raises(VerifierConfigError):
        build_verifier(sc.verifier, sc, None)


def test_args_model_forbids_extra_top_level_keys() -> None:
    with pytest.raises(ValueError):
        InstructionsArgs.model_validate({"instructions": [{"kind": "title"}], "mode": "x"})


# --------------------------------------------------------------------------- semantics: ifeval

needs_extra = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("nltk", "langdetect", "punkt")),
    reason="needs the ifeval extra",
)


def run_ifeval(instructions: list[dict[str, Any]] | dict[str, Any], text: str | None) -> Verdict:
    ins = instructions if isinstance(instructions, list) else [instructions]
    spec = {"type": "instructions", "semantics": "ifeval", "instructions": ins}
    sc = Scenario(
        id="t",
        prompt="p",
        verifier=VerifierSpec.model_validate(spec),
        reference="x",
        counterexamples=["a", "b"],
    )
    verifier = build_verifier(sc.verifier, sc, None)
    return verifier.check(Output.from_turns([AssistantTurn(content=text)]), NO_CONTEXT)


def official_of(ins: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    args = InstructionsArgs.model_validate({"instructions": [ins], "semantics": "ifeval"})
    return args.official[0]


def test_all_25_ifeval_ids_are_reachable_from_kinds() -> None:
    configs: list[dict[str, Any]] = [ins for ins, _ in KIND_EXAMPLES] + [
        {"kind": "paragraph_count", "n": 2, "separator": "stars"},
        {"kind": "bullet_count", "n": 3},
        {"kind": "nth_paragraph_first_word", "n_paragraphs": 1, "nth": 1, "first_word": "so"},
        {"kind": "constrained_response", "options": list(ifeval_exact.CONSTRAINED_OPTIONS)},
    ]
    ids = set()
    for ins in configs:
        with contextlib.suppress(ValueError):
            ids.add(official_of(ins)[0])
    assert ids == set(ifeval_exact.IDS)


@pytest.mark.parametrize(
    ("ins", "expected"),
    [
        (
            {"kind": "word_count", "relation": "at_most", "n": 50},
            ("length_constraints:number_words", {"num_words": 51, "relation": "less than"}),
        ),
        (
            {"kind": "sentence_count", "relation": "more_than", "n": 3},
            ("length_constraints:number_sentences", {"num_sentences": 4, "relation": "at least"}),
        ),
        (
            {"kind": "letter_frequency", "letter": "Q", "relation": "less_than", "n": 2},
            (
                "keywords:letter_frequency",
                {"letter": "q", "let_frequency": 2, "let_relation": "less than"},
            ),
        ),
        (
            {"kind": "end_phrase", "phrase": " Bye. "},
            ("startend:end_checker", {"end_phrase": "Bye."}),
        ),
        (
            {"kind": "capital_word_frequency", "relation": "at_least", "n": 3},
            (
                "change_case:capital_word_frequency",
                {"capital_frequency": 3, "capital_relation": "at least"},
            ),
        ),
    ],
)
def test_relations_map_onto_ifeval_exactly(
    ins: dict[str, Any], expected: tuple[str, dict[str, Any]]
) -> None:
    assert official_of(ins) == expected


@pytest.mark.parametrize(
    ("ins", "why"),
    [
        ({"kind": "starts_with", "phrase": "Hi"}, "no IFEval counterpart"),
        ({"kind": "numbered_list_count", "n": 2}, "no IFEval counterpart"),
        ({"kind": "word_count", "relation": "exactly", "n": 5}, "no relation 'exactly'"),
        ({"kind": "word_count", "relation": "around", "n": 50}, "no relation 'around'"),
        ({"kind": "bullet_count", "relation": "at_least", "n": 2}, "exactly"),
        ({"kind": "placeholders", "relation": "less_than", "n": 2}, "at least"),
        ({"kind": "paragraph_count", "n": 2, "separator": "blank"}, "***"),
        ({"kind": "paragraph_count", "n": 0}, "non-empty 'num_paragraphs'"),
        (
            {
                "kind": "nth_paragraph_first_word",
                "n_paragraphs": 2,
                "nth": 1,
                "first_word": "a",
                "separator": "stars",
            },
            "blank lines",
        ),
        ({"kind": "json_format", "required_keys": ["a"]}, "only that the answer is JSON"),
        ({"kind": "constrained_response", "options": ["Yes.", "No."]}, "fixed"),
        ({"kind": "letter_frequency", "letter": "é", "n": 1}, "ASCII letter"),
        ({"kind": "keywords_include", "keywords": ["f(og"]}, "regular expression"),
        ({"kind": "response_language", "language": "zh"}, "langdetect knows no language"),
    ],
)
def test_what_ifeval_cannot_express_is_a_config_error(ins: dict[str, Any], why: str) -> None:
    with pytest.raises(VerifierConfigError, match=re.escape(why)):
        run_ifeval(ins, "x")


def test_every_langdetect_language_is_accepted_under_ifeval_only() -> None:
    for lang in ("pl", "fi", "sw", "zh-cn"):
        official_of({"kind": "response_language", "language": lang})
    with pytest.raises(VerifierConfigError, match="semantics: ifeval uses langdetect"):
        run({"kind": "response_language", "language": "pl"}, "x")


@needs_extra
def test_ifeval_semantics_on_the_quirks_it_has() -> None:
    # Keywords are substrings (regexes): "fog" is in "foggy".
    assert run_ifeval({"kind": "keywords_include", "keywords": ["fog"]}, "A foggy night.").passed
    # A dot is an answer: "no commas" holds for it. A blank answer fails everything.
    assert run_ifeval({"kind": "no_commas"}, ".").passed
    assert not run_ifeval({"kind": "no_commas"}, "  \n").passed
    # Capital words are nltk tokens for which isupper() holds: "I" and "A" count.
    caps = {"kind": "capital_word_frequency", "relation": "at_least", "n": 2}
    assert run_ifeval(caps, "I saw A cat.").passed
    assert not run(caps, "I saw A cat.").passed  # extended: two letters at least
    # Sentences are nltk Punkt's: abbreviations it knows do not end one.
    three = {"kind": "sentence_count", "relation": "less_than", "n": 3}
    assert run_ifeval(three, "Dr. Smith came at 5 p.m. today. It rained.").passed
    # Upper-case English only: a French answer in capitals fails.
    up = {"kind": "all_uppercase"}
    assert run_ifeval(up, "PLEASE BRING YOUR GLOVES TO THE GARDEN ON SATURDAY.").passed
    assert not run_ifeval(up, "DAS WETTER IST AM MORGEN SONNIG UND AM ABEND REGNERISCH.").passed
    # ...but langdetect calls much upper-case Latin text English, French included.
    assert run_ifeval(up, "LE TEMPS SERA ENSOLEILLÉ LE MATIN ET PLUVIEUX LE SOIR.").passed
    # Languages langdetect knows and the extended detector does not.
    pl = {"kind": "response_language", "language": "pl"}
    assert run_ifeval(pl, "Dzisiaj pogoda jest bardzo ładna, świeci słońce i wieje wiatr.").passed
    # Multiple sections: at least n splits, any order, as IFEval counts them.
    secs = {"kind": "multiple_sections", "n": 2, "splitter": "SECTION"}
    assert run_ifeval(secs, "SECTION 3\nA\nSECTION 1\nB").passed


@needs_extra
def test_ifeval_loose_variants_use_the_unstripped_answer() -> None:
    # Official loose drops the first line; with a leading newline the first line is
    # empty, so "Sure!" stays and the answer does not start with the request.
    ins = {"kind": "repeat_prompt", "prompt_to_repeat": "Say hi."}
    assert run_ifeval(ins, "Sure!\nSay hi. Hi!").metrics["prompt_loose"] == [1.0, 1.0]
    v = run_ifeval(ins, "\nSure!\nSay hi. Hi!")
    assert v.metrics["prompt_loose"] == [0.0, 1.0]
    assert ifeval_exact.loose_variants("\nA\nB")[2] == "A\nB"


@needs_extra
def test_ifeval_verdict_trace_and_metrics() -> None:
    ins: list[dict[str, Any]] = [
        {"kind": "no_commas"},
        {"kind": "word_count", "relation": "at_least", "n": 5},
        {"kind": "title"},
    ]
    v = run_ifeval(ins, "Sure!\n<<Tides>>\nThe tide came in, slowly.")
    assert not v.passed
    assert v.data["semantics"] == "ifeval"
    assert v.data["ifeval_ids"] == [
        "punctuation:no_comma",
        "length_constraints:number_words",
        "detectable_format:title",
    ]
    assert v.metrics["instr_strict"] == [2.0, 3.0]
    assert (
        v.trace()[0] == "[FAIL] no commas [punctuation:no_comma]: found 1 comma(s), wanted 0 commas"
    )


def test_missing_extra_is_an_unavailable_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise ifeval_exact.IFEvalUnavailable("IFEval semantics need nltk: install the extra")

    monkeypatch.setattr(_ifeval_exact_base, "_tokenizers", missing)
    v = run_ifeval({"kind": "sentence_count", "relation": "at_least", "n": 1}, "One.")
    assert not v.passed
    assert v.category == "verifier_unavailable"
    assert "install the extra" in v.detail


def test_the_pack_says_which_semantics_each_scenario_uses() -> None:
    modes = {sc.id: sc.verifier.args.get("semantics") for sc in PACK.scenarios}
    assert set(modes.values()) == {"ifeval", "extended"}
    for sc in PACK.scenarios:
        assert (modes[sc.id] == "extended") == ("extended" in sc.tags), sc.id
    assert sum(m == "ifeval" for m in modes.values()) >= 25
    assert "semantics: ifeval" in PACK.meta.description.replace("`", "")


def test_missing_extra_is_an_error_item_not_a_failure(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> Any:
        raise ifeval_exact.IFEvalUnavailable("IFEval semantics need nltk: install the extra")

    monkeypatch.setattr(_ifeval_exact_base, "_tokenizers", missing)
    d = pytester.path / "packs" / "ife"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text("id: ife\ntitle: IFE\nversion: '1'\n")
    (d / "s.yaml").write_text(
        "scenarios:\n"
        "  - id: two-sentences\n"
        "    prompt: Write at least two sentences about a missing-extra walrus.\n"
        "    verifier:\n"
        "      type: instructions\n"
        "      semantics: ifeval\n"
        "      instructions: [{kind: sentence_count, relation: at_least, n: 2}]\n"
        "    reference: The missing-extra walrus sleeps. It snores.\n"
        "    counterexamples: [A walrus., Walrus]\n"
    )
    res = pytester.runpytest_inprocess(
        "--llm-endpoint=reference", "packs", "-p", "no:cacheprovider"
    )
    res.assert_outcomes(errors=1)
    out = res.stdout.str()
    assert "verifier_unavailable" in out and "install the extra" in out
    assert "Traceback" not in out and "INTERNALERROR" not in out


def test_warm_up_loads_the_models_and_tolerates_a_missing_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_llmbench.core.verifiers.ifeval import Instructions

    calls: list[str] = []

    def missing() -> Any:
        calls.append("tokenizers")
        raise ifeval_exact.IFEvalUnavailable("no nltk")

    monkeypatch.setattr(_ifeval_exact_base, "_tokenizers", missing)
    Instructions.warm_up()  # no exception: the scenarios report it when checked
    assert calls == ["tokenizers"]
