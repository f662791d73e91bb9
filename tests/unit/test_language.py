"""The ``language`` verifier (adherence, diacritic traps) and the language pack."""

from __future__ import annotations

import textwrap
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.packs import Pack, PackError, load_pack, load_scenario_file
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.selfcheck import check_pack
from pytest_llmbench.core.verifiers import ifeval, language
from pytest_llmbench.core.verifiers.language import adherence, ascii_fold, lingua_available

PACK = Path(__file__).resolve().parents[2] / "packs" / "language"
LANGS = ("fr", "de", "es", "it", "pt", "ja", "ko", "zh")
LATIN = ("fr", "de", "es", "it", "pt")

DETECTORS = [
    "builtin",
    pytest.param(
        "lingua",
        marks=pytest.mark.skipif(not lingua_available(), reason="lingua-language-detector absent"),
    ),
]


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(PACK)


def scenario(
    lang: str = "fr", prompt: str = "Answer in French: describe your street.", **args: object
) -> Scenario:
    return Scenario.model_validate(
        {
            "id": "t",
            "prompt": prompt,
            "verifier": {"type": "language", "language": lang, **args},
            "reference": "x",
            "counterexamples": ["y", "z"],
        }
    )


# ---------------------------------------------------------------- adherence


@pytest.mark.parametrize("detector", DETECTORS)
def test_adherence_whole_and_mixed(detector: str) -> None:
    fr = "Le chat dort sur le canapé. Il fait beau aujourd'hui et nous allons au marché."
    en = "The weather is nice today and we are going to the market after lunch."
    assert adherence(fr, "fr", detector).share == 1.0
    mixed = adherence(f"{fr} {en}", "fr", detector)
    assert 0.4 < mixed.share < 0.7
    assert set(mixed.languages()) == {"fr", "en"}
    assert adherence(en, "fr", detector).share == 0.0


@pytest.mark.parametrize("detector", DETECTORS)
def test_cjk_scripts_and_weights(detector: str) -> None:
    assert adherence("東京は日本の首都です。人口がとても多いです。", "ja", detector).share == 1.0
    assert adherence("北京是中国的首都。人口很多。", "zh", detector).share == 1.0
    assert adherence("北京是中国的首都。人口很多。", "ja", detector).share == 0.0
    assert adherence("서울은 한국의 수도입니다. 인구가 많습니다.", "ko", detector).share == 1.0
    # one Japanese sentence and one English sentence of similar content weigh similarly
    mixed = adherence("東京は日本の首都です。Tokyo is the capital city of Japan.", "ja", detector)
    assert 0.35 < mixed.share < 0.65


def test_short_segments_follow_their_neighbours() -> None:
    text = "OK. Le chat dort sur le canapé depuis ce matin. Merci !"
    got = adherence(text, "fr", "builtin")
    assert got.share == 1.0
    assert [lang for lang, _, _ in got.parts] == ["fr", "fr", "fr"]


def test_nothing_identified_is_zero() -> None:
    assert adherence("", "fr", "builtin").share == 0.0
    assert adherence("... 123 !!!", "fr", "builtin").share == 0.0


def test_builtin_detector_is_the_instructions_one() -> None:
    # reused by import, not copied
    assert language.detect_language is ifeval.detect_language  # type: ignore[attr-defined]


def test_detector_pin_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBENCH_LANGUAGE_DETECTOR", "builtin")
    v = check_answer(scenario(), None, "Notre rue est calme et les voisins sont très gentils.")
    assert v.passed and v.data["detector"] == "builtin"


# ---------------------------------------------------------------- verifier


def test_wrong_language_trace_reads_like_a_failure() -> None:
    v = check_answer(scenario(), None, "Our street is quiet and the neighbours are very kind.")
    assert not v.passed and v.category == "wrong_language"
    assert "written in fr: found 0% (en 100%" in v.detail
    assert "wanted >= 80%" in v.detail
    assert v.metrics["adherence"] == [0.0, 1.0]


def test_threshold_is_stated_and_configurable() -> None:
    text = (
        "Notre rue est calme et les voisins sont très gentils avec nous. Il y a une "
        "boulangerie au coin et un petit parc pour les enfants. Le marché a lieu le samedi "
        "matin sur la place. The only problem is the noise of the buses at night."
    )
    assert language.DEFAULT_THRESHOLD == 0.8
    v = check_answer(scenario(), None, text)
    assert not v.passed and 0.6 < v.data["adherence"] < 0.8
    assert check_answer(scenario(threshold=0.6), None, text).passed


