"""Extension points: one entry-point group per kind of extension.

An installed package adds to pytest-llmbench by declaring entry points in its
``pyproject.toml``; the entry point's name is the name packs and options use:

- ``pytest_llmbench.verifiers``: a module whose ``@register("name")`` classes are
  verifiers (the entry point's name should be the verifier's, so a run naming it
  loads that module only).
- ``pytest_llmbench.sandboxes``: ``--llm-sandbox NAME``; a callable
  ``(image: str | None) -> Sandbox``.
- ``pytest_llmbench.endpoints``: ``--llm-endpoint NAME`` or ``NAME:ARG``; a callable
  ``(arg: str, **http_options) -> Endpoint`` (or a ``Responder``, core.responders,
  for answers made from each scenario).
- ``pytest_llmbench.generators``: ``generators: [{kind: NAME, ...}]`` in a pack; a
  pair ``(SpecModel, expand)``, ``expand(spec) -> list[Scenario]``.

Built-ins live in the same tables as ``"module:attr"`` strings, so a new built-in
backend or endpoint kind is one file plus one line here. Nothing is imported and no
installed distribution is scanned until a name outside the built-ins is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

VERIFIERS = "pytest_llmbench.verifiers"
SANDBOXES = "pytest_llmbench.sandboxes"
ENDPOINTS = "pytest_llmbench.endpoints"
GENERATORS = "pytest_llmbench.generators"

_PKG = "pytest_llmbench.core"
BUILTIN: dict[str, dict[str, str]] = {
    SANDBOXES: {
        "auto": f"{_PKG}.sandbox:open_auto",
        "docker": f"{_PKG}.sandbox:open_docker",
        "bwrap": f"{_PKG}.sandbox:open_bwrap",
        "unsafe-local": f"{_PKG}.sandbox:open_local",
    },
    ENDPOINTS: {
        "reference": f"{_PKG}.responders:make_reference",
        "junk": f"{_PKG}.responders:make_junk",
        "http": f"{_PKG}.http_endpoint:make_http",
        "https": f"{_PKG}.http_endpoint:make_https",
    },
    GENERATORS: {
        "needle": f"{_PKG}.generators:NEEDLE",
        "humaneval": f"{_PKG}.generators:HUMANEVAL",
        "bfcl": f"{_PKG}.generators:BFCL",
    },
    VERIFIERS: {},
}

BUILTIN_ENDPOINTS = tuple(BUILTIN[ENDPOINTS])

_found: dict[str, dict[str, EntryPoint]] = {}


def installed(group: str) -> dict[str, EntryPoint]:
    """The group's entry points from installed distributions (all four groups are read
    in one scan of the installed metadata, the first time any is asked for)."""
    if not _found:
        from importlib.metadata import entry_points

        everything = entry_points()  # one scan; select() only filters it
        for g in BUILTIN:
            eps: dict[str, EntryPoint] = {}
            for ep in everything.select(group=g):
                eps.setdefault(ep.name, ep)
            _found[g] = eps
    return _found[group]


def names(group: str) -> list[str]:
    """Built-in names first, then installed ones."""
    builtin = BUILTIN[group]
    return [*builtin, *(n for n in installed(group) if n not in builtin)]


def known(group: str, name: str) -> bool:
    return name in BUILTIN[group] or name in installed(group)


def load(group: str, name: str) -> Any:
    """The object registered as ``name`` in ``group``; KeyError names the known ones."""
    target = BUILTIN[group].get(name)
    if target is not None:
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    ep = installed(group).get(name)
    if ep is None:
        raise KeyError(f"unknown {_noun(group)} {name!r} (known: {', '.join(names(group))})")
    try:
        return ep.load()
    except Exception as exc:  # any error of third-party import code: one line naming it
        raise ExtensionError(
            f"{_noun(group)} {name!r} ({ep.value}, entry point in {group}) does not load: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


class ExtensionError(RuntimeError):
    """An installed extension named by a pack or an option fails to import."""


def _noun(group: str) -> str:
    return {
        VERIFIERS: "verifier",
        SANDBOXES: "sandbox",
        ENDPOINTS: "endpoint kind",
        GENERATORS: "generator",
    }[group]


__all__ = [
    "BUILTIN",
    "BUILTIN_ENDPOINTS",
    "ENDPOINTS",
    "ExtensionError",
    "GENERATORS",
    "SANDBOXES",
    "VERIFIERS",
    "installed",
    "known",
    "load",
    "names",
]
