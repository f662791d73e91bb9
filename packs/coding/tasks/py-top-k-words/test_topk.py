import ast

import topk

# source(name): the answer's file as edited (given by the verifier; these tests run
# outside the sandbox, against the answer's functions served from inside it).


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
    tree = ast.parse(source("topk.py"))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    aliases = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert "Counter" not in names | attrs | aliases, "collections.Counter is not allowed"
    assert "most_common" not in attrs


def test_does_not_sort_everything():
    tree = ast.parse(source("topk.py"))
    sorts = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "sort"]
    assert not sorts, "list.sort() over all words is O(n log n)"

    def kept_by_heapq(node):
        f = node.func if isinstance(node, ast.Call) else None
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        return name in ("nsmallest", "nlargest")

    full = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and getattr(n.func, "id", "") == "sorted"
        and not (n.args and kept_by_heapq(n.args[0]))
    ]
    assert not full, "sorted() over all the distinct words is O(n log n): sort only the k kept"
    words = [f"w{i % 5000}" for i in range(20000)] + ["top"] * 50
    assert topk.top_k_words(words, 3)[0] == "top"
