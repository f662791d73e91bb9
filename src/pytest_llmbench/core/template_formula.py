"""Template formulas: parsed with :mod:`ast`, interpreted by a small walker (never
``eval``): arithmetic, comparisons, ``min/max/abs/round``, ``and/or/not``, with caps
on exponents and magnitudes (see core.templates)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

Value = int | float | str | bool

_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs, "round": round}
_RESERVED = set(_FUNCS) | {"answer", "and", "or", "not"}
# Caps keep a typo like ``10 ** 10 ** 10`` from hanging the loader.
_MAX_EXPONENT = 64
_MAX_MAGNITUDE = 1e18


class FormulaError(ValueError):
    """A formula is malformed, uses something not allowed, or cannot be computed."""


def _clean(v: int | float) -> int | float:
    """Integral floats become ints; others lose float noise (0.1 + 0.2 -> 0.3)."""
    if isinstance(v, float):
        r = round(v, 9)
        return int(r) if r.is_integer() else r
    return v


# ---------------------------------------------------------------- formulas

_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: lambda a, b: bool(a < b),
    ast.LtE: lambda a, b: bool(a <= b),
    ast.Gt: lambda a, b: bool(a > b),
    ast.GtE: lambda a, b: bool(a >= b),
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
}


class Formula:
    """A parsed, checked expression. ``boolean`` formulas (constraints) may also
    compare and use and/or/not; arithmetic ones may not."""

    def __init__(self, source: str, known: set[str], *, boolean: bool = False):
        self.source = source
        self.boolean = boolean
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise FormulaError(f"cannot parse {source!r}: {exc.msg}") from None
        self.tree = tree.body
        self.names: set[str] = set()
        self._check(self.tree, known)

    def _check(self, node: ast.AST, known: set[str]) -> None:
        bad = f"{self.source!r}: {type(node).__name__} is not allowed"
        if isinstance(node, ast.Constant):
            ok_types: tuple[type, ...] = (int, float, str) if self.boolean else (int, float)
            if isinstance(node.value, bool) or not isinstance(node.value, ok_types):
                raise FormulaError(f"{self.source!r}: constant {node.value!r} is not allowed")
        elif isinstance(node, ast.Name):
            if node.id not in known:
                hint = " (functions must be called)" if node.id in _FUNCS else ""
                raise FormulaError(f"{self.source!r}: unknown name {node.id!r}{hint}")
            self.names.add(node.id)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITH:
                raise FormulaError(f"{self.source!r}: {type(node.op).__name__} is not allowed")
            self._check(node.left, known)
            self._check(node.right, known)
        elif isinstance(node, ast.UnaryOp):
            allowed: tuple[type, ...] = (ast.USub, ast.UAdd)
            if self.boolean:
                allowed += (ast.Not,)
            if not isinstance(node.op, allowed):
                raise FormulaError(f"{self.source!r}: {type(node.op).__name__} is not allowed")
            self._check(node.operand, known)
        elif isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name) or func.id not in _FUNCS:
                what = func.id if isinstance(func, ast.Name) else type(func).__name__
                raise FormulaError(
                    f"{self.source!r}: call of {what} is not allowed "
                    f"(only {', '.join(sorted(_FUNCS))})"
                )
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise FormulaError(f"{self.source!r}: {func.id}() takes plain arguments only")
            counts = {"abs": (1, 1), "round": (1, 2), "min": (2, 99), "max": (2, 99)}
            lo, hi = counts[func.id]
            if not lo <= len(node.args) <= hi:
                raise FormulaError(f"{self.source!r}: wrong number of arguments to {func.id}()")
            for a in node.args:
                self._check(a, known)
        elif self.boolean and isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE:
                    raise FormulaError(
                        f"{self.source!r}: comparison {type(op).__name__} is not allowed"
                    )
            self._check(node.left, known)
            for c in node.comparators:
                self._check(c, known)
        elif self.boolean and isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v, known)
        else:
            raise FormulaError(bad)

    def evaluate(self, env: dict[str, Value]) -> Value:
        try:
            return self._eval(self.tree, env)
        except ZeroDivisionError:
            raise FormulaError(f"{self.source!r}: division by zero") from None
        except (TypeError, OverflowError) as exc:
            raise FormulaError(f"{self.source!r}: {exc}") from None

    def _num(self, v: Value, node: ast.AST) -> int | float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise FormulaError(f"{self.source!r}: {ast.unparse(node)} is {v!r}, not a number")
        return v

    def _eval(self, node: ast.AST, env: dict[str, Value]) -> Value:
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, (int, float, str))  # checked in _check
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BinOp):
            left = self._num(self._eval(node.left, env), node.left)
            right = self._num(self._eval(node.right, env), node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
                raise FormulaError(f"{self.source!r}: exponent {right} is too large")
            out = _ARITH[type(node.op)](left, right)
            if isinstance(out, complex) or abs(out) > _MAX_MAGNITUDE:
                raise FormulaError(f"{self.source!r}: result {out!r} is out of range")
            return out  # type: ignore[no-any-return]
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, env)
            if isinstance(node.op, ast.Not):
                return not operand
            num = self._num(operand, node.operand)
            return -num if isinstance(node.op, ast.USub) else num
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            args = [self._num(self._eval(a, env), a) for a in node.args]
            if node.func.id == "round" and len(args) == 2:
                return round(args[0], int(args[1]))
            return _FUNCS[node.func.id](*args)  # type: ignore[no-any-return]
        if isinstance(node, ast.Compare):
            lhs = self._eval(node.left, env)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                rhs = self._eval(comp, env)
                if not _COMPARE[type(op)](lhs, rhs):
                    return False
                lhs = rhs
            return True
        if isinstance(node, ast.BoolOp):
            vals = (bool(self._eval(v, env)) for v in node.values)
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        raise FormulaError(f"{self.source!r}: {type(node).__name__} is not allowed")

    def substituted(self, env: dict[str, Value]) -> str:
        """The formula with names replaced by their values, for worked answers."""

        class Sub(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 - ast API
                val = env[node.id]
                if isinstance(val, (int, float)) and not isinstance(val, bool):
                    return ast.Constant(value=_clean(val))
                return node

        return ast.unparse(Sub().visit(ast.parse(self.source.strip(), mode="eval")))