def test_accents_are_required_and_reported() -> None:
    sc = scenario(all=["forêt"])
    good = "Nous avons marché dans la forêt tout l'après-midi."
    assert check_answer(sc, None, good).passed
    v = check_answer(sc, None, ascii_fold(good))
    assert not v.passed and v.category == "diacritics_lost"
    assert "contains 'forêt': found 'foret' (accents lost)" in v.detail
    assert v.metrics["diacritics"] == [0.0, 1.0]
    # decomposed accents (e + combining circumflex) are the same word
    decomposed = unicodedata.normalize("NFD", good)
    assert decomposed != good and check_answer(sc, None, decomposed).passed


def test_sharp_s_is_not_ss() -> None:
    sc = scenario("de", "Answer in German.", all=["Größe"])
    text = "Haben Sie diese Jacke auch in einer anderen Größe für mich?"
    assert check_answer(sc, None, text).passed
    assert ascii_fold("Größe") == "Grosse"
    assert not check_answer(sc, None, text.replace("Größe", "Grösse")).passed
    assert not check_answer(sc, None, text.replace("Größe", "GROSSE")).passed


def test_cjk_words_match_without_spaces() -> None:
    sc = scenario("ja", "Answer in Japanese.", any=["図書館"])
    assert check_answer(sc, None, "駅を出て右に曲がると、左側に市立図書館が見えます。").passed
    assert not check_answer(sc, None, "駅を出て右に曲がると、左側に市役所が見えます。").passed


def test_copy_of_an_in_language_prompt_fails() -> None:
    prompt = "Quels sont les avantages du vélo pour aller au travail en ville ?"
    sc = scenario(prompt=prompt, any=["vélo"])
    v = check_answer(sc, None, prompt)
    assert not v.passed and "not a copy of the prompt" in v.detail


def test_short_answer_fails() -> None:
    v = check_answer(scenario(), None, "Oui, le vélo.")
    assert not v.passed and "length" in v.detail


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ("language: xx", "language"),
        ("language: fr, all: ['']", "empty strings"),
        ("language: fr, threshold: 0", "threshold"),
    ],
)
def test_bad_arguments_fail_at_load(tmp_path: Path, args: str, msg: str) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        textwrap.dedent(
            f"""\
            scenarios:
              - id: a
                prompt: "Answer in French."
                verifier: {{type: language, {args}}}
                reference: "Bonjour à tous."
                counterexamples: [Hello, Hi]
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(PackError, match=msg) as ei:
        load_scenario_file(p)
    assert ei.value.line == 2


# ---------------------------------------------------------------- the pack


def test_coverage_per_language(pack: Pack) -> None:
    adherence_n = Counter(t for sc in pack.scenarios if "adherence" in sc.tags for t in sc.tags)
    traps = Counter(t for sc in pack.scenarios if "diacritics" in sc.tags for t in sc.tags)
    for lang in LANGS:
        assert adherence_n[lang] >= 4, lang
    for lang in LATIN:
        assert traps[lang] >= 4, lang
    for sc in pack.scenarios:
        assert sc.verifier.type == "language"
        lang = sc.verifier.args["language"]
        assert lang in sc.tags and sc.id.startswith(f"{lang}-")


def test_every_trap_has_an_ascii_stripped_counterexample(pack: Pack) -> None:
    for sc in pack.scenarios:
        if "diacritics" not in sc.tags:
            continue
        assert isinstance(sc.reference, str)
        words = sc.verifier.args["all"]
        assert words and all(ascii_fold(w) != w for w in words), sc.id
        folded = ascii_fold(sc.reference)
        assert folded in sc.counterexamples, sc.id
        v = check_answer(sc, None, folded)
        # stripped Spanish can also read as Portuguese: the language may fail too
        assert not v.passed, sc.id
        assert any("accents lost" in c.found for c in v.checks if not c.passed), sc.id


@pytest.mark.parametrize("detector", DETECTORS)
def test_selfcheck_with_each_detector(
    pack: Pack, detector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMBENCH_LANGUAGE_DETECTOR", detector)
    assert [str(p) for p in check_pack(pack)] == []
