"""Edit formats: whole file, SEARCH/REPLACE blocks, unified diff (no sandbox)."""

from __future__ import annotations

import difflib

import pytest

from pytest_llmbench.core.edits import (
    EditApplyError,
    NoEdit,
    apply_edit,
    diff_text,
    parse_search_replace,
    parse_unified_diff,
)

SRC = "def f(x):\n    y = x + 1\n    return y\n\n\ndef g():\n    return 2\n"
FILES = {"mod.py": SRC}


def sr(search: str, replace: str, path: str = "mod.py") -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def test_whole_file_takes_the_code_block() -> None:
    out = apply_edit(
        "whole", FILES, "Here:\n```python\nX = 1\n```\n", target="mod.py", language="python"
    )
    assert out == {"mod.py": "X = 1\n"}


def test_whole_file_without_code() -> None:
    with pytest.raises(NoEdit):
        apply_edit("whole", FILES, "I cannot do that.", target="mod.py", language="python")


def test_search_replace_applies_in_order() -> None:
    answer = (
        "Sure.\n\n"
        + sr("    y = x + 1", "    y = x + 2")
        + "\n"
        + sr("    return 2", "    return 3")
    )
    out = apply_edit("search_replace", FILES, answer, target="mod.py", language="python")
    assert out["mod.py"] == SRC.replace("x + 1", "x + 2").replace("return 2", "return 3")


def test_search_replace_inside_a_fence_and_trailing_spaces() -> None:
    answer = "```python\n" + sr("    y = x + 1   ", "    y = 0") + "```\n"
    out = apply_edit("search_replace", FILES, answer, target="mod.py", language="python")
    assert "    y = 0\n" in out["mod.py"]


def test_search_replace_deletes_lines() -> None:
    out = apply_edit(
        "search_replace",
        FILES,
        sr("    y = x + 1\n    return y", "    return x"),
        target="mod.py",
        language="python",
    )
    assert out["mod.py"].startswith("def f(x):\n    return x\n\n")


def test_search_not_found_names_the_line() -> None:
    with pytest.raises(EditApplyError, match=r"block 1: the SEARCH text is not in mod.py.*x \+ 9"):
        apply_edit(
            "search_replace",
            FILES,
            sr("    y = x + 9", "    y = 0"),
            target="mod.py",
            language="python",
        )


def test_ambiguous_search() -> None:
    files = {"a.py": "x = 1\nx = 1\n"}
    with pytest.raises(EditApplyError, match="matches 2 places"):
        apply_edit(
            "search_replace", files, sr("x = 1", "x = 2", "a.py"), target="a.py", language="python"
        )


@pytest.mark.parametrize(
    "answer",
    [
        "mod.py\n<<<<<<< SEARCH\n    y = x + 1\n>>>>>>> REPLACE\n",
        "mod.py\n<<<<<<< SEARCH\n    y = x + 1\n=======\n    y = 2\n",
        "mod.py\n=======\n    y = 2\n>>>>>>> REPLACE\n",
    ],
)
def test_malformed_blocks(answer: str) -> None:
    with pytest.raises(EditApplyError):
        apply_edit("search_replace", FILES, answer, target="mod.py", language="python")


def test_no_blocks_is_no_edit() -> None:
    with pytest.raises(NoEdit):
        apply_edit(
            "search_replace", FILES, "```python\nprint(1)\n```", target="mod.py", language="python"
        )


def test_unknown_file_name() -> None:
    with pytest.raises(EditApplyError, match="not one of: mod.py"):
        apply_edit(
            "search_replace",
            FILES,
            sr("    y = x + 1", "", "other.py"),
            target="mod.py",
            language="python",
        )


def test_path_forms() -> None:
    blocks = parse_search_replace("```python\n" + sr("a", "b", "src/mod.py") + "```")
    assert blocks[0].path == "src/mod.py"
    # a unique basename and a/ prefixes resolve to the file
    out = apply_edit(
        "search_replace",
        FILES,
        sr("    return 2", "    return 5", "./mod.py"),
        target="mod.py",
        language="python",
    )
    assert "return 5" in out["mod.py"]


def _diff(a: str, b: str, n: int = 3) -> str:
    return "".join(
        difflib.unified_diff(a.splitlines(True), b.splitlines(True), "a/mod.py", "b/mod.py", n=n)
    )


def test_unified_diff_roundtrip() -> None:
    new = SRC.replace("x + 1", "x * 2").replace("return 2", "return 4")
    for n in (0, 1, 3):
        answer = f"Patch:\n```diff\n{_diff(SRC, new, n)}```\n"
        assert apply_edit("diff", FILES, answer, target="mod.py", language="python") == {
            "mod.py": new
        }


def test_diff_with_wrong_line_numbers_and_bare_hunk_header() -> None:
    d = "--- a/mod.py\n+++ b/mod.py\n@@ -40,2 +40,2 @@\n def g():\n-    return 2\n+    return 9\n"
    out = apply_edit("diff", FILES, d, target="mod.py", language="python")
    assert out["mod.py"].endswith("    return 9\n")
    d2 = "```diff\n@@ @@\n def g():\n-    return 2\n+    return 7\n```"
    assert "return 7" in apply_edit("diff", FILES, d2, target="mod.py", language="python")["mod.py"]


def test_diff_blank_context_line_without_space() -> None:
    d = (
        "```diff\n--- a/mod.py\n+++ b/mod.py\n@@ -3,4 +3,4 @@\n     return y\n"
        "\n\n-def g():\n+def h():\n```"
    )
    out = apply_edit("diff", FILES, d, target="mod.py", language="python")
    assert "def h():" in out["mod.py"]


def test_diff_context_mismatch() -> None:
    d = (
        "```diff\n--- a/mod.py\n+++ b/mod.py\n@@ -1,2 +1,2 @@\n def f(y):\n"
        "-    y = x + 1\n+    y = 0\n```"
    )
    with pytest.raises(EditApplyError, match="hunk 1 of mod.py does not apply"):
        apply_edit("diff", FILES, d, target="mod.py", language="python")


def test_diff_errors() -> None:
    with pytest.raises(NoEdit):
        diff_text("no diff here")
    with pytest.raises(EditApplyError, match="changes nothing"):
        parse_unified_diff("@@ -1 +1 @@\n def f(x):\n")
    with pytest.raises(EditApplyError, match="no '@@' hunk"):
        parse_unified_diff("--- a/x\n+++ b/x\n")


def test_diff_new_file() -> None:
    d = "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+A = 1\n+B = 2\n"
    out = apply_edit("diff", FILES, d, target="mod.py", language="python")
    assert out["new.py"] == "A = 1\nB = 2\n" and out["mod.py"] == SRC


def test_unknown_format() -> None:
    with pytest.raises(ValueError):
        apply_edit("patch", FILES, "", target="mod.py", language="python")
