import ast
import builtins
import pathlib

import topk


def test_basic():
    assert topk.top_k_words(["a", "b", "a", "c", "b", "a"], 2) == ["a", "b"]


def test_ties_alphabetical():
    assert topk.top_k_words(["pear", "fig", "apple", "fig", "pear", "apple"], 2) == ["apple", "fig"]


def test_k_larger_than_distinct():
    assert topk.top_k_words(["x", "y", "x"], 10) == ["x", "y"]


def test_k_zero_and_empty():
    assert topk.top_k_words(["x"], 0) == []
    assert topk.top_k_words([], 3) == []


def test_no_counter():
    tree = ast.parse(pathlib.Path("topk.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    aliases = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert "Counter" not in names | attrs | aliases, "collections.Counter is not allowed"
    assert "most_common" not in attrs


def test_does_not_sort_everything():
    tree = ast.parse(pathlib.Path("topk.py").read_text())
    sorts = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "sort"]
    assert not sorts, "list.sort() over all words is O(n log n)"
    real = builtins.sorted
    sizes = []

    def spy(it, *a, **kw):
        items = list(it)
        sizes.append(len(items))
        return real(items, *a, **kw)

    builtins.sorted = spy
    try:
        words = [f"w{i % 5000}" for i in range(20000)] + ["top"] * 50
        assert topk.top_k_words(words, 3)[0] == "top"
    finally:
        builtins.sorted = real
    assert all(s <= 100 for s in sizes), f"sorted() called on {max(sizes)} items"
