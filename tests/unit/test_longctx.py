"""core.generators (needle in a haystack) and the longctx pack."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.core.exchange import check_answer
from pytest_llmbench.core.generators import CHARS_PER_TOKEN, expand_generators, haystack
from pytest_llmbench.core.packs import Pack, PackError, load_pack, load_scenario_file
from pytest_llmbench.core.schema import Scenario
from pytest_llmbench.core.selfcheck import check_pack

PACK = Path(__file__).resolve().parents[2] / "packs" / "longctx"

SPEC: dict[str, Any] = {
    "kind": "needle",
    "id": "t",
    "seed": 5,
    "lengths": {"2k": 2000},
    "depths": [10, 50, 90],
}


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(PACK)


def expand(**over: Any) -> list[Scenario]:
    return expand_generators([{**SPEC, **over}], Path("inline.yaml"), None)


def document(sc: Scenario) -> str:
    assert sc.prompt is not None
    return sc.prompt.split("<document>\n", 1)[1].split("\n</document>", 1)[0]


# ---------------------------------------------------------------- the pack


def test_pack_has_every_length_depth_and_variant(pack: Pack) -> None:
    ids = {sc.id for sc in pack.scenarios}
    want = {
        f"nih-{n}-d{d}-{v}"
        for n in ("4k", "16k", "32k")
        for d in (10, 50, 90)
        for v in ("single", "multi", "distractor")
    }
    assert ids == want


def test_length_tags_and_sizes(pack: Pack) -> None:
    for sc in pack.scenarios:
        label = sc.id.split("-")[1]
        assert f"ctx{label}" in sc.tags
        assert [t for t in sc.tags if t.startswith("ctx")] == [f"ctx{label}"]
        tokens = {"4k": 4000, "16k": 16000, "32k": 32000}[label]
        assert sc.prompt is not None
        # chars / 4 within 3 % of the nominal size
        assert abs(len(sc.prompt) / CHARS_PER_TOKEN - tokens) < 0.03 * tokens, sc.id


def test_pack_description_states_context_needs(pack: Pack) -> None:
    text = pack.meta.description
    for tag in ("ctx4k", "ctx16k", "ctx32k"):
        assert tag in text
    # tags are markers spelled tag_<tag>: the advice must use that spelling
    assert '-m "longctx and not tag_ctx32k"' in text
    assert '-m "longctx and tag_ctx4k"' in text


def test_ids_and_values_are_pinned(pack: Pack) -> None:
    # Seeded from seed + id: a change in drawing order would silently change items.
    got = {
        sid: pack.scenario(sid).verifier.args["values"]
        for sid in ("nih-4k-d50-distractor", "nih-16k-d10-multi", "nih-32k-d90-single")
    }
    assert got == {
        "nih-4k-d50-distractor": ["YD-3148"],
        "nih-16k-d10-multi": ["MJ-2040", "RG-3070", "UE-6754"],
        "nih-32k-d90-single": ["XG-6167"],
    }


def test_selfcheck_reference_passes_counterexamples_and_junk_fail(pack: Pack) -> None:
    assert [str(p) for p in check_pack(pack)] == []


# ---------------------------------------------------------------- generation


def test_same_seed_same_text_other_seed_other_text() -> None:
    one = [s.model_dump() for s in expand()]
    assert one == [s.model_dump() for s in expand()]
    other = expand(seed=6)
    assert [s.prompt for s in other] != [s["prompt"] for s in one]


def test_adding_lengths_or_depths_keeps_existing_items() -> None:
    few = {s.id: s.model_dump() for s in expand()}
    many = {
        s.id: s.model_dump()
        for s in expand(lengths={"1k": 1000, "2k": 2000}, depths=[0, 10, 50, 90])
    }
    assert set(few) < set(many)
    for sid, dump in few.items():
        assert many[sid] == dump


def test_needle_sits_at_the_stated_depth() -> None:
    for sc in expand(variants=["single"], depths=[0, 10, 25, 50, 75, 90, 100]):
        doc = document(sc)
        value = sc.verifier.args["values"][0]
        at = doc.index(f"is {value}.") / len(doc)
        depth = int(sc.id.split("-d")[1].split("-")[0])
        assert abs(at * 100 - depth) < 3, (sc.id, at)


def test_multi_needles_are_distinct_and_all_in_the_text() -> None:
    for sc in expand(variants=["multi"], needles=4):
        values = sc.verifier.args["values"]
        assert len(values) == len(set(values)) == 4
        doc = document(sc)
        keys = re.findall(r"The access code for the (.+?) is ([A-Z]{2}-\d{4})\.", doc)
        assert sorted(v for _, v in keys) == sorted(values)
        places = [k.split(" ", 1)[1] for k, _ in keys]
        assert len(set(places)) == 4
        assert all(place in (sc.prompt or "").rsplit("</document>", 1)[1] for place in places)


def test_distractor_is_a_near_duplicate_with_another_value() -> None:
    for sc in expand(variants=["distractor"]):
        doc = document(sc)
        found = dict(
            (v, k)
            for k, v in re.findall(r"The access code for the (.+?) is ([A-Z]{2}-\d{4})\.", doc)
        )
        (value,) = sc.verifier.args["values"]
        (near,) = sc.verifier.args["forbidden"]
        assert set(found) == {value, near}
        # same letters, at most two digits differ (swapped, or one changed)
        assert value[:3] == near[:3] and value != near
        assert sum(a != b for a, b in zip(value, near, strict=True)) <= 2
        k1, k2 = found[value], found[near]
        assert k1 != k2 and k1.split(" ", 1)[1] == k2.split(" ", 1)[1]  # same place, other side
        question = (sc.prompt or "").rsplit("</document>", 1)[1]
        assert k1 in question and k2 not in question


def test_haystack_has_no_digits_and_no_needle_phrasing() -> None:
    import random

    text = " ".join(haystack(random.Random(1), 50_000))
    assert not re.search(r"\d", text)
    assert "access code" not in text


# ---------------------------------------------------------------- verifier


def verdict_for(sc: Scenario, answer: str) -> Any:
    return check_answer(sc, None, answer)


def test_distractor_value_fails_and_says_so(pack: Pack) -> None:
    sc = pack.scenario("nih-4k-d50-distractor")
    assert verdict_for(sc, "The code is YD-3148.").passed
    v = verdict_for(sc, "The code is YD-3184.")
    assert not v.passed and v.category == "needle_missed"
    assert "needle 'YD-3148'" in v.detail and "near-duplicate 'YD-3184'" in v.detail
    # hedging between both values fails too
    assert not verdict_for(sc, "Either YD-3148 or YD-3184.").passed


def test_one_needle_missing_fails_with_partial_score(pack: Pack) -> None:
    sc = pack.scenario("nih-16k-d10-multi")
    v = verdict_for(sc, "MJ-2040 and RG-3070.")
    assert not v.passed
    assert v.metrics["needles"] == [2.0, 3.0]
    assert "needle 'UE-6754': found missing" in v.detail
    ok = verdict_for(sc, "mj-2040, rg-3070, ue-6754")  # case does not matter
    assert ok.passed and ok.metrics["needles"] == [3.0, 3.0]


def test_values_must_stand_alone_and_answer_must_be_short(pack: Pack) -> None:
    sc = pack.scenario("nih-32k-d90-single")
    assert not verdict_for(sc, "XG-61670").passed  # a longer code is another code
    assert not verdict_for(sc, "XG-6167 " + "word " * 100).passed
    assert not verdict_for(sc, "").passed


# ---------------------------------------------------------------- errors name file and line


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "gen.yaml"
    p.write_text(textwrap.dedent(body), encoding="utf-8")
    return p


def test_unknown_generator_kind(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """\
        generators:
          - kind: needle
            id: a
            seed: 1
            lengths: {1k: 1000}
            depths: [50]
          - kind: haystack
            id: b
        """,
    )
    with pytest.raises(PackError) as ei:
        load_scenario_file(p)
    assert ei.value.line == 7
    assert "unknown generator 'haystack' (known: " in str(ei.value)


def test_bad_depth_points_at_its_line(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """\
        generators:
          - kind: needle
            id: a
            seed: 1
            lengths: {1k: 1000}
            depths: [50, 150]
        """,
    )
    with pytest.raises(PackError) as ei:
        load_scenario_file(p)
    assert ei.value.line == 6 and "depths" in str(ei.value)


def test_duplicate_generated_ids_are_rejected(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        """\
        scenarios:
          - id: a-1k-d50-single
            prompt: "Say hi."
            verifier: {type: contains, all: [hi]}
            reference: hi
            counterexamples: [hello, hey]
        generators:
          - kind: needle
            id: a
            seed: 1
            lengths: {1k: 1000}
            depths: [50]
            variants: [single]
        """,
    )
    with pytest.raises(PackError, match="duplicate scenario id 'a-1k-d50-single'"):
        load_scenario_file(p)
