"""Scenario texts kept in files beside the YAML ({include: PATH, fence: LANG})."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.core.packs import PackError, load_pack, load_scenario_file

PACKS = Path(__file__).resolve().parents[2] / "packs"

SCENARIO = """scenarios:
- id: s
  prompt: {include: prompt.md}
  verifier: {type: contains, all: ["42"]}
  reference: {include: answers/ref.txt, fence: text}
  counterexamples: [{include: answers/bad.txt}, "no"]
"""


def _folder(tmp_path: Path, scenario: str = SCENARIO) -> Path:
    (tmp_path / "answers").mkdir()
    (tmp_path / "prompt.md").write_text("What is six times seven?\n")
    (tmp_path / "answers" / "ref.txt").write_text("42")
    (tmp_path / "answers" / "bad.txt").write_text("41\n")
    (tmp_path / "scenario.yaml").write_text(scenario)
    return tmp_path / "scenario.yaml"


def test_included_files_become_the_texts(tmp_path: Path) -> None:
    (sc,) = load_scenario_file(_folder(tmp_path))
    assert sc.prompt == "What is six times seven?\n"
    assert sc.reference == "```text\n42\n```\n"
    assert sc.counterexamples == ["41\n", "no"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{include: ../secret.txt}", "must name a file inside"),
        ("{include: /etc/passwd}", "must name a file inside"),
        ("{include: missing.md}", "cannot read"),
        ("{include: prompt.md, fence: 'a b'}", "fence must be a language name"),
        ("{include: 3}", "wants a file name"),
    ],
)
def test_bad_includes_name_the_file(tmp_path: Path, bad: str, message: str) -> None:
    path = _folder(tmp_path, SCENARIO.replace("{include: prompt.md}", bad))
    with pytest.raises(PackError, match=message) as ei:
        load_scenario_file(path)
    assert str(path) in str(ei.value)


def test_coding_tasks_are_folders_of_real_files() -> None:
    pack = load_pack(PACKS / "coding")
    assert len(pack.scenarios) == 6
    for sc in pack.scenarios:
        folder = PACKS / "coding" / "tasks" / sc.id
        assert (folder / "scenario.yaml").is_file() and (folder / "prompt.md").is_file()
        ref = next(folder.glob("reference.*"))
        assert ref.read_text() in str(sc.reference)
        assert len(list((folder / "counterexamples").iterdir())) == len(sc.counterexamples)
