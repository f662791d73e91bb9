"""The pack-authoring reference: typed verifier arguments in `llmbench schema` (a
union discriminated by `type`), `llmbench verifiers`, docs/verifiers.md current."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pytest_llmbench.cli import main as cli_main
from pytest_llmbench.core import verifier_docs
from pytest_llmbench.core.packs import builtin_packs_dir, iter_pack_dirs, scenario_files
from pytest_llmbench.core.verifiers.base import registered

REPO = Path(__file__).resolve().parent.parent.parent
DOC = REPO / "docs" / "verifiers.md"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = verifier_docs.full_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def scenario_file(verifier: dict[str, Any]) -> dict[str, Any]:
    return {
        "scenarios": [
            {
                "id": "s",
                "prompt": "p",
                "verifier": verifier,
                "reference": "r",
                "counterexamples": ["a", "b"],
            }
        ]
    }


def test_docs_verifiers_md_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == verifier_docs.render_markdown(), (
        "docs/verifiers.md is stale: run `llmbench verifiers --markdown > docs/verifiers.md`"
    )


def test_every_verifier_is_documented_with_an_example_that_validates(
    validator: jsonschema.Draft202012Validator,
) -> None:
    text = DOC.read_text(encoding="utf-8")
    examples = verifier_docs.examples()
    for name, cls in registered().items():
        assert f"\n## {name}\n" in text
        where, block = examples[name]
        assert block["type"] == name
        args = {k: v for k, v in block.items() if k != "type"}
        cls.Args.model_validate(args)  # the example is valid for the verifier itself
        errors = list(validator.iter_errors(scenario_file(block)))
        assert not errors, (name, where, [e.message for e in errors][:3])
    assert "## judge" in text and "--llm-judge-url" in text


def test_builtin_pack_files_validate_against_the_schema(
    validator: jsonschema.Draft202012Validator,
) -> None:
    checked = 0
    for d in iter_pack_dirs(builtin_packs_dir()):
        for f in scenario_files(d):
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
            errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
            assert not errors, (str(f), [(list(e.path), e.message) for e in errors][:3])
            checked += 1
    assert checked > 20


@pytest.mark.parametrize(
    ("verifier", "says"),
    [
        ({"type": "exact", "valeu": "x"}, "valeu"),
        ({"type": "number"}, "'value' is a required property"),
        ({"type": "no-such-verifier"}, "is not one of"),
        ({"type": "regex", "pattern": 3}, "is not of type 'string'"),
        ({"type": "judge", "rubric": "r", "check": {"type": "exact", "vaule": 1}}, "vaule"),
    ],
)
def test_schema_rejects_bad_verifier_arguments(
    validator: jsonschema.Draft202012Validator, verifier: dict[str, Any], says: str
) -> None:
    def messages(errors: Any) -> list[str]:
        # if/then and anyOf branches report through their sub-errors
        return [m for e in errors for m in [e.message, *messages(e.context or [])]]

    found = messages(validator.iter_errors(scenario_file(verifier)))
    assert found and any(says in m for m in found), found


def test_schema_command_prints_the_union(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    union = schema["$defs"]["VerifierSpec"]
    assert set(union["properties"]["type"]["enum"]) == set(registered())
    assert len(union["allOf"]) == len(registered())
    assert schema["$defs"]["verifier.judge"]["required"] == ["type", "rubric"]


def test_verifiers_command_lists_every_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["verifiers"]) == 0
    out = capsys.readouterr().out
    for name in registered():
        assert f"\n{name}" in "\n" + out
    assert "code_tests [sandbox]" in out
    assert cli_main(["verifiers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["type"] for r in rows} == set(registered())


def test_check_of_a_judged_scenario_without_judge_does_not_crash(tmp_path: Path) -> None:
    d = tmp_path / "essay"
    d.mkdir()
    (d / "pack.yaml").write_text("id: essay\ntitle: Essay\nversion: '1'\n")
    (d / "s.yaml").write_text(
        """scenarios:
  - id: haiku
    prompt: "Write a haiku about the sea."
    verifier: {type: judge, rubric: "A haiku about rain, 5-7-5.", decides: true}
    reference: "soft rain on the roof\\nthe gutters sing all night long\\npuddles hold the moon"
    counterexamples: ["I like turtles.", "Rain."]
  - id: haiku-checked
    prompt: "Write a haiku about the sea."
    verifier: {type: judge, rubric: "A haiku about rain.", check: {type: contains, all: [gutters]}}
    reference: "soft rain on the roof\\nthe gutters sing all night long\\npuddles hold the moon"
    counterexamples: ["I like turtles.", "Sun."]
"""
    )
    res = subprocess.run(
        [sys.executable, "-m", "pytest_llmbench.cli", "check", str(d)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in res.stderr + res.stdout, res.stderr
    assert res.returncode == 0, res.stdout + res.stderr
    assert "essay::haiku: not checked: " in res.stdout and "--llm-judge-url" in res.stdout
    assert "essay: 2 scenarios, 0 problem(s), 1 not checked (no judge)" in res.stdout
