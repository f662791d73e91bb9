"""Pack loading: validation errors name the file and the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmbench.core.packs import PackError, load_pack, load_scenario_file
from pytest_llmbench.core.schema import json_schema

META = "id: demo\ntitle: Demo\nversion: '1'\n"
GOOD = """scenarios:
  - id: one
    prompt: "Say yes"
    verifier: {type: exact, value: "yes", ignore_case: true}
    reference: "yes"
    counterexamples: ["no", "yes yes"]
"""


def _pack(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "demo"
    d.mkdir()
    (d / "pack.yaml").write_text(META)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def test_good_pack_loads(tmp_path: Path) -> None:
    pack = load_pack(_pack(tmp_path, {"a.yaml": GOOD}))
    assert [s.id for s in pack.scenarios] == ["one"]
    assert pack.scenarios[0].source_line == 2


def test_missing_field_names_file_and_line(tmp_path: Path) -> None:
    bad = (
        GOOD
        + "  - id: two\n    prompt: x\n    verifier: {type: exact, value: a}\n    reference: a\n"
    )
    d = _pack(tmp_path, {"a.yaml": bad})
    with pytest.raises(PackError) as ei:
        load_pack(d)
    msg = str(ei.value)
    assert "a.yaml:7" in msg and "counterexamples" in msg


def test_too_few_counterexamples(tmp_path: Path) -> None:
    bad = GOOD.replace('["no", "yes yes"]', '["no"]')
    with pytest.raises(PackError, match=r"a.yaml:6: scenarios.0.counterexamples"):
        load_pack(_pack(tmp_path, {"a.yaml": bad}))


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    with pytest.raises(PackError, match=r"a.yaml:3: invalid YAML"):
        load_pack(_pack(tmp_path, {"a.yaml": "scenarios:\n  - id: x\n   bad: [\n"}))


def test_unknown_verifier_names_scenario(tmp_path: Path) -> None:
    bad = GOOD.replace("type: exact", "type: nosuch")
    with pytest.raises(PackError, match=r"scenario 'one'.*unknown verifier type 'nosuch'"):
        load_pack(_pack(tmp_path, {"a.yaml": bad}))


def test_bad_verifier_args(tmp_path: Path) -> None:
    bad = GOOD.replace("ignore_case: true", "ignore_cse: true")
    with pytest.raises(PackError, match=r"bad arguments for verifier 'exact'.*ignore_cse"):
        load_pack(_pack(tmp_path, {"a.yaml": bad}))


def test_duplicate_ids_rejected_within_and_across_files(tmp_path: Path) -> None:
    d = _pack(tmp_path, {"a.yaml": GOOD + GOOD.replace("scenarios:\n", ""), "b.yaml": GOOD})
    with pytest.raises(PackError, match="duplicate scenario id 'one'"):
        load_scenario_file(d / "a.yaml")
    d2 = tmp_path / "x"
    d2.mkdir()
    (d2 / "pack.yaml").write_text(META)
    (d2 / "a.yaml").write_text(GOOD)
    (d2 / "b.yaml").write_text(GOOD)
    with pytest.raises(
        PackError, match=r"b.yaml:2: duplicate scenario id 'one' \(also in a.yaml:2\)"
    ):
        load_pack(d2)


def test_prompt_xor_messages(tmp_path: Path) -> None:
    bad = GOOD.replace('    prompt: "Say yes"\n', "")
    with pytest.raises(PackError, match="exactly one of 'prompt' or 'messages'"):
        load_pack(_pack(tmp_path, {"a.yaml": bad}))


def test_bad_pack_meta(tmp_path: Path) -> None:
    d = _pack(tmp_path, {"a.yaml": GOOD})
    (d / "pack.yaml").write_text("id: Not An Id\ntitle: t\nversion: '1'\n")
    with pytest.raises(PackError, match=r"pack.yaml:1: id"):
        load_pack(d)


def test_regex_verifier_refuses_match_anything(tmp_path: Path) -> None:
    bad = GOOD.replace(
        '{type: exact, value: "yes", ignore_case: true}', "{type: regex, pattern: '.+'}"
    )
    with pytest.raises(PackError, match="accepts arbitrary text"):
        load_pack(_pack(tmp_path, {"a.yaml": bad}))


def test_json_schema_is_valid_json() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    assert "PackMeta" in text and "ScenarioFile" in text
    assert "counterexamples" in json.dumps(schema["$defs"]["ScenarioFile"])
