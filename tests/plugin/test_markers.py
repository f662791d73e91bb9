"""Selection that means what it says: ``-m <pack>`` selects that pack only, tags are
``tag_<tag>`` markers, every marker is registered, and a ``-m`` naming a marker that
does not exist and selecting nothing says so."""

from __future__ import annotations

import pytest


def collected(pytester: pytest.Pytester, *args: str) -> tuple[list[str], pytest.RunResult]:
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--llm-endpoint=reference", "--collect-only", "-q", *args
    )
    ids = [ln for ln in res.stdout.lines if "::" in ln and not ln.startswith(" ")]
    return ids, res


@pytest.mark.parametrize("pack", ["python", "recovery", "language", "toolcall"])
def test_pack_marker_selects_that_pack_only(pytester: pytest.Pytester, pack: str) -> None:
    ids, res = collected(pytester, "-m", pack, "--strict-markers")
    assert res.ret == 0, res.stdout.str()[-2000:] + res.stderr.str()[-2000:]
    assert ids, res.stdout.str()[-2000:]
    assert {i.split("::")[0] for i in ids} == {pack}


def test_tag_markers_are_prefixed(pytester: pytest.Pytester) -> None:
    ids, res = collected(pytester, "-m", "tag_diacritics", "--strict-markers")
    assert res.ret == 0
    assert ids and "language" in {i.split("::")[0] for i in ids}
    # the bare tag name is no marker any more: it selects nothing (and says so)
    none, res = collected(pytester, "-m", "diacritics")
    assert none == []
    res.stdout.fnmatch_lines(["*'diacritics' is not a registered marker (did you mean tag_diacr*"])


def test_misspelt_pack_marker_warns(pytester: pytest.Pytester) -> None:
    ids, res = collected(pytester, "-m", "agentedit-stress")
    assert ids == []
    res.stdout.fnmatch_lines(
        [
            "*-m 'agentedit-stress' selected no llmbench scenario: 'agentedit-stress' is not "
            "a registered marker (did you mean agentedit_stress*",
        ]
    )
    ids, res = collected(pytester, "-m", "agentedit_stress")
    assert ids and {i.split("::")[0] for i in ids} == {"agentedit-stress"}
    assert "is not a registered marker" not in res.stdout.str()


def test_misspelt_marker_warns_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    res = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--llm-endpoint=reference", "-n", "2", "-m", "agentedit-stress"
    )
    assert res.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    res.stdout.fnmatch_lines(["*did you mean agentedit_stress*"])


def test_pytest_markers_lists_packs_and_tags(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--markers")
    assert res.ret == 0
    out = res.stdout.str()
    for line in (
        "@pytest.mark.toolcall: scenarios of pack toolcall",
        "@pytest.mark.agentedit_stress: scenarios of pack agentedit-stress",
        "@pytest.mark.tag_diacritics: scenarios tagged diacritics",
        "@pytest.mark.sandbox:",
    ):
        assert line in out, line
