"""Parametric scenario templates (GSM-Symbolic style), expanded at load time.

A scenario file may hold a top-level ``templates:`` list next to ``scenarios:``::

    templates:
      - id: tm-bakery            # instances get ids tm-bakery-1 ... tm-bakery-N
        instances: 5
        seed: 7                  # same seed -> same instances on every machine
        vars:
          name: {choices: [Ana, Ben]}
          trays: {min: 3, max: 9}
          per_tray: {min: 6, max: 24, step: 2}
        derived:                 # optional, evaluated in order after vars
          baked: trays * per_tray
        constraints: ["baked > 40"]
        prompt: "{name} bakes {trays} trays ... End with a line `ANSWER: <number>`."
        answer: baked - 12
        tolerance: 0             # absolute tolerance of the ``number`` verifier
        steps: "{trays} x {per_tray} = {baked}; {baked} - 12 = {answer}."
        tags: [math]

Formulas are parsed with :mod:`ast` and interpreted by a small walker, never
``eval``: numbers, var names, ``+ - * / // % **``, unary minus, parentheses and
``min/max/abs/round``. Constraints may also compare (``< <= == != > >=``, strings
included) and combine with ``and/or/not``.
"""

from __future__ import annotations

import math
import random
import string
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .pack_errors import PackError, line_of
from .schema import ID_RE, Generation, Scenario
from .template_formula import _RESERVED, Formula, FormulaError, Value, _clean


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VarSpec(_Strict):
    """An integer range ``{min, max, step}`` or a list of ``choices`` (numbers or names)."""

    min: StrictInt | None = None
    max: StrictInt | None = None
    step: StrictInt = Field(default=1, ge=1)
    choices: list[StrictInt | StrictFloat | StrictStr] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _range_or_choices(self) -> VarSpec:
        has_range = self.min is not None or self.max is not None
        if has_range == (self.choices is not None):
            raise ValueError("give either 'min'/'max' or 'choices'")
        if has_range:
            if self.min is None or self.max is None:
                raise ValueError("a range needs both 'min' and 'max'")
            if self.min > self.max:
                raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self

    def draw(self, rng: random.Random) -> Value:
        if self.choices is not None:
            return self.choices[rng.randrange(len(self.choices))]
        assert self.min is not None and self.max is not None
        return self.min + self.step * rng.randrange((self.max - self.min) // self.step + 1)


def _identifier(name: str, what: str) -> str:
    if not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"{what} {name!r} must be an identifier not starting with '_'")
    if name in _RESERVED:
        raise ValueError(f"{what} {name!r} is reserved")
    return name


