"""The run log's records and JUnit's ``llmbench.*`` properties come from one record."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from demopack import DEMO, write_pack
from pytest_llmbench.core.record import RunRecord, user_properties

FUNCTION_TEST = """
import pytest

@pytest.mark.llmbench(pack="custom", reference="Paris")
def test_capital(llm):
    assert llm.ask("Capital of France? One word.").strip() == "Paris"
"""


@pytest.mark.parametrize("endpoint", ["reference", "junk"])
@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_junit_properties_are_the_records_user_properties(
    pytester: pytest.Pytester, endpoint: str, xdist: bool
) -> None:
    d = write_pack(pytester.path, DEMO, version="2.1", file="scenarios.yaml")
    (d / "zz_broken.yaml").write_text("scenarios:\n  - id: bad\n    prompt: x\n")
    pytester.makepyfile(test_fn=FUNCTION_TEST)
    args = [f"--llm-endpoint={endpoint}", "packs", "test_fn.py", "--llm-repeat=2"]
    args += ["--llm-log=log.json", "--junitxml=out.xml", "-p", "no:cacheprovider"]
    res = pytester.runpytest_subprocess(*args, *(["-n", "2"] if xdist else []))
    assert "INTERNALERROR" not in res.stdout.str() + res.stderr.str()
    log = json.loads((pytester.path / "log.json").read_text())
    records = [RunRecord.from_json(r) for r in log["results"]]
    # two scenarios twice, the test function, the broken file
    assert sorted(r.kind for r in records) == ["function", "pack_error"] + ["scenario"] * 4
    assert {r.passed for r in records if r.kind == "scenario"} == {endpoint == "reference"}

    root = ET.parse(pytester.path / "out.xml").getroot()
    shown = sorted(
        [(p.get("name"), p.get("value")) for p in case.findall("./properties/property")]
        for case in root.findall(".//testcase")
    )
    expected = sorted([(k, str(v)) for k, v in user_properties(r)] for r in records)
    assert shown == expected
    assert ["llmbench.repeat", "1"] in [list(p) for props in shown for p in props]
