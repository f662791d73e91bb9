"""Verifier base class, verdicts and the registry.

A verifier family is a module in this package (or an entry point in the group
``pytest_llmbench.verifiers``, see core.registry) that decorates subclasses of
:class:`Verifier` with ``@register("name")``. Arguments are validated by the class's
``Args`` model when a pack is collected, so a typo fails collection, not the run.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .. import registry
from ..output import Output
from ..schema import PackMeta, Scenario, VerifierSpec
from .context import VerifierContext


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class Check:
    """One thing a verifier looked at: what it wanted, what it found."""

    name: str
    passed: bool
    found: str = ""
    wanted: str = ""

    def line(self) -> str:
        mark = "ok " if self.passed else "FAIL"
        parts = [f"[{mark}] {self.name}"]
        if self.found or self.wanted:
            parts.append(f": found {self.found}" if self.found else ":")
            if self.wanted:
                parts.append(f", wanted {self.wanted}")
        return "".join(parts)


@dataclass
class Verdict:
    """A verifier's judgement. ``score`` is in [0, 1]; ``passed`` decides the item.

    ``category`` refines a failure (``wrong_tool``, ``invalid_json``...);
    ``metrics`` maps a name to ``[numerator, denominator]`` so packs can report
    ratios of sums (e.g. instruction-level accuracy); ``data`` is any extra
    JSON-able detail kept in the run log."""

    passed: bool
    score: float
    detail: str
    checks: list[Check] = field(default_factory=list)
    category: str | None = None
    metrics: dict[str, list[float]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_checks(
        cls,
        checks: list[Check],
        *,
        threshold: float = 1.0,
        category: str | None = None,
        **kw: Any,
    ) -> Verdict:
        """Score = share of checks passed; an empty check list never passes."""
        if not checks:
            return cls(False, 0.0, "nothing was checked", [], category or "no_checks", **kw)
        score = sum(c.passed for c in checks) / len(checks)
        passed = score >= threshold
        failed = [c for c in checks if not c.passed]
        if passed and not failed:
            detail = f"all {len(checks)} checks passed"
        else:
            shown = "; ".join(c.line().replace("[FAIL] ", "") for c in failed[:3])
            more = f" (+{len(failed) - 3} more)" if len(failed) > 3 else ""
            detail = f"{len(checks) - len(failed)}/{len(checks)} checks passed: {shown}{more}"
        return cls(passed, score, detail, checks, None if passed else category, **kw)

    @classmethod
    def fail(cls, detail: str, category: str | None = None, **kw: Any) -> Verdict:
        return cls(False, 0.0, detail, category=category, **kw)

    def trace(self) -> list[str]:
        return [c.line() for c in self.checks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "score": round(self.score, 6),
            "detail": self.detail,
            "category": self.category,
            "trace": self.trace(),
            "metrics": {k: [float(v[0]), float(v[1])] for k, v in self.metrics.items()},
            "data": self.data,
        }


class VerifierConfigError(ValueError):
    """A scenario names an unknown verifier or gives it bad arguments."""


A = TypeVar("A", bound=BaseModel)


class Verifier:
    """Subclass, set ``Args`` (a pydantic model) and implement :meth:`check`."""

    name: ClassVar[str] = ""
    Args: ClassVar[type[BaseModel]] = NoArgs
    # Verifiers that execute model-written code set this: the plugin then opens the
    # sandbox (and only then) and passes it in ``ctx.sandbox``.
    needs_sandbox: ClassVar[bool] = False
    # Verifiers that ask a judge model set this: they get ``ctx.judge``.
    needs_judge: ClassVar[bool] = False

    def __init__(self, args: BaseModel, scenario: Scenario, pack: PackMeta | None = None):
        self.args = args
        self.scenario = scenario
        self.pack = pack

    @property
    def threshold(self) -> float:
        return self.pack.pass_threshold if self.pack is not None else 1.0

    @classmethod
    def inner_specs(cls, args: dict[str, Any]) -> list[VerifierSpec]:
        """The verifiers nested in this one's arguments (a judge's ``check``): what they
        need (a sandbox, a judge) this one needs too."""
        return []

    @classmethod
    def warm_up(cls) -> None:
        """Load what the first check would load (models, tables) before any request is
        timed; a no-op unless the verifier has such a start-up cost."""

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:  # pragma: no cover
        """The verdict on ``output``; ``ctx`` holds the collaborators (sandbox, judge)."""
        raise NotImplementedError


_REGISTRY: dict[str, type[Verifier]] = {}
_loaded = False

V = TypeVar("V", bound=type[Verifier])


def register(name: str) -> Any:
    def deco(cls: V) -> V:
        old = _REGISTRY.get(name)
        # A re-import of the same module (importlib.reload, pytester) replaces quietly.
        if old is not None and (old.__module__, old.__qualname__) != (
            cls.__module__,
            cls.__qualname__,
        ):
            raise ValueError(
                f"verifier {name!r} registered twice ({old.__module__}, {cls.__module__})"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    pkg = importlib.import_module(__package__ or "pytest_llmbench.core.verifiers")
    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name != "base":
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    for ep in registry.installed(registry.VERIFIERS).values():
        ep.load()


_REGISTER_LINE = re.compile(r"""^@register\(\s*["']([^"']+)["']\s*\)""", re.M)
_index: dict[str, str] | None = None


def _builtin_index() -> dict[str, str]:
    """Verifier name -> the built-in module that registers it, read from the sources.

    Importing every verifier family costs ~0.3 s (jsonschema, the sandbox clients,
    the IFEval tables); a run needs the few its packs name. Where the sources are not
    readable (a zipped install) the index is empty and every lookup loads everything."""
    global _index
    if _index is None:
        index: dict[str, str] = {}
        pkg = importlib.import_module(__package__ or "pytest_llmbench.core.verifiers")
        for mod in pkgutil.iter_modules(pkg.__path__):
            if mod.name == "base":
                continue
            for d in pkg.__path__:
                try:
                    with open(f"{d}/{mod.name}.py", encoding="utf-8") as fh:
                        text = fh.read()
                except OSError:
                    continue
                for name in _REGISTER_LINE.findall(text):
                    index.setdefault(name, f"{pkg.__name__}.{mod.name}")
                break
        _index = index
    return _index


def registered() -> dict[str, type[Verifier]]:
    _load()
    return dict(_REGISTRY)


def get_verifier(name: str) -> type[Verifier]:
    cls = _REGISTRY.get(name)
    if cls is None and not _loaded:
        module = _builtin_index().get(name)
        if module is not None:
            importlib.import_module(module)
        else:
            # An installed verifier named like its entry point loads alone.
            ep = registry.installed(registry.VERIFIERS).get(name)
            if ep is not None:
                try:
                    ep.load()
                except Exception as exc:  # third-party import code: one line naming it
                    raise VerifierConfigError(
                        f"verifier {name!r} ({ep.value}, entry point in {registry.VERIFIERS}) "
                        f"does not load: {type(exc).__name__}: {exc}"
                    ) from exc
        cls = _REGISTRY.get(name)
    if cls is None:
        _load()
        cls = _REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(_REGISTRY))
        raise VerifierConfigError(f"unknown verifier type {name!r} (known: {known})")
    return cls


def needs(spec: VerifierSpec) -> tuple[bool, bool]:
    """(needs a sandbox, needs a judge): what a scenario's verifier, or one nested in
    it, uses; the plugin gives a verifier only these."""
    cls = get_verifier(spec.type)
    sandbox, judge = bool(cls.needs_sandbox), bool(cls.needs_judge)
    for inner in cls.inner_specs(spec.args):
        s, j = needs(inner)
        sandbox, judge = sandbox or s, judge or j
    return sandbox, judge


def build_verifier(spec: VerifierSpec, scenario: Scenario, pack: PackMeta | None) -> Verifier:
    try:
        cls = get_verifier(spec.type)
    except VerifierConfigError as exc:
        raise VerifierConfigError(f"scenario {scenario.id!r}: {exc}") from None
    try:
        args = cls.Args.model_validate(spec.args)
    except ValidationError as exc:
        msgs = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<args>'}: {e['msg']}" for e in exc.errors()
        )
        raise VerifierConfigError(
            f"scenario {scenario.id!r}: bad arguments for verifier {spec.type!r}: {msgs}"
        ) from None
    return cls(args, scenario, pack)
