"""Mutants of Python source for the ``testgen`` verifier, made with :mod:`ast` on the
host, deterministically: the same code gives the same mutants in the same order (the
operators are listed in :mod:`.testgen`)."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mutant:
    id: str  # m000, m001... in generation order
    operator: str
    line: int
    change: str  # "`a < b` -> `a <= b`"
    source: str


_ARITH: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
}
_CMP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}

# A mutation: (operator name, index of the node in ast.walk order, how to change it).
_Edit = tuple[str, int, Callable[[ast.AST], ast.AST | None]]


def _plus_one(e: ast.expr) -> ast.expr:
    return ast.BinOp(left=e, op=ast.Add(), right=ast.Constant(1))


def _docstring_ids(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _skipped(tree: ast.Module) -> set[int]:
    """Nodes never mutated: docstrings, annotations, ``if __name__ == ...`` blocks."""
    skip = _docstring_ids(tree)
    for node in ast.walk(tree):
        ann: list[ast.AST] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ann += [a.annotation for a in node.args.args + node.args.kwonlyargs if a.annotation]
            if node.returns:
                ann.append(node.returns)
        if isinstance(node, ast.AnnAssign):
            ann.append(node.annotation)
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
        ):
            ann.append(node)
        for a in ann:
            skip.update(id(n) for n in ast.walk(a))
    return skip


def _edits(tree: ast.Module) -> Iterator[_Edit]:
    skip = _skipped(tree)
    for idx, node in enumerate(ast.walk(tree)):
        if id(node) in skip:
            continue
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _ARITH:
            new_op = _ARITH[type(node.op)]

            def arith(n: ast.AST, new_op: type[ast.operator] = new_op) -> ast.AST:
                assert isinstance(n, (ast.BinOp, ast.AugAssign))
                n.op = new_op()
                return n

            yield "arith", idx, arith
        elif isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in _CMP:

                    def cmp(n: ast.AST, k: int = k) -> ast.AST:
                        assert isinstance(n, ast.Compare)
                        ops = list(n.ops)
                        ops[k] = _CMP[type(ops[k])]()
                        n.ops = ops
                        return n

                    yield "compare", idx, cmp
        elif isinstance(node, ast.BoolOp):

            def boolop(n: ast.AST) -> ast.AST:
                assert isinstance(n, ast.BoolOp)
                n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
                return n

            yield "logic", idx, boolop
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield "logic", idx, lambda n: n.operand if isinstance(n, ast.UnaryOp) else n
        elif isinstance(node, (ast.If, ast.While, ast.IfExp)):

            def negate(n: ast.AST) -> ast.AST:
                assert isinstance(n, (ast.If, ast.While, ast.IfExp))
                n.test = ast.UnaryOp(op=ast.Not(), operand=n.test)
                return n

            yield "condition", idx, negate
        elif isinstance(node, ast.Constant) and type(node.value) in (int, bool):
            if isinstance(node.value, bool):
                yield "constant", idx, lambda n: ast.Constant(not getattr(n, "value", False))
            else:
                yield "constant", idx, lambda n: ast.Constant(getattr(n, "value", 0) + 1)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "range"
            and node.args
        ):

            def rng(n: ast.AST) -> ast.AST:
                assert isinstance(n, ast.Call)
                stop = 0 if len(n.args) == 1 else 1
                args = list(n.args)
                args[stop] = _plus_one(args[stop])
                n.args = args
                return n

            yield "off_by_one", idx, rng
        elif isinstance(node, ast.Slice):
            for part in ("lower", "upper"):
                if getattr(node, part) is not None:

                    def slc(n: ast.AST, part: str = part) -> ast.AST:
                        setattr(n, part, _plus_one(getattr(n, part)))
                        return n

                    yield "off_by_one", idx, slc


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, fn: Callable[[ast.AST], ast.AST | None]):
        self.target = target
        self.fn = fn
        self.before = ""
        self.after = ""

    def visit(self, node: ast.AST) -> Any:
        if node is self.target:
            self.before = _unparse(node)
            new = self.fn(node)
            self.after = _unparse(new) if new is not None else ""
            return new
        return self.generic_visit(node)


def _unparse(node: ast.AST) -> str:
    if isinstance(node, (ast.If, ast.While)):
        return (
            _unparse(node.test)
            if not isinstance(node.test, ast.UnaryOp)
            else ("not (" + _unparse(node.test.operand) + ")")
        )
    if isinstance(node, ast.AugAssign):
        return ast.unparse(node).split("\n")[0]
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - odd nodes
        return type(node).__name__


def mutants(source: str, *, limit: int = 200) -> list[Mutant]:
    """Every mutant of ``source``, deduplicated, in a fixed order; ``limit`` keeps an
    evenly spread subset when there are more."""
    tree = ast.parse(source)
    base = ast.unparse(tree)
    seen = {base}
    out: list[Mutant] = []
    for op, idx, fn in list(_edits(tree)):
        t2 = copy.deepcopy(tree)
        target = list(ast.walk(t2))[idx]
        line = getattr(target, "lineno", 0)
        rep = _Replace(target, fn)
        t2 = rep.visit(t2)
        ast.fix_missing_locations(t2)
        try:
            src = ast.unparse(t2)
            compile(src, "<mutant>", "exec")
        except (SyntaxError, ValueError, TypeError):
            continue
        if src in seen:
            continue
        seen.add(src)
        before, after = rep.before.split("\n")[0], rep.after.split("\n")[0]
        out.append(Mutant("", op, line, f"`{before[:60]}` -> `{after[:60]}`", src))
    if len(out) > limit:
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return [Mutant(f"m{i:03d}", m.operator, m.line, m.change, m.source) for i, m in enumerate(out)]