class Template(_Strict):
    id: str
    title: str | None = None
    instances: int = Field(ge=1, le=500)
    seed: int
    vars: dict[str, VarSpec] = Field(min_length=1)
    derived: dict[str, str] = Field(default_factory=dict)
    constraints: list[str] = Field(default_factory=list)
    system: str | None = None
    prompt: str
    answer: str
    tolerance: float = Field(default=0.0, ge=0.0)
    steps: str | None = None
    tags: list[str] = Field(default_factory=list)
    generation: Generation | None = None
    max_attempts: int = Field(default=2000, ge=1, le=100_000)

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"template id {v!r} must match {ID_RE.pattern}")
        return v

    @field_validator("vars")
    @classmethod
    def _check_vars(cls, v: dict[str, VarSpec]) -> dict[str, VarSpec]:
        for name in v:
            _identifier(name, "var")
        return v

    @field_validator("derived")
    @classmethod
    def _check_derived(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            _identifier(name, "derived value")
        return v

    @model_validator(mode="after")
    def _no_shadowing(self) -> Template:
        both = set(self.vars) & set(self.derived)
        if both:
            raise ValueError(f"names used both as var and derived value: {sorted(both)}")
        return self


# ---------------------------------------------------------------- expansion


def fmt_number(v: int | float) -> str:
    c = _clean(v)
    if isinstance(c, int):
        return str(c)
    return f"{c:.9f}".rstrip("0").rstrip(".")


def _placeholders(text: str, known: set[str], where: str) -> None:
    """Allow only ``{name}`` / ``{name:spec}`` fields: no ``{x.attr}`` or ``{x[0]}``."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise FormulaError(f"{where}: bad placeholder ({exc}); write '{{{{' for a brace") from None
    for f in fields:
        if not f.isidentifier():
            raise FormulaError(f"{where}: placeholder {{{f}}} must be a plain name")
        if f not in known:
            raise FormulaError(f"{where}: placeholder {{{f}}} is not a var")


def _render(text: str, env: dict[str, Value], where: str) -> str:
    shown = {
        k: (_clean(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
        for k, v in env.items()
    }
    try:
        return text.format_map(shown)
    except (ValueError, KeyError, IndexError) as exc:
        raise FormulaError(f"{where}: cannot fill in placeholders: {exc}") from None


class _Compiled:
    def __init__(self, t: Template):
        self.t = t
        names = set(t.vars)
        self.derived: list[tuple[str, Formula]] = []
        for name, src in t.derived.items():
            self.derived.append((name, Formula(src, names)))
            names.add(name)
        self.constraints = [Formula(c, names, boolean=True) for c in t.constraints]
        self.answer = Formula(t.answer, names)
        self.names = names
        _placeholders(t.prompt, names, "prompt")
        if t.title is not None:
            _placeholders(t.title, names, "title")
        if t.system is not None:
            _placeholders(t.system, names, "system")
        if t.steps is not None:
            _placeholders(t.steps, names | {"answer"}, "steps")

    def env_for(self, base: dict[str, Value]) -> dict[str, Value]:
        # Derived values are computed before constraints are checked, so a
        # divisor must be kept non-zero by the var ranges, not by a constraint.
        env = dict(base)
        for name, f in self.derived:
            env[name] = f.evaluate(env)
        return env


def _number(f: Formula, env: dict[str, Value], what: str) -> int | float:
    v = f.evaluate(env)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FormulaError(f"{what} {f.source!r} gave {v!r}, not a number")
    if isinstance(v, float) and not math.isfinite(v):
        raise FormulaError(f"{what} {f.source!r} gave {v!r}")
    return v


def _draw(c: _Compiled, rng: random.Random) -> list[dict[str, Value]]:
    """Draw distinct instances that satisfy every constraint; bounded attempts."""
    t = c.t
    out: list[dict[str, Value]] = []
    seen: set[tuple[Value, ...]] = set()
    misses = [0] * len(c.constraints)
    repeats = 0
    for _ in range(t.max_attempts):
        base = {name: spec.draw(rng) for name, spec in t.vars.items()}
        key = tuple(base[n] for n in t.vars)
        if key in seen:
            repeats += 1
            continue
        env = c.env_for(base)
        failed = next((j for j, f in enumerate(c.constraints) if not f.evaluate(env)), None)
        if failed is not None:
            misses[failed] += 1
            continue
        seen.add(key)
        out.append(env)
        if len(out) == t.instances:
            return out
    if c.constraints and max(misses) > 0:
        j = max(range(len(misses)), key=misses.__getitem__)
        why = f"constraint {c.constraints[j].source!r} was false in {misses[j]} draws"
    else:
        why = "the vars have too few distinct combinations"
    raise FormulaError(
        f"only {len(out)} of {t.instances} instances found in {t.max_attempts} attempts: "
        f"{why}{f' ({repeats} repeats)' if repeats else ''}"
    )


def _worked(c: _Compiled, env: dict[str, Value], answer: str) -> str:
    """The worked solution text (without the ANSWER line)."""
    if c.t.steps is not None:
        return _render(c.t.steps, {**env, "answer": answer}, "steps").strip()
    lines = []
    for name, f in c.derived:
        lines.append(f"{name} = {f.substituted(env)} = {fmt_number(_num(env[name]))}")
    lines.append(f"{c.answer.substituted(env)} = {answer}")
    return "\n".join(lines)


def _num(v: Value) -> int | float:
    assert isinstance(v, (int, float)) and not isinstance(v, bool)
    return v


def _scenario(
    c: _Compiled, i: int, env: dict[str, Value], path: Path, line: int | None
) -> Scenario:
    t = c.t
    value = _number(c.answer, env, "answer")
    shown = fmt_number(value)
    target = float(shown)
    work = _worked(c, env, shown)
    # Near misses: one step off, the right number with no ANSWER line, and the
    # last intermediate result offered as the answer.
    step = math.floor(t.tolerance) + 1
    counter: list[str] = [
        f"{work}\nANSWER: {fmt_number(target - step)}",
        f"{work}\nSo the result is {shown}.",
    ]
    for name, _ in reversed(c.derived):
        v = env[name]
        numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
        if numeric and abs(float(_num(v)) - target) > t.tolerance:
            counter.append(f"{work}\nANSWER: {fmt_number(_num(v))}")
            break
    else:
        counter.append(f"{work}\nANSWER: {fmt_number(target + step)}")
    data: dict[str, Any] = {
        "id": f"{t.id}-{i}",
        "prompt": _render(t.prompt, env, "prompt"),
        "verifier": {"type": "number", "value": target, "abs_tol": t.tolerance},
        "tags": list(t.tags),
        "reference": f"{work}\nANSWER: {shown}",
        "counterexamples": counter,
    }
    if t.title is not None:
        data["title"] = _render(t.title, env, "title")
    if t.system is not None:
        data["system"] = _render(t.system, env, "system")
    if t.generation is not None:
        data["generation"] = t.generation
    sc = Scenario.model_validate(data)
    sc.source_file = str(path)
    sc.source_line = line
    return sc


def expand_templates(
    raw: list[dict[str, Any]], path: Path, root: yaml.Node | None
) -> list[Scenario]:
    """Expand each template into seeded instances, each with its own id."""
    out: list[Scenario] = []
    for i, item in enumerate(raw):
        line = line_of(root, ("templates", i))
        try:
            t = Template.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ("templates", i, *first["loc"])
            where = ".".join(str(p) for p in loc)
            raise PackError(path, line_of(root, loc), f"{where}: {first['msg']}") from None
        try:
            compiled = _Compiled(t)
            for n, env in enumerate(_draw(compiled, random.Random(t.seed)), start=1):
                out.append(_scenario(compiled, n, env, path, line))
        except FormulaError as exc:
            raise PackError(path, line, f"template {t.id!r}: {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise PackError(path, line, f"template {t.id!r}: {field}: {first['msg']}") from None
    return out


__all__ = ["Formula", "FormulaError", "Template", "expand_templates", "fmt_number"]
